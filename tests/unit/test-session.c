// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's session state machine with the in-memory sink, fed frames as cokeeperd would
 * send them; what the session sends back is decoded and checked.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "failalloc.h"
#include "helpers.h"
#include "session.h"

#define EPOCH 0xfeedull

/* A sink that records calls and can be told to fail. */
struct test_sink {
	struct sink base;
	struct sink *inner;
	unsigned int replaces, applies;
	int fail_apply, fail_replace;
};

static int ts_replace(struct sink *s, uint64_t epoch, uint64_t gen,
		      const struct ck_memberset *members)
{
	struct test_sink *t = (struct test_sink *)s;

	t->replaces++;
	return t->fail_replace ?: t->inner->ops->replace(t->inner, epoch, gen, members);
}

static int ts_apply(struct sink *s, const struct ck_delta *d)
{
	struct test_sink *t = (struct test_sink *)s;

	t->applies++;
	return t->fail_apply ?: t->inner->ops->apply(t->inner, d);
}

static void ts_free(struct sink *s)
{
}

static const struct sink_ops test_sink_ops = {
	.name = "test", .replace = ts_replace, .apply = ts_apply, .free = ts_free,
};

struct fixture {
	struct test_sink sink;
	struct session *session;
	struct ck_membership *daemon;	/* what cokeeperd holds */
	struct ck_frame_decoder *sent_dec;
	struct ck_msg last_sent;
	unsigned int hellos, acks;
	uint32_t rng;
};

static int on_sent(struct ck_msg *msg, void *userdata)
{
	struct fixture *f = userdata;

	if (msg->type == CK_MSG_HELLO)
		f->hellos++;
	if (msg->type == CK_MSG_ACK)
		f->acks++;
	f->last_sent = *msg;
	return 0;
}

static int capture(const uint8_t *frame, size_t len, void *userdata)
{
	struct fixture *f = userdata;

	return ck_frame_decoder_feed(f->sent_dec, frame, len, on_sent, f, NULL);
}

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->rng = 12345;
	f->sink.base.ops = &test_sink_ops;
	ck_assert_int_eq(sink_memory_new(&f->sink.inner, NULL), 0);
	ck_assert_int_eq(ck_frame_decoder_new(&f->sent_dec), 0);
	ck_assert_int_eq(session_new(&f->session, &f->sink.base, 7, capture, f), 0);
	ck_assert_int_eq(ck_membership_new(&f->daemon, EPOCH, 64), 0);
}

static void teardown(struct fixture *f)
{
	session_free(f->session);
	f->sink.inner->ops->free(f->sink.inner);
	ck_frame_decoder_free(f->sent_dec);
	ck_membership_free(f->daemon);
}

/* Frames a message and hands it to the session as the channel would. */
static int feed(struct ck_msg *msg, void *userdata)
{
	struct fixture *f = userdata;
	uint8_t *buf;
	size_t len;
	int r;

	ck_assert_int_eq(ck_frame_encode(msg, &buf, &len), 0);
	r = session_receive(f->session, buf, len, NULL);
	free(buf);
	return r;
}

/* The daemon's membership takes a random step; returns the delta it would push. */
static struct ck_delta step(struct fixture *f)
{
	_cleanup_memberset_ struct ck_memberset *next = NULL;
	struct ck_delta d;
	struct ck_member m;

	ck_assert_int_eq(ck_memberset_copy(f->daemon->members, &next), 0);
	th_random_member(&m, 1 + th_below(&f->rng, 20), &f->rng);
	if (ck_memberset_find(next, m.domid))
		ck_memberset_remove(next, m.domid);
	else
		ck_assert_int_eq(ck_memberset_put(next, &m), 0);
	ck_assert_int_eq(ck_membership_commit(f->daemon, next, &d), 0);
	return d;
}

static void sync_snapshot(struct fixture *f)
{
	ck_assert_int_eq(ck_chunk_snapshot(f->daemon, feed, f), 0);
}

static bool in_sync(struct fixture *f)
{
	return ck_memberset_equal(session_replica(f->session)->members, f->daemon->members) &&
	       session_replica(f->session)->gen == f->daemon->gen;
}

