// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utlist.h>
/*
 * The index of sessions by domid (the fast path's relay looks its destination up for every
 * message).  Out of memory growing it, a session is just not indexed: its peers' set-up
 * messages are answered "unreachable", as for a guest with no session.
 */
#define uthash_nonfatal_oom(elt) ((void)(elt))
#include <uthash.h>

#include "chunk.h"
#include "clock.h"
#include "frame.h"
#include "guests.h"
#include "logging.h"
#include "ratelimit.h"

/*
 * One wake-up reads at most this much of one guest, then the loop serves the others and the
 * control socket; the frame count is checked between reads.  A Hello is 15 bytes: 64 KiB of
 * them would be four thousand answers' worth of work without the frame bound.
 */
#define SLICE_BYTES (64u * 1024)
#define SLICE_FRAMES 1024u
#define READ_CHUNK (16u * 1024)

/* What peers can make us log: per connection event, and per session. */
#define CONNECTIONS_RATELIMIT CK_RATELIMIT_INIT(5 * 1000000ull, 10)
#define SESSION_RATELIMIT CK_RATELIMIT_INIT(10 * 1000000ull, 3)

enum guest_state {
	GUEST_AWAIT_HELLO,
	GUEST_ACTIVE,
	GUEST_REFUSED,		/* over max_guests: said Bye, ends on the next loop iteration */
};

/*
 * A guest whose channel did not take all it was sent by the time the next change comes is
 * lagging: from then on it is sent no change by itself, and once its queue drains it gets
 * what it missed as one delta (or a snapshot, if that is smaller).  An agent stopped for
 * thousands of changes so finds one message behind what its channel holds, not thousands.
 */
#define LAG_QUEUED_BYTES 0u

/* What a guest is owed once its queue drains; a stronger one absorbs a weaker. */
enum resync {
	RESYNC_NONE,
	RESYNC_CATCHUP,		/* it lags: the changes since what it was sent, merged */
	RESYNC_HELLO,		/* answer its latest Hello: the changes since, or a snapshot */
	RESYNC_SNAPSHOT,	/* its queue overflowed: only a snapshot will do */
};

struct guest {
	struct guest *prev, *next;
	struct guests *gs;
	struct ck_stream *stream;
	struct ck_frame_decoder *dec;
	enum guest_state state;
	uint16_t domid;
	bool indexed;			/* in gs->by_domid under domid */
	UT_hash_handle hh;
	uint32_t fastpath_version;	/* its latest Hello's: 0, it takes no Fastpath* */
	uint64_t acked_epoch, acked_gen;
	uint64_t sent_epoch, sent_gen;	/* where what it was queued leaves it */
	uint64_t measured_from;	/* convergence counts changes after this gen only */
	uint64_t connected_usec;
	uint64_t acks;		/* Acks of a new generation */
	uint64_t latency_sum_usec;	/* of the acks that measured a change */
	uint64_t measured_acks;
	uint32_t last_latency_usec, max_latency_usec;
	enum resync resync;
	uint64_t resync_epoch, resync_gen;	/* RESYNC_HELLO: where its latest Hello was */
	unsigned int slice_frames;	/* frames handled in this wake-up */
	sd_event_source *hello_timer;	/* until its first valid Hello */
	sd_event_source *resume;	/* reads on after a slice that may have left input */
	struct ck_ratelimit rl;		/* what its session makes us log */
	struct ck_ratelimit fastpath_limit;	/* the set-up messages it may have relayed */
	int local_error;	/* our own failure while answering it: not the guest's fault */
	char fault[64];		/* what it did wrong, for the log and its Bye */
	bool bye_sent;
};

