// SPDX-License-Identifier: GPL-2.0-only
/*
 * tools/watch-follow.c against a scripted control socket: when a change counts as
 * acknowledged by every guest (cokeeperctl wait/latency and bench/ck-latency rest on it).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"
#include "watch-follow.h"

#define MEMBER(domid, name, ip)                                                                    \
	"{\"domid\":" #domid ",\"uuid\":\"00000000-0000-0000-0000-000000000000\",\"name\":\"" name \
	"\",\"state\":\"running\",\"nics\":[{\"mac\":\"00:16:3e:00:00:0" #domid                    \
	"\",\"ipv4\":[\"" ip "\"],\"ipv6\":[]}]}"
#define WATCH_REPLY(gen, members)                                                                  \
	"{\"ok\":true,\"epoch\":\"ab\",\"gen\":" #gen ",\"members\":[" members "]}\n"
#define GUEST(ch, domid, state, acked)                                                             \
	"{\"channel\":\"" ch "\",\"domid\":" #domid ",\"state\":\"" state                          \
	"\",\"acked_gen\":" #acked "}"
#define GUESTS_REPLY(guests) "{\"ok\":true,\"gen\":0,\"guests\":[" guests "]}\n"
#define ACK(ch, domid, gen)                                                                        \
	"{\"event\":\"ack\",\"channel\":\"" ch "\",\"domid\":" #domid ",\"gen\":" #gen             \
	",\"latency_us\":" #gen "00}\n"
#define DELTA(base, gen, ups, rm)                                                                  \
	"{\"event\":\"delta\",\"gen\":" #gen ",\"base_gen\":" #base ",\"upserts\":[" ups           \
	"],\"removed\":[" rm "]}\n"

struct fixture {
	char dir[64], path[96];
	int listen_fd, peer;
	struct follow *f;
};

static void start(struct fixture *fx, const char *key, bool absent)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct follow_key k;

	strcpy(fx->dir, "/tmp/ck-follow-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/control.sock", fx->dir);
	strcpy(sa.sun_path, fx->path);
	fx->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fx->listen_fd, 0);
	ck_assert_int_eq(bind(fx->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fx->listen_fd, 1), 0);
	ck_assert_int_eq(follow_key_parse(&k, key), 0);
	ck_assert_int_eq(follow_new(&fx->f, fx->path, &k, absent), 0);
	fx->peer = accept(fx->listen_fd, NULL, NULL);
	ck_assert_int_ge(fx->peer, 0);
}

/* Sends lines as cokeeperd would and lets the follower read all of them. */
static int feed(struct fixture *fx, const char *lines)
{
	struct pollfd pfd = {.fd = follow_fd(fx->f), .events = POLLIN};
	int r = 0;

	ck_assert_int_eq(write(fx->peer, lines, strlen(lines)), (ssize_t)strlen(lines));
	while (r == 0 && poll(&pfd, 1, 100) > 0)
		r = follow_read(fx->f, 1000);
	return r;
}

static void stop(struct fixture *fx)
{
	follow_free(fx->f);
	close(fx->peer);
	close(fx->listen_fd);
	unlink(fx->path);
	rmdir(fx->dir);
}

static size_t live(struct fixture *fx)
{
	size_t n, live = 0;
	const struct follow_guest *g = follow_guests(fx->f, &n);

	for (size_t i = 0; i < n; i++)
		live += !g[i].closed;
	return live;
}

START_TEST(present_once_every_joined_guest_acked)
{
	struct fixture fx;
	uint64_t gen;

	start(&fx, "10.0.0.7", false);
	ck_assert_int_eq(feed(&fx,
				 WATCH_REPLY(5, "") GUESTS_REPLY(GUEST(
					 "vchan:1", 1, "active", 5) "," GUEST("vchan:2", 2,
					 "active", 5) "," GUEST("vchan:3", 3, "await-hello", -1))),
		0);
	ck_assert(follow_ready(fx.f));
	ck_assert(!follow_target(fx.f, &gen, NULL));
	ck_assert_int_eq(
		feed(&fx, DELTA(5, 6, MEMBER(7, "web", "10.0.0.7"), "") ACK("vchan:1", 1, 6)), 0);
	ck_assert(follow_target(fx.f, &gen, NULL));
	ck_assert_uint_eq(gen, 6);
	ck_assert(!follow_converged(fx.f));
	/* Not joined when asked: not waited for. */
	ck_assert_int_eq(feed(&fx, ACK("vchan:2", 2, 6)), 0);
	ck_assert(follow_converged(fx.f));
	ck_assert_uint_eq(live(&fx), 2);
	stop(&fx);
}
END_TEST

