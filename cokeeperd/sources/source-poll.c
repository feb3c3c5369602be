// SPDX-License-Identifier: GPL-2.0-only
/*
 * The polling baseline: a full rescan every --poll-interval milliseconds, with the very scan
 * the event-driven source uses and no watches.  It exists so the benchmarks can say how much
 * faster events are; nothing else should run it.
 */
#include <errno.h>
#include <stdlib.h>

#include "source.h"
#include "logging.h"
#include "xenhost.h"

/*
 * sd-event's default accuracy (0) is 250 ms: a 100 ms poller would fire in bursts on 250 ms
 * boundaries.  A millisecond keeps the period within 1% at 100 ms.
 */
#define POLL_ACCURACY_USEC 1000

struct poll_source {
	struct source base;
	struct xenhost *xh;
	sd_event_source *timer;
	uint64_t interval_usec;
};

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct poll_source *src = userdata;

	source_changed(&src->base);
	sd_event_source_set_time(s, usec + src->interval_usec);
	return 0;
}

static int poll_scan(struct source *base, struct ck_memberset *out, struct scan_result *result)
{
	struct poll_source *src = (struct poll_source *)base;
	struct scan_options opts = source_scan_options(base);
	struct host host = xenhost_host(src->xh);

	/* No cache: a poller cannot know what changed, so every tick reads every domain. */
	return scan_host(&host, &opts, NULL, out, result);
}

static void poll_free(struct source *base)
{
	struct poll_source *src = (struct poll_source *)base;

	sd_event_source_disable_unref(src->timer);
	xenhost_close(src->xh);
	free(src);
}

static int poll_new(struct source **ret, const struct source_config *cfg,
		   const struct source_callbacks *cb, void *userdata)
{
	struct poll_source *src = calloc(1, sizeof(*src));
	uint64_t now;
	int r;

	if (!src)
		return -ENOMEM;
	source_init(&src->base, &source_poll_ops, cfg, cb, userdata);
	src->interval_usec = (uint64_t)cfg->poll_interval_ms * 1000;
	r = xenhost_open(&src->xh);
	if (r < 0) {
		free(src);
		return r;
	}
	sd_event_now(cfg->event, CLOCK_MONOTONIC, &now);
	r = sd_event_add_time(cfg->event, &src->timer, CLOCK_MONOTONIC, now + src->interval_usec,
			      POLL_ACCURACY_USEC, on_tick, src);
	if (r < 0) {
		poll_free(&src->base);
		return r;
	}
	sd_event_source_set_enabled(src->timer, SD_EVENT_ON);
	log_info("poll source: full rescan every %u ms (baseline mode)", cfg->poll_interval_ms);
	*ret = &src->base;
	return 0;
}

const struct source_ops source_poll_ops = {
	.name = "poll",
	.new = poll_new,
	.scan = poll_scan,
	.free = poll_free,
};
