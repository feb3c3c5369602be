// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>

#include "agent.h"
#include "backend.h"
#include "backends.h"
#include "fastpath.h"
#include "logging.h"
#include "sink.h"
#include "transport.h"

static const struct agent_transport transports[] = {
	{ "vchan", &transport_vchan_ops, false },
	{ "unix", &transport_unix_ops, true },
};

static int kernel_sink_new(struct sink **ret, const struct agent_config *cfg)
{
	return sink_genl_new(ret);
}

static int memory_sink_new(struct sink **ret, const struct agent_config *cfg)
{
	return sink_memory_new(ret, cfg->dump_path);
}

static const struct agent_sink sinks[] = {
	{ "kernel", kernel_sink_new, false },
	{ "memory", memory_sink_new, true },
};

/* Without netlink the agent still keeps the table and answers offers as a guest without. */
static int genl_port_new(struct fastpath_port **ret, sd_event *event,
			 const struct agent_config *cfg, struct fastpath *fp)
{
	int r = fastpath_genl_new(ret, event, &fastpath_port_callbacks, fp);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		log_warning_errno(r, "fast path: cannot follow its netlink family; offers will "
				     "be refused");
		*ret = NULL;
	}
	return 0;
}

/* The stand-in accepts every offer, as a module that maps it would. */
static int memory_port_new(struct fastpath_port **ret, sd_event *event,
			   const struct agent_config *cfg, struct fastpath *fp)
{
	struct fastpath_memory_config mem = { .accept_offers = true };

	if (cfg->hooks && cfg->hooks->memory_port)
		cfg->hooks->memory_port(&mem, cfg->hooks->userdata);
	return fastpath_memory_new(ret, &mem, &fastpath_port_callbacks, fp);
}

static const struct agent_port ports[] = {
	{ "kernel", genl_port_new },
	{ "memory", memory_port_new },
};

int agent_backends_pick(struct agent_config *cfg, const char *transport, const char *sink)
{
	char names[64];

	cfg->transport = CK_BACKEND_FIND(transports, transport);
	if (!cfg->transport) {
		fprintf(stderr, "cokeeper-agent: unknown transport '%s' (expected %s)\n",
			transport, CK_BACKEND_NAMES(transports, names));
		return -ENOENT;
	}
	cfg->sink = CK_BACKEND_FIND(sinks, sink);
	if (!cfg->sink) {
		fprintf(stderr, "cokeeper-agent: unknown sink '%s' (expected %s)\n", sink,
			CK_BACKEND_NAMES(sinks, names));
		return -ENOENT;
	}
	cfg->port = CK_BACKEND_FIND(ports, sink);
	return cfg->port ? 0 : -ENOENT;
}
