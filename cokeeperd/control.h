/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket for orchestrators and cokeeperctl: a Unix stream socket speaking JSON
 * lines.  Each request is one object with a "cmd" key; each reply is one object with "ok".
 *   members   {"ok":true,"epoch":"…","gen":N,"members":[…]}
 *   guests    {"ok":true,"guests":[…]}             one entry per agent session
 *   stats     {"ok":true,"counters":{…},"convergence":{"count":N,"p50_us":…}}
 *   watch     {"ok":true,…members reply…} then one line per change:
 *             {"event":"delta","gen":N,"base_gen":N,"upserts":[…],"removed":[…]}
 *             {"event":"ack","domid":N,"gen":N,"latency_us":N}
 *   rescan    {"ok":true}
 *   sim-*     verbs of the simulated source (source-sim.c)
 * Failures: {"ok":false,"error":"…"}.  Requests are untrusted: a line is at most
 * CONTROL_LINE_MAX bytes and a client whose replies pile up unread is disconnected.
 */
#pragma once

#include <stdint.h>

#include "daemon.h"

#define CONTROL_LINE_MAX 4096
#define CONTROL_OUTPUT_MAX (4u << 20)

struct control;

int control_new(struct control **ret, struct daemon *d, const char *path);
void control_free(struct control *c);

void control_notify_delta(struct control *c, const struct ck_delta *delta);
void control_notify_ack(struct control *c, uint16_t domid, uint64_t gen, uint32_t latency_usec);

/* Replies for handlers (the sources' verbs too): {"ok":true} and {"ok":false,"error":…}. */
struct json_object *control_reply_ok(void);
struct json_object *control_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Handles one request line (also used by the simulation's scenario files and the fuzzer):
 * returns the reply object.  *watch is set when the client asked to follow changes.
 */
struct json_object *control_handle(struct daemon *d, const char *untrusted_line, size_t len,
				   bool *watch);
