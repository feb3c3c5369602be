/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeper-agent's connection manager: keeps one stream to cokeeperd up (reconnecting with
 * bounded backoff), queues what the session sends, and feeds what arrives to the session.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define AGENT_ANSWER_TIMEOUT_DEFAULT_USEC (30 * 1000000ull)

struct agent_config;
struct fastpath;
struct fastpath_memory_config;
struct fastpath_port;
struct sink;
struct transport_ops;

/* The backends an agent runs on; backends.c has them by the names the command line uses. */
struct agent_transport {
	const char *name;
	const struct transport_ops *ops;
	bool needs_domid;	/* it cannot learn the domid: --domid says it */
};

struct agent_sink {
	const char *name;
	int (*new)(struct sink **ret, const struct agent_config *cfg);
	bool in_memory;		/* the table lives in the agent (--dump, the test driver) */
};

struct agent_port {
	const char *name;	/* its sink's */
	/* *ret NULL: no port, offers are answered as by a guest without the module. */
	int (*new)(struct fastpath_port **ret, sd_event *event, const struct agent_config *cfg,
		   struct fastpath *fp);
};

/*
 * What the simulation's test driver (tests/sim/agent-driver.c) adds to an agent, to watch
 * and drive the fast path's in-memory stand-in.  The shipped agent has none.
 */
struct agent_hooks {
	/* Before the stand-in is made (with the memory sink only). */
	void (*memory_port)(struct fastpath_memory_config *cfg, void *userdata);
	/* The table is in sync for the first time; port is the fast path's, or NULL. */
	void (*synced)(struct fastpath_port *port, void *userdata);
	void *userdata;
};

struct agent_config {
	const struct agent_transport *transport;
	const struct agent_sink *sink;
	const struct agent_port *port;	/* the fast path's, which follows the sink */
	const char *socket_path;	/* unix */
	int domid;			/* unix: the domid to claim; -1: ask xenstore (vchan) */
	const char *dump_path;		/* memory sink */
	uint64_t answer_timeout_usec;	/* connected, silence this long: reconnect; 0: default */
	const struct agent_hooks *hooks;	/* NULL but in the test driver */
};

struct agent;

int agent_new(struct agent **ret, const struct agent_config *cfg);
void agent_free(struct agent *a);
int agent_run(struct agent *a);
