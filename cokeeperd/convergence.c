// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>

#include "convergence.h"

void convergence_commit(struct convergence *c, uint64_t gen, uint64_t noticed_usec)
{
	c->changes[c->next_change].gen = gen;
	c->changes[c->next_change].noticed_usec = noticed_usec;
	c->next_change = (c->next_change + 1) % CONVERGENCE_CHANGES;
	if (c->n_changes < CONVERGENCE_CHANGES)
		c->n_changes++;
}

static void sample(struct convergence *c, uint32_t usec)
{
	c->samples[c->next_sample] = usec;
	c->next_sample = (c->next_sample + 1) % CONVERGENCE_SAMPLES;
	if (c->n_samples < CONVERGENCE_SAMPLES)
		c->n_samples++;
	c->total_samples++;
	if (usec > c->max_usec)
		c->max_usec = usec;
}

uint32_t convergence_ack(struct convergence *c, uint64_t from, uint64_t to, uint64_t now)
{
	uint64_t newest_gen = 0;
	uint32_t newest = 0;

	for (unsigned int i = 0; i < c->n_changes; i++) {
		uint64_t gen = c->changes[i].gen;
		uint64_t dt = now - c->changes[i].noticed_usec;
		uint32_t usec = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;

		if (gen <= from || gen > to)
			continue;
		sample(c, usec);
		if (gen > newest_gen) {
			newest_gen = gen;
			newest = usec;
		}
	}
	return newest;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

void convergence_summarize(const struct convergence *c, struct convergence_summary *out)
{
	uint32_t sorted[CONVERGENCE_SAMPLES];
	unsigned int n = c->n_samples;

	memset(out, 0, sizeof(*out));
	out->count = c->total_samples;
	out->max_usec = c->max_usec;
	if (n == 0)
		return;
	memcpy(sorted, c->samples, n * sizeof(sorted[0]));
	qsort(sorted, n, sizeof(sorted[0]), cmp_u32);
	out->p50_usec = sorted[(n - 1) * 50 / 100];
	out->p90_usec = sorted[(n - 1) * 90 / 100];
	out->p99_usec = sorted[(n - 1) * 99 / 100];
}
