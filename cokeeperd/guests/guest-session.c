// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "frame.h"
#include "logging.h"
#include "memory-return.h"
#include "guest-session.h"

/* What one session may make us log. */
#define SESSION_RATELIMIT CK_RATELIMIT_INIT(10 * 1000000ull, 3)

/*
 * A guest whose channel did not take all it was sent by the time the next change comes is
 * lagging: from then on it is sent no change by itself, and once its queue drains it gets
 * what it missed as one delta (or a snapshot, if that is smaller).  An agent stopped for
 * thousands of changes so finds one message behind what its channel holds, not thousands.
 */
#define LAG_QUEUED_BYTES 0u

int guest_session_init(struct guest_session *s, const struct guest_session_env *env, struct ck_stream *stream,
		 void *userdata)
{
	*s = (struct guest_session){
		.env = env,
		.userdata = userdata,
		.stream = stream,
		.domid = stream->domid,
		.connected_usec = ck_now_usec(),
		.rl = SESSION_RATELIMIT,
	};
	return ck_frame_decoder_new(&s->dec);
}

void guest_session_release(struct guest_session *s)
{
	view_forget(&s->view);
	ck_frame_decoder_free(s->dec);
	s->dec = NULL;
}

static int failed(struct guest_session *s, int r)
{
	s->error = r;
	return r;
}

/* Queues msg; past limit (the Bye is not held to one) -ENOBUFS, and nothing is queued. */
static int enqueue(struct guest_session *s, const struct ck_msg *msg, size_t limit)
{
	uint8_t *buf;
	size_t len;
	int r;

	r = ck_frame_encode(msg, &buf, &len);
	if (r < 0)
		return failed(s, r);
	if (len > limit || ck_stream_queued(s->stream) > limit - len)
		r = -ENOBUFS;
	else
		r = ck_stream_queue(s->stream, buf, len);
	free(buf);
	return r == -ENOBUFS ? r : r < 0 ? failed(s, r) : 0;
}

static void overflowed(struct guest_session *s);

/*
 * Queues what the guest is sent besides membership: over its limit it is resynced instead,
 * and until it has been resynced with a snapshot it is sent nothing more (the snapshot goes
 * once its queue is empty, as after any overflow: the queue holds at most the limit and one
 * snapshot, however it reads).
 */
static int enqueue_bounded(struct guest_session *s, const struct ck_msg *msg, bool *queued)
{
	int r;

	*queued = false;
	if (s->resync == RESYNC_SNAPSHOT)
		return 0;
	r = enqueue(s, msg, s->env->queue_limit);
	*queued = r == 0;
	if (r == -ENOBUFS) {
		overflowed(s);
		return 0;
	}
	return r;
}

static int queue_bytes(struct guest_session *s, struct ck_bytes *frames, uint64_t epoch, uint64_t gen)
{
	int r = ck_stream_queue_shared(s->stream, frames);

	if (r < 0)
		return failed(s, r);
	s->sent_epoch = epoch;
	s->sent_gen = gen;
	return 0;
}

static int send_snapshot(struct guest_session *s)
{
	const struct ck_membership *m = s->env->m;
	struct ck_bytes *frames;
	bool all;
	int r;

	r = view_snapshot(&s->view, s->domid, s->env->view, m, &all);
	if (r == 0)
		r = all ? fanout_snapshot(s->env->fanout, m, &frames) :
			  fanout_view_snapshot(s->env->fanout, m, &s->view, &frames);
	if (r < 0)
		return failed(s, r);
	r = queue_bytes(s, frames, m->epoch, m->gen);
	if (r == 0)
		s->env->counters->snapshots_sent++;
	return r;
}

void guest_session_bye(struct guest_session *s, enum ck_bye_code code, const char *reason)
{
	struct ck_msg bye = { .type = CK_MSG_BYE, .bye = { .code = code } };

	if (s->bye_sent)
		return;
	s->bye_sent = true;
	snprintf(bye.bye.reason, sizeof(bye.bye.reason), "%s", reason);
	if (enqueue(s, &bye, SIZE_MAX) == 0)
		(void)ck_stream_flush(s->stream);
}

