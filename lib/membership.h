/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A membership: a member set at a generation within an epoch.
 *
 * The daemon holds the authoritative one: it commits each newly scanned set, which advances
 * gen by one per member-level change and logs the changes.  Each agent holds a replica that
 * it moves forward with snapshots and deltas; anything it cannot apply exactly (a gap, a
 * foreign epoch) is refused with -ESTALE, meaning "resync with a snapshot".
 */
#pragma once

#include "delta.h"
#include "changelog.h"

struct ck_membership {
	uint64_t epoch;		/* 0: no state yet (a fresh replica) */
	uint64_t gen;
	struct ck_memberset *members;
	struct ck_changelog *changelog;	/* authority only; NULL in a replica */
};

/* An authority (log_capacity > 0, epoch != 0) or a replica (log_capacity 0, epoch 0). */
int ck_membership_new(struct ck_membership **ret, uint64_t epoch, size_t log_capacity);
void ck_membership_free(struct ck_membership *m);

/*
 * Authority: makes `next` the membership.  If anything changed, gen advances by the number of
 * changes, they are logged, and *out (if not NULL) receives the delta with epoch and gens set;
 * otherwise *out is an empty delta with base_gen == new_gen == gen.
 */
int ck_membership_commit(struct ck_membership *m, const struct ck_memberset *next,
			 struct ck_delta *out);

/*
 * Authority: as ck_membership_commit(), for a change known to touch only domids (n of them,
 * ascending, each once): each becomes its member in next, or goes if next has none; every
 * other member stays.  The work is in proportion to n, not to the membership, and the delta
 * is the one ck_membership_commit() would give for the whole set.  -EINVAL if domids is not
 * ascending.  On error nothing changes.
 */
int ck_membership_commit_domids(struct ck_membership *m, const struct ck_memberset *next,
				const uint16_t *domids, size_t n, struct ck_delta *out);

/*
 * Authority: the delta that brings a replica at (epoch, gen) up to date.  An up-to-date
 * replica gets an empty delta.  -ESTALE: a snapshot is needed instead (another epoch, a
 * generation from the future, or one older than the log reaches).
 */
int ck_membership_delta_since(const struct ck_membership *m, uint64_t epoch, uint64_t gen,
			      struct ck_delta *out);

/*
 * Replica: applies d.  0 when applied, or when d holds nothing newer than the replica (a
 * duplicate); -ESTALE on another epoch or a gap (d->base_gen > gen); -EINVAL for a malformed
 * delta.  On error nothing changes.
 */
int ck_membership_apply(struct ck_membership *m, const struct ck_delta *d);

/*
 * Replica: replaces everything with a snapshot at (epoch, gen), taking ownership of members
 * (which it frees on error too).
 */
int ck_membership_replace(struct ck_membership *m, uint64_t epoch, uint64_t gen,
			  struct ck_memberset *members);
