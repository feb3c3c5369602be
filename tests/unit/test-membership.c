// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>

#include "helpers.h"

#define EPOCH 0x5eed5eed5eedull

static struct ck_membership *authority(size_t log_capacity)
{
	struct ck_membership *m;

	ck_assert_int_eq(ck_membership_new(&m, EPOCH, log_capacity), 0);
	return m;
}

static struct ck_membership *replica(void)
{
	struct ck_membership *m;

	ck_assert_int_eq(ck_membership_new(&m, 0, 0), 0);
	return m;
}

/* Gives the replica the authority's state as a snapshot would. */
static void resync(struct ck_membership *r, const struct ck_membership *a)
{
	struct ck_memberset *copy;

	ck_assert_int_eq(ck_memberset_copy(a->members, &copy), 0);
	ck_assert_int_eq(ck_membership_replace(r, a->epoch, a->gen, copy), 0);
}

/* A random next state: a few creates, destroys and changes of the current one. */
static struct ck_memberset *mutate(const struct ck_memberset *cur, uint32_t *rng)
{
	struct ck_memberset *next;
	unsigned int steps = 1 + th_below(rng, 4);

	ck_assert_int_eq(ck_memberset_copy(cur, &next), 0);
	for (unsigned int i = 0; i < steps; i++) {
		uint16_t domid = 1 + th_below(rng, 40);
		struct ck_member m;

		if (ck_memberset_find(next, domid) && th_below(rng, 2) == 0) {
			ck_memberset_remove(next, domid);
		} else {
			th_random_member(&m, domid, rng);
			ck_assert_int_eq(ck_memberset_put(next, &m), 0);
		}
	}
	return next;
}

START_TEST(commit_advances_gen_per_change)
{
	struct ck_membership *a = authority(64);
	_cleanup_memberset_ struct ck_memberset *next = NULL;
	struct ck_member m;
	struct ck_delta d;

	ck_assert_int_eq(ck_memberset_new(&next), 0);
	for (uint16_t domid = 1; domid <= 3; domid++) {
		th_member(&m, domid, 0);
		ck_assert_int_eq(ck_memberset_put(next, &m), 0);
	}
	ck_assert_int_eq(ck_membership_commit(a, next, &d), 0);
	ck_assert_uint_eq(d.epoch, EPOCH);
	ck_assert_uint_eq(d.base_gen, 0);
	ck_assert_uint_eq(d.new_gen, 3);
	ck_assert_uint_eq(a->gen, 3);
	ck_delta_reset(&d);

	ck_assert_int_eq(ck_memberset_remove(next, 2), 0);
	ck_assert_int_eq(ck_membership_commit(a, next, &d), 0);
	ck_assert_uint_eq(d.base_gen, 3);
	ck_assert_uint_eq(d.new_gen, 4);
	ck_delta_reset(&d);
	ck_membership_free(a);
}
END_TEST

START_TEST(commit_without_change_keeps_gen)
{
	struct ck_membership *a = authority(64);
	_cleanup_memberset_ struct ck_memberset *next = NULL;
	uint32_t rng = 1;
	struct ck_delta d;

	next = th_random_set(&rng, 10, 20);
	ck_assert_int_eq(ck_membership_commit(a, next, NULL), 0);
	uint64_t gen = a->gen;
	/* A spurious xenstore fire rescans the same state: no new generation. */
	ck_assert_int_eq(ck_membership_commit(a, next, &d), 0);
	ck_assert_uint_eq(a->gen, gen);
	ck_assert_uint_eq(ck_delta_changes(&d), 0);
	ck_assert_uint_eq(d.new_gen, d.base_gen);
	ck_delta_reset(&d);
	ck_membership_free(a);
}
END_TEST

/*
 * After any sequence of changes every replica equals the authority: one fed each delta, one
 * that lags and catches up through delta_since (or a snapshot when the log is too short),
 * and one that also receives stale duplicates.
 */
