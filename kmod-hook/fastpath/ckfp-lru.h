/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which up channel makes room when every slot is taken (chan.c make_room), written as plain
 * C with no state of its own so that it is compiled both into cokeeper-fp.ko and into
 * userspace (tests/unit/test-ckfp-lru.c).  Everything outside goes through ckfp-compat.h.
 *
 * The caller walks its up channels, the one of the peer that needs the slot left out, and
 * hands each to ckfp_lru_consider(); ckfp_lru_ready() then says whether the one kept may be
 * closed now.  Times are jiffies, compared with time_before(): they wrap.
 */
#ifndef _CKFP_LRU_H
#define _CKFP_LRU_H

#include "ckfp-compat.h"

struct ckfp_lru {
	bool found;		/* some channel was considered */
	u32 domid;		/* its peer: the least recently used so far */
	unsigned long oldest;	/* its last_used */
};

void ckfp_lru_init(struct ckfp_lru *l);

/*
 * One up channel, of the peer @domid, that last carried a frame at @last_used.  Keeps the
 * least recently used; of two used in the same jiffy, the one considered first.
 */
void ckfp_lru_consider(struct ckfp_lru *l, u32 domid, unsigned long last_used);

/*
 * Whether the channel kept has carried nothing for at least @idle at @now.  Otherwise false
 * and *retry is how many ticks until it will have; with none considered, false and *retry is
 * @idle (the slots are held by set-ups and closed channels, which end by themselves).
 */
bool ckfp_lru_ready(const struct ckfp_lru *l, unsigned long now, unsigned long idle,
		    unsigned long *retry);

#endif /* _CKFP_LRU_H */
