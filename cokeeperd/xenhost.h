/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The real Xen host: a xenstore connection for reads and watches, and a libxl context for
 * the domains' run states (dying, shut down, suspended, paused) and their death events.
 */
#pragma once

#include <libxl.h>
#include <xenstore.h>

#include "host.h"

struct xenhost {
	struct xs_handle *xs;
	libxl_ctx *ctx;
	xentoollog_logger *logger;
};

/* Clear errors for what a user can fix: no xenstored, no privilege. */
int xenhost_open(struct xenhost **ret);
void xenhost_close(struct xenhost *xh);
struct host xenhost_host(struct xenhost *xh);
