// SPDX-License-Identifier: GPL-2.0-only
/* The simulation's channel: a Unix stream socket to cokeeperd's --agent-socket. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"

struct unix_channel {
	struct channel base;
	int fd;
	sd_event_source *io;
};

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct unix_channel *u = userdata;

	agent_on_io(u->base.agent);
	return 0;
}

static int unix_connect(struct channel *c)
{
	struct unix_channel *u = (struct unix_channel *)c;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = c->agent->cfg.socket_path;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	u->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u->fd < 0)
		return -errno;
	/* Connect blocking (a local socket answers at once), then switch to non-blocking. */
	if (connect(u->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == ENOENT || errno == ECONNREFUSED ? -EAGAIN : -errno;
		goto err;
	}
	r = fcntl(u->fd, F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
	if (r == 0)
		r = sd_event_add_io(c->agent->event, &u->io, u->fd, EPOLLIN, on_io, u);
	if (r < 0)
		goto err;
	return 0;
err:
	close(u->fd);
	u->fd = -1;
	return r;
}

static ssize_t unix_read(struct channel *c, void *buf, size_t len)
{
	struct unix_channel *u = (struct unix_channel *)c;
	ssize_t n = read(u->fd, buf, len);

	return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
}

static ssize_t unix_write(struct channel *c, const void *buf, size_t len)
{
	struct unix_channel *u = (struct unix_channel *)c;
	ssize_t n = send(u->fd, buf, len, MSG_NOSIGNAL);

	return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
}

static void unix_want_write(struct channel *c, bool on)
{
	struct unix_channel *u = (struct unix_channel *)c;

	sd_event_source_set_io_events(u->io, EPOLLIN | (on ? EPOLLOUT : 0));
}

static void unix_close(struct channel *c)
{
	struct unix_channel *u = (struct unix_channel *)c;

	u->io = sd_event_source_disable_unref(u->io);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

static void unix_free(struct channel *c)
{
	free(c);
}

static int unix_new(struct channel **ret, struct agent *a)
{
	struct unix_channel *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	if (a->cfg.domid < 0) {
		free(u);
		return -EINVAL;	/* main.c insists on --domid with unix */
	}
	u->base.ops = &channel_unix_ops;
	u->base.agent = a;
	u->fd = -1;
	*ret = &u->base;
	return 0;
}

const struct channel_ops channel_unix_ops = {
	.name = "unix",
	.new = unix_new,
	.connect = unix_connect,
	.read = unix_read,
	.write = unix_write,
	.want_write = unix_want_write,
	.close = unix_close,
	.free = unix_free,
};
