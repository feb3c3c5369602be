// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "stream-unix.h"

struct unix_stream {
	struct ck_stream base;
	int fd;
	sd_event_source *io;	/* its own source, or NULL in a poll set */
	struct poll_member member;
	uint32_t edge;		/* EPOLLET, or 0 */
	bool writing;		/* EPOLLOUT asked for */
};

static ssize_t unix_read(struct ck_stream *s, void *buf, size_t len)
{
	struct unix_stream *u = (struct unix_stream *)s;
	ssize_t n = read(u->fd, buf, len);

	return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
}

static ssize_t unix_write(struct ck_stream *s, const void *buf, size_t len)
{
	struct unix_stream *u = (struct unix_stream *)s;
	ssize_t n = send(u->fd, buf, len, MSG_NOSIGNAL);

	return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
}

static int set_events(struct unix_stream *u, uint32_t edge, bool writing)
{
	uint32_t events = EPOLLIN | EPOLLRDHUP | edge | (writing ? EPOLLOUT : 0);

	return u->io ? sd_event_source_set_io_events(u->io, events) :
		       poll_set_modify(&u->member, events);
}

static void unix_want_write(struct ck_stream *s, bool on)
{
	struct unix_stream *u = (struct unix_stream *)s;

	/*
	 * Every flush says what it wants; with EPOLLET, re-arming is an epoll_ctl even when
	 * nothing changes, two system calls per guest per change for nothing.
	 */
	if (on == u->writing)
		return;
	if (set_events(u, u->edge, on) == 0)
		u->writing = on;
}

int stream_unix_set_edge_triggered(struct ck_stream *s)
{
	struct unix_stream *u = (struct unix_stream *)s;
	int r;

	r = set_events(u, EPOLLET, u->writing);
	if (r < 0)
		return r;
	u->edge = EPOLLET;
	/* A stream socket's read copies all that is queued, up to len: short means empty. */
	s->short_read_drains = true;
	return 0;
}

static void unix_free(struct ck_stream *s)
{
	struct unix_stream *u = (struct unix_stream *)s;

	sd_event_source_disable_unref(u->io);
	poll_set_remove(&u->member);
	close(u->fd);
	free(u);
}

static const struct ck_stream_ops unix_stream_ops = {
	.read = unix_read,
	.write = unix_write,
	.want_write = unix_want_write,
	.free = unix_free,
};

/*
 * The peer shut its side: its last bytes and the end may come in one edge, and a short read
 * would leave the end unread with no edge to come.  From now on the reader reads to the end.
 */
static void woke(struct ck_stream *s, uint32_t revents)
{
	if (revents & (EPOLLRDHUP | EPOLLHUP))
		s->short_read_drains = false;
	ck_stream_notify(s);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	woke(userdata, revents);
	return 0;
}

static void on_member_ready(struct poll_member *m, uint32_t revents)
{
	woke(&poll_member_owner(m, struct unix_stream, member)->base, revents);
}

/* Exactly one of event and set. */
static int unix_new(struct ck_stream **ret, sd_event *event, struct poll_set *set, int fd,
		    uint16_t domid)
{
	struct unix_stream *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	ck_stream_init(&u->base, &unix_stream_ops, domid);
	snprintf(u->base.label, sizeof(u->base.label), "unix:%d", fd);
	u->fd = fd;
	if (set)
		r = poll_set_add(set, &u->member, fd, EPOLLIN | EPOLLRDHUP, NULL, on_member_ready);
	else
		r = sd_event_add_io(event, &u->io, fd, EPOLLIN | EPOLLRDHUP, on_io, &u->base);
	if (r < 0) {
		free(u);
		return r;
	}
	*ret = &u->base;
	return 0;
}

int stream_unix_new(struct ck_stream **ret, sd_event *event, int fd, uint16_t domid)
{
	return unix_new(ret, event, NULL, fd, domid);
}

int stream_unix_new_in(struct ck_stream **ret, struct poll_set *set, int fd, uint16_t domid)
{
	return unix_new(ret, NULL, set, fd, domid);
}

static int fill_address(struct sockaddr_un *sa, const char *path)
{
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	strcpy(sa->sun_path, path);
	return 0;
}

int unix_listen(const char *path, mode_t mode, int backlog)
{
	struct sockaddr_un sa;
	mode_t old_umask;
	int fd, r;

	r = fill_address(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path);
	/* bind() creates the file with 0777 & ~umask: no window with a wider mode. */
	old_umask = umask(~mode & 0777);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (r < 0 || listen(fd, backlog) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	r = fill_address(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}
