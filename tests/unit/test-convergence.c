// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperd's convergence statistics (convergence.c): percentiles over every Ack since the
 * start, each within the histogram's error, and each Ack timed against its own commit; the
 * counts at the fixed bounds and the sum, exact.
 */
#include <stdlib.h>

#include "convergence.h"
#include "helpers.h"

static struct convergence *convergence_new(void)
{
	struct convergence *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	return c;
}

/* |got - want| within 1% of want (and exact below the histogram's linear range). */
static void assert_near(uint32_t got, uint32_t want)
{
	uint64_t err = got > want ? got - want : want - got;

	ck_assert_msg(err * 100 <= want, "got %u, want %u (more than 1%% off)", got, want);
}

/*
 * 100,000 Acks, one per change, with latencies 1..100,000 us in rising order: the last few
 * thousand alone would put the median near 98 ms; every Ack puts it at 50 ms.
 */
START_TEST(percentiles_cover_every_ack)
{
	struct convergence *c = convergence_new();
	struct convergence_summary s;
	const uint32_t n = 100000;

	for (uint32_t i = 1; i <= n; i++) {
		convergence_commit(c, i, 1000000);
		ck_assert_uint_eq(convergence_ack(c, i - 1, i, 1000000 + i), i);
	}
	convergence_summarize(c, &s);
	ck_assert_uint_eq(s.count, n);
	ck_assert_uint_eq(s.max_usec, n);
	/* Nearest rank (count - 1) * p / 100 of 1..n is that index plus one. */
	assert_near(s.p50_usec, (n - 1) * 50 / 100 + 1);
	assert_near(s.p90_usec, (n - 1) * 90 / 100 + 1);
	assert_near(s.p99_usec, (n - 1) * 99 / 100 + 1);
	free(c);
}
END_TEST

/* A skewed distribution across the whole range, 1 us to an hour, shuffled. */
START_TEST(percentiles_within_one_percent_across_the_range)
{
	static uint32_t sorted[20000];
	struct convergence *c = convergence_new();
	struct convergence_summary s;
	uint32_t rng = 1;
	size_t n = sizeof(sorted) / sizeof(sorted[0]);

	for (size_t i = 0; i < n; i++) {
		/* i^4 spreads the values over nine decades, most of them small. */
		double x = (double)i / n;

		sorted[i] = 1 + (uint32_t)(x * x * x * x * 3600e6);
	}
	for (size_t i = n - 1; i > 0; i--) {
		size_t j;

		rng = rng * 1103515245u + 12345u;
		j = (rng >> 8) % (i + 1);
		convergence_record(c, sorted[j]);
		sorted[j] = sorted[i];
		sorted[i] = 0;
	}
	convergence_record(c, sorted[0]);
	for (size_t i = 0; i < n; i++) {
		double x = (double)i / n;

		sorted[i] = 1 + (uint32_t)(x * x * x * x * 3600e6);
	}
	convergence_summarize(c, &s);
	ck_assert_uint_eq(s.count, n);
	ck_assert_uint_eq(s.max_usec, sorted[n - 1]);
	assert_near(s.p50_usec, sorted[(n - 1) * 50 / 100]);
	assert_near(s.p90_usec, sorted[(n - 1) * 90 / 100]);
	assert_near(s.p99_usec, sorted[(n - 1) * 99 / 100]);
	free(c);
}
END_TEST

/*
 * An Ack covering several commits is one sample per commit, each against its own notice;
 * the generations inside a commit of several changes are not commits.
 */
START_TEST(ack_times_each_commit_it_covers)
{
	struct convergence *c = convergence_new();
	struct convergence_summary s;

	convergence_commit(c, 3, 100);	/* gens 1..3: one commit */
	convergence_commit(c, 4, 200);
	convergence_commit(c, 7, 300);
	ck_assert_uint_eq(convergence_ack(c, 0, 7, 1000), 700);
	convergence_summarize(c, &s);
	ck_assert_uint_eq(s.count, 3);
	ck_assert_uint_eq(s.max_usec, 900);
	assert_near(s.p50_usec, 800);
	/* Nothing new to time. */
	ck_assert_uint_eq(convergence_ack(c, 7, 7, 2000), 0);
	ck_assert_uint_eq(convergence_ack(c, 3, 3, 2000), 0);
	free(c);
}
END_TEST

/* Beyond the ring, an Ack times only the commits it still remembers: bounded work. */
START_TEST(ack_from_far_behind_is_bounded)
{
	struct convergence *c = convergence_new();
	struct convergence_summary s;
	const uint64_t n = 3 * CONVERGENCE_CHANGES;

	for (uint64_t gen = 1; gen <= n; gen++)
		convergence_commit(c, gen, gen);
	ck_assert_uint_eq(convergence_ack(c, 0, n, n + 10), 10);
	convergence_summarize(c, &s);
	ck_assert_uint_eq(s.count, CONVERGENCE_CHANGES);
	free(c);
}
END_TEST

/*
 * A sample on a bound counts at it (le: at or below), one just above at the next; one beyond
 * the last bound only in the total; the counts are cumulative and the sum exact.
 */
START_TEST(fixed_bounds_are_exact_and_cumulative)
{
	static const uint32_t samples[] = {0, 500, 501, 1000, 9999999, 10000000, 10000001,
					   UINT32_MAX};
	struct convergence *c = convergence_new();
	struct convergence_summary s;
	uint64_t sum = 0;

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		convergence_record(c, samples[i]);
		sum += samples[i];
	}
	convergence_summarize(c, &s);
	ck_assert_uint_eq(s.count, 8);
	ck_assert_uint_eq(s.sum_usec, sum);
	ck_assert_uint_eq(s.le_usec[0], 500);
	ck_assert_uint_eq(s.le_count[0], 2);	/* 0 and 500 */
	ck_assert_uint_eq(s.le_usec[1], 1000);
	ck_assert_uint_eq(s.le_count[1], 4);	/* and 501, 1000 */
	ck_assert_uint_eq(s.le_count[2], 4);
	ck_assert_uint_eq(s.le_usec[CONVERGENCE_LE_N - 1], 10000000);
	ck_assert_uint_eq(s.le_count[CONVERGENCE_LE_N - 1], 6);	/* and 9999999, 10000000 */
	for (unsigned int i = 1; i < CONVERGENCE_LE_N; i++) {
		ck_assert_uint_gt(s.le_usec[i], s.le_usec[i - 1]);
		ck_assert_uint_ge(s.le_count[i], s.le_count[i - 1]);
	}
	free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("convergence");

	th_add(s, percentiles_cover_every_ack);
	th_add(s, percentiles_within_one_percent_across_the_range);
	th_add(s, ack_times_each_commit_it_covers);
	th_add(s, ack_from_far_behind_is_bounded);
	th_add(s, fixed_bounds_are_exact_and_cumulative);
	return th_run(s);
}
