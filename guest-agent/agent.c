// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "clock.h"
#include "event.h"
#include "fastpath.h"
#include "logging.h"
#include "session.h"
#include "sink.h"
#include "stream.h"
#include "transport.h"

#define BACKOFF_MIN_USEC 50000
#define BACKOFF_MAX_USEC 5000000
/* sd-event's default accuracy (250 ms) would make the first 50 ms retry five times longer. */
#define RETRY_ACCURACY_USEC 1000
#define OUTPUT_MAX (1u << 20)	/* Hellos and Acks only: this is never near full */

struct agent {
	sd_event *event;
	struct agent_config cfg;
	struct transport *transport;
	struct ck_stream *stream;	/* NULL while disconnected */
	struct sink *sink;
	struct session *session;
	struct fastpath *fastpath;
	bool synced_once;	/* the hook ran, the backoff went back to its minimum */
	char status[256];	/* the last STATUS= told to systemd */
	char lost[96];		/* why the last connection ended, for STATUS= */
	sd_event_source *retry;
	sd_event_source *answer_deadline;	/* armed from connecting to cokeeperd's first byte */
	uint64_t backoff_usec;
};

static void disconnect(struct agent *a, int r, const char *why, bool dead);

/*
 * Where the table stands, for systemctl status (STATUS=), sent when it changes.  READY=1 is
 * not tied to it: the agent is ready once it runs, and a guest whose dom0 serves it late (or
 * never) must not hold up its boot or its package manager.
 */
static void update_status(struct agent *a)
{
	const char *via = a->transport->ops->name;
	uint64_t gen = session_replica(a->session)->gen;
	char status[sizeof(a->status)];

	if (a->stream && session_current(a->session))
		snprintf(status, sizeof(status),
			"Co-resident table in sync (generation %" PRIu64 ")", gen);
	else if (!session_synced(a->session))
		snprintf(status, sizeof(status),
			a->stream ? "Connected to dom0 (cokeeperd) over %s, waiting for the table"
				  : "Waiting for dom0 (cokeeperd) over %s",
			via);
	else if (a->stream)
		snprintf(status, sizeof(status),
			"Resyncing with cokeeperd (table kept at generation %" PRIu64 ")", gen);
	else
		snprintf(status, sizeof(status),
			"Resyncing after %s: reconnecting over %s "
			"(table kept at generation %" PRIu64 ")",
			a->lost, via, gen);
	if (strcmp(status, a->status) == 0)
		return;
	memcpy(a->status, status, sizeof(status));
	sd_notifyf(0, "STATUS=%s", status);
}

static int send_frame(const uint8_t *frame, size_t len, void *userdata)
{
	struct agent *a = userdata;

	return a->stream ? ck_stream_send(a->stream, frame, len) : -ENOTCONN;
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

static void on_io(struct ck_stream *s, void *userdata);

static void try_connect(struct agent *a)
{
	int r;

	if (a->stream)
		return;
	r = a->transport->ops->connect(a->transport, a->cfg.domid, &a->stream);
	if (r < 0) {
		a->stream = NULL;
		if (r != -EAGAIN)
			log_debug("connect over %s: %s", a->transport->ops->name, strerror(-r));
		schedule_retry(a);
		update_status(a);
		return;
	}
	ck_stream_set_output_max(a->stream, OUTPUT_MAX);
	ck_stream_set_handler(a->stream, on_io, a);
	sd_event_source_set_enabled(a->retry, SD_EVENT_OFF);
	/*
	 * cokeeperd answers a Hello at once.  Silence means the channel is not one it serves (an
	 * agent that attached while its vchan was being re-created sat on a dead ring for 17
	 * minutes in CI lab run 20261130-091410-24579): start again from the beginning.
	 */
	sd_event_source_set_time_relative(a->answer_deadline, a->cfg.answer_timeout_usec);
	sd_event_source_set_enabled(a->answer_deadline, SD_EVENT_ONESHOT);
	log_info("connected to cokeeperd over %s", a->transport->ops->name);
	r = session_start(a->session);
	if (r < 0)
		disconnect(a, r, "cannot send Hello", false);
	else
		update_status(a);
}

/* The one place a lost connection is reported. */
static void disconnect(struct agent *a, int r, const char *why, bool dead)
{
	if (!a->stream)
		return;
	if (r == -ECONNRESET && why)
		log_notice("%s; reconnecting", why);
	else
		log_notice_errno(r, "connection to cokeeperd lost%s%s; reconnecting",
				 why ? ": " : "", why ? why : "");
	if (!why)
		why = r == -ECONNRESET ? "cokeeperd closed the connection" : strerror(-r);
	snprintf(a->lost, sizeof(a->lost), "%s", why);
	sd_event_source_set_enabled(a->answer_deadline, SD_EVENT_OFF);
	a->transport->ops->release(a->transport, a->stream, dead);
	a->stream = NULL;
	a->backoff_usec = BACKOFF_MIN_USEC;
	schedule_retry(a);
	update_status(a);
}

static void on_kick(void *userdata)
{
	struct agent *a = userdata;

	a->backoff_usec = BACKOFF_MIN_USEC;
	try_connect(a);
}

static void on_domid_changed(int domid, void *userdata)
{
	struct agent *a = userdata;

	log_notice("our domid changed from %d to %d (live migration): reconnecting",
		   a->cfg.domid, domid);
	a->cfg.domid = domid;
	session_set_domid(a->session, domid);
	/* The old peer is gone for good: abandon the stream, do not close it. */
	disconnect(a, -EHOSTDOWN, "the domid changed", true);
	on_kick(a);
}

static void on_io(struct ck_stream *s, void *userdata)
{
	struct agent *a = userdata;
	uint8_t buf[65536];
	int r = 0;

	for (;;) {
		struct ck_error err = { "" };
		ssize_t n = ck_stream_read(s, buf, sizeof(buf));

		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			disconnect(a, n == 0 ? -ECONNRESET : (int)n, NULL, false);
			return;
		}
		sd_event_source_set_enabled(a->answer_deadline, SD_EVENT_OFF);
		r = session_receive(a->session, buf, n, &err);
		if (r < 0) {
			disconnect(a, r, err.msg[0] ? err.msg : NULL, false);
			return;
		}
	}
	r = ck_stream_flush(s);
	if (r < 0) {
		disconnect(a, r, NULL, false);
		return;
	}
	if (!a->synced_once && session_synced(a->session)) {
		a->synced_once = true;
		a->backoff_usec = BACKOFF_MIN_USEC;
		if (a->cfg.hooks && a->cfg.hooks->synced)
			a->cfg.hooks->synced(fastpath_port(a->fastpath), a->cfg.hooks->userdata);
	}
	update_status(a);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	try_connect(userdata);
	return 0;
}

