// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Xen transport: dom0 is the libxenvchan server of one channel per member domU, at
 * /local/domain/<domid>/data/cokeeper-vchan; the guest's agent is the client.  The channel
 * itself identifies the peer, so a Hello claiming another domid is refused (guests.c).
 *
 * Setting a channel up takes several xenstore writes, and xenstored caps a domain's
 * concurrent transactions, so set-ups are serialised through one queue and paced; a failed
 * one is retried with backoff and its errno logged.  Every channel's event channel is in one
 * poll set: when many guests ack at once, one dispatch serves them all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxenvchan.h>
#include <xentoollog.h>

#include <utlist.h>

#include "clock.h"
#include "logging.h"
#include "stream-vchan.h"
#include "transport.h"

#define VCHAN_RING_BYTES 65536
#define SETUP_INTERVAL_USEC 2000	/* at most one set-up per 2 ms */
#define SETUP_RETRY_USEC 200000
#define SETUP_MAX_TRIES 20
#define DOMID_COUNT 65536

struct pending {
	struct pending *prev, *next;
	struct pending **queue;		/* the list it is in */
	uint16_t domid;
	unsigned int tries;
	uint64_t not_before;
	uint64_t seq;			/* arrival order */
};

/*
 * The set-up queue: set-ups run in order of arrival, one per SETUP_INTERVAL_USEC, each once
 * its own delay has passed, a retry before anything else.  A thousand members appearing at
 * once (the daemon's start) make it a thousand long, so no step looks at more than the
 * heads: which domids wait is a bitmap, not a search; the pacing is one time for the whole
 * queue, not a walk over it; and since a delay is either none or SETUP_RETRY_USEC from
 * arrival, the entries sit in two lists each ordered by when they are due, the first due
 * entry in order of arrival being the older of the two heads.  Only failed set-ups, each
 * with its own backoff, are kept apart and walked.
 */
struct setup_queue {
	struct pending *fresh;		/* due on arrival */
	struct pending *reopen;		/* a closed channel's: due SETUP_RETRY_USEC after arrival */
	struct pending *retries;	/* newest failure first */
	uint64_t next_setup;		/* the pacing: none before this */
	uint64_t arrivals;
	uint8_t queued[DOMID_COUNT / 8];
};

struct vchan_transport {
	struct transport base;
	const struct ck_membership *membership;
	struct transport_callbacks cb;
	void *userdata;
	xentoollog_logger *logger;
	struct poll_set *streams;	/* every guest's channel, served in one dispatch */
	struct setup_queue setup;
	sd_event_source *timer;
	/* The domids with a channel served now (connected or waiting for its agent). */
	uint8_t served[DOMID_COUNT / 8];
};

static bool bit_get(const uint8_t *map, uint16_t domid)
{
	return map[domid / 8] & (1u << (domid % 8));
}

static void bit_set(uint8_t *map, uint16_t domid, bool on)
{
	if (on)
		map[domid / 8] |= 1u << (domid % 8);
	else
		map[domid / 8] &= ~(1u << (domid % 8));
}

static bool is_served(const struct vchan_transport *t, uint16_t domid)
{
	return bit_get(t->served, domid);
}

static void set_served(struct vchan_transport *t, uint16_t domid, bool on)
{
	bit_set(t->served, domid, on);
}

static int channel_open(struct vchan_transport *t, uint16_t domid)
{
	struct libxenvchan *ctrl;
	struct ck_stream *stream;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/local/domain/%u/data/cokeeper-vchan", domid);
	errno = 0;
	ctrl = libxenvchan_server_init(t->logger, domid, path, VCHAN_RING_BYTES, VCHAN_RING_BYTES);
	if (!ctrl)
		return errno ? -errno : -EIO;
	r = stream_vchan_new_in(&stream, t->streams, ctrl, domid);
	if (r < 0) {
		libxenvchan_close(ctrl);
		return r;
	}
	r = t->cb.connected(stream, t->userdata);
	if (r < 0) {
		ck_stream_free(stream);
		return r;
	}
	set_served(t, domid, true);
	return 0;
}

/* The entry a tick sets up: the newest due retry, else the earliest arrival that is due. */
static struct pending *first_due(struct setup_queue *q, uint64_t now)
{
	struct pending *p;

	DL_FOREACH(q->retries, p)
		if (p->not_before <= now)
			return p;
	if (q->reopen && q->reopen->not_before <= now &&
	    (!q->fresh || q->reopen->seq < q->fresh->seq))
		return q->reopen;
	return q->fresh;
}

/* When the next entry is due, or UINT64_MAX if none waits. */
static uint64_t next_due(const struct setup_queue *q)
{
	uint64_t when = q->fresh ? q->fresh->not_before : UINT64_MAX;
	struct pending *p;

	if (q->reopen && q->reopen->not_before < when)
		when = q->reopen->not_before;
	DL_FOREACH(q->retries, p)
		if (p->not_before < when)
			when = p->not_before;
	return when;
}

