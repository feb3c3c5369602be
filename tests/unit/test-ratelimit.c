// SPDX-License-Identifier: LGPL-2.1-or-later
#include "helpers.h"
#include "ratelimit.h"

START_TEST(burst_then_silence_then_count)
{
	struct ck_ratelimit rl = CK_RATELIMIT_INIT(1000000, 2);
	unsigned int suppressed = 99;

	ck_assert(ck_ratelimit_allow(&rl, 10, &suppressed));
	ck_assert_uint_eq(suppressed, 0);
	ck_assert(ck_ratelimit_allow(&rl, 20, NULL));
	for (int i = 0; i < 5; i++)
		ck_assert(!ck_ratelimit_allow(&rl, 30 + i, NULL));
	ck_assert(!ck_ratelimit_allow(&rl, 999999, NULL));
	/* A new interval: one message, which learns of the six held back. */
	ck_assert(ck_ratelimit_allow(&rl, 1000010, &suppressed));
	ck_assert_uint_eq(suppressed, 6);
	ck_assert(ck_ratelimit_allow(&rl, 1000020, &suppressed));
	ck_assert_uint_eq(suppressed, 0);
	ck_assert(!ck_ratelimit_allow(&rl, 1000030, NULL));
}
END_TEST

START_TEST(clock_at_zero_still_counts)
{
	struct ck_ratelimit rl = CK_RATELIMIT_INIT(100, 1);

	ck_assert(ck_ratelimit_allow(&rl, 0, NULL));
	ck_assert(!ck_ratelimit_allow(&rl, 0, NULL));
	ck_assert(!ck_ratelimit_allow(&rl, 50, NULL));
	ck_assert(ck_ratelimit_allow(&rl, 101, NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ratelimit");

	th_add(s, burst_then_silence_then_count);
	th_add(s, clock_at_zero_still_counts);
	return th_run(s);
}
