// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path's set-up relay (cokeeperd/fastpath-relay.c) through the set of guests, over
 * fake streams (fake-guests.h): what is passed on and rewritten, what is answered with a
 * Close, and what one guest can make it do: budgets per domain that outlive its sessions,
 * answers apart from offers, one offer waiting per pair and max_pending per offerer, no
 * Accept without its offer, and the destination's queue limit.  The relay's clock is the
 * fixture's: a test moves it, none waits on it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fake-guests.h"
#include "helpers.h"

#define SECOND 1000000ull

/*
 * The destination learns the source from the sender's session, whatever the message says:
 * guest 3's offer reaches 9 as "from 3", and 9's accept reaches 3 as "from 9".
 */
START_TEST(fastpath_relayed_with_the_senders_domid)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fake *lo, *hi, *other;
	struct fixture f;

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	other = joined_as(&f, 5);
	send_offer(lo, 9, 0xc0ffee);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(hi->fastpath.fastpath_offer.peer_domid, 3);
	ck_assert_uint_eq(hi->fastpath.fastpath_offer.channel_id, 0xc0ffee);
	ck_assert_uint_eq(hi->fastpath.fastpath_offer.evtchn_port, 21);
	ck_assert_uint_eq(hi->fastpath.fastpath_offer.n_grefs, CKFP_GREFS(CKFP_RING_ORDER_MIN));
	ck_assert_uint_eq(hi->fastpath.fastpath_offer.grefs[128], 628);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_OFFER] + other->got[CK_MSG_FASTPATH_OFFER], 0);

	send_small(hi, CK_MSG_FASTPATH_ACCEPT, 3, 0xc0ffee);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_ACCEPT], 1);
	ck_assert_uint_eq(lo->fastpath.fastpath_accept.peer_domid, 9);
	ck_assert_uint_eq(lo->fastpath.fastpath_accept.channel_id, 0xc0ffee);

	/* A Close goes either way. */
	send_small(hi, CK_MSG_FASTPATH_CLOSE, 3, 0xc0ffee);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.peer_domid, 9);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.reason, CKFP_CLOSE_SHUTDOWN);
	ck_assert_uint_eq(f.relay.counters.relayed, 3);
	ck_assert(!lo->closed && !hi->closed && !other->closed);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
	fake_destroy(other);
}
END_TEST

/*
 * The relay finds its destination through an index by domid: the newest session of a domid
 * gets the message, an ended session is never found (no write to freed memory: ASan), and
 * a session that says Hello again under another domid (possible over Unix sockets) moves.
 */
START_TEST(fastpath_destination_index_follows_sessions)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	const struct ck_msg rehello = { .type = CK_MSG_HELLO,
		.hello = { .domid = 11, .version = CK_PROTOCOL_VERSION,
			   .fastpath_version = CK_FASTPATH_VERSION } };
	struct fake *lo, *first, *second;
	struct fixture f;

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	first = joined_as(&f, 9);
	second = joined_as(&f, 9);
	send_offer(lo, 9, 1);
	ck_assert_uint_eq(second->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(first->got[CK_MSG_FASTPATH_OFFER], 0);

	second->eof = true;		/* the newest ends: domid 9 is unreachable now */
	ck_stream_notify(&second->base);
	ck_assert(second->closed);
	send_small(lo, CK_MSG_FASTPATH_CLOSE, 9, 1);	/* its offer is over: it may offer again */
	send_offer(lo, 9, 2);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.reason, CKFP_CLOSE_UNREACHABLE);
	ck_assert_uint_eq(first->got[CK_MSG_FASTPATH_OFFER], 0);

	peer_sends(first, &rehello);	/* first now speaks for 11 */
	ck_stream_notify(&first->base);
	send_offer(lo, 11, 3);
	ck_assert_uint_eq(first->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(first->fastpath.fastpath_offer.channel_id, 3);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(first);
	fake_destroy(second);
}
END_TEST

