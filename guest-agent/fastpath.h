/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's part in setting up fast path channels: what the module says goes to cokeeperd
 * as it is, what cokeeperd relays goes to the module.  A guest without the module answers an
 * offer with a Close(NO_FASTPATH), so the offerer gives up at once instead of timing out.
 * The agent adds no identity of its own: cokeeperd sets the source, the module trusts that.
 *
 * Nothing goes to a cokeeperd that has not announced in this connection that it relays (one
 * built before the fast path ends the session on such a message): until it has, the
 * module's offers are answered here with a Close(NO_FASTPATH), as by a peer without the
 * fast path, and its accepts and closes are dropped.  The module backs off and offers again.
 */
#pragma once

#include <stdint.h>

#include "fastpath-port.h"
#include "session.h"

struct fastpath;

struct fastpath_stats {
	uint64_t to_daemon;	/* module messages sent to cokeeperd */
	uint64_t to_module;	/* relayed messages the module took */
	uint64_t no_module;	/* offers answered with a Close(NO_FASTPATH) */
	uint64_t no_relay;	/* module messages kept from a cokeeperd that does not relay */
	uint64_t dropped;	/* lost: no connection to cokeeperd, or the module refused */
};

/*
 * The module's side is the port given to fastpath_set_port() (owned from then on, created
 * with fastpath_port_callbacks and fp as its userdata); without one, every offer is answered
 * as by a guest without the module.  cokeeperd's side is the session of fastpath_attach().
 */
int fastpath_new(struct fastpath **ret);
void fastpath_set_port(struct fastpath *fp, struct fastpath_port *port);
void fastpath_free(struct fastpath *fp);
void fastpath_attach(struct fastpath *fp, struct session *s);

const struct fastpath_stats *fastpath_stats(const struct fastpath *fp);
/* The port, for tests of the in-memory one. */
struct fastpath_port *fastpath_port(struct fastpath *fp);
/* The callbacks a port is created with: the module's events go through fp. */
extern const struct fastpath_port_callbacks fastpath_port_callbacks;
