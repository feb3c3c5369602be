// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperd's set of guests and their sessions (guests/) against a real membership, through
 * fake streams (fake-guests.h): what one peer can cost the daemon (coalesced Hellos, bounded
 * queues and slices, the guest limit, the Hello deadline).  The fast path relay has
 * test-relay.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failalloc.h"
#include "fake-guests.h"
#include "helpers.h"


START_TEST(hello_flood_answered_once_per_drained_queue)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fixture f;
	struct fake *k;
	size_t queued;

	setup(&f, &cfg);
	k = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &k->base), 0);
	k->blocked = true;
	peer_hellos(k, 1, 0, 0);
	ck_stream_notify(&k->base);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, 1);
	queued = ck_stream_queued(&k->base);
	ck_assert_uint_gt(queued, 0);

	/* It never reads: twenty thousand Hellos later the queue holds the same snapshot. */
	peer_hellos(k, 20000, 0, 0);
	ck_stream_notify(&k->base);
	run_until_read(&f, k);
	ck_assert_uint_eq(k->in_pos, k->in_len);
	ck_assert(!k->closed);
	ck_assert_uint_eq(ck_stream_queued(&k->base), queued);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, 1);
	ck_assert_uint_eq(guests_counters(f.gs)->session.hellos_coalesced, 19999);

	/* It reads: one answer for all of them, then nothing more. */
	k->blocked = false;
	ck_stream_notify(&k->base);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, 2);
	ck_assert_uint_eq(ck_stream_queued(&k->base), 0);
	ck_stream_notify(&k->base);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, 2);
	ck_assert_uint_eq(k->got[CK_MSG_SNAPSHOT], 4);	/* 100 members: two chunks each */
	teardown(&f);
	fake_destroy(k);
}
END_TEST

/*
 * A new session's Hellos are answered with one snapshot, whatever generation they name: what
 * the guest holds of its view (view.h) is known only from what this session sent it.  A Hello
 * from there that names the current generation is answered with an empty delta, once.
 */
START_TEST(resync_hello_from_current_gen_gets_delta)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fixture f;
	struct fake *k;

	setup(&f, &cfg);
	k = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &k->base), 0);
	peer_hellos(k, 50, EPOCH, f.m->gen);
	ck_stream_notify(&k->base);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, 1);
	ck_assert_uint_eq(guests_counters(f.gs)->session.deltas_sent, 0);
	ck_assert_uint_eq(guests_counters(f.gs)->session.hellos_coalesced, 49);

	peer_hellos(k, 50, EPOCH, f.m->gen);
	ck_stream_notify(&k->base);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, 1);
	ck_assert_uint_eq(guests_counters(f.gs)->session.deltas_sent, 1);
	ck_assert_uint_eq(guests_counters(f.gs)->session.hellos_coalesced, 98);
	/* Even this answer tells the agent that cokeeperd relays the fast path's set-up. */
	ck_assert_uint_eq(k->delta_base, k->delta_new);
	ck_assert_uint_eq(k->announced, CK_FASTPATH_VERSION);
	teardown(&f);
	fake_destroy(k);
}
END_TEST

START_TEST(one_wakeup_reads_a_bounded_slice)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	const uint8_t header[] = { 0x00, 0x01, 0x90, 0x00 };	/* a 100 KiB frame */
	struct fixture f;
	struct fake *k;

	setup(&f, &cfg);
	k = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &k->base), 0);
	k->in_len = sizeof(header) + 0x19000;
	k->in = calloc(1, k->in_len);
	memcpy(k->in, header, sizeof(header));
	ck_stream_notify(&k->base);
	ck_assert_uint_le(k->in_pos, SLICE_BYTES);
	ck_assert(!k->closed);

	/* No new wake-up from the channel (vchan gives none): the loop reads on by itself. */
	run_until_read(&f, k);
	ck_assert(k->closed);	/* all zeros: not an envelope */
	ck_assert_uint_eq(k->bye_code, CK_BYE_PROTOCOL_ERROR);
	ck_assert_uint_eq(guests_counters(f.gs)->rejected, 1);
	teardown(&f);
	fake_destroy(k);
}
END_TEST