/* Nobody to deliver to: a member without a session, a stranger, a member migrating away. */
START_TEST(fastpath_unreachable_is_answered_with_a_close)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct fake *lo, *leaving;
	struct ck_member mb;
	struct fixture f;

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	leaving = joined_as(&f, 40);
	ck_assert_int_eq(ck_memberset_copy(f.m->members, &set), 0);
	th_member(&mb, 40, 0);
	mb.state = CK_MEMBER_MIGRATING_OUT;
	ck_assert_int_eq(ck_memberset_put(set, &mb), 0);
	ck_assert_int_eq(ck_membership_commit(f.m, set, NULL), 0);

	send_offer(lo, 50, 7);		/* a member, no session */
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.peer_domid, 50);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.channel_id, 7);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.reason, CKFP_CLOSE_UNREACHABLE);
	send_offer(lo, 200, 8);		/* no such member */
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 2);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.peer_domid, 200);
	send_offer(lo, 40, 9);		/* a session, but not RUNNING */
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 3);
	ck_assert_uint_eq(leaving->got[CK_MSG_FASTPATH_OFFER], 0);
	/* A Close that cannot be delivered is not answered: the sender gave up already. */
	send_small(lo, CK_MSG_FASTPATH_CLOSE, 50, 7);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 3);
	ck_assert_uint_eq(f.relay.counters.unreachable, 4);
	ck_assert_uint_eq(f.relay.counters.relayed, 0);
	ck_assert(!lo->closed);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(leaving);
}
END_TEST

/*
 * An agent built before the fast path ends its session on any Fastpath* message: one whose
 * Hello announced no version is sent none, and the sender hears NO_FASTPATH instead.
 */
START_TEST(fastpath_never_sent_to_an_agent_that_did_not_announce_it)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	const struct ck_msg hello = { .type = CK_MSG_HELLO,
		.hello = { .domid = 9, .version = CK_PROTOCOL_VERSION, .epoch = EPOCH,
			   .fastpath_version = CK_FASTPATH_VERSION } };
	struct fake *lo, *old;
	struct fixture f;

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	old = joined_with(&f, 9, 0);
	send_offer(lo, 9, 0xfeed);
	ck_assert_uint_eq(old->got[CK_MSG_FASTPATH_OFFER], 0);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.peer_domid, 9);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.channel_id, 0xfeed);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.reason, CKFP_CLOSE_NO_FASTPATH);
	/* Nor a Close, which needs no answer. */
	send_small(lo, CK_MSG_FASTPATH_CLOSE, 9, 0xfeed);
	ck_assert_uint_eq(old->got[CK_MSG_FASTPATH_CLOSE], 0);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(f.relay.counters.no_fastpath, 2);
	ck_assert_uint_eq(f.relay.counters.unreachable, 0);
	ck_assert_uint_eq(f.relay.counters.relayed, 0);

	/* Its latest Hello is what counts: one that announces it is relayed to from then on. */
	peer_sends(old, &hello);
	ck_stream_notify(&old->base);
	send_offer(lo, 9, 0xbeef);
	ck_assert_uint_eq(old->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(old->fastpath.fastpath_offer.channel_id, 0xbeef);
	ck_assert_uint_eq(f.relay.counters.relayed, 1);
	ck_assert(!lo->closed && !old->closed);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(old);
}
END_TEST

static void expect_refused(struct fake *k, struct fake *dest)
{
	ck_assert(k->closed);
	ck_assert_uint_eq(k->bye_code, CK_BYE_PROTOCOL_ERROR);
	ck_assert_uint_eq(dest->got[CK_MSG_FASTPATH_OFFER] + dest->got[CK_MSG_FASTPATH_ACCEPT] +
				  dest->got[CK_MSG_FASTPATH_CLOSE], 0);
}

