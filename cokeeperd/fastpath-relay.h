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
 * Both ends must be RUNNING members and the destination must have a session; a destination
 * whose agent announced no fast path version in its Hello (one built before the fast path,
 * which would end its session on such a message) is sent nothing.
 *
 * What one guest can make the relay do is bounded per domain, not per session (a session
 * that reconnects starts from where its domain stood), in two budgets of `burst` messages per
 * `interval`: one for its offers and one for its answers (Accept, Close), so that answering
 * another guest's offers never costs a guest its own.  An answer that settles an offer
 * waiting (its Accept, a Close of it by either end) costs nothing: the offerer's budget
 * bounds those, and a guest that offers again and again cannot spend another's answers.  The
 * relay keeps every offer it passed on until it is answered, closed or expires: at most one
 * at a time per ordered pair (the module has one set-up per peer; it offers again only after
 * a Close; the same offer again is passed on), at most `max_pending` per offerer, and an
 * Accept is passed on only for the offer waiting on its channel.
 *
 * Pairing is dom0's decision (issue 21): an Offer or an Accept passes only between two members
 * the fast path policy authorizes (fastpath-policy.h: the same bridge, no rate limit, the
 * operator's rules), else it is answered with a Close(REFUSED).  The relay remembers every
 * channel it saw accepted, on both ends, until a Close between the two or either leaves; when
 * a pair loses its authorization (a new policy, a vif moved: the hub calls
 * fastpath_relay_reauthorize after each commit and each policy change), both ends are sent a
 * Close(REFUSED) for it, and their modules take the traffic back to the vif.
 *
 * Whatever the relay does not pass on (over a budget, a limit, unreachable, the destination's
 * queue full, an Accept for no offer) is answered with a Close(UNREACHABLE) for the channel,
 * which the sender's module takes as "give up and back off", or Close(NO_FASTPATH) for a
 * destination without it; a Close is never answered (one over budget still ends the offer it
 * names here).  A message passed on can still be lost with its destination's queue, if that
 * guest stops reading and is resynced: the modules' set-up timeout is the fallback.
 *
 * The hub (daemon.c) owns this: a session reports the message, this decides, and sends
 * through the set of guests.
 */
#pragma once

#include <stdint.h>

#include "fastpath-policy.h"
#include "membership.h"
#include "message.h"
#include "ratelimit.h"

/* 4 offers a second (docs/FASTPATH.md), 8 at once; as many answers, counted apart. */
#define FASTPATH_RELAY_BURST_DEFAULT 8u
#define FASTPATH_RELAY_INTERVAL_DEFAULT_USEC (2 * 1000000ull)
/* The module's max_channels default: it never has more set-ups waiting. */
#define FASTPATH_RELAY_MAX_PENDING_DEFAULT 8u
#define FASTPATH_RELAY_MAX_PENDING_LIMIT 256u
/* The module gives an offer 10 s (OFFER_TIMEOUT) and then closes it itself. */
#define FASTPATH_RELAY_OFFER_TIMEOUT_DEFAULT_USEC (15 * 1000000ull)

struct fastpath_relay_config {
	unsigned int burst;		/* per budget and interval; 0: the default */
	uint64_t interval_usec;		/* 0: the default */
	unsigned int max_pending;	/* offers waiting from one offerer; 0: the default */
	uint64_t offer_timeout_usec;	/* a pending offer's life; 0: the default */
};

struct fastpath_relay_counters {
	uint64_t relayed;	/* forwarded to the destination's session */
	uint64_t unreachable;	/* not delivered: no running member with a session there */
	uint64_t no_fastpath;	/* not delivered: the destination's agent announced none */
	uint64_t rate_limited;	/* not delivered: over the sender's budget */
	uint64_t pending_limited;	/* an offer refused: one waits already, or max_pending do */
	uint64_t unsolicited;	/* an Accept refused: no such offer waits */
	uint64_t queue_full;	/* not delivered: the destination's queue was at its limit */
	uint64_t refused;	/* wrong direction or to itself: the sender's session ended */
	uint64_t not_authorized;	/* an Offer or Accept between a pair the policy keeps apart */
	uint64_t revoked;	/* channels closed on both ends: their pair lost its authorization */
};

struct relay_domain;
struct guests;
struct guest_fastpath;

struct fastpath_relay {
	const struct ck_membership *m;
	struct fastpath_relay_config cfg;
	struct relay_domain *domains;	/* by domid: the members that sent anything */
	const struct fastpath_policy *policy;	/* the hub's; NULL: no pair is authorized */
	struct ck_ratelimit log_rl;	/* what guests make it log */
	struct fastpath_relay_counters counters;
	uint64_t (*clock)(void);	/* ck_now_usec; a test's own */
};

/* cfg may be NULL: the defaults. */
void fastpath_relay_init(struct fastpath_relay *fr, const struct ck_membership *m,
			 const struct fastpath_relay_config *cfg);
void fastpath_relay_release(struct fastpath_relay *fr);

/*
 * The policy the pairs are held to from now on (the hub owns it and keeps it alive); the
 * channels and offers it no longer authorizes are closed on both ends through gs (NULL: the
 * same rules as before, nothing to close).
 */
void fastpath_relay_set_policy(struct fastpath_relay *fr, struct guests *gs,
			       const struct fastpath_policy *policy);

/*
 * Holds the pairs of the member domid (its NICs or its name changed) to the policy: what it
 * no longer authorizes is closed on both ends.  O(the member's channels and offers).
 */
void fastpath_relay_reauthorize(struct fastpath_relay *fr, struct guests *gs, uint16_t domid);

/* Channels the relay saw set up and not yet closed (`cokeeperctl stats`). */
unsigned int fastpath_relay_channels(const struct fastpath_relay *fr);

/* The member left: its budgets go, and every offer to or from it. */
void fastpath_relay_forget(struct fastpath_relay *fr, uint16_t domid);

/* Offers waiting now (`cokeeperctl stats`). */
unsigned int fastpath_relay_pending(const struct fastpath_relay *fr, uint64_t now_usec);

/*
 * What the hub does with a message a guest reported: routes it, sends what goes to another
 * guest through gs.  Returns as struct guest_session_callbacks' fastpath: 0,
 * SESSION_FASTPATH_ANSWER with fp->msg rewritten into the sender's Close, or -EPROTO with
 * fp->fault set for a message that breaks the rules.
 */
int fastpath_relay_handle(struct fastpath_relay *fr, struct guests *gs,
			  struct guest_fastpath *fp);