START_TEST(a_closed_guest_is_not_waited_for)
{
	struct fixture fx;

	start(&fx, "web", false);
	ck_assert_int_eq(feed(&fx,
				 WATCH_REPLY(5, "") GUESTS_REPLY(GUEST("unix:8", 1, "active",
					 5) "," GUEST("unix:9", 1, "active", 5)) DELTA(5, 6,
					 MEMBER(7, "web", "10.0.0.7"), "") ACK("unix:8", 1, 6)),
		0);
	/* Two sessions of one domid (the simulation): each is its own guest. */
	ck_assert(!follow_converged(fx.f));
	ck_assert_int_eq(
		feed(&fx, "{\"event\":\"guest-closed\",\"channel\":\"unix:9\",\"domid\":1}\n"), 0);
	ck_assert(follow_converged(fx.f));
	ck_assert_uint_eq(live(&fx), 1);
	stop(&fx);
}
END_TEST

START_TEST(absent_after_the_removal)
{
	struct fixture fx;
	uint64_t gen;

	start(&fx, "00:16:3E:00:00:07", true);
	ck_assert_int_eq(feed(&fx,
				 WATCH_REPLY(9, MEMBER(7, "web", "10.0.0.7"))
					 GUESTS_REPLY(GUEST("vchan:1", 1, "active", 9))),
		0);
	ck_assert(!follow_target(fx.f, &gen, NULL));
	ck_assert_int_eq(feed(&fx, DELTA(9, 10, "", "7") ACK("vchan:1", 1, 10)), 0);
	ck_assert(follow_converged(fx.f));
	ck_assert(follow_target(fx.f, &gen, NULL));
	ck_assert_uint_eq(gen, 10);
	stop(&fx);
}
END_TEST

START_TEST(an_ack_before_the_guests_reply_counts)
{
	struct fixture fx;

	start(&fx, "7", false);
	/* Events may come between the two replies; the guests reply is older than the ack. */
	ck_assert_int_eq(feed(&fx,
				 WATCH_REPLY(5, "") DELTA(5, 6, MEMBER(7, "web", "10.0.0.7"), "")
					 ACK("vchan:1", 1, 6)
						 GUESTS_REPLY(GUEST("vchan:1", 1, "active", 5))),
		0);
	ck_assert(follow_converged(fx.f));
	stop(&fx);
}
END_TEST

START_TEST(after_a_generation_only_a_new_change_counts)
{
	struct fixture fx;
	uint64_t gen;

	start(&fx, "10.0.0.7", false);
	ck_assert_int_eq(feed(&fx,
				 WATCH_REPLY(5, MEMBER(7, "web", "10.0.0.7"))
					 GUESTS_REPLY(GUEST("vchan:1", 1, "active", 5))),
		0);
	/* What wait would accept at once, latency must not: it was there before. */
	ck_assert(follow_converged(fx.f));
	follow_set_after(fx.f, follow_gen(fx.f));
	ck_assert(!follow_converged(fx.f));
	ck_assert_int_eq(
		feed(&fx, DELTA(5, 6, MEMBER(8, "db", "10.0.0.8"), "") ACK("vchan:1", 1, 6)), 0);
	ck_assert(!follow_target(fx.f, &gen, NULL));
	/* Gone and back: that is a change. */
	ck_assert_int_eq(feed(&fx,
				 DELTA(6, 7, "", "7") DELTA(7, 8, MEMBER(9, "web2", "10.0.0.7"), "")
					 ACK("vchan:1", 1, 8)),
		0);
	ck_assert(follow_target(fx.f, &gen, NULL));
	ck_assert_uint_eq(gen, 8);
	ck_assert(follow_converged(fx.f));
	stop(&fx);
}
END_TEST

START_TEST(a_line_that_is_not_the_protocol_is_an_error)
{
	struct fixture fx;

	start(&fx, "web", false);
	ck_assert_int_eq(
		feed(&fx, WATCH_REPLY(5, "") "{\"event\":\"delta\",\"gen\":\"x\"}\n"), -EBADMSG);
	stop(&fx);
}
END_TEST

