/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An in-memory Xen host: a xenstore tree with the paths the toolstack writes, a domain list
 * with run states, and toolstack operations that change both in the order libxl does and
 * fire the watches Xen 4.17 fires (@introduceDomain, @releaseDomain twice per death, vif
 * backend writes, and the renames cokeeperd watches members' names for).  The simulated source and the unit tests run the real scan against it.
 */
#pragma once

#include "host.h"
#include "member.h"

struct fakexen;

/*
 * Called for every watch fire with what xs_check_watch would report as its path: a special
 * watch ("@introduceDomain", …) or the key written or removed (vif backend keys, names).
 */
typedef void (*fakexen_fire_fn)(const char *path, void *userdata);

int fakexen_new(struct fakexen **ret, fakexen_fire_fn fire, void *userdata);
void fakexen_free(struct fakexen *fx);

/* The host view of this fake, for scan_host(). */
struct host fakexen_host(struct fakexen *fx);

/* Raw xenstore access, as a guest or a test would use it (no watch fires); -EINVAL for a
 * path that is not absolute or has an empty element.  On -ENOMEM the store is as it was. */
int fakexen_write(struct fakexen *fx, const char *path, const char *value);
void fakexen_rm(struct fakexen *fx, const char *path);

struct fake_nic {
	const char *mac;	/* "00:16:3e:…" */
	const char *ip;		/* as in the xl config: addresses separated by spaces */
	const char *bridge;	/* NULL: "xenbr0", as libxl's default */
	const char *rate;	/* NULL: none */
};

/*
 * xl create: the next free domid (upwards from the last one given, wrapping below
 * CK_DOMID_LIMIT; -ENOSPC when all are taken), /local/domain/<domid>/{name,vm,domid}, /vm/<uuid>, the vif
 * backends, then @introduceDomain.  incoming: a migration target (paused, "<name>--incoming").
 * On -ENOMEM no domain was made (its vif paths may have fired, and fire again as it goes).
 */
int fakexen_create(struct fakexen *fx, const char *name, const uint8_t uuid[CK_UUID_LEN],
		   const struct fake_nic *nics, unsigned int n_nics, bool incoming,
		   uint16_t *domid);

/* xl destroy: dying (@releaseDomain), then gone from xenstore (@releaseDomain again). */
int fakexen_destroy(struct fakexen *fx, uint16_t domid);

/* Mark a domain dying without finishing its destruction (the first half of a destroy). */
int fakexen_set_dying(struct fakexen *fx, uint16_t domid);

/* xl shutdown with a reason: suspend (a migration's source) or poweroff. */
int fakexen_shutdown(struct fakexen *fx, uint16_t domid, bool suspend);

/* The migration's handover: source renamed "--migratedaway", target renamed and unpaused. */
int fakexen_migrate_handover(struct fakexen *fx, uint16_t from, uint16_t to);

/* Writes a vif backend's mac and ip (as a toolstack hotplug would), firing each path. */
int fakexen_set_vif(struct fakexen *fx, uint16_t domid, unsigned int devid, const char *mac,
		    const char *ip);
/*
 * A vif moved to another bridge (bridge), or shaped (rate; NULL: no limit): only those two
 * keys are written, each firing its watch, as an operator's move would.
 */
int fakexen_move_vif(struct fakexen *fx, uint16_t domid, unsigned int devid,
		     const char *bridge, const char *rate);

/* Fires a watch for no reason, as Xen may. */
void fakexen_fire(struct fakexen *fx, const char *path);

/*
 * An existing domain whose /local/domain/<domid>/name is name (one of them, should two
 * share it), from an index the writes keep: no walk over the domains.  -ENOENT if none.
 */
int fakexen_find_name(struct fakexen *fx, const char *name);

/* The uuid and name of an existing domain; -ENOENT if there is none. */
int fakexen_domain(struct fakexen *fx, uint16_t domid, uint8_t uuid[CK_UUID_LEN],
		   char name[CK_NAME_MAX + 1]);
