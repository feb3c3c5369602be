/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rate-limits what a peer can make us log: at most `burst` messages per `interval`, then
 * silence until the interval ends, when the next message says how many were suppressed.
 * Pure: the caller passes the clock.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ck_ratelimit {
	uint64_t interval_usec;
	unsigned int burst;
	uint64_t begin_usec;	/* the current interval's start */
	bool started;
	unsigned int done;
	unsigned int suppressed;	/* since the last message that got through */
};

#define CK_RATELIMIT_INIT(interval, n) { .interval_usec = (interval), .burst = (n) }

/*
 * True if a message may be logged now.  *suppressed (if not NULL) receives how many were
 * held back before this one, for the caller to mention.
 */
bool ck_ratelimit_allow(struct ck_ratelimit *rl, uint64_t now_usec, unsigned int *suppressed);