struct guests {
	sd_event *event;
	const struct ck_membership *m;
	struct convergence *conv;
	struct guests_config cfg;
	struct guests_callbacks cb;
	void *userdata;
	struct guest *list;
	struct guest *by_domid;		/* the newest ACTIVE session of each domid */
	/* Encoded once, sent to every guest that needs the same bytes. */
	struct ck_frames snapshot;	/* of (snapshot_epoch, snapshot_gen), if n > 0 */
	uint64_t snapshot_epoch, snapshot_gen;
	struct ck_frames merged;	/* the changes from merged_base to merged_gen, if n > 0 */
	uint64_t merged_epoch, merged_base, merged_gen;
	size_t merged_changes;
	unsigned int count;		/* sessions in the list, the refused ones not counted */
	struct ck_ratelimit rl;		/* what connecting and disconnecting make us log */
	struct guests_counters counters;
	struct fastpath_relay relay;
};

/* Why a session ends: decides the log level, the Bye and whether the guest is blamed. */
enum end_cause {
	END_PEER_CLOSED,	/* end of stream, or the agent's own Bye */
	END_PEER_FAULT,		/* what it sent: undecodable, unverifiable, out of protocol */
	END_WRITE_FAILED,	/* the channel broke under us */
	END_LOCAL_FAILURE,	/* the daemon's own failure (memory, encoding) */
	END_GONE,		/* the member left, or the daemon stops */
};

static const char *label(const struct guest *g)
{
	return g->stream->label;
}

static void index_drop(struct guest *g)
{
	struct guest *cur;

	if (!g->indexed)
		return;
	HASH_FIND(hh, g->gs->by_domid, &g->domid, sizeof(g->domid), cur);
	if (cur == g)
		HASH_DEL(g->gs->by_domid, g);
	g->indexed = false;
}

/* The newest session to say Hello for a domid is the one its peers' messages go to. */
static void index_put(struct guest *g)
{
	struct guest *old = NULL;

	HASH_REPLACE(hh, g->gs->by_domid, domid, sizeof(g->domid), g, old);
	if (old && old != g)
		old->indexed = false;
	HASH_FIND(hh, g->gs->by_domid, &g->domid, sizeof(g->domid), old);
	g->indexed = old == g;
}

static void guest_free(struct guest *g)
{
	struct guests *gs = g->gs;

	index_drop(g);
	DL_DELETE(gs->list, g);
	if (g->state != GUEST_REFUSED)
		gs->count--;
	sd_event_source_disable_unref(g->hello_timer);
	sd_event_source_disable_unref(g->resume);
	ck_frame_decoder_free(g->dec);
	gs->cb.closed(g->stream, g->stream->domid, gs->userdata);
	free(g);
}

static int enqueue(struct ck_msg *msg, void *userdata)
{
	struct guest *g = userdata;
	uint8_t *buf;
	size_t len;
	int r;

	r = ck_frame_encode(msg, &buf, &len);
	if (r == 0) {
		r = ck_stream_queue(g->stream, buf, len);
		free(buf);
	}
	if (r < 0)
		g->local_error = r;
	return r;
}

static int queue_frames(struct guest *g, const struct ck_frames *f)
{
	for (size_t i = 0; i < f->n; i++) {
		size_t len;
		const uint8_t *frame = ck_frames_at(f, i, &len);
		int r = ck_stream_queue(g->stream, frame, len);

		if (r < 0) {
			g->local_error = r;
			return r;
		}
	}
	return 0;
}

static int send_snapshot(struct guest *g)
{
	struct guests *gs = g->gs;
	const struct ck_membership *m = gs->m;
	int r;

	if (gs->snapshot.n == 0 || gs->snapshot_epoch != m->epoch || gs->snapshot_gen != m->gen) {
		r = ck_chunk_encode_snapshot(m, CK_FASTPATH_VERSION, &gs->snapshot);
		if (r < 0) {
			g->local_error = r;
			return r;
		}
		gs->snapshot_epoch = m->epoch;
		gs->snapshot_gen = m->gen;
	}
	r = queue_frames(g, &gs->snapshot);
	if (r < 0)
		return r;
	gs->counters.snapshots_sent++;
	g->sent_epoch = m->epoch;
	g->sent_gen = m->gen;
	return 0;
}

