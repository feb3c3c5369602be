// SPDX-License-Identifier: GPL-2.0-only
/* The co-resident table: RCU hash tables by domid, MAC, IPv4 and IPv6; writers; replace. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/log2.h>
#include <linux/overflow.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <net/ipv6.h>

#include "include/cokeeper.h"
#include "table.h"

/* Bucket arrays: one per index, the domid's first. */
#define IDX_DOMID 0
#define IDX_KEY(type) (1 + (type))
#define N_IDX (1 + CK_KEY_TYPES)

static struct hlist_head *bucket(struct ck_table *t, unsigned int idx, u32 hash)
{
	return &t->heads[(idx << t->bits) + (hash & ((1U << t->bits) - 1))];
}

static u32 key_hash(const struct ck_table *t, enum ck_key_type type, const void *addr)
{
	u32 v4;

	switch (type) {
	case CK_KEY_IP4:
		memcpy(&v4, addr, sizeof(v4));
		return siphash_1u32(v4, &t->key);
	case CK_KEY_IP6:
		return siphash(addr, sizeof(struct in6_addr), &t->key);
	default:
		return siphash(addr, ETH_ALEN, &t->key);
	}
}

static bool key_equal(const struct ck_key *k, const void *addr)
{
	switch (k->type) {
	case CK_KEY_IP4:
		return !memcmp(&k->addr.ip4, addr, sizeof(k->addr.ip4));
	case CK_KEY_IP6:
		return !memcmp(&k->addr.ip6, addr, sizeof(k->addr.ip6));
	default:
		/* Callers' MACs come from packet headers and other modules: maybe unaligned. */
		return ether_addr_equal_unaligned(k->addr.mac, addr);
	}
}

struct ck_table *ck_store_table(const struct ck_store *s)
{
	return rcu_dereference_check(s->table, lockdep_is_held(&s->lock));
}

const struct ck_key *ck_table_find_key(const struct ck_store *s, struct ck_table *t,
				       enum ck_key_type type, const void *addr)
{
	struct hlist_head *head = bucket(t, IDX_KEY(type), key_hash(t, type, addr));
	struct ck_key *k;

	hlist_for_each_entry_rcu(k, head, node, lockdep_is_held(&s->lock))
		if (key_equal(k, addr))
			return k;
	return NULL;
}

const struct ck_entry *ck_table_find(const struct ck_store *s, struct ck_table *t,
				     enum ck_key_type type, const void *addr)
{
	const struct ck_key *k = ck_table_find_key(s, t, type, addr);

	return k ? k->entry : NULL;
}

const struct ck_entry *ck_table_find_domid(const struct ck_store *s, struct ck_table *t,
					   u32 domid)
{
	struct hlist_head *head = bucket(t, IDX_DOMID, siphash_1u32(domid, &t->key));
	struct ck_entry *e;

	hlist_for_each_entry_rcu(e, head, domid_node, lockdep_is_held(&s->lock))
		if (e->domid == domid)
			return e;
	return NULL;
}

const struct ck_entry *ck_table_at(const struct ck_store *s, struct ck_table *t,
				   struct ck_cursor *c)
{
	for (; c->bucket < (1U << t->bits); c->bucket++, c->index = 0) {
		struct ck_entry *e;
		u32 i = 0;

		hlist_for_each_entry_rcu(e, &t->heads[c->bucket], domid_node,
					 lockdep_is_held(&s->lock))
			if (i++ == c->index)
				return e;
	}
	return NULL;
}

/* A table being built is private to its builder, who holds the writer lock: the finds'
 * lockdep condition covers it too. */
static struct ck_entry *find_domid(const struct ck_store *s, struct ck_table *t, u32 domid)
{
	return (struct ck_entry *)ck_table_find_domid(s, t, domid);
}

