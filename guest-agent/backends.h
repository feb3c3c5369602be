/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's backends by the names its command line gives them: transports (--transport),
 * sinks (--sink) and the fast path's ports, which follow the sink (the kernel's module with
 * the kernel's table, the in-memory stand-in with the in-memory table).
 */
#pragma once

struct agent_config;

/*
 * The transport, sink and port called so into cfg: 0, or -ENOENT with an unknown name
 * reported (and the names there are).
 */
int agent_backends_pick(struct agent_config *cfg, const char *transport, const char *sink);
