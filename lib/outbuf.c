// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "outbuf.h"

int ck_bytes_new(struct ck_bytes **ret, size_t len)
{
	struct ck_bytes *b;

	if (len > SIZE_MAX - sizeof(*b))
		return -ENOMEM;
	b = malloc(sizeof(*b) + len);
	if (!b)
		return -ENOMEM;
	b->refs = 1;
	b->len = len;
	*ret = b;
	return 0;
}

int ck_bytes_resize(struct ck_bytes **b, size_t len)
{
	struct ck_bytes *grown;

	if (len > SIZE_MAX - sizeof(**b))
		return -ENOMEM;
	grown = realloc(*b, sizeof(**b) + len);
	if (!grown)
		return -ENOMEM;
	grown->len = len;
	*b = grown;
	return 0;
}

struct ck_bytes *ck_bytes_ref(struct ck_bytes *b)
{
	b->refs++;
	return b;
}

struct ck_bytes *ck_bytes_unref(struct ck_bytes *b)
{
	if (b && --b->refs == 0)
		free(b);
	return NULL;
}

void ck_outbuf_init(struct ck_outbuf *b, size_t max)
{
	*b = (struct ck_outbuf){ .max = max };
}

static struct ck_bytes **slot(const struct ck_outbuf *b, size_t i)
{
	return &b->msgs[(b->first + i) % b->cap];
}

void ck_outbuf_release(struct ck_outbuf *b)
{
	for (size_t i = 0; i < b->count; i++)
		ck_bytes_unref(*slot(b, i));
	free(b->msgs);
	ck_outbuf_init(b, b->max);
}

/*
 * An emptied queue keeps a ring of at most this many slots: a burst (a thousand relayed
 * messages to a guest that reads late) would otherwise stay allocated for good.  Bytes are
 * never kept: each message goes when its last queue is done with it.
 */
#define OUTBUF_KEEP_SLOTS 16

static int reserve_slot(struct ck_outbuf *b)
{
	struct ck_bytes **grown;
	size_t cap;

	if (b->count < b->cap)
		return 0;
	cap = b->cap ? b->cap * 2 : 4;
	grown = malloc(cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	for (size_t i = 0; i < b->count; i++)
		grown[i] = *slot(b, i);
	free(b->msgs);
	b->msgs = grown;
	b->first = 0;
	b->cap = cap;
	return 0;
}

static bool fits(const struct ck_outbuf *b, size_t len)
{
	return len <= b->max && b->pending <= b->max - len;
}

int ck_outbuf_push_shared(struct ck_outbuf *b, struct ck_bytes *msg)
{
	int r;

	if (!fits(b, msg->len))
		return -ENOBUFS;
	r = reserve_slot(b);
	if (r < 0)
		return r;
	*slot(b, b->count++) = ck_bytes_ref(msg);
	b->pending += msg->len;
	return 0;
}

int ck_outbuf_pushv(struct ck_outbuf *b, const struct iovec *iov, size_t n)
{
	struct ck_bytes *msg;
	size_t len = 0, at = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (iov[i].iov_len > SIZE_MAX - len)
			return -ENOBUFS;
		len += iov[i].iov_len;
	}
	if (!fits(b, len))
		return -ENOBUFS;
	r = ck_bytes_new(&msg, len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		memcpy(msg->data + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	r = ck_outbuf_push_shared(b, msg);
	ck_bytes_unref(msg);
	return r;
}

int ck_outbuf_push(struct ck_outbuf *b, const void *msg, size_t len)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };

	return ck_outbuf_pushv(b, &iov, 1);
}

static void pop_front(struct ck_outbuf *b)
{
	ck_bytes_unref(b->msgs[b->first]);
	b->first = (b->first + 1) % b->cap;
	b->count--;
	b->offset = 0;
}

static void shrink_if_empty(struct ck_outbuf *b)
{
	if (b->count == 0 && b->cap > OUTBUF_KEEP_SLOTS) {
		free(b->msgs);
		b->msgs = NULL;
		b->cap = 0;
		b->first = 0;
	}
}

void ck_outbuf_consume(struct ck_outbuf *b, size_t n)
{
	if (n > b->pending)
		n = b->pending;
	b->pending -= n;
	while (n > 0) {
		size_t left = b->msgs[b->first]->len - b->offset;

		if (n < left) {
			b->offset += n;
			break;
		}
		n -= left;
		pop_front(b);
	}
	/* Empty messages (none are queued today) would otherwise wait at the front. */
	while (b->count && b->msgs[b->first]->len == b->offset)
		pop_front(b);
	shrink_if_empty(b);
}

size_t ck_outbuf_drop_unsent(struct ck_outbuf *b)
{
	size_t before = b->pending, keep = b->count && b->offset ? 1 : 0;

	while (b->count > keep) {
		struct ck_bytes **last = slot(b, b->count - 1);

		b->pending -= (*last)->len;
		ck_bytes_unref(*last);
		b->count--;
	}
	if (!keep)
		b->offset = 0;
	shrink_if_empty(b);
	return before - b->pending;
}