/* Queues a delta encoded by the caller: the same frames for every guest. */
static int send_frames(struct guest *g, const struct ck_frames *f, uint64_t epoch, uint64_t gen)
{
	int r = queue_frames(g, f);

	if (r < 0)
		return r;
	g->gs->counters.deltas_sent++;
	g->sent_epoch = epoch;
	g->sent_gen = gen;
	return 0;
}

static void send_bye(struct guest *g, enum ck_bye_code code, const char *reason)
{
	struct ck_msg bye = { .type = CK_MSG_BYE, .bye = { .code = code } };

	if (g->bye_sent)
		return;
	g->bye_sent = true;
	snprintf(bye.bye.reason, sizeof(bye.bye.reason), "%s", reason);
	if (enqueue(&bye, g) == 0)
		(void)ck_stream_flush(g->stream);
}

static void end_session(struct guest *g, enum end_cause cause, int r, const char *why)
{
	struct ck_ratelimit *rl = &g->gs->rl;

	switch (cause) {
	case END_PEER_CLOSED:
		ck_log_limited(rl, LOG_INFO, 0, "%s: domid %u disconnected", label(g), g->domid);
		break;
	case END_PEER_FAULT:
		g->gs->counters.rejected++;
		ck_log_limited(rl, LOG_WARNING, r, "%s: domid %u: disconnecting: %s", label(g),
			    g->domid, why);
		send_bye(g, CK_BYE_PROTOCOL_ERROR, why);
		break;
	case END_WRITE_FAILED:
		ck_log_limited(rl, LOG_WARNING, r, "%s: domid %u: cannot write to it", label(g),
			    g->domid);
		break;
	case END_LOCAL_FAILURE:
		log_error_errno(r, "%s: domid %u: %s; ending its session", label(g), g->domid, why);
		break;
	case END_GONE:
		break;
	}
	guest_free(g);
}

/*
 * The changes since (epoch, gen) as one delta, encoded once for every guest that is at the
 * same place: -ESTALE when the log does not reach back there, -E2BIG when the delta would
 * carry more members than a snapshot.  *changes: how many it holds.
 */
static int merged_since(struct guests *gs, uint64_t epoch, uint64_t gen, size_t *changes)
{
	const struct ck_membership *m = gs->m;
	struct ck_delta delta;
	int r;

	if (gs->merged.n > 0 && gs->merged_epoch == m->epoch && epoch == m->epoch &&
	    gs->merged_base == gen && gs->merged_gen == m->gen) {
		*changes = gs->merged_changes;
		return 0;
	}
	r = ck_membership_delta_since(m, epoch, gen, &delta);
	if (r < 0)
		return r;
	*changes = ck_delta_changes(&delta);
	if (*changes > ck_memberset_count(m->members)) {
		ck_delta_reset(&delta);
		return -E2BIG;
	}
	r = ck_chunk_encode_delta(&delta, CK_FASTPATH_VERSION, &gs->merged);
	ck_delta_reset(&delta);
	if (r < 0)
		return r;
	gs->merged_epoch = m->epoch;
	gs->merged_base = gen;
	gs->merged_gen = m->gen;
	gs->merged_changes = *changes;
	return 0;
}

/*
 * Answers what the guest is owed, only once its queue has drained: however many Hellos it
 * sent meanwhile and however many changes it missed, this is one answer, and the queue never
 * holds more than its limit and one snapshot.
 */
