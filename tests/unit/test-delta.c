// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "failalloc.h"
#include "helpers.h"

/*
 * A random delta: removals of present and absent domids, upserts that change
 * present members, add new ones, or bring back a removed one, now and then a domid upserted
 * twice.  Its arrays are the caller's to free (ck_delta_reset).
 */
static void random_delta(uint32_t *rng, uint16_t domid_space, size_t max_changes,
			 struct ck_delta *d)
{
	size_t n_removed = th_below(rng, max_changes + 1), n_upserts = th_below(rng, max_changes + 1);

	*d = (struct ck_delta){ 0 };
	if (n_removed) {
		d->removed = calloc(n_removed, sizeof(*d->removed));
		ck_assert_ptr_nonnull(d->removed);
	}
	if (n_upserts) {
		d->upserts = calloc(n_upserts, sizeof(*d->upserts));
		ck_assert_ptr_nonnull(d->upserts);
	}
	for (size_t i = 0; i < n_removed; i++)
		d->removed[d->n_removed++] = 1 + th_below(rng, domid_space);
	for (size_t i = 0; i < n_upserts; i++) {
		uint16_t domid;

		if (d->n_removed && th_below(rng, 4) == 0)
			domid = d->removed[th_below(rng, d->n_removed)];
		else if (d->n_upserts && th_below(rng, 10) == 0)
			domid = d->upserts[th_below(rng, d->n_upserts)].domid;
		else
			domid = 1 + th_below(rng, domid_space);
		th_random_member(&d->upserts[d->n_upserts++], domid, rng);
	}
}

/* The meaning of a delta, written the obvious way: a copy, the removals, then the upserts. */
static struct ck_memberset *naive_apply(const struct ck_memberset *set, const struct ck_delta *d)
{
	struct ck_memberset *next;

	ck_assert_int_eq(ck_memberset_copy(set, &next), 0);
	for (size_t i = 0; i < d->n_removed; i++)
		(void)ck_memberset_remove(next, d->removed[i]);
	for (size_t i = 0; i < d->n_upserts; i++)
		ck_assert_int_eq(ck_memberset_put(next, &d->upserts[i]), 0);
	return next;
}

START_TEST(diff_of_equal_sets_is_empty)
{
	_cleanup_memberset_ struct ck_memberset *a = NULL, *b = NULL;
	struct ck_delta d;
	uint32_t rng = 3;

	a = th_random_set(&rng, 40, 64);
	ck_assert_int_eq(ck_memberset_copy(a, &b), 0);
	ck_assert_int_eq(ck_delta_diff(a, b, &d), 0);
	ck_assert_uint_eq(ck_delta_changes(&d), 0);
	ck_delta_reset(&d);
}
END_TEST

START_TEST(diff_names_each_change_once)
{
	_cleanup_memberset_ struct ck_memberset *a = NULL, *b = NULL;
	struct ck_member m;
	struct ck_delta d;

	ck_assert_int_eq(ck_memberset_new(&a), 0);
	for (uint16_t domid = 1; domid <= 4; domid++) {
		th_member(&m, domid, 0);
		ck_assert_int_eq(ck_memberset_put(a, &m), 0);
	}
	/* b: 1 unchanged, 2 gone, 3 changed, 4 unchanged, 5 new. */
	ck_assert_int_eq(ck_memberset_copy(a, &b), 0);
	ck_assert_int_eq(ck_memberset_remove(b, 2), 0);
	th_member(&m, 3, 9);
	ck_assert_int_eq(ck_memberset_put(b, &m), 0);
	th_member(&m, 5, 0);
	ck_assert_int_eq(ck_memberset_put(b, &m), 0);

	ck_assert_int_eq(ck_delta_diff(a, b, &d), 0);
	ck_assert_uint_eq(d.n_removed, 1);
	ck_assert_uint_eq(d.removed[0], 2);
	ck_assert_uint_eq(d.n_upserts, 2);
	ck_assert_uint_eq(d.upserts[0].domid, 3);
	ck_assert_uint_eq(d.upserts[1].domid, 5);
	ck_delta_reset(&d);
}
END_TEST

/* The core property: apply(diff(a, b), a) == b, over many random pairs. */
START_TEST(apply_of_diff_reaches_target)
{
	uint32_t rng = 0xc0ffee;

	for (int round = 0; round < 500; round++) {
		_cleanup_memberset_ struct ck_memberset *a = th_random_set(&rng, 60, 80);
		_cleanup_memberset_ struct ck_memberset *b = th_random_set(&rng, 60, 80);
		struct ck_delta d;

		ck_assert_int_eq(ck_delta_diff(a, b, &d), 0);
		ck_assert_int_eq(ck_delta_apply(a, &d), 0);
		ck_assert_msg(ck_memberset_equal(a, b), "round %d", round);
		ck_delta_reset(&d);
	}
}
END_TEST