static void link_entry(struct ck_table *t, struct ck_entry *e)
{
	unsigned int i;

	hlist_add_head_rcu(&e->domid_node, bucket(t, IDX_DOMID, siphash_1u32(e->domid, &t->key)));
	for (i = 0; i < e->n_keys; i++) {
		struct ck_key *k = &e->keys[i];

		hlist_add_head_rcu(&k->node, bucket(t, IDX_KEY(k->type),
						    key_hash(t, k->type, &k->addr)));
	}
}

static void unlink_entry(struct ck_entry *e)
{
	unsigned int i;

	hlist_del_rcu(&e->domid_node);
	for (i = 0; i < e->n_keys; i++)
		hlist_del_rcu(&e->keys[i].node);
}

/* -EEXIST if one of e's keys belongs to a member with another domid. */
static int check_keys(const struct ck_store *s, struct ck_table *t, const struct ck_entry *e,
		      struct netlink_ext_ack *extack)
{
	unsigned int i;

	for (i = 0; i < e->n_keys; i++) {
		const struct ck_key *k = &e->keys[i];
		const struct ck_entry *other = ck_table_find(s, t, k->type, &k->addr);

		if (!other || other->domid == e->domid)
			continue;
		/* The message must be a literal: extack keeps the pointer. */
		if (k->type == CK_KEY_MAC)
			NL_SET_ERR_MSG(extack, "a MAC of this member belongs to another member");
		else if (k->type == CK_KEY_IP4)
			NL_SET_ERR_MSG(extack, "an IPv4 address of this member is another member's");
		else
			NL_SET_ERR_MSG(extack, "an IPv6 address of this member is another member's");
		return -EEXIST;
	}
	return 0;
}

static void notify(struct ck_store *s, enum cokeeper_peer_event ev, const struct ck_entry *e)
{
	struct cokeeper_peer peer = { .domid = e->domid, .state = e->state,
				      .addr_source = COKEEPER_ADDR_TOOLSTACK };

	blocking_notifier_call_chain(&s->chain, ev, &peer);
}

/* What a rewrite of old into new means to a fast path; 0 if nothing it can see changed. */
static int rewrite_event(const struct ck_entry *old, const struct ck_entry *new)
{
	if (old->state == COKEEPER_STATE_RUNNING && new->state == COKEEPER_STATE_MIGRATING_OUT)
		return COKEEPER_PEER_MIGRATING_OUT;
	return ck_entry_same(old, new) ? 0 : COKEEPER_PEER_CHANGE;
}

/* Counters follow the domain, not the domid: a reused domid starts from zero. */
static const struct ck_entry *counters_of(const struct ck_entry *old, const struct ck_member *m)
{
	return old && !memcmp(old->uuid, m->uuid, sizeof(old->uuid)) ? old : NULL;
}

static int check_gen(const struct ck_table *t, const struct ck_gen *g,
		     struct netlink_ext_ack *extack)
{
	if (g && (t->epoch == 0 || g->epoch != t->epoch)) {
		NL_SET_ERR_MSG(extack, "epoch is not the table's: replace the table first");
		return -ESTALE;
	}
	return 0;
}

static void changed(struct ck_store *s, struct ck_table *t, const struct ck_gen *g,
		    struct ck_gen *out)
{
	if (g)
		WRITE_ONCE(t->gen, g->gen);
	/* A dump that saw any part of this change must see the new sequence after it. */
	smp_wmb();
	WRITE_ONCE(s->change_seq, s->change_seq + 1);
	if (out)
		*out = (struct ck_gen){ .epoch = t->epoch, .gen = t->gen };
}

int ck_store_set(struct ck_store *s, const struct ck_member *m, const struct ck_gen *g,
		 struct ck_gen *out, struct netlink_ext_ack *extack)
{
	struct ck_table *t = ck_store_table(s);
	struct ck_entry *old, *e;
	int ev, err;

