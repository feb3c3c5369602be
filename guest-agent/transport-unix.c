// SPDX-License-Identifier: GPL-2.0-only
/* The simulation's transport: a Unix stream socket to cokeeperd's --agent-socket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream-unix.h"
#include "transport.h"

struct unix_transport {
	struct transport base;
	sd_event *event;
	char *path;
};

static int unix_connect_stream(struct transport *base, int domid, struct ck_stream **ret)
{
	struct unix_transport *t = (struct unix_transport *)base;
	int fd = unix_connect(t->path), r;

	if (fd == -ENOENT || fd == -ECONNREFUSED)
		return -EAGAIN;
	if (fd < 0)
		return fd;
	r = stream_unix_new(ret, t->event, fd, CK_STREAM_DOMID_ANY);
	if (r < 0)
		close(fd);
	return r;
}

static void unix_release(struct transport *base, struct ck_stream *s, bool dead)
{
	ck_stream_free(s);
}

static void unix_free(struct transport *base)
{
	struct unix_transport *t = (struct unix_transport *)base;

	free(t->path);
	free(t);
}

static int unix_new(struct transport **ret, const struct transport_config *cfg, int *domid,
		    const struct transport_callbacks *cb, void *userdata)
{
	struct unix_transport *t;

	if (*domid < 0 || !cfg->socket_path)
		return -EINVAL;	/* main.c insists on --domid and a socket with unix */
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.ops = &transport_unix_ops;
	t->event = cfg->event;
	t->path = strdup(cfg->socket_path);
	if (!t->path) {
		free(t);
		return -ENOMEM;
	}
	*ret = &t->base;
	return 0;
}

const struct transport_ops transport_unix_ops = {
	.name = "unix",
	.new = unix_new,
	.connect = unix_connect_stream,
	.release = unix_release,
	.free = unix_free,
};
