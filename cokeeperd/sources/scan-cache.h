/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scan's memory between scans: the domain list and each member's record as last read,
 * the queue of domains watch fires sent to be read again, and the run that reads them (in
 * domid order, serving fires taken while it runs).  scan.h hands its result out.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"

struct conflicts;

struct ck_member;

struct scan_options {
	bool include_dom0;
	/* A guest's own attr/vif addresses decide ownership like the others (never by default). */
	bool trust_claimed;
	/*
	 * Optional: adds to a member as read the addresses that come from elsewhere (the
	 * orchestrator's, the learned ones: cokeeperd's address book), before conflicts are
	 * resolved.  Called on every domain each run reads or re-merges.
	 */
	void (*addresses)(void *data, struct ck_member *m);
	void *addresses_data;
};

struct scan_result {
	unsigned int domains;	/* domains the hypervisor listed */
	unsigned int skipped;	/* not members: dying, shut down, incoming, nameless … */
	unsigned int conflicts;	/* duplicate uuids or addresses resolved */
	unsigned int read;	/* domains whose keys were read from the host, not the cache */
	/*
	 * scan_host_changes(): out holds only the members of these domids (sorted, each once),
	 * and every other domid's member is as the previous scan found it; an absent one has
	 * none any more.  Points into the cache, valid until its next scan.  partial false:
	 * out is the whole set.
	 */
	bool partial;
	const uint16_t *changed;
	size_t n_changed;
};

/*
 * What the event-driven sources keep between scans: each member's record as last read, so
 * that a watch fire costs the reads of the one domain it names, not of the whole host.  A
 * vif fire re-reads that domain's vifs; a name fire, a run-state change or a forget, the
 * whole domain; a domain that is not a member yet is read every scan.  The hypervisor's
 * domain list is asked for again only after @introduceDomain, @releaseDomain or a libxl
 * event: nothing else adds, removes or shuts down a domain.
 */
struct scan_cache;

int scan_cache_new(struct scan_cache **ret);
void scan_cache_free(struct scan_cache *c);

/*
 * A watch fired on path (as xs_check_watch reports it): marks what it may have changed and
 * says whether a scan is needed at all.  The vif backend tree is rewritten many times while
 * a device connects (state, hotplug-status, features); only a vif's mac or ip, or a vif or
 * domain directory coming or going, is identity.  /local/domain/<domid>/name is a member's
 * name.  Special watches (@introduceDomain …) need a scan, which lists the domains anew; any
 * other path makes everything stale.
 */
bool scan_cache_watch_fired(struct scan_cache *c, const char *path);

/*
 * The addresses from elsewhere (scan_options.addresses) changed for domid: the next scan
 * merges them into its member as last read, reading nothing from the host.
 */
void scan_cache_remerge(struct scan_cache *c, uint16_t domid);

/* The next scan reads every domain again (SIGHUP, a lost event). */
void scan_cache_forget(struct scan_cache *c);
/* A domain came, went or changed run state (a libxl event): the next scan lists them. */
void scan_cache_domains_changed(struct scan_cache *c);

/* Whether anything is marked to be read again: fires taken during a scan can leave some. */
bool scan_cache_stale(const struct scan_cache *c);

/*
 * For scan.c.  Reads what the cache says may have changed, in domid order, and resolves
 * conflicts again where that can change anything.  *touched: the domids whose member may
 * differ, valid until the next run.  On error the cache forgets everything.
 */
int scan_cache_run(const struct host *host, const struct scan_options *opts, struct scan_cache *c,
		   struct scan_result *result, const uint16_t **touched, size_t *n_touched);
/* The members as the runs read them, and who keeps what among them. */
struct conflicts *scan_cache_conflicts(struct scan_cache *c);
/* Whether the next scan must hand out the whole set (the first, or after a forget). */
bool scan_cache_whole(const struct scan_cache *c);
/* What a run found was handed out whole: from now on changes will do. */
void scan_cache_served(struct scan_cache *c);
