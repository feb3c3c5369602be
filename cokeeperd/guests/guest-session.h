/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One guest's session, the protocol alone: a Hello (again later: a resync from where the
 * agent stands), then a snapshot or the changes it missed, then a delta per change, each
 * acknowledged, and a Bye either way.  A guest never slows another: what it is sent waits in
 * its stream's bounded queue, and one that stops reading loses the queue and is owed a
 * snapshot once it drains; however many Hellos and changes pile up meanwhile, it is answered
 * once.  Whatever it sends is verified and can end its session, never change membership.
 *
 * A session never ends itself: each call says whether it must end (enum guest_session_end) and
 * the set of guests (guests.c), which owns the stream, ends it.  What a session decodes is
 * reported through the set's callbacks; the snapshots and deltas it is sent come encoded
 * once from the fan-out (fanout.h), shared with every other session.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fanout.h"
#include "membership.h"
#include "message.h"
#include "ratelimit.h"
#include "stream.h"
#include "view.h"

/* What a session's calls return: go on, or why it must end (the log level, the Bye, blame). */
enum guest_session_end {
	SESSION_GO_ON,
	SESSION_PEER_CLOSED,	/* end of stream, or the agent's own Bye */
	SESSION_PEER_FAULT,	/* what it sent: undecodable, unverifiable, out of protocol */
	SESSION_WRITE_FAILED,	/* the channel broke under us */
	SESSION_LOCAL_FAILURE,	/* the daemon's own failure (memory, encoding) */
};

enum guest_session_state {
	SESSION_AWAIT_HELLO,
	SESSION_ACTIVE,
	SESSION_REFUSED,	/* over the limit: said Bye, ends on the next loop iteration */
};

/* What a guest is owed once its queue drains; a stronger one absorbs a weaker. */
enum guest_session_resync {
	RESYNC_NONE,
	RESYNC_CATCHUP,		/* it lags: the changes since what it was sent, merged */
	RESYNC_HELLO,		/* answer its latest Hello: the changes since, or a snapshot */
	RESYNC_VIEW,		/* whom it sees changed (view.h): a snapshot of its view */
	RESYNC_SNAPSHOT,	/* its queue overflowed: only a snapshot will do */
};

/* Counted over every session. */
struct guest_session_counters {
	uint64_t hellos_coalesced;	/* resync Hellos folded into one already pending */
	uint64_t queue_overflows;
	uint64_t lagging;	/* times a guest was found with its queue not taken: it gets a catch-up */
	uint64_t catchups_sent;	/* merged deltas that brought a lagging guest up to date */
	uint64_t snapshots_sent;
	uint64_t deltas_sent;
};

/* A guest acknowledged a new generation: from is the last it had (or where it was measured). */
struct guest_ack {
	const char *channel;	/* the stream's label */
	uint16_t domid;
	uint64_t from, gen;
};

/* A fast path set-up message to relay. */
struct guest_fastpath {
	uint16_t src;		/* the session's domid: the channel's, checked against its Hello */
	struct ck_msg *msg;	/* verified; rewritten into the answer for SESSION_FASTPATH_ANSWER */
	const char *fault;	/* set with a negative return: why the sender broke the rules */
};

#define SESSION_FASTPATH_ANSWER 1	/* fastpath's return: msg goes back to the sender */

struct guest_session;

/* What a session reports to whoever holds the set; each gets the session's userdata. */
struct guest_session_callbacks {
	/* It said Hello as domid (changed from old_domid if they differ): index it, or -errno. */
	int (*hello)(struct guest_session *s, uint16_t old_domid, void *userdata);
	/* Returns the latency of the newest change the Ack covers in us (0: none measured). */
	uint32_t (*acked)(const struct guest_ack *ack, void *userdata);
	/* 0, SESSION_FASTPATH_ANSWER, or -EPROTO with fp->fault set. */
	int (*fastpath)(struct guest_fastpath *fp, void *userdata);
};

/* What every session shares, owned by the set. */
struct guest_session_env {
	const struct ck_membership *m;
	struct fanout *fanout;
	struct guest_session_counters *counters;
	const struct guest_session_callbacks *cb;
	const struct view_filter *view;	/* whom a guest sees (view.h) */
	size_t queue_limit;	/* bytes queued for one guest, past which it is resynced */
};

struct guest_session {
	const struct guest_session_env *env;
	void *userdata;
	struct ck_stream *stream;
	struct ck_frame_decoder *dec;
	enum guest_session_state state;
	uint16_t domid;
	uint32_t fastpath_version;	/* its latest Hello's: 0, it takes no Fastpath* */
	uint64_t acked_epoch, acked_gen;
	uint64_t sent_epoch, sent_gen;	/* where what it was queued leaves it */
	uint64_t measured_from;	/* convergence counts changes after this gen only */
	uint64_t connected_usec;
	uint64_t acks;		/* Acks of a new generation */
	uint64_t latency_sum_usec;	/* of the acks that measured a change */
	uint64_t measured_acks;
	uint32_t last_latency_usec, max_latency_usec;
	struct guest_view view;	/* what its table holds once its queue is applied */
	enum guest_session_resync resync;
	uint64_t resync_epoch, resync_gen;	/* RESYNC_HELLO: where its latest Hello was */
	unsigned int frames;	/* frames decoded since session_feed's caller last zeroed it */
	struct ck_ratelimit rl;		/* what its session makes us log */
	int error;		/* why it must end: -errno */
	char fault[64];		/* what it did wrong, for the log and its Bye */
	bool bye_sent;
};

/* Starts a session on s, waiting for its Hello. */
int guest_session_init(struct guest_session *s, const struct guest_session_env *env, struct ck_stream *stream,
		 void *userdata);
void guest_session_release(struct guest_session *s);

/* Feeds len bytes the guest sent: every whole message in them is handled. */
enum guest_session_end guest_session_feed(struct guest_session *s, const void *untrusted, size_t len);

/* Writes what the guest takes, then answers what it is owed once nothing waits. */
enum guest_session_end guest_session_flush(struct guest_session *s);

/*
 * A committed change: queued (encoded once by the fan-out) if the guest took all it was sent
 * before; if not, it lags and is owed a catch-up instead, and if more than the queue limit
 * waits, it stopped reading: they are dropped and it is owed a snapshot.
 */
enum guest_session_end guest_session_change(struct guest_session *s, const struct ck_delta *d);

/*
 * Queues msg (a relayed fast path message) and writes what the guest takes.  Whatever the
 * guest is sent besides its membership counts against the queue limit when it is queued: a
 * message that would take it past the limit is not (*queued false), and the guest, which
 * stopped reading, is resynced as for a change.
 */
enum guest_session_end guest_session_send(struct guest_session *s, const struct ck_msg *msg,
					  bool *queued);

/* Whom it sees may have changed (a new policy): it gets a snapshot of its view. */
enum guest_session_end guest_session_view_changed(struct guest_session *s);

/* Says why it ends (once): code and reason go in its Bye, which is written if it can be. */
void guest_session_bye(struct guest_session *s, enum ck_bye_code code, const char *reason);

/* The state for `cokeeperctl guests`. */
const char *guest_session_state_name(const struct guest_session *s);