/* The grants are the lower domid's: an offer goes up, an accept down, nothing to oneself. */
START_TEST(fastpath_wrong_direction_ends_the_session)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fake *lo, *hi, *k;
	struct fixture f;

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	send_offer(hi, 3, 1);
	expect_refused(hi, lo);
	fake_destroy(hi);

	hi = joined_as(&f, 9);
	send_small(lo, CK_MSG_FASTPATH_ACCEPT, 9, 1);
	expect_refused(lo, hi);
	fake_destroy(lo);

	lo = joined_as(&f, 3);
	send_small(lo, CK_MSG_FASTPATH_CLOSE, 3, 1);
	expect_refused(lo, hi);
	ck_assert_uint_eq(f.relay.counters.refused, 3);
	fake_destroy(lo);

	/* Before its Hello a guest has no identity to relay from. */
	k = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &k->base), 0);
	send_offer(k, 9, 1);
	expect_refused(k, hi);
	fake_destroy(k);
	teardown(&f);
	fake_destroy(hi);
}
END_TEST

/* Every Close a guest was sent with this reason. */
static void expect_answer(struct fake *k, unsigned int closes, uint16_t peer, uint64_t channel)
{
	ck_assert_uint_eq(k->got[CK_MSG_FASTPATH_CLOSE], closes);
	ck_assert_uint_eq(k->fastpath.fastpath_close.peer_domid, peer);
	ck_assert_uint_eq(k->fastpath.fastpath_close.channel_id, channel);
	ck_assert_uint_eq(k->fastpath.fastpath_close.reason, CKFP_CLOSE_UNREACHABLE);
}

/*
 * A guest's budget is its domain's: over it every message is answered with a Close (never
 * dropped unsaid), a new session of the same domid starts where the last one stood, another
 * guest is not held back, and the next interval gives it back.
 */
START_TEST(fastpath_budgets_belong_to_the_domain)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	const struct fastpath_relay_config relay = { .burst = 4, .interval_usec = 3600 * SECOND };
	struct fake *lo, *hi, *polite;
	struct fixture f;

	setup_relay(&f, &cfg, &relay);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	polite = joined_as(&f, 4);
	for (unsigned int i = 1; i <= 10; i++) {
		send_offer(lo, 9, i);
		send_small(lo, CK_MSG_FASTPATH_CLOSE, 9, i);
	}
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 4);
	/* The Close of an offer waiting is free; of one never made, it costs: 4 more went. */
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_CLOSE], 8);
	expect_answer(lo, 6, 9, 10);	/* each offer over the budget; a Close is never answered */
	ck_assert_uint_eq(f.relay.counters.rate_limited, 8);

	/* Unreachable ones count too: a flood of them costs as much. */
	send_offer(lo, 50, 11);
	expect_answer(lo, 7, 50, 11);
	ck_assert_uint_eq(f.relay.counters.rate_limited, 9);

	/* Reconnecting gives it nothing. */
	lo->eof = true;
	ck_stream_notify(&lo->base);
	ck_assert(lo->closed);
	fake_destroy(lo);
	lo = joined_as(&f, 3);
	send_offer(lo, 9, 12);
	expect_answer(lo, 1, 9, 12);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 4);

	/* Another guest's budget is its own. */
	send_offer(polite, 9, 13);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 5);
	ck_assert_uint_eq(hi->fastpath.fastpath_offer.peer_domid, 4);

	/* The next interval. */
	f.now_usec += 3600 * SECOND;
	send_offer(lo, 9, 14);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 6);
	ck_assert_uint_eq(hi->fastpath.fastpath_offer.channel_id, 14);
	ck_assert(!lo->closed && !hi->closed && !polite->closed);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
	fake_destroy(polite);
}
END_TEST

/*
 * A guest that answers another's offers (as its module does, however many come) spends its
 * answers' budget, never its offers': its own offers still go.
 */
