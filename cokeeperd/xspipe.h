/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Pipelined xenstore reads: several XS_READ requests written at once on one connection to
 * xenstored's socket, their replies read back together.  libxenstore allows one request in
 * flight per handle, so each read costs a round trip through xenstored, and on a busy dom0
 * (the toolstack's hotplug scripts run exactly when a vif appears) a round trip is several
 * milliseconds of scheduling.  A new vif's mac and ip then cost one round trip, not two.
 *
 * The connection carries no watches and no transactions: every message on it is the reply
 * to one of this batch's requests, which is what the reader checks.
 */
#pragma once

#include <stddef.h>

struct xspipe;

/* The most requests in one batch: xenstored queues them all for this connection. */
#define XSPIPE_BATCH_MAX 32
/* How long one batch may wait for xenstored before it fails with -ETIMEDOUT. */
#define XSPIPE_TIMEOUT_MS 5000

/* Takes fd, a connected stream socket to xenstored (it is closed by xspipe_free). */
int xspipe_new(struct xspipe **ret, int fd);
void xspipe_free(struct xspipe *p);

/*
 * values[i] = the value of paths[i], NUL-terminated in a malloc()ed block, or NULL where
 * xenstored answers with an error (ENOENT: no such key; EACCES).  0, or -errno for the batch
 * as a whole: -EPROTO for a reply that is not one of the batch's, -ETIMEDOUT, -ECONNRESET;
 * then no value is set and the connection should not be used again.
 */
int xspipe_read_many(struct xspipe *p, const char *const *paths, size_t n, char **values);
