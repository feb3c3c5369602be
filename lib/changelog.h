/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's bounded log of recent member-level changes, one generation each, so that a
 * guest reconnecting at a recent generation gets a delta instead of a whole snapshot.
 */
#pragma once

#include "delta.h"

struct ck_changelog;

/* capacity: how many changes are kept; older ones are forgotten first. */
int ck_changelog_new(struct ck_changelog **ret, size_t capacity);
void ck_changelog_free(struct ck_changelog *log);

/*
 * Records the change that produced generation gen: the member's new state (upsert) or, with
 * upsert NULL, the removal of domid.  Generations must be appended consecutively; after a gap
 * the log restarts from gen.
 */
void ck_changelog_append(struct ck_changelog *log, uint64_t gen, const struct ck_member *upsert,
		   uint16_t domid);

/* Forgets everything (a new epoch). */
void ck_changelog_clear(struct ck_changelog *log);

/*
 * The compacted delta from since_gen to the newest logged generation: each domid changed after
 * since_gen once, with its latest state.  out->base_gen/new_gen are set, out->epoch is not.
 * -ESTALE if the log no longer reaches back to since_gen, or since_gen is in the future.
 */
int ck_changelog_since(const struct ck_changelog *log, uint64_t since_gen, struct ck_delta *out);

/* The newest logged generation, 0 for an empty log. */
uint64_t ck_changelog_newest(const struct ck_changelog *log);