START_TEST(fastpath_answers_have_a_budget_of_their_own)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	const struct fastpath_relay_config relay = { .burst = 2, .interval_usec = 3600 * SECOND };
	struct fake *attacker, *victim, *peers[2];
	struct fixture f;

	setup_relay(&f, &cfg, &relay);
	attacker = joined_as(&f, 3);
	victim = joined_as(&f, 9);
	peers[0] = joined_as(&f, 10);
	peers[1] = joined_as(&f, 11);
	send_offer(attacker, 9, 1);
	send_small(victim, CK_MSG_FASTPATH_ACCEPT, 3, 1);
	send_small(attacker, CK_MSG_FASTPATH_CLOSE, 9, 1);
	send_offer(attacker, 9, 2);
	send_small(victim, CK_MSG_FASTPATH_ACCEPT, 3, 2);
	ck_assert_uint_eq(attacker->got[CK_MSG_FASTPATH_ACCEPT], 2);
	/* Its answers are spent: the next is refused and it is told. */
	send_small(attacker, CK_MSG_FASTPATH_CLOSE, 9, 2);
	send_offer(attacker, 9, 3);
	ck_assert_uint_eq(victim->got[CK_MSG_FASTPATH_OFFER], 2);	/* the attacker's too */
	expect_answer(attacker, 0 + 1, 9, 3);
	send_small(victim, CK_MSG_FASTPATH_ACCEPT, 3, 3);
	ck_assert_uint_eq(attacker->got[CK_MSG_FASTPATH_ACCEPT], 2);
	expect_answer(victim, 3, 3, 3);	/* the attacker's two Closes, and its own */
	/* Its own offers are untouched. */
	send_offer(victim, 10, 4);
	send_offer(victim, 11, 5);
	ck_assert_uint_eq(peers[0]->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(peers[1]->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(victim->got[CK_MSG_FASTPATH_CLOSE], 3);
	teardown(&f);
	fake_destroy(attacker);
	fake_destroy(victim);
	fake_destroy(peers[0]);
	fake_destroy(peers[1]);
}
END_TEST

/*
 * Answering the offers waiting for it costs a guest nothing: an attacker that offers as fast
 * as its budget lets it, and is accepted each time, leaves the victim's answers whole for an
 * honest offerer.
 */
START_TEST(fastpath_settling_an_offer_is_free)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	const struct fastpath_relay_config relay = { .burst = 2, .interval_usec = 3600 * SECOND };
	struct fake *attacker, *honest, *victim;
	struct fixture f;

	setup_relay(&f, &cfg, &relay);
	attacker = joined_as(&f, 3);
	honest = joined_as(&f, 4);
	victim = joined_as(&f, 9);
	for (uint64_t ch = 1; ch <= 2; ch++) {
		send_offer(attacker, 9, ch);
		send_small(victim, CK_MSG_FASTPATH_ACCEPT, 3, ch);
		send_small(victim, CK_MSG_FASTPATH_CLOSE, 3, ch);	/* and tears it down */
	}
	ck_assert_uint_eq(attacker->got[CK_MSG_FASTPATH_ACCEPT], 2);
	send_offer(honest, 9, 7);
	send_small(victim, CK_MSG_FASTPATH_ACCEPT, 4, 7);
	ck_assert_uint_eq(honest->got[CK_MSG_FASTPATH_ACCEPT], 1);
	ck_assert_uint_eq(victim->got[CK_MSG_FASTPATH_CLOSE], 0);
	ck_assert_uint_eq(f.relay.counters.rate_limited, 0);
	teardown(&f);
	fake_destroy(attacker);
	fake_destroy(honest);
	fake_destroy(victim);
}
END_TEST

/*
 * One offer waits per ordered pair (the module has one set-up per peer and offers again only
 * after a Close), and at most max_pending from one offerer: a peer that never answers is
 * offered once, whoever keeps asking.
 */