START_TEST(start_sends_hello_without_epoch)
{
	struct fixture f;

	setup(&f);
	ck_assert_int_eq(session_start(f.session), 0);
	ck_assert_uint_eq(f.hellos, 1);
	ck_assert_uint_eq(f.last_sent.hello.domid, 7);
	ck_assert_uint_eq(f.last_sent.hello.epoch, 0);
	ck_assert_uint_eq(f.last_sent.hello.version, CK_PROTOCOL_VERSION);
	ck_assert_uint_eq(f.last_sent.hello.fastpath_version, CK_FASTPATH_VERSION);
	teardown(&f);
}
END_TEST

static int feed_announcing(struct ck_msg *msg, void *userdata)
{
	msg->fastpath_version = CK_FASTPATH_VERSION;
	return feed(msg, userdata);
}

/*
 * What cokeeperd relays is known from its answers in this connection only: nothing before
 * the first, nothing from one that does not say (older than the fast path), nothing carried
 * over to the next connection, which may be to another cokeeperd.
 */
START_TEST(daemon_fastpath_version_is_per_connection)
{
	struct ck_delta empty;
	struct fixture f;

	setup(&f);
	session_start(f.session);
	ck_assert_uint_eq(session_daemon_fastpath(f.session), 0);
	sync_snapshot(&f);	/* as an older cokeeperd sends it */
	ck_assert(in_sync(&f));
	ck_assert_uint_eq(session_daemon_fastpath(f.session), 0);

	session_start(f.session);
	empty = (struct ck_delta){ .epoch = EPOCH, .base_gen = f.daemon->gen,
				   .new_gen = f.daemon->gen };
	ck_assert_int_eq(ck_chunk_delta(&empty, feed_announcing, &f), 0);
	ck_assert_uint_eq(session_daemon_fastpath(f.session), CK_FASTPATH_VERSION);

	session_start(f.session);
	ck_assert_uint_eq(session_daemon_fastpath(f.session), 0);
	ck_assert_int_eq(ck_chunk_snapshot(f.daemon, feed_announcing, &f), 0);
	ck_assert_uint_eq(session_daemon_fastpath(f.session), CK_FASTPATH_VERSION);
	teardown(&f);
}
END_TEST

START_TEST(snapshot_then_deltas_are_applied_and_acked)
{
	struct fixture f;

	setup(&f);
	session_start(f.session);
	for (int i = 0; i < 5; i++) {
		struct ck_delta d = step(&f);

		ck_delta_reset(&d);
	}
	sync_snapshot(&f);
	ck_assert(in_sync(&f));
	ck_assert(session_synced(f.session));
	ck_assert_uint_eq(f.acks, 1);
	ck_assert_uint_eq(f.last_sent.ack.gen, f.daemon->gen);
	for (int i = 0; i < 50; i++) {
		struct ck_delta d = step(&f);

		ck_assert_int_eq(ck_chunk_delta(&d, feed, &f), 0);
		ck_assert(in_sync(&f));
		ck_assert_uint_eq(f.last_sent.type, CK_MSG_ACK);
		ck_assert_uint_eq(f.last_sent.ack.gen, f.daemon->gen);
		ck_delta_reset(&d);
	}
	ck_assert_uint_eq(f.sink.replaces, 1);
	ck_assert_uint_eq(f.sink.applies, 50);
	teardown(&f);
}
END_TEST

START_TEST(gap_asks_for_resync_and_applies_nothing)
{
	struct fixture f;
	struct ck_delta lost, next;
	uint64_t gen;

	setup(&f);
	session_start(f.session);
	sync_snapshot(&f);
	gen = session_replica(f.session)->gen;
	lost = step(&f);
	next = step(&f);
	f.hellos = 0;
	ck_assert_int_eq(ck_chunk_delta(&next, feed, &f), 0);
	ck_assert_uint_eq(f.hellos, 1);	/* a resync request */
	ck_assert_uint_eq(f.last_sent.hello.gen, gen);
	ck_assert_uint_eq(session_replica(f.session)->gen, gen);
	ck_assert_uint_eq(f.sink.applies, 0);
	/* The daemon answers the Hello with the log since gen: the replica catches up. */
	{
		struct ck_delta catchup;

		ck_assert_int_eq(ck_membership_delta_since(f.daemon, EPOCH, gen, &catchup), 0);
		ck_assert_int_eq(ck_chunk_delta(&catchup, feed, &f), 0);
		ck_delta_reset(&catchup);
	}
	ck_assert(in_sync(&f));
	ck_delta_reset(&lost);
	ck_delta_reset(&next);
	teardown(&f);
}
END_TEST