	lockdep_assert_held(&s->lock);
	err = check_gen(t, g, extack);
	if (err)
		return err;
	old = find_domid(s, t, m->domid);
	if (!old && t->count >= s->max_entries) {
		NL_SET_ERR_MSG(extack, "the table holds max_entries members already");
		return -ENOSPC;
	}
	err = ck_entry_new(&e, m, counters_of(old, m), GFP_KERNEL);
	if (err)
		return err;
	err = check_keys(s, t, e, extack);
	if (err) {
		ck_entry_free(e);
		return err;
	}

	/* New before old: a lookup of a key both have finds one or the other, never none. */
	link_entry(t, e);
	if (old) {
		unlink_entry(old);
		ev = rewrite_event(old, e);
		ck_entry_free_rcu(old);
	} else {
		WRITE_ONCE(t->count, t->count + 1);
		ev = COKEEPER_PEER_ADD;
	}
	changed(s, t, g, out);
	if (ev)
		notify(s, ev, e);
	return 0;
}

int ck_store_del(struct ck_store *s, u32 domid, const struct ck_gen *g, struct ck_gen *out,
		 bool *changed_ret, struct netlink_ext_ack *extack)
{
	struct ck_table *t = ck_store_table(s);
	struct cokeeper_peer peer;
	struct ck_entry *old;
	int err;

	lockdep_assert_held(&s->lock);
	*changed_ret = false;
	err = check_gen(t, g, extack);
	if (err)
		return err;
	old = find_domid(s, t, domid);
	if (old) {
		peer = (struct cokeeper_peer){ .domid = old->domid, .state = old->state,
					       .addr_source = COKEEPER_ADDR_TOOLSTACK };
		unlink_entry(old);
		WRITE_ONCE(t->count, t->count - 1);
		ck_entry_free_rcu(old);
	}
	if (old || g) {
		changed(s, t, g, out);
		*changed_ret = true;
	}
	if (old)
		blocking_notifier_call_chain(&s->chain, COKEEPER_PEER_REMOVE, &peer);
	return 0;
}

static struct ck_table *table_alloc(const struct ck_store *s, u64 epoch, u64 gen)
{
	struct ck_table *t;

	t = kvzalloc(struct_size(t, heads, (size_t)N_IDX << s->bits), GFP_KERNEL);
	if (!t)
		return NULL;
	t->epoch = epoch;
	t->gen = gen;
	t->bits = s->bits;
	t->key = s->key;
	return t;
}

/* Frees t and every entry still linked in it; nobody may see t any more. */
static void table_free(struct ck_table *t)
{
	struct hlist_node *tmp;
	struct ck_entry *e;
	u32 i;

	if (!t)
		return;
	for (i = 0; i < (1U << t->bits); i++)
		hlist_for_each_entry_safe(e, tmp, &t->heads[i], domid_node)
			ck_entry_free(e);
	kvfree(t);
}

static void table_free_rcu(struct rcu_head *rcu)
{
	table_free(container_of(rcu, struct ck_table, rcu));
}

int ck_store_replace_begin(struct ck_store *s, struct ck_table **ret, u64 epoch, u64 gen)
{
	struct ck_table *t;

	lockdep_assert_held(&s->lock);
	t = table_alloc(s, epoch, gen);
	if (!t)
		return -ENOMEM;
	*ret = t;
	return 0;
}

int ck_store_replace_add(struct ck_store *s, struct ck_table *t, const struct ck_member *m,
			 struct netlink_ext_ack *extack)
{
	struct ck_entry *e;
	int err;

	lockdep_assert_held(&s->lock);
	if (find_domid(s, t, m->domid)) {
		NL_SET_ERR_MSG(extack, "the same domid appears twice");
		return -EINVAL;
	}
	if (t->count >= s->max_entries) {
		NL_SET_ERR_MSG(extack, "more members than max_entries");
		return -ENOSPC;
	}
	err = ck_entry_new(&e, m, counters_of(find_domid(s, ck_store_table(s), m->domid), m),
			   GFP_KERNEL);
	if (err)
		return err;
	err = check_keys(s, t, e, extack);
	if (err) {
		ck_entry_free(e);
		return err;
	}
	link_entry(t, e);
	t->count++;
	return 0;
}

