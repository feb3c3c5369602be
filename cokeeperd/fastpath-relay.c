// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "clock.h"
#include "fastpath-relay.h"
#include "guests.h"
#include "hash.h"
#include "logging.h"

/* An offer passed on and not yet answered or closed. */
struct relay_offer {
	uint16_t to;
	uint64_t channel;
	uint64_t expires_usec;
};

/* A channel the relay saw accepted, kept on both ends' domains. */
struct relay_link {
	uint16_t peer;
	uint64_t channel;
};

/*
 * A module has one channel per peer and at most its max_channels (1..256): more links than
 * that from one domain are not channels any module keeps, and are not tracked (nor passed).
 */
#define RELAY_LINKS_MAX 256u

/* What the relay knows of one member that sent anything: budgets and offers, by domid. */
struct relay_domain {
	uint16_t domid;
	UT_hash_handle hh;
	struct ck_ratelimit offers, answers;
	struct relay_link *links;	/* grows as needed, at most RELAY_LINKS_MAX */
	unsigned int n_links, cap_links;
	unsigned int n_pending;
	struct relay_offer pending[];	/* max_pending of them */
};

void fastpath_relay_init(struct fastpath_relay *fr, const struct ck_membership *m,
			 const struct fastpath_relay_config *cfg)
{
	const struct fastpath_relay_config none = { 0 };

	if (!cfg)
		cfg = &none;
	*fr = (struct fastpath_relay){
		.m = m,
		.cfg = {
			.burst = cfg->burst ?: FASTPATH_RELAY_BURST_DEFAULT,
			.interval_usec = cfg->interval_usec ?: FASTPATH_RELAY_INTERVAL_DEFAULT_USEC,
			.max_pending = cfg->max_pending ?: FASTPATH_RELAY_MAX_PENDING_DEFAULT,
			.offer_timeout_usec = cfg->offer_timeout_usec ?:
					      FASTPATH_RELAY_OFFER_TIMEOUT_DEFAULT_USEC,
		},
		.clock = ck_now_usec,
		.log_rl = CK_RATELIMIT_INIT(10 * 1000000ull, 10),
	};
	if (fr->cfg.max_pending > FASTPATH_RELAY_MAX_PENDING_LIMIT)
		fr->cfg.max_pending = FASTPATH_RELAY_MAX_PENDING_LIMIT;
}

void fastpath_relay_release(struct fastpath_relay *fr)
{
	struct relay_domain *d, *tmp;

	HASH_ITER(hh, fr->domains, d, tmp) {
		HASH_DELETE(hh, fr->domains, d);
		free(d->links);
		free(d);
	}
}

static void drop_offer(struct relay_domain *d, unsigned int i)
{
	d->pending[i] = d->pending[--d->n_pending];
}

/* Forgets what expired; the offerer's module closed those itself by then. */
static void expire(struct relay_domain *d, uint64_t now)
{
	for (unsigned int i = 0; i < d->n_pending;)
		if (d->pending[i].expires_usec <= now)
			drop_offer(d, i);
		else
			i++;
}

static struct relay_domain *find(const struct fastpath_relay *fr, uint16_t domid)
{
	struct relay_domain *d;

	HASH_FIND(hh, fr->domains, &domid, sizeof(domid), d);
	return d;
}

/* Out of memory, NULL: the message is answered as undeliverable, nothing else breaks. */
static struct relay_domain *domain(struct fastpath_relay *fr, uint16_t domid)
{
	struct relay_domain *d = find(fr, domid);
	struct ck_ratelimit budget = CK_RATELIMIT_INIT(fr->cfg.interval_usec, fr->cfg.burst);