/* Frames are bounded too: a slice of tiny frames stops long before 64 KiB. */
START_TEST(one_wakeup_handles_a_bounded_number_of_frames)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fixture f;
	struct fake *k;

	setup(&f, &cfg);
	k = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &k->base), 0);
	peer_hellos(k, 4000, 0, 0);	/* 60,000 bytes */
	ck_stream_notify(&k->base);
	ck_assert_uint_lt(k->in_pos, k->in_len);
	run_until_read(&f, k);
	ck_assert_uint_eq(k->in_pos, k->in_len);
	teardown(&f);
	fake_destroy(k);
}
END_TEST

START_TEST(queue_limit_holds_for_snapshots)
{
	const struct guests_config cfg = { .queue_limit = 4096 };
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	size_t snapshot_bytes, most = 0;
	struct ck_delta delta;
	struct ck_member mb;
	struct fixture f;
	struct fake *k;

	setup(&f, &cfg);
	k = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &k->base), 0);
	k->blocked = true;
	peer_hellos(k, 1, 0, 0);
	ck_stream_notify(&k->base);
	snapshot_bytes = ck_stream_queued(&k->base);
	ck_assert_int_eq(ck_memberset_copy(f.m->members, &set), 0);
	for (unsigned int i = 0; i < 200; i++) {
		th_member(&mb, 1 + i % 100, i + 1);
		ck_assert_int_eq(ck_memberset_put(set, &mb), 0);
		ck_assert_int_eq(ck_membership_commit(f.m, set, &delta), 0);
		guests_broadcast(f.gs, &delta);
		ck_delta_reset(&delta);
		/* A write wake-up and more Hellos in between: still no second snapshot. */
		peer_hellos(k, 10, 0, 0);
		ck_stream_notify(&k->base);
		if (ck_stream_queued(&k->base) > most)
			most = ck_stream_queued(&k->base);
	}
	ck_assert_uint_ge(guests_counters(f.gs)->session.queue_overflows, 1);
	ck_assert_uint_le(most, cfg.queue_limit + snapshot_bytes);
	teardown(&f);
	fake_destroy(k);
}
END_TEST

START_TEST(over_max_guests_gets_bye_and_is_closed)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20, .max_guests = 2 };
	struct fake *k[3];
	struct fixture f;

	setup(&f, &cfg);
	for (int i = 0; i < 3; i++) {
		k[i] = fake_new(&f);
		ck_assert_int_eq(guests_attach(f.gs, &k[i]->base), 0);
	}
	ck_assert_uint_eq(guests_count(f.gs), 2);
	ck_assert_uint_eq(guests_counters(f.gs)->refused, 1);
	ck_assert_uint_eq(k[2]->got[CK_MSG_BYE], 1);
	ck_assert_uint_eq(k[2]->bye_code, CK_BYE_OVERLOAD);
	ck_assert(!k[2]->closed);	/* handed back from the loop, not from attach */
	ck_assert_int_ge(sd_event_run(f.event, 0), 0);
	ck_assert(k[2]->closed);
	ck_assert(!k[0]->closed && !k[1]->closed);
	/* A slot freed is a slot taken. */
	k[0]->eof = true;
	ck_stream_notify(&k[0]->base);
	ck_assert(k[0]->closed);
	ck_assert_uint_eq(guests_count(f.gs), 1);
	teardown(&f);
	for (int i = 0; i < 3; i++)
		fake_destroy(k[i]);
}
END_TEST

