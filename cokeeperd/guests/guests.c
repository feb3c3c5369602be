// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <utlist.h>

#include "guests.h"
#include "hash.h"
#include "logging.h"
#include "memory-return.h"
#include "ratelimit.h"

/*
 * One wake-up reads at most this much of one guest, then the loop serves the others and the
 * control socket; the frame count is checked between reads.  A Hello is 15 bytes: 64 KiB of
 * them would be four thousand answers' worth of work without the frame bound.
 */
#define SLICE_BYTES (64u * 1024)
#define SLICE_FRAMES 1024u
#define READ_CHUNK (16u * 1024)

/* What peers can make us log, per connection event. */
#define CONNECTIONS_RATELIMIT CK_RATELIMIT_INIT(5 * 1000000ull, 10)

struct guest {
	struct guest_session session;
	struct guests *gs;
	struct guest *prev, *next;
	bool indexed;			/* in gs->by_domid under session.domid */
	UT_hash_handle hh;
	sd_event_source *hello_timer;	/* until its first valid Hello */
	sd_event_source *resume;	/* reads on after a slice that may have left input */
	bool resuming;			/* resume is armed (a thousand Acks need not disarm it) */
};

struct guests {
	sd_event *event;
	struct guests_config cfg;
	struct guests_callbacks cb;
	void *userdata;
	struct guest_session_callbacks session_cb;
	struct view_filter view;
	struct guest_session_env env;
	struct fanout fanout;
	struct guest *list;
	struct guest *by_domid;		/* the newest ACTIVE session of each domid */
	unsigned int count;		/* sessions in the list, the refused ones not counted */
	struct ck_ratelimit rl;		/* what connecting and disconnecting make us log */
	struct guests_counters counters;
};

static struct guest *guest_of(struct guest_session *s)
{
	return (struct guest *)((char *)s - offsetof(struct guest, session));
}

/*
 * By the element, not by its key: the session's domid is the key, and a Hello that changes it
 * has changed it before the index hears of it (a lookup by the old domid no longer finds it).
 */
static void index_drop(struct guest *g)
{
	if (!g->indexed)
		return;
	HASH_DELETE(hh, g->gs->by_domid, g);
	g->indexed = false;
}

/*
 * The newest session to say Hello for a domid is the one its peers' messages go to (the
 * fast path's relay looks its destination up for every message).  Out of memory, its Hello
 * fails: a session nobody can find would look alive and be unreachable.
 */
static int index_put(struct guest *g)
{
	struct guest *old = NULL;
	int r;

	if (g->indexed)
		return 0;	/* under this domid already: index_drop ran if it changed */
	r = CK_HASH_REPLACE(hh, g->gs->by_domid, session.domid, sizeof(g->session.domid), g,
			    old);
	if (r < 0)
		return r;
	if (old)
		old->indexed = false;
	g->indexed = true;
	return 0;
}

static struct guest *find(const struct guests *gs, uint16_t domid)
{
	struct guest *g;

	HASH_FIND(hh, gs->by_domid, &domid, sizeof(domid), g);
	return g && g->session.state == SESSION_ACTIVE ? g : NULL;
}

static void guest_free(struct guest *g)
{
	struct guests *gs = g->gs;
	struct ck_stream *stream = g->session.stream;
	size_t queued = ck_stream_queued(stream);

	index_drop(g);
	DL_DELETE(gs->list, g);
	if (g->session.state != SESSION_REFUSED)
		gs->count--;
	sd_event_source_disable_unref(g->hello_timer);
	sd_event_source_disable_unref(g->resume);
	guest_session_release(&g->session);
	gs->cb.closed(stream, stream->domid, gs->userdata);
	free(g);
	/* Its queue went with the stream: what it held comes back. */
	ck_memory_freed(queued);
}

/* Ends g's session for why (SESSION_GO_ON: the member left, or the daemon stops). */
static void end_session(struct guest *g, enum guest_session_end why)
{
	struct guest_session *s = &g->session;
	struct ck_ratelimit *rl = &g->gs->rl;

	switch (why) {
	case SESSION_PEER_CLOSED:
		ck_log_limited(rl, LOG_INFO, 0, "%s: domid %u disconnected", s->stream->label,
			    s->domid);
		break;
	case SESSION_PEER_FAULT:
		g->gs->counters.rejected++;
		ck_log_limited(rl, LOG_WARNING, s->error, "%s: domid %u: disconnecting: %s",
			    s->stream->label, s->domid, s->fault);
		guest_session_bye(s, CK_BYE_PROTOCOL_ERROR, s->fault);
		break;
	case SESSION_WRITE_FAILED:
		ck_log_limited(rl, LOG_WARNING, s->error, "%s: domid %u: cannot write to it",
			    s->stream->label, s->domid);
		break;
	case SESSION_LOCAL_FAILURE:
		log_error_errno(s->error, "%s: domid %u: cannot answer it; ending its session",
				s->stream->label, s->domid);
		break;
	case SESSION_GO_ON:
		break;
	}
	guest_free(g);
}

