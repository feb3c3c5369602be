// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control server (cokeeperd/control/control.c) over a real socket and event loop, with a
 * handler of the test's own: requests are answered in order, the next read only once the
 * reply before it is sent, and a client is answered "busy" when the process is out of
 * descriptors instead of being left in the backlog.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "helpers.h"
#include "reply.h"

/* Past what a Unix socket's buffer takes at once: the reply waits in cokeeperd's queue. */
#define BIG_REPLY (1u << 20)

struct server {
	sd_event *event;
	struct control *control;
	char dir[256];
	char path[272];
	unsigned int calls;	/* requests the handler answered */
	size_t pad;		/* bytes of padding in each reply */
};

static struct json_object *handler(const char *cmd, struct json_object *request,
				   const struct control_peer *peer, bool *watch, void *userdata)
{
	struct server *srv = userdata;
	struct json_object *o = reply_ok();
	char *pad;

	json_object_object_add(o, "n", json_object_new_int((int)srv->calls++));
	*watch = !strcmp(cmd, "watch");
	if (srv->pad) {
		pad = malloc(srv->pad);
		ck_assert_ptr_nonnull(pad);
		memset(pad, 'x', srv->pad);
		json_object_object_add(o, "pad", json_object_new_string_len(pad, (int)srv->pad));
		free(pad);
	}
	return o;
}

static void server_start(struct server *srv, size_t pad)
{
	struct control_config cfg = { .mode = 0600 };
	const char *tmp = getenv("TMPDIR");

	*srv = (struct server){ .pad = pad };
	/* Under the suite's TMPDIR, where tests/leftovers.py looks for what a test left. */
	snprintf(srv->dir, sizeof(srv->dir), "%s/cokeeper-test-control-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(srv->dir));
	snprintf(srv->path, sizeof(srv->path), "%s/c", srv->dir);
	cfg.path = srv->path;
	ck_assert_int_eq(sd_event_new(&srv->event), 0);
	ck_assert_int_eq(control_new(&srv->control, srv->event, &cfg, handler, srv), 0);
}

static void server_stop(struct server *srv)
{
	control_free(srv->control);
	sd_event_unref(srv->event);
	ck_assert_int_eq(rmdir(srv->dir), 0);
}

/* Runs the loop until it has nothing left to do now. */
static void settle(struct server *srv)
{
	while (sd_event_run(srv->event, 0) > 0)
		;
}

static int client_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void client_connect(int fd, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void client_send(int fd, const char *s, unsigned int times)
{
	for (unsigned int i = 0; i < times; i++)
		ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/*
 * Reads one reply line, running the server whenever the socket is empty.  Returns its
 * length (without '\n'), or -1 at the end of the stream; *n is its "n", or -1 without one.
 */
static char last[BIG_REPLY + 4096];	/* the line client_line read last */

static ssize_t client_line(struct server *srv, int fd, int *n)
{
	size_t len = 0;
	const char *at;

	for (;;) {
		/* A peek first, so that what follows the line stays for the next call. */
		ssize_t r = recv(fd, last + len, sizeof(last) - 1 - len, MSG_PEEK);
		const char *nl;

		if (r == 0)
			return -1;
		if (r < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			ck_assert_int_gt(sd_event_run(srv->event, 0), 0);	/* it has more */
			continue;
		}
		nl = memchr(last + len, '\n', (size_t)r);
		if (nl)
			r = nl - (last + len) + 1;
		ck_assert_int_eq(read(fd, last + len, (size_t)r), r);
		len += (size_t)r;
		if (nl)
			break;
		ck_assert_uint_lt(len, sizeof(last) - 1);
	}
	last[--len] = '\0';
	at = strstr(last, "\"n\":");
	*n = at ? atoi(at + 4) : -1;
	return (ssize_t)len;
}

START_TEST(the_next_request_waits_for_the_reply_before_it)
{
	struct server srv;
	int fd, n;

	server_start(&srv, BIG_REPLY);
	fd = client_socket();
	client_connect(fd, srv.path);
	client_send(fd, "{\"cmd\":\"members\"}\n", 8);
	settle(&srv);
	/* The first reply fills the socket and waits: nothing else is read, nothing answered. */
	ck_assert_uint_eq(srv.calls, 1);
	ck_assert_int_gt(client_line(&srv, fd, &n), BIG_REPLY);
	ck_assert_int_eq(n, 0);
	settle(&srv);
	ck_assert_uint_eq(srv.calls, 2);
	close(fd);
	settle(&srv);
	server_stop(&srv);
}
END_TEST

START_TEST(pipelined_requests_are_all_answered_in_order)
{
	struct server srv;
	int fd, n;

	server_start(&srv, 0);
	fd = client_socket();
	client_connect(fd, srv.path);
	/* More than one wake-up answers: the rest must come back by itself (edge-triggered). */
	client_send(fd, "{\"cmd\":\"members\"}\n", 100);
	settle(&srv);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_gt(client_line(&srv, fd, &n), 0);
		ck_assert_int_eq(n, i);
	}
	settle(&srv);
	ck_assert_uint_eq(srv.calls, 100);
	close(fd);
	settle(&srv);
	server_stop(&srv);
}
END_TEST

/* True once fd has a whole line to read. */
static bool line_waiting(int fd)
{
	char buf[4096];
	ssize_t r = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);

	return r > 0 && memchr(buf, '\n', (size_t)r);
}

/*
 * A client that pipelines many requests and takes the replies as they come never has the
 * loop to itself: another client's request is answered while most of its own still wait.
 */
START_TEST(a_pipelining_client_does_not_starve_another)
{
	static char many[1000 * 18 + 1];
	struct server srv;
	int busy, other, n;
	unsigned int i;

	server_start(&srv, 0);
	busy = client_socket();
	other = client_socket();
	client_connect(busy, srv.path);
	client_connect(other, srv.path);
	settle(&srv);	/* both accepted, nothing asked yet */
	/* One write: a Unix socket counts each small write's buffer against its size. */
	for (i = 0; i < 1000; i++)
		strcat(many, "{\"cmd\":\"members\"}\n");
	client_send(busy, many, 1);
	client_send(other, "{\"cmd\":\"stats\"}\n", 1);
	for (i = 0; i < 100000 && !line_waiting(other); i++)
		(void)sd_event_run(srv.event, 0);
	ck_assert(line_waiting(other));
	/*
	 * A few wake-ups' worth (16 requests each) at most: answered all at once, the busy
	 * client's replies would run until its socket's buffer filled (some 270 of them).
	 */
	ck_assert_uint_le(srv.calls, 4 * 16 + 1);
	ck_assert_int_gt(client_line(&srv, other, &n), 0);
	close(busy);
	close(other);
	settle(&srv);
	server_stop(&srv);
}
END_TEST

START_TEST(an_overlong_line_is_answered_and_closed)
{
	static char line[CONTROL_LINE_MAX + 2];
	struct server srv;
	int fd, n;

	server_start(&srv, 0);
	fd = client_socket();
	client_connect(fd, srv.path);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	ck_assert_int_eq(write(fd, line, sizeof(line)), (ssize_t)sizeof(line));
	client_send(fd, "{\"cmd\":\"members\"}\n", 1);	/* its tail, never a request */
	settle(&srv);
	ck_assert_int_gt(client_line(&srv, fd, &n), 0);
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(client_line(&srv, fd, &n), -1);
	ck_assert_uint_eq(srv.calls, 0);
	close(fd);
	server_stop(&srv);
}
END_TEST

/* Replies, the server's own errors and events: each says which protocol it speaks. */
START_TEST(every_line_carries_the_protocol_version)
{
	static char line[CONTROL_LINE_MAX + 2];
	static const char *const requests[] = {
		"{\"cmd\":\"members\"}\n", "not json\n", "{\"nocmd\":1}\n",
	};
	struct json_object *ev = json_object_new_object();
	struct server srv;
	int fd, n;

	server_start(&srv, 0);
	fd = client_socket();
	client_connect(fd, srv.path);
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		client_send(fd, requests[i], 1);
		ck_assert_int_gt(client_line(&srv, fd, &n), 0);
		ck_assert_msg(strstr(last, "\"protocol\":1}") != NULL, "%s: %s", requests[i], last);
	}
	client_send(fd, "{\"cmd\":\"watch\"}\n", 1);
	ck_assert_int_gt(client_line(&srv, fd, &n), 0);
	ck_assert_uint_eq(control_watchers(srv.control), 1);
	json_object_object_add(ev, "event", json_object_new_string("delta"));
	control_broadcast(srv.control, ev);
	json_object_put(ev);
	ck_assert_int_gt(client_line(&srv, fd, &n), 0);
	ck_assert_str_eq(last, "{\"event\":\"delta\",\"protocol\":1}");
	close(fd);

	fd = client_socket();
	client_connect(fd, srv.path);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	ck_assert_int_eq(write(fd, line, sizeof(line)), (ssize_t)sizeof(line));
	ck_assert_int_gt(client_line(&srv, fd, &n), 0);
	ck_assert_msg(strstr(last, "\"protocol\":1}") != NULL, "%s", last);
	close(fd);
	settle(&srv);
	server_stop(&srv);
}
END_TEST