static int resync(struct guest *g)
{
	struct guests *gs = g->gs;
	const struct ck_membership *m = gs->m;
	enum resync what = g->resync;
	size_t changes = 0;
	int r = -ESTALE;

	g->resync = RESYNC_NONE;
	if (what == RESYNC_HELLO) {
		/*
		 * A guest that (re)joins catches up on changes made before it was there; those
		 * acks measure its boot, not propagation, so convergence starts from here.
		 */
		g->measured_from = m->gen;
		r = merged_since(gs, g->resync_epoch, g->resync_gen, &changes);
	} else if (what == RESYNC_CATCHUP) {
		r = merged_since(gs, g->sent_epoch, g->sent_gen, &changes);
	}
	if (r == 0) {
		if (what == RESYNC_HELLO) {
			/* Everything up to its generation it holds already: nothing to measure. */
			g->acked_epoch = m->epoch;
			g->acked_gen = g->resync_gen;
			ck_log_limited(&g->rl, LOG_INFO, 0,
				    "%s: domid %u resumes at gen %" PRIu64 ", %zu changes behind",
				    label(g), g->domid, g->resync_gen, changes);
		} else {
			gs->counters.catchups_sent++;
			log_debug("%s: domid %u catches up from gen %" PRIu64 ": %zu changes in one",
				  label(g), g->domid, g->sent_gen, changes);
		}
		return send_frames(g, &gs->merged, m->epoch, m->gen);
	}
	if (r != -ESTALE && r != -E2BIG) {
		g->local_error = r;
		return r;
	}
	if (what == RESYNC_HELLO)
		ck_log_limited(&g->rl, LOG_INFO, 0,
			    "%s: domid %u joins (had epoch %" PRIx64 " gen %" PRIu64
			    "), sending a snapshot of gen %" PRIu64, label(g), g->domid,
			    g->resync_epoch, g->resync_gen, m->gen);
	else if (what == RESYNC_CATCHUP)
		log_debug("%s: domid %u catches up from gen %" PRIu64 " with a snapshot", label(g),
			  g->domid, g->sent_gen);
	else
		ck_log_limited(&g->rl, LOG_INFO, 0,
			    "%s: domid %u drained its queue, resyncing it with a snapshot",
			    label(g), g->domid);
	return send_snapshot(g);
}

static int on_hello(struct guest *g, const struct ck_hello *hello)
{
	if (hello->version != CK_PROTOCOL_VERSION) {
		snprintf(g->fault, sizeof(g->fault), "protocol version %u", hello->version);
		send_bye(g, CK_BYE_VERSION, "protocol version mismatch");
		return -EPROTONOSUPPORT;
	}
	/* Over vchan the channel itself says who the peer is; its claim must agree. */
	if (g->stream->domid != CK_STREAM_DOMID_ANY && hello->domid != g->stream->domid) {
		snprintf(g->fault, sizeof(g->fault), "domid %u does not match the channel",
			 hello->domid);
		return -EPERM;
	}
	if (g->domid != hello->domid)
		index_drop(g);
	g->domid = hello->domid;
	g->fastpath_version = hello->fastpath_version;
	if (g->state == GUEST_AWAIT_HELLO) {
		g->state = GUEST_ACTIVE;
		g->hello_timer = sd_event_source_disable_unref(g->hello_timer);
	}
	if (g->state == GUEST_ACTIVE)
		index_put(g);
	/* Answered once its queue drains (on_io); until then the latest Hello is what counts. */
	if (g->resync >= RESYNC_HELLO)
		g->gs->counters.hellos_coalesced++;
	if (g->resync == RESYNC_SNAPSHOT)
		return 0;
	g->resync = RESYNC_HELLO;
	g->resync_epoch = hello->epoch;
	g->resync_gen = hello->gen;
	return 0;
}

