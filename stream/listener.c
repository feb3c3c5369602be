// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
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
	struct ck_ratelimit log_rl;
	listener_accept_fn on_accept;
	void *userdata;
};

static void resume(struct listener *l)
{
	if (!l->paused)
		return;
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
		default:
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything that would repeat at once. */
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
	free(l->path);
	free(l->what);
	free(l);
}

void listener_resume(struct listener *l)
{
	if (l)
		resume(l);
}
