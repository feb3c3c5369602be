// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>

#include "helpers.h"

static struct ck_changelog *log_with(size_t capacity)
{
	struct ck_changelog *log;

	ck_assert_int_eq(ck_changelog_new(&log, capacity), 0);
	return log;
}

START_TEST(since_newest_is_empty)
{
	struct ck_changelog *log = log_with(8);
	struct ck_member m;
	struct ck_delta d;

	th_member(&m, 1, 0);
	ck_changelog_append(log, 1, &m, 1);
	ck_assert_int_eq(ck_changelog_since(log, 1, &d), 0);
	ck_assert_uint_eq(d.base_gen, 1);
	ck_assert_uint_eq(d.new_gen, 1);
	ck_assert_uint_eq(ck_delta_changes(&d), 0);
	ck_delta_reset(&d);
	ck_changelog_free(log);
}
END_TEST

START_TEST(since_compacts_to_latest_state)
{
	struct ck_changelog *log = log_with(16);
	struct ck_member m1a, m1b, m2;
	struct ck_delta d;

	th_member(&m1a, 1, 0);
	th_member(&m1b, 1, 7);
	th_member(&m2, 2, 0);
	ck_changelog_append(log, 1, &m1a, 1);	/* 1 created */
	ck_changelog_append(log, 2, &m2, 2);	/* 2 created */
	ck_changelog_append(log, 3, &m1b, 1);	/* 1 changed */
	ck_changelog_append(log, 4, NULL, 2);	/* 2 destroyed */

	ck_assert_int_eq(ck_changelog_since(log, 1, &d), 0);
	ck_assert_uint_eq(d.base_gen, 1);
	ck_assert_uint_eq(d.new_gen, 4);
	ck_assert_uint_eq(d.n_upserts, 1);
	ck_assert(ck_member_equal(&d.upserts[0], &m1b));
	ck_assert_uint_eq(d.n_removed, 1);
	ck_assert_uint_eq(d.removed[0], 2);
	ck_delta_reset(&d);
	ck_changelog_free(log);
}
END_TEST

START_TEST(since_beyond_capacity_is_estale)
{
	struct ck_changelog *log = log_with(4);
	struct ck_member m;
	struct ck_delta d;

	for (uint64_t gen = 1; gen <= 10; gen++) {
		th_member(&m, gen, 0);
		ck_changelog_append(log, gen, &m, m.domid);
	}
	/* Kept: gens 7..10, so a replica at 6 can still catch up, one at 5 cannot. */
	ck_assert_int_eq(ck_changelog_since(log, 6, &d), 0);
	ck_assert_uint_eq(d.n_upserts, 4);
	ck_delta_reset(&d);
	ck_assert_int_eq(ck_changelog_since(log, 5, &d), -ESTALE);
	ck_assert_int_eq(ck_changelog_since(log, 11, &d), -ESTALE);
	ck_changelog_free(log);
}
END_TEST

START_TEST(append_after_gap_restarts)
{
	struct ck_changelog *log = log_with(8);
	struct ck_member m;
	struct ck_delta d;

	th_member(&m, 1, 0);
	ck_changelog_append(log, 1, &m, 1);
	ck_changelog_append(log, 2, &m, 1);
	ck_changelog_append(log, 9, &m, 1);
	ck_assert_uint_eq(ck_changelog_newest(log), 9);
	ck_assert_int_eq(ck_changelog_since(log, 2, &d), -ESTALE);
	ck_assert_int_eq(ck_changelog_since(log, 8, &d), 0);
	ck_delta_reset(&d);
	ck_changelog_free(log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("changelog");

	th_add(s, since_newest_is_empty);
	th_add(s, since_compacts_to_latest_state);
	th_add(s, since_beyond_capacity_is_estale);
	th_add(s, append_after_gap_restarts);
	return th_run(s);
}
