/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where the agent's fast path set-up messages go and come from: the kernel module
 * cokeeper-fp.ko over its generic netlink family "cokeeper_fp" (fastpath-genl.c), or, in the
 * simulation, an in-memory stand-in (fastpath-memory.c).  fastpath.c drives both through the
 * same calls, as the session drives the sinks (sink.h).
 *
 * Messages are struct ck_msg of the three fast path types, with peer_domid as the uapi
 * header has CKFP_A_PEER_DOMID: the destination in what the module says, the source (as
 * cokeeperd set it) in what it is handed.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "message.h"

struct fastpath_port;

struct fastpath_port_callbacks {
	/* The module has a set-up message for cokeeperd; msg passed every check. */
	void (*event)(const struct ck_msg *msg, void *userdata);
};

struct fastpath_port_ops {
	const char *name;
	/*
	 * Hands the module a message cokeeperd relayed: 0, -ENOENT when there is no module to
	 * take it (its family does not exist), or the module's -errno.
	 */
	int (*deliver)(struct fastpath_port *p, const struct ck_msg *msg);
	void (*free)(struct fastpath_port *p);
};

struct fastpath_port {
	const struct fastpath_port_ops *ops;
	struct fastpath_port_callbacks cb;
	void *userdata;
};

/*
 * Follows the family in the event loop: resolved and its "events" group joined now if it
 * exists, and whenever it appears later (the genl controller's notifications), forgotten
 * when it goes.  Fails only for want of netlink or memory, never for a missing module.
 */
int fastpath_genl_new(struct fastpath_port **ret, sd_event *event,
		      const struct fastpath_port_callbacks *cb, void *userdata);

struct fastpath_memory_config {
	bool absent;		/* behave as a guest without the module: deliver gives -ENOENT */
	bool accept_offers;	/* answer every offer with an accept, as a module that maps it */
	const char *log_path;	/* if not NULL, each message handed over is appended as JSON */
};

int fastpath_memory_new(struct fastpath_port **ret, const struct fastpath_memory_config *cfg,
			const struct fastpath_port_callbacks *cb, void *userdata);
/* As if the module multicast msg (its checks are the caller's). */
void fastpath_memory_event(struct fastpath_port *p, const struct ck_msg *msg);
/* How many messages of type the module was handed, and the last of them (if last). */
unsigned int fastpath_memory_received(const struct fastpath_port *p, enum ck_msg_type type,
				      struct ck_msg *last);
