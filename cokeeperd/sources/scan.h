/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scan: reads a host's state and turns it into the whole member set.  Every xenstore
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
#include "scan-cache.h"

/*
 * What changed since the cache's previous scan, for a commit that looks at those domids only
 * (ck_membership_commit_domids()).  The first scan, and the first after a forget or a
 * failure, gives the whole set instead (result->partial false): what was handed out before
 * may never have been committed.  On error out is unspecified.
 */
int scan_host_changes(const struct host *host, const struct scan_options *opts,
		      struct scan_cache *cache, struct ck_memberset *out,
		      struct scan_result *result);

/*
 * Fills out (which must be empty) with the host's members.  cache NULL reads every domain
 * (the polling baseline); otherwise only what the cache says may have changed.  On error out
 * is unspecified.
 */
int scan_host(const struct host *host, const struct scan_options *opts, struct scan_cache *cache,
	      struct ck_memberset *out, struct scan_result *result);