START_TEST(fastpath_offers_waiting_are_bounded)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	const struct fastpath_relay_config relay = { .burst = 1000, .max_pending = 2 };
	struct fake *lo, *peers[3];
	struct fixture f;

	setup_relay(&f, &cfg, &relay);
	lo = joined_as(&f, 3);
	for (unsigned int i = 0; i < 3; i++)
		peers[i] = joined_as(&f, 9 + i);
	for (unsigned int i = 1; i <= 48; i++)
		send_offer(lo, 9, i);
	ck_assert_uint_eq(peers[0]->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(peers[0]->fastpath.fastpath_offer.channel_id, 1);
	expect_answer(lo, 47, 9, 48);
	ck_assert_uint_eq(f.relay.counters.pending_limited, 47);
	send_offer(lo, 9, 1);		/* the same offer again goes, and still waits once */
	ck_assert_uint_eq(peers[0]->got[CK_MSG_FASTPATH_OFFER], 2);
	ck_assert_uint_eq(fastpath_relay_pending(&f.relay, f.now_usec), 1);
	send_offer(lo, 10, 100);
	ck_assert_uint_eq(peers[1]->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(fastpath_relay_pending(&f.relay, f.now_usec), 2);
	send_offer(lo, 11, 101);		/* a third waiting: over max_pending */
	ck_assert_uint_eq(peers[2]->got[CK_MSG_FASTPATH_OFFER], 0);
	expect_answer(lo, 48, 11, 101);
	/* The peer refuses the first: a place is free. */
	send_small(peers[0], CK_MSG_FASTPATH_CLOSE, 3, 1);
	ck_assert_uint_eq(fastpath_relay_pending(&f.relay, f.now_usec), 1);
	send_offer(lo, 11, 102);
	ck_assert_uint_eq(peers[2]->got[CK_MSG_FASTPATH_OFFER], 1);
	teardown(&f);
	fake_destroy(lo);
	for (unsigned int i = 0; i < 3; i++)
		fake_destroy(peers[i]);
}
END_TEST

/* An Accept goes only for the offer waiting, of that channel, once. */
START_TEST(fastpath_accept_only_for_an_offer_waiting)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fake *lo, *hi;
	struct fixture f;

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	send_small(hi, CK_MSG_FASTPATH_ACCEPT, 3, 7);	/* nobody offered */
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_ACCEPT], 0);
	expect_answer(hi, 1, 3, 7);
	send_offer(lo, 9, 8);
	send_small(hi, CK_MSG_FASTPATH_ACCEPT, 3, 9);	/* another channel */
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_ACCEPT], 0);
	expect_answer(hi, 2, 3, 9);
	send_small(hi, CK_MSG_FASTPATH_ACCEPT, 3, 8);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_ACCEPT], 1);
	send_small(hi, CK_MSG_FASTPATH_ACCEPT, 3, 8);	/* answered already */
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_ACCEPT], 1);
	expect_answer(hi, 3, 3, 8);
	ck_assert_uint_eq(f.relay.counters.unsolicited, 3);
	ck_assert_uint_eq(fastpath_relay_pending(&f.relay, f.now_usec), 0);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
}
END_TEST

/* An offer nobody answered is forgotten after offer_timeout, and with a member that leaves. */
START_TEST(fastpath_offers_expire_and_leave_with_their_members)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	const struct fastpath_relay_config relay = { .burst = 100,
						     .offer_timeout_usec = 10 * SECOND };
	struct fake *lo, *hi;
	struct fixture f;

	setup_relay(&f, &cfg, &relay);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	send_offer(lo, 9, 1);
	f.now_usec += 10 * SECOND - 1;
	send_offer(lo, 9, 2);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 1);
	f.now_usec += 1;
	ck_assert_uint_eq(fastpath_relay_pending(&f.relay, f.now_usec), 0);
	send_small(hi, CK_MSG_FASTPATH_ACCEPT, 3, 1);	/* too late */
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_ACCEPT], 0);
	send_offer(lo, 9, 3);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 2);
	ck_assert_uint_eq(fastpath_relay_pending(&f.relay, f.now_usec), 1);
	fastpath_relay_forget(&f.relay, 9);	/* the hub, when 9 leaves */
	ck_assert_uint_eq(fastpath_relay_pending(&f.relay, f.now_usec), 0);
	send_small(hi, CK_MSG_FASTPATH_ACCEPT, 3, 3);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_ACCEPT], 0);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
}
END_TEST

