/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The real Xen host: xenstore connections for watches and for reads, and a libxl context for
 * the domains' run states (dying, shut down, suspended, paused) and their death events.
 */
#pragma once

#include <libxl.h>
#include <xenstore.h>

#include "host.h"

struct xenhost {
	struct xs_handle *xs;		/* watches */
	/*
	 * The scan's reads.  Once a handle has a watch, libxenstore hands every reply through
	 * its reader thread: two thread switches per read, which on a busy dom0 cost more
	 * than the read itself.  A handle without watches reads its replies directly.
	 */
	struct xs_handle *xs_reads;
	/*
	 * Set by the event-driven source before a scan: the scan's first read goes on the watch
	 * connection instead, and on_barrier runs once it has its reply (see xs_scan()).
	 */
	bool barrier_pending;
	void (*on_barrier)(void *userdata);
	void *barrier_userdata;
	libxl_ctx *ctx;
	xentoollog_logger *logger;
};

/* Clear errors for what a user can fix: no xenstored, no privilege. */
int xenhost_open(struct xenhost **ret);
void xenhost_close(struct xenhost *xh);
struct host xenhost_host(struct xenhost *xh);