static int on_ack(struct guest *g, const struct ck_ack *ack)
{
	const struct ck_membership *m = g->gs->m;
	struct guest_ack event;
	uint32_t latency;
	uint64_t from;

	if (ack->epoch != m->epoch)
		return 0;	/* an ack of a previous epoch's message, still in flight */
	if (ack->gen > m->gen) {
		snprintf(g->fault, sizeof(g->fault), "ack of gen %" PRIu64 " from the future",
			 ack->gen);
		return -EPROTO;
	}
	if (g->acked_epoch == m->epoch && ack->gen <= g->acked_gen)
		return 0;
	from = g->acked_epoch == m->epoch ? g->acked_gen : 0;
	latency = convergence_ack(g->gs->conv,
				  from > g->measured_from ? from : g->measured_from, ack->gen,
				  ck_now_usec());
	g->acks++;
	if (latency) {
		g->last_latency_usec = latency;
		if (latency > g->max_latency_usec)
			g->max_latency_usec = latency;
		g->latency_sum_usec += latency;
		g->measured_acks++;
	}
	g->acked_epoch = ack->epoch;
	g->acked_gen = ack->gen;
	log_debug("%s: gen %" PRIu64 " acked at %" PRIu64 " us, %" PRIu32 " us after noticed",
		  label(g), ack->gen, ck_now_usec(), latency);
	event = (struct guest_ack){
		.channel = label(g), .domid = g->domid, .gen = ack->gen, .latency_usec = latency,
	};
	g->gs->cb.acked(&event, g->gs->userdata);
	return 0;
}

static bool flush(struct guest *g);

/* The newest session that speaks for domid and may be sent to. */
static void *find_session(uint16_t domid, uint32_t *fastpath_version, void *userdata)
{
	struct guests *gs = userdata;
	struct guest *g;

	HASH_FIND(hh, gs->by_domid, &domid, sizeof(domid), g);
	if (!g || g->state != GUEST_ACTIVE)
		return NULL;
	*fastpath_version = g->fastpath_version;
	return g;
}

static int on_fastpath(struct guest *g, struct ck_msg *msg)
{
	const char *fault;
	struct guest *to;
	int r;

	r = fastpath_relay_route(&g->gs->relay, &g->fastpath_limit, g->domid, msg, ck_now_usec(),
				 (void **)&to, &fault);
	switch (r) {
	case FASTPATH_FORWARD:
		/* As a delta that cannot be queued: the destination's session ends, not ours. */
		if (enqueue(msg, to) < 0)
			end_session(to, END_LOCAL_FAILURE, to->local_error,
				    "cannot queue a fast path message");
		else
			(void)flush(to);
		return 0;
	case FASTPATH_ANSWER:
		return enqueue(msg, g);
	case FASTPATH_DROP:
		return 0;
	default:
		snprintf(g->fault, sizeof(g->fault), "%s", fault);
		return r;
	}
}

static int on_msg(struct ck_msg *msg, void *userdata)
{
	struct guest *g = userdata;

	g->slice_frames++;
	switch (msg->type) {
	case CK_MSG_HELLO:
		/* A second Hello is an agent asking for a resync from the generation it names. */
		return on_hello(g, &msg->hello);
	case CK_MSG_ACK:
		if (g->state != GUEST_ACTIVE)
			break;
		return on_ack(g, &msg->ack);
	case CK_MSG_FASTPATH_OFFER:
	case CK_MSG_FASTPATH_ACCEPT:
	case CK_MSG_FASTPATH_CLOSE:
		if (g->state != GUEST_ACTIVE)
			break;
		return on_fastpath(g, msg);
	case CK_MSG_BYE:
		ck_log_limited(&g->gs->rl, LOG_INFO, 0, "%s: domid %u said bye: %s", label(g),
			    g->domid, msg->bye.reason);
		return -ECONNRESET;
	default:
		break;
	}
	snprintf(g->fault, sizeof(g->fault), "unexpected %s", ck_msg_type_name(msg->type));
	return -EPROTO;
}

/*
 * Writes what the guest takes, and answers what it is owed once nothing waits.  False if
 * that ended its session (g is gone).
 */
