// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pipelined xenstore reads against a scripted xenstored on the other end of a socketpair:
 * the replies are written there before (or, byte by byte from a child, while) the batch is
 * read, and the requests are checked afterwards.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "helpers.h"
#include "xspipe.h"

struct fixture {
	struct xspipe *p;
	int peer;		/* xenstored's end */
};

static void setup(struct fixture *f)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(xspipe_new(&f->p, sv[0]), 0);
	f->peer = sv[1];
}

static void teardown(struct fixture *f)
{
	xspipe_free(f->p);
	close(f->peer);
}

/* One message as xenstored writes it: header, then len bytes of payload. */
static size_t put_msg(char *buf, uint32_t type, uint32_t req_id, const void *payload,
		      uint32_t len)
{
	struct xsd_sockmsg hdr = { .type = type, .req_id = req_id, .len = len };

	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), payload, len);
	return sizeof(hdr) + len;
}

static size_t put_value(char *buf, uint32_t req_id, const char *value)
{
	return put_msg(buf, XS_READ, req_id, value, (uint32_t)strlen(value));
}

static size_t put_error(char *buf, uint32_t req_id, const char *err)
{
	return put_msg(buf, XS_ERROR, req_id, err, (uint32_t)strlen(err) + 1);
}

static void send_all(int fd, const char *buf, size_t len)
{
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
}

/* The n requests the pipe wrote: XS_READ, consecutive req_ids from first_id, the paths. */
static void expect_requests(int peer, const char *const *paths, size_t n, uint32_t first_id)
{
	for (size_t i = 0; i < n; i++) {
		struct xsd_sockmsg hdr;
		char path[256];

		ck_assert_int_eq(read(peer, &hdr, sizeof(hdr)), sizeof(hdr));
		ck_assert_uint_eq(hdr.type, XS_READ);
		ck_assert_uint_eq(hdr.req_id, first_id + i);
		ck_assert_uint_eq(hdr.tx_id, 0);
		ck_assert_uint_eq(hdr.len, strlen(paths[i]) + 1);
		ck_assert_int_eq(read(peer, path, hdr.len), (ssize_t)hdr.len);
		ck_assert_str_eq(path, paths[i]);
	}
}

static const char *const three[] = {
	"/local/domain/0/backend/vif/5/0/mac",
	"/local/domain/0/backend/vif/5/0/ip",
	"/local/domain/0/backend/vif/5/1/mac",
};

START_TEST(values_and_missing_keys)
{
	struct fixture f;
	char buf[512], *v[3];
	size_t len = 0;

	setup(&f);
	len += put_value(buf + len, 0, "00:16:3e:00:00:05");
	len += put_error(buf + len, 1, "ENOENT");
	len += put_value(buf + len, 2, "");
	send_all(f.peer, buf, len);
	ck_assert_int_eq(xspipe_read_many(f.p, three, 3, v), 0);
	ck_assert_str_eq(v[0], "00:16:3e:00:00:05");
	ck_assert_ptr_null(v[1]);
	ck_assert_str_eq(v[2], "");
	expect_requests(f.peer, three, 3, 0);
	for (int i = 0; i < 3; i++)
		free(v[i]);

	/* The next batch's req_ids follow on. */
	len = put_value(buf, 3, "10.99.0.5");
	send_all(f.peer, buf, len);
	ck_assert_int_eq(xspipe_read_many(f.p, three + 1, 1, v), 0);
	ck_assert_str_eq(v[0], "10.99.0.5");
	expect_requests(f.peer, three + 1, 1, 3);
	free(v[0]);
	teardown(&f);
}
END_TEST

/* Replies matched by req_id in any order, each up to the protocol's largest. */
START_TEST(largest_values_in_any_order)
{
	static char big[2][XENSTORE_PAYLOAD_MAX];
	static char buf[3 * (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX)];
	struct fixture f;
	char *v[3];
	size_t len = 0;

	setup(&f);
	memset(big[0], 'a', sizeof(big[0]));
	memset(big[1], 'b', sizeof(big[1]));
	len += put_msg(buf + len, XS_READ, 2, big[1], sizeof(big[1]));
	len += put_value(buf + len, 1, "x");
	len += put_msg(buf + len, XS_READ, 0, big[0], sizeof(big[0]));
	send_all(f.peer, buf, len);
	ck_assert_int_eq(xspipe_read_many(f.p, three, 3, v), 0);
	ck_assert_uint_eq(strlen(v[0]), XENSTORE_PAYLOAD_MAX);
	ck_assert_int_eq(v[0][0], 'a');
	ck_assert_str_eq(v[1], "x");
	ck_assert_int_eq(v[2][XENSTORE_PAYLOAD_MAX - 1], 'b');
	for (int i = 0; i < 3; i++)
		free(v[i]);
	teardown(&f);
}
END_TEST

