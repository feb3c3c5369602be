/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The co-resident table: a store holding the current table under RCU.
 *
 * A table is a set of hash tables over one array of buckets (domid, MAC, IPv4, IPv6), keyed
 * with siphash and a random key, plus the (epoch, gen) of the membership it reflects.
 * Readers take rcu_read_lock() and never block.  Writers hold the store's one mutex
 * (ck_store_lock()) across a whole change, so a change and the notifications it causes are
 * ordered the same way for everyone.  A member rewrite links the new entry before unlinking
 * the old one, so a key both have is never missing; a replace builds a whole table aside and
 * publishes it with one pointer store.
 */
#ifndef _CK_TABLE_H
#define _CK_TABLE_H

#include <linux/mutex.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/siphash.h>

#include "entry.h"

struct ck_table {
	struct rcu_head rcu;
	u64 epoch;
	u64 gen;		/* rewritten in place by set and delete: READ_ONCE */
	u32 count;		/* likewise */
	unsigned int bits;
	siphash_key_t key;
	/* (1 + CK_KEY_TYPES) << bits heads: the domid buckets, then those of each key type. */
	struct hlist_head heads[];
};

struct ck_store {
	struct mutex lock;			/* serialises every writer */
	struct ck_table __rcu *table;		/* never NULL while the store lives */
	u64 change_seq;				/* +1 per change, for dumps: READ_ONCE */
	u32 max_entries;
	unsigned int bits;
	siphash_key_t key;
	struct blocking_notifier_head chain;	/* enum cokeeper_peer_event */
};

/* What a write request may carry: it then applies only within this epoch. */
struct ck_gen {
	u64 epoch;
	u64 gen;
};

struct ck_status {
	u64 epoch;
	u64 gen;
	u64 change_seq;
	u32 count;
	u32 max_entries;
};

/* A dump's position: the next entry is the index-th of domid bucket bucket. */
struct ck_cursor {
	u32 bucket;
	u32 index;
};

int ck_store_new(struct ck_store **ret, u32 max_entries);
void ck_store_free(struct ck_store *s);

/*
 * Readers, inside rcu_read_lock() (or with the writer lock held).  One ck_store_table()
 * followed by several finds sees one table: all answers come from the same version.
 */
struct ck_table *ck_store_table(const struct ck_store *s);
/* The key itself, for what it says beyond its entry (its source); NULL if absent. */
const struct ck_key *ck_table_find_key(const struct ck_store *s, struct ck_table *t,
				       enum ck_key_type type, const void *addr);
const struct ck_entry *ck_table_find(const struct ck_store *s, struct ck_table *t,
				     enum ck_key_type type, const void *addr);
const struct ck_entry *ck_table_find_domid(const struct ck_store *s, struct ck_table *t,
					   u32 domid);
/* The entry at *c, moving *c to it; NULL past the last one.  Advance with c->index++. */
const struct ck_entry *ck_table_at(const struct ck_store *s, struct ck_table *t,
				   struct ck_cursor *c);

static inline u64 ck_store_change_seq(const struct ck_store *s)
{
	return READ_ONCE(s->change_seq);
}

/* A consistent snapshot; takes the writer lock briefly. */
void ck_store_status(struct ck_store *s, struct ck_status *st);

void ck_store_lock(struct ck_store *s);
void ck_store_unlock(struct ck_store *s);

/*
 * Writers: the store lock must be held.  out (if not NULL) receives the table's generation
 * after the change.  Errors carry an extack message when extack is not NULL.
 */
int ck_store_set(struct ck_store *s, const struct ck_member *m, const struct ck_gen *g,
		 struct ck_gen *out, struct netlink_ext_ack *extack);
/* *changed: false when the domid was absent and no generation came with the request. */
int ck_store_del(struct ck_store *s, u32 domid, const struct ck_gen *g, struct ck_gen *out,
		 bool *changed, struct netlink_ext_ack *extack);

/* Replace: begin, add each member, then commit (publishes) or abort (frees). */
int ck_store_replace_begin(struct ck_store *s, struct ck_table **ret, u64 epoch, u64 gen);
int ck_store_replace_add(struct ck_store *s, struct ck_table *t, const struct ck_member *m,
			 struct netlink_ext_ack *extack);
void ck_store_replace_commit(struct ck_store *s, struct ck_table *t);
void ck_store_replace_abort(struct ck_table *t);
/* An empty table at (0, 0). */
int ck_store_flush(struct ck_store *s);

#endif /* _CK_TABLE_H */
