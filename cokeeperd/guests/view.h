/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What one guest may see of its host (issue 21).  dom0 decides which co-resident members a
 * guest's table holds (the hub's `sees`: by default those it may pair with, fastpath.conf(5));
 * the guest is sent every generation of the membership as it is numbered, each delta
 * filtered to what it sees: an upsert of a member it sees passes, an upsert of one it saw
 * and no longer sees becomes its removal, a removal passes only if the guest had it.  A
 * generation it sees nothing of is an empty delta: it still acks every generation, and
 * convergence is measured as before.
 *
 * What the guest holds is kept as a bitmap by domid (4 KiB a guest): its table once what is
 * queued for it is applied.  It is only known from a snapshot on: a guest new to the session,
 * or whose queue was dropped, gets a snapshot of its view, and so does one whose policy
 * changed, or whose own record changed so that it sees others than those the delta changes
 * (its vif moved to another bridge: more changes than one generation may carry).  Each
 * delta costs a guest one decision per member it changes: O(1) a guest per change, as
 * before; a change of its own record costs it one decision per member.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "membership.h"

#define VIEW_WORDS ((CK_DOMID_LIMIT + 63) / 64)

struct view_filter {
	/* Does viewer's table hold m?  Called with m != viewer's own record. */
	bool (*sees)(uint16_t viewer, const struct ck_member *m, void *userdata);
	void *userdata;
};

struct guest_view {
	uint64_t *bits;		/* by domid; NULL: not known, the guest gets a snapshot next */
};

enum view_result {
	VIEW_SAME,		/* the delta as it is: the guest sees all it changes */
	VIEW_FILTERED,		/* *out, filtered */
	VIEW_SNAPSHOT,		/* only a snapshot of its view will do */
};

/*
 * The delta d (which brought m to its generation) as viewer sees it; v becomes what viewer holds once it is applied (call this
 * only for what is queued).  Returns an enum view_result, or -ENOMEM (v is then unknown).
 * With VIEW_FILTERED, *out holds its own arrays (ck_delta_reset() it).
 */
int view_filter_delta(struct guest_view *v, uint16_t viewer, const struct view_filter *f,
		      const struct ck_membership *m, const struct ck_delta *d,
		      struct ck_delta *out);

/*
 * v becomes the members of m that viewer sees (itself always); *all when that is every
 * member, so the snapshot everyone shares will do.  0 or -ENOMEM.
 */
int view_snapshot(struct guest_view *v, uint16_t viewer, const struct view_filter *f,
		  const struct ck_membership *m, bool *all);

bool view_has(const struct guest_view *v, uint16_t domid);

/* Not known any more: the next thing the guest is sent must be a snapshot. */
void view_forget(struct guest_view *v);