/*
 * What a guest is relayed counts against its queue limit as it is queued: a destination
 * that never reads holds at most its limit, is resynced like one that missed changes, and
 * the sender is told; the sender's own answers are held to its limit too.
 */
START_TEST(fastpath_relayed_bytes_count_against_the_queue_limit)
{
	const struct guests_config cfg = { .queue_limit = 16384 };
	const struct fastpath_relay_config relay = { .burst = 100000 };
	struct fake *lo, *hi;
	struct fixture f;
	size_t most = 0;

	setup_relay(&f, &cfg, &relay);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	hi->blocked = true;
	for (unsigned int i = 1; i <= 200; i++) {
		send_offer(lo, 9, i);
		send_small(lo, CK_MSG_FASTPATH_CLOSE, 9, i);
		if (ck_stream_queued(&hi->base) > most)
			most = ck_stream_queued(&hi->base);
	}
	ck_assert_uint_le(most, cfg.queue_limit);
	ck_assert_uint_gt(f.relay.counters.queue_full, 0);
	ck_assert_uint_gt(guests_counters(f.gs)->session.queue_overflows, 0);
	/* Once over, it is sent nothing until it has read: one overflow, not one a message. */
	ck_assert_uint_eq(guests_counters(f.gs)->session.queue_overflows, 1);
	/* Every Offer that did not fit was answered (a Close that did not is not). */
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE] * 2, f.relay.counters.queue_full);
	ck_assert_uint_gt(lo->got[CK_MSG_FASTPATH_CLOSE], 0);
	ck_assert(!hi->closed && !lo->closed);
	/* It reads again: it is owed a snapshot, which it gets. */
	hi->blocked = false;
	ck_stream_notify(&hi->base);
	ck_assert_uint_eq(ck_stream_queued(&hi->base), 0);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, 3);	/* two joins, one resync */

	/* A sender that never reads its answers: they stop at its limit as well. */
	lo->blocked = true;
	for (unsigned int i = 1000; i < 1200; i++)
		send_offer(lo, 50, i);
	ck_assert_uint_le(ck_stream_queued(&lo->base), cfg.queue_limit);
	ck_assert(!lo->closed);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
}
END_TEST

/* Puts member domid's vif on bridge (empty: none) and commits it, as a scan would. */
static void plug(struct fixture *f, uint16_t domid, const char *bridge, bool rate_limited)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct ck_delta delta;
	struct ck_member mb;

	ck_assert_int_eq(ck_memberset_copy(f->m->members, &set), 0);
	mb = *ck_memberset_find(f->m->members, domid);
	snprintf(mb.nics[0].bridge, sizeof(mb.nics[0].bridge), "%s", bridge);
	mb.nics[0].rate_limited = rate_limited;
	ck_assert_int_eq(ck_memberset_put(set, &mb), 0);
	ck_assert_int_eq(ck_membership_commit(f->m, set, &delta), 0);
	ck_delta_reset(&delta);
	fastpath_relay_reauthorize(&f->relay, f->gs, domid);
}

/* Sets up a channel lo -> hi through the relay. */
static void paired(struct fake *lo, struct fake *hi, uint16_t lo_id, uint16_t hi_id,
		   uint64_t channel)
{
	send_offer(lo, hi_id, channel);
	ck_assert_uint_eq(hi->fastpath.fastpath_offer.channel_id, channel);
	send_small(hi, CK_MSG_FASTPATH_ACCEPT, lo_id, channel);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_ACCEPT], 1);
}

