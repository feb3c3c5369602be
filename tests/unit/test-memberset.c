// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>

#include "helpers.h"

START_TEST(put_find_replace)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct ck_member m;

	ck_assert_int_eq(ck_memberset_new(&set), 0);
	th_member(&m, 5, 0);
	ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	ck_assert_ptr_nonnull(ck_memberset_find(set, 5));
	ck_assert_ptr_null(ck_memberset_find(set, 6));

	th_member(&m, 5, 1);	/* same domid, new address: replaces */
	ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	ck_assert_uint_eq(ck_memberset_count(set), 1);
	ck_assert(ck_member_equal(ck_memberset_find(set, 5), &m));
}
END_TEST

START_TEST(put_rejects_invalid_member)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct ck_member m;

	ck_assert_int_eq(ck_memberset_new(&set), 0);
	th_member(&m, 5, 0);
	m.name[0] = '\0';
	ck_assert_int_eq(ck_memberset_put(set, &m), -EINVAL);
	ck_assert_uint_eq(ck_memberset_count(set), 0);
}
END_TEST

START_TEST(remove_absent_is_enoent)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct ck_member m;

	ck_assert_int_eq(ck_memberset_new(&set), 0);
	th_member(&m, 9, 0);
	ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	ck_assert_int_eq(ck_memberset_remove(set, 8), -ENOENT);
	ck_assert_int_eq(ck_memberset_remove(set, 9), 0);
	ck_assert_int_eq(ck_memberset_remove(set, 9), -ENOENT);
	ck_assert_uint_eq(ck_memberset_count(set), 0);
}
END_TEST

START_TEST(sorted_is_ascending)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	const struct ck_member **v;
	uint32_t rng = 7;
	size_t n;

	set = th_random_set(&rng, 300, 1000);
	ck_assert_int_eq(ck_memberset_sorted(set, &v, &n), 0);
	ck_assert_uint_eq(n, ck_memberset_count(set));
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_lt(v[i - 1]->domid, v[i]->domid);
	free(v);
}
END_TEST

START_TEST(copy_is_equal_and_independent)
{
	_cleanup_memberset_ struct ck_memberset *a = NULL, *b = NULL;
	uint32_t rng = 11;
	struct ck_member m;

	a = th_random_set(&rng, 50, 100);
	ck_assert_int_eq(ck_memberset_copy(a, &b), 0);
	ck_assert(ck_memberset_equal(a, b));
	th_member(&m, 200, 0);
	ck_assert_int_eq(ck_memberset_put(b, &m), 0);
	ck_assert(!ck_memberset_equal(a, b));
	ck_assert_ptr_null(ck_memberset_find(a, 200));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memberset");

	th_add(s, put_find_replace);
	th_add(s, put_rejects_invalid_member);
	th_add(s, remove_absent_is_enoent);
	th_add(s, sorted_is_ascending);
	th_add(s, copy_is_equal_and_independent);
	return th_run(s);
}