START_TEST(new_epoch_replaces_everything)
{
	struct fixture f;
	struct ck_membership *restarted;
	struct ck_memberset *set;
	struct ck_member m;

	setup(&f);
	session_start(f.session);
	for (int i = 0; i < 10; i++) {
		struct ck_delta d = step(&f);

		ck_delta_reset(&d);
	}
	sync_snapshot(&f);
	/* cokeeperd restarts with a new epoch and a host of one member. */
	ck_assert_int_eq(ck_membership_new(&restarted, EPOCH + 1, 64), 0);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	th_member(&m, 99, 0);
	ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	ck_assert_int_eq(ck_membership_commit(restarted, set, NULL), 0);
	ck_assert_int_eq(ck_chunk_snapshot(restarted, feed, &f), 0);
	ck_assert_uint_eq(ck_memberset_count(session_replica(f.session)->members), 1);
	ck_assert_ptr_nonnull(ck_memberset_find(session_replica(f.session)->members, 99));
	ck_assert_uint_eq(session_replica(f.session)->epoch, EPOCH + 1);

	/* A late delta of the old epoch is not applied; the agent asks for a resync. */
	{
		struct ck_delta old = step(&f);

		f.hellos = 0;
		ck_assert_int_eq(ck_chunk_delta(&old, feed, &f), 0);
		ck_assert_uint_eq(f.hellos, 1);
		ck_assert_uint_eq(ck_memberset_count(session_replica(f.session)->members), 1);
		ck_delta_reset(&old);
	}
	ck_memberset_free(set);
	ck_membership_free(restarted);
	teardown(&f);
}
END_TEST

START_TEST(duplicate_delta_is_harmless)
{
	struct fixture f;
	struct ck_delta d;

	setup(&f);
	session_start(f.session);
	sync_snapshot(&f);
	d = step(&f);
	ck_assert_int_eq(ck_chunk_delta(&d, feed, &f), 0);
	ck_assert_int_eq(ck_chunk_delta(&d, feed, &f), 0);
	ck_assert(in_sync(&f));
	ck_assert_uint_eq(f.sink.applies, 1);
	ck_assert_uint_eq(session_stats(f.session)->duplicates, 1);
	ck_delta_reset(&d);
	teardown(&f);
}
END_TEST

START_TEST(garbage_ends_connection_and_changes_nothing)
{
	struct fixture f;
	const uint8_t garbage[] = { 0, 0, 0, 3, 0xde, 0xad, 0xbe };
	uint64_t gen;

	setup(&f);
	session_start(f.session);
	sync_snapshot(&f);
	gen = session_replica(f.session)->gen;
	ck_assert_int_eq(session_receive(f.session, garbage, sizeof(garbage), NULL), -EBADMSG);
	ck_assert_uint_eq(session_replica(f.session)->gen, gen);
	ck_assert_uint_eq(f.sink.replaces, 1);
	/* The dead stream refuses more; a reconnect (session_start) resumes with a Hello. */
	ck_assert_int_eq(session_receive(f.session, garbage, 1, NULL), -EPIPE);
	f.hellos = 0;
	ck_assert_int_eq(session_start(f.session), 0);
	ck_assert_uint_eq(f.hellos, 1);
	ck_assert_uint_eq(f.last_sent.hello.gen, gen);
	teardown(&f);
}
END_TEST

START_TEST(bye_ends_connection)
{
	struct fixture f;
	struct ck_msg bye = { .type = CK_MSG_BYE, .bye = { .code = CK_BYE_SHUTDOWN } };

	setup(&f);
	session_start(f.session);
	ck_assert_int_eq(feed(&bye, &f), -ECONNRESET);
	teardown(&f);
}
END_TEST

START_TEST(failed_apply_falls_back_to_replace)
{
	struct fixture f;
	struct ck_delta d;

	setup(&f);
	session_start(f.session);
	sync_snapshot(&f);
	f.sink.fail_apply = -EEXIST;
	d = step(&f);
	ck_assert_int_eq(ck_chunk_delta(&d, feed, &f), 0);
	ck_assert_uint_eq(f.sink.replaces, 2);
	ck_assert_uint_eq(f.last_sent.type, CK_MSG_ACK);
	ck_assert(in_sync(&f));
	ck_delta_reset(&d);
	teardown(&f);
}
END_TEST

