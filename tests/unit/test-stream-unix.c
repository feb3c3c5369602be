// SPDX-License-Identifier: GPL-2.0-only
/*
 * stream/stream-unix.c over a socketpair: an edge-triggered reader that stops at a short
 * read (as guests.c's does, short_read_drains) still sees the end of a peer that sent its
 * last bytes and shut its side before the daemon woke: one edge carries both.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "stream-unix.h"

struct reader {
	size_t bytes;
	bool eof;
};

/* guests.c's read_slice, its policy alone: to -EAGAIN, the end, or a short read. */
static void on_io(struct ck_stream *s, void *userdata)
{
	struct reader *r = userdata;
	char buf[64];

	for (;;) {
		ssize_t n = ck_stream_read(s, buf, sizeof(buf));

		if (n == 0) {
			r->eof = true;
			return;
		}
		if (n < 0)
			return;
		r->bytes += (size_t)n;
		if (s->short_read_drains && (size_t)n < sizeof(buf))
			return;
	}
}

START_TEST(the_end_in_the_same_edge_as_the_last_bytes_is_seen)
{
	struct reader r = { 0 };
	struct ck_stream *s;
	sd_event *event;
	int fds[2];

	ck_assert_int_eq(sd_event_new(&event), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
	ck_assert_int_eq(stream_unix_new(&s, event, fds[0], CK_STREAM_DOMID_ANY), 0);
	ck_assert_int_eq(stream_unix_set_edge_triggered(s), 0);
	ck_stream_set_handler(s, on_io, &r);
	ck_assert_int_eq(write(fds[1], "hello", 5), 5);
	ck_assert_int_eq(shutdown(fds[1], SHUT_WR), 0);
	/* Every wake-up there is, then none: the end must have been read by then. */
	for (unsigned int i = 0; i < 10 && sd_event_run(event, 0) > 0; i++)
		;
	ck_assert_uint_eq(r.bytes, 5);
	ck_assert(r.eof);
	ck_stream_free(s);
	close(fds[1]);
	sd_event_unref(event);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stream-unix");

	th_add(s, the_end_in_the_same_edge_as_the_last_bytes_is_seen);
	return th_run(s);
}
