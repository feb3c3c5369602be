// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <utlist.h>

#include "logging.h"
#include "poll-set.h"

/*
 * Descriptors taken per epoll_wait; a full batch means there may be more, so the pass asks
 * again.  Large enough that a thousand acks cost a handful of system calls, small enough
 * for the stack.
 */
#define BATCH 128

struct poll_set {
	int epfd;
	sd_event_source *io;
	struct poll_member *ready;	/* gathered, not yet served, in the order reported */
};

/*
 * Takes what the inner epoll reports until it has no more.  A member reported again before
 * it was served (a level-triggered source that did not clear) is not new: a batch with
 * nothing new ends the gathering, so such a member cannot keep the pass here.
 */
static int gather(struct poll_set *ps)
{
	struct epoll_event events[BATCH];
	int n, fresh;

	do {
		n = epoll_wait(ps->epfd, events, BATCH, 0);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		fresh = 0;
		for (int i = 0; i < n; i++) {
			struct poll_member *m = events[i].data.ptr;

			if (m->clear)
				m->clear(m, events[i].events);
			if (m->revents == 0) {
				DL_APPEND(ps->ready, m);
				fresh++;
			}
			m->revents |= events[i].events;
		}
	} while (n == BATCH && fresh > 0);
	return 0;
}

/*
 * One dispatch for every stream that is ready: each is served once, in the order epoll
 * reported it, and what became ready meanwhile waits for the next pass, so the loop's other
 * sources get their turn between passes.  Each owner bounds its own work per wake-up.
 */
static int on_ready(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	struct poll_set *ps = userdata;
	struct poll_member *m;
	int r;

	r = gather(ps);
	if (r < 0)
		log_error_errno(r, "poll set: epoll_wait");
	while ((m = ps->ready)) {
		uint32_t events = m->revents;

		DL_DELETE(ps->ready, m);
		m->revents = 0;
		m->ready(m, events);
	}
	/* An error here would leave every member unserved: let sd-event end the loop's source. */
	return r;
}

int poll_set_new(struct poll_set **ret, sd_event *event)
{
	struct poll_set *ps = calloc(1, sizeof(*ps));
	int r;

	if (!ps)
		return -ENOMEM;
	ps->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ps->epfd < 0) {
		r = -errno;
		free(ps);
		return r;
	}
	r = sd_event_add_io(event, &ps->io, ps->epfd, EPOLLIN, on_ready, ps);
	if (r < 0) {
		close(ps->epfd);
		free(ps);
		return r;
	}
	*ret = ps;
	return 0;
}

void poll_set_free(struct poll_set *ps)
{
	if (!ps)
		return;
	sd_event_source_disable_unref(ps->io);
	close(ps->epfd);
	free(ps);
}

int poll_set_add(struct poll_set *ps, struct poll_member *m, int fd, uint32_t events,
		 poll_member_fn clear, poll_member_fn ready)
{
	struct epoll_event ev = { .events = events, .data.ptr = m };

	*m = (struct poll_member){ .fd = fd, .clear = clear, .ready = ready };
	if (epoll_ctl(ps->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	m->set = ps;
	return 0;
}

int poll_set_modify(struct poll_member *m, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = m };

	if (!m->set)
		return -EINVAL;
	return epoll_ctl(m->set->epfd, EPOLL_CTL_MOD, m->fd, &ev) < 0 ? -errno : 0;
}

void poll_set_remove(struct poll_member *m)
{
	if (!m->set)
		return;
	if (m->revents)
		DL_DELETE(m->set->ready, m);
	(void)epoll_ctl(m->set->epfd, EPOLL_CTL_DEL, m->fd, NULL);
	m->set = NULL;
	m->revents = 0;
}
