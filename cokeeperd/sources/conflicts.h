/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who keeps what when members collide.  Holds every member as the scan read it, indexed by
 * domid, by uuid and by each NIC key (MAC, IPv4, IPv6), so that a change re-resolves only
 * the members that share a uuid or a key with it: O(changed) per change, O(N) from scratch.
 *
 * The rules, unchanged from the scan's pairwise comparison they replace:
 * - Members with one uuid are a localhost migration's two halves: the member is the running
 *   one (else the migrating-out one), the higher domid among equals; the others are dropped.
 * - Among the members left, a MAC held by several stays with the lowest domid that holds it
 *   (in every NIC of it that holds it); the others lose it.  A NIC that lost its MAC goes,
 *   addresses and all, but its addresses still count as held when deciding who keeps them.
 * - An address stays with the one member that holds it at the highest trust any member holds
 *   it at (enum ck_addr_source: toolstack, orchestrator, learned, claimed); when two members
 *   hold it at that trust, neither keeps it until one lets go (a conflict, counted).
 * - A claimed address (the guest's own word) takes part only with trust_claimed; without it,
 *   it is no key and no resolved member holds it, though the member as read keeps it.
 */
#pragma once

#include <stdbool.h>

#include "member.h"

struct conflicts;

int conflicts_new(struct conflicts **ret, bool trust_claimed);
void conflicts_free(struct conflicts *c);

/*
 * domid's member as read (m NULL: it has none).  All or nothing: on -ENOMEM nothing
 * changed.  Setting what is already there changes nothing.
 */
int conflicts_set(struct conflicts *c, uint16_t domid, const struct ck_member *m);

/*
 * Resolves what the sets since the last call changed: *ret (sorted, each domid once; valid
 * until the next conflicts_set()) holds every domid whose resolved member may differ.
 */
void conflicts_resolve(struct conflicts *c, const uint16_t **ret, size_t *n);

/* domid's resolved member; -ENOENT if it has none (absent, or the other half's). */
int conflicts_member(const struct conflicts *c, uint16_t domid, struct ck_member *out);

/* domid's member as read (every address it was given, used or not); -ENOENT if none. */
int conflicts_member_as_read(const struct conflicts *c, uint16_t domid, struct ck_member *out);

/* Calls fn for every domid that has a member as read, in no order. */
void conflicts_foreach(const struct conflicts *c, void (*fn)(uint16_t domid, void *userdata),
		       void *userdata);

/*
 * Conflicts in the current members: dropped halves of a uuid, MACs lost to a lower domid,
 * and each holder of an address nobody keeps (a tie at its highest trust).
 */
unsigned int conflicts_count(const struct conflicts *c);
