// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utlist.h>

#include "control.h"
#include "logging.h"
#include "reply.h"
#include "stream-unix.h"

struct client {
	struct client *prev, *next;
	struct control *control;
	struct ck_stream *stream;
	char in[CONTROL_LINE_MAX + 1];
	size_t in_len;
	bool watch;
	bool closing;		/* close once the output is written */
};

struct control {
	sd_event *event;
	int fd;
	char *path;
	sd_event_source *listen;
	struct client *clients;
	control_handler_fn handler;
	void *userdata;
};

struct json_object *control_handle_line(const char *untrusted_line, size_t len,
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
	reply = handler(json_object_get_string(cmd_obj), req, watch, userdata);
	json_object_put(req);
	return reply;
}

static void client_free(struct client *cl)
{
	DL_DELETE(cl->control->clients, cl);
	ck_stream_free(cl->stream);
	free(cl);
}

/* Queues one JSON line; a client that lets CONTROL_OUTPUT_MAX pile up is dropped. */
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

static int client_line(struct client *cl, const char *line, size_t len)
{
	struct control *c = cl->control;
	bool watch;
	struct json_object *reply = control_handle_line(line, len, c->handler, c->userdata,
							&watch);
	int r = client_send(cl, reply);

	json_object_put(reply);
	if (watch)
		cl->watch = true;
	return r;
}

static int client_read(struct client *cl)
{
	ssize_t n = ck_stream_read(cl->stream, cl->in + cl->in_len, CONTROL_LINE_MAX - cl->in_len);
	int r = 0;

	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		return n == 0 ? -ECONNRESET : (int)n;
	if (cl->closing)
		return 0;	/* what follows an over-long line is its tail, not a request */
	cl->in_len += n;
	for (char *nl; r == 0 && (nl = memchr(cl->in, '\n', cl->in_len));) {
		size_t len = nl - cl->in;

		r = client_line(cl, cl->in, len);
		memmove(cl->in, nl + 1, cl->in_len - len - 1);
		cl->in_len -= len + 1;
	}
	if (r == 0 && cl->in_len == CONTROL_LINE_MAX) {
		struct json_object *e = reply_error("request longer than %d bytes", CONTROL_LINE_MAX);

		(void)client_send(cl, e);
		json_object_put(e);
		cl->closing = true;
		cl->in_len = 0;
	}
	return r;
}

static void on_client(struct ck_stream *s, void *userdata)
{
	struct client *cl = userdata;
	int r = 0;

	r = client_read(cl);
	if (r == 0)
		r = ck_stream_flush(cl->stream);
	if (r == 0 && cl->closing && ck_stream_queued(cl->stream) == 0)
		r = -ECONNRESET;
	if (r < 0)
		client_free(cl);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	struct client *cl;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return 0;
	cl = calloc(1, sizeof(*cl));
	if (!cl || stream_unix_new(&cl->stream, c->event, cfd, CK_STREAM_DOMID_ANY) < 0) {
		free(cl);
		close(cfd);
		return 0;
	}
	ck_stream_set_output_max(cl->stream, CONTROL_OUTPUT_MAX);
	ck_stream_set_handler(cl->stream, on_client, cl);
	cl->control = c;
	DL_APPEND(c->clients, cl);
	return 0;
}

int control_new(struct control **ret, sd_event *event, const char *path, mode_t mode,
		control_handler_fn handler, void *userdata)
{
	struct control *c;
	char *dir, *slash;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->event = event;
	c->handler = handler;
	c->userdata = userdata;
	c->path = strdup(path);
	dir = strdup(path);
	if (!c->path || !dir) {
		free(dir);
		r = -ENOMEM;
		goto err;
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		(void)mkdir(dir, 0755);
	}
	free(dir);
	c->fd = unix_listen(path, mode, 16);
	if (c->fd < 0) {
		r = log_error_errno(c->fd, "control socket %s", path);
		goto err;
	}
	r = sd_event_add_io(event, &c->listen, c->fd, EPOLLIN, on_accept, c);
	if (r < 0)
		goto err_fd;
	*ret = c;
	return 0;

err_fd:
	close(c->fd);
	(void)unlink(path);
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

bool control_has_watchers(const struct control *c)
{
	struct client *cl;

	DL_FOREACH(c->clients, cl)
		if (cl->watch)
			return true;
	return false;
}

void control_broadcast(struct control *c, struct json_object *o)
{
	struct client *cl, *tmp;

	DL_FOREACH_SAFE(c->clients, cl, tmp) {
		if (cl->watch && client_send(cl, o) < 0) {
			log_info("control: dropping a watcher that does not read");
			client_free(cl);
		}
	}
}
