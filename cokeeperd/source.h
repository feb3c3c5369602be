/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sources tell the daemon who lives on this host.  Each notices changes its own way
 * (xenstore watches and libxl events, a poll timer, the simulation's control verbs) and asks
 * for a rescan; every source then answers the scan with the whole member set (scan.h),
 * reading again only what its events say may have changed.
 */
#pragma once

#include "delta.h"
#include "scan.h"

struct daemon;
struct source;
struct json_object;

struct source_ops {
	const char *name;
	int (*new)(struct source **ret, struct daemon *d);
	/* Fills out (empty) with the host's members. */
	int (*scan)(struct source *s, struct ck_memberset *out, struct scan_result *result);
	/* Optional: the next scan must read everything again (SIGHUP). */
	void (*forget)(struct source *s);
	/* Optional: the committed change, e.g. to follow new members' libxl death events. */
	void (*members_changed)(struct source *s, const struct ck_delta *delta);
	/* Optional: a control verb of this source ("sim-create" …); NULL reply: not ours. */
	int (*control)(struct source *s, const char *cmd, struct json_object *request,
		       struct json_object **reply);
	void (*free)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	struct daemon *daemon;
};

extern const struct source_ops source_xenstore_ops;
extern const struct source_ops source_poll_ops;
extern const struct source_ops source_sim_ops;
