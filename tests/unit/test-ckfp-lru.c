// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path's least-recently-used choice (kmod-hook/fastpath/ckfp-lru.c), compiled as
 * userspace: which up channel make_room() closes when every slot is taken, and when.  Each
 * case pins one check of the function: the oldest kept, a tie keeping the first, the order of
 * the walk not mattering otherwise, jiffies compared across the wrap, idle for exactly the
 * limit being enough, the exact retry, and nothing up.
 */
#include <limits.h>

#include "ckfp-lru.h"
#include "helpers.h"

/* CHAN_IDLE (HZ) at HZ=250; the function takes it as an argument. */
#define IDLE 250UL

struct use {
	u32 domid;
	unsigned long last_used;
};

static struct ckfp_lru pick(const struct use *u, size_t n)
{
	struct ckfp_lru l;

	ckfp_lru_init(&l);
	for (size_t i = 0; i < n; i++)
		ckfp_lru_consider(&l, u[i].domid, u[i].last_used);
	return l;
}

START_TEST(oldest_of_several)
{
	/* The oldest first, in the middle and last: a walk that kept the first or the last fails. */
	const struct use first[] = { { 2, 50 }, { 1, 100 }, { 3, 200 }, { 4, 75 } };
	const struct use middle[] = { { 1, 100 }, { 2, 50 }, { 3, 200 }, { 4, 75 } };
	const struct use last[] = { { 1, 100 }, { 3, 200 }, { 4, 75 }, { 2, 50 } };
	struct ckfp_lru l;

	l = pick(first, 4);
	ck_assert(l.found);
	ck_assert_uint_eq(l.domid, 2);
	ck_assert_uint_eq(l.oldest, 50);
	l = pick(middle, 4);
	ck_assert_uint_eq(l.domid, 2);
	ck_assert_uint_eq(l.oldest, 50);
	l = pick(last, 4);
	ck_assert_uint_eq(l.domid, 2);
	ck_assert_uint_eq(l.oldest, 50);
}
END_TEST

START_TEST(one_is_chosen)
{
	const struct use one[] = { { 7, 1234 } };
	struct ckfp_lru l = pick(one, 1);

	ck_assert(l.found);
	ck_assert_uint_eq(l.domid, 7);
	ck_assert_uint_eq(l.oldest, 1234);
}
END_TEST

/* Every order of four distinct times chooses the same: the walk's order (domid) is no bias. */
START_TEST(order_does_not_matter)
{
	const struct use u[] = { { 11, 400 }, { 12, 300 }, { 13, 301 }, { 14, 900 } };
	unsigned int seen = 0;

	for (unsigned int a = 0; a < 4; a++)
		for (unsigned int b = 0; b < 4; b++)
			for (unsigned int c = 0; c < 4; c++) {
				unsigned int d = 6 - a - b - c;
				struct use perm[4];
				struct ckfp_lru l;

				if (a == b || a == c || b == c || d > 3 || d == a || d == b || d == c)
					continue;
				perm[0] = u[a];
				perm[1] = u[b];
				perm[2] = u[c];
				perm[3] = u[d];
				l = pick(perm, 4);
				ck_assert_uint_eq(l.domid, 12);
				ck_assert_uint_eq(l.oldest, 300);
				seen++;
			}
	ck_assert_uint_eq(seen, 24);
}
END_TEST

/* Used in the same jiffy: the one considered first stays (a strict comparison). */
START_TEST(ties_keep_the_first)
{
	const struct use ab[] = { { 5, 100 }, { 6, 100 } };
	const struct use ba[] = { { 6, 100 }, { 5, 100 } };
	const struct use then_older[] = { { 5, 100 }, { 6, 100 }, { 7, 99 } };
	const struct use then_newer[] = { { 5, 100 }, { 6, 100 }, { 7, 101 } };

	ck_assert_uint_eq(pick(ab, 2).domid, 5);
	ck_assert_uint_eq(pick(ba, 2).domid, 6);
	/* A tie is no bar to an older one after it, nor a newer one's chance. */
	ck_assert_uint_eq(pick(then_older, 3).domid, 7);
	ck_assert_uint_eq(pick(then_newer, 3).domid, 5);
}
END_TEST

/* Used just before jiffies wrapped is older than just after, though its value is larger. */
START_TEST(wrap_chooses_the_older)
{
	const struct use before_first[] = { { 1, ULONG_MAX - 10 }, { 2, 5 } };
	const struct use after_first[] = { { 2, 5 }, { 1, ULONG_MAX - 10 } };
	struct ckfp_lru l;

	l = pick(before_first, 2);
	ck_assert_uint_eq(l.domid, 1);
	ck_assert_uint_eq(l.oldest, ULONG_MAX - 10);
	l = pick(after_first, 2);
	ck_assert_uint_eq(l.domid, 1);
	ck_assert_uint_eq(l.oldest, ULONG_MAX - 10);
}
END_TEST

