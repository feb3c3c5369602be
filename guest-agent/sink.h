/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where the agent puts the membership: the kernel's co-resident table over generic netlink
 * (sink-genl.c), or, without the module (the simulation, a host where it cannot load), an
 * in-memory table (sink-memory.c).  The session drives both through the same calls, so the
 * simulated tests check the very apply path a real guest runs.
 */
#pragma once

#include "delta.h"

struct sink;

struct sink_ops {
	const char *name;
	/* Replaces the whole table with members at (epoch, gen), atomically. */
	int (*replace)(struct sink *s, uint64_t epoch, uint64_t gen,
		       const struct ck_memberset *members);
	/*
	 * Applies d (removals, then upserts) and records d->new_gen.  On error the session falls
	 * back to replace() with its replica, so a sink need not undo a partial apply.
	 */
	int (*apply)(struct sink *s, const struct ck_delta *d);
	void (*free)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
};

/* dump_path: if not NULL, the table is written there as canonical JSON after each change. */
int sink_memory_new(struct sink **ret, const char *dump_path);
int sink_genl_new(struct sink **ret);
