/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the unit suites: deterministic member generators and the Check runner. */
#pragma once

#include <check.h>
#include <stdint.h>

#include "membership.h"

/* A small deterministic PRNG (xorshift32), so a failing property test can be replayed. */
uint32_t th_rand(uint32_t *state);
uint32_t th_below(uint32_t *state, uint32_t bound);

/* A plain member: one NIC, one IPv4 address, all derived from domid and variant. */
void th_member(struct ck_member *m, uint16_t domid, unsigned int variant);

/* A member with random name, NIC and address counts (within the protocol's limits). */
void th_random_member(struct ck_member *m, uint16_t domid, uint32_t *rng);

/* A member with every field at its limit: the largest one the protocol allows. */
void th_max_member(struct ck_member *m, uint16_t domid);

/* A random set of up to max members with domids below domid_space. */
struct ck_memberset *th_random_set(uint32_t *rng, size_t max, uint16_t domid_space);

/* Adds fn as a test case of its own, named after the test. */
#define th_add(suite, fn)                                             \
	do {                                                          \
		TCase *tc_ = tcase_create(#fn);                       \
		/* No per-test clock: a verdict must not depend on the machine's speed (meson's \
		 * timeout guards against a hang). */                 \
		tcase_set_timeout(tc_, 0);                            \
		tcase_add_test(tc_, fn);                              \
		suite_add_tcase(suite, tc_);                          \
	} while (0)

/* th_add for a loop test: fn runs once per _i in [start, end). */
#define th_add_loop(suite, fn, start, end)                            \
	do {                                                          \
		TCase *tc_ = tcase_create(#fn);                       \
		tcase_set_timeout(tc_, 0);                            \
		tcase_add_loop_test(tc_, fn, start, end);             \
		suite_add_tcase(suite, tc_);                          \
	} while (0)

/* Runs the suite; the process exit status is main's return value. */
int th_run(Suite *s);
