// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "clock.h"
#include "logging.h"

#include "rescan.h"

struct rescan {
	sd_event_source *defer;
	rescan_fn fn;
	void *userdata;
	uint64_t noticed;	/* 0: nothing pending */
	uint64_t scans;
	uint64_t requests;
};

static int on_defer(sd_event_source *s, void *userdata)
{
	struct rescan *r = userdata;
	uint64_t noticed = r->noticed;

	/* Requests from here on (during the scan) schedule the next scan. */
	r->noticed = 0;
	r->scans++;
	r->fn(noticed, r->userdata);
	return 0;
}

int rescan_new(struct rescan **ret, sd_event *event, rescan_fn fn, void *userdata)
{
	struct rescan *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->fn = fn;
	r->userdata = userdata;
	err = sd_event_add_defer(event, &r->defer, on_defer, r);
	if (err < 0) {
		free(r);
		return err;
	}
	sd_event_source_set_description(r->defer, "rescan");
	sd_event_source_set_enabled(r->defer, SD_EVENT_OFF);
	*ret = r;
	return 0;
}

void rescan_free(struct rescan *r)
{
	if (!r)
		return;
	sd_event_source_disable_unref(r->defer);
	free(r);
}

void rescan_request(struct rescan *r)
{
	r->requests++;
	if (r->noticed)
		return;
	r->noticed = ck_now_usec();
	log_debug("rescan requested at %" PRIu64 " us", r->noticed);
	sd_event_source_set_enabled(r->defer, SD_EVENT_ONESHOT);
}

uint64_t rescan_scans(const struct rescan *r)
{
	return r->scans;
}

uint64_t rescan_requests(const struct rescan *r)
{
	return r->requests;
}