/*
 * dom0 decides who pairs: members on different bridges, or with a rate= on a vif, never get
 * each other's offers; the offerer hears REFUSED and its offer is counted.
 */
START_TEST(fastpath_pairs_only_what_dom0_authorizes)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fake *lo, *hi;
	struct fixture f;

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	plug(&f, 9, "xenbr1", false);
	send_offer(lo, 9, 1);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 0);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.reason, CKFP_CLOSE_REFUSED);
	ck_assert_uint_eq(f.relay.counters.not_authorized, 1);

	plug(&f, 9, "xenbr0", true);	/* the same bridge, but shaped by dom0 */
	send_small(lo, CK_MSG_FASTPATH_CLOSE, 9, 1);
	send_offer(lo, 9, 2);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 0);
	ck_assert_uint_eq(f.relay.counters.not_authorized, 2);

	plug(&f, 9, "xenbr0", false);
	send_offer(lo, 9, 3);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(f.relay.counters.not_authorized, 2);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
}
END_TEST

/*
 * A pair that loses its authorization loses its channel within that change: its vif moved
 * to another bridge, or a new policy denies it.  Both ends are told, once; a channel closed
 * by its ends before is not closed again.
 */
START_TEST(fastpath_channel_closed_when_its_pair_is_no_longer_authorized)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fastpath_policy *deny = NULL;
	struct fake *lo, *hi, *other;
	struct fixture f;
	char err[128];

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	other = joined_as(&f, 12);
	paired(lo, hi, 3, 9, 0xa);
	paired(hi, other, 9, 12, 0xb);
	ck_assert_uint_eq(fastpath_relay_channels(&f.relay), 2);

	plug(&f, 3, "xenbr1", false);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.peer_domid, 9);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.channel_id, 0xa);
	ck_assert_uint_eq(lo->fastpath.fastpath_close.reason, CKFP_CLOSE_REFUSED);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(hi->fastpath.fastpath_close.peer_domid, 3);
	ck_assert_uint_eq(other->got[CK_MSG_FASTPATH_CLOSE], 0);
	ck_assert_uint_eq(f.relay.counters.revoked, 1);
	ck_assert_uint_eq(fastpath_relay_channels(&f.relay), 1);

	/* The same change again closes nothing more. */
	fastpath_relay_reauthorize(&f.relay, f.gs, 3);
	ck_assert_uint_eq(lo->got[CK_MSG_FASTPATH_CLOSE] + hi->got[CK_MSG_FASTPATH_CLOSE], 2);

	ck_assert_int_eq(fastpath_policy_parse("deny name vm-12\n", 16, "test", &deny, err,
					       sizeof(err)), 0);
	fastpath_relay_set_policy(&f.relay, f.gs, deny);
	ck_assert_uint_eq(hi->got[CK_MSG_FASTPATH_CLOSE], 2);
	ck_assert_uint_eq(hi->fastpath.fastpath_close.peer_domid, 12);
	ck_assert_uint_eq(other->got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(other->fastpath.fastpath_close.channel_id, 0xb);
	ck_assert_uint_eq(f.relay.counters.revoked, 2);
	ck_assert_uint_eq(fastpath_relay_channels(&f.relay), 0);
	fastpath_relay_set_policy(&f.relay, f.gs, f.policy);
	fastpath_policy_free(deny);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
	fake_destroy(other);
}
END_TEST

