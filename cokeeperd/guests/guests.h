/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The set of guests: one session (guest-session.h) per agent's stream, found by domid,
 * within the limits a host sets.  What one peer costs is bounded here: its input is read in slices so
 * that the loop serves the others in between, a connection that never says Hello is ended,
 * connections over the limit are refused with a Bye, and what connecting makes us log is
 * rate-limited.  When a session must end, this is where it ends: logged by cause, its Bye,
 * its stream handed back.
 *
 * The object reads the membership it is given and reports through its callbacks; it owns
 * its sessions and their counters, and calls nothing else in the daemon.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "membership.h"
#include "guest-session.h"
#include "stream.h"

struct guests;

/* A 1,024-guest host, with room for sessions whose replacement is already connecting. */
#define GUESTS_MAX_DEFAULT 1100
#define GUESTS_HELLO_TIMEOUT_DEFAULT_USEC (10 * 1000000ull)

struct guests_config {
	/* Bytes queued per guest (besides one snapshot) before it is resynced. */
	size_t queue_limit;
	unsigned int max_guests;	/* sessions at once, more are refused; 0: the default */
	uint64_t hello_timeout_usec;	/* from connecting to a valid Hello; 0: the default */
};

struct guests_callbacks {
	/* A guest acknowledged a new generation: the latency it measured (0: none), in us. */
	uint32_t (*acked)(const struct guest_ack *ack, void *userdata);
	/* A guest sent a fast path set-up message: see struct guest_session_callbacks. */
	int (*fastpath)(struct guest_fastpath *fp, void *userdata);
	/* A session ended: the stream goes back to whoever handed it over. */
	void (*closed)(struct ck_stream *s, uint16_t domid, void *userdata);
	/* Does viewer's table hold m (view.h)?  NULL: every guest sees every member. */
	bool (*sees)(uint16_t viewer, const struct ck_member *m, void *userdata);
};

struct guests_counters {
	uint64_t connected;	/* sessions ever started */
	uint64_t rejected;	/* ended for a protocol error, a bad Hello or none in time */
	uint64_t refused;	/* connections over max_guests */
	uint64_t hello_timeouts;	/* of the rejected: no Hello in time */
	struct guest_session_counters session;
};

/* m (read only) is what they are sent; timers run on event. */
int guests_new(struct guests **ret, sd_event *event, const struct ck_membership *m,
	       const struct guests_config *cfg, const struct guests_callbacks *cb,
	       void *userdata);
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

/*
 * The fast path version announced by the session that speaks for domid (the newest to say
 * Hello as it), in *version; -ENOENT when none does.
 */
/* Whom guests see changed (a new policy): each gets a snapshot of its view. */
void guests_views_changed(struct guests *gs);

int guests_fastpath_version(const struct guests *gs, uint16_t domid, uint32_t *version);
/*
 * Sends msg to the session that speaks for domid: 0 once queued; -ENOENT if none does;
 * -ENOBUFS if it would take that guest past its queue limit (the guest is resynced, as for
 * a change); -ECONNRESET if that session had to end (the caller's goes on).
 */
int guests_send(struct guests *gs, uint16_t domid, const struct ck_msg *msg);

unsigned int guests_count(const struct guests *gs);
const struct guests_counters *guests_counters(const struct guests *gs);
/* Calls fn for each session past its limit check, newest first (`cokeeperctl guests`). */
void guests_foreach(const struct guests *gs, void (*fn)(const struct guest_session *s, void *userdata),
		    void *userdata);
