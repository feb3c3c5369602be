// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hash.h"
#include "quota.h"

struct quota_uid {
	uid_t uid;
	unsigned int clients, watchers;
	size_t unread;
	UT_hash_handle hh;
};

void quota_init(struct quota *q, const struct quota_limits *lim)
{
	*q = (struct quota){ .lim = *lim };
}

void quota_release(struct quota *q)
{
	struct quota_uid *u, *tmp;

	HASH_ITER(hh, q->uids, u, tmp) {
		HASH_DEL(q->uids, u);
		free(u);
	}
}

unsigned int quota_admin_share(unsigned int max)
{
	unsigned int share = (max + 7) / 8;

	/* With a single slot, keeping it would shut every read-only user out for good. */
	return share < max ? share : max - (max > 0);
}

static int find_or_add(struct quota *q, uid_t uid, struct quota_uid **ret)
{
	struct quota_uid *u;
	int r;

	HASH_FIND(hh, q->uids, &uid, sizeof(uid), u);
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return -ENOMEM;
		u->uid = uid;
		r = CK_HASH_TRY(HASH_ADD(hh, q->uids, uid, sizeof(u->uid), u));
		if (r < 0) {
			free(u);
			return r;
		}
	}
	*ret = u;
	return 0;
}

int quota_join(struct quota *q, struct quota_hold *h, uid_t uid, bool admin, char *why,
	       size_t len)
{
	unsigned int share = q->lim.max_clients - quota_admin_share(q->lim.max_clients);
	struct quota_uid *u;
	int r;

	if (q->clients >= q->lim.max_clients) {
		snprintf(why, len, "too many control clients");
		return -EUSERS;
	}
	/* An admin counts in the totals only: the same user without its group is held apart. */
	if (admin) {
		q->clients++;
		*h = (struct quota_hold){ .joined = true, .admin = true };
		return 0;
	}
	r = find_or_add(q, uid, &u);
	if (r < 0)
		return r;
	if (!admin && q->ro_clients >= share) {
		snprintf(why, len, "too many control clients (the last %u are kept for admins)",
			 q->lim.max_clients - share);
		r = -EUSERS;
	} else if (!admin && u->clients >= q->lim.clients_per_uid) {
		snprintf(why, len, "too many control clients for uid %u (at most %u)",
			 (unsigned int)uid, q->lim.clients_per_uid);
		r = -EUSERS;
	}
	if (r < 0) {
		if (u->clients == 0) {
			HASH_DEL(q->uids, u);
			free(u);
		}
		return r;
	}
	u->clients++;
	q->clients++;
	q->ro_clients++;
	*h = (struct quota_hold){ .joined = true, .uid = u };
	return 0;
}

int quota_watch(struct quota *q, struct quota_hold *h, char *why, size_t len)
{
	unsigned int share = q->lim.max_watchers - quota_admin_share(q->lim.max_watchers);
	struct quota_uid *u = h->uid;

	if (h->watching)
		return 0;
	if (q->watchers >= q->lim.max_watchers) {
		snprintf(why, len, "too many watchers (at most %u)", q->lim.max_watchers);
		return -EUSERS;
	}
	if (!h->admin && q->ro_watchers >= share) {
		snprintf(why, len, "too many watchers (the last %u are kept for admins)",
			 q->lim.max_watchers - share);
		return -EUSERS;
	}
	if (!h->admin && u->watchers >= q->lim.watchers_per_uid) {
		snprintf(why, len, "too many watchers for uid %u (at most %u)",
			 (unsigned int)u->uid, q->lim.watchers_per_uid);
		return -EUSERS;
	}
	h->watching = true;
	q->watchers++;
	if (!h->admin) {
		u->watchers++;
		q->ro_watchers++;
	}
	return 0;
}

int quota_set_unread(struct quota *q, struct quota_hold *h, size_t bytes)
{
	struct quota_uid *u = h->uid;

	if (u)
		u->unread = u->unread - h->unread + bytes;
	h->unread = bytes;
	return u && u->unread > q->lim.unread_per_uid ? -ENOBUFS : 0;
}

void quota_leave(struct quota *q, struct quota_hold *h)
{
	struct quota_uid *u = h->uid;

	if (!h->joined)
		return;
	(void)quota_set_unread(q, h, 0);
	q->clients--;
	q->watchers -= h->watching;
	if (u) {
		q->ro_clients--;
		q->ro_watchers -= h->watching;
		u->watchers -= h->watching;
		if (--u->clients == 0) {
			HASH_DEL(q->uids, u);
			free(u);
		}
	}
	*h = (struct quota_hold){ 0 };
}
