// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "control.h"
#include "daemon.h"
#include "guest.h"
#include "logging.h"

#define LOG_CAPACITY 4096	/* changes a reconnecting agent can catch up on without a snapshot */

static const struct source_ops *const sources[] = {
	&source_xenstore_ops, &source_poll_ops, &source_sim_ops,
};
static const struct transport_ops *const transports[] = {
	&transport_vchan_ops, &transport_unix_ops,
};

static void on_scan(uint64_t noticed_usec, void *userdata)
{
	struct daemon *d = userdata;
	struct ck_memberset *set = NULL;
	struct scan_result result;
	struct ck_delta delta;
	int r;

	r = ck_memberset_new(&set);
	if (r == 0)
		r = d->source->ops->scan(d->source, set, &result);
	if (r < 0) {
		d->stats.scans_failed++;
		log_error_errno(r, "scan failed; membership unchanged");
		ck_memberset_free(set);
		return;
	}
	r = ck_membership_commit(d->membership, set, &delta);
	ck_memberset_free(set);
	if (r < 0) {
		log_error_errno(r, "cannot commit the scan");
		return;
	}
	if (ck_delta_changes(&delta) > 0) {
		uint64_t now = ck_now_usec();

		d->stats.commits++;
		d->stats.changes += ck_delta_changes(&delta);
		log_info("gen %" PRIu64 ": %zu up, %zu gone, %zu members (%u domains, %u skipped)",
			 delta.new_gen, delta.n_upserts, delta.n_removed,
			 ck_memberset_count(d->membership->members), result.domains,
			 result.skipped);
		log_debug("gen %" PRIu64 " committed at %" PRIu64 " us, %" PRIu64
			  " us after the change was noticed (%u domains read)", delta.new_gen, now,
			  now - noticed_usec, result.read);
		convergence_commit(&d->convergence, delta.new_gen, noticed_usec);
		/*
		 * The guests first: following the members (libxl death events, name watches,
		 * vchan servers) costs xenstore round trips, which the change need not wait for.
		 */
		guests_broadcast(d, &delta);
		control_notify_delta(d->control, &delta);
		if (d->source->ops->members_changed)
			d->source->ops->members_changed(d->source, &delta);
		if (d->transport->ops->members_changed)
			d->transport->ops->members_changed(d->transport, &delta);
	}
	ck_delta_reset(&delta);

	if (!d->ready) {
		d->ready = true;
		log_info("ready: %zu members, epoch %016" PRIx64,
			 ck_memberset_count(d->membership->members), d->membership->epoch);
		sd_notify(0, "READY=1\nSTATUS=Serving membership");
	}
}

void daemon_request_scan(struct daemon *d)
{
	rescan_request(d->rescan);
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	log_info("signal %u: stopping", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(d->event, 0);
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	log_info("SIGHUP: full rescan");
	if (d->source->ops->forget)
		d->source->ops->forget(d->source);
	daemon_request_scan(d);
	return 0;
}

static uint64_t random_epoch(void)
{
	uint64_t epoch = 0;

	/* Never 0: that is what an agent without a table sends. */
	while (epoch == 0)
		if (getrandom(&epoch, sizeof(epoch), 0) != sizeof(epoch))
			epoch = (uint64_t)ck_now_usec() * 0x9e3779b97f4a7c15ull;
	return epoch;
}

static const struct source_ops *find_source(const char *name)
{
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (!strcmp(sources[i]->name, name))
			return sources[i];
	return NULL;
}

static const struct transport_ops *find_transport(const char *name)
{
	for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (!strcmp(transports[i]->name, name))
			return transports[i];
	return NULL;
}

int daemon_new(struct daemon **ret, const struct daemon_config *cfg)
{
	const struct source_ops *source = find_source(cfg->source);
	const struct transport_ops *transport = find_transport(cfg->transport);
	struct daemon *d;
	sigset_t mask;
	int r;

	if (!source)
		return log_error_errno(-EINVAL, "unknown source '%s'", cfg->source);
	if (!transport)
		return log_error_errno(-EINVAL, "unknown transport '%s'", cfg->transport);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&d->event);
	if (r < 0)
		goto err;
	/* Pings the watchdog when WATCHDOG_USEC is set, from the loop itself. */
	(void)sd_event_set_watchdog(d->event, true);
	r = sd_event_add_signal(d->event, NULL, SIGTERM, on_term, d);
	r = r < 0 ? r : sd_event_add_signal(d->event, NULL, SIGINT, on_term, d);
	r = r < 0 ? r : sd_event_add_signal(d->event, NULL, SIGHUP, on_hup, d);
	if (r < 0)
		goto err;

	r = ck_membership_new(&d->membership, random_epoch(), LOG_CAPACITY);
	if (r < 0)
		goto err;
	r = rescan_new(&d->rescan, d->event, on_scan, d);
	if (r < 0)
		goto err;
	r = control_new(&d->control, d, cfg->control_path);
	if (r < 0)
		goto err;
	r = transport->new(&d->transport, d);
	if (r < 0)
		goto err;
	r = source->new(&d->source, d);
	if (r < 0)
		goto err;
	/* The first scan runs as soon as the loop starts; READY=1 follows its commit. */
	daemon_request_scan(d);
	*ret = d;
	return 0;
err:
	daemon_free(d);
	return r;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	if (d->transport)
		guest_detach_all(d);
	if (d->source)
		d->source->ops->free(d->source);
	if (d->transport)
		d->transport->ops->free(d->transport);
	control_free(d->control);
	rescan_free(d->rescan);
	ck_membership_free(d->membership);
	sd_event_unref(d->event);
	free(d);
}

int daemon_run(struct daemon *d)
{
	return sd_event_loop(d->event);
}
