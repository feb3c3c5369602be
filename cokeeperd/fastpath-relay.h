/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fast path's set-up relay: what becomes of a FastpathOffer, Accept or Close that a guest
 * sends (include/uapi/linux/cokeeper_fp.h, proto/cokeeper.proto).  The message names its
 * destination; what the destination is told as the source is the sender's domid as its
 * session knows it (the vchan's, checked against its Hello), never a claim in the message,
 * because the peer's module maps grants and binds a port of whichever domid it is handed.
 *
 * The rules: an Offer goes from the lower domid to the higher and an Accept back, a Close
 * either way, never to oneself (anything else is a protocol error, as any invalid message).
 * Both ends must be RUNNING members and the destination must have a session; what cannot be
 * delivered is answered with a Close(UNREACHABLE) so the offerer's module gives up at once.
 * A destination whose agent announced no fast path version in its Hello (one built before
 * the fast path, which would end its session on such a message) is sent nothing: the sender
 * is answered with a Close(NO_FASTPATH), as an agent without the module would answer.
 * A guest's set-up messages are rate-limited; over its limit they are dropped and counted,
 * so a guest can make the daemon forward at most `burst` messages per interval.
 *
 * Plain data that the hub (daemon.c) owns: a session reports the message, this decides, the
 * hub sends through the set of guests.
 */
#pragma once

#include <stdint.h>

#include "membership.h"
#include "message.h"
#include "ratelimit.h"

/* 8 set-up messages per second on average, 16 at once. */
#define FASTPATH_RELAY_BURST_DEFAULT 16u
#define FASTPATH_RELAY_INTERVAL_DEFAULT_USEC (2 * 1000000ull)

struct fastpath_relay_counters {
	uint64_t relayed;	/* forwarded to the destination's session */
	uint64_t unreachable;	/* not delivered: no running member with a session there */
	uint64_t no_fastpath;	/* not delivered: the destination's agent announced none */
	uint64_t rate_limited;	/* dropped: over the sender's limit */
	uint64_t refused;	/* wrong direction or to itself: the sender's session ended */
};

struct fastpath_relay {
	const struct ck_membership *m;
	unsigned int burst;
	uint64_t interval_usec;
	struct fastpath_relay_counters counters;
};

enum fastpath_verdict {
	FASTPATH_FORWARD,	/* msg, its peer now the source, goes to the destination named */
	FASTPATH_ANSWER,	/* msg is now a Close(UNREACHABLE or NO_FASTPATH) for the sender */
	FASTPATH_DROP,		/* nothing to send */
};

/* burst 0 or interval 0: the defaults. */
void fastpath_relay_init(struct fastpath_relay *fr, const struct ck_membership *m,
			 unsigned int burst, uint64_t interval_usec);

/* A new session's allowance. */
struct ck_ratelimit fastpath_relay_limit(const struct fastpath_relay *fr);

/* Where msg (verified, a fast path type) asks to go. */
static inline uint16_t fastpath_relay_destination(struct ck_msg *msg)
{
	return *ck_msg_fastpath_peer(msg);
}

/*
 * Decides what becomes of msg from the session of src, whose allowance is limit, at
 * now_usec, and rewrites msg accordingly: a verdict, or -EPROTO with the reason in *fault
 * for a message that breaks the rules.  dst_version: the fast path version of the session
 * that speaks for the destination, or negative when it has none.
 */
int fastpath_relay_route(struct fastpath_relay *fr, struct ck_ratelimit *limit, uint16_t src,
			 struct ck_msg *msg, uint64_t now_usec, int64_t dst_version,
			 const char **fault);

struct guests;
struct guest_fastpath;

/*
 * What the hub does with a message a guest reported: routes it, sends what goes to another
 * guest through gs.  Returns as struct guest_session_callbacks' fastpath.
 */
int fastpath_relay_handle(struct fastpath_relay *fr, struct guests *gs,
			  struct guest_fastpath *fp);