START_TEST(no_hello_in_time_ends_the_session)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20, .hello_timeout_usec = 1000 };
	struct fake *idle, *polite;
	struct fixture f;

	setup(&f, &cfg);
	idle = fake_new(&f);
	polite = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &idle->base), 0);
	ck_assert_int_eq(guests_attach(f.gs, &polite->base), 0);
	peer_hellos(polite, 1, 0, 0);
	ck_stream_notify(&polite->base);
	/* Waits for the deadline however long the machine takes to reach it. */
	while (!idle->closed)
		ck_assert_int_ge(sd_event_run(f.event, UINT64_MAX), 0);
	ck_assert_uint_eq(idle->bye_code, CK_BYE_PROTOCOL_ERROR);
	ck_assert_uint_eq(guests_counters(f.gs)->hello_timeouts, 1);
	/* Its Hello disarmed the polite one's deadline: nothing is left to fire for it. */
	ck_assert_int_eq(sd_event_run(f.event, 0), 0);
	ck_assert(!polite->closed);
	teardown(&f);
	fake_destroy(idle);
	fake_destroy(polite);
}
END_TEST

/*
 * A vchan is served before its guest runs an agent: the deadline starts at the attach, so a
 * slow boot does not churn the channel (and strand an agent attaching to the old one).
 */
START_TEST(hello_deadline_starts_when_the_peer_attaches)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20, .hello_timeout_usec = 1000 };
	struct fake *waiting, *idle;
	struct fixture f;

	setup(&f, &cfg);
	waiting = fake_new(&f);
	waiting->unattached = true;
	idle = fake_new(&f);
	/* Attached first: armed, its deadline would come first and end it first. */
	ck_assert_int_eq(guests_attach(f.gs, &waiting->base), 0);
	ck_assert_int_eq(guests_attach(f.gs, &idle->base), 0);
	while (!idle->closed)
		ck_assert_int_ge(sd_event_run(f.event, UINT64_MAX), 0);
	ck_assert(!waiting->closed);
	ck_assert_uint_eq(guests_counters(f.gs)->hello_timeouts, 1);
	/* Nothing is armed for it: the loop has nothing to run. */
	ck_assert_int_eq(sd_event_run(f.event, 0), 0);
	/* Its agent attaches (the event channel fires) and then says nothing. */
	waiting->unattached = false;
	ck_stream_notify(&waiting->base);
	while (!waiting->closed)
		ck_assert_int_ge(sd_event_run(f.event, UINT64_MAX), 0);
	ck_assert_uint_eq(waiting->bye_code, CK_BYE_PROTOCOL_ERROR);
	ck_assert_uint_eq(guests_counters(f.gs)->hello_timeouts, 2);
	teardown(&f);
	fake_destroy(waiting);
	fake_destroy(idle);
}
END_TEST

static int on_pipe(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	struct fake *k = userdata;
	char c;

	ck_assert_int_eq(read(fd, &c, 1), 1);
	/* Where the flood stood when the loop served someone else: 0 means never. */
	if (!k->served_others_at)
		k->served_others_at = k->in_pos ? k->in_pos : 1;
	return 0;
}

/*
 * A guest whose input never runs dry in time (vchan: a flooder keeps the ring full) must not
 * starve the loop's other sources, such as the control socket: another readable descriptor is
 * served while the flood is still being read (issue 11, seen on real Xen).
 */
START_TEST(a_flooding_guest_does_not_starve_the_loop)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fixture f;
	struct fake *k;
	int p[2];

	setup(&f, &cfg);
	k = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &k->base), 0);
	peer_hellos(k, 20000, 0, 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(sd_event_add_io(f.event, NULL, p[0], EPOLLIN, on_pipe, k), 0);
	ck_stream_notify(&k->base);
	run_until_read(&f, k);
	ck_assert_uint_eq(k->in_pos, k->in_len);
	ck_assert_uint_gt(k->served_others_at, 0);
	ck_assert_uint_lt(k->served_others_at, k->in_len);
	teardown(&f);
	fake_destroy(k);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Commits one change to member domid (variant v) and broadcasts it. */
static void change(struct fixture *f, uint16_t domid, unsigned int v)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct ck_delta delta;
	struct ck_member mb;

	ck_assert_int_eq(ck_memberset_copy(f->m->members, &set), 0);
	th_member(&mb, domid, v);
	ck_assert_int_eq(ck_memberset_put(set, &mb), 0);
	ck_assert_int_eq(ck_membership_commit(f->m, set, &delta), 0);
	guests_broadcast(f->gs, &delta);
	ck_delta_reset(&delta);
}

