// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "clock.h"
#include "frame.h"
#include "logging.h"
#include "session.h"

struct session {
	struct sink *sink;
	uint16_t domid;
	session_send_fn send;
	void *userdata;
	struct ck_membership *replica;
	struct ck_frame_decoder *dec;
	struct ck_assembler *assembler;
	bool synced;
	bool answered;		/* cokeeperd answered this connection's Hello */
	bool sink_stale;	/* the sink missed a change: replace it at the next chance */
	bool resync_pending;	/* a Hello asking for a resync is on its way */
	uint32_t daemon_fastpath;	/* what cokeeperd announced in this connection */
	struct session_stats stats;
	struct ck_error *err;	/* the caller's, while session_receive runs */
	session_fastpath_fn fastpath;
	void *fastpath_userdata;
};

int session_new(struct session **ret, struct sink *sink, uint16_t domid, session_send_fn send,
		void *userdata)
{
	struct session *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->sink = sink;
	s->domid = domid;
	s->send = send;
	s->userdata = userdata;
	r = ck_membership_new(&s->replica, 0, 0);
	if (r == 0)
		r = ck_assembler_new(&s->assembler);
	if (r < 0) {
		session_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	ck_frame_decoder_free(s->dec);
	ck_assembler_free(s->assembler);
	ck_membership_free(s->replica);
	free(s);
}

static int send_msg(struct session *s, const struct ck_msg *msg)
{
	uint8_t *buf;
	size_t len;
	int r;

	r = ck_frame_encode(msg, &buf, &len);
	if (r < 0)
		return r;
	r = s->send(buf, len, s->userdata);
	free(buf);
	return r;
}

static int send_hello(struct session *s)
{
	struct ck_msg hello = { .type = CK_MSG_HELLO,
		.hello = { .domid = s->domid, .version = CK_PROTOCOL_VERSION,
			   .epoch = s->replica->epoch, .gen = s->replica->gen,
			   .fastpath_version = CK_FASTPATH_VERSION } };

	return send_msg(s, &hello);
}

int session_start(struct session *s)
{
	ck_frame_decoder_free(s->dec);
	s->dec = NULL;
	ck_assembler_reset(s->assembler);
	s->resync_pending = false;
	s->answered = false;
	/* Perhaps another cokeeperd (restarted, downgraded, another host): it must say again. */
	s->daemon_fastpath = 0;
	if (ck_frame_decoder_new(&s->dec) < 0)
		return -ENOMEM;
	return send_hello(s);
}

static int send_ack(struct session *s)
{
	struct ck_msg ack = { .type = CK_MSG_ACK,
		.ack = { .epoch = s->replica->epoch, .gen = s->replica->gen } };

	return send_msg(s, &ack);
}

/* Brings the sink to the replica after it missed something; the table is replaced whole. */
static int sink_catch_up(struct session *s)
{
	int r = s->sink->ops->replace(s->sink, s->replica->epoch, s->replica->gen,
				      s->replica->members);

	if (r < 0) {
		s->stats.sink_failures++;
		s->sink_stale = true;
		return log_error_errno(r, "cannot write the %s table; it keeps its previous state",
				       s->sink->ops->name);
	}
	s->sink_stale = false;
	return 0;
}

static int on_snapshot(struct session *s, const struct ck_snapshot *snap)
{
	struct ck_memberset *set;
	int r;

	r = ck_memberset_new(&set);
	for (size_t i = 0; r == 0 && i < snap->n_members; i++)
		r = ck_memberset_put(set, &snap->members[i]);
	if (r < 0) {
		ck_memberset_free(set);
		return r;
	}
	/* A new epoch replaces everything: nothing of the old daemon's table survives. */
	r = ck_membership_replace(s->replica, snap->epoch, snap->gen, set);
	if (r < 0)
		return r;
	s->stats.snapshots++;
	s->synced = true;
	s->resync_pending = false;
	log_info("snapshot: epoch %016" PRIx64 " gen %" PRIu64 ", %zu members", snap->epoch,
		 snap->gen, snap->n_members);
	if (sink_catch_up(s) < 0)
		return 0;	/* not acked: the daemon sees this guest lagging */
	return send_ack(s);
}

static int request_resync(struct session *s, const char *why)
{
	if (s->resync_pending)
		return 0;
	s->stats.resyncs++;
	s->resync_pending = true;
	log_notice("%s: asking for a resync", why);
	return send_hello(s);
}

static int on_delta(struct session *s, const struct ck_delta *d)
{
	uint64_t before = s->replica->gen, applying;
	int r;

	r = ck_membership_apply(s->replica, d);
	if (r == -ESTALE)
		return request_resync(s, d->epoch != s->replica->epoch ? "delta of another epoch" :
									 "gap in the deltas");
	if (r < 0)
		return r;
	if (s->replica->gen == before) {
		s->stats.duplicates++;
		/* Nothing new; an empty delta answers a Hello and still wants its Ack. */
		return d->new_gen == before ? send_ack(s) : 0;
	}
	s->stats.deltas++;
	applying = ck_now_usec();
	if (s->sink_stale) {
		r = sink_catch_up(s);
	} else if ((r = s->sink->ops->apply(s->sink, d)) < 0) {
		s->stats.sink_fallbacks++;
		log_warning_errno(r, "delta to gen %" PRIu64 " did not apply to the %s table; "
				     "replacing it whole", d->new_gen, s->sink->ops->name);
		r = sink_catch_up(s);
	}
	log_debug("gen %" PRIu64 ": %s table written in %" PRIu64 " us", d->new_gen,
		  s->sink->ops->name, ck_now_usec() - applying);
	return r < 0 ? 0 : send_ack(s);
}

static int on_msg(struct ck_msg *msg, void *userdata)
{
	struct session *s = userdata;
	struct ck_msg whole;
	int r;

	r = ck_assembler_push(s->assembler, msg, &whole);
	if (r < 0)
		return r;
	switch (whole.type) {
	case CK_MSG_UNSPEC:
		return 0;	/* more chunks to come */
	case CK_MSG_SNAPSHOT:
		s->daemon_fastpath = whole.fastpath_version;
		r = on_snapshot(s, &whole.snapshot);
		s->answered = true;
		break;
	case CK_MSG_DELTA:
		s->daemon_fastpath = whole.fastpath_version;
		r = on_delta(s, &whole.delta);
		s->answered = true;
		break;
	case CK_MSG_FASTPATH_OFFER:
	case CK_MSG_FASTPATH_ACCEPT:
	case CK_MSG_FASTPATH_CLOSE:
		if (s->fastpath)
			s->fastpath(&whole, s->fastpath_userdata);
		r = 0;
		break;
	case CK_MSG_BYE:
		r = ck_error_set(s->err, -ECONNRESET, "cokeeperd said bye: %s", whole.bye.reason);
		break;
	default:
		r = ck_error_set(s->err, -EPROTO, "unexpected %s from cokeeperd",
				 ck_msg_type_name(whole.type));
		break;
	}
	ck_msg_reset(&whole);
	return r;
}

int session_receive(struct session *s, const void *untrusted, size_t len, struct ck_error *err)
{
	int r;

	if (!s->dec)
		return ck_error_set(err, -ENOTCONN, "no session");
	s->err = err;
	r = ck_frame_decoder_feed(s->dec, untrusted, len, on_msg, s, err);
	s->err = NULL;
	return r;
}

void session_set_fastpath(struct session *s, session_fastpath_fn fn, void *userdata)
{
	s->fastpath = fn;
	s->fastpath_userdata = userdata;
}

int session_send(struct session *s, const struct ck_msg *msg)
{
	return send_msg(s, msg);
}

void session_set_domid(struct session *s, uint16_t domid)
{
	s->domid = domid;
}

const struct ck_membership *session_replica(const struct session *s)
{
	return s->replica;
}

uint32_t session_daemon_fastpath(const struct session *s)
{
	return s->daemon_fastpath;
}

bool session_synced(const struct session *s)
{
	return s->synced;
}

bool session_current(const struct session *s)
{
	return s->synced && s->answered && !s->resync_pending && !s->sink_stale;
}

const struct session_stats *session_stats(const struct session *s)
{
	return &s->stats;
}