/* Used before the wrap, now after it: idle for now - oldest ticks, counted across the wrap. */
START_TEST(wrap_idle_time)
{
	const struct use before[] = { { 1, ULONG_MAX - 10 }, { 2, 5 } };
	/* oldest + IDLE does not wrap, now has: 306 ticks idle. */
	const struct use long_ago[] = { { 3, ULONG_MAX - 300 } };
	/* oldest + IDLE wraps, now has not: 90 ticks idle. */
	const struct use lately[] = { { 4, ULONG_MAX - 100 } };
	struct ckfp_lru l = pick(before, 2);
	unsigned long retry = 0;

	/* 31 ticks idle at 20 (ULONG_MAX - 10 .. ULONG_MAX, 0 .. 20). */
	ck_assert(!ckfp_lru_ready(&l, 20, IDLE, &retry));
	ck_assert_uint_eq(retry, IDLE - 31);
	ck_assert(!ckfp_lru_ready(&l, IDLE - 11 - 1, IDLE, &retry));
	ck_assert_uint_eq(retry, 1);
	ck_assert(ckfp_lru_ready(&l, IDLE - 11, IDLE, &retry));

	l = pick(long_ago, 1);
	ck_assert(ckfp_lru_ready(&l, 5, IDLE, &retry));

	l = pick(lately, 1);
	retry = 0;
	ck_assert(!ckfp_lru_ready(&l, ULONG_MAX - 10, IDLE, &retry));
	ck_assert_uint_eq(retry, IDLE - 90);
}
END_TEST

START_TEST(not_idle_long_enough)
{
	const struct use u[] = { { 1, 1000 }, { 2, 5000 } };
	struct ckfp_lru l = pick(u, 2);
	unsigned long retry = 0;

	/* Used this very jiffy: a whole IDLE to wait. */
	ck_assert(!ckfp_lru_ready(&l, 1000, IDLE, &retry));
	ck_assert_uint_eq(retry, IDLE);
	ck_assert(!ckfp_lru_ready(&l, 1100, IDLE, &retry));
	ck_assert_uint_eq(retry, IDLE - 100);
	ck_assert(!ckfp_lru_ready(&l, 1000 + IDLE - 1, IDLE, &retry));
	ck_assert_uint_eq(retry, 1);
}
END_TEST

/* A frame in the jiffy after the caller read now: no negative (huge) retry, IDLE + 1. */
START_TEST(used_after_now)
{
	const struct use u[] = { { 1, 1001 } };
	struct ckfp_lru l = pick(u, 1);
	unsigned long retry = 0;

	ck_assert(!ckfp_lru_ready(&l, 1000, IDLE, &retry));
	ck_assert_uint_eq(retry, IDLE + 1);
}
END_TEST

START_TEST(idle_exactly_enough)
{
	const struct use u[] = { { 1, 1000 } };
	struct ckfp_lru l = pick(u, 1);
	unsigned long retry = 0;

	ck_assert(ckfp_lru_ready(&l, 1000 + IDLE, IDLE, &retry));
	ck_assert(ckfp_lru_ready(&l, 1000 + IDLE + 1, IDLE, &retry));
	ck_assert(ckfp_lru_ready(&l, 1000 + 100 * IDLE, IDLE, &retry));
}
END_TEST

/* Nothing up (set-ups and closed channels hold the slots): never ready, look again in IDLE. */
START_TEST(none_found)
{
	struct ckfp_lru l;
	unsigned long retry = 12345;

	ckfp_lru_init(&l);
	ck_assert(!l.found);
	/* At any time, even one that a channel used at 0 (init's oldest) would be idle at. */
	ck_assert(!ckfp_lru_ready(&l, 1000 * IDLE, IDLE, &retry));
	ck_assert_uint_eq(retry, IDLE);
	retry = 12345;
	ck_assert(!ckfp_lru_ready(&l, 0, IDLE, &retry));
	ck_assert_uint_eq(retry, IDLE);
}
END_TEST

/* init forgets an earlier walk. */
START_TEST(init_forgets)
{
	struct ckfp_lru l;
	unsigned long retry = 0;

	ckfp_lru_init(&l);
	ckfp_lru_consider(&l, 3, 10);
	ckfp_lru_init(&l);
	ck_assert(!l.found);
	ck_assert(!ckfp_lru_ready(&l, 10 + IDLE, IDLE, &retry));
	ckfp_lru_consider(&l, 4, 500);
	ck_assert_uint_eq(l.domid, 4);
	ck_assert_uint_eq(l.oldest, 500);
}
END_TEST

static Suite *ckfp_lru_suite(void)
{
	Suite *s = suite_create("ckfp-lru");

	th_add(s, oldest_of_several);
	th_add(s, one_is_chosen);
	th_add(s, order_does_not_matter);
	th_add(s, ties_keep_the_first);
	th_add(s, wrap_chooses_the_older);
	th_add(s, wrap_idle_time);
	th_add(s, not_idle_long_enough);
	th_add(s, used_after_now);
	th_add(s, idle_exactly_enough);
	th_add(s, none_found);
	th_add(s, init_forgets);
	return s;
}

int main(void)
{
	return th_run(ckfp_lru_suite());
}
