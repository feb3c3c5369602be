// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utlist.h>

#include "clock.h"
#include "control.h"
#include "lines.h"
#include "listener.h"
#include "logging.h"
#include "ratelimit.h"
#include "reply.h"
#include "stream-unix.h"

#define USEC_PER_SEC 1000000ull

struct client {
	struct client *prev, *next;
	struct control *control;
	struct ck_stream *stream;
	struct control_peer peer;
	sd_event_source *idle;		/* off while watching */
	struct ck_lines lines;
	char line[CONTROL_LINE_MAX];
	bool watch;
	bool closing;		/* close once the output is written */
};

struct control {
	sd_event *event;
	struct control_config cfg;
	struct listener *listener;
	struct client *clients;
	unsigned int n_clients;
	unsigned int n_watchers;
	struct ck_ratelimit refuse_rl;	/* clients over the limit, each one a log line */
	control_handler_fn handler;
	void *userdata;
};

struct json_object *control_handle_line(const char *untrusted_line, size_t len,
					const struct control_peer *peer,
					control_handler_fn handler, void *userdata, bool *watch)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req, *cmd_obj, *reply;

	*watch = false;
	if (!tok)
		return reply_error("out of memory");
	req = json_tokener_parse_ex(tok, untrusted_line, (int)len);
	if (!req || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		json_object_put(req);
		return reply_error("request is not one JSON object");
	}
	json_tokener_free(tok);
	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "cmd", &cmd_obj) ||
	    !json_object_is_type(cmd_obj, json_type_string)) {
		json_object_put(req);
		return reply_error("request needs a \"cmd\" string");
	}
	reply = handler(json_object_get_string(cmd_obj), req, peer, watch, userdata);
	json_object_put(req);
	return reply;
}

static void client_free(struct client *cl)
{
	struct control *c = cl->control;

	DL_DELETE(c->clients, cl);
	c->n_clients--;
	if (cl->watch)
		c->n_watchers--;
	sd_event_source_disable_unref(cl->idle);
	ck_stream_free(cl->stream);
	free(cl);
	listener_resume(c->listener);	/* its descriptor is free again */
}