/* Ends g's session if why says so; true if it goes on. */
static bool goes_on(struct guest *g, enum guest_session_end why)
{
	if (why == SESSION_GO_ON)
		return true;
	end_session(g, why);
	return false;
}

static int on_hello(struct guest_session *s, uint16_t old_domid, void *userdata)
{
	struct guest *g = guest_of(s);

	if (old_domid != s->domid)
		index_drop(g);
	g->hello_timer = sd_event_source_disable_unref(g->hello_timer);
	return index_put(g);
}

static uint32_t on_acked(const struct guest_ack *ack, void *userdata)
{
	struct guests *gs = guest_of(userdata)->gs;

	return gs->cb.acked(ack, gs->userdata);
}

static int on_fastpath(struct guest_fastpath *fp, void *userdata)
{
	struct guests *gs = guest_of(userdata)->gs;

	return gs->cb.fastpath(fp, gs->userdata);
}

static bool sees_everyone(uint16_t viewer, const struct ck_member *m, void *userdata)
{
	return true;
}

static int on_hello_deadline(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct guest *g = userdata;

	g->gs->counters.hello_timeouts++;
	g->session.error = -ETIMEDOUT;
	snprintf(g->session.fault, sizeof(g->session.fault), "no Hello in time");
	end_session(g, SESSION_PEER_FAULT);
	return 0;
}

/*
 * The deadline runs from the peer's attach, not from the channel's creation: a vchan is
 * served as soon as its domain is a member, and a guest under load may start its agent many
 * seconds later.  Ending such a channel would only churn it, and the agent could attach to
 * the one being torn down (CI lab run 20261130-091410-24579: pv1's agent hung on a dead ring).
 */
static int arm_hello_deadline(struct guest *g)
{
	if (g->hello_timer || !ck_stream_peer_attached(g->session.stream))
		return 0;
	return sd_event_add_time_relative(g->gs->event, &g->hello_timer, CLOCK_MONOTONIC,
					  g->gs->cfg.hello_timeout_usec, 0, on_hello_deadline, g);
}

/* Reads one slice of what the guest sent; false if that ended its session. */
static bool read_slice(struct guest *g)
{
	struct ck_stream *s = g->session.stream;
	uint8_t buf[READ_CHUNK];
	size_t budget = SLICE_BYTES;

	g->session.frames = 0;
	while (budget > 0 && g->session.frames < SLICE_FRAMES) {
		size_t want = budget < sizeof(buf) ? budget : sizeof(buf);
		ssize_t n = ck_stream_read(s, buf, want);

		if (n == -EAGAIN)
			break;
		if (n == 0 || n == -ECONNRESET)
			return goes_on(g, SESSION_PEER_CLOSED);
		if (n < 0) {
			g->session.error = (int)n;
			return goes_on(g, SESSION_WRITE_FAILED);
		}
		budget -= n;
		if (!goes_on(g, guest_session_feed(&g->session, buf, n)))
			return false;
		/* Read to the end: an edge-triggered socket wakes us again for more. */
		if (s->short_read_drains && (size_t)n < want)
			break;
	}
	/*
	 * The slice ended with input perhaps left: a vchan's event channel will not fire for
	 * it again, so the loop comes back here itself, after the others have had their turn.
	 */
	if (budget == 0 || g->session.frames >= SLICE_FRAMES)
		g->resuming = sd_event_source_set_enabled(g->resume, SD_EVENT_ONESHOT) >= 0;
	return true;
}

static void on_io(struct ck_stream *s, void *userdata)
{
	struct guest *g = userdata;

	if (g->session.state == SESSION_REFUSED) {
		(void)ck_stream_flush(s);	/* its Bye; input is left unread */
		return;
	}
	if (g->session.state == SESSION_AWAIT_HELLO) {
		int r = arm_hello_deadline(g);

		if (r < 0) {
			g->session.error = r;
			end_session(g, SESSION_LOCAL_FAILURE);
			return;
		}
	}
	if (g->resuming) {
		sd_event_source_set_enabled(g->resume, SD_EVENT_OFF);
		g->resuming = false;
	}
	/* An Ack leaves nothing to write: most wake-ups end here. */
	if (read_slice(g) && (ck_stream_queued(s) > 0 || g->session.resync != RESYNC_NONE))
		(void)goes_on(g, guest_session_flush(&g->session));
}

static int on_resume(sd_event_source *es, void *userdata)
{
	struct guest *g = userdata;

	g->resuming = false;	/* a oneshot source disarms itself */
	if (g->session.state == SESSION_REFUSED)
		end_session(g, SESSION_GO_ON);
	else
		on_io(g->session.stream, g);
	return 0;
}

