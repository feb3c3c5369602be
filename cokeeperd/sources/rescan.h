/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Coalesces rescan requests.  Watches fire in bursts (Xen 4.17 fires @releaseDomain twice
 * per death, spuriously, and once per registration); every request made before a scan starts
 * is served by that one scan, and any number made while it runs cost exactly one more.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

struct rescan;

/* noticed_usec: CLOCK_MONOTONIC time of the first request the scan serves. */
typedef void (*rescan_fn)(uint64_t noticed_usec, void *userdata);

int rescan_new(struct rescan **ret, sd_event *event, rescan_fn fn, void *userdata);
void rescan_free(struct rescan *r);

/* Schedules a scan on the next loop iteration, unless one is scheduled already. */
void rescan_request(struct rescan *r);

/* Scans run so far and requests coalesced into them (for stats). */
uint64_t rescan_scans(const struct rescan *r);
uint64_t rescan_requests(const struct rescan *r);