void ck_store_replace_abort(struct ck_table *t)
{
	table_free(t);
}

/* Tells the notifier chain how old became new: removals first, then rewrites, then adds. */
static void notify_diff(struct ck_store *s, struct ck_table *old, struct ck_table *new)
{
	const struct ck_entry *e, *other;
	struct ck_cursor c = {};
	int ev;

	for (; (e = ck_table_at(s, old, &c)); c.index++)
		if (!ck_table_find_domid(s, new, e->domid))
			notify(s, COKEEPER_PEER_REMOVE, e);
	c = (struct ck_cursor){};
	for (; (e = ck_table_at(s, new, &c)); c.index++) {
		other = ck_table_find_domid(s, old, e->domid);
		ev = other ? rewrite_event(other, e) : 0;
		if (ev)
			notify(s, ev, e);
	}
	c = (struct ck_cursor){};
	for (; (e = ck_table_at(s, new, &c)); c.index++)
		if (!ck_table_find_domid(s, old, e->domid))
			notify(s, COKEEPER_PEER_ADD, e);
}

void ck_store_replace_commit(struct ck_store *s, struct ck_table *t)
{
	struct ck_table *old = ck_store_table(s);

	lockdep_assert_held(&s->lock);
	rcu_assign_pointer(s->table, t);
	smp_wmb();	/* as in changed() */
	WRITE_ONCE(s->change_seq, s->change_seq + 1);
	if (old->epoch != t->epoch)
		blocking_notifier_call_chain(&s->chain, COKEEPER_EPOCH_CHANGE, NULL);
	notify_diff(s, old, t);
	/* Readers that found old keep it until they leave their read section. */
	call_rcu(&old->rcu, table_free_rcu);
}

int ck_store_flush(struct ck_store *s)
{
	struct ck_table *t;
	int err;

	err = ck_store_replace_begin(s, &t, 0, 0);
	if (err)
		return err;
	ck_store_replace_commit(s, t);
	return 0;
}

void ck_store_status(struct ck_store *s, struct ck_status *st)
{
	struct ck_table *t;

	mutex_lock(&s->lock);
	t = ck_store_table(s);
	*st = (struct ck_status){
		.epoch = t->epoch,
		.gen = t->gen,
		.change_seq = s->change_seq,
		.count = t->count,
		.max_entries = s->max_entries,
	};
	mutex_unlock(&s->lock);
}

void ck_store_lock(struct ck_store *s)
{
	mutex_lock(&s->lock);
}

void ck_store_unlock(struct ck_store *s)
{
	mutex_unlock(&s->lock);
}

int ck_store_new(struct ck_store **ret, u32 max_entries)
{
	struct ck_table *t;
	struct ck_store *s;

	if (max_entries == 0 || max_entries > COKEEPER_DOMID_LIMIT)
		return -EINVAL;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->lock);
	BLOCKING_INIT_NOTIFIER_HEAD(&s->chain);
	s->max_entries = max_entries;
	/* About one domid per bucket when full; addresses share the same number of buckets. */
	s->bits = clamp_t(unsigned int, order_base_2(max_entries), 4, 15);
	/* Guests choose their own addresses: a secret hash key keeps them from choosing
	 * collisions that would turn lookups into list walks. */
	get_random_bytes(&s->key, sizeof(s->key));
	t = table_alloc(s, 0, 0);
	if (!t) {
		kfree(s);
		return -ENOMEM;
	}
	RCU_INIT_POINTER(s->table, t);
	s->change_seq = 1;	/* dumps treat sequence 0 as "not started" */
	*ret = s;
	return 0;
}

void ck_store_free(struct ck_store *s)
{
	struct ck_table *t;

	if (!s)
		return;
	t = rcu_replace_pointer(s->table, NULL, true);
	synchronize_rcu();
	table_free(t);
	/* The RCU callbacks that free old entries and tables run module code. */
	rcu_barrier();
	kfree(s);
}