/* A guest that answered its Hello and has its snapshot. */
static struct fake *joined(struct fixture *f)
{
	struct fake *k = fake_new(f);

	ck_assert_int_eq(guests_attach(f->gs, &k->base), 0);
	peer_hellos(k, 1, 0, 0);
	ck_stream_notify(&k->base);
	ck_assert_uint_eq(ck_stream_queued(&k->base), 0);
	return k;
}

/*
 * A guest that stops reading for many changes is not queued each of them: once it reads
 * again, what it missed comes as one delta from where its queue left it to the newest gen.
 */
START_TEST(a_lagging_guest_gets_one_merged_delta)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fixture f;
	struct fake *k, *other;
	uint64_t first;

	setup(&f, &cfg);
	k = joined(&f);
	other = joined(&f);
	k->blocked = true;
	change(&f, 1, 1);
	first = f.m->gen;
	ck_assert_uint_gt(ck_stream_queued(&k->base), 0);
	for (unsigned int i = 0; i < 300; i++)
		change(&f, 1 + i % 50, i + 2);
	/* The one that reads got every change; the stalled one holds only the first. */
	ck_assert_uint_eq(other->got[CK_MSG_DELTA], 301);
	ck_assert_uint_ge(guests_counters(f.gs)->session.lagging, 1);

	k->blocked = false;
	ck_stream_notify(&k->base);
	ck_assert_uint_eq(ck_stream_queued(&k->base), 0);
	ck_assert_uint_eq(k->got[CK_MSG_DELTA], 2);
	ck_assert_uint_eq(k->delta_base, first);
	ck_assert_uint_eq(k->delta_new, f.m->gen);
	ck_assert_uint_eq(guests_counters(f.gs)->session.catchups_sent, 1);

	/* Caught up, it is sent each change by itself again. */
	change(&f, 2, 1000);
	ck_assert_uint_eq(k->got[CK_MSG_DELTA], 3);
	ck_assert_uint_eq(k->delta_new, f.m->gen);
	teardown(&f);
	fake_destroy(k);
	fake_destroy(other);
}
END_TEST

/* What it missed changed more members than there are: a snapshot is smaller. */
START_TEST(a_lagging_guest_gets_a_snapshot_when_smaller)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fixture f;
	struct fake *k;
	uint64_t snapshots;

	setup(&f, &cfg);
	k = joined(&f);
	snapshots = guests_counters(f.gs)->session.snapshots_sent;
	k->blocked = true;
	change(&f, 1, 1);
	for (uint16_t d = 1; d <= 100; d++)
		change(&f, d, 2);
	for (uint16_t d = 101; d <= 110; d++)
		change(&f, d, 2);	/* 110 changed members, 110 members */
	{
		_cleanup_memberset_ struct ck_memberset *set = NULL;
		struct ck_delta delta;

		ck_assert_int_eq(ck_memberset_copy(f.m->members, &set), 0);
		ck_assert_int_eq(ck_memberset_remove(set, 110), 0);
		ck_assert_int_eq(ck_membership_commit(f.m, set, &delta), 0);
		guests_broadcast(f.gs, &delta);
		ck_delta_reset(&delta);
	}
	k->blocked = false;
	ck_stream_notify(&k->base);
	ck_assert_uint_eq(ck_stream_queued(&k->base), 0);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, snapshots + 1);
	ck_assert_uint_eq(guests_counters(f.gs)->session.catchups_sent, 0);
	ck_assert_uint_eq(k->got[CK_MSG_DELTA], 1);
	teardown(&f);
	fake_destroy(k);
}
END_TEST

