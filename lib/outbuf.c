// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "outbuf.h"

void ck_outbuf_init(struct ck_outbuf *b, size_t max)
{
	*b = (struct ck_outbuf){ .max = max };
}

void ck_outbuf_release(struct ck_outbuf *b)
{
	free(b->data);
	free(b->ends);
	ck_outbuf_init(b, b->max);
}

/*
 * An emptied queue keeps at most this much: a snapshot grows a session's queue to twice its
 * size (about 150 KiB at 1,024 members), which a thousand idle sessions would otherwise hold
 * for good (75 MB of cokeeperd's RSS at N=1,024 in bench/scale.py).
 */
#define OUTBUF_KEEP_BYTES 4096

static size_t queued_messages(const struct ck_outbuf *b)
{
	return b->ends_tail - b->ends_head;
}

/* Room for len more bytes and one more message end; moves the queue to the front first. */
static int reserve(struct ck_outbuf *b, size_t len)
{
	size_t pending = ck_outbuf_pending(b), msgs = queued_messages(b);

	if (b->head > 0 && b->tail + len > b->cap) {
		memmove(b->data, b->data + b->head, pending);
		b->head = 0;
		b->tail = pending;
	}
	if (b->tail + len > b->cap) {
		size_t cap = (pending + len) * 2;
		uint8_t *grown = realloc(b->data, cap);

		if (!grown)
			return -ENOMEM;
		b->data = grown;
		b->cap = cap;
	}
	if (b->ends_head > 0 && b->ends_tail == b->ends_cap) {
		memmove(b->ends, b->ends + b->ends_head, msgs * sizeof(*b->ends));
		b->ends_head = 0;
		b->ends_tail = msgs;
	}
	if (b->ends_tail == b->ends_cap) {
		size_t cap = b->ends_cap ? b->ends_cap * 2 : 16;
		uint64_t *grown = realloc(b->ends, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		b->ends = grown;
		b->ends_cap = cap;
	}
	return 0;
}

int ck_outbuf_pushv(struct ck_outbuf *b, const struct iovec *iov, size_t n)
{
	size_t len = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > b->max || ck_outbuf_pending(b) > b->max - len)
		return -ENOBUFS;
	r = reserve(b, len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		memcpy(b->data + b->tail, iov[i].iov_base, iov[i].iov_len);
		b->tail += iov[i].iov_len;
	}
	b->ends[b->ends_tail++] = b->sent + ck_outbuf_pending(b);
	return 0;
}

int ck_outbuf_push(struct ck_outbuf *b, const void *msg, size_t len)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };

	return ck_outbuf_pushv(b, &iov, 1);
}

void ck_outbuf_consume(struct ck_outbuf *b, size_t n)
{
	if (n > ck_outbuf_pending(b))
		n = ck_outbuf_pending(b);
	b->head += n;
	b->sent += n;
	while (b->ends_head < b->ends_tail && b->ends[b->ends_head] <= b->sent)
		b->sent_msg_end = b->ends[b->ends_head++];
	if (b->head == b->tail) {
		b->head = b->tail = 0;
		b->ends_head = b->ends_tail = 0;
		if (b->cap > OUTBUF_KEEP_BYTES) {
			free(b->data);
			b->data = NULL;
			b->cap = 0;
		}
	}
}

size_t ck_outbuf_drop_unsent(struct ck_outbuf *b)
{
	size_t before = ck_outbuf_pending(b), keep = 0;

	if (b->sent > b->sent_msg_end && b->ends_head < b->ends_tail) {
		/* The front message is partly sent: its rest stays queued. */
		keep = b->ends[b->ends_head] - b->sent;
		b->ends_tail = b->ends_head + 1;
	} else {
		b->ends_head = b->ends_tail = 0;
	}
	b->tail = b->head + keep;
	return before - keep;
}