START_TEST(out_of_descriptors_a_client_is_answered_busy)
{
	struct server srv;
	struct rlimit rl;
	int a, b, fill[64], filled = 0, n, fd;
	ssize_t len;
	char buf[256];

	server_start(&srv, 0);
	/* The clients' sockets first: then every descriptor the limit allows is taken. */
	a = client_socket();
	b = client_socket();
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)(b > a ? b : a) + 16;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		ck_assert_int_lt(filled, 64);
		fill[filled++] = fd;
	}
	ck_assert_int_eq(errno, EMFILE);

	client_connect(a, srv.path);
	settle(&srv);
	len = read(a, buf, sizeof(buf) - 1);
	ck_assert_int_gt(len, 0);
	buf[len] = '\0';
	ck_assert_str_eq(buf, "{\"ok\":false,\"error\":\"busy: out of descriptors\","
			      "\"protocol\":1}\n");
	ck_assert_int_eq(read(a, buf, sizeof(buf)), 0);		/* and closed */
	/* The reserve was taken back: still out of descriptors. */
	ck_assert_int_lt(open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	close(a);

	/* One descriptor free: the next client is served. */
	close(fill[--filled]);
	client_connect(b, srv.path);
	client_send(b, "{\"cmd\":\"stats\"}\n", 1);
	settle(&srv);
	ck_assert_int_gt(client_line(&srv, b, &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(srv.calls, 1);
	close(b);
	settle(&srv);
	while (filled > 0)
		close(fill[--filled]);
	server_stop(&srv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");

	th_add(s, the_next_request_waits_for_the_reply_before_it);
	th_add(s, pipelined_requests_are_all_answered_in_order);
	th_add(s, a_pipelining_client_does_not_starve_another);
	th_add(s, an_overlong_line_is_answered_and_closed);
	th_add(s, every_line_carries_the_protocol_version);
	th_add(s, out_of_descriptors_a_client_is_answered_busy);
	return th_run(s);
}
