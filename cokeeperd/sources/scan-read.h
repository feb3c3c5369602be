/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One domain's identity as the toolstack wrote it: /local/domain/<domid>/{name,vm} and the
 * vif backends /local/domain/0/backend/vif/<domid>/<devid>/{mac,ip}.  Keys under a guest's
 * own attr/ and data/ are never read.
 */
#pragma once

#include "host.h"
#include "member.h"

/* Reads one domain; -ENOENT when it is not (or not yet, or no longer) a member. */
int scan_read_member(const struct host *host, const struct domain_info *info,
		     struct ck_member *m);
/* Reads m's vifs again into m->nics (which must be empty). */
void scan_read_nics(const struct host *host, struct ck_member *m);
