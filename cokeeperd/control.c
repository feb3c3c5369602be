// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "guest.h"
#include "logging.h"
#include "member-json.h"

struct client {
	struct client *next;
	struct control *control;
	int fd;
	sd_event_source *io;
	char in[CONTROL_LINE_MAX + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_cap;
	bool watch;
	bool closing;		/* close once the output is written */
};

struct control {
	struct daemon *d;
	int fd;
	char *path;
	sd_event_source *listen;
	struct client *clients;
};

struct json_object *control_reply_error(const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

struct json_object *control_reply_ok(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(true));
	return o;
}

static void add_generation(struct json_object *o, const struct ck_membership *m)
{
	char epoch[17];

	/* 64-bit epochs do not survive JSON numbers in every reader: a hex string. */
	snprintf(epoch, sizeof(epoch), "%016" PRIx64, m->epoch);
	json_object_object_add(o, "epoch", json_object_new_string(epoch));
	json_object_object_add(o, "gen", json_object_new_int64(m->gen));
}

static struct json_object *members_reply(struct daemon *d)
{
	struct json_object *o = control_reply_ok(), *members;

	add_generation(o, d->membership);
	if (ck_members_to_json(d->membership->members, &members) < 0) {
		json_object_put(o);
		return control_reply_error("out of memory");
	}
	json_object_object_add(o, "members", members);
	return o;
}

static struct json_object *stats_reply(struct daemon *d)
{
	struct json_object *o = control_reply_ok(), *c = json_object_new_object(),
			   *conv = json_object_new_object();
	struct convergence_summary s;

	add_generation(o, d->membership);
#define COUNTER(name, value) json_object_object_add(c, name, json_object_new_int64(value))
	COUNTER("members", ck_memberset_count(d->membership->members));
	COUNTER("rescan_requests", rescan_requests(d->rescan));
	COUNTER("scans", rescan_scans(d->rescan));
	COUNTER("scans_failed", d->stats.scans_failed);
	COUNTER("commits", d->stats.commits);
	COUNTER("changes", d->stats.changes);
	COUNTER("guests", guests_count(d));
	COUNTER("guests_connected", d->stats.guests_connected);
	COUNTER("guests_rejected", d->stats.guests_rejected);
	COUNTER("queue_overflows", d->stats.queue_overflows);
	COUNTER("snapshots_sent", d->stats.snapshots_sent);
	COUNTER("deltas_sent", d->stats.deltas_sent);
#undef COUNTER
	json_object_object_add(o, "source", json_object_new_string(d->source->ops->name));
	json_object_object_add(o, "counters", c);
	convergence_summarize(&d->convergence, &s);
	json_object_object_add(conv, "count", json_object_new_int64(s.count));
	json_object_object_add(conv, "p50_us", json_object_new_int64(s.p50_usec));
	json_object_object_add(conv, "p90_us", json_object_new_int64(s.p90_usec));
	json_object_object_add(conv, "p99_us", json_object_new_int64(s.p99_usec));
	json_object_object_add(conv, "max_us", json_object_new_int64(s.max_usec));
	json_object_object_add(o, "convergence", conv);
	return o;
}

struct json_object *control_handle(struct daemon *d, const char *untrusted_line, size_t len,
				   bool *watch)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req, *cmd_obj, *reply = NULL;
	const char *cmd;

	*watch = false;
	if (!tok)
		return control_reply_error("out of memory");
	req = json_tokener_parse_ex(tok, untrusted_line, (int)len);
	if (!req || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		json_object_put(req);
		return control_reply_error("request is not one JSON object");
	}
	json_tokener_free(tok);
	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "cmd", &cmd_obj) ||
	    !json_object_is_type(cmd_obj, json_type_string)) {
		json_object_put(req);
		return control_reply_error("request needs a \"cmd\" string");
	}
	cmd = json_object_get_string(cmd_obj);

	if (!strcmp(cmd, "members")) {
		reply = members_reply(d);
	} else if (!strcmp(cmd, "watch")) {
		reply = members_reply(d);
		*watch = true;
	} else if (!strcmp(cmd, "guests")) {
		reply = control_reply_ok();
		add_generation(reply, d->membership);
		json_object_object_add(reply, "guests", guests_to_json(d));
	} else if (!strcmp(cmd, "stats")) {
		reply = stats_reply(d);
	} else if (!strcmp(cmd, "rescan")) {
		daemon_request_scan(d);
		reply = control_reply_ok();
	} else if (d->source->ops->control) {
		int r = d->source->ops->control(d->source, cmd, req, &reply);

		if (r < 0 && !reply)
			reply = control_reply_error("%s: %s", cmd, strerror(-r));
	}
	if (!reply)
		reply = control_reply_error("unknown command '%.32s'", cmd);
	json_object_put(req);
	return reply;
}

