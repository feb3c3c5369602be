/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sources tell cokeeperd who lives on this host.  Each notices changes its own way
 * (xenstore watches and libxl events, a poll timer, the simulation's control verbs) and says
 * so through its `changed` callback; the daemon's coalesced rescan then asks it for the
 * whole member set (scan.h), which it answers reading again only what its events say may
 * have changed.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "delta.h"
#include "membership.h"
#include "scan.h"

struct source;
struct json_object;

struct source_config {
	sd_event *event;
	bool include_dom0;
	unsigned int poll_interval_ms;		/* poll */
	/* Read only: what the daemon last committed. */
	const struct ck_membership *membership;
	/* How a scan takes addresses besides the toolstack's: scan_options' fields. */
	bool trust_claimed;
	void (*addresses)(void *data, struct ck_member *m);
	void *addresses_data;
};

struct source_callbacks {
	/* Something may have changed: scan soon (coalesced). */
	void (*changed)(void *userdata);
};

struct source_ops {
	const char *name;
	int (*new)(struct source **ret, const struct source_config *cfg,
		   const struct source_callbacks *cb, void *userdata);
	/* Fills out (empty) with the host's members. */
	int (*scan)(struct source *s, struct ck_memberset *out, struct scan_result *result);
	/*
	 * Optional: domid's addresses from elsewhere changed; the next scan merges them again
	 * (and is asked for).  Without it the next scan must read everything anyway (poll).
	 */
	void (*remerge)(struct source *s, uint16_t domid);
	/*
	 * Optional: domid's member as the last scan read it, with every address any source
	 * gave it (a guest's claims too), before conflicts and trust took any away.
	 */
	int (*member_as_read)(struct source *s, uint16_t domid, struct ck_member *out);
	/* Optional: the next scan must read everything again (SIGHUP). */
	void (*forget)(struct source *s);
	/* Optional: the committed change, e.g. to follow new members' libxl death events. */
	void (*members_changed)(struct source *s, const struct ck_delta *delta);
	/* Optional: a control verb of this source ("sim-create" …); *reply NULL: not ours. */
	int (*control)(struct source *s, const char *cmd, struct json_object *request,
		       struct json_object **reply);
	void (*free)(struct source *s);
};

/* What every source holds: its configuration and how to reach its owner. */
struct source {
	const struct source_ops *ops;
	struct source_config cfg;
	struct source_callbacks cb;
	void *userdata;
};

static inline void source_init(struct source *s, const struct source_ops *ops,
			       const struct source_config *cfg,
			       const struct source_callbacks *cb, void *userdata)
{
	s->ops = ops;
	s->cfg = *cfg;
	s->cb = *cb;
	s->userdata = userdata;
}

/* The scan options the source's configuration asks for. */
static inline struct scan_options source_scan_options(const struct source *s)
{
	return (struct scan_options){
		.include_dom0 = s->cfg.include_dom0,
		.trust_claimed = s->cfg.trust_claimed,
		.addresses = s->cfg.addresses,
		.addresses_data = s->cfg.addresses_data,
	};
}

static inline void source_changed(struct source *s)
{
	s->cb.changed(s->userdata);
}

extern const struct source_ops source_xenstore_ops;
extern const struct source_ops source_poll_ops;
extern const struct source_ops source_sim_ops;
