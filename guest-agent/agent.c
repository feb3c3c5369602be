// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "clock.h"
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
	bool ready_sent;
	sd_event_source *retry;
	sd_event_source *answer_deadline;	/* armed from connecting to cokeeperd's first byte */
	uint64_t backoff_usec;
};

static const struct transport_ops *const transports[] = {
	&transport_vchan_ops, &transport_unix_ops,
};

static void disconnect(struct agent *a, int r, const char *why, bool dead);

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
	sd_event_source_set_enabled(a->answer_deadline, SD_EVENT_OFF);
	a->transport->ops->release(a->transport, a->stream, dead);
	a->stream = NULL;
	a->backoff_usec = BACKOFF_MIN_USEC;
	schedule_retry(a);
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

/* The simulation's stand-in module offers a channel, as a real one would on first traffic. */
static void offer_for_test(struct agent *a)
{
	struct ck_msg offer = { .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = a->cfg.fastpath_offer_to, .channel_id = 1,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN, .evtchn_port = 1,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };

	if (!a->cfg.fastpath_offer_to || strcmp(a->cfg.sink, "memory") ||
	    !fastpath_port(a->fastpath))
		return;
	log_info("fast path (memory): offering a channel to domid %d", a->cfg.fastpath_offer_to);
	fastpath_memory_event(fastpath_port(a->fastpath), &offer);
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
	if (!a->ready_sent && session_synced(a->session)) {
		a->ready_sent = true;
		a->backoff_usec = BACKOFF_MIN_USEC;
		sd_notify(0, "READY=1\nSTATUS=Co-resident table in sync");
		offer_for_test(a);
	}
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

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct agent *a = userdata;

	log_info("signal %u: stopping", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(a->event, 0);
}

static const struct transport_ops *find_transport(const char *name)
{
	for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (!strcmp(transports[i]->name, name))
			return transports[i];
	return NULL;
}

/*
 * The fast path's module follows the table's sink: the kernel's with the kernel sink, the
 * in-memory stand-in in the simulation.  Without netlink the agent still keeps the table
 * and answers offers as a guest without the module would.
 */
static int start_fastpath(struct agent *a)
{
	struct fastpath_memory_config mem = {
		.absent = a->cfg.fastpath_absent,
		.accept_offers = true,
		.log_path = a->cfg.fastpath_log,
	};
	struct fastpath_port *port;
	int r;

	if (!strcmp(a->cfg.sink, "memory")) {
		r = fastpath_memory_new(&port, &mem, &fastpath_port_callbacks, a->fastpath);
		if (r < 0)
			return r;
	} else {
		r = fastpath_genl_new(&port, a->event, &fastpath_port_callbacks, a->fastpath);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			log_warning_errno(r, "fast path: cannot follow its netlink family; offers "
					     "will be refused");
			return 0;
		}
	}
	fastpath_set_port(a->fastpath, port);
	return 0;
}

int agent_new(struct agent **ret, const struct agent_config *cfg)
{
	static const struct transport_callbacks transport_cb = {
		.kick = on_kick,
		.domid_changed = on_domid_changed,
	};
	const struct transport_ops *transport = find_transport(cfg->transport);
	struct transport_config transport_cfg = { .socket_path = cfg->socket_path };
	struct agent *a;
	sigset_t mask;
	int r;

	if (!transport)
		return log_error_errno(-EINVAL, "unknown transport '%s'", cfg->transport);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	if (!a->cfg.answer_timeout_usec)
		a->cfg.answer_timeout_usec = AGENT_ANSWER_TIMEOUT_DEFAULT_USEC;
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
	r = r < 0 ? r : sd_event_add_time(a->event, &a->retry, CLOCK_MONOTONIC, 0, RETRY_ACCURACY_USEC,
						  on_retry, a);
	r = r < 0 ? r : sd_event_add_time(a->event, &a->answer_deadline, CLOCK_MONOTONIC, 0,
					  RETRY_ACCURACY_USEC, on_no_answer, a);
	if (r < 0)
		goto err;
	sd_event_source_set_enabled(a->retry, SD_EVENT_OFF);
	sd_event_source_set_enabled(a->answer_deadline, SD_EVENT_OFF);

	if (!strcmp(cfg->sink, "memory"))
		r = sink_memory_new(&a->sink, cfg->dump_path);
	else if (!strcmp(cfg->sink, "kernel"))
		r = sink_genl_new(&a->sink);
	else
		r = log_error_errno(-EINVAL, "unknown sink '%s'", cfg->sink);
	if (r < 0)
		goto err;
	r = fastpath_new(&a->fastpath);
	if (r < 0)
		goto err;
	r = start_fastpath(a);
	if (r < 0)
		goto err;
	transport_cfg.event = a->event;
	r = transport->new(&a->transport, &transport_cfg, &a->cfg.domid, &transport_cb, a);
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
	return sd_event_loop(a->event);
}
