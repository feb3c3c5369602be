// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utlist.h>

#include "chunk.h"
#include "clock.h"
#include "frame.h"
#include "guests.h"
#include "logging.h"

enum guest_state {
	GUEST_AWAIT_HELLO,
	GUEST_ACTIVE,
};

struct guest {
	struct guest *prev, *next;
	struct guests *gs;
	struct ck_stream *stream;
	struct ck_frame_decoder *dec;
	enum guest_state state;
	uint16_t domid;
	uint64_t acked_epoch, acked_gen;
	uint64_t measured_from;	/* convergence counts changes after this gen only */
	uint64_t connected_usec;
	uint32_t last_latency_usec;
	bool needs_snapshot;	/* its queue overflowed: resync once it drains */
	int local_error;	/* our own failure while answering it: not the guest's fault */
	char fault[64];		/* what it did wrong, for the log and its Bye */
	bool bye_sent;
};

struct guests {
	const struct ck_membership *m;
	struct convergence *conv;
	struct guests_config cfg;
	struct guests_callbacks cb;
	void *userdata;
	struct guest *list;
	struct guests_counters counters;
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

static void guest_free(struct guest *g)
{
	struct guests *gs = g->gs;

	DL_DELETE(gs->list, g);
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

static int send_snapshot(struct guest *g)
{
	int r = ck_chunk_snapshot(g->gs->m, enqueue, g);

	if (r == 0)
		g->gs->counters.snapshots_sent++;
	return r;
}

static int send_delta(struct guest *g, const struct ck_delta *delta)
{
	int r = ck_chunk_delta(delta, enqueue, g);

	if (r == 0)
		g->gs->counters.deltas_sent++;
	return r;
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
	switch (cause) {
	case END_PEER_CLOSED:
		log_info("%s: domid %u disconnected", label(g), g->domid);
		break;
	case END_PEER_FAULT:
		g->gs->counters.rejected++;
		log_warning_errno(r, "%s: domid %u: disconnecting: %s", label(g), g->domid, why);
		send_bye(g, CK_BYE_PROTOCOL_ERROR, why);
		break;
	case END_WRITE_FAILED:
		log_warning_errno(r, "%s: domid %u: cannot write to it", label(g), g->domid);
		break;
	case END_LOCAL_FAILURE:
		log_error_errno(r, "%s: domid %u: %s; ending its session", label(g), g->domid, why);
		break;
	case END_GONE:
		break;
	}
	guest_free(g);
}

static int on_hello(struct guest *g, const struct ck_hello *hello)
{
	const struct ck_membership *m = g->gs->m;
	struct ck_delta delta;
	int r;

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
	g->domid = hello->domid;
	g->state = GUEST_ACTIVE;
	/*
	 * A guest that (re)joins catches up on changes made before it was there; those acks
	 * measure its boot, not propagation, so convergence starts from here.
	 */
	g->measured_from = m->gen;

	r = ck_membership_delta_since(m, hello->epoch, hello->gen, &delta);
	if (r == 0) {
		/* Everything up to its generation it holds already: no convergence to measure. */
		g->acked_epoch = m->epoch;
		g->acked_gen = hello->gen;
		log_info("%s: domid %u resumes at gen %" PRIu64 ", %zu changes behind", label(g),
			 g->domid, hello->gen, ck_delta_changes(&delta));
		r = send_delta(g, &delta);
		ck_delta_reset(&delta);
		return r;
	}
	log_info("%s: domid %u joins (had epoch %" PRIx64 "), sending a snapshot of gen %" PRIu64,
		 label(g), g->domid, hello->epoch, m->gen);
	return send_snapshot(g);
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
	if (latency)
		g->last_latency_usec = latency;
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

static int on_msg(struct ck_msg *msg, void *userdata)
{
	struct guest *g = userdata;

	switch (msg->type) {
	case CK_MSG_HELLO:
		/* A second Hello is an agent asking for a resync from the generation it names. */
		return on_hello(g, &msg->hello);
	case CK_MSG_ACK:
		if (g->state != GUEST_ACTIVE)
			break;
		return on_ack(g, &msg->ack);
	case CK_MSG_BYE:
		log_info("%s: domid %u said bye: %s", label(g), g->domid, msg->bye.reason);
		return -ECONNRESET;
	default:
		break;
	}
	snprintf(g->fault, sizeof(g->fault), "unexpected %s", ck_msg_type_name(msg->type));
	return -EPROTO;
}

static void on_io(struct ck_stream *s, void *userdata)
{
	struct guest *g = userdata;
	uint8_t buf[16384];
	struct ck_error err = { "" };
	int r;

	for (;;) {
		ssize_t n = ck_stream_read(s, buf, sizeof(buf));

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
	}
	r = ck_stream_flush(s);
	if (r < 0) {
		end_session(g, END_WRITE_FAILED, r, NULL);
		return;
	}
	if (g->needs_snapshot && ck_stream_queued(s) == 0) {
		g->needs_snapshot = false;
		log_info("%s: domid %u drained its queue, resyncing it with a snapshot", label(g),
			 g->domid);
		r = send_snapshot(g);
		if (r < 0) {
			end_session(g, END_LOCAL_FAILURE, r, "cannot queue a snapshot");
			return;
		}
		r = ck_stream_flush(s);
		if (r < 0)
			end_session(g, END_WRITE_FAILED, r, NULL);
	}
}

int guests_new(struct guests **ret, const struct ck_membership *m, struct convergence *conv,
	       const struct guests_config *cfg, const struct guests_callbacks *cb,
	       void *userdata)
{
	struct guests *gs = calloc(1, sizeof(*gs));

	if (!gs)
		return -ENOMEM;
	gs->m = m;
	gs->conv = conv;
	gs->cfg = *cfg;
	gs->cb = *cb;
	gs->userdata = userdata;
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
	free(gs);
}

int guests_attach(struct guests *gs, struct ck_stream *s)
{
	struct guest *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	r = ck_frame_decoder_new(&g->dec);
	if (r < 0) {
		free(g);
		return r;
	}
	g->gs = gs;
	g->stream = s;
	g->domid = s->domid;
	g->connected_usec = ck_now_usec();
	ck_stream_set_handler(s, on_io, g);
	DL_PREPEND(gs->list, g);
	gs->counters.connected++;
	return 0;
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
	struct guest *g, *tmp;
	int r;

	DL_FOREACH_SAFE(gs->list, g, tmp) {
		if (g->state != GUEST_ACTIVE || g->needs_snapshot)
			continue;
		if (ck_stream_queued(g->stream) > gs->cfg.queue_limit) {
			/* It stopped reading: drop what waits, resync it when it drains. */
			size_t dropped = ck_outbuf_drop_unsent(&g->stream->out);

			gs->counters.queue_overflows++;
			log_warning("%s: domid %u left %zu bytes unread; dropped, it gets a snapshot",
				    label(g), g->domid, dropped);
			g->needs_snapshot = true;
			g->stream->ops->want_write(g->stream, true);
			continue;
		}
		r = send_delta(g, delta);
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
}

unsigned int guests_count(const struct guests *gs)
{
	struct guest *g;
	unsigned int n = 0;

	DL_COUNT(gs->list, g, n);
	return n;
}

const struct guests_counters *guests_counters(const struct guests *gs)
{
	return &gs->counters;
}

struct json_object *guests_to_json(const struct guests *gs)
{
	struct json_object *arr = json_object_new_array();
	uint64_t now = ck_now_usec(), epoch = gs->m->epoch, gen = gs->m->gen;
	struct guest *g;

	DL_FOREACH(gs->list, g) {
		struct json_object *o = json_object_new_object();
		bool current = g->acked_epoch == epoch;

		json_object_object_add(o, "channel", json_object_new_string(label(g)));
		json_object_object_add(o, "domid", json_object_new_int(g->domid));
		json_object_object_add(o, "state", json_object_new_string(
			g->state == GUEST_ACTIVE ? (g->needs_snapshot ? "resync" : "active") :
						   "await-hello"));
		json_object_object_add(o, "acked_gen",
				       json_object_new_int64(current ? (int64_t)g->acked_gen : -1));
		json_object_object_add(o, "lag",
				       json_object_new_int64(current ? (int64_t)(gen - g->acked_gen) :
								       (int64_t)gen));
		json_object_object_add(o, "queued_bytes",
				       json_object_new_int64(ck_stream_queued(g->stream)));
		json_object_object_add(o, "last_latency_us",
				       json_object_new_int64(g->last_latency_usec));
		json_object_object_add(o, "connected_s",
				       json_object_new_double((now - g->connected_usec) / 1e6));
		json_object_array_add(arr, o);
	}
	return arr;
}
