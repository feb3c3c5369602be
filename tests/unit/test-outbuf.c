// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "outbuf.h"
#include "stream.h"

/* Takes n bytes from the front and checks they are what was expected there. */
static void take(struct ck_outbuf *b, const char *expect, size_t n)
{
	ck_assert_uint_ge(ck_outbuf_pending(b), n);
	while (n > 0) {
		size_t len;
		const void *front = ck_outbuf_front(b, &len);
		size_t k = len < n ? len : n;

		ck_assert_int_eq(memcmp(front, expect, k), 0);
		ck_outbuf_consume(b, k);
		expect = (const char *)expect + k;
		n -= k;
	}
}

START_TEST(messages_leave_in_order)
{
	struct ck_outbuf b;

	ck_outbuf_init(&b, SIZE_MAX);
	ck_assert_int_eq(ck_outbuf_push(&b, "abc", 3), 0);
	ck_assert_int_eq(ck_outbuf_push(&b, "defg", 4), 0);
	ck_assert_uint_eq(ck_outbuf_pending(&b), 7);
	take(&b, "ab", 2);
	take(&b, "cdefg", 5);
	ck_assert_uint_eq(ck_outbuf_pending(&b), 0);
	ck_outbuf_release(&b);
}
END_TEST

START_TEST(push_past_max_fails_whole)
{
	struct ck_outbuf b;

	ck_outbuf_init(&b, 8);
	ck_assert_int_eq(ck_outbuf_push(&b, "12345", 5), 0);
	ck_assert_int_eq(ck_outbuf_push(&b, "6789", 4), -ENOBUFS);
	ck_assert_uint_eq(ck_outbuf_pending(&b), 5);
	ck_assert_int_eq(ck_outbuf_push(&b, "678", 3), 0);
	ck_assert_int_eq(ck_outbuf_push(&b, "x", SIZE_MAX), -ENOBUFS);
	take(&b, "12345678", 8);
	ck_outbuf_release(&b);
}
END_TEST

START_TEST(pushv_is_one_message)
{
	struct iovec iov[] = { { "{}", 2 }, { "\n", 1 } };
	struct ck_outbuf b;

	ck_outbuf_init(&b, SIZE_MAX);
	ck_assert_int_eq(ck_outbuf_pushv(&b, iov, 2), 0);
	ck_assert_int_eq(ck_outbuf_push(&b, "z", 1), 0);
	ck_outbuf_consume(&b, 1);
	/* The first message is begun: it stays whole, the second goes. */
	ck_assert_uint_eq(ck_outbuf_drop_unsent(&b), 1);
	take(&b, "}\n", 2);
	ck_assert_uint_eq(ck_outbuf_pending(&b), 0);
	ck_outbuf_release(&b);
}
END_TEST

START_TEST(drop_keeps_a_partly_sent_message)
{
	struct ck_outbuf b;

	ck_outbuf_init(&b, SIZE_MAX);
	ck_outbuf_push(&b, "aaaa", 4);
	ck_outbuf_push(&b, "bbbb", 4);
	ck_outbuf_push(&b, "cccc", 4);
	take(&b, "aaaab", 5);
	ck_assert_uint_eq(ck_outbuf_drop_unsent(&b), 4);
	take(&b, "bbb", 3);
	ck_assert_uint_eq(ck_outbuf_pending(&b), 0);
	/* Framing continues: the next message starts at a boundary. */
	ck_outbuf_push(&b, "dd", 2);
	ck_assert_uint_eq(ck_outbuf_drop_unsent(&b), 2);
	ck_outbuf_release(&b);
}
END_TEST

START_TEST(drop_at_a_boundary_drops_everything)
{
	struct ck_outbuf b;

	ck_outbuf_init(&b, SIZE_MAX);
	ck_outbuf_push(&b, "aaaa", 4);
	ck_outbuf_push(&b, "bbbb", 4);
	take(&b, "aaaa", 4);
	ck_assert_uint_eq(ck_outbuf_drop_unsent(&b), 4);
	ck_assert_uint_eq(ck_outbuf_pending(&b), 0);
	ck_outbuf_push(&b, "cc", 2);
	take(&b, "cc", 2);
	ck_outbuf_release(&b);
}
END_TEST

/* Many small writes through a buffer that compacts and grows keep the byte order. */
START_TEST(long_run_keeps_order)
{
	struct ck_outbuf b;
	uint8_t msg[37], expect = 0;

	ck_outbuf_init(&b, 4096);
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < sizeof(msg); i++)
			msg[i] = (uint8_t)(round * sizeof(msg) + i);
		ck_assert_int_eq(ck_outbuf_push(&b, msg, sizeof(msg)), 0);
		while (ck_outbuf_pending(&b) > 100) {
			size_t len;
			const uint8_t *front = ck_outbuf_front(&b, &len);
			size_t k = len < 11 ? len : 11;

			for (size_t i = 0; i < k; i++)
				ck_assert_uint_eq(front[i], expect++);
			ck_outbuf_consume(&b, k);
		}
	}
	ck_outbuf_release(&b);
}
END_TEST

