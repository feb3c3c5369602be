/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's bounded log of recent member-level changes, one generation each, so that a
 * guest reconnecting at a recent generation gets a delta instead of a whole snapshot.
 */
#pragma once

#include "delta.h"

struct ck_log;

/* capacity: how many changes are kept; older ones are forgotten first. */
int ck_log_new(struct ck_log **ret, size_t capacity);
void ck_log_free(struct ck_log *log);

/*
 * Records the change that produced generation gen: the member's new state (upsert) or, with
 * upsert NULL, the removal of domid.  Generations must be appended consecutively; after a gap
 * the log restarts from gen.
 */
void ck_log_append(struct ck_log *log, uint64_t gen, const struct ck_member *upsert,
		   uint16_t domid);

/* Forgets everything (a new epoch). */
void ck_log_clear(struct ck_log *log);

/*
 * The compacted delta from since_gen to the newest logged generation: each domid changed after
 * since_gen once, with its latest state.  out->base_gen/new_gen are set, out->epoch is not.
 * -ESTALE if the log no longer reaches back to since_gen, or since_gen is in the future.
 */
int ck_log_since(const struct ck_log *log, uint64_t since_gen, struct ck_delta *out);

/* The newest logged generation, 0 for an empty log. */
uint64_t ck_log_newest(const struct ck_log *log);