static bool flush(struct guest *g)
{
	int r = ck_stream_flush(g->stream);

	if (r == 0 && g->resync != RESYNC_NONE && ck_stream_queued(g->stream) == 0) {
		r = resync(g);
		if (r < 0) {
			end_session(g, END_LOCAL_FAILURE, r, "cannot queue its resync");
			return false;
		}
		r = ck_stream_flush(g->stream);
	}
	if (r < 0) {
		end_session(g, END_WRITE_FAILED, r, NULL);
		return false;
	}
	return true;
}

static int on_hello_deadline(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct guest *g = userdata;

	g->gs->counters.hello_timeouts++;
	end_session(g, END_PEER_FAULT, -ETIMEDOUT, "no Hello in time");
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
	if (g->hello_timer || !ck_stream_peer_attached(g->stream))
		return 0;
	return sd_event_add_time_relative(g->gs->event, &g->hello_timer, CLOCK_MONOTONIC,
					  g->gs->cfg.hello_timeout_usec, 0, on_hello_deadline, g);
}

static void on_io(struct ck_stream *s, void *userdata)
{
	struct guest *g = userdata;
	uint8_t buf[READ_CHUNK];
	struct ck_error err = { "" };
	size_t budget = SLICE_BYTES;
	int r;

	if (g->state == GUEST_REFUSED) {
		(void)ck_stream_flush(s);	/* its Bye; input is left unread */
		return;
	}
	if (g->state == GUEST_AWAIT_HELLO) {
		r = arm_hello_deadline(g);
		if (r < 0) {
			end_session(g, END_LOCAL_FAILURE, r, "cannot time its Hello");
			return;
		}
	}
	sd_event_source_set_enabled(g->resume, SD_EVENT_OFF);
	g->slice_frames = 0;
	while (budget > 0 && g->slice_frames < SLICE_FRAMES) {
		size_t want = budget < sizeof(buf) ? budget : sizeof(buf);
		ssize_t n = ck_stream_read(s, buf, want);

		if (n == -EAGAIN)
			break;
		if (n == 0 || n == -ECONNRESET) {
			end_session(g, END_PEER_CLOSED, 0, NULL);
			return;
		}
		if (n < 0) {
			end_session(g, END_WRITE_FAILED, (int)n, NULL);
			return;
		}
		budget -= n;
		g->local_error = 0;
		r = ck_frame_decoder_feed(g->dec, buf, n, on_msg, g, &err);
		if (r == -ECONNRESET) {
			end_session(g, END_PEER_CLOSED, r, NULL);
			return;
		}
		if (r < 0 && r == g->local_error) {
			end_session(g, END_LOCAL_FAILURE, r, "cannot answer it");
			return;
		}
		if (r < 0) {
			end_session(g, END_PEER_FAULT, r,
				    g->fault[0] ? g->fault : err.msg[0] ? err.msg : "protocol error");
			return;
		}
		/* Read to the end: an edge-triggered socket wakes us again for more. */
		if (s->short_read_drains && (size_t)n < want)
			break;
	}
	/*
	 * The slice ended with input perhaps left: a vchan's event channel will not fire for
	 * it again, so the loop comes back here itself, after the others have had their turn.
	 */
	if (budget == 0 || g->slice_frames >= SLICE_FRAMES)
		sd_event_source_set_enabled(g->resume, SD_EVENT_ONESHOT);
	(void)flush(g);
}

static int on_resume(sd_event_source *es, void *userdata)
{
	struct guest *g = userdata;

	if (g->state == GUEST_REFUSED)
		end_session(g, END_GONE, 0, NULL);
	else
		on_io(g->stream, g);
	return 0;
}