/* A channel its ends closed, or one of whose members left, is nothing to take back. */
START_TEST(fastpath_channels_forgotten_when_closed_or_gone)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fake *lo, *hi;
	struct fixture f;

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	paired(lo, hi, 3, 9, 0xa);
	send_small(lo, CK_MSG_FASTPATH_CLOSE, 9, 0xa);
	ck_assert_uint_eq(fastpath_relay_channels(&f.relay), 0);
	plug(&f, 9, "xenbr1", false);
	ck_assert_uint_eq(f.relay.counters.revoked, 0);
	plug(&f, 9, "xenbr0", false);

	send_offer(lo, 9, 0xc);
	send_small(hi, CK_MSG_FASTPATH_ACCEPT, 3, 0xc);
	ck_assert_uint_eq(fastpath_relay_channels(&f.relay), 1);
	fastpath_relay_forget(&f.relay, 9);
	ck_assert_uint_eq(fastpath_relay_channels(&f.relay), 0);
	plug(&f, 3, "xenbr1", false);
	ck_assert_uint_eq(f.relay.counters.revoked, 0);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
}
END_TEST

/*
 * A Close the relay does not pass on (over the sender's budget) leaves its peer's end up:
 * the channel is still one to take back when the pair loses its authorization.
 */
START_TEST(fastpath_close_held_back_keeps_the_channel_revocable)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fastpath_policy *deny = NULL;
	struct fake *lo, *hi;
	struct fixture f;
	char err[128];

	setup(&f, &cfg);
	lo = joined_as(&f, 3);
	hi = joined_as(&f, 9);
	paired(lo, hi, 3, 9, 0xa);
	/* Closes of channels that do not exist spend lo's answers... */
	for (unsigned int i = 0; i < FASTPATH_RELAY_BURST_DEFAULT; i++)
		send_small(lo, CK_MSG_FASTPATH_CLOSE, 9, 0x100 + i);
	/* ...so its Close of the real one is held back: hi's end stays up. */
	send_small(lo, CK_MSG_FASTPATH_CLOSE, 9, 0xa);
	ck_assert_uint_ge(f.relay.counters.rate_limited, 1);
	ck_assert_uint_eq(fastpath_relay_channels(&f.relay), 1);

	ck_assert_int_eq(fastpath_policy_parse("deny name vm-9\n", 15, "test", &deny, err,
					       sizeof(err)), 0);
	fastpath_relay_set_policy(&f.relay, f.gs, deny);
	ck_assert_uint_eq(f.relay.counters.revoked, 1);
	ck_assert_uint_eq(hi->fastpath.fastpath_close.peer_domid, 3);
	ck_assert_uint_eq(hi->fastpath.fastpath_close.channel_id, 0xa);
	ck_assert_uint_eq(hi->fastpath.fastpath_close.reason, CKFP_CLOSE_REFUSED);
	fastpath_relay_set_policy(&f.relay, f.gs, f.policy);
	fastpath_policy_free(deny);
	teardown(&f);
	fake_destroy(lo);
	fake_destroy(hi);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay");

	th_add(s, fastpath_relayed_with_the_senders_domid);
	th_add(s, fastpath_pairs_only_what_dom0_authorizes);
	th_add(s, fastpath_channel_closed_when_its_pair_is_no_longer_authorized);
	th_add(s, fastpath_channels_forgotten_when_closed_or_gone);
	th_add(s, fastpath_close_held_back_keeps_the_channel_revocable);
	th_add(s, fastpath_destination_index_follows_sessions);
	th_add(s, fastpath_unreachable_is_answered_with_a_close);
	th_add(s, fastpath_never_sent_to_an_agent_that_did_not_announce_it);
	th_add(s, fastpath_wrong_direction_ends_the_session);
	th_add(s, fastpath_budgets_belong_to_the_domain);
	th_add(s, fastpath_answers_have_a_budget_of_their_own);
	th_add(s, fastpath_settling_an_offer_is_free);
	th_add(s, fastpath_offers_waiting_are_bounded);
	th_add(s, fastpath_accept_only_for_an_offer_waiting);
	th_add(s, fastpath_offers_expire_and_leave_with_their_members);
	th_add(s, fastpath_relayed_bytes_count_against_the_queue_limit);
	return th_run(s);
}