/* Every guest is sent the same bytes for one change, and for one snapshot. */
START_TEST(guests_get_byte_identical_frames)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fixture f;
	struct fake *a, *b;

	setup(&f, &cfg);
	a = joined(&f);
	b = joined(&f);
	change(&f, 3, 7);
	change(&f, 4, 7);
	ck_assert_uint_eq(guests_counters(f.gs)->session.snapshots_sent, 2);
	ck_assert_uint_gt(a->out_len, 0);
	ck_assert_uint_eq(a->out_len, b->out_len);
	ck_assert_mem_eq(a->out, b->out, a->out_len);
	teardown(&f);
	fake_destroy(a);
	fake_destroy(b);
}
END_TEST

/* One guest arrives and says Hello, then leaves; -ENOMEM from the attach, or its fate. */
static int arrive_and_leave(struct fixture *f, long fail_at, bool *injected, bool *served)
{
	struct fake *k = fake_new(f);
	int r;

	peer_hellos(k, 1, 0, 0);
	th_alloc_fail_at(fail_at);
	r = guests_attach(f->gs, &k->base);
	if (r == 0) {
		ck_stream_notify(&k->base);
		run_until_read(f, k);
	}
	*injected = fail_at >= 0 && th_alloc_count() > (size_t)fail_at;
	th_alloc_fail_at(-1);
	*served = r == 0 && !k->closed && k->got[CK_MSG_SNAPSHOT] > 0;
	if (r == 0) {
		ck_assert_msg(k->closed || *served,
			      "allocation %ld failed: the guest is neither served nor gone", fail_at);
		guests_detach_domid(f->gs, CK_STREAM_DOMID_ANY);
		ck_assert(k->closed);
	}
	fake_destroy(k);
	return r;
}

/*
 * A Hello that changes the session's domid moves it in the index (the domid is the index's
 * key: found by the old one no more, by the new one at once), and a session that leaves
 * takes its entry with it: the index frees itself, nothing is left behind.
 */
START_TEST(a_hello_that_changes_the_domid_moves_the_index)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct ck_msg hello = { .type = CK_MSG_HELLO,
		.hello = { .domid = 5, .version = CK_PROTOCOL_VERSION, .fastpath_version = 1 } };
	bool injected, served;
	uint32_t version;
	struct fixture f;
	struct fake *k;
	size_t live;

	setup(&f, &cfg);
	/* The first arrival encodes the snapshot the others share: not a leak. */
	ck_assert_int_eq(arrive_and_leave(&f, -1, &injected, &served), 0);
	live = th_alloc_live();
	k = fake_new(&f);
	ck_assert_int_eq(guests_attach(f.gs, &k->base), 0);
	peer_sends(k, &hello);
	hello.hello.domid = 6;
	peer_sends(k, &hello);
	ck_stream_notify(&k->base);
	run_until_read(&f, k);
	ck_assert(!k->closed);
	ck_assert_int_eq(guests_fastpath_version(f.gs, 5, &version), -ENOENT);
	ck_assert_int_eq(guests_fastpath_version(f.gs, 6, &version), 0);
	ck_assert_uint_eq(version, 1);
	guests_detach_domid(f.gs, CK_STREAM_DOMID_ANY);
	ck_assert(k->closed);
	ck_assert_int_eq(guests_fastpath_version(f.gs, 6, &version), -ENOENT);
	fake_destroy(k);
	ck_assert_uint_eq(th_alloc_live(), live);
	teardown(&f);
}
END_TEST

/*
 * Every allocation of a guest's arrival (its session, its decoder, the domid index, its
 * snapshot encoded and queued) fails in turn: the attach returns -ENOMEM, or the session ends
 * as the daemon's own failure, or the guest is served anyway; nothing leaks, and the next
 * guest is served as if nothing had happened.
 */
