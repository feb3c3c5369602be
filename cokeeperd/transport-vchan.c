// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Xen transport: dom0 is the libxenvchan server of one channel per member domU, at
 * /local/domain/<domid>/data/cokeeper-vchan; the guest's agent is the client.  The channel
 * itself identifies the peer, so a Hello claiming another domid is refused (guest.c).
 *
 * Setting a channel up takes several xenstore writes, and xenstored caps a domain's
 * concurrent transactions, so set-ups are serialised through one queue and paced; a failed
 * one is retried with backoff and its errno logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxenvchan.h>
#include <xentoollog.h>

#include "clock.h"
#include "daemon.h"
#include "guest.h"
#include "logging.h"

#define VCHAN_RING_BYTES 65536
#define SETUP_INTERVAL_USEC 2000	/* at most one set-up per 2 ms */
#define SETUP_RETRY_USEC 200000
#define SETUP_MAX_TRIES 20

struct vchan_conn {
	struct conn conn;
	struct vchan_transport *t;
	struct libxenvchan *ctrl;
	sd_event_source *io;
};

struct pending {
	struct pending *next;
	uint16_t domid;
	unsigned int tries;
	uint64_t not_before;
};

struct vchan_transport {
	struct transport base;
	xentoollog_logger *logger;
	struct pending *queue;
	sd_event_source *timer;
};

static ssize_t vchan_read(struct conn *c, void *buf, size_t len)
{
	struct vchan_conn *v = (struct vchan_conn *)c;
	int n;

	if (libxenvchan_data_ready(v->ctrl) == 0)
		return libxenvchan_is_open(v->ctrl) == 0 ? 0 : -EAGAIN;
	n = libxenvchan_read(v->ctrl, buf, len);
	return n < 0 ? -EIO : n == 0 ? -EAGAIN : n;
}

static ssize_t vchan_write(struct conn *c, const void *buf, size_t len)
{
	struct vchan_conn *v = (struct vchan_conn *)c;
	int n;

	if (libxenvchan_is_open(v->ctrl) == 0)
		return -EPIPE;
	n = libxenvchan_write(v->ctrl, buf, len);
	return n < 0 ? -EIO : n == 0 ? -EAGAIN : n;
}

/* The event channel wakes us for both directions: nothing to change. */
static void vchan_want_write(struct conn *c, bool on)
{
}

static void vchan_close(struct conn *c)
{
	struct vchan_conn *v = (struct vchan_conn *)c;

	sd_event_source_disable_unref(v->io);
	libxenvchan_close(v->ctrl);
	free(v);
}

static const struct conn_ops vchan_conn_ops = {
	.read = vchan_read,
	.write = vchan_write,
	.want_write = vchan_want_write,
	.close = vchan_close,
};

static int on_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vchan_conn *v = userdata;

	/* Acknowledge the notification first so none that arrives meanwhile is lost. */
	libxenvchan_wait(v->ctrl);
	v->conn.on_io(&v->conn, v->conn.userdata);
	return 0;
}

static int channel_open(struct vchan_transport *t, uint16_t domid)
{
	struct daemon *d = t->base.daemon;
	struct vchan_conn *v;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/local/domain/%u/data/cokeeper-vchan", domid);
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	errno = 0;
	v->ctrl = libxenvchan_server_init(t->logger, domid, path, VCHAN_RING_BYTES,
					  VCHAN_RING_BYTES);
	if (!v->ctrl) {
		r = errno ? -errno : -EIO;
		free(v);
		return r;
	}
	v->ctrl->blocking = 0;
	v->t = t;
	v->conn.ops = &vchan_conn_ops;
	v->conn.domid = domid;
	snprintf(v->conn.label, sizeof(v->conn.label), "vchan:%u", domid);
	r = sd_event_add_io(d->event, &v->io, libxenvchan_fd_for_select(v->ctrl), EPOLLIN,
			    on_event, v);
	if (r == 0)
		r = guest_attach(d, &v->conn);
	if (r < 0) {
		sd_event_source_disable_unref(v->io);
		libxenvchan_close(v->ctrl);
		free(v);
	}
	return r;
}

