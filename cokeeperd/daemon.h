/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeperd's core: the authoritative membership and what moves it.  A source notices a
 * change and requests a rescan; the scan's result is committed (one generation per member
 * change); the delta goes to every guest, to control-socket watchers, and back to the source
 * and transport, which follow the member set.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "convergence.h"
#include "membership.h"
#include "rescan.h"
#include "source.h"
#include "transport.h"

struct guest;
struct control;

struct daemon_config {
	const char *source;		/* xenstore | poll | sim */
	const char *transport;		/* vchan | unix */
	const char *control_path;
	const char *agent_socket;	/* unix transport */
	unsigned int poll_interval_ms;
	size_t queue_limit;		/* bytes queued per guest before it is resynced */
	bool include_dom0;
};

struct daemon_stats {
	uint64_t scans_failed;
	uint64_t commits;		/* commits that changed something */
	uint64_t changes;		/* member-level changes */
	uint64_t guests_connected;
	uint64_t guests_rejected;	/* protocol errors, bad hellos */
	uint64_t queue_overflows;
	uint64_t snapshots_sent;
	uint64_t deltas_sent;
};

struct daemon {
	sd_event *event;
	struct daemon_config cfg;
	struct ck_membership *membership;
	struct rescan *rescan;
	struct source *source;
	struct transport *transport;
	struct control *control;
	struct guest *guests;		/* list, guest.h */
	struct convergence convergence;
	struct daemon_stats stats;
	bool ready;			/* the first full scan is committed */
};

int daemon_new(struct daemon **ret, const struct daemon_config *cfg);
void daemon_free(struct daemon *d);
int daemon_run(struct daemon *d);

/* For sources: something may have changed (coalesced, see rescan.h). */
void daemon_request_scan(struct daemon *d);