	if (d)
		return d;
	d = calloc(1, sizeof(*d) + fr->cfg.max_pending * sizeof(d->pending[0]));
	if (!d)
		return NULL;
	d->domid = domid;
	d->offers = budget;
	d->answers = budget;
	if (CK_HASH_TRY(HASH_ADD(hh, fr->domains, domid, sizeof(d->domid), d)) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

static int link_index(const struct relay_domain *d, uint16_t peer)
{
	for (unsigned int i = 0; d && i < d->n_links; i++)
		if (d->links[i].peer == peer)
			return (int)i;
	return -1;
}

/* The link from d to peer goes (on d's side only). */
static void unlink_one(struct relay_domain *d, uint16_t peer)
{
	int i = link_index(d, peer);

	if (i >= 0)
		d->links[i] = d->links[--d->n_links];
}

/* The channel of (0: any) between a and b goes from both ends; true if there was one. */
static bool unlink_pair(struct fastpath_relay *fr, uint16_t a, uint16_t b, uint64_t channel)
{
	struct relay_domain *da = find(fr, a), *db = find(fr, b);
	int i = link_index(da, b);

	if (i < 0 || (channel && da->links[i].channel != channel))
		return false;
	unlink_one(da, b);
	unlink_one(db, a);
	return true;
}

/* d's link to peer on channel, replacing an older one; -ENOSPC or -ENOMEM if it cannot be. */
static int link_one(struct relay_domain *d, uint16_t peer, uint64_t channel)
{
	int i = link_index(d, peer);

	if (i >= 0) {
		d->links[i].channel = channel;
		return 0;
	}
	if (d->n_links == d->cap_links) {
		unsigned int cap = d->cap_links ? d->cap_links * 2 : 4;
		struct relay_link *v;

		if (d->cap_links >= RELAY_LINKS_MAX)
			return -ENOSPC;
		v = reallocarray(d->links, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->links = v;
		d->cap_links = cap;
	}
	d->links[d->n_links++] = (struct relay_link){ .peer = peer, .channel = channel };
	return 0;
}

/* The channel offerer -> acceptor, on both ends; all or nothing. */
static int link_pair(struct fastpath_relay *fr, uint16_t offerer, uint16_t acceptor,
		     uint64_t channel)
{
	struct relay_domain *a = domain(fr, offerer), *b = domain(fr, acceptor);
	int r;

	if (!a || !b)
		return -ENOMEM;
	r = link_one(a, acceptor, channel);
	if (r == 0) {
		r = link_one(b, offerer, channel);
		if (r < 0)
			unlink_one(a, acceptor);
	}
	return r;
}

unsigned int fastpath_relay_channels(const struct fastpath_relay *fr)
{
	const struct relay_domain *d, *tmp;
	unsigned int n = 0;

	HASH_ITER(hh, fr->domains, d, tmp)
		n += d->n_links;
	return n / 2;
}

void fastpath_relay_forget(struct fastpath_relay *fr, uint16_t domid)
{
	struct relay_domain *d = find(fr, domid), *tmp;

	if (d) {
		for (unsigned int i = 0; i < d->n_links; i++)
			unlink_one(find(fr, d->links[i].peer), domid);
		HASH_DELETE(hh, fr->domains, d);
		free(d->links);
		free(d);
	}
	HASH_ITER(hh, fr->domains, d, tmp)
		for (unsigned int i = 0; i < d->n_pending;)
			if (d->pending[i].to == domid)
				drop_offer(d, i);
			else
				i++;
}

unsigned int fastpath_relay_pending(const struct fastpath_relay *fr, uint64_t now_usec)
{
	const struct relay_domain *d, *tmp;
	unsigned int n = 0;

	HASH_ITER(hh, fr->domains, d, tmp)
		for (unsigned int i = 0; i < d->n_pending; i++)
			n += d->pending[i].expires_usec > now_usec;
	return n;
}

/* The offer from -> to waiting, or -1. */
static int pending_to(const struct relay_domain *d, uint16_t to)
{
	for (unsigned int i = 0; d && i < d->n_pending; i++)
		if (d->pending[i].to == to)
			return (int)i;
	return -1;
}

/* The offer waiting from `from` to `to` on channel (0: whichever), or -1; *offerer: from's. */
static int waiting(const struct fastpath_relay *fr, uint16_t from, uint16_t to, uint64_t channel,
		   struct relay_domain **offerer)
{
	struct relay_domain *d = find(fr, from);
	int i = pending_to(d, to);

	*offerer = d;
	return i >= 0 && (!channel || d->pending[i].channel == channel) ? i : -1;
}

/* The offer from offerer to acceptor on channel, answered: it waits no more. */
static void drop_waiting(struct fastpath_relay *fr, uint16_t offerer, uint16_t acceptor,
			 uint64_t channel)
{
	struct relay_domain *d;
	int i = waiting(fr, offerer, acceptor, channel, &d);

	if (i >= 0)
		drop_offer(d, (unsigned int)i);
}

/* A Close of channel (0: any) between a and b ends the offer either made to the other. */
static void closed(struct fastpath_relay *fr, uint16_t a, uint16_t b, uint64_t channel)
{
	struct relay_domain *d;
	int i;

	if ((i = waiting(fr, a, b, channel, &d)) >= 0)
		drop_offer(d, (unsigned int)i);
	if ((i = waiting(fr, b, a, channel, &d)) >= 0)
		drop_offer(d, (unsigned int)i);
}

static bool running(const struct fastpath_relay *fr, uint16_t domid)
{
	const struct ck_member *mb = ck_memberset_find(fr->m->members, domid);

	return mb && mb->state == CK_MEMBER_RUNNING;
}

/* dom0's decision for the pair (fastpath-policy.h); without a policy, none is authorized. */
static bool authorized(const struct fastpath_relay *fr, uint16_t a, uint16_t b,
		       struct fastpath_verdict *why)
{
	const struct ck_member *ma = ck_memberset_find(fr->m->members, a);
	const struct ck_member *mb = ck_memberset_find(fr->m->members, b);

	*why = (struct fastpath_verdict){ .reason = FASTPATH_DENIAL_NO_SHARED_BRIDGE, .rule = -1 };
	return fr->policy && ma && mb && fastpath_policy_pair(fr->policy, ma, mb, why);
}

/* The grants are the offerer's (the lower domid's): the direction is the protocol's. */
static const char *wrong_direction(enum ck_msg_type type, uint16_t src, uint16_t dst)
{
	if (src == dst)
		return "fast path message to itself";
	if (type == CK_MSG_FASTPATH_OFFER && src > dst)
		return "fast path offer to a lower domid";
	if (type == CK_MSG_FASTPATH_ACCEPT && src < dst)
		return "fast path accept to a higher domid";
	return NULL;
}

/*
 * An Accept of the offer waiting from dst, or a Close of an offer waiting between the two:
 * as many as the offerer's budget and max_pending let it make, and no more.  They cost the
 * answerer nothing, so that a guest offering again and again cannot spend another's answers.
 */
static bool settles(const struct fastpath_relay *fr, uint16_t src, uint16_t dst,
		    const struct ck_msg *msg)
{
	uint64_t channel = ck_msg_fastpath_channel(msg);
	struct relay_domain *d;

	switch (msg->type) {
	case CK_MSG_FASTPATH_ACCEPT:	/* its channel is never 0 (ck_msg_fastpath_invalid) */
		return waiting(fr, dst, src, channel, &d) >= 0;
	case CK_MSG_FASTPATH_CLOSE:
		return waiting(fr, dst, src, channel, &d) >= 0 ||
		       waiting(fr, src, dst, channel, &d) >= 0;
	default:
		return false;
	}
}

/* Why a message from src (whose domain is d) may not go to dst now; 0 if it may. */
static uint32_t refusal(struct fastpath_relay *fr, struct relay_domain *d, uint16_t src,
			uint16_t dst, const struct ck_msg *msg, int64_t dst_version, uint64_t now)
{
	uint64_t channel = ck_msg_fastpath_channel(msg);
	bool free_answer = settles(fr, src, dst, msg);

	/* A Close only takes state away: it counts even when it is not passed on. */
	if (msg->type == CK_MSG_FASTPATH_CLOSE)
		closed(fr, src, dst, channel);
	if (!d || (!free_answer &&
		   !ck_ratelimit_allow(msg->type == CK_MSG_FASTPATH_OFFER ? &d->offers :
				       &d->answers, now, NULL))) {
		fr->counters.rate_limited++;
		return CKFP_CLOSE_UNREACHABLE;
	}
	if (dst_version < 0 || !running(fr, dst)) {
		fr->counters.unreachable++;
		return CKFP_CLOSE_UNREACHABLE;
	}
	if (dst_version < 1) {
		/* An agent older than the fast path ends its session on any of these. */
		fr->counters.no_fastpath++;
		return CKFP_CLOSE_NO_FASTPATH;
	}
	if (msg->type != CK_MSG_FASTPATH_CLOSE) {
		struct fastpath_verdict why;

		if (!authorized(fr, src, dst, &why)) {
			fr->counters.not_authorized++;
			ck_log_limited(&fr->log_rl, LOG_INFO, 0, "fast path: %s from domid %u to %u refused: %s",
				       ck_msg_type_name(msg->type), src, dst,
				       fastpath_denial_name(why.reason));
			return CKFP_CLOSE_REFUSED;
		}
	}
	if (msg->type == CK_MSG_FASTPATH_OFFER) {
		int i;

		expire(d, now);
		i = pending_to(d, dst);
		/* The same offer again (its Accept lost): it goes, and still waits once. */
		if (i >= 0 && d->pending[i].channel == channel) {
			drop_offer(d, (unsigned int)i);
			return 0;
		}
		if (i >= 0 || d->n_pending >= fr->cfg.max_pending) {
			fr->counters.pending_limited++;
			return CKFP_CLOSE_UNREACHABLE;
		}
	} else if (msg->type == CK_MSG_FASTPATH_ACCEPT) {
		struct relay_domain *offerer = find(fr, dst);

		if (offerer)
			expire(offerer, now);
		if (waiting(fr, dst, src, channel, &offerer) < 0) {
			fr->counters.unsolicited++;
			return CKFP_CLOSE_UNREACHABLE;
		}
	}
	return 0;
}

/* It went: the offer waits for its answer, or the answer ends it. */
static void delivered(struct fastpath_relay *fr, struct relay_domain *d, uint16_t src,
		      uint16_t dst, enum ck_msg_type type, uint64_t channel, uint64_t now)
{
	fr->counters.relayed++;
	log_debug("fast path: %s of channel %" PRIx64 " from domid %u to %u",
		  ck_msg_type_name(type), channel, src, dst);
	if (type == CK_MSG_FASTPATH_OFFER)
		d->pending[d->n_pending++] = (struct relay_offer){
			.to = dst, .channel = channel,
			.expires_usec = now + fr->cfg.offer_timeout_usec,
		};
	else if (type == CK_MSG_FASTPATH_ACCEPT)
		drop_waiting(fr, dst, src, channel);	/* it is a channel now: linked */
	else if (type == CK_MSG_FASTPATH_CLOSE)
		/*
		 * Only a Close its peer was given ends a channel here: one held back (over a
		 * budget, a full queue) leaves the peer's end up, which a revocation must reach.
		 */
		unlink_pair(fr, src, dst, channel);
}

int fastpath_relay_handle(struct fastpath_relay *fr, struct guests *gs,
			  struct guest_fastpath *fp)
{
	struct ck_msg *msg = fp->msg;
	uint16_t src = fp->src, *peer = ck_msg_fastpath_peer(msg), dst = *peer;
	uint64_t channel = ck_msg_fastpath_channel(msg), now = fr->clock();
	enum ck_msg_type type = msg->type;
	struct relay_domain *d = NULL;
	int64_t dst_version = -1;
	uint32_t version, reason;
	int r;

	fp->fault = wrong_direction(type, src, dst);
	if (fp->fault) {
		fr->counters.refused++;
		return -EPROTO;
	}
	/* A stranger gets no budget of its own: only its own queue holds the answers. */
	if (!running(fr, src)) {
		fr->counters.unreachable++;
		reason = CKFP_CLOSE_UNREACHABLE;
		goto answer;
	}
	d = domain(fr, src);
	if (guests_fastpath_version(gs, dst, &version) == 0)
		dst_version = version;
	reason = refusal(fr, d, src, dst, msg, dst_version, now);
	/* A channel it could not take back later is not passed on: its Accept is refused. */
	if (!reason && type == CK_MSG_FASTPATH_ACCEPT && link_pair(fr, dst, src, channel) < 0) {
		fr->counters.pending_limited++;
		reason = CKFP_CLOSE_UNREACHABLE;
	}
	if (!reason) {
		*peer = src;	/* the one thing the destination trusts: who sent it */
		r = guests_send(gs, dst, msg);
		if (r == 0) {
			delivered(fr, d, src, dst, type, channel, now);
			return 0;
		}
		if (type == CK_MSG_FASTPATH_ACCEPT)
			unlink_pair(fr, src, dst, channel);
		/* Its queue is full (it stopped reading, and is resynced), or it just ended. */
		if (r == -ENOBUFS)
			fr->counters.queue_full++;
		else
			fr->counters.unreachable++;
		reason = CKFP_CLOSE_UNREACHABLE;
	}
answer:
	/* A Close needs no answer: there is nothing left to give up on. */
	if (type == CK_MSG_FASTPATH_CLOSE)
		return 0;
	*msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .peer_domid = dst, .channel_id = channel, .reason = reason } };
	return SESSION_FASTPATH_ANSWER;
}

/* Both ends of channel between a and b are told to close it: dom0 no longer pairs them. */
static void unpair(struct fastpath_relay *fr, struct guests *gs, uint16_t a, uint16_t b,
		   uint64_t channel, const struct fastpath_verdict *why)
{
	struct ck_msg close = { .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .channel_id = channel, .reason = CKFP_CLOSE_REFUSED } };

