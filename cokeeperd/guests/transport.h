/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Transports give cokeeperd streams to the agents: vchan (shared memory with each domU, dom0
 * as server) on Xen, a Unix socket in the simulation.  A transport hands each new stream to
 * the callback it was created with, and takes it back once the session on it has ended.
 */
#pragma once

#include <systemd/sd-event.h>

#include "delta.h"
#include "membership.h"
#include "stream.h"

struct transport;

struct transport_config {
	sd_event *event;
	const char *agent_socket;		/* unix */
	/* Read only: vchan serves a channel to each member, and to nothing else. */
	const struct ck_membership *membership;
};

struct transport_callbacks {
	/* A new stream; the callee owns it until it hands it back with ->stream_closed. */
	int (*connected)(struct ck_stream *s, void *userdata);
};

struct transport_ops {
	const char *name;
	int (*new)(struct transport **ret, const struct transport_config *cfg,
		   const struct transport_callbacks *cb, void *userdata);
	/* Optional: the membership changed (vchan serves each new member). */
	void (*members_changed)(struct transport *t, const struct ck_delta *delta);
	/* The session on s ended; vchan serves that member afresh. */
	void (*stream_closed)(struct transport *t, struct ck_stream *s);
	void (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
};

extern const struct transport_ops transport_unix_ops;
extern const struct transport_ops transport_vchan_ops;
