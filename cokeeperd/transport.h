/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Transports carry frames between the daemon and the agents: vchan (shared memory with each
 * domU, dom0 as server) on Xen, a Unix socket in the simulation.  A transport hands the
 * daemon connections; guest.c runs the protocol over them without knowing which kind.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "delta.h"

struct daemon;
struct transport;
struct conn;

#define CONN_DOMID_ANY 0xffff	/* unix: the peer's domid is only what its Hello claims */

struct conn_ops {
	/* > 0 bytes read, 0 at end of stream, -EAGAIN when nothing is there, other -errno. */
	ssize_t (*read)(struct conn *c, void *buf, size_t len);
	/* >= 0 bytes written (maybe fewer than len), -EAGAIN when full, other -errno. */
	ssize_t (*write)(struct conn *c, const void *buf, size_t len);
	/* Ask for (or stop asking for) a wake-up when writing may progress. */
	void (*want_write)(struct conn *c, bool on);
	void (*close)(struct conn *c);
};

struct conn {
	const struct conn_ops *ops;
	uint16_t domid;		/* the channel's domid, or CONN_DOMID_ANY */
	char label[32];		/* "vchan:7", "unix:3" for logs */
	/* Set by the owner (guest.c): called when the connection may be read or written. */
	void (*on_io)(struct conn *c, void *userdata);
	void *userdata;
};

struct transport_ops {
	const char *name;
	int (*new)(struct transport **ret, struct daemon *d);
	/* Optional: the membership changed (vchan sets up a server per new member, drops gone ones). */
	void (*members_changed)(struct transport *t, const struct ck_delta *delta);
	/* The owner is done with c (peer gone, protocol error); vchan re-arms a fresh server. */
	void (*conn_closed)(struct transport *t, struct conn *c);
	void (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	struct daemon *daemon;
};

extern const struct transport_ops transport_unix_ops;
extern const struct transport_ops transport_vchan_ops;