int guests_new(struct guests **ret, sd_event *event, const struct ck_membership *m,
	       struct convergence *conv, const struct guests_config *cfg,
	       const struct guests_callbacks *cb, void *userdata)
{
	struct guests *gs = calloc(1, sizeof(*gs));

	if (!gs)
		return -ENOMEM;
	gs->event = event;
	gs->m = m;
	gs->conv = conv;
	gs->cfg = *cfg;
	if (!gs->cfg.max_guests)
		gs->cfg.max_guests = GUESTS_MAX_DEFAULT;
	if (!gs->cfg.hello_timeout_usec)
		gs->cfg.hello_timeout_usec = GUESTS_HELLO_TIMEOUT_DEFAULT_USEC;
	gs->cb = *cb;
	gs->userdata = userdata;
	gs->rl = (struct ck_ratelimit)CONNECTIONS_RATELIMIT;
	fastpath_relay_init(&gs->relay, m, cfg->fastpath_burst, cfg->fastpath_interval_usec,
			    find_session, gs);
	*ret = gs;
	return 0;
}

void guests_free(struct guests *gs)
{
	if (!gs)
		return;
	while (gs->list) {
		send_bye(gs->list, CK_BYE_SHUTDOWN, "cokeeperd is stopping");
		end_session(gs->list, END_GONE, 0, NULL);
	}
	ck_frames_reset(&gs->snapshot);
	ck_frames_reset(&gs->merged);
	free(gs);
}

/* Over the limit: a Bye that says why, and the session ends on the next loop iteration. */
static int refuse(struct guest *g)
{
	struct guests *gs = g->gs;

	g->state = GUEST_REFUSED;
	gs->counters.refused++;
	ck_log_limited(&gs->rl, LOG_WARNING, 0, "%s: refused: %u guests connected already (the limit)",
		    label(g), gs->count);
	send_bye(g, CK_BYE_OVERLOAD, "too many guests on this host");
	return sd_event_source_set_enabled(g->resume, SD_EVENT_ONESHOT);
}

int guests_attach(struct guests *gs, struct ck_stream *s)
{
	struct guest *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->gs = gs;
	g->stream = s;
	g->domid = s->domid;
	g->connected_usec = ck_now_usec();
	g->rl = (struct ck_ratelimit)SESSION_RATELIMIT;
	g->fastpath_limit = fastpath_relay_limit(&gs->relay);
	r = ck_frame_decoder_new(&g->dec);
	if (r < 0)
		goto err;
	r = sd_event_add_defer(gs->event, &g->resume, on_resume, g);
	if (r < 0)
		goto err;
	/*
	 * Below every descriptor: at the same priority sd-event dispatches a defer source that
	 * re-arms itself on every iteration before any I/O, so a guest that keeps its channel
	 * full would starve the control socket and the other guests (seen on real Xen).
	 */
	r = sd_event_source_set_priority(g->resume, SD_EVENT_PRIORITY_IDLE);
	if (r < 0)
		goto err;
	r = sd_event_source_set_enabled(g->resume, SD_EVENT_OFF);
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
	}
	ck_stream_set_handler(s, on_io, g);
	DL_PREPEND(gs->list, g);
	if (g->state != GUEST_REFUSED)
		gs->counters.connected++;
	return 0;
err:
	sd_event_source_disable_unref(g->hello_timer);
	sd_event_source_disable_unref(g->resume);
	ck_frame_decoder_free(g->dec);
	free(g);
	return r;
}

void guests_detach_domid(struct guests *gs, uint16_t domid)
{
	struct guest *g, *tmp;

	DL_FOREACH_SAFE(gs->list, g, tmp)
		if (g->stream->domid == domid)
			end_session(g, END_GONE, 0, NULL);
}