/* xenstored's replies arrive a byte at a time: every split of a message is reassembled. */
START_TEST(replies_split_anywhere)
{
	struct fixture f;
	char buf[512], *v[3];
	size_t len = 0;
	pid_t child;
	int status;

	setup(&f);
	len += put_value(buf + len, 0, "00:16:3e:00:00:05");
	len += put_error(buf + len, 1, "EACCES");
	len += put_value(buf + len, 2, "10.99.0.5 fd00::5");
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		for (size_t i = 0; i < len; i++) {
			if (write(f.peer, buf + i, 1) != 1)
				_exit(1);
			usleep(200);
		}
		_exit(0);
	}
	ck_assert_int_eq(xspipe_read_many(f.p, three, 3, v), 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(v[0], "00:16:3e:00:00:05");
	ck_assert_ptr_null(v[1]);
	ck_assert_str_eq(v[2], "10.99.0.5 fd00::5");
	for (int i = 0; i < 3; i++)
		free(v[i]);
	teardown(&f);
}
END_TEST

/* A reply that is not one of the batch's fails the whole batch and sets no value. */
static void expect_rejected(const char *replies, size_t len, int want)
{
	struct fixture f;
	char *v[3] = { (char *)1, (char *)1, (char *)1 };

	setup(&f);
	send_all(f.peer, replies, len);
	shutdown(f.peer, SHUT_WR);	/* whatever the pipe still waits for does not come */
	ck_assert_int_eq(xspipe_read_many(f.p, three, 3, v), want);
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_null(v[i]);
	teardown(&f);
}

START_TEST(foreign_replies_are_rejected)
{
	char buf[256];
	struct xsd_sockmsg hdr = { .type = XS_READ, .req_id = 0, .len = XENSTORE_PAYLOAD_MAX + 1 };
	size_t len;

	/* answered twice */
	len = put_value(buf, 0, "a");
	len += put_value(buf + len, 0, "b");
	expect_rejected(buf, len, -EPROTO);
	/* a req_id never sent, then one from before the batch */
	expect_rejected(buf, put_value(buf, 3, "a"), -EPROTO);
	expect_rejected(buf, put_value(buf, (uint32_t)-1, "a"), -EPROTO);
	/* a watch event (no watch was set), a write's reply, a transaction's */
	expect_rejected(buf, put_msg(buf, XS_WATCH_EVENT, 0, "p\0t", 4), -EPROTO);
	expect_rejected(buf, put_msg(buf, XS_WRITE, 0, "OK", 3), -EPROTO);
	len = put_value(buf, 0, "a");
	((struct xsd_sockmsg *)buf)->tx_id = 9;
	expect_rejected(buf, len, -EPROTO);
	/* a length over the protocol's maximum, before its payload is even there */
	memcpy(buf, &hdr, sizeof(hdr));
	expect_rejected(buf, sizeof(hdr), -EPROTO);
	/* all three answered, then part of a fourth */
	len = put_value(buf, 0, "a");
	len += put_value(buf + len, 1, "b");
	len += put_value(buf + len, 2, "c");
	len += put_value(buf + len, 3, "d") - 2;
	expect_rejected(buf, len, -EPROTO);
	/* xenstored goes away with replies missing, or mid-reply */
	expect_rejected(buf, put_value(buf, 0, "a"), -ECONNRESET);
	expect_rejected(buf, put_value(buf, 0, "abc") - 1, -ECONNRESET);
}
END_TEST

START_TEST(bad_batches_are_refused)
{
	const char *paths[XSPIPE_BATCH_MAX + 1];
	char *v[XSPIPE_BATCH_MAX + 1], *longp;
	struct fixture f;

	setup(&f);
	for (int i = 0; i <= XSPIPE_BATCH_MAX; i++)
		paths[i] = three[0];
	ck_assert_int_eq(xspipe_read_many(f.p, paths, 0, v), -EINVAL);
	ck_assert_int_eq(xspipe_read_many(f.p, paths, XSPIPE_BATCH_MAX + 1, v), -EINVAL);
	longp = malloc(XENSTORE_ABS_PATH_MAX + 1);
	ck_assert_ptr_nonnull(longp);
	memset(longp, 'a', XENSTORE_ABS_PATH_MAX);
	longp[XENSTORE_ABS_PATH_MAX] = '\0';
	paths[1] = longp;
	ck_assert_int_eq(xspipe_read_many(f.p, paths, 2, v), -ENAMETOOLONG);
	free(longp);
	teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("xspipe");

	/* A peer closed early must be an error return, not a SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	th_add(s, values_and_missing_keys);
	th_add(s, largest_values_in_any_order);
	th_add(s, replies_split_anywhere);
	th_add(s, foreign_replies_are_rejected);
	th_add(s, bad_batches_are_refused);
	return th_run(s);
}
