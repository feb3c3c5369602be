/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One agent session over one connection: Hello, then a snapshot or deltas from the log,
 * then a delta per change, each acknowledged.  A guest never slows another: its frames wait
 * in a bounded queue, and one that stops reading loses the queue and gets a snapshot once it
 * drains.  Whatever it sends is verified and can end its session, never change membership.
 */
#pragma once

#include <json-c/json.h>

#include "daemon.h"

struct guest;

/* Takes over conn; the guest closes it (through the transport) when the session ends. */
int guest_attach(struct daemon *d, struct conn *conn);

/* Ends every session on this connection's domid (vchan: the member left). */
void guest_detach_domid(struct daemon *d, uint16_t domid);
void guest_detach_all(struct daemon *d);

/* True if a session (connected or waiting for its Hello) exists on that domid's channel. */
bool guest_has_domid(struct daemon *d, uint16_t domid);

/* A committed change, for every active session. */
void guests_broadcast(struct daemon *d, const struct ck_delta *delta);

/* The sessions, for `cokeeperctl guests`. */
struct json_object *guests_to_json(struct daemon *d);
unsigned int guests_count(struct daemon *d);
