/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Convergence: for every membership change, the time from the source noticing it to each
 * guest's Ack of a generation that includes it.  Kept as the last samples (for percentiles)
 * plus running totals; this is what `cokeeperctl stats` and the latency benchmarks read.
 */
#pragma once

#include <stdint.h>

#define CONVERGENCE_SAMPLES 4096
#define CONVERGENCE_CHANGES 1024

struct convergence {
	struct {
		uint64_t gen;		/* the commit's new generation */
		uint64_t noticed_usec;
	} changes[CONVERGENCE_CHANGES];
	unsigned int n_changes, next_change;
	uint32_t samples[CONVERGENCE_SAMPLES];	/* microseconds */
	unsigned int n_samples, next_sample;
	uint64_t total_samples;
	uint32_t max_usec;
};

struct convergence_summary {
	uint64_t count;
	uint32_t p50_usec, p90_usec, p99_usec, max_usec;
};

/* A commit reached generation gen; the change was first noticed at noticed_usec. */
void convergence_commit(struct convergence *c, uint64_t gen, uint64_t noticed_usec);

/*
 * A guest that had acknowledged `from` now acknowledged `to` at now_usec: one sample per
 * change it newly covers.  Returns the latency of the newest such change (0 if none).
 */
uint32_t convergence_ack(struct convergence *c, uint64_t from, uint64_t to, uint64_t now_usec);

void convergence_summarize(const struct convergence *c, struct convergence_summary *out);