static void client_free(struct client *cl)
{
	struct client **p;

	for (p = &cl->control->clients; *p; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	sd_event_source_disable_unref(cl->io);
	close(cl->fd);
	free(cl->out);
	free(cl);
}

static int client_flush(struct client *cl)
{
	while (cl->out_len > 0) {
		ssize_t n = write(cl->fd, cl->out, cl->out_len);

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		memmove(cl->out, cl->out + n, cl->out_len - n);
		cl->out_len -= n;
	}
	if (cl->out_len == 0 && cl->closing)
		return -ECONNRESET;
	return sd_event_source_set_io_events(cl->io, EPOLLIN | (cl->out_len ? EPOLLOUT : 0));
}

/* Queues one JSON line; a client that lets CONTROL_OUTPUT_MAX pile up is dropped. */
static int client_send(struct client *cl, struct json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);

	if (cl->out_len + len + 1 > CONTROL_OUTPUT_MAX)
		return -ENOBUFS;
	if (cl->out_len + len + 1 > cl->out_cap) {
		size_t cap = (cl->out_len + len + 1) * 2;
		char *grown = realloc(cl->out, cap);

		if (!grown)
			return -ENOMEM;
		cl->out = grown;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, s, len);
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
	return client_flush(cl);
}

static int client_line(struct client *cl, const char *line, size_t len)
{
	bool watch;
	struct json_object *reply = control_handle(cl->control->d, line, len, &watch);
	int r = client_send(cl, reply);

	json_object_put(reply);
	if (watch)
		cl->watch = true;
	return r;
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *cl = userdata;
	int r = 0;

	if (revents & EPOLLIN) {
		ssize_t n = read(fd, cl->in + cl->in_len, CONTROL_LINE_MAX - cl->in_len);

		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			client_free(cl);
			return 0;
		}
		cl->in_len += n > 0 ? n : 0;
		for (char *nl; r == 0 && (nl = memchr(cl->in, '\n', cl->in_len));) {
			size_t len = nl - cl->in;

			r = client_line(cl, cl->in, len);
			memmove(cl->in, nl + 1, cl->in_len - len - 1);
			cl->in_len -= len + 1;
		}
		if (r == 0 && cl->in_len == CONTROL_LINE_MAX) {
			struct json_object *e = control_reply_error("request longer than %d bytes",
							    CONTROL_LINE_MAX);

			client_send(cl, e);
			json_object_put(e);
			cl->closing = true;
			cl->in_len = 0;
		}
	}
	if (r == 0 && (revents & EPOLLOUT))
		r = client_flush(cl);
	if (r == 0 && (revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN))
		r = -ECONNRESET;
	if (r < 0)
		client_free(cl);
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	struct client *cl;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return 0;
	cl = calloc(1, sizeof(*cl));
	if (!cl || sd_event_add_io(c->d->event, &cl->io, cfd, EPOLLIN, on_client, cl) < 0) {
		free(cl);
		close(cfd);
		return 0;
	}
	cl->fd = cfd;
	cl->control = c;
	cl->next = c->clients;
	c->clients = cl;
	return 0;
}

int control_new(struct control **ret, struct daemon *d, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c;
	char *dir, *slash;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "control socket path '%s'", path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->d = d;
	c->path = strdup(path);
	dir = strdup(path);
	if (!c->path || !dir) {
		r = -ENOMEM;
		goto err;
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		(void)mkdir(dir, 0755);
	}
	free(dir);
	strcpy(sa.sun_path, path);

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		goto err;
	}
	(void)unlink(path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(c->fd, 16) < 0) {
		r = log_error_errno(-errno, "control socket %s", path);
		goto err_fd;
	}
	r = sd_event_add_io(d->event, &c->listen, c->fd, EPOLLIN, on_accept, c);
	if (r < 0)
		goto err_fd;
	*ret = c;
	return 0;

err_fd:
	close(c->fd);
err:
	free(c->path);
	free(c);
	return r;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	sd_event_source_disable_unref(c->listen);
	close(c->fd);
	(void)unlink(c->path);
	free(c->path);
	free(c);
}

static void broadcast(struct control *c, struct json_object *o)
{
	for (struct client *cl = c->clients, *next; cl; cl = next) {
		next = cl->next;
		if (cl->watch && client_send(cl, o) < 0) {
			log_info("control: dropping a watcher that does not read");
			client_free(cl);
		}
	}
}

static bool has_watchers(struct control *c)
{
	for (struct client *cl = c ? c->clients : NULL; cl; cl = cl->next)
		if (cl->watch)
			return true;
	return false;
}

void control_notify_delta(struct control *c, const struct ck_delta *delta)
{
	struct json_object *o, *ups, *rm;

	if (!has_watchers(c))
		return;
	o = json_object_new_object();
	ups = json_object_new_array();
	rm = json_object_new_array();
	json_object_object_add(o, "event", json_object_new_string("delta"));
	json_object_object_add(o, "base_gen", json_object_new_int64(delta->base_gen));
	json_object_object_add(o, "gen", json_object_new_int64(delta->new_gen));
	for (size_t i = 0; i < delta->n_upserts; i++)
		json_object_array_add(ups, ck_member_to_json(&delta->upserts[i]));
	for (size_t i = 0; i < delta->n_removed; i++)
		json_object_array_add(rm, json_object_new_int(delta->removed[i]));
	json_object_object_add(o, "upserts", ups);
	json_object_object_add(o, "removed", rm);
	broadcast(c, o);
	json_object_put(o);
}

void control_notify_ack(struct control *c, uint16_t domid, uint64_t gen, uint32_t latency_usec)
{
	struct json_object *o;

	if (!has_watchers(c))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string("ack"));
	json_object_object_add(o, "domid", json_object_new_int(domid));
	json_object_object_add(o, "gen", json_object_new_int64(gen));
	json_object_object_add(o, "latency_us", json_object_new_int64(latency_usec));
	broadcast(c, o);
	json_object_put(o);
}
