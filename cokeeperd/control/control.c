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
#include "quota.h"
#include "ratelimit.h"
#include "reply.h"
#include "stream-unix.h"

#define USEC_PER_SEC 1000000ull
/*
 * Requests answered in one wake-up before the loop serves the others: a client that reads
 * its replies as fast as it pipelines requests would otherwise be served for ever.
 */
#define REQUESTS_PER_WAKEUP 16

struct client {
	struct client *prev, *next;
	struct control *control;
	struct ck_stream *stream;
	struct control_peer peer;
	struct quota_hold hold;		/* its slot, watch stream and unread bytes, by uid */
	sd_event_source *idle;		/* off while watching */
	sd_event_source *more;		/* its next requests, when a wake-up's budget ran out */
	uint64_t expires_usec;		/* closed then whatever it sends (read-only); 0: never */
	struct ck_lines lines;
	char line[CONTROL_LINE_MAX];
	/* Read but not yet framed: framing stops at each line end until its reply is sent. */
	char in[CONTROL_LINE_MAX];
	size_t in_start, in_end;
	bool closing;		/* close once the output is written */
};

struct control {
	sd_event *event;
	struct control_config cfg;
	struct listener *listener;
	struct client *clients;
	struct quota quota;
	struct ck_ratelimit refuse_rl;	/* clients over the limit, each one a log line */
	struct ck_ratelimit drop_rl;	/* clients dropped for what they leave unread */
	control_handler_fn handler;
	void *userdata;
};

/* The version, once: a broadcast object goes to every watcher. */
static void stamp(struct json_object *o)
{
	if (o && !json_object_object_get_ex(o, "protocol", NULL))
		json_object_object_add(o, "protocol",
				       json_object_new_int(CONTROL_PROTOCOL_VERSION));
}

static struct json_object *stamp_error(const char *msg)
{
	struct json_object *o = reply_error("%s", msg);

	stamp(o);
	return o;
}

/* The line o is sent as, versioned: valid until o changes or is freed. */
static const char *to_line(struct json_object *o, size_t *len)
{
	stamp(o);
	return json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, len);
}

struct json_object *control_handle_line(const char *untrusted_line, size_t len,
					const struct control_peer *peer,
					control_handler_fn handler, void *userdata, bool *watch)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req, *cmd_obj, *reply;

	*watch = false;
	if (!tok)
		return stamp_error("out of memory");
	req = json_tokener_parse_ex(tok, untrusted_line, (int)len);
	if (!req || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		json_object_put(req);
		return stamp_error("request is not one JSON object");
	}
	json_tokener_free(tok);
	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "cmd", &cmd_obj) ||
	    !json_object_is_type(cmd_obj, json_type_string)) {
		json_object_put(req);
		return stamp_error("request needs a \"cmd\" string");
	}
	reply = handler(json_object_get_string(cmd_obj), req, peer, watch, userdata);
	json_object_put(req);
	stamp(reply);
	return reply;
}

static void client_free(struct client *cl)
{
	struct control *c = cl->control;

	DL_DELETE(c->clients, cl);
	quota_leave(&c->quota, &cl->hold);
	sd_event_source_disable_unref(cl->idle);
	sd_event_source_disable_unref(cl->more);
	ck_stream_free(cl->stream);
	free(cl);
	listener_resume(c->listener);	/* its descriptor is free again */
}

/* What its queue holds now, in its uid's total: -ENOBUFS past a read-only uid's cap. */
static int count_unread(struct client *cl)
{
	struct control *c = cl->control;
	int r = quota_set_unread(&c->quota, &cl->hold, ck_stream_queued(cl->stream));

	if (r < 0)
		ck_log_limited(&c->drop_rl, LOG_WARNING, 0, "control: dropping a client of uid %u "
			       "(pid %d): its uid leaves more than %u bytes unread", cl->peer.uid,
			       (int)cl->peer.pid, CONTROL_UNREAD_PER_UID_MAX);
	return r;
}

