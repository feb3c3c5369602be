// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "convergence.h"

static const uint32_t le_usec[] = CONVERGENCE_LE_USEC;
_Static_assert(sizeof(le_usec) / sizeof(le_usec[0]) == CONVERGENCE_LE_N,
	       "CONVERGENCE_LE_N is not the number of bounds");

void convergence_commit(struct convergence *c, uint64_t gen, uint64_t noticed_usec)
{
	c->changes[gen % CONVERGENCE_CHANGES].gen = gen;
	c->changes[gen % CONVERGENCE_CHANGES].noticed_usec = noticed_usec;
	if (gen > c->newest_gen)
		c->newest_gen = gen;
}

/*
 * HdrHistogram's layout: values below 2 * SUB_BUCKETS are exact; above, the power of two
 * [2^e, 2^(e+1)) is split into SUB_BUCKETS buckets of width 2^(e - SUB_BITS), at most
 * 1/SUB_BUCKETS of the values in it.
 */
static unsigned int bucket_of(uint32_t v)
{
	unsigned int e, shift;

	if (v < 2 * CONVERGENCE_SUB_BUCKETS)
		return v;
	e = 31 - __builtin_clz(v);	/* >= SUB_BITS + 1 */
	shift = e - CONVERGENCE_SUB_BITS;
	return CONVERGENCE_SUB_BUCKETS * shift + (v >> shift);
}

/* The middle of a bucket: the value it reports, off by at most half its width. */
static uint32_t bucket_value(unsigned int b)
{
	unsigned int shift;
	uint64_t lo;

	if (b < 2 * CONVERGENCE_SUB_BUCKETS)
		return b;
	shift = b / CONVERGENCE_SUB_BUCKETS - 1;
	lo = (uint64_t)(b - CONVERGENCE_SUB_BUCKETS * shift) << shift;
	lo += ((uint64_t)1 << shift) / 2;
	return lo > UINT32_MAX ? UINT32_MAX : (uint32_t)lo;
}

/* The first fixed bound at or above v; CONVERGENCE_LE_N above them all (only +Inf). */
static unsigned int le_of(uint32_t v)
{
	unsigned int i = 0;

	while (i < CONVERGENCE_LE_N && v > le_usec[i])
		i++;
	return i;
}

void convergence_record(struct convergence *c, uint32_t usec)
{
	unsigned int le = le_of(usec);

	c->buckets[bucket_of(usec)]++;
	if (le < CONVERGENCE_LE_N)
		c->le[le]++;
	c->total_samples++;
	c->sum_usec += usec;
	if (usec > c->max_usec)
		c->max_usec = usec;
}

uint32_t convergence_ack(struct convergence *c, uint64_t from, uint64_t to, uint64_t now)
{
	uint32_t newest = 0;

	if (to > c->newest_gen)
		to = c->newest_gen;
	/* Older generations' slots hold newer ones by now. */
	if (to > CONVERGENCE_CHANGES && from < to - CONVERGENCE_CHANGES)
		from = to - CONVERGENCE_CHANGES;
	for (uint64_t gen = from + 1; gen <= to; gen++) {
		uint64_t dt;

		if (c->changes[gen % CONVERGENCE_CHANGES].gen != gen)
			continue;	/* inside a commit of several changes: not its generation */
		dt = now - c->changes[gen % CONVERGENCE_CHANGES].noticed_usec;
		newest = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		convergence_record(c, newest);
	}
	return newest;
}

static uint32_t percentile(const struct convergence *c, unsigned int p)
{
	uint64_t rank = (c->total_samples - 1) * p / 100, seen = 0;

	for (unsigned int b = 0; b < CONVERGENCE_BUCKETS; b++) {
		seen += c->buckets[b];
		if (seen > rank) {
			uint32_t v = bucket_value(b);

			return v > c->max_usec ? c->max_usec : v;
		}
	}
	return c->max_usec;
}

void convergence_summarize(const struct convergence *c, struct convergence_summary *out)
{
	uint64_t below = 0;

	memset(out, 0, sizeof(*out));
	out->count = c->total_samples;
	out->max_usec = c->max_usec;
	out->sum_usec = c->sum_usec;
	for (unsigned int i = 0; i < CONVERGENCE_LE_N; i++) {
		below += c->le[i];
		out->le_usec[i] = le_usec[i];
		out->le_count[i] = below;
	}
	if (c->total_samples == 0)
		return;
	out->p50_usec = percentile(c, 50);
	out->p90_usec = percentile(c, 90);
	out->p99_usec = percentile(c, 99);
}
