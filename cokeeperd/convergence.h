/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Convergence: for every membership change, the time from the source noticing it to each
 * guest's Ack of a generation that includes it.  Every sample since the start lands in a
 * fixed log-linear histogram (1 us to 2^32 us, at most 1/256 off), so the percentiles that
 * `cokeeperctl stats` and the latency benchmarks read cover every Ack, not a recent window,
 * and an Ack costs the same however many guests and changes there are.  Beside it, the
 * counts at fixed bounds (CONVERGENCE_LE_USEC) and the sum, exact, for a monitoring
 * system's histogram (`cokeeperctl metrics`): the log-linear buckets' edges fall between
 * round numbers of seconds.
 */
#pragma once

#include <stdint.h>

/* Below this every microsecond has its own bucket; above, each power of two has this many. */
#define CONVERGENCE_SUB_BUCKETS 128u
#define CONVERGENCE_SUB_BITS 7u
#define CONVERGENCE_BUCKETS (CONVERGENCE_SUB_BUCKETS * (32u - CONVERGENCE_SUB_BITS + 1u))
/* When each of the most recent generations was noticed: an Ack looks its generation up. */
#define CONVERGENCE_CHANGES 4096u
/* The fixed bounds, in microseconds: 0.5 ms to 10 s, each about 2 to 2.5 times the one before. */
#define CONVERGENCE_LE_USEC                                                                      \
	{ 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, \
	  5000000, 10000000 }
#define CONVERGENCE_LE_N 14u

struct convergence {
	struct {
		uint64_t gen;		/* the commit's new generation, 0: none */
		uint64_t noticed_usec;
	} changes[CONVERGENCE_CHANGES];	/* indexed by gen % CONVERGENCE_CHANGES */
	uint64_t newest_gen;
	uint64_t buckets[CONVERGENCE_BUCKETS];
	uint64_t total_samples;
	uint64_t sum_usec;
	uint64_t le[CONVERGENCE_LE_N];	/* samples at or below each bound, not cumulative */
	uint32_t max_usec;
};

struct convergence_summary {
	uint64_t count;
	uint32_t p50_usec, p90_usec, p99_usec, max_usec;
	uint64_t sum_usec;
	uint32_t le_usec[CONVERGENCE_LE_N];	/* the bounds, rising */
	uint64_t le_count[CONVERGENCE_LE_N];	/* cumulative: samples at or below le_usec[i] */
};

/* A commit reached generation gen; the change was first noticed at noticed_usec. */
void convergence_commit(struct convergence *c, uint64_t gen, uint64_t noticed_usec);

/*
 * A guest that had acknowledged `from` now acknowledged `to` at now_usec: one sample per
 * commit it newly covers (the newest CONVERGENCE_CHANGES generations at most).  Returns the
 * latency of the newest such commit (0 if none).  The cost is the number of generations it
 * covers: constant per change and guest.
 */
uint32_t convergence_ack(struct convergence *c, uint64_t from, uint64_t to, uint64_t now_usec);

/* One sample, as convergence_ack records them (tests, and what the benchmarks compare). */
void convergence_record(struct convergence *c, uint32_t usec);

/*
 * The nearest-rank percentiles (rank (count - 1) * p / 100) over every sample since start,
 * and the cumulative counts at the fixed bounds.
 */
void convergence_summarize(const struct convergence *c, struct convergence_summary *out);
