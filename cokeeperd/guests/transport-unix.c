// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulation's transport: agents connect to a Unix stream socket.  Nothing proves who is
 * at the other end, so it runs only with the simulated source (main.c enforces that).  The
 * agents' sockets are one poll set: when many guests ack at once, one dispatch serves them all.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "listener.h"
#include "logging.h"
#include "stream-unix.h"
#include "transport.h"

#define AGENT_SOCKET_MODE 0660

struct unix_transport {
	struct transport base;
	struct listener *listener;
	struct poll_set *streams;
	struct transport_callbacks cb;
	void *userdata;
};

static void on_accept(int fd, void *userdata)
{
	struct unix_transport *t = userdata;
	struct ck_stream *stream;
	int r;

	r = stream_unix_new_in(&stream, t->streams, fd, CK_STREAM_DOMID_ANY);
	if (r < 0) {
		close(fd);
	} else {
		/* guests.c reads each wake-up until -EAGAIN or resumes by itself: no edge lost. */
		r = stream_unix_set_edge_triggered(stream);
		if (r == 0)
			r = t->cb.connected(stream, t->userdata);
		if (r < 0)
			ck_stream_free(stream);
	}
	if (r < 0)
		log_warning_errno(r, "unix: cannot take a connection");
}

static int unix_new(struct transport **ret, const struct transport_config *cfg,
		    const struct transport_callbacks *cb, void *userdata)
{
	struct unix_transport *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->base.ops = &transport_unix_ops;
	t->cb = *cb;
	t->userdata = userdata;
	r = poll_set_new(&t->streams, cfg->event);
	if (r < 0) {
		free(t);
		return r;
	}
	r = listener_new(&t->listener, cfg->event, "agent socket", cfg->agent_socket,
			 AGENT_SOCKET_MODE, 64, on_accept, t);
	if (r < 0) {
		log_error_errno(r, "agent socket %s", cfg->agent_socket);
		poll_set_free(t->streams);
		free(t);
		return r;
	}
	log_info("unix transport: agents connect to %s", cfg->agent_socket);
	*ret = &t->base;
	return 0;
}

static void unix_stream_closed(struct transport *base, struct ck_stream *s)
{
	struct unix_transport *t = (struct unix_transport *)base;

	ck_stream_free(s);
	listener_resume(t->listener);	/* its descriptor is free again */
}

static void unix_free(struct transport *base)
{
	struct unix_transport *t = (struct unix_transport *)base;

	listener_free(t->listener);
	/* The guests handed every stream back before this (daemon.c). */
	poll_set_free(t->streams);
	free(t);
}

const struct transport_ops transport_unix_ops = {
	.name = "unix",
	.new = unix_new,
	.stream_closed = unix_stream_closed,
	.free = unix_free,
};
