/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the control socket's clients hold, counted per uid, and the caps that keep read-only
 * users (whoever the socket's mode lets in and is not an admin) from taking the socket over:
 *   - slots: the last eighth (rounded up, never all) of the clients and of the watchers are
 *     kept for admins, and one read-only uid holds at most clients_per_uid connections and
 *     watchers_per_uid watch streams;
 *   - memory: the replies and events one read-only uid leaves unread, over all its
 *     connections, are at most unread_per_uid bytes.
 * The uid is what is counted because it is what a user cannot multiply: connections and
 * processes it can open as many as it likes.  Admins (root, --admin-group) are trusted with
 * state already; they count in the totals and are held only to those (a user's connections
 * as an admin never count against its read-only ones).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct quota_limits {
	unsigned int max_clients;
	unsigned int max_watchers;
	unsigned int clients_per_uid;	/* read-only uids */
	unsigned int watchers_per_uid;
	size_t unread_per_uid;
};

struct quota_uid;

struct quota {
	struct quota_limits lim;
	unsigned int clients, watchers;		/* everyone's */
	unsigned int ro_clients, ro_watchers;	/* read-only clients' */
	struct quota_uid *uids;			/* the uids with a client, by uid */
};

/* One client's share: what it holds, in whose name. */
struct quota_hold {
	bool joined;
	struct quota_uid *uid;		/* a read-only client's user; NULL for an admin */
	bool admin;
	bool watching;
	size_t unread;
};

void quota_init(struct quota *q, const struct quota_limits *lim);
/* Every hold must have left. */
void quota_release(struct quota *q);

/* Slots kept for admins out of max: an eighth, rounded up, and never all of them. */
unsigned int quota_admin_share(unsigned int max);

/*
 * A client connects: 0 with *h held, -EUSERS with why (for the client) written when its
 * role or uid has no slot left, or -ENOMEM.
 */
int quota_join(struct quota *q, struct quota_hold *h, uid_t uid, bool admin, char *why,
	       size_t len);
/* The client starts watching: 0, or -EUSERS with why written. */
int quota_watch(struct quota *q, struct quota_hold *h, char *why, size_t len);
/*
 * The client's unread bytes are now bytes: 0, or -ENOBUFS when that takes a read-only uid's
 * total past unread_per_uid (they are counted all the same: leaving takes them back).
 */
int quota_set_unread(struct quota *q, struct quota_hold *h, size_t bytes);
/* The client is gone: what it held is given back. */
void quota_leave(struct quota *q, struct quota_hold *h);
