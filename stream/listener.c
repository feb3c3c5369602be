// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "listener.h"
#include "logging.h"
#include "ratelimit.h"
#include "stream-unix.h"

/*
 * Connections taken per wake-up: enough to drain a burst of agents at start, few enough that
 * a connect storm cannot keep the loop from the connections already open.
 */
#define ACCEPT_BATCH 16

struct listener {
	sd_event *event;
	char *what;
	char *path;
	int fd;
	sd_event_source *io;
	sd_event_source *retry;		/* armed only while paused */
	bool paused;
	unsigned long refused;		/* accept failures in the current pause */
	bool logged;			/* the pause was logged: log its end too */
	int spare;			/* the reserve descriptor, or -1 */
	char *busy;			/* what a peer the reserve let in is told */
	size_t busy_len;
	unsigned long busied;		/* peers told busy since the last accept */
	struct ck_ratelimit log_rl;
	listener_accept_fn on_accept;
	void *userdata;
};

static int open_spare(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static void resume(struct listener *l)
{
	if (!l->paused)
		return;
	if (l->busy && l->spare < 0)
		l->spare = open_spare();	/* lost when it could not be taken back */
	l->paused = false;
	(void)sd_event_source_set_enabled(l->retry, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(l->io, SD_EVENT_ON);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	resume(userdata);
	return 0;
}

/*
 * Stops polling the socket: its pending connections keep it readable, and with nothing to
 * accept them with, a level-triggered loop would wake for them forever.
 */
static void pause_accepting(struct listener *l, int r)
{
	int q;

	l->refused++;
	if (l->refused == 1)
		l->logged = ck_log_limited(&l->log_rl, LOG_WARNING, r, "%s %s: cannot accept, "
					   "paused until a descriptor is freed", l->what, l->path);
	l->paused = true;
	(void)sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
	q = sd_event_source_set_time_relative(l->retry, LISTENER_RETRY_USEC);
	if (q >= 0)
		q = sd_event_source_set_enabled(l->retry, SD_EVENT_ONESHOT);
	if (q < 0) {
		/* Without the timer only listener_resume wakes it: better than spinning. */
		log_error_errno(q, "%s %s: cannot arm the accept retry", l->what, l->path);
	}
}

/*
 * Out of descriptors with one in reserve: the reserve lets one peer in to be told so.
 * Returns 0 when a peer was answered (another may wait), -EAGAIN when none waited, or the
 * error that leaves the listener without its reserve (it pauses then).
 */
static int answer_busy(struct listener *l, int r)
{
	int cfd;

	close(l->spare);
	l->spare = -1;
	cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd >= 0) {
		/* Into an empty socket buffer: a short line goes whole or not at all. */
		(void)send(cfd, l->busy, l->busy_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(cfd);
		if (l->busied++ == 0)
			(void)ck_log_limited(&l->log_rl, LOG_WARNING, r, "%s %s: out of "
					     "descriptors, answering clients busy", l->what,
					     l->path);
	} else if (errno == EAGAIN || errno == EMFILE || errno == ENFILE) {
		/* None waited, or even the reserve's slot went elsewhere (ENFILE: the system's). */
		r = -errno;
	} else {
		r = 0;		/* that peer gave up in the backlog: the next may not */
	}
	l->spare = open_spare();
	if (l->spare < 0)
		return l->spare;	/* another descriptor took its place */
	return cfd >= 0 ? 0 : r;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct listener *l = userdata;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int r = -errno;

		if (cfd >= 0) {
			if (l->logged)
				log_info("%s %s: accepting again after %lu refused attempts",
					 l->what, l->path, l->refused);
			l->refused = 0;
			l->logged = false;
			l->busied = 0;
			l->on_accept(cfd, l->userdata);
			continue;
		}
		switch (r) {
		case -EAGAIN:
			return 0;	/* drained */
		case -EINTR:
		case -ECONNABORTED:	/* that peer gave up in the backlog: the next may not */
		case -EPROTO:
			continue;
		case -EMFILE:
		case -ENFILE:
			if (l->spare >= 0) {
				r = answer_busy(l, r);
				if (r == 0)
					continue;
				if (r == -EAGAIN)
					return 0;
			}
			pause_accepting(l, r);
			return 0;
		default:
			/* ENOBUFS, ENOMEM, or anything that would repeat at once. */
			pause_accepting(l, r);
			return 0;
		}
	}
	return 0;	/* more may wait: level-triggered, the loop comes back after the others */
}

int listener_new(struct listener **ret, sd_event *event, const char *what, const char *path,
		 mode_t mode, int backlog, listener_accept_fn on_accept, void *userdata)
{
	struct listener *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->event = event;
	l->on_accept = on_accept;
	l->userdata = userdata;
	l->log_rl = (struct ck_ratelimit)CK_RATELIMIT_INIT(60 * 1000000ull, 1);
	l->fd = -1;
	l->spare = -1;
	l->what = strdup(what);
	l->path = strdup(path);
	if (!l->what || !l->path) {
		r = -ENOMEM;
		goto err;
	}
	l->fd = unix_listen(path, mode, backlog);
	if (l->fd < 0) {
		r = l->fd;
		goto err;
	}
	r = sd_event_add_io(event, &l->io, l->fd, EPOLLIN, on_io, l);
	if (r < 0)
		goto err_unlink;
	r = sd_event_add_time_relative(event, &l->retry, CLOCK_MONOTONIC, LISTENER_RETRY_USEC, 0,
				       on_retry, l);
	if (r < 0)
		goto err_unlink;
	(void)sd_event_source_set_enabled(l->retry, SD_EVENT_OFF);
	*ret = l;
	return 0;

err_unlink:
	(void)unlink(path);
err:
	listener_free(l);
	return r;
}

void listener_free(struct listener *l)
{
	if (!l)
		return;
	sd_event_source_disable_unref(l->retry);
	sd_event_source_disable_unref(l->io);
	if (l->fd >= 0) {
		close(l->fd);
		(void)unlink(l->path);
	}
	if (l->spare >= 0)
		close(l->spare);
	free(l->busy);
	free(l->path);
	free(l->what);
	free(l);
}

int listener_set_busy_reply(struct listener *l, const char *line)
{
	char *busy = strdup(line);
	int spare;

	if (!busy)
		return -ENOMEM;
	spare = l->spare >= 0 ? l->spare : open_spare();
	if (spare < 0) {
		free(busy);
		return spare;
	}
	free(l->busy);
	l->busy = busy;
	l->busy_len = strlen(busy);
	l->spare = spare;
	return 0;
}

void listener_resume(struct listener *l)
{
	if (l)
		resume(l);
}