static int on_no_answer(sd_event_source *s, uint64_t usec, void *userdata)
{
	disconnect(userdata, -ETIMEDOUT, "no answer to our Hello", false);
	return 0;
}

/* The fast path's port follows the table's sink (backends.c). */
static int start_fastpath(struct agent *a)
{
	struct fastpath_port *port = NULL;
	int r = fastpath_new(&a->fastpath);

	r = r < 0 ? r : a->cfg.port->new(&port, a->event, &a->cfg, a->fastpath);
	if (r < 0)
		return r;
	if (port)
		fastpath_set_port(a->fastpath, port);
	return 0;
}

int agent_new(struct agent **ret, const struct agent_config *cfg)
{
	static const struct transport_callbacks transport_cb = {
		.kick = on_kick,
		.domid_changed = on_domid_changed,
	};
	struct transport_config transport_cfg = { .socket_path = cfg->socket_path };
	struct agent *a;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	if (!a->cfg.answer_timeout_usec)
		a->cfg.answer_timeout_usec = AGENT_ANSWER_TIMEOUT_DEFAULT_USEC;
	a->backoff_usec = BACKOFF_MIN_USEC;

	r = ck_event_new(&a->event, NULL, 0, NULL);
	if (r < 0)
		goto err;
	r = sd_event_add_time(a->event, &a->retry, CLOCK_MONOTONIC, 0, RETRY_ACCURACY_USEC,
			      on_retry, a);
	r = r < 0 ? r : sd_event_add_time(a->event, &a->answer_deadline, CLOCK_MONOTONIC, 0,
					  RETRY_ACCURACY_USEC, on_no_answer, a);
	if (r < 0)
		goto err;
	sd_event_source_set_enabled(a->retry, SD_EVENT_OFF);
	sd_event_source_set_enabled(a->answer_deadline, SD_EVENT_OFF);

	r = cfg->sink->new(&a->sink, cfg);
	if (r < 0)
		goto err;
	r = start_fastpath(a);
	if (r < 0)
		goto err;
	transport_cfg.event = a->event;
	r = cfg->transport->ops->new(&a->transport, &transport_cfg, &a->cfg.domid, &transport_cb, a);
	if (r < 0)
		goto err;
	/* The transport may have learned our domid (vchan reads it from xenstore). */
	r = session_new(&a->session, a->sink, a->cfg.domid < 0 ? 0 : a->cfg.domid, send_frame, a);
	if (r < 0)
		goto err;
	fastpath_attach(a->fastpath, a->session);
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
	fastpath_free(a->fastpath);
	session_free(a->session);
	if (a->transport) {
		if (a->stream)
			a->transport->ops->release(a->transport, a->stream, false);
		a->transport->ops->free(a->transport);
	}
	if (a->sink)
		a->sink->ops->free(a->sink);
	sd_event_source_disable_unref(a->retry);
	sd_event_source_disable_unref(a->answer_deadline);
	sd_event_unref(a->event);
	free(a);
}

int agent_run(struct agent *a)
{
	/*
	 * Ready: the sink answered (the module's family resolved), the loop is set up and the
	 * first connection was tried.  The watchdog is pinged from ck_event_new on.
	 */
	sd_notifyf(0, "READY=1\nSTATUS=%s", a->status);
	return sd_event_loop(a->event);
}