int guests_new(struct guests **ret, sd_event *event, const struct ck_membership *m,
	       const struct guests_config *cfg, const struct guests_callbacks *cb,
	       void *userdata)
{
	struct guests *gs = calloc(1, sizeof(*gs));

	if (!gs)
		return -ENOMEM;
	gs->event = event;
	gs->cfg = *cfg;
	if (!gs->cfg.max_guests)
		gs->cfg.max_guests = GUESTS_MAX_DEFAULT;
	if (!gs->cfg.hello_timeout_usec)
		gs->cfg.hello_timeout_usec = GUESTS_HELLO_TIMEOUT_DEFAULT_USEC;
	gs->cb = *cb;
	gs->userdata = userdata;
	gs->rl = (struct ck_ratelimit)CONNECTIONS_RATELIMIT;
	gs->session_cb = (struct guest_session_callbacks){
		.hello = on_hello, .acked = on_acked, .fastpath = on_fastpath,
	};
	gs->view = (struct view_filter){ .sees = cb->sees ?: sees_everyone, .userdata = userdata };
	gs->env = (struct guest_session_env){
		.m = m,
		.fanout = &gs->fanout,
		.counters = &gs->counters.session,
		.cb = &gs->session_cb,
		.view = &gs->view,
		.queue_limit = cfg->queue_limit,
	};
	*ret = gs;
	return 0;
}

void guests_free(struct guests *gs)
{
	if (!gs)
		return;
	while (gs->list) {
		guest_session_bye(&gs->list->session, CK_BYE_SHUTDOWN, "cokeeperd is stopping");
		end_session(gs->list, SESSION_GO_ON);
	}
	fanout_release(&gs->fanout);
	free(gs);
}

/* Over the limit: a Bye that says why, and the session ends on the next loop iteration. */
static int refuse(struct guest *g)
{
	struct guests *gs = g->gs;

	g->session.state = SESSION_REFUSED;
	gs->counters.refused++;
	ck_log_limited(&gs->rl, LOG_WARNING, 0, "%s: refused: %u guests connected already (the limit)",
		    g->session.stream->label, gs->count);
	guest_session_bye(&g->session, CK_BYE_OVERLOAD, "too many guests on this host");
	g->resuming = true;
	return sd_event_source_set_enabled(g->resume, SD_EVENT_ONESHOT);
}

/*
 * The resume source sits below every descriptor: at the same priority sd-event dispatches a
 * defer source that re-arms itself on every iteration before any I/O, so a guest that keeps
 * its channel full would starve the control socket and the other guests (seen on real Xen).
 */
static int add_resume(struct guest *g)
{
	int r = sd_event_add_defer(g->gs->event, &g->resume, on_resume, g);

	if (r < 0)
		return r;
	r = sd_event_source_set_priority(g->resume, SD_EVENT_PRIORITY_IDLE);
	return r < 0 ? r : sd_event_source_set_enabled(g->resume, SD_EVENT_OFF);
}

int guests_attach(struct guests *gs, struct ck_stream *s)
{
	struct guest *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->gs = gs;
	r = guest_session_init(&g->session, &gs->env, s, &g->session);
	if (r < 0)
		goto err;
	r = add_resume(g);
	if (r < 0)
		goto err;
	if (gs->count >= gs->cfg.max_guests) {
		r = refuse(g);
		if (r < 0)
			goto err;
	} else {
		r = arm_hello_deadline(g);
		if (r < 0)
			goto err;
		gs->count++;
		gs->counters.connected++;
	}
	ck_stream_set_handler(s, on_io, g);
	DL_PREPEND(gs->list, g);
	return 0;
err:
	sd_event_source_disable_unref(g->hello_timer);
	sd_event_source_disable_unref(g->resume);
	guest_session_release(&g->session);
	free(g);
	return r;
}

void guests_detach_domid(struct guests *gs, uint16_t domid)
{
	struct guest *g, *tmp;

	DL_FOREACH_SAFE(gs->list, g, tmp)
		if (g->session.stream->domid == domid)
			end_session(g, SESSION_GO_ON);
}

void guests_broadcast(struct guests *gs, const struct ck_delta *delta)
{
	struct guest *g, *tmp;

	DL_FOREACH_SAFE(gs->list, g, tmp)
		(void)goes_on(g, guest_session_change(&g->session, delta));
}

void guests_views_changed(struct guests *gs)
{
	struct guest *g, *tmp;

	DL_FOREACH_SAFE(gs->list, g, tmp)
		(void)goes_on(g, guest_session_view_changed(&g->session));
}

int guests_fastpath_version(const struct guests *gs, uint16_t domid, uint32_t *version)
{
	struct guest *g = find(gs, domid);

	if (!g)
		return -ENOENT;
	*version = g->session.fastpath_version;
	return 0;
}

int guests_send(struct guests *gs, uint16_t domid, const struct ck_msg *msg)
{
	struct guest *g = find(gs, domid);
	bool queued = false;

	if (!g)
		return -ENOENT;
	if (!goes_on(g, guest_session_send(&g->session, msg, &queued)))
		return -ECONNRESET;
	return queued ? 0 : -ENOBUFS;
}

unsigned int guests_count(const struct guests *gs)
{
	return gs->count;
}

const struct guests_counters *guests_counters(const struct guests *gs)
{
	return &gs->counters;
}

void guests_foreach(const struct guests *gs, void (*fn)(const struct guest_session *s, void *userdata),
		    void *userdata)
{
	struct guest *g;

	DL_FOREACH(gs->list, g)
		if (g->session.state != SESSION_REFUSED)
			fn(&g->session, userdata);
}
