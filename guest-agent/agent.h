/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeper-agent's connection manager: keeps one stream to cokeeperd up (reconnecting with
 * bounded backoff), queues what the session sends, and feeds what arrives to the session.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define AGENT_ANSWER_TIMEOUT_DEFAULT_USEC (30 * 1000000ull)

struct agent_config {
	const char *transport;		/* vchan | unix */
	const char *socket_path;	/* unix */
	int domid;			/* unix: the domid to claim; -1: ask xenstore (vchan) */
	const char *sink;		/* kernel | memory */
	const char *dump_path;		/* memory sink */
	uint64_t answer_timeout_usec;	/* connected, silence this long: reconnect; 0: default */
	/* memory sink: the fast path stand-in logs what it is handed there (JSON lines) */
	const char *fastpath_log;
	bool fastpath_absent;		/* memory sink: act as a guest without the module */
	int fastpath_offer_to;		/* memory sink: offer a channel to it once synced; 0: no */
};

struct agent;

int agent_new(struct agent **ret, const struct agent_config *cfg);
void agent_free(struct agent *a);
int agent_run(struct agent *a);