START_TEST(keys)
{
	struct follow_key k;

	ck_assert_int_eq(follow_key_parse(&k, "7"), 0);
	ck_assert_int_eq(k.type, FOLLOW_KEY_DOMID);
	ck_assert_int_eq(follow_key_parse(&k, "10.0.0.1"), 0);
	ck_assert_int_eq(k.type, FOLLOW_KEY_IPV4);
	ck_assert_int_eq(follow_key_parse(&k, "fe80::1"), 0);
	ck_assert_int_eq(k.type, FOLLOW_KEY_IPV6);
	ck_assert_int_eq(follow_key_parse(&k, "00:16:3e:00:00:01"), 0);
	ck_assert_int_eq(k.type, FOLLOW_KEY_MAC);
	ck_assert_int_eq(follow_key_parse(&k, "web-1"), 0);
	ck_assert_int_eq(k.type, FOLLOW_KEY_NAME);
	ck_assert_int_eq(follow_key_parse(&k, "6B1D5A52-3C55-4B8E-9A51-0C0FFEE0AB06"), 0);
	ck_assert_int_eq(k.type, FOLLOW_KEY_UUID);
	ck_assert_int_eq(k.uuid[0], 0x6b);
	ck_assert_int_eq(follow_key_parse(&k, "99999"), -EINVAL);
	ck_assert_int_eq(k.type, FOLLOW_KEY_DOMID);
	ck_assert_int_eq(follow_key_parse(&k, ""), -EINVAL);
	ck_assert_int_eq(k.type, FOLLOW_KEY_NAME);
}
END_TEST

/* A daemon without "protocol" spoke version 1; a newer one is refused, not misread. */
START_TEST(protocol_versions)
{
	struct fixture fx;

	start(&fx, "web", false);
	ck_assert_int_eq(feed(&fx, "{\"ok\":true,\"protocol\":1,\"epoch\":\"ab\",\"gen\":1,"
				   "\"members\":[]}\n"), 0);
	ck_assert_ptr_null(follow_error(fx.f));
	ck_assert_int_eq(feed(&fx, "{\"event\":\"ack\",\"protocol\":2,\"domid\":1,\"gen\":1}\n"),
			 -EPROTONOSUPPORT);
	ck_assert_ptr_nonnull(strstr(follow_error(fx.f), "protocol 2"));
	stop(&fx);
	start(&fx, "web", false);
	ck_assert_int_eq(feed(&fx, "{\"ok\":true,\"protocol\":\"1\",\"gen\":1,\"members\":[]}\n"),
			 -EBADMSG);
	stop(&fx);
}
END_TEST

/* A refusal is the daemon's own words, not a line this tool cannot read. */
START_TEST(an_error_reply_is_reported_as_sent)
{
	struct fixture fx;

	start(&fx, "web", false);
	ck_assert_int_eq(feed(&fx, "{\"ok\":false,\"error\":\"too many watchers\","
				   "\"protocol\":1}\n"), -EREMOTEIO);
	ck_assert_str_eq(follow_error(fx.f), "cokeeperd: too many watchers");
	stop(&fx);
}
END_TEST

/* What no member can have is refused, with what it was read as. */
START_TEST(keys_that_never_match)
{
	static const struct {
		const char *key;
		enum follow_key_type type;
	} never[] = {
		{"0.0.0.0", FOLLOW_KEY_IPV4},
		{"00:00:00:00:00:00", FOLLOW_KEY_MAC},
		{"01:00:5e:00:00:01", FOLLOW_KEY_MAC},
		{"web\tone", FOLLOW_KEY_NAME},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FOLLOW_KEY_NAME},
	};
	struct follow_key k;

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		ck_assert_int_eq(follow_key_parse(&k, never[i].key), -EINVAL);
		ck_assert_int_eq(k.type, never[i].type);
	}
	/* 64 characters is a name. */
	ck_assert_int_eq(follow_key_parse(&k, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 0);
}
END_TEST

START_TEST(uuid_matches_either_case)
{
	struct fixture fx;

	start(&fx, "6B1D5A52-3C55-4B8E-9A51-0C0FFEE0AB06", false);
	ck_assert_int_eq(feed(&fx, WATCH_REPLY(4, "{\"domid\":3,\"name\":\"w\",\"uuid\":"
					   "\"6b1d5a52-3c55-4b8e-9a51-0c0ffee0ab06\",\"nics\":[]}")
				   GUESTS_REPLY("")), 0);
	ck_assert(follow_converged(fx.f));
	stop(&fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("watch-follow");

	th_add(s, present_once_every_joined_guest_acked);
	th_add(s, keys_that_never_match);
	th_add(s, protocol_versions);
	th_add(s, an_error_reply_is_reported_as_sent);
	th_add(s, uuid_matches_either_case);
	th_add(s, a_closed_guest_is_not_waited_for);
	th_add(s, absent_after_the_removal);
	th_add(s, an_ack_before_the_guests_reply_counts);
	th_add(s, after_a_generation_only_a_new_change_counts);
	th_add(s, a_line_that_is_not_the_protocol_is_an_error);
	th_add(s, keys);
	return th_run(s);
}