static void log_resync(struct guest_session *s, enum guest_session_resync what, size_t changes, bool merged)
{
	const struct ck_membership *m = s->env->m;
	const char *label = s->stream->label;

	if (what == RESYNC_HELLO && merged)
		ck_log_limited(&s->rl, LOG_INFO, 0,
			    "%s: domid %u resumes at gen %" PRIu64 ", %zu changes behind",
			    label, s->domid, s->resync_gen, changes);
	else if (what == RESYNC_CATCHUP && merged)
		log_debug("%s: domid %u catches up from gen %" PRIu64 ": %zu changes in one",
			  label, s->domid, s->sent_gen, changes);
	else if (what == RESYNC_HELLO)
		ck_log_limited(&s->rl, LOG_INFO, 0,
			    "%s: domid %u joins (had epoch %" PRIx64 " gen %" PRIu64
			    "), sending a snapshot of gen %" PRIu64, label, s->domid,
			    s->resync_epoch, s->resync_gen, m->gen);
	else if (what == RESYNC_CATCHUP)
		log_debug("%s: domid %u catches up from gen %" PRIu64 " with a snapshot", label,
			  s->domid, s->sent_gen);
	else if (what == RESYNC_VIEW)
		log_debug("%s: domid %u sees other members now: a snapshot of its view", label,
			  s->domid);
	else
		ck_log_limited(&s->rl, LOG_INFO, 0,
			    "%s: domid %u drained its queue, resyncing it with a snapshot",
			    label, s->domid);
}

/*
 * Answers what the guest is owed, only once its queue has drained: however many Hellos it
 * sent meanwhile and however many changes it missed, this is one answer, and the queue never
 * holds more than its limit and one snapshot.
 */
static int resync(struct guest_session *s)
{
	const struct ck_membership *m = s->env->m;
	enum guest_session_resync what = s->resync;
	uint64_t epoch = s->sent_epoch, gen = s->sent_gen;
	struct ck_delta delta = { 0 }, filtered = { 0 };
	struct ck_bytes *frames;
	size_t changes = 0;
	int r = -ESTALE;

	s->resync = RESYNC_NONE;
	if (what == RESYNC_HELLO) {
		/*
		 * A guest that (re)joins catches up on changes made before it was there; those
		 * acks measure its boot, not propagation, so convergence starts from here.
		 */
		s->measured_from = m->gen;
		epoch = s->resync_epoch;
		gen = s->resync_gen;
	}
	/*
	 * The changes since what it holds, filtered to its view: only when the view is known
	 * at that generation (what this session sent it last); a snapshot otherwise.
	 */
	if ((what == RESYNC_HELLO || what == RESYNC_CATCHUP) && s->view.bits &&
	    epoch == s->sent_epoch && gen == s->sent_gen)
		r = ck_membership_delta_since(m, epoch, gen, &delta);
	if (r == 0) {
		changes = ck_delta_changes(&delta);
		r = changes > ck_memberset_count(m->members) ? -E2BIG :
			view_filter_delta(&s->view, s->domid, s->env->view, m, &delta,
					       &filtered);
		if (r == VIEW_SAME)
			r = fanout_merged(s->env->fanout, &delta, &frames);
		else if (r == VIEW_FILTERED)
			r = fanout_view_delta(s->env->fanout, &filtered, &frames);
		else if (r == VIEW_SNAPSHOT)
			r = -ESTALE;
		ck_delta_reset(&delta);
		ck_delta_reset(&filtered);
	}
	if (r < 0 && r != -ESTALE && r != -E2BIG)
		return failed(s, r);
	log_resync(s, what, changes, r == 0);
	if (r < 0)
		return send_snapshot(s);
	if (what == RESYNC_HELLO) {
		/* Everything up to its generation it holds already: nothing to measure. */
		s->acked_epoch = m->epoch;
		s->acked_gen = s->resync_gen;
	} else {
		s->env->counters->catchups_sent++;
	}
	r = queue_bytes(s, frames, m->epoch, m->gen);
	if (r == 0)
		s->env->counters->deltas_sent++;
	return r;
}

static int on_hello(struct guest_session *s, const struct ck_hello *hello)
{
	uint16_t old_domid = s->domid;

	if (hello->version != CK_PROTOCOL_VERSION) {
		snprintf(s->fault, sizeof(s->fault), "protocol version %u", hello->version);
		guest_session_bye(s, CK_BYE_VERSION, "protocol version mismatch");
		return -EPROTONOSUPPORT;
	}
	/* Over vchan the channel itself says who the peer is; its claim must agree. */
	if (s->stream->domid != CK_STREAM_DOMID_ANY && hello->domid != s->stream->domid) {
		snprintf(s->fault, sizeof(s->fault), "domid %u does not match the channel",
			 hello->domid);
		return -EPERM;
	}
	/* Over a Unix socket a session may speak for another domid: whom it sees changes. */
	if (hello->domid != s->domid)
		view_forget(&s->view);
	s->domid = hello->domid;
	s->fastpath_version = hello->fastpath_version;
	if (s->state == SESSION_AWAIT_HELLO)
		s->state = SESSION_ACTIVE;
	if (s->state == SESSION_ACTIVE) {
		int r = s->env->cb->hello(s, old_domid, s->userdata);

		if (r < 0)
			return failed(s, r);
	}
	/* Answered once its queue drains (session_flush); until then the latest Hello counts. */
	if (s->resync >= RESYNC_HELLO)
		s->env->counters->hellos_coalesced++;
	if (s->resync >= RESYNC_VIEW)
		return 0;
	s->resync = RESYNC_HELLO;
	s->resync_epoch = hello->epoch;
	s->resync_gen = hello->gen;
	return 0;
}

