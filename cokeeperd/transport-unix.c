// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulation's transport: agents connect to a Unix stream socket.  Nothing proves who is
 * at the other end, so it runs only with the simulated source (main.c enforces that).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "guest.h"
#include "logging.h"

struct unix_conn {
	struct conn conn;
	int fd;
	sd_event_source *io;
};

struct unix_transport {
	struct transport base;
	int fd;
	char *path;
	sd_event_source *listen;
};

static ssize_t unix_read(struct conn *c, void *buf, size_t len)
{
	struct unix_conn *u = (struct unix_conn *)c;
	ssize_t n = read(u->fd, buf, len);

	return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
}

static ssize_t unix_write(struct conn *c, const void *buf, size_t len)
{
	struct unix_conn *u = (struct unix_conn *)c;
	ssize_t n = send(u->fd, buf, len, MSG_NOSIGNAL);

	return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
}

static void unix_want_write(struct conn *c, bool on)
{
	struct unix_conn *u = (struct unix_conn *)c;

	sd_event_source_set_io_events(u->io, EPOLLIN | (on ? EPOLLOUT : 0));
}

static void unix_close(struct conn *c)
{
	struct unix_conn *u = (struct unix_conn *)c;

	sd_event_source_disable_unref(u->io);
	close(u->fd);
	free(u);
}

static const struct conn_ops unix_conn_ops = {
	.read = unix_read,
	.write = unix_write,
	.want_write = unix_want_write,
	.close = unix_close,
};

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct unix_conn *u = userdata;

	u->conn.on_io(&u->conn, u->conn.userdata);
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct unix_transport *t = userdata;
	struct unix_conn *u;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int r;

	if (cfd < 0)
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u) {
		close(cfd);
		return 0;
	}
	u->fd = cfd;
	u->conn.ops = &unix_conn_ops;
	u->conn.domid = CONN_DOMID_ANY;
	snprintf(u->conn.label, sizeof(u->conn.label), "unix:%d", cfd);
	r = sd_event_add_io(t->base.daemon->event, &u->io, cfd, EPOLLIN, on_conn_io, u);
	if (r == 0)
		r = guest_attach(t->base.daemon, &u->conn);
	if (r < 0) {
		log_warning_errno(r, "unix: cannot take a connection");
		sd_event_source_disable_unref(u->io);
		close(cfd);
		free(u);
	}
	return 0;
}

static int unix_new(struct transport **ret, struct daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->cfg.agent_socket;
	struct unix_transport *t;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "agent socket path '%s'", path);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.ops = &transport_unix_ops;
	t->base.daemon = d;
	t->path = strdup(path);
	strcpy(sa.sun_path, path);
	t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!t->path || t->fd < 0) {
		r = t->path ? -errno : -ENOMEM;
		goto err;
	}
	(void)unlink(path);
	if (bind(t->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(t->fd, 64) < 0) {
		r = log_error_errno(-errno, "agent socket %s", path);
		goto err;
	}
	r = sd_event_add_io(d->event, &t->listen, t->fd, EPOLLIN, on_accept, t);
	if (r < 0)
		goto err;
	log_info("unix transport: agents connect to %s", path);
	*ret = &t->base;
	return 0;
err:
	if (t->fd >= 0)
		close(t->fd);
	free(t->path);
	free(t);
	return r;
}

static void unix_conn_closed(struct transport *t, struct conn *c)
{
	c->ops->close(c);
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
	.conn_closed = unix_conn_closed,
	.free = unix_free,
};
