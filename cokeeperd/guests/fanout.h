/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fan-out: what the guests are sent, encoded once however many of them need it.  A
 * committed change, the snapshot of a generation, and the changes since a generation merged
 * into one delta (for a guest that lagged or said Hello) are each encoded the first time a
 * session asks and queued by reference (lib/outbuf.h) by every session after it: one encoding
 * and no copy per guest, and a thousand guests resyncing at once hold one snapshot between
 * them, not one each.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "membership.h"
#include "outbuf.h"
#include "view.h"

/*
 * The filtered deltas and snapshots of guests that see less than the whole host (view.h):
 * as many distinct ones as there are tenants' views, each encoded once too.  A change of one
 * member is, to every guest, one of three: the change, its removal, or nothing.
 */
#define FANOUT_VIEWS 8

struct fanout_view_delta {
	struct ck_bytes *bytes;
	uint64_t epoch, base, gen;
	uint32_t *key;		/* the upserts' domids, then the removals' | 1 << 16 */
	size_t n_key;
};

struct fanout_view_snapshot {
	struct ck_bytes *bytes;
	uint64_t epoch, gen, hash;
	uint64_t *bits;		/* VIEW_WORDS */
};

struct fanout {
	struct ck_bytes *delta;		/* the latest change, (delta_epoch, delta_gen) */
	uint64_t delta_epoch, delta_gen;
	struct ck_bytes *snapshot;	/* of (snapshot_epoch, snapshot_gen) */
	uint64_t snapshot_epoch, snapshot_gen;
	struct ck_bytes *merged;	/* the changes from merged_base to merged_gen */
	uint64_t merged_epoch, merged_base, merged_gen;
	struct fanout_view_delta view_deltas[FANOUT_VIEWS];
	struct fanout_view_snapshot view_snapshots[FANOUT_VIEWS];
	unsigned int next_view_delta, next_view_snapshot;	/* the next slot to reuse */
};

/*
 * Each returns bytes the fan-out keeps (the caller queues them, which takes a reference of
 * its own): valid until the next call of the same kind.
 */

/* The committed change d. */
int fanout_delta(struct fanout *f, const struct ck_delta *d, struct ck_bytes **ret);
/* A snapshot of m as it is now. */
int fanout_snapshot(struct fanout *f, const struct ck_membership *m, struct ck_bytes **ret);
/*
 * The changes since a generation merged into one delta d (ck_membership_delta_since(): the
 * caller has it, to filter it for its guest first), cached by its generations.
 */
int fanout_merged(struct fanout *f, const struct ck_delta *d, struct ck_bytes **ret);

/* A delta as view_filter_delta() filtered it for one guest. */
int fanout_view_delta(struct fanout *f, const struct ck_delta *filtered, struct ck_bytes **ret);
/* A snapshot of m holding the members v has. */
int fanout_view_snapshot(struct fanout *f, const struct ck_membership *m,
			 const struct guest_view *v, struct ck_bytes **ret);

void fanout_release(struct fanout *f);