START_TEST(apply_twice_is_harmless)
{
	uint32_t rng = 99;

	for (int round = 0; round < 100; round++) {
		_cleanup_memberset_ struct ck_memberset *a = th_random_set(&rng, 30, 40);
		_cleanup_memberset_ struct ck_memberset *b = th_random_set(&rng, 30, 40);
		struct ck_delta d;

		ck_assert_int_eq(ck_delta_diff(a, b, &d), 0);
		ck_assert_int_eq(ck_delta_apply(a, &d), 0);
		ck_assert_int_eq(ck_delta_apply(a, &d), 0);
		ck_assert(ck_memberset_equal(a, b));
		ck_delta_reset(&d);
	}
}
END_TEST

START_TEST(apply_with_bad_upsert_changes_nothing)
{
	_cleanup_memberset_ struct ck_memberset *a = NULL, *before = NULL;
	struct ck_member ups[2];
	uint16_t removed[1] = { 0 };
	struct ck_delta d = { .upserts = ups, .n_upserts = 2, .removed = removed, .n_removed = 1 };
	uint32_t rng = 5;

	a = th_random_set(&rng, 20, 20);
	ck_assert_int_eq(ck_memberset_copy(a, &before), 0);
	th_member(&ups[0], 30, 0);
	th_member(&ups[1], 31, 0);
	ups[1].state = 77;
	ck_assert_int_eq(ck_delta_apply(a, &d), -EINVAL);
	ck_assert(ck_memberset_equal(a, before));
}
END_TEST

START_TEST(apply_equals_naive_model)
{
	uint32_t rng = 0x5eed;

	for (int round = 0; round < 400; round++) {
		_cleanup_memberset_ struct ck_memberset *a = th_random_set(&rng, 120, 160);
		_cleanup_memberset_ struct ck_memberset *want = NULL;
		struct ck_delta d;

		random_delta(&rng, 200, 1 + round % 40, &d);
		want = naive_apply(a, &d);
		ck_assert_int_eq(ck_delta_apply(a, &d), 0);
		ck_assert_msg(ck_memberset_equal(a, want), "round %d", round);
		/* Idempotent, and nothing of the first apply lingers to change the second. */
		ck_assert_int_eq(ck_delta_apply(a, &d), 0);
		ck_assert_msg(ck_memberset_equal(a, want), "round %d, twice", round);
		ck_delta_reset(&d);
	}
}
END_TEST

START_TEST(removed_then_upserted_ends_upserted)
{
	_cleanup_memberset_ struct ck_memberset *a = NULL;
	struct ck_member ups[2];
	uint16_t removed[2] = { 4, 5 };
	struct ck_delta d = { .upserts = ups, .n_upserts = 2, .removed = removed, .n_removed = 2 };

	ck_assert_int_eq(ck_memberset_new(&a), 0);
	th_member(&ups[0], 4, 0);
	ck_assert_int_eq(ck_memberset_put(a, &ups[0]), 0);
	th_member(&ups[0], 4, 2);	/* present: removed, then back with a new address */
	th_member(&ups[1], 5, 2);	/* absent: the removal is a no-op, the upsert adds it */
	ck_assert_int_eq(ck_delta_apply(a, &d), 0);
	ck_assert_uint_eq(ck_memberset_count(a), 2);
	ck_assert(ck_member_equal(ck_memberset_find(a, 4), &ups[0]));
	ck_assert(ck_member_equal(ck_memberset_find(a, 5), &ups[1]));
}
END_TEST

/*
 * Fails each allocation of an apply in turn, until one runs through: every failure is
 * -ENOMEM with the set unchanged (and usable), the run that succeeds gives the model's set.
 * Until an attempt fails past the first allocation that grows the table, each attempt
 * allocates as a first one would, so every allocation of the sequence gets its failure.
 * Returns how many allocations a first attempt makes.  (Check's assertions allocate too:
 * none runs while a failure is armed.)
 */
