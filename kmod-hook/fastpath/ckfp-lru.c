// SPDX-License-Identifier: GPL-2.0-only
/*
 * The least-recently-used choice (ckfp-lru.h), shared by the module and the tests.
 *
 * Every comparison of two jiffies goes through time_before(): a channel used just before the
 * counter wrapped is older than one used just after, though its value is larger.  The
 * arithmetic is exact only while the two are less than LONG_MAX ticks apart, which a channel
 * that is up (and a slot that is wanted within a second) always is.
 */
#include "ckfp-lru.h"

void ckfp_lru_init(struct ckfp_lru *l)
{
	l->found = false;
	l->domid = 0;
	l->oldest = 0;
}

void ckfp_lru_consider(struct ckfp_lru *l, u32 domid, unsigned long last_used)
{
	/* Strictly older only: a tie keeps the first, so the choice does not flip-flop. */
	if (!l->found || time_before(last_used, l->oldest)) {
		l->found = true;
		l->domid = domid;
		l->oldest = last_used;
	}
}

bool ckfp_lru_ready(const struct ckfp_lru *l, unsigned long now, unsigned long idle,
		    unsigned long *retry)
{
	if (!l->found) {
		*retry = idle;
		return false;
	}
	if (time_before(now, l->oldest + idle)) {
		*retry = l->oldest + idle - now;
		return false;
	}
	return true;
}
