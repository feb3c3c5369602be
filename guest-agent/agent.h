/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeper-agent's connection manager: keeps one channel to cokeeperd up (reconnecting with
 * bounded backoff), buffers what the session sends, and feeds what arrives to the session.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "session.h"

struct agent;
struct channel;

struct channel_ops {
	const char *name;
	int (*new)(struct channel **ret, struct agent *a);
	/*
	 * Connects now: 0 when connected; -EAGAIN when the daemon's end is not there yet (the
	 * channel calls agent_kick() when it appears, and the agent also retries on a timer);
	 * other -errno on failure.
	 */
	int (*connect)(struct channel *c);
	/* > 0 bytes, 0 at end of stream, -EAGAIN when none, other -errno. */
	ssize_t (*read)(struct channel *c, void *buf, size_t len);
	ssize_t (*write)(struct channel *c, const void *buf, size_t len);
	void (*want_write)(struct channel *c, bool on);
	void (*close)(struct channel *c);
	/*
	 * Optional: forget a connection without closing it, for one a live migration killed
	 * (channel-vchan.c says why); without it, close.
	 */
	void (*abandon)(struct channel *c);
	void (*free)(struct channel *c);
};

struct channel {
	const struct channel_ops *ops;
	struct agent *agent;
};

extern const struct channel_ops channel_unix_ops;
extern const struct channel_ops channel_vchan_ops;

struct agent_config {
	const char *transport;		/* vchan | unix */
	const char *socket_path;	/* unix */
	int domid;			/* unix: the domid to claim; -1: ask xenstore (vchan) */
	const char *sink;		/* kernel | memory */
	const char *dump_path;		/* memory sink */
};

struct agent {
	sd_event *event;
	struct agent_config cfg;
	struct channel *channel;
	struct sink *sink;
	struct session *session;
	bool connected;
	bool ready_sent;
	sd_event_source *retry;
	uint64_t backoff_usec;
	uint8_t *out;
	size_t out_len, out_cap;
};

int agent_new(struct agent **ret, const struct agent_config *cfg);
void agent_free(struct agent *a);
int agent_run(struct agent *a);

/* For channels: the connection may be read or written. */
void agent_on_io(struct agent *a);
/* For channels: the daemon's end may have appeared; try to connect now. */
void agent_kick(struct agent *a);
/*
 * For channels: the guest is now domid (a live migration gave it a new one): the old channel
 * is dead whatever it looks like, so drop it and connect afresh under the new identity.
 */
void agent_domid_changed(struct agent *a, int domid);
