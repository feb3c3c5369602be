// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulation's transport: agents connect to a Unix stream socket.  Nothing proves who is
 * at the other end, so it runs only with the simulated source (main.c enforces that).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "logging.h"
#include "stream-unix.h"
#include "transport.h"

#define AGENT_SOCKET_MODE 0660

struct unix_transport {
	struct transport base;
	sd_event *event;
	int fd;
	char *path;
	sd_event_source *listen;
	struct transport_callbacks cb;
	void *userdata;
};

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct unix_transport *t = userdata;
	struct ck_stream *stream;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int r;

	if (cfd < 0)
		return 0;
	r = stream_unix_new(&stream, t->event, cfd, CK_STREAM_DOMID_ANY);
	if (r < 0) {
		close(cfd);
	} else {
		r = t->cb.connected(stream, t->userdata);
		if (r < 0)
			ck_stream_free(stream);
	}
	if (r < 0)
		log_warning_errno(r, "unix: cannot take a connection");
	return 0;
}

static int unix_new(struct transport **ret, const struct transport_config *cfg,
		    const struct transport_callbacks *cb, void *userdata)
{
	struct unix_transport *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->base.ops = &transport_unix_ops;
	t->event = cfg->event;
	t->cb = *cb;
	t->userdata = userdata;
	t->path = strdup(cfg->agent_socket);
	if (!t->path) {
		free(t);
		return -ENOMEM;
	}
	t->fd = unix_listen(t->path, AGENT_SOCKET_MODE, 64);
	if (t->fd < 0) {
		r = log_error_errno(t->fd, "agent socket %s", t->path);
		goto err;
	}
	r = sd_event_add_io(cfg->event, &t->listen, t->fd, EPOLLIN, on_accept, t);
	if (r < 0)
		goto err_fd;
	log_info("unix transport: agents connect to %s", t->path);
	*ret = &t->base;
	return 0;
err_fd:
	close(t->fd);
	(void)unlink(t->path);
err:
	free(t->path);
	free(t);
	return r;
}

static void unix_stream_closed(struct transport *t, struct ck_stream *s)
{
	ck_stream_free(s);
}

static void unix_free(struct transport *base)
{
	struct unix_transport *t = (struct unix_transport *)base;

	sd_event_source_disable_unref(t->listen);
	close(t->fd);
	(void)unlink(t->path);
	free(t->path);
	free(t);
}

const struct transport_ops transport_unix_ops = {
	.name = "unix",
	.new = unix_new,
	.stream_closed = unix_stream_closed,
	.free = unix_free,
};
