/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scan: reads a host's whole state and turns it into the member set.  Every xenstore
 * watch fire, libxl event and poll tick ends here, so a fire that carries no domid, fires
 * twice, or fires for nothing costs one idempotent rescan and never a wrong membership.
 *
 * Identity comes only from what the toolstack wrote: /local/domain/<domid>/{name,vm} and the
 * vif backends /local/domain/0/backend/vif/<domid>/<devid>/{mac,ip}.  Keys under a guest's
 * own attr/ and data/ are never read.
 */
#pragma once

#include "host.h"
#include "memberset.h"

struct scan_options {
	bool include_dom0;
};

struct scan_result {
	unsigned int domains;	/* domains the hypervisor listed */
	unsigned int skipped;	/* not members: dying, shut down, incoming, nameless … */
	unsigned int conflicts;	/* duplicate uuids or addresses resolved */
};

/*
 * Whether a fire of a watch on path (as xs_check_watch reports it) can change what a scan
 * reads.  The vif backend tree is rewritten many times while a device connects (state,
 * hotplug-status, features); only a vif's mac or ip, or a vif or domain directory coming or
 * going, is identity.  Special watches (@introduceDomain …) always count.
 */
bool scan_watch_relevant(const char *path);

/* Fills out (which must be empty) with the host's members.  On error out is unspecified. */
int scan_host(const struct host *host, const struct scan_options *opts, struct ck_memberset *out,
	      struct scan_result *result);
