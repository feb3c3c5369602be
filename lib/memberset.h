/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A set of members keyed by domid: the host's membership at one generation, on either side
 * of the wire.  Members are stored by value.
 */
#pragma once

#include "member.h"

struct ck_memberset;

int ck_memberset_new(struct ck_memberset **ret);
void ck_memberset_free(struct ck_memberset *set);
void ck_memberset_freep(struct ck_memberset **set);
#define _cleanup_memberset_ __attribute__((cleanup(ck_memberset_freep)))

/* Inserts m, or replaces the member with its domid.  -EINVAL if m breaks ck_member_check(). */
int ck_memberset_put(struct ck_memberset *set, const struct ck_member *m);
/* -ENOENT if no member has that domid. */
int ck_memberset_remove(struct ck_memberset *set, uint16_t domid);
/*
 * Removes the domids in removed (an absent one is not an error), then puts the upserts (a
 * later upsert of a domid wins), all or nothing: on error (-EINVAL for an upsert that breaks
 * ck_member_check(), -ENOMEM) the set is unchanged.  In place: the cost is that of the
 * changes, whatever the set's size.
 */
int ck_memberset_apply(struct ck_memberset *set, const struct ck_member *upserts,
		       size_t n_upserts, const uint16_t *removed, size_t n_removed);
void ck_memberset_clear(struct ck_memberset *set);
/* Exchanges the contents of a and b. */
void ck_memberset_swap(struct ck_memberset *a, struct ck_memberset *b);

const struct ck_member *ck_memberset_find(const struct ck_memberset *set, uint16_t domid);
size_t ck_memberset_count(const struct ck_memberset *set);
bool ck_memberset_equal(const struct ck_memberset *a, const struct ck_memberset *b);
int ck_memberset_copy(const struct ck_memberset *set, struct ck_memberset **ret);

/* Calls fn for each member, in no order; the set must not change meanwhile. */
void ck_memberset_foreach(const struct ck_memberset *set,
			  void (*fn)(const struct ck_member *m, void *userdata), void *userdata);

/*
 * The members in ascending domid order, as an array of pointers into the set that stays valid
 * until the set changes.  The caller frees the array (not the members).  An empty set gives
 * *ret = NULL, *n = 0.
 */
int ck_memberset_sorted(const struct ck_memberset *set, const struct ck_member ***ret, size_t *n);
