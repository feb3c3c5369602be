// SPDX-License-Identifier: LGPL-2.1-or-later
#include "backend.h"
#include "helpers.h"

static int new_a(void)
{
	return 1;
}

static int new_b(void)
{
	return 2;
}

static const struct backend {
	const char *name;
	int (*new)(void);
} table[] = {
	{ "alpha", new_a },
	{ "beta", new_b },
	{ "gamma", new_b },
};

START_TEST(find_by_name)
{
	const struct backend *b = CK_BACKEND_FIND(table, "beta");

	ck_assert_ptr_eq(b, &table[1]);
	ck_assert_int_eq(b->new(), 2);
	ck_assert_ptr_eq(CK_BACKEND_FIND(table, "alpha"), &table[0]);
	ck_assert_ptr_null(CK_BACKEND_FIND(table, "delta"));
	ck_assert_ptr_null(CK_BACKEND_FIND(table, "alph"));
	ck_assert_ptr_null(CK_BACKEND_FIND(table, ""));
}
END_TEST

START_TEST(names_for_the_message)
{
	char buf[64], small[8];

	ck_assert_str_eq(CK_BACKEND_NAMES(table, buf), "alpha, beta or gamma");
	ck_assert_str_eq(ck_backend_names(table, 2, sizeof(table[0]), buf, sizeof(buf)),
			 "alpha or beta");
	ck_assert_str_eq(ck_backend_names(table, 1, sizeof(table[0]), buf, sizeof(buf)), "alpha");
	/* Cut short, still a string. */
	ck_assert_str_eq(CK_BACKEND_NAMES(table, small), "alpha, ");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("backend");

	th_add(s, find_by_name);
	th_add(s, names_for_the_message);
	return th_run(s);
}
