/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agents' sessions, one per stream: Hello, then a snapshot or deltas from the log, then
 * a delta per change, each acknowledged.  A guest never slows another: its frames wait in a
 * bounded queue, and one that stops reading loses the queue and gets a snapshot once it
 * drains.  Whatever it sends is verified and can end its session, never change membership.
 * What one peer costs is bounded: its input is read in slices so that the loop serves the
 * others in between, its Hellos are answered at most once per drained queue, what it makes
 * us log is rate-limited, and a connection that never says Hello is ended.  The fast path's
 * set-up messages go from one session to another as fastpath-relay.h decides.
 *
 * The object reads the membership it is given and reports through its callbacks; it owns
 * its sessions and their counters, and calls nothing else in the daemon.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "convergence.h"
#include "fastpath-relay.h"
#include "membership.h"
#include "stream.h"

struct guests;

/* A 1,024-guest host, with room for sessions whose replacement is already connecting. */
#define GUESTS_MAX_DEFAULT 1100
#define GUESTS_HELLO_TIMEOUT_DEFAULT_USEC (10 * 1000000ull)

struct guests_config {
	size_t queue_limit;	/* bytes queued per guest before it is resynced */
	unsigned int max_guests;	/* sessions at once, more are refused; 0: the default */
	uint64_t hello_timeout_usec;	/* from connecting to a valid Hello; 0: the default */
	/* Fast path set-up messages one session may have relayed per interval; 0: defaults. */
	unsigned int fastpath_burst;
	uint64_t fastpath_interval_usec;
};

struct guest_ack {
	const char *channel;	/* the stream's label */
	uint16_t domid;
	uint64_t gen;
	uint32_t latency_usec;	/* from the newest change it covers being noticed; 0: none */
};

struct guests_callbacks {
	/* A guest acknowledged a new generation. */
	void (*acked)(const struct guest_ack *ack, void *userdata);
	/* A session ended: the stream goes back to whoever handed it over. */
	void (*closed)(struct ck_stream *s, uint16_t domid, void *userdata);
};

struct guests_counters {
	uint64_t connected;	/* sessions ever started */
	uint64_t rejected;	/* ended for a protocol error, a bad Hello or none in time */
	uint64_t refused;	/* connections over max_guests */
	uint64_t hello_timeouts;	/* of the rejected: no Hello in time */
	uint64_t hellos_coalesced;	/* resync Hellos folded into one already pending */
	uint64_t queue_overflows;
	uint64_t lagging;	/* times a guest was found with its queue not taken: it gets a catch-up */
	uint64_t catchups_sent;	/* merged deltas that brought a lagging guest up to date */
	uint64_t snapshots_sent;
	uint64_t deltas_sent;
};

/* m (read only) is what they are sent; each Ack is timed in conv; timers run on event. */
int guests_new(struct guests **ret, sd_event *event, const struct ck_membership *m,
	       struct convergence *conv, const struct guests_config *cfg,
	       const struct guests_callbacks *cb, void *userdata);
/* Says goodbye to every guest and hands each stream back (closed). */
void guests_free(struct guests *gs);

/*
 * Takes over s: a session waiting for its Hello.  Over max_guests the peer gets a Bye and
 * the stream is handed back (closed) from the event loop, never from within this call.
 */
int guests_attach(struct guests *gs, struct ck_stream *s);

/* Ends every session on streams that carry this domid (vchan: the member left). */
void guests_detach_domid(struct guests *gs, uint16_t domid);

/* A committed change, for every active session. */
void guests_broadcast(struct guests *gs, const struct ck_delta *delta);

unsigned int guests_count(const struct guests *gs);
const struct guests_counters *guests_counters(const struct guests *gs);
const struct fastpath_relay_counters *guests_fastpath_counters(const struct guests *gs);
/* The sessions, for `cokeeperctl guests`. */
struct json_object *guests_to_json(const struct guests *gs);
