/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A bounded output queue of whole messages (frames, JSON lines) waiting for a non-blocking
 * peer.  A message is queued by reference: bytes encoded once (a delta, a snapshot's
 * chunks) sit in the queue of every guest they go to without a copy each, and leave each
 * queue as that peer takes them.  Message boundaries are kept so that a queue a slow peer let
 * pile up can be dropped without cutting a message it has already begun to receive (the
 * stream would lose its framing).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Bytes queued whole on any number of queues; freed when the last one lets them go. */
struct ck_bytes {
	unsigned int refs;
	size_t len;
	uint8_t data[];
};

/* len bytes (to be filled), one reference held by the caller. */
int ck_bytes_new(struct ck_bytes **ret, size_t len);
/* Grows or shrinks b, which only the caller holds (refs == 1), keeping its contents. */
int ck_bytes_resize(struct ck_bytes **b, size_t len);
struct ck_bytes *ck_bytes_ref(struct ck_bytes *b);
/* Drops one reference; NULL is a no-op.  Returns NULL. */
struct ck_bytes *ck_bytes_unref(struct ck_bytes *b);

struct ck_outbuf {
	struct ck_bytes **msgs;	/* a ring: the queued messages, oldest at first */
	size_t first, count, cap;
	size_t offset;		/* bytes of the front message already sent */
	size_t pending;		/* bytes waiting, over every message */
	size_t max;		/* most bytes queued at once: a push past it fails */
};

/* max: the most bytes it may hold (SIZE_MAX: no bound but memory). */
void ck_outbuf_init(struct ck_outbuf *b, size_t max);
/* Drops everything queued and frees the ring. */
void ck_outbuf_release(struct ck_outbuf *b);

/* Queues a copy of one message made of iov[0..n): -ENOBUFS past max (nothing queued), -ENOMEM. */
int ck_outbuf_pushv(struct ck_outbuf *b, const struct iovec *iov, size_t n);
int ck_outbuf_push(struct ck_outbuf *b, const void *msg, size_t len);
/* Queues msg by reference (it takes one of its own); errors as ck_outbuf_pushv. */
int ck_outbuf_push_shared(struct ck_outbuf *b, struct ck_bytes *msg);

/* The bytes waiting. */
static inline size_t ck_outbuf_pending(const struct ck_outbuf *b)
{
	return b->pending;
}

/* The front message's unsent bytes (*len of them; 0 and NULL when empty). */
static inline const void *ck_outbuf_front(const struct ck_outbuf *b, size_t *len)
{
	const struct ck_bytes *m;

	if (!b->count) {
		*len = 0;
		return NULL;
	}
	m = b->msgs[b->first];
	*len = m->len - b->offset;
	return m->data + b->offset;
}

/* n bytes from the front reached the peer. */
void ck_outbuf_consume(struct ck_outbuf *b, size_t n);

/*
 * Drops every message the peer has not begun to receive; a message partly sent stays, to be
 * finished.  Returns the bytes dropped.
 */
size_t ck_outbuf_drop_unsent(struct ck_outbuf *b);