START_TEST(failed_sink_is_not_acked)
{
	struct fixture f;
	struct ck_delta d;

	setup(&f);
	session_start(f.session);
	sync_snapshot(&f);
	f.sink.fail_apply = -ENOSPC;
	f.sink.fail_replace = -ENOSPC;
	f.acks = 0;
	d = step(&f);
	ck_assert_int_eq(ck_chunk_delta(&d, feed, &f), 0);
	ck_assert_uint_eq(f.acks, 0);
	ck_assert_uint_eq(session_stats(f.session)->sink_failures, 1);
	ck_delta_reset(&d);
	/* Once the sink works again the next change replaces the table and is acked. */
	f.sink.fail_apply = 0;
	f.sink.fail_replace = 0;
	d = step(&f);
	ck_assert_int_eq(ck_chunk_delta(&d, feed, &f), 0);
	ck_assert_uint_eq(f.acks, 1);
	ck_delta_reset(&d);
	teardown(&f);
}
END_TEST

START_TEST(chunked_snapshot_applies_once)
{
	struct fixture f;
	struct ck_memberset *set;

	setup(&f);
	session_start(f.session);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (int i = 1; i <= 300; i++) {
		struct ck_member m;

		th_member(&m, i, 0);
		ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	}
	ck_assert_int_eq(ck_membership_commit(f.daemon, set, NULL), 0);
	sync_snapshot(&f);
	ck_assert_uint_eq(f.sink.replaces, 1);
	ck_assert_uint_eq(f.acks, 1);
	ck_assert(in_sync(&f));
	ck_memberset_free(set);
	teardown(&f);
}
END_TEST

struct encoded {
	uint8_t *buf;
	size_t len;
};

static int encode_one(struct ck_msg *msg, void *userdata)
{
	struct encoded *e = userdata;

	if (e->buf)
		return -E2BIG;	/* one frame expected */
	return ck_frame_encode(msg, &e->buf, &e->len);
}

/* What the session, its replica and the memory sink allocate for a one-member change. */
static size_t allocations_for_one_change(uint16_t size)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct encoded e = { 0 };
	struct fixture f;
	struct ck_member m;
	struct ck_delta d;
	size_t allocations;
	int r;

	setup(&f);
	session_start(f.session);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (uint16_t domid = 1; domid <= size; domid++) {
		th_member(&m, domid, 0);
		ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	}
	ck_assert_int_eq(ck_membership_commit(f.daemon, set, NULL), 0);
	sync_snapshot(&f);
	th_member(&m, 1, 2);	/* a new address */
	ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	ck_assert_int_eq(ck_membership_commit(f.daemon, set, &d), 0);
	ck_assert_uint_eq(ck_delta_changes(&d), 1);
	ck_assert_int_eq(ck_chunk_delta(&d, encode_one, &e), 0);

	th_alloc_fail_at(LONG_MAX);
	r = session_receive(f.session, e.buf, e.len, NULL);
	allocations = th_alloc_count();
	th_alloc_fail_at(-1);

	ck_assert_int_eq(r, 0);
	ck_assert(in_sync(&f));
	ck_assert_uint_eq(f.sink.applies, 1);
	ck_assert_uint_eq(f.last_sent.type, CK_MSG_ACK);
	ck_assert_uint_eq(f.last_sent.ack.gen, f.daemon->gen);
	free(e.buf);
	ck_delta_reset(&d);
	teardown(&f);
	return allocations;
}

/* A delta is applied in place, in the replica and in the sink: its cost is the change's. */
START_TEST(delta_allocations_do_not_grow_with_the_table)
{
	ck_assert_uint_eq(allocations_for_one_change(16), allocations_for_one_change(1000));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session");

	th_add(s, start_sends_hello_without_epoch);
	th_add(s, daemon_fastpath_version_is_per_connection);
	th_add(s, snapshot_then_deltas_are_applied_and_acked);
	th_add(s, gap_asks_for_resync_and_applies_nothing);
	th_add(s, new_epoch_replaces_everything);
	th_add(s, duplicate_delta_is_harmless);
	th_add(s, garbage_ends_connection_and_changes_nothing);
	th_add(s, bye_ends_connection);
	th_add(s, failed_apply_falls_back_to_replace);
	th_add(s, failed_sink_is_not_acked);
	th_add(s, chunked_snapshot_applies_once);
	th_add(s, delta_allocations_do_not_grow_with_the_table);
	return th_run(s);
}
