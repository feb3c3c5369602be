// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>

#include "helpers.h"

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

int main(void)
{
	Suite *s = suite_create("delta");

	th_add(s, diff_of_equal_sets_is_empty);
	th_add(s, diff_names_each_change_once);
	th_add(s, apply_of_diff_reaches_target);
	th_add(s, apply_twice_is_harmless);
	th_add(s, apply_with_bad_upsert_changes_nothing);
	return th_run(s);
}
