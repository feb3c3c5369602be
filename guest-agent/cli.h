/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeper-agent's command line and run, for its main and for the simulation's test driver
 * (tests/sim/agent-driver.c), which adds options of its own and hooks to drive the agent.
 */
#pragma once

#include "agent.h"
#include "backends.h"
#include "options.h"

struct agent_driver {
	/* Listed in --help after the agent's; keys from AGENT_DRIVER_OPTION on. */
	const struct ck_option *options;
	/* One of them: 0, or -EINVAL reported. */
	int (*option)(int key, const char *arg, void *userdata);
	/* Once the command line is read: 0, or -EINVAL reported. */
	int (*check)(const struct agent_config *cfg, void *userdata);
	struct agent_hooks hooks;
};

#define AGENT_DRIVER_OPTION (CK_OPTION_LONG_ONLY + 0x100)

/* What main returns: 0 after SIGTERM, 1 when the agent fails, 2 on a usage error. */
int agent_main(int argc, char **argv, const struct agent_driver *driver);
