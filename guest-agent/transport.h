/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's transports give it its stream to cokeeperd: a vchan client on Xen, a Unix
 * socket in the simulation.  A transport tells its owner, through its callbacks, when the
 * daemon's end may have appeared and when the guest's identity changed under it.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "stream.h"

struct transport;

struct transport_config {
	sd_event *event;
	const char *socket_path;	/* unix */
};

struct transport_callbacks {
	/* The daemon's end may have appeared: connect now. */
	void (*kick)(void *userdata);
	/*
	 * The guest is now domid (a live migration gave it a new one): its stream is dead
	 * whatever it looks like; connect afresh under the new identity.
	 */
	void (*domid_changed)(int domid, void *userdata);
};

struct transport_ops {
	const char *name;
	/*
	 * *domid: unix claims it (>= 0, from --domid); vchan sets it from xenstore.
	 */
	int (*new)(struct transport **ret, const struct transport_config *cfg, int *domid,
		   const struct transport_callbacks *cb, void *userdata);
	/*
	 * A stream to the daemon as domid: 0; -EAGAIN when the daemon's end is not there yet
	 * (kick follows when it appears, and the agent also retries on a timer); other -errno.
	 */
	int (*connect)(struct transport *t, int domid, struct ck_stream **ret);
	/*
	 * The agent is done with s.  dead: a live migration killed it, and vchan must not close
	 * it (transport-vchan.c says why).
	 */
	void (*release)(struct transport *t, struct ck_stream *s, bool dead);
	void (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
};

extern const struct transport_ops transport_unix_ops;
extern const struct transport_ops transport_vchan_ops;