static size_t fail_each_allocation(struct ck_memberset *a, const struct ck_delta *d)
{
	_cleanup_memberset_ struct ck_memberset *want = naive_apply(a, d), *first = NULL;
	size_t allocations;
	int r;

	ck_assert_int_eq(ck_memberset_copy(a, &first), 0);
	th_alloc_fail_at(LONG_MAX);
	r = ck_delta_apply(first, d);
	allocations = th_alloc_count();
	th_alloc_fail_at(-1);
	ck_assert_int_eq(r, 0);
	ck_assert(ck_memberset_equal(first, want));

	for (long k = 0;; k++) {
		_cleanup_memberset_ struct ck_memberset *before = NULL;

		ck_assert_int_eq(ck_memberset_copy(a, &before), 0);
		th_alloc_fail_at(k);
		r = ck_delta_apply(a, d);
		th_alloc_fail_at(-1);
		if (r == 0) {
			ck_assert(ck_memberset_equal(a, want));
			return allocations;
		}
		ck_assert_int_eq(r, -ENOMEM);
		ck_assert_msg(ck_memberset_equal(a, before), "allocation %ld failed", k);
	}
}

START_TEST(allocation_failure_changes_nothing)
{
	uint32_t rng = 0xfa11;

	for (int round = 0; round < 40; round++) {
		_cleanup_memberset_ struct ck_memberset *a = th_random_set(&rng, 100, 160);
		struct ck_delta d;

		random_delta(&rng, 200, 30, &d);
		(void)fail_each_allocation(a, &d);
		ck_delta_reset(&d);
	}
}
END_TEST

/* The allocations that are not entries: the first one makes the table, later ones grow it. */
START_TEST(allocation_failure_in_the_table_changes_nothing)
{
	_cleanup_memberset_ struct ck_memberset *empty = NULL, *a = NULL;
	struct ck_delta d = { 0 };

	d.upserts = calloc(400, sizeof(*d.upserts));
	ck_assert_ptr_nonnull(d.upserts);
	for (uint16_t i = 0; i < 400; i++)
		th_member(&d.upserts[d.n_upserts++], 1 + i, 0);

	/* Into an empty set: its table and bucket array come first. */
	ck_assert_int_eq(ck_memberset_new(&empty), 0);
	d.n_upserts = 20;
	ck_assert_uint_gt(fail_each_allocation(empty, &d), 20);

	/* 100 members plus 300 new ones: the bucket array grows on the way. */
	ck_assert_int_eq(ck_memberset_new(&a), 0);
	for (size_t i = 300; i < 400; i++)
		ck_assert_int_eq(ck_memberset_put(a, &d.upserts[i]), 0);
	d.n_upserts = 300;
	ck_assert_uint_gt(fail_each_allocation(a, &d), 300);
	d.n_upserts = 400;
	ck_delta_reset(&d);
}
END_TEST

/* In place: what an apply allocates depends on the delta, never on the set's size. */
START_TEST(apply_allocates_for_new_domids_only)
{
	uint32_t rng = 77;

	for (size_t size = 10; size <= 1000; size *= 10) {
		_cleanup_memberset_ struct ck_memberset *a = NULL;
		struct ck_member m;
		uint16_t removed[1] = { 2 };
		struct ck_delta d = { .upserts = &m, .n_upserts = 1, .removed = removed,
				      .n_removed = 1 };
		size_t allocations;
		int r;

		ck_assert_int_eq(ck_memberset_new(&a), 0);
		for (uint16_t domid = 1; domid <= size; domid++) {
			th_random_member(&m, domid, &rng);
			ck_assert_int_eq(ck_memberset_put(a, &m), 0);
		}
		/* One removal and one change of a present member: nothing to allocate. */
		th_member(&m, 1, 9);
		th_alloc_fail_at(LONG_MAX);
		r = ck_delta_apply(a, &d);
		allocations = th_alloc_count();
		th_alloc_fail_at(-1);
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(allocations, 0);
		/* A new domid: its entry (and the removed one's absence costs nothing). */
		th_member(&m, 2, 0);
		th_alloc_fail_at(LONG_MAX);
		r = ck_delta_apply(a, &d);
		allocations = th_alloc_count();
		th_alloc_fail_at(-1);
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(allocations, 1);
		ck_assert_uint_eq(ck_memberset_count(a), size);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("delta");

	th_add(s, diff_of_equal_sets_is_empty);
	th_add(s, diff_names_each_change_once);
	th_add(s, apply_of_diff_reaches_target);
	th_add(s, apply_twice_is_harmless);
	th_add(s, apply_with_bad_upsert_changes_nothing);
	th_add(s, apply_equals_naive_model);
	th_add(s, removed_then_upserted_ends_upserted);
	th_add(s, allocation_failure_changes_nothing);
	th_add(s, allocation_failure_in_the_table_changes_nothing);
	th_add(s, apply_allocates_for_new_domids_only);
	return th_run(s);
}