START_TEST(replicas_converge_after_random_changes)
{
	struct ck_membership *a = authority(16);
	struct ck_membership *eager = replica(), *lagging = replica(), *dup = replica();
	struct ck_delta old = { 0 };
	uint32_t rng = 0xabcdef;

	resync(eager, a);
	resync(lagging, a);
	resync(dup, a);
	for (int step = 0; step < 2000; step++) {
		_cleanup_memberset_ struct ck_memberset *next = mutate(a->members, &rng);
		struct ck_delta d;

		ck_assert_int_eq(ck_membership_commit(a, next, &d), 0);
		ck_assert_int_eq(ck_membership_apply(eager, &d), 0);
		ck_assert_int_eq(ck_membership_apply(dup, &d), 0);
		if (old.epoch)
			ck_assert_int_eq(ck_membership_apply(dup, &old), 0);
		ck_delta_reset(&old);
		old = d;

		if (th_below(&rng, 5) == 0) {
			struct ck_delta catchup;
			int r = ck_membership_delta_since(a, lagging->epoch, lagging->gen, &catchup);

			if (r == -ESTALE) {
				resync(lagging, a);
			} else {
				ck_assert_int_eq(r, 0);
				ck_assert_int_eq(ck_membership_apply(lagging, &catchup), 0);
				ck_delta_reset(&catchup);
			}
			ck_assert_msg(ck_memberset_equal(lagging->members, a->members), "step %d",
				      step);
			ck_assert_uint_eq(lagging->gen, a->gen);
		}
		ck_assert_msg(ck_memberset_equal(eager->members, a->members), "step %d", step);
		ck_assert_msg(ck_memberset_equal(dup->members, a->members), "step %d", step);
		ck_assert_uint_eq(eager->gen, a->gen);
	}
	ck_delta_reset(&old);
	ck_membership_free(a);
	ck_membership_free(eager);
	ck_membership_free(lagging);
	ck_membership_free(dup);
}
END_TEST

START_TEST(gap_is_estale_and_changes_nothing)
{
	struct ck_membership *a = authority(64), *r = replica();
	_cleanup_memberset_ struct ck_memberset *before = NULL;
	struct ck_delta d1, d2;
	uint32_t rng = 77;

	resync(r, a);
	struct ck_memberset *s1 = mutate(a->members, &rng);
	ck_assert_int_eq(ck_membership_commit(a, s1, &d1), 0);
	struct ck_memberset *s2 = mutate(a->members, &rng);
	ck_assert_int_eq(ck_membership_commit(a, s2, &d2), 0);

	ck_assert_int_eq(ck_memberset_copy(r->members, &before), 0);
	ck_assert_int_eq(ck_membership_apply(r, &d2), -ESTALE);	/* d1 was lost */
	ck_assert(ck_memberset_equal(r->members, before));
	ck_assert_uint_eq(r->gen, 0);

	ck_memberset_free(s1);
	ck_memberset_free(s2);
	ck_delta_reset(&d1);
	ck_delta_reset(&d2);
	ck_membership_free(a);
	ck_membership_free(r);
}
END_TEST

START_TEST(foreign_epoch_is_estale)
{
	struct ck_membership *a = authority(64), *r = replica();
	struct ck_delta d;
	uint32_t rng = 78;

	resync(r, a);
	struct ck_memberset *s1 = mutate(a->members, &rng);
	ck_assert_int_eq(ck_membership_commit(a, s1, &d), 0);
	d.epoch ^= 1;	/* a restarted daemon */
	ck_assert_int_eq(ck_membership_apply(r, &d), -ESTALE);
	ck_assert_int_eq(ck_membership_delta_since(a, EPOCH ^ 1, 0, &d), -ESTALE);
	ck_memberset_free(s1);
	ck_delta_reset(&d);
	ck_membership_free(a);
	ck_membership_free(r);
}
END_TEST

START_TEST(fresh_replica_needs_snapshot)
{
	struct ck_membership *a = authority(64), *r = replica();
	struct ck_delta d;
	uint32_t rng = 79;

	struct ck_memberset *s1 = mutate(a->members, &rng);
	ck_assert_int_eq(ck_membership_commit(a, s1, &d), 0);
	ck_assert_int_eq(ck_membership_apply(r, &d), -ESTALE);
	ck_delta_reset(&d);
	ck_assert_int_eq(ck_membership_delta_since(a, 0, 0, &d), -ESTALE);
	ck_memberset_free(s1);
	ck_membership_free(a);
	ck_membership_free(r);
}
END_TEST

START_TEST(future_gen_is_estale)
{
	struct ck_membership *a = authority(64);
	struct ck_delta d;

	ck_assert_int_eq(ck_membership_delta_since(a, EPOCH, 5, &d), -ESTALE);
	ck_assert_int_eq(ck_membership_delta_since(a, EPOCH, 0, &d), 0);
	ck_assert_uint_eq(ck_delta_changes(&d), 0);
	ck_membership_free(a);
}
END_TEST

START_TEST(replace_drops_stale_members)
{
	struct ck_membership *r = replica();
	struct ck_memberset *first, *second;
	uint32_t rng = 80;

	first = th_random_set(&rng, 20, 30);
	ck_assert_int_eq(ck_membership_replace(r, 1, 10, first), 0);
	ck_assert_int_eq(ck_memberset_new(&second), 0);
	ck_assert_int_eq(ck_membership_replace(r, 2, 0, second), 0);
	ck_assert_uint_eq(ck_memberset_count(r->members), 0);
	ck_assert_uint_eq(r->epoch, 2);
	ck_assert_uint_eq(r->gen, 0);
	ck_membership_free(r);
}
END_TEST