static void arm_timer(struct vchan_transport *t)
{
	uint64_t when = next_due(&t->setup);

	if (when == UINT64_MAX) {
		sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
		return;
	}
	if (when < t->setup.next_setup)
		when = t->setup.next_setup;
	sd_event_source_set_time(t->timer, when);
	sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
}

static bool is_member(struct vchan_transport *t, uint16_t domid)
{
	return ck_memberset_find(t->membership->members, domid) != NULL;
}

/* Now, or (reopen) SETUP_RETRY_USEC from now; a domid already waiting keeps its place. */
static void enqueue_setup(struct vchan_transport *t, uint16_t domid, bool reopen)
{
	struct setup_queue *q = &t->setup;
	struct pending *p;

	if (bit_get(q->queued, domid))
		return;
	p = calloc(1, sizeof(*p));
	if (!p) {
		log_error_errno(-ENOMEM, "vchan: domid %u: cannot queue its channel", domid);
		return;
	}
	p->domid = domid;
	p->not_before = ck_now_usec() + (reopen ? SETUP_RETRY_USEC : 0);
	p->seq = q->arrivals++;
	p->queue = reopen ? &q->reopen : &q->fresh;
	DL_APPEND(*p->queue, p);
	bit_set(q->queued, domid, true);
	arm_timer(t);
}

static void dequeue(struct setup_queue *q, struct pending *p)
{
	DL_DELETE(*p->queue, p);
	bit_set(q->queued, p->domid, false);
	free(p);
}

/* One set-up per tick: the first due entry of the queue. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vchan_transport *t = userdata;
	struct setup_queue *q = &t->setup;
	uint64_t now = ck_now_usec();
	struct pending *p;
	int r;

	p = first_due(q, now);
	if (!p) {
		arm_timer(t);
		return 0;
	}
	/* Still marked queued while it is set up: a member's change meanwhile adds no twin. */
	if (!is_member(t, p->domid) || is_served(t, p->domid)) {
		dequeue(q, p);
	} else if ((r = channel_open(t, p->domid)) == 0) {
		log_debug("vchan: domid %u: channel ready", p->domid);
		dequeue(q, p);
	} else if (++p->tries >= SETUP_MAX_TRIES) {
		log_error_errno(r, "vchan: domid %u: giving up on its channel after %u tries",
				p->domid, p->tries);
		dequeue(q, p);
	} else {
		log_warning_errno(r, "vchan: domid %u: channel set-up failed (try %u), retrying",
				  p->domid, p->tries);
		p->not_before = now + SETUP_RETRY_USEC * p->tries;
		DL_DELETE(*p->queue, p);
		p->queue = &q->retries;
		DL_PREPEND(q->retries, p);
	}
	q->next_setup = now + SETUP_INTERVAL_USEC;
	arm_timer(t);
	return 0;
}

static void vchan_members_changed(struct transport *base, const struct ck_delta *delta)
{
	struct vchan_transport *t = (struct vchan_transport *)base;

	for (size_t i = 0; i < delta->n_upserts; i++)
		if (!is_served(t, delta->upserts[i].domid))
			enqueue_setup(t, delta->upserts[i].domid, false);
}

static void vchan_stream_closed(struct transport *base, struct ck_stream *s)
{
	struct vchan_transport *t = (struct vchan_transport *)base;
	uint16_t domid = s->domid;

	ck_stream_free(s);
	set_served(t, domid, false);
	/* A vchan serves one client once: a member whose agent left gets a fresh server. */
	if (is_member(t, domid))
		enqueue_setup(t, domid, true);
}

static int vchan_new(struct transport **ret, const struct transport_config *cfg,
		     const struct transport_callbacks *cb, void *userdata)
{
	struct vchan_transport *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->base.ops = &transport_vchan_ops;
	t->membership = cfg->membership;
	t->cb = *cb;
	t->userdata = userdata;
	t->logger = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
	r = sd_event_add_time(cfg->event, &t->timer, CLOCK_MONOTONIC, UINT64_MAX, 1000, on_timer,
			      t);
	if (r < 0 || !t->logger) {
		if (t->logger)
			xtl_logger_destroy(t->logger);
		free(t);
		return r < 0 ? r : -ENOMEM;
	}
	sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
	r = poll_set_new(&t->streams, cfg->event);
	if (r < 0) {
		sd_event_source_disable_unref(t->timer);
		xtl_logger_destroy(t->logger);
		free(t);
		return r;
	}
	*ret = &t->base;
	return 0;
}

static void vchan_free(struct transport *base)
{
	struct vchan_transport *t = (struct vchan_transport *)base;
	struct pending **lists[] = { &t->setup.fresh, &t->setup.reopen, &t->setup.retries };
	struct pending *p, *tmp;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		DL_FOREACH_SAFE(*lists[i], p, tmp)
			free(p);
	/* The guests handed every stream back before this (daemon.c). */
	poll_set_free(t->streams);
	sd_event_source_disable_unref(t->timer);
	xtl_logger_destroy(t->logger);
	free(t);
}

const struct transport_ops transport_vchan_ops = {
	.name = "vchan",
	.new = vchan_new,
	.members_changed = vchan_members_changed,
	.stream_closed = vchan_stream_closed,
	.free = vchan_free,
};