void guests_broadcast(struct guests *gs, const struct ck_delta *delta)
{
	struct ck_frames frames = { 0 };
	struct guest *g, *tmp;
	int r;

	DL_FOREACH_SAFE(gs->list, g, tmp) {
		/* A resync owed covers this change too, whenever the queue lets it go. */
		if (g->state != GUEST_ACTIVE || g->resync != RESYNC_NONE)
			continue;
		if (ck_stream_queued(g->stream) > gs->cfg.queue_limit) {
			/* It stopped reading: drop what waits, resync it when it drains. */
			size_t dropped = ck_outbuf_drop_unsent(&g->stream->out);

			gs->counters.queue_overflows++;
			ck_log_limited(&g->rl, LOG_WARNING, 0,
				    "%s: domid %u left %zu bytes unread; dropped, it gets a snapshot",
				    label(g), g->domid, dropped);
			/* Answered on its next write wake-up: when it reads again. */
			g->resync = RESYNC_SNAPSHOT;
			g->stream->ops->want_write(g->stream, true);
			continue;
		}
		if (ck_stream_queued(g->stream) > LAG_QUEUED_BYTES) {
			/* Its queue waits for a write wake-up already, which will answer this. */
			gs->counters.lagging++;
			g->resync = RESYNC_CATCHUP;
			continue;
		}
		if (frames.n == 0) {
			r = ck_chunk_encode_delta(delta, CK_FASTPATH_VERSION, &frames);
			if (r < 0) {
				end_session(g, END_LOCAL_FAILURE, r, "cannot encode a delta");
				continue;
			}
		}
		r = send_frames(g, &frames, delta->epoch, delta->new_gen);
		if (r < 0) {
			end_session(g, END_LOCAL_FAILURE, r, "cannot queue a delta");
			continue;
		}
		r = ck_stream_flush(g->stream);
		if (r < 0) {
			end_session(g, END_WRITE_FAILED, r, NULL);
			continue;
		}
		log_debug("%s: gen %" PRIu64 " sent at %" PRIu64 " us%s", label(g), delta->new_gen,
			  ck_now_usec(), ck_stream_queued(g->stream) ? " (partly queued)" : "");
	}
	ck_frames_reset(&frames);
}

unsigned int guests_count(const struct guests *gs)
{
	return gs->count;
}

const struct guests_counters *guests_counters(const struct guests *gs)
{
	return &gs->counters;
}

const struct fastpath_relay_counters *guests_fastpath_counters(const struct guests *gs)
{
	return &gs->relay.counters;
}

struct json_object *guests_to_json(const struct guests *gs)
{
	struct json_object *arr = json_object_new_array();
	uint64_t now = ck_now_usec(), epoch = gs->m->epoch, gen = gs->m->gen;
	struct guest *g;

	DL_FOREACH(gs->list, g) {
		struct json_object *o;
		bool current = g->acked_epoch == epoch;

		if (g->state == GUEST_REFUSED)
			continue;
		o = json_object_new_object();

		json_object_object_add(o, "channel", json_object_new_string(label(g)));
		json_object_object_add(o, "domid", json_object_new_int(g->domid));
		json_object_object_add(o, "state", json_object_new_string(
			g->state != GUEST_ACTIVE ? "await-hello" :
			g->resync == RESYNC_CATCHUP ? "catch-up" :
			g->resync != RESYNC_NONE ? "resync" : "active"));
		json_object_object_add(o, "acked_gen",
				       json_object_new_int64(current ? (int64_t)g->acked_gen : -1));
		json_object_object_add(o, "lag",
				       json_object_new_int64(current ? (int64_t)(gen - g->acked_gen) :
								       (int64_t)gen));
		json_object_object_add(o, "queued_bytes",
				       json_object_new_int64(ck_stream_queued(g->stream)));
		json_object_object_add(o, "acks", json_object_new_int64(g->acks));
		json_object_object_add(o, "last_latency_us",
				       json_object_new_int64(g->last_latency_usec));
		json_object_object_add(o, "max_latency_us",
				       json_object_new_int64(g->max_latency_usec));
		json_object_object_add(o, "mean_latency_us",
				       json_object_new_int64(g->measured_acks ?
					       g->latency_sum_usec / g->measured_acks : 0));
		json_object_object_add(o, "connected_s",
				       json_object_new_double((now - g->connected_usec) / 1e6));
		json_object_array_add(arr, o);
	}
	return arr;
}
