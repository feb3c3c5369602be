/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A delta: what changed between two member sets.  Upserts carry each changed member's whole
 * new state and removals its domid, both sorted by domid, so applying a delta is idempotent:
 * applying it twice, or to any set that already holds some of its changes, gives the same set.
 */
#pragma once

#include "memberset.h"

struct ck_delta {
	uint64_t epoch;
	uint64_t base_gen;
	uint64_t new_gen;
	struct ck_member *upserts;
	size_t n_upserts;
	uint16_t *removed;
	size_t n_removed;
};

/* Fills out (epoch and gens left 0) with what turns `from` into `to`. */
int ck_delta_diff(const struct ck_memberset *from, const struct ck_memberset *to,
		  struct ck_delta *out);

/*
 * Applies d's changes to set (removals, then upserts), all or nothing: on error set is
 * unchanged.  Removing an absent domid is not an error (the change is already there).  In
 * place, at the cost of d's changes whatever the set's size (ck_memberset_apply()).
 */
int ck_delta_apply(struct ck_memberset *set, const struct ck_delta *d);

static inline size_t ck_delta_changes(const struct ck_delta *d)
{
	return d->n_upserts + d->n_removed;
}

/* Frees the arrays and zeroes d; safe on a zeroed delta. */
void ck_delta_reset(struct ck_delta *d);