static void record_latency(struct guest_session *s, uint32_t latency)
{
	s->acks++;
	if (!latency)
		return;
	s->last_latency_usec = latency;
	if (latency > s->max_latency_usec)
		s->max_latency_usec = latency;
	s->latency_sum_usec += latency;
	s->measured_acks++;
}

static int on_ack(struct guest_session *s, const struct ck_ack *ack)
{
	const struct ck_membership *m = s->env->m;
	struct guest_ack event;
	uint64_t from;

	if (ack->epoch != m->epoch)
		return 0;	/* an ack of a previous epoch's message, still in flight */
	if (ack->gen > m->gen) {
		snprintf(s->fault, sizeof(s->fault), "ack of gen %" PRIu64 " from the future",
			 ack->gen);
		return -EPROTO;
	}
	if (s->acked_epoch == m->epoch && ack->gen <= s->acked_gen)
		return 0;
	from = s->acked_epoch == m->epoch ? s->acked_gen : 0;
	event = (struct guest_ack){
		.channel = s->stream->label, .domid = s->domid,
		.from = from > s->measured_from ? from : s->measured_from, .gen = ack->gen,
	};
	s->acked_epoch = ack->epoch;
	s->acked_gen = ack->gen;
	record_latency(s, s->env->cb->acked(&event, s->userdata));
	return 0;
}

static int on_fastpath(struct guest_session *s, struct ck_msg *msg)
{
	struct guest_fastpath fp = { .src = s->domid, .msg = msg };
	int r = s->env->cb->fastpath(&fp, s->userdata);
	bool queued;

	if (r == SESSION_FASTPATH_ANSWER)
		return enqueue_bounded(s, msg, &queued);
	if (r < 0)
		snprintf(s->fault, sizeof(s->fault), "%s", fp.fault ? fp.fault : "fast path");
	return r < 0 ? r : 0;
}

static int on_msg(struct ck_msg *msg, void *userdata)
{
	struct guest_session *s = userdata;

	s->frames++;
	switch (msg->type) {
	case CK_MSG_HELLO:
		/* A second Hello is an agent asking for a resync from the generation it names. */
		return on_hello(s, &msg->hello);
	case CK_MSG_ACK:
		if (s->state != SESSION_ACTIVE)
			break;
		return on_ack(s, &msg->ack);
	case CK_MSG_FASTPATH_OFFER:
	case CK_MSG_FASTPATH_ACCEPT:
	case CK_MSG_FASTPATH_CLOSE:
		if (s->state != SESSION_ACTIVE)
			break;
		return on_fastpath(s, msg);
	case CK_MSG_BYE:
		ck_log_limited(&s->rl, LOG_INFO, 0, "%s: domid %u said bye: %s", s->stream->label,
			    s->domid, msg->bye.reason);
		return -ECONNRESET;
	default:
		break;
	}
	snprintf(s->fault, sizeof(s->fault), "unexpected %s", ck_msg_type_name(msg->type));
	return -EPROTO;
}

enum guest_session_end guest_session_feed(struct guest_session *s, const void *untrusted, size_t len)
{
	struct ck_error err = { "" };
	int r;

	s->error = 0;
	r = ck_frame_decoder_feed(s->dec, untrusted, len, on_msg, s, &err);
	if (r == 0)
		return SESSION_GO_ON;
	if (r == -ECONNRESET)
		return SESSION_PEER_CLOSED;
	if (r == s->error)
		return SESSION_LOCAL_FAILURE;
	s->error = r;
	if (!s->fault[0])
		snprintf(s->fault, sizeof(s->fault), "%s", err.msg[0] ? err.msg : "protocol error");
	return SESSION_PEER_FAULT;
}

enum guest_session_end guest_session_flush(struct guest_session *s)
{
	int r = ck_stream_flush(s->stream);