/* Queues one JSON line; a client that lets its output cap pile up is dropped. */
static int client_send(struct client *cl, struct json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	struct iovec line[] = {
		{ .iov_base = (void *)s, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};

	return ck_stream_sendv(cl->stream, line, 2);
}

static void client_start_watching(struct client *cl)
{
	cl->watch = true;
	cl->control->n_watchers++;
	/* A watcher's requests are over: it only follows (and is bounded by its cap). */
	(void)sd_event_source_set_enabled(cl->idle, SD_EVENT_OFF);
	ck_stream_set_output_max(cl->stream, CONTROL_WATCHER_OUTPUT_MAX);
}

static int client_line(const char *line, size_t len, void *userdata)
{
	struct client *cl = userdata;
	struct control *c = cl->control;
	bool watch;
	struct json_object *reply = control_handle_line(line, len, &cl->peer, c->handler,
							c->userdata, &watch);
	int r;

	if (watch && !cl->watch && c->n_watchers >= c->cfg.max_watchers) {
		json_object_put(reply);
		reply = reply_error("too many watchers (at most %u)", c->cfg.max_watchers);
		watch = false;
	}
	r = client_send(cl, reply);
	json_object_put(reply);
	if (r == 0 && watch && !cl->watch)
		client_start_watching(cl);
	if (!cl->watch)
		(void)sd_event_source_set_time_relative(cl->idle,
							c->cfg.idle_timeout_sec * USEC_PER_SEC);
	return r;
}

static int client_read(struct client *cl)
{
	char buf[CONTROL_LINE_MAX];
	ssize_t n = ck_stream_read(cl->stream, buf, sizeof(buf));
	int r;

	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		return n == 0 ? -ECONNRESET : (int)n;
	/* Once overlong, the lines are over: what follows is its tail and is dropped. */
	r = ck_lines_feed(&cl->lines, buf, (size_t)n, client_line, cl);
	if (r == -EMSGSIZE) {
		struct json_object *e = reply_error("request longer than %d bytes: closing",
						    CONTROL_LINE_MAX);

		r = client_send(cl, e);
		json_object_put(e);
		cl->closing = true;
	}
	return r;
}

static void on_client(struct ck_stream *s, void *userdata)
{
	struct client *cl = userdata;
	int r;

	r = client_read(cl);
	if (r == 0)
		r = ck_stream_flush(cl->stream);
	if (r == 0 && cl->closing && ck_stream_queued(cl->stream) == 0)
		r = -ECONNRESET;
	if (r < 0)
		client_free(cl);
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct client *cl = userdata;

	log_debug("control: closing %s (pid %d): no request for %u s", cl->stream->label,
		  (int)cl->peer.pid, cl->control->cfg.idle_timeout_sec);
	client_free(cl);
	return 0;
}

static bool peer_in_group(int fd, const struct ucred *cred, gid_t gid)
{
	gid_t groups[64], *g = groups;
	socklen_t len = sizeof(groups);
	bool found = cred->gid == gid;

	if (!found && getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
		/* ERANGE tells the size the peer's supplementary groups need. */
		g = errno == ERANGE ? malloc(len) : NULL;
		if (g && getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
			len = 0;
		if (!g)
			len = 0;
	}
	for (size_t i = 0; !found && i < len / sizeof(gid_t); i++)
		found = g[i] == gid;
	if (g != groups)
		free(g);
	return found;
}

/*
 * Without a slot the client is told why and closed at once: the reply is one short line
 * into an empty socket buffer, so a non-blocking send takes it whole or not at all.
 */
static void refuse(struct control *c, int fd, const char *why)
{
	struct json_object *reply = reply_error("%s", why);
	size_t len;
	const char *s = json_object_to_json_string_length(reply, JSON_C_TO_STRING_PLAIN, &len);
	struct iovec line[] = {
		{ .iov_base = (void *)s, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	struct msghdr msg = { .msg_iov = line, .msg_iovlen = 2 };

	(void)sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	json_object_put(reply);
	close(fd);
	ck_log_limited(&c->refuse_rl, LOG_WARNING, 0, "control: refused a client: %s", why);
}

static void on_accept(int fd, void *userdata)
{
	struct control *c = userdata;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *cl;
	int r;

	if (c->n_clients >= c->cfg.max_clients) {
		refuse(c, fd, "too many control clients");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		refuse(c, fd, "cannot tell who the peer is");
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->peer = (struct control_peer){
		.pid = cred.pid,
		.uid = cred.uid,
		.gid = cred.gid,
		.admin = cred.uid == 0 ||
			 (c->cfg.admin_group && peer_in_group(fd, &cred, c->cfg.admin_gid)),
	};
	ck_lines_init(&cl->lines, cl->line, sizeof(cl->line));
	r = sd_event_add_time_relative(c->event, &cl->idle, CLOCK_MONOTONIC,
				       c->cfg.idle_timeout_sec * USEC_PER_SEC, USEC_PER_SEC,
				       on_idle, cl);
	if (r < 0) {
		log_warning_errno(r, "control: cannot time a client");
		free(cl);
		close(fd);
		return;
	}
	r = stream_unix_new(&cl->stream, c->event, fd, CK_STREAM_DOMID_ANY);
	if (r < 0) {
		log_warning_errno(r, "control: cannot take a client");
		sd_event_source_disable_unref(cl->idle);
		free(cl);
		close(fd);
		return;
	}
	ck_stream_set_output_max(cl->stream, CONTROL_OUTPUT_MAX);
	ck_stream_set_handler(cl->stream, on_client, cl);
	cl->control = c;
	DL_APPEND(c->clients, cl);
	c->n_clients++;
}

int control_new(struct control **ret, sd_event *event, const struct control_config *cfg,
		control_handler_fn handler, void *userdata)
{
	struct control *c;
	char *dir, *slash;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->event = event;
	c->cfg = *cfg;
	c->cfg.path = NULL;	/* the listener keeps its own copy */
	if (!c->cfg.max_clients)
		c->cfg.max_clients = CONTROL_MAX_CLIENTS_DEFAULT;
	if (!c->cfg.max_watchers)
		c->cfg.max_watchers = CONTROL_MAX_WATCHERS_DEFAULT;
	if (!c->cfg.idle_timeout_sec)
		c->cfg.idle_timeout_sec = CONTROL_IDLE_TIMEOUT_DEFAULT_SEC;
	c->refuse_rl = (struct ck_ratelimit)CK_RATELIMIT_INIT(10 * USEC_PER_SEC, 1);
	c->handler = handler;
	c->userdata = userdata;
	dir = strdup(cfg->path);
	if (!dir) {
		free(c);
		return -ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		(void)mkdir(dir, 0755);
	}
	free(dir);
	r = listener_new(&c->listener, event, "control socket", cfg->path, cfg->mode, 16,
			 on_accept, c);
	if (r < 0) {
		log_error_errno(r, "control socket %s", cfg->path);
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	listener_free(c->listener);
	free(c);
}

bool control_has_watchers(const struct control *c)
{
	return c->n_watchers > 0;
}

unsigned int control_watchers(const struct control *c)
{
	return c->n_watchers;
}

void control_broadcast(struct control *c, struct json_object *o)
{
	struct client *cl, *tmp;

	DL_FOREACH_SAFE(c->clients, cl, tmp) {
		if (cl->watch && client_send(cl, o) < 0) {
			log_info("control: dropping a watcher that does not read (%s, pid %d)",
				 cl->stream->label, (int)cl->peer.pid);
			client_free(cl);
		}
	}
}
