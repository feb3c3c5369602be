/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's side of the protocol, independent of the channel: Hello → Snapshot or Deltas →
 * apply to the sink → Ack.  It keeps a replica of the membership; a gap or a foreign epoch
 * makes it ask for a resync (a new Hello) instead of applying anything partially, and a
 * stream it cannot decode ends the connection.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "membership.h"
#include "sink.h"

struct session;

/* Writes one whole frame to the daemon (buffering as needed); -errno ends the connection. */
typedef int (*session_send_fn)(const uint8_t *frame, size_t len, void *userdata);

int session_new(struct session **ret, struct sink *sink, uint16_t domid, session_send_fn send,
		void *userdata);
void session_free(struct session *s);

/* A new connection: forgets partial input and sends Hello with the replica's generation. */
int session_start(struct session *s);

/*
 * Bytes from the daemon (untrusted).  -errno means the connection must be dropped
 * (undecodable stream, protocol violation, the daemon said bye), with the reason in *err
 * (if not NULL) for the caller to report; the replica and the sink stay as they were before
 * the offending message.
 */
int session_receive(struct session *s, const void *untrusted, size_t len, struct ck_error *err);

/* The guest's domid changed (live migration): later Hellos carry the new one. */
void session_set_domid(struct session *s, uint16_t domid);

/*
 * Fast path set-up messages from cokeeperd (verified, peer_domid the source cokeeperd set)
 * go to fn; without one they are dropped.
 */
typedef void (*session_fastpath_fn)(const struct ck_msg *msg, void *userdata);
void session_set_fastpath(struct session *s, session_fastpath_fn fn, void *userdata);

/* Sends msg to cokeeperd now; -ENOTCONN (from send) while there is no connection. */
int session_send(struct session *s, const struct ck_msg *msg);

/*
 * The fast path version cokeeperd announced on its latest Snapshot or Delta in this
 * connection: 0 until it answered the Hello, and for good from a cokeeperd built before the
 * fast path, which ends the session on any Fastpath* message (proto/cokeeper.proto).
 */
uint32_t session_daemon_fastpath(const struct session *s);

const struct ck_membership *session_replica(const struct session *s);
/* True once a snapshot has been applied: the table is the host's. */
bool session_synced(const struct session *s);
/*
 * True while the table is cokeeperd's latest as far as this connection knows: synced, the
 * daemon answered this connection's Hello, no resync is pending and the sink took the last
 * change.
 */
bool session_current(const struct session *s);

struct session_stats {
	uint64_t snapshots, deltas, duplicates, resyncs, sink_fallbacks, sink_failures;
};
const struct session_stats *session_stats(const struct session *s);