/* A stream over a fake channel that takes at most `room` bytes per call. */
struct fake {
	struct ck_stream s;
	char got[256];
	size_t got_len, room;
	int fail;
	bool want_write;
};

static ssize_t fake_write(struct ck_stream *s, const void *buf, size_t len)
{
	struct fake *f = (struct fake *)s;
	size_t n = len < f->room ? len : f->room;

	if (f->fail)
		return f->fail;
	if (n == 0)
		return -EAGAIN;
	memcpy(f->got + f->got_len, buf, n);
	f->got_len += n;
	f->room -= n;
	return n;
}

static void fake_want_write(struct ck_stream *s, bool on)
{
	((struct fake *)s)->want_write = on;
}

static const struct ck_stream_ops fake_ops = { .write = fake_write, .want_write = fake_want_write };

START_TEST(stream_flushes_what_the_peer_takes)
{
	struct fake f = { .room = 4 };

	ck_stream_init(&f.s, &fake_ops, CK_STREAM_DOMID_ANY);
	ck_stream_set_output_max(&f.s, 16);
	ck_assert_int_eq(ck_stream_send(&f.s, "hello", 5), 0);
	ck_assert_uint_eq(f.got_len, 4);
	ck_assert(f.want_write);
	ck_assert_uint_eq(ck_stream_queued(&f.s), 1);
	ck_assert_int_eq(ck_stream_send(&f.s, "0123456789abcdef", 16), -ENOBUFS);
	f.room = 100;
	ck_assert_int_eq(ck_stream_flush(&f.s), 0);
	ck_assert(!f.want_write);
	ck_assert_int_eq(memcmp(f.got, "hello", 5), 0);
	f.fail = -EPIPE;
	ck_assert_int_eq(ck_stream_send(&f.s, "x", 1), -EPIPE);
	ck_outbuf_release(&f.s.out);
}
END_TEST

/* One message on many queues: each sends it whole, and the last one frees it. */
START_TEST(a_shared_message_is_queued_by_reference)
{
	struct ck_outbuf q[3];
	struct ck_bytes *msg;

	ck_assert_int_eq(ck_bytes_new(&msg, 5), 0);
	memcpy(msg->data, "delta", 5);
	for (size_t i = 0; i < 3; i++) {
		ck_outbuf_init(&q[i], 8);
		ck_assert_int_eq(ck_outbuf_push(&q[i], "x", 1), 0);
		ck_assert_int_eq(ck_outbuf_push_shared(&q[i], msg), 0);
	}
	ck_assert_uint_eq(msg->refs, 4);
	/* Bounded like a copy: 1 + 5 + 5 > 8. */
	ck_assert_int_eq(ck_outbuf_push_shared(&q[0], msg), -ENOBUFS);
	ck_assert_uint_eq(msg->refs, 4);
	ck_bytes_unref(msg);
	take(&q[0], "xdelta", 6);
	ck_assert_uint_eq(msg->refs, 2);
	take(&q[1], "xde", 3);
	ck_assert_uint_eq(ck_outbuf_drop_unsent(&q[1]), 0);	/* begun: it stays */
	take(&q[1], "lta", 3);
	ck_assert_uint_eq(ck_outbuf_drop_unsent(&q[2]), 6);
	ck_assert_uint_eq(ck_outbuf_pending(&q[2]), 0);
	for (size_t i = 0; i < 3; i++)
		ck_outbuf_release(&q[i]);
}
END_TEST

/* An emptied queue keeps no bytes and only a small ring: idle guests hold nothing. */
START_TEST(an_emptied_queue_gives_back_its_ring)
{
	struct ck_outbuf b;

	ck_outbuf_init(&b, SIZE_MAX);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(ck_outbuf_push(&b, "abc", 3), 0);
	ck_assert_uint_ge(b.cap, 1000);
	ck_outbuf_consume(&b, 2999);
	ck_assert_uint_ge(b.cap, 1000);	/* not while a byte waits */
	ck_outbuf_consume(&b, 1);
	ck_assert_uint_le(b.cap, 16);
	ck_assert_int_eq(ck_outbuf_push(&b, "defg", 4), 0);
	take(&b, "defg", 4);
	ck_outbuf_release(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("outbuf");

	th_add(s, messages_leave_in_order);
	th_add(s, push_past_max_fails_whole);
	th_add(s, pushv_is_one_message);
	th_add(s, drop_keeps_a_partly_sent_message);
	th_add(s, drop_at_a_boundary_drops_everything);
	th_add(s, long_run_keeps_order);
	th_add(s, stream_flushes_what_the_peer_takes);
	th_add(s, an_emptied_queue_gives_back_its_ring);
	th_add(s, a_shared_message_is_queued_by_reference);
	return th_run(s);
}