/*
 * Committing only the domids a change touched gives the delta, members and log of a whole
 * diff: random changes to a large set, named with a few untouched domids among them.
 */
START_TEST(commit_domids_equals_whole_diff)
{
	struct ck_membership *whole = authority(4096), *some = authority(4096);
	_cleanup_memberset_ struct ck_memberset *cur = NULL;
	uint32_t rng = 0xc0ffee;

	ck_assert_int_eq(ck_memberset_new(&cur), 0);
	for (int round = 0; round < 300; round++) {
		_cleanup_memberset_ struct ck_memberset *next = NULL;
		uint16_t domids[64];
		size_t n = 0, k = 1 + th_below(&rng, round == 0 ? 60 : 6);
		struct ck_delta a, b, la, lb;

		ck_assert_int_eq(ck_memberset_copy(cur, &next), 0);
		for (size_t i = 0; i < k; i++) {
			uint16_t d = 1 + th_below(&rng, 2000);
			bool seen = false;
			struct ck_member m;

			for (size_t j = 0; j < n; j++)
				seen |= domids[j] == d;
			if (seen)
				continue;
			domids[n++] = d;
			if (i % 3 == 2)
				continue;	/* named but unchanged */
			if (th_below(&rng, 3) == 0) {
				(void)ck_memberset_remove(next, d);
			} else {
				th_random_member(&m, d, &rng);
				ck_assert_int_eq(ck_memberset_put(next, &m), 0);
			}
		}
		for (size_t i = 1; i < n; i++)	/* ascending, as the scan gives them */
			for (size_t j = i; j > 0 && domids[j - 1] > domids[j]; j--) {
				uint16_t t = domids[j];

				domids[j] = domids[j - 1];
				domids[j - 1] = t;
			}
		ck_assert_int_eq(ck_membership_commit(whole, next, &a), 0);
		ck_assert_int_eq(ck_membership_commit_domids(some, next, domids, n, &b), 0);
		ck_assert_uint_eq(a.base_gen, b.base_gen);
		ck_assert_uint_eq(a.new_gen, b.new_gen);
		ck_assert_uint_eq(a.n_upserts, b.n_upserts);
		ck_assert_uint_eq(a.n_removed, b.n_removed);
		for (size_t i = 0; i < a.n_upserts; i++)
			ck_assert(ck_member_equal(&a.upserts[i], &b.upserts[i]));
		for (size_t i = 0; i < a.n_removed; i++)
			ck_assert_uint_eq(a.removed[i], b.removed[i]);
		ck_assert(ck_memberset_equal(whole->members, some->members));
		ck_assert(ck_memberset_equal(some->members, next));
		/* The logs agree too: a replica catching up gets the same delta from either. */
		ck_assert_int_eq(ck_membership_delta_since(whole, EPOCH, a.base_gen / 2, &la), 0);
		ck_assert_int_eq(ck_membership_delta_since(some, EPOCH, a.base_gen / 2, &lb), 0);
		ck_assert_uint_eq(la.n_upserts, lb.n_upserts);
		ck_assert_uint_eq(la.n_removed, lb.n_removed);
		ck_delta_reset(&la);
		ck_delta_reset(&lb);
		ck_delta_reset(&a);
		ck_delta_reset(&b);
		ck_memberset_swap(cur, next);
	}
	ck_membership_free(whole);
	ck_membership_free(some);
}
END_TEST

START_TEST(commit_domids_refuses_unsorted)
{
	struct ck_membership *m = authority(16);
	_cleanup_memberset_ struct ck_memberset *next = NULL;
	uint16_t domids[] = { 4, 2 };
	struct ck_delta d;

	ck_assert_int_eq(ck_memberset_new(&next), 0);
	ck_assert_int_eq(ck_membership_commit_domids(m, next, domids, 2, &d), -EINVAL);
	ck_assert_uint_eq(m->gen, 0);
	ck_membership_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("membership");

	th_add(s, commit_advances_gen_per_change);
	th_add(s, commit_domids_equals_whole_diff);
	th_add(s, commit_domids_refuses_unsorted);
	th_add(s, commit_without_change_keeps_gen);
	th_add(s, replicas_converge_after_random_changes);
	th_add(s, gap_is_estale_and_changes_nothing);
	th_add(s, foreign_epoch_is_estale);
	th_add(s, fresh_replica_needs_snapshot);
	th_add(s, future_gen_is_estale);
	th_add(s, replace_drops_stale_members);
	return th_run(s);
}
