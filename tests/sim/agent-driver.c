// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-agent-sim: the agent as the simulated tests run it, with the fast path's
 * in-memory stand-in under their control.  It is cokeeper-agent plus three options; it is
 * built here and installed nowhere, so the shipped agent carries no test driver.
 *
 *   --fastpath-log=FILE  the stand-in appends each message relayed to it there (JSON lines)
 *   --no-fastpath        it answers offers as a guest without the module
 *   --fastpath-offer=N   once in sync, it offers domid N a channel, as the module would on
 *                        the first packet to N
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fastpath-port.h"
#include "logging.h"
#include "number.h"

enum {
	OPT_FASTPATH_LOG = AGENT_DRIVER_OPTION,
	OPT_NO_FASTPATH,
	OPT_FASTPATH_OFFER,
};

static const struct ck_option options[] = {
	{ "fastpath-log", OPT_FASTPATH_LOG, "FILE",
	  "memory: the fast path stand-in (which accepts every\n"
	  "offer) appends each message relayed to it there" },
	{ "no-fastpath", OPT_NO_FASTPATH, NULL, "memory: answer offers as a guest without the module" },
	{ "fastpath-offer", OPT_FASTPATH_OFFER, "N", "memory: offer domid N a channel once in sync" },
	{},
};

struct driver {
	const char *log_path;
	bool absent;
	uint64_t offer_to;	/* 0: no offer */
};

static int option(int key, const char *arg, void *userdata)
{
	struct driver *d = userdata;

	switch (key) {
	case OPT_FASTPATH_LOG:
		d->log_path = arg;
		return 0;
	case OPT_NO_FASTPATH:
		d->absent = true;
		return 0;
	case OPT_FASTPATH_OFFER:
		if (ck_parse_uint(arg, 1, 0x7FEF, &d->offer_to) == 0)
			return 0;
		fprintf(stderr, "cokeeper-agent-sim: --fastpath-offer takes 1..32751\n");
		return -EINVAL;
	}
	return -EINVAL;
}

static int check(const struct agent_config *cfg, void *userdata)
{
	struct driver *d = userdata;

	if ((d->log_path || d->absent || d->offer_to) && !cfg->sink->in_memory) {
		fprintf(stderr, "cokeeper-agent-sim: the --fastpath options go with "
				"--sink=memory\n");
		return -EINVAL;
	}
	return 0;
}

static void memory_port(struct fastpath_memory_config *cfg, void *userdata)
{
	struct driver *d = userdata;

	cfg->absent = d->absent;
	cfg->log_path = d->log_path;
}

/* The stand-in module offers a channel, as a real one would on first traffic. */
static void synced(struct fastpath_port *port, void *userdata)
{
	struct driver *d = userdata;
	struct ck_msg offer = { .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = d->offer_to, .channel_id = 1,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN, .evtchn_port = 1,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };

	if (!d->offer_to || !port)
		return;
	log_info("fast path (memory): offering a channel to domid %u", (unsigned int)d->offer_to);
	fastpath_memory_event(port, &offer);
}

int main(int argc, char **argv)
{
	static struct driver state;
	static const struct agent_driver driver = {
		.options = options,
		.option = option,
		.check = check,
		.hooks = { .memory_port = memory_port, .synced = synced, .userdata = &state },
	};

	return agent_main(argc, argv, &driver);
}