static void arm_timer(struct vchan_transport *t)
{
	uint64_t when = UINT64_MAX;

	for (struct pending *p = t->queue; p; p = p->next)
		if (p->not_before < when)
			when = p->not_before;
	if (when == UINT64_MAX) {
		sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(t->timer, when);
	sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
}

static bool is_member(struct vchan_transport *t, uint16_t domid)
{
	return ck_memberset_find(t->base.daemon->membership->members, domid) != NULL;
}

static void enqueue_setup(struct vchan_transport *t, uint16_t domid, uint64_t delay)
{
	struct pending *p, **tail;

	for (tail = &t->queue; *tail; tail = &(*tail)->next)
		if ((*tail)->domid == domid)
			return;
	p = calloc(1, sizeof(*p));
	if (!p) {
		log_error("vchan: domid %u: no memory to queue its channel", domid);
		return;
	}
	p->domid = domid;
	p->not_before = ck_now_usec() + delay;
	*tail = p;
	arm_timer(t);
}

/* One set-up per tick: the first due entry of the queue. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vchan_transport *t = userdata;
	uint64_t now = ck_now_usec();
	struct pending **pp, *p;
	int r;

	for (pp = &t->queue; *pp && (*pp)->not_before > now; pp = &(*pp)->next)
		;
	p = *pp;
	if (!p) {
		arm_timer(t);
		return 0;
	}
	*pp = p->next;
	if (!is_member(t, p->domid)) {
		free(p);
	} else if ((r = channel_open(t, p->domid)) == 0) {
		log_debug("vchan: domid %u: channel ready", p->domid);
		free(p);
	} else if (++p->tries >= SETUP_MAX_TRIES) {
		log_error_errno(r, "vchan: domid %u: giving up on its channel after %u tries",
				p->domid, p->tries);
		free(p);
	} else {
		log_warning_errno(r, "vchan: domid %u: channel set-up failed (try %u), retrying",
				  p->domid, p->tries);
		p->not_before = now + SETUP_RETRY_USEC * p->tries;
		p->next = t->queue;
		t->queue = p;
	}
	/* Pace the next one. */
	for (p = t->queue; p; p = p->next)
		if (p->not_before < now + SETUP_INTERVAL_USEC)
			p->not_before = now + SETUP_INTERVAL_USEC;
	arm_timer(t);
	return 0;
}

static void vchan_members_changed(struct transport *base, const struct ck_delta *delta)
{
	struct vchan_transport *t = (struct vchan_transport *)base;

	for (size_t i = 0; i < delta->n_removed; i++)
		guest_detach_domid(base->daemon, delta->removed[i]);
	for (size_t i = 0; i < delta->n_upserts; i++)
		if (!guest_has_domid(base->daemon, delta->upserts[i].domid))
			enqueue_setup(t, delta->upserts[i].domid, 0);
}

static void vchan_conn_closed(struct transport *base, struct conn *c)
{
	struct vchan_transport *t = (struct vchan_transport *)base;
	uint16_t domid = c->domid;

	c->ops->close(c);
	/* A vchan serves one client once: a member whose agent left gets a fresh server. */
	if (is_member(t, domid))
		enqueue_setup(t, domid, SETUP_RETRY_USEC);
}

static int vchan_new(struct transport **ret, struct daemon *d)
{
	struct vchan_transport *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->base.ops = &transport_vchan_ops;
	t->base.daemon = d;
	t->logger = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
	r = sd_event_add_time(d->event, &t->timer, CLOCK_MONOTONIC, UINT64_MAX, 1000, on_timer,
			      t);
	if (r < 0 || !t->logger) {
		if (t->logger)
			xtl_logger_destroy(t->logger);
		free(t);
		return r < 0 ? r : -ENOMEM;
	}
	sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
	*ret = &t->base;
	return 0;
}

static void vchan_free(struct transport *base)
{
	struct vchan_transport *t = (struct vchan_transport *)base;

	while (t->queue) {
		struct pending *p = t->queue;

		t->queue = p->next;
		free(p);
	}
	sd_event_source_disable_unref(t->timer);
	xtl_logger_destroy(t->logger);
	free(t);
}

const struct transport_ops transport_vchan_ops = {
	.name = "vchan",
	.new = vchan_new,
	.members_changed = vchan_members_changed,
	.conn_closed = vchan_conn_closed,
	.free = vchan_free,
};
