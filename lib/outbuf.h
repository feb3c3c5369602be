/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A bounded output queue of whole messages (frames, JSON lines) waiting for a non-blocking
 * peer.  Bytes leave from the front as the peer takes them; message boundaries are kept so
 * that a queue a slow peer let pile up can be dropped without cutting a message it has
 * already begun to receive (the stream would lose its framing).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct ck_outbuf {
	uint8_t *data;
	size_t head, tail, cap;	/* queued bytes are data[head, tail) */
	size_t max;		/* most bytes queued at once: a push past it fails */
	/* The end of each queued message, counted in bytes ever queued, oldest first. */
	uint64_t *ends;
	size_t ends_head, ends_tail, ends_cap;
	uint64_t sent;		/* bytes ever taken from the front */
	uint64_t sent_msg_end;	/* the end of the last message sent whole */
};

/* max: the most bytes it may hold (SIZE_MAX: no bound but memory). */
void ck_outbuf_init(struct ck_outbuf *b, size_t max);
/* (An emptied queue gives back all but a few KiB: a snapshot's room is not kept.) */
void ck_outbuf_release(struct ck_outbuf *b);

/* Queues one message made of iov[0..n): -ENOBUFS past max (nothing queued), -ENOMEM. */
int ck_outbuf_pushv(struct ck_outbuf *b, const struct iovec *iov, size_t n);
int ck_outbuf_push(struct ck_outbuf *b, const void *msg, size_t len);

/* The bytes waiting at the front. */
static inline size_t ck_outbuf_pending(const struct ck_outbuf *b)
{
	return b->tail - b->head;
}

static inline const void *ck_outbuf_front(const struct ck_outbuf *b)
{
	return b->data + b->head;
}

/* n bytes from the front reached the peer. */
void ck_outbuf_consume(struct ck_outbuf *b, size_t n);

/*
 * Drops every message the peer has not begun to receive; a message partly sent stays, to be
 * finished.  Returns the bytes dropped.
 */
size_t ck_outbuf_drop_unsent(struct ck_outbuf *b);