/* Queues one JSON line; a client past its output cap, or its uid's, is to be dropped. */
static int client_send(struct client *cl, struct json_object *o)
{
	size_t len;
	const char *s = to_line(o, &len);
	struct iovec line[] = {
		{ .iov_base = (void *)s, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	int r = ck_stream_sendv(cl->stream, line, 2);

	return r < 0 ? r : count_unread(cl);
}

static void client_start_watching(struct client *cl)
{
	/* A watcher's requests are over: it only follows (and is bounded by its cap). */
	(void)sd_event_source_set_enabled(cl->idle, SD_EVENT_OFF);
	ck_stream_set_output_max(cl->stream, CONTROL_WATCHER_OUTPUT_MAX);
}

/* The idle clock, which never runs past the client's age limit. */
static void client_rearm_idle(struct client *cl)
{
	uint64_t now, deadline;

	if (sd_event_now(cl->control->event, CLOCK_MONOTONIC, &now) < 0)
		return;
	deadline = now + cl->control->cfg.idle_timeout_sec * USEC_PER_SEC;
	if (cl->expires_usec && cl->expires_usec < deadline)
		deadline = cl->expires_usec;
	(void)sd_event_source_set_time(cl->idle, deadline);
}

static int client_line(const char *line, size_t len, void *userdata)
{
	struct client *cl = userdata;
	struct control *c = cl->control;
	bool watch, was_watching = cl->hold.watching;
	char why[128];
	struct json_object *reply = control_handle_line(line, len, &cl->peer, c->handler,
							c->userdata, &watch);
	int r;

	if (watch && !was_watching && quota_watch(&c->quota, &cl->hold, why, sizeof(why)) < 0) {
		json_object_put(reply);
		reply = reply_error("%s", why);
		watch = false;
	}
	r = client_send(cl, reply);
	json_object_put(reply);
	if (r == 0 && watch && !was_watching)
		client_start_watching(cl);
	if (!cl->hold.watching)
		client_rearm_idle(cl);
	return r;
}

/* The next bytes to frame, read if none are left: > 0, -EAGAIN, or an error that ends it. */
static ssize_t client_fill(struct client *cl)
{
	ssize_t n;

	if (cl->in_start < cl->in_end)
		return (ssize_t)(cl->in_end - cl->in_start);
	n = ck_stream_read(cl->stream, cl->in, sizeof(cl->in));
	if (n <= 0)
		return n == 0 ? -ECONNRESET : n;
	cl->in_start = 0;
	cl->in_end = (size_t)n;
	return n;
}

/*
 * Answers the client's requests one at a time, each only once the reply before it is sent:
 * a client that pipelines requests and never reads leaves them in its own socket's buffer
 * (the kernel's, bounded by its size) and holds one reply here, not one per request.  The
 * socket is edge-triggered, so stopping short of -EAGAIN never spins: what is left waits
 * for the peer to read (a write wake-up), the next wake-up's budget (more), or its bytes.
 */
static int client_serve(struct client *cl)
{
	unsigned int answered = 0;

	for (;;) {
		const char *data, *nl;
		size_t take;
		ssize_t n;
		int r = ck_stream_flush(cl->stream);

		if (r < 0)
			return r;
		(void)count_unread(cl);		/* it only went down */
		if (ck_stream_queued(cl->stream) > 0)
			return 0;
		if (cl->closing)
			return -ECONNRESET;
		if (answered == REQUESTS_PER_WAKEUP)
			return sd_event_source_set_enabled(cl->more, SD_EVENT_ONESHOT);
		n = client_fill(cl);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		/* Up to the first line end: one request, so one reply before the flush above. */
		data = cl->in + cl->in_start;
		nl = memchr(data, '\n', (size_t)n);
		take = nl ? (size_t)(nl - data) + 1 : (size_t)n;
		cl->in_start += take;
		answered += nl != NULL;
		r = ck_lines_feed(&cl->lines, data, take, client_line, cl);
		if (r == -EMSGSIZE) {
			/* Once overlong, the lines are over: what follows is its tail, dropped. */
			struct json_object *e = reply_error("request longer than %d bytes: closing",
							    CONTROL_LINE_MAX);

			r = client_send(cl, e);
			json_object_put(e);
			cl->closing = true;
		}
		if (r < 0)
			return r;
	}
}

static void on_client(struct ck_stream *s, void *userdata)
{
	struct client *cl = userdata;

	if (client_serve(cl) < 0)
		client_free(cl);
}

static int on_more(sd_event_source *s, void *userdata)
{
	on_client(NULL, userdata);
	return 0;
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct client *cl = userdata;

	if (cl->expires_usec && usec >= cl->expires_usec)
		log_debug("control: closing %s (pid %d): connected for %u s", cl->stream->label,
			  (int)cl->peer.pid, cl->control->cfg.max_age_sec);
	else
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
	const char *s = to_line(reply, &len);
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
	char why[128];
	uint64_t now;
	bool admin;
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		refuse(c, fd, "cannot tell who the peer is");
		return;
	}
	admin = cred.uid == 0 || (c->cfg.admin_group && peer_in_group(fd, &cred, c->cfg.admin_gid));
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	r = quota_join(&c->quota, &cl->hold, cred.uid, admin, why, sizeof(why));
	if (r < 0) {
		free(cl);
		if (r == -EUSERS)
			refuse(c, fd, why);
		else
			close(fd);
		return;
	}
	cl->control = c;
	cl->peer = (struct control_peer){
		.pid = cred.pid, .uid = cred.uid, .gid = cred.gid, .admin = admin,
	};
	ck_lines_init(&cl->lines, cl->line, sizeof(cl->line));
	(void)sd_event_now(c->event, CLOCK_MONOTONIC, &now);
	if (!admin)
		cl->expires_usec = now + c->cfg.max_age_sec * USEC_PER_SEC;
	r = sd_event_add_time(c->event, &cl->idle, CLOCK_MONOTONIC, now, USEC_PER_SEC, on_idle, cl);
	if (r >= 0) {
		client_rearm_idle(cl);
		r = sd_event_add_defer(c->event, &cl->more, on_more, cl);
	}
	/*
	 * Below every descriptor and timer (as a guest's resume, guests.c): at the same priority
	 * a defer source that re-arms itself is dispatched before any I/O on every iteration,
	 * and a client that pipelines requests and reads as fast would have the loop to itself.
	 */
	if (r >= 0)
		r = sd_event_source_set_priority(cl->more, SD_EVENT_PRIORITY_IDLE);
	if (r >= 0)
		r = sd_event_source_set_enabled(cl->more, SD_EVENT_OFF);
	if (r < 0) {
		log_warning_errno(r, "control: cannot time a client");
		goto err;
	}
	r = stream_unix_new(&cl->stream, c->event, fd, CK_STREAM_DOMID_ANY);
	if (r < 0) {
		log_warning_errno(r, "control: cannot take a client");
		goto err;
	}
	fd = -1;	/* the stream's now */
	/* client_serve stops reading while a reply is unsent: level-triggered, it would spin. */
	r = stream_unix_set_edge_triggered(cl->stream);
	if (r < 0) {
		log_warning_errno(r, "control: cannot take a client");
		goto err;
	}
	ck_stream_set_output_max(cl->stream, CONTROL_OUTPUT_MAX);
	ck_stream_set_handler(cl->stream, on_client, cl);
	DL_APPEND(c->clients, cl);
	return;

err:
	quota_leave(&c->quota, &cl->hold);
	sd_event_source_disable_unref(cl->more);
	sd_event_source_disable_unref(cl->idle);
	ck_stream_free(cl->stream);
	if (fd >= 0)
		close(fd);
	free(cl);
}

/* The reply shape (reply.c) of the line the listener's reserve descriptor answers with. */
static int set_busy_reply(struct listener *l)
{
	struct json_object *o = reply_error("busy: out of descriptors");
	char *line;
	size_t len;
	int r = -ENOMEM;

	if (o && asprintf(&line, "%s\n", to_line(o, &len)) >= 0) {
		r = listener_set_busy_reply(l, line);
		free(line);
	}
	json_object_put(o);
	return r;
}

int control_new(struct control **ret, sd_event *event, const struct control_config *cfg,
		control_handler_fn handler, void *userdata)
{
	struct quota_limits limits;
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
	if (!c->cfg.max_clients_per_uid)
		c->cfg.max_clients_per_uid = CONTROL_MAX_CLIENTS_PER_UID_DEFAULT;
	if (!c->cfg.max_watchers_per_uid)
		c->cfg.max_watchers_per_uid = CONTROL_MAX_WATCHERS_PER_UID_DEFAULT;
	if (!c->cfg.idle_timeout_sec)
		c->cfg.idle_timeout_sec = CONTROL_IDLE_TIMEOUT_DEFAULT_SEC;
	if (!c->cfg.max_age_sec)
		c->cfg.max_age_sec = CONTROL_MAX_AGE_DEFAULT_SEC;
	limits = (struct quota_limits){
		.max_clients = c->cfg.max_clients,
		.max_watchers = c->cfg.max_watchers,
		.clients_per_uid = c->cfg.max_clients_per_uid,
		.watchers_per_uid = c->cfg.max_watchers_per_uid,
		.unread_per_uid = CONTROL_UNREAD_PER_UID_MAX,
	};
	quota_init(&c->quota, &limits);
	c->refuse_rl = (struct ck_ratelimit)CK_RATELIMIT_INIT(10 * USEC_PER_SEC, 1);
	c->drop_rl = (struct ck_ratelimit)CK_RATELIMIT_INIT(10 * USEC_PER_SEC, 1);
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
	r = set_busy_reply(c->listener);
	if (r < 0) {
		log_error_errno(r, "control socket %s: cannot keep a descriptor in reserve",
				cfg->path);
		listener_free(c->listener);
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
	quota_release(&c->quota);
	free(c);
}

bool control_has_watchers(const struct control *c)
{
	return c->quota.watchers > 0;
}

unsigned int control_watchers(const struct control *c)
{
	return c->quota.watchers;
}

void control_broadcast(struct control *c, struct json_object *o)
{
	struct client *cl, *tmp;

	DL_FOREACH_SAFE(c->clients, cl, tmp) {
		if (cl->hold.watching && client_send(cl, o) < 0) {
			/* Rate-limited: a user may open and abandon watchers over and over. */
			ck_log_limited(&c->drop_rl, LOG_INFO, 0, "control: dropping a watcher that "
				       "does not read (%s, pid %d)", cl->stream->label,
				       (int)cl->peer.pid);
			client_free(cl);
		}
	}
}
