/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A ck_stream over a libxenvchan channel: the daemon serves one per member domU, the agent is
 * its client.  Both ends read, write and wake up the same way; only the set-up differs.
 */
#pragma once

#include <systemd/sd-event.h>

#include "poll-set.h"
#include "stream.h"

/* libxenvchan.h has no include guard: only its users include it. */
struct libxenvchan;

/*
 * Takes over ctrl (made non-blocking here) on success; label "vchan:<domid>".  Watched by an
 * sd-event source of its own (the agent's one channel), or, _in, as a member of a poll set
 * (the daemon's channel to each guest).
 */
int stream_vchan_new(struct ck_stream **ret, sd_event *event, struct libxenvchan *ctrl,
		     uint16_t domid);
int stream_vchan_new_in(struct ck_stream **ret, struct poll_set *set, struct libxenvchan *ctrl,
			uint16_t domid);

/*
 * Frees the stream but not its channel, which it returns: for a channel a live migration
 * killed, which must never be closed (the agent's transport-vchan.c says why).
 */
struct libxenvchan *stream_vchan_release(struct ck_stream *s);
