// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "agent.h"
#include "clock.h"
#include "logging.h"

#define BACKOFF_MIN_USEC 50000
#define BACKOFF_MAX_USEC 5000000
#define OUTPUT_MAX (1u << 20)	/* Hellos and Acks only: this is never near full */

static void disconnect(struct agent *a, int r);

static int flush(struct agent *a)
{
	while (a->out_len > 0) {
		ssize_t n = a->channel->ops->write(a->channel, a->out, a->out_len);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		memmove(a->out, a->out + n, a->out_len - n);
		a->out_len -= n;
	}
	a->channel->ops->want_write(a->channel, a->out_len > 0);
	return 0;
}

static int send_frame(const uint8_t *frame, size_t len, void *userdata)
{
	struct agent *a = userdata;

	if (a->out_len + len > OUTPUT_MAX)
		return -ENOBUFS;
	if (a->out_len + len > a->out_cap) {
		size_t cap = (a->out_len + len) * 2;
		uint8_t *grown = realloc(a->out, cap);

		if (!grown)
			return -ENOMEM;
		a->out = grown;
		a->out_cap = cap;
	}
	memcpy(a->out + a->out_len, frame, len);
	a->out_len += len;
	return flush(a);
}

static void schedule_retry(struct agent *a)
{
	uint64_t now;

	sd_event_now(a->event, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(a->retry, now + a->backoff_usec);
	sd_event_source_set_enabled(a->retry, SD_EVENT_ONESHOT);
	a->backoff_usec = a->backoff_usec * 2 > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC :
								   a->backoff_usec * 2;
}

static void try_connect(struct agent *a)
{
	int r;

	if (a->connected)
		return;
	r = a->channel->ops->connect(a->channel);
	if (r < 0) {
		if (r != -EAGAIN)
			log_debug("connect over %s: %s", a->channel->ops->name, strerror(-r));
		schedule_retry(a);
		return;
	}
	a->connected = true;
	a->out_len = 0;
	sd_event_source_set_enabled(a->retry, SD_EVENT_OFF);
	log_info("connected to cokeeperd over %s", a->channel->ops->name);
	r = session_start(a->session);
	if (r < 0)
		disconnect(a, r);
}

static void disconnect(struct agent *a, int r)
{
	if (!a->connected)
		return;
	log_notice("connection to cokeeperd lost (%s); reconnecting", strerror(-r));
	if (r == -EHOSTDOWN && a->channel->ops->abandon)
		a->channel->ops->abandon(a->channel);
	else
		a->channel->ops->close(a->channel);
	a->connected = false;
	a->out_len = 0;
	a->backoff_usec = BACKOFF_MIN_USEC;
	schedule_retry(a);
}

void agent_kick(struct agent *a)
{
	a->backoff_usec = BACKOFF_MIN_USEC;
	try_connect(a);
}

void agent_domid_changed(struct agent *a, int domid)
{
	log_notice("our domid changed from %d to %d (live migration): reconnecting",
		   a->cfg.domid, domid);
	a->cfg.domid = domid;
	session_set_domid(a->session, domid);
	disconnect(a, -EHOSTDOWN);	/* the old peer is gone for good: abandon, do not close */
	agent_kick(a);
}

void agent_on_io(struct agent *a)
{
	uint8_t buf[65536];
	int r = 0;

	while (a->connected) {
		ssize_t n = a->channel->ops->read(a->channel, buf, sizeof(buf));

		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			disconnect(a, n == 0 ? -ECONNRESET : (int)n);
			return;
		}
		r = session_receive(a->session, buf, n);
		if (r < 0) {
			disconnect(a, r);
			return;
		}
	}
	if (a->connected && (r = flush(a)) < 0) {
		disconnect(a, r);
		return;
	}
	if (!a->ready_sent && session_synced(a->session)) {
		a->ready_sent = true;
		a->backoff_usec = BACKOFF_MIN_USEC;
		sd_notify(0, "READY=1\nSTATUS=Co-resident table in sync");
	}
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	try_connect(userdata);
	return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct agent *a = userdata;

	log_info("signal %u: stopping", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(a->event, 0);
}

static const struct channel_ops *find_channel(const char *name)
{
	if (!strcmp(name, "unix"))
		return &channel_unix_ops;
	if (!strcmp(name, "vchan"))
		return &channel_vchan_ops;
	return NULL;
}

int agent_new(struct agent **ret, const struct agent_config *cfg)
{
	const struct channel_ops *channel = find_channel(cfg->transport);
	struct agent *a;
	sigset_t mask;
	int r;

	if (!channel)
		return log_error_errno(-EINVAL, "unknown transport '%s'", cfg->transport);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->backoff_usec = BACKOFF_MIN_USEC;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&a->event);
	if (r < 0)
		goto err;
	(void)sd_event_set_watchdog(a->event, true);
	r = sd_event_add_signal(a->event, NULL, SIGTERM, on_term, a);
	r = r < 0 ? r : sd_event_add_signal(a->event, NULL, SIGINT, on_term, a);
	r = r < 0 ? r : sd_event_add_time(a->event, &a->retry, CLOCK_MONOTONIC, 0, 0, on_retry, a);
	if (r < 0)
		goto err;
	sd_event_source_set_enabled(a->retry, SD_EVENT_OFF);

	if (!strcmp(cfg->sink, "memory"))
		r = sink_memory_new(&a->sink, cfg->dump_path);
	else if (!strcmp(cfg->sink, "kernel"))
		r = sink_genl_new(&a->sink);
	else
		r = log_error_errno(-EINVAL, "unknown sink '%s'", cfg->sink);
	if (r < 0)
		goto err;
	r = channel->new(&a->channel, a);
	if (r < 0)
		goto err;
	/* The channel may have learned our domid (vchan reads it from xenstore). */
	r = session_new(&a->session, a->sink, a->cfg.domid < 0 ? 0 : a->cfg.domid, send_frame, a);
	if (r < 0)
		goto err;
	try_connect(a);
	*ret = a;
	return 0;
err:
	agent_free(a);
	return r;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	session_free(a->session);
	if (a->channel) {
		if (a->connected)
			a->channel->ops->close(a->channel);
		a->channel->ops->free(a->channel);
	}
	if (a->sink)
		a->sink->ops->free(a->sink);
	sd_event_source_disable_unref(a->retry);
	sd_event_unref(a->event);
	free(a->out);
	free(a);
}

int agent_run(struct agent *a)
{
	return sd_event_loop(a->event);
}