START_TEST(a_guest_arriving_out_of_memory)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	unsigned int refused = 0, ended = 0;
	bool injected, served;
	struct fixture f;
	size_t live;

	setup(&f, &cfg);
	/* The first arrival encodes the snapshot the others share: not a leak. */
	ck_assert_int_eq(arrive_and_leave(&f, -1, &injected, &served), 0);
	ck_assert(served);
	live = th_alloc_live();
	for (long k = 0;; k++) {
		int r = arrive_and_leave(&f, k, &injected, &served);

		if (!injected) {	/* the arrival makes fewer than k + 1 allocations */
			ck_assert_int_eq(r, 0);
			ck_assert(served);
			break;
		}
		if (r < 0) {
			ck_assert_int_eq(r, -ENOMEM);
			refused++;
		} else if (!served) {
			ended++;
		}
		ck_assert_msg(th_alloc_live() == live, "allocation %ld failed: %zu blocks leaked",
			      k, th_alloc_live() - live);
		ck_assert_int_eq(arrive_and_leave(&f, -1, &injected, &served), 0);
		ck_assert_msg(served, "after allocation %ld failed, the next guest was not served",
			      k);
		ck_assert_uint_eq(th_alloc_live(), live);
	}
	ck_assert_uint_gt(refused, 0);
	ck_assert_uint_gt(ended, 0);
	ck_assert_uint_eq(guests_counters(f.gs)->rejected, 0);	/* never the guest's fault */
	teardown(&f);
}
END_TEST

/*
 * A new policy reaches an idle guest at once: its snapshot is written when its queue is
 * empty, with no read from it and no write readiness to wait for (a vchan has none: the
 * fake's want_write does nothing either); one still reading its queue gets it once drained.
 */
START_TEST(view_change_reaches_an_idle_guest)
{
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	struct fixture f;
	struct fake *idle, *busy;
	size_t snapshots;

	setup(&f, &cfg);
	idle = joined(&f);
	busy = joined(&f);
	busy->blocked = true;
	change(&f, 1, 1);
	ck_assert_uint_gt(ck_stream_queued(&busy->base), 0);
	snapshots = idle->got[CK_MSG_SNAPSHOT];

	guests_views_changed(f.gs);
	ck_assert_uint_gt(idle->got[CK_MSG_SNAPSHOT], snapshots);
	ck_assert_uint_eq(ck_stream_queued(&idle->base), 0);
	/* Changes after it go as deltas again. */
	change(&f, 2, 1);
	ck_assert_uint_eq(idle->delta_new, f.m->gen);

	snapshots = busy->got[CK_MSG_SNAPSHOT];
	busy->blocked = false;
	ck_stream_notify(&busy->base);
	ck_assert_uint_gt(busy->got[CK_MSG_SNAPSHOT], snapshots);
	ck_assert_uint_eq(ck_stream_queued(&busy->base), 0);
	teardown(&f);
	fake_destroy(idle);
	fake_destroy(busy);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guests");

	th_add(s, view_change_reaches_an_idle_guest);

	th_add(s, hello_flood_answered_once_per_drained_queue);
	th_add(s, resync_hello_from_current_gen_gets_delta);
	th_add(s, one_wakeup_reads_a_bounded_slice);
	th_add(s, one_wakeup_handles_a_bounded_number_of_frames);
	th_add(s, queue_limit_holds_for_snapshots);
	th_add(s, over_max_guests_gets_bye_and_is_closed);
	th_add(s, no_hello_in_time_ends_the_session);
	th_add(s, hello_deadline_starts_when_the_peer_attaches);
	th_add(s, a_flooding_guest_does_not_starve_the_loop);
	th_add(s, a_lagging_guest_gets_one_merged_delta);
	th_add(s, a_lagging_guest_gets_a_snapshot_when_smaller);
	th_add(s, guests_get_byte_identical_frames);
	th_add(s, a_guest_arriving_out_of_memory);
	th_add(s, a_hello_that_changes_the_domid_moves_the_index);
	return th_run(s);
}