	fr->counters.revoked++;
	log_info("fast path: domids %u and %u are no longer paired (%s): channel %" PRIx64
		 " closed", a, b, fastpath_denial_name(why->reason), channel);
	/*
	 * Lost with a queue that overflows (the guest is resynced), a Close still reaches the
	 * other end, whose module's teardown ends the ring for both.
	 */
	close.fastpath_close.peer_domid = b;
	guests_send(gs, a, &close);
	close.fastpath_close.peer_domid = a;
	guests_send(gs, b, &close);
}

/* d's channels and the offers it waits on that the policy no longer authorizes. */
static void reauthorize_domain(struct fastpath_relay *fr, struct guests *gs,
			       struct relay_domain *d)
{
	struct fastpath_verdict why;

	for (unsigned int i = 0; i < d->n_links;) {
		struct relay_link l = d->links[i];

		if (authorized(fr, d->domid, l.peer, &why)) {
			i++;
			continue;
		}
		unlink_pair(fr, d->domid, l.peer, 0);	/* takes links[i] away */
		unpair(fr, gs, d->domid, l.peer, l.channel, &why);
	}
	for (unsigned int i = 0; i < d->n_pending;) {
		struct relay_offer o = d->pending[i];

		if (authorized(fr, d->domid, o.to, &why)) {
			i++;
			continue;
		}
		drop_offer(d, i);
		unpair(fr, gs, d->domid, o.to, o.channel, &why);
	}
}

void fastpath_relay_reauthorize(struct fastpath_relay *fr, struct guests *gs, uint16_t domid)
{
	struct relay_domain *d = find(fr, domid);

	if (d)
		reauthorize_domain(fr, gs, d);
	/*
	 * Offers waiting *to* domid are not looked for (that is every domain's list): the
	 * Accept that would answer one is held to the policy as it comes, and refused.
	 */
}

void fastpath_relay_set_policy(struct fastpath_relay *fr, struct guests *gs,
			       const struct fastpath_policy *policy)
{
	struct relay_domain *d, *tmp;

	fr->policy = policy;
	if (!gs)
		return;
	HASH_ITER(hh, fr->domains, d, tmp)
		reauthorize_domain(fr, gs, d);
}
