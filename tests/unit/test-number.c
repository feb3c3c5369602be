// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>

#include "helpers.h"
#include "number.h"

START_TEST(uint_takes_the_whole_string)
{
	uint64_t v = 0;

	ck_assert_int_eq(ck_parse_uint("0", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(ck_parse_uint("0042", 0, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(ck_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(uint_rejects_junk_and_signs)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "+1", "-1", "-0", "1x", "x1", "0x10", "1.0", "1e3", "\t7",
	};
	uint64_t v = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ck_parse_uint(bad[i], 0, UINT64_MAX, &v) == -EINVAL, "'%s'", bad[i]);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(uint_overflow_is_out_of_range)
{
	uint64_t v = 7;

	ck_assert_int_eq(ck_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(ck_parse_uint("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	/* Still junk first: a long number with a tail is not a number at all. */
	ck_assert_int_eq(ck_parse_uint("99999999999999999999999x", 0, UINT64_MAX, &v), -EINVAL);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(uint_bounds_are_inclusive)
{
	uint64_t v = 0;

	ck_assert_int_eq(ck_parse_uint("10", 10, 20, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(ck_parse_uint("20", 10, 20, &v), 0);
	ck_assert_uint_eq(v, 20);
	ck_assert_int_eq(ck_parse_uint("9", 10, 20, &v), -ERANGE);
	ck_assert_int_eq(ck_parse_uint("21", 10, 20, &v), -ERANGE);
	ck_assert_uint_eq(v, 20);
}
END_TEST

START_TEST(seconds_take_up_to_six_decimals)
{
	uint64_t us = 0;

	ck_assert_int_eq(ck_parse_seconds("30", 1, UINT64_MAX, &us), 0);
	ck_assert_uint_eq(us, 30000000);
	ck_assert_int_eq(ck_parse_seconds("0.25", 1, UINT64_MAX, &us), 0);
	ck_assert_uint_eq(us, 250000);
	ck_assert_int_eq(ck_parse_seconds("1.000001", 1, UINT64_MAX, &us), 0);
	ck_assert_uint_eq(us, 1000001);
	ck_assert_int_eq(ck_parse_seconds("1.0000001", 1, UINT64_MAX, &us), -EINVAL);
}
END_TEST

START_TEST(seconds_reject_junk_and_bounds)
{
	static const char *const bad[] = { "", ".5", "1.", "-1", "+1", "1s", "1e3", " 1", "1..2" };
	uint64_t us = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ck_parse_seconds(bad[i], 0, UINT64_MAX, &us) == -EINVAL, "'%s'", bad[i]);
	ck_assert_int_eq(ck_parse_seconds("0", 1, 86400000000ull, &us), -ERANGE);
	ck_assert_int_eq(ck_parse_seconds("86400.000001", 1, 86400000000ull, &us), -ERANGE);
	ck_assert_int_eq(ck_parse_seconds("18446744073709551616", 0, UINT64_MAX, &us), -ERANGE);
	ck_assert_int_eq(ck_parse_seconds("18446744073710", 0, UINT64_MAX, &us), -ERANGE);
	ck_assert_uint_eq(us, 7);
	ck_assert_int_eq(ck_parse_seconds("86400", 1, 86400000000ull, &us), 0);
	ck_assert_uint_eq(us, 86400000000ull);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("number");

	th_add(s, uint_takes_the_whole_string);
	th_add(s, uint_rejects_junk_and_signs);
	th_add(s, uint_overflow_is_out_of_range);
	th_add(s, uint_bounds_are_inclusive);
	th_add(s, seconds_take_up_to_six_decimals);
	th_add(s, seconds_reject_junk_and_bounds);
	return th_run(s);
}