	if (r == 0 && s->resync != RESYNC_NONE && ck_stream_queued(s->stream) == 0) {
		if (resync(s) < 0)
			return SESSION_LOCAL_FAILURE;
		r = ck_stream_flush(s->stream);
	}
	if (r < 0) {
		s->error = r;
		return SESSION_WRITE_FAILED;
	}
	return SESSION_GO_ON;
}

/* It stopped reading: drop what waits, resync it when it drains. */
static void overflowed(struct guest_session *s)
{
	size_t dropped = ck_outbuf_drop_unsent(&s->stream->out);

	ck_memory_freed(dropped);
	s->env->counters->queue_overflows++;
	ck_log_limited(&s->rl, LOG_WARNING, 0,
		    "%s: domid %u left %zu bytes unread; dropped, it gets a snapshot",
		    s->stream->label, s->domid, dropped);
	/*
	 * Answered on its next wake-up with nothing left queued: its queue never holds more
	 * than the limit and one snapshot.
	 */
	s->resync = RESYNC_SNAPSHOT;
	s->stream->ops->want_write(s->stream, true);
}

enum guest_session_end guest_session_view_changed(struct guest_session *s)
{
	view_forget(&s->view);
	if (s->state != SESSION_ACTIVE || s->resync >= RESYNC_VIEW)
		return SESSION_GO_ON;
	/*
	 * A Hello owed is answered with the snapshot, which is what it would get; as for its
	 * answer, convergence counts only the changes after it.
	 */
	if (s->resync == RESYNC_HELLO)
		s->measured_from = s->env->m->gen;
	s->resync = RESYNC_VIEW;
	/*
	 * Sent now if its queue is empty: an idle guest says nothing that would wake its
	 * session, and a vchan has no write readiness to wait for.  Otherwise it goes once
	 * the guest has read the rest, whose reads wake the session.
	 */
	return guest_session_flush(s);
}

enum guest_session_end guest_session_change(struct guest_session *s, const struct ck_delta *d)
{
	struct ck_delta filtered = { 0 };
	struct ck_bytes *frames;
	int r;

	/* A resync owed covers this change too, whenever the queue lets it go. */
	if (s->state != SESSION_ACTIVE || s->resync != RESYNC_NONE)
		return SESSION_GO_ON;
	if (ck_stream_queued(s->stream) > s->env->queue_limit) {
		overflowed(s);
		return SESSION_GO_ON;
	}
	if (ck_stream_queued(s->stream) > LAG_QUEUED_BYTES) {
		/* Its queue waits for a write wake-up already, which will answer this. */
		s->env->counters->lagging++;
		s->resync = RESYNC_CATCHUP;
		return SESSION_GO_ON;
	}
	r = view_filter_delta(&s->view, s->domid, s->env->view, s->env->m, d, &filtered);
	if (r == VIEW_SNAPSHOT)
		return guest_session_view_changed(s);
	if (r == VIEW_SAME)
		r = fanout_delta(s->env->fanout, d, &frames);
	else if (r == VIEW_FILTERED)
		r = fanout_view_delta(s->env->fanout, &filtered, &frames);
	ck_delta_reset(&filtered);
	if (r < 0) {
		s->error = r;
		return SESSION_LOCAL_FAILURE;
	}
	r = ck_stream_send_shared(s->stream, frames);
	if (r < 0) {
		s->error = r;
		/* What the daemon could not queue is its own failure; a refused write is not. */
		return r == -ENOMEM || r == -ENOBUFS ? SESSION_LOCAL_FAILURE : SESSION_WRITE_FAILED;
	}
	s->sent_epoch = d->epoch;
	s->sent_gen = d->new_gen;
	s->env->counters->deltas_sent++;
	log_debug("%s: gen %" PRIu64 " sent at %" PRIu64 " us%s", s->stream->label, d->new_gen,
		  ck_now_usec(), ck_stream_queued(s->stream) ? " (partly queued)" : "");
	return SESSION_GO_ON;
}

enum guest_session_end guest_session_send(struct guest_session *s, const struct ck_msg *msg,
					  bool *queued)
{
	if (enqueue_bounded(s, msg, queued) < 0)
		return SESSION_LOCAL_FAILURE;
	/* Not queued: it stopped reading, and is resynced on a later wake-up. */
	return *queued ? guest_session_flush(s) : SESSION_GO_ON;
}

const char *guest_session_state_name(const struct guest_session *s)
{
	if (s->state != SESSION_ACTIVE)
		return "await-hello";
	if (s->resync == RESYNC_CATCHUP)
		return "catch-up";
	return s->resync != RESYNC_NONE ? "resync" : "active";
}
