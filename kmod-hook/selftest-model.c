// SPDX-License-Identifier: GPL-2.0-only
/*
 * The self-test's differential part: thousands of random sets, deletes, replaces, flushes
 * and lookups by every key, applied both to a store and to a naive model (plain arrays,
 * linear scans).  Every result code and every notifier event must be the model's, and
 * regularly the whole table (status, every domid, every key of the pools with its address
 * source, the walk) too.  Sources are random, so a rewrite that changes only one is a CHANGE.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <net/ipv6.h>

#include "include/cokeeper.h"
#include "selftest.h"

#define DOMIDS 40		/* domids drawn from 0..DOMIDS-1, so operations meet */
#define MAX_ENTRIES 24		/* below DOMIDS, so -ENOSPC happens */
#define POOL 256		/* keys drawn from POOL MACs, IPv4 and IPv6 addresses */
#define OPS 20000
#define COMPARE_EVERY 64

enum { NO_EVENT, LAST_EVENT = COKEEPER_EPOCH_CHANGE };

/* What the operations came to, to show the error paths were taken. */
enum { OUT_APPLIED, OUT_EEXIST, OUT_ENOSPC, OUT_ESTALE, OUT_EINVAL, OUT_LOOKUP, N_OUT };

struct model {
	bool present[DOMIDS];
	struct ck_member m[DOMIDS];
	u32 count;
	u64 epoch;
	u64 gen;
};

struct st {
	struct ck_store *s;
	struct model *model;
	struct ck_member *tmp;
	struct ck_member *list;		/* a replace's members */
	struct notifier_block nb;
	unsigned int events[LAST_EVENT + 1];
	unsigned int outcome[N_OUT];
	struct rnd_state rnd;
	u64 seed;
	unsigned long ops;
};

#define FAIL(st, fmt, ...)							\
	({									\
		pr_err("selftest: FAIL at operation %lu (seed %llu): " fmt "\n",	\
		       (st)->ops, (st)->seed, ##__VA_ARGS__);			\
		-ENOTRECOVERABLE;						\
	})

static u32 rnd(struct st *st, u32 n)
{
	return prandom_u32_state(&st->rnd) % n;
}

/* Keys come from *next (consecutive, so distinct) or, with next NULL, at random. */
static unsigned int pick(struct st *st, unsigned int *next)
{
	return next ? (*next)++ % POOL : rnd(st, POOL);
}

static void random_member(struct st *st, struct ck_member *m, u32 domid, unsigned int *next)
{
	union ck_addr a;
	unsigned int i, j;

	memset(m, 0, sizeof(*m));
	m->domid = domid;
	m->state = rnd(st, 4) ? COKEEPER_STATE_RUNNING : COKEEPER_STATE_MIGRATING_OUT;
	m->uuid[0] = domid;
	m->uuid[1] = rnd(st, 2);	/* now and then another domain reuses the domid */
	snprintf(m->name, sizeof(m->name), "guest-%u-%u", domid, rnd(st, 3));
	m->n_nics = rnd(st, 3);
	for (i = 0; i < m->n_nics; i++) {
		struct ck_nic *nic = &m->nics[i];

		ck_selftest_key(CK_KEY_MAC, pick(st, next), &a);
		memcpy(nic->mac, a.mac, ETH_ALEN);
		nic->n_ip4 = rnd(st, 3);
		for (j = 0; j < nic->n_ip4; j++) {
			ck_selftest_key(CK_KEY_IP4, pick(st, next), &a);
			nic->ip4[j] = a.ip4;
			nic->ip4_source[j] = rnd(st, COKEEPER_ADDR_SOURCE_MAX + 1);
		}
		nic->n_ip6 = rnd(st, 3);
		for (j = 0; j < nic->n_ip6; j++) {
			ck_selftest_key(CK_KEY_IP6, pick(st, next), &a);
			nic->ip6[j] = a.ip6;
			nic->ip6_source[j] = rnd(st, COKEEPER_ADDR_SOURCE_MAX + 1);
		}
	}
}

/*
 * Where m took the key from (enum cokeeper_addr_source; a MAC: TOOLSTACK), or -1: no such
 * key.  Random members list a key twice now and then: the most trusted source of its copies.
 */
static int member_source(const struct ck_member *m, enum ck_key_type type,
			 const union ck_addr *a)
{
	unsigned int i, j;
	int best = -1;

	for (i = 0; i < m->n_nics; i++) {
		const struct ck_nic *nic = &m->nics[i];

		if (type == CK_KEY_MAC && ether_addr_equal(nic->mac, a->mac))
			return COKEEPER_ADDR_TOOLSTACK;
		for (j = 0; type == CK_KEY_IP4 && j < nic->n_ip4; j++)
			if (nic->ip4[j] == a->ip4 && (best < 0 || nic->ip4_source[j] < best))
				best = nic->ip4_source[j];
		for (j = 0; type == CK_KEY_IP6 && j < nic->n_ip6; j++)
			if (ipv6_addr_equal(&nic->ip6[j], &a->ip6) &&
			    (best < 0 || nic->ip6_source[j] < best))
				best = nic->ip6_source[j];
	}
	return best;
}

static bool member_has(const struct ck_member *m, enum ck_key_type type, const union ck_addr *a)
{
	return member_source(m, type, a) >= 0;
}

/* True if one of m's keys belongs to another member of set[] (present[] says which). */
static bool conflicts(const struct ck_member *m, const struct ck_member *set, const bool *present,
		      unsigned int n)
{
	unsigned int d, i, j;
	union ck_addr a;

	for (d = 0; d < n; d++) {
		if (!present[d] || set[d].domid == m->domid)
			continue;
		for (i = 0; i < m->n_nics; i++) {
			const struct ck_nic *nic = &m->nics[i];

			memset(&a, 0, sizeof(a));
			memcpy(a.mac, nic->mac, ETH_ALEN);
			if (member_has(&set[d], CK_KEY_MAC, &a))
				return true;
			for (j = 0; j < nic->n_ip4; j++) {
				a.ip4 = nic->ip4[j];
				if (member_has(&set[d], CK_KEY_IP4, &a))
					return true;
			}
			for (j = 0; j < nic->n_ip6; j++) {
				a.ip6 = nic->ip6[j];
				if (member_has(&set[d], CK_KEY_IP6, &a))
					return true;
			}
		}
	}
	return false;
}

/* The event the table owes a fast path when old (NULL: absent) becomes new. */
static int expected_event(const struct ck_member *old, const struct ck_member *new)
{
	if (!old)
		return COKEEPER_PEER_ADD;
	if (old->state == COKEEPER_STATE_RUNNING && new->state == COKEEPER_STATE_MIGRATING_OUT)
		return COKEEPER_PEER_MIGRATING_OUT;
	return memcmp(old, new, sizeof(*old)) ? COKEEPER_PEER_CHANGE : NO_EVENT;
}

static int st_event(struct notifier_block *nb, unsigned long action, void *data)
{
	struct st *st = container_of(nb, struct st, nb);

	st->events[action <= LAST_EVENT ? action : NO_EVENT]++;
	return NOTIFY_OK;
}

static int check_events(struct st *st, const unsigned int *want, const char *op)
{
	int ev;

	for (ev = 0; ev <= LAST_EVENT; ev++)
		if (st->events[ev] != want[ev])
			return FAIL(st, "%s: %u events of type %d, model says %u", op,
				    st->events[ev], ev, want[ev]);
	return 0;
}

static void tally(struct st *st, int result)
{
	switch (result) {
	case 0:
		st->outcome[OUT_APPLIED]++;
		break;
	case -EEXIST:
		st->outcome[OUT_EEXIST]++;
		break;
	case -ENOSPC:
		st->outcome[OUT_ENOSPC]++;
		break;
	case -ESTALE:
		st->outcome[OUT_ESTALE]++;
		break;
	case -EINVAL:
		st->outcome[OUT_EINVAL]++;
		break;
	}
}

static int op_set(struct st *st)
{
	struct model *md = st->model;
	struct ck_member *m = st->tmp;
	unsigned int want[LAST_EVENT + 1] = {};
	struct ck_gen g, *gp = NULL;
	int err, expect = 0;
	u32 d = rnd(st, DOMIDS);

	random_member(st, m, d, NULL);
	if (!rnd(st, 5)) {
		g = (struct ck_gen){ .epoch = rnd(st, 3) ? md->epoch : md->epoch + 1,
				     .gen = md->gen + 1 };
		gp = &g;
	}
	if (gp && (md->epoch == 0 || g.epoch != md->epoch))
		expect = -ESTALE;
	else if (!md->present[d] && md->count >= MAX_ENTRIES)
		expect = -ENOSPC;
	else if (conflicts(m, md->m, md->present, DOMIDS))
		expect = -EEXIST;

	ck_store_lock(st->s);
	err = ck_store_set(st->s, m, gp, NULL, NULL);
	ck_store_unlock(st->s);
	if (err != expect)
		return FAIL(st, "set domid %u: %d, model says %d", d, err, expect);
	tally(st, err);
	if (err)
		return check_events(st, want, "failed set");
	want[expected_event(md->present[d] ? &md->m[d] : NULL, m)]++;
	want[NO_EVENT] = 0;
	md->count += !md->present[d];
	md->present[d] = true;
	md->m[d] = *m;
	if (gp)
		md->gen = g.gen;
	return check_events(st, want, "set");
}

static int op_del(struct st *st)
{
	struct model *md = st->model;
	unsigned int want[LAST_EVENT + 1] = {};
	struct ck_gen g, *gp = NULL;
	u32 d = rnd(st, DOMIDS);
	int err, expect = 0;
	bool changed;

	if (!rnd(st, 4)) {
		g = (struct ck_gen){ .epoch = rnd(st, 3) ? md->epoch : md->epoch + 1,
				     .gen = md->gen + 1 };
		gp = &g;
	}
	if (gp && (md->epoch == 0 || g.epoch != md->epoch))
		expect = -ESTALE;
	ck_store_lock(st->s);
	err = ck_store_del(st->s, d, gp, NULL, &changed, NULL);
	ck_store_unlock(st->s);
	if (err != expect)
		return FAIL(st, "delete domid %u: %d, model says %d", d, err, expect);
	tally(st, err);
	if (err)
		return check_events(st, want, "failed delete");
	if (changed != (md->present[d] || gp))
		return FAIL(st, "delete domid %u: changed %d, model disagrees", d, changed);
	if (md->present[d]) {
		want[COKEEPER_PEER_REMOVE] = 1;
		md->present[d] = false;
		md->count--;
	}
	if (gp)
		md->gen = g.gen;
	return check_events(st, want, "delete");
}

static int op_replace(struct st *st, bool flush)
{
	struct model *md = st->model;
	unsigned int want[LAST_EVENT + 1] = {};
	bool clean = rnd(st, 10) < 7, present[DOMIDS] = {};
	unsigned int i, n = flush ? 0 : rnd(st, MAX_ENTRIES + 3), next = rnd(st, POOL);
	u32 base = rnd(st, DOMIDS), count = 0;
	u64 epoch = flush ? 0 : 1 + rnd(st, 3), gen = flush ? 0 : rnd(st, 1000);
	struct ck_member *by_domid = kcalloc(DOMIDS, sizeof(*by_domid), GFP_KERNEL);
	int err = 0, expect = 0;

	if (!by_domid)
		return -ENOMEM;
	/* A clean list has distinct domids and keys; the others fail now and then. */
	for (i = 0; i < n; i++)
		random_member(st, &st->list[i], clean ? (base + i) % DOMIDS : rnd(st, DOMIDS),
			      clean ? &next : NULL);
	for (i = 0; i < n && !expect; i++) {
		u32 d = st->list[i].domid;

		if (present[d])
			expect = -EINVAL;
		else if (count >= MAX_ENTRIES)
			expect = -ENOSPC;
		else if (conflicts(&st->list[i], by_domid, present, DOMIDS))
			expect = -EEXIST;
		else {
			present[d] = true;
			by_domid[d] = st->list[i];
			count++;
		}
	}

	ck_store_lock(st->s);
	if (flush)
		err = ck_store_flush(st->s);
	else
		err = ck_selftest_replace(st->s, epoch, gen, st->list, n);
	ck_store_unlock(st->s);
	if (err != expect) {
		kfree(by_domid);
		return FAIL(st, "%s of %u members: %d, model says %d", flush ? "flush" : "replace",
			    n, err, expect);
	}
	tally(st, err);
	if (!err) {
		for (i = 0; i < DOMIDS; i++) {
			if (md->present[i] && !present[i])
				want[COKEEPER_PEER_REMOVE]++;
			else if (present[i])
				want[expected_event(md->present[i] ? &md->m[i] : NULL,
						    &by_domid[i])]++;
		}
		want[NO_EVENT] = 0;
		if (md->epoch != epoch)
			want[COKEEPER_EPOCH_CHANGE] = 1;
		memcpy(md->present, present, sizeof(present));
		memcpy(md->m, by_domid, DOMIDS * sizeof(*by_domid));
		md->count = count;
		md->epoch = epoch;
		md->gen = gen;
	}
	kfree(by_domid);
	return check_events(st, want, flush ? "flush" : "replace");
}

/* The model's answer: the member holding the key, or -1. */
static int model_find(const struct model *md, enum ck_key_type type, const union ck_addr *a)
{
	int d;

	for (d = 0; d < DOMIDS; d++)
		if (md->present[d] && member_has(&md->m[d], type, a))
			return d;
	return -1;
}

/* The key's entry and what the key says of itself: the domid, state and source. */
static int check_lookup(struct st *st, enum ck_key_type type, const union ck_addr *a)
{
	int want = model_find(st->model, type, a), got = -1, state = 0, source = -1;
	const struct ck_key *k;

	rcu_read_lock();
	k = ck_table_find_key(st->s, ck_store_table(st->s), type, a);
	if (k) {
		got = k->entry->domid;
		state = k->entry->state;
		source = k->lookup_source;
	}
	rcu_read_unlock();
	if (got != want || (k && state != st->model->m[want].state))
		return FAIL(st, "lookup of a type %d key: domid %d, model says %d", type, got,
			    want);
	if (k && source != member_source(&st->model->m[want], type, a))
		return FAIL(st, "lookup of a type %d key of domid %d: source %d, model says %d",
			    type, got, source, member_source(&st->model->m[want], type, a));
	return 0;
}

static int op_lookup(struct st *st)
{
	enum ck_key_type type = rnd(st, CK_KEY_TYPES);
	const struct ck_member *m = &st->model->m[rnd(st, DOMIDS)];
	union ck_addr a;

	ck_selftest_key(type, rnd(st, POOL), &a);
	/* Half the time a key some member has (if it has one of that type). */
	if (rnd(st, 2) && m->n_nics) {
		const struct ck_nic *nic = &m->nics[rnd(st, m->n_nics)];

		if (type == CK_KEY_MAC)
			memcpy(a.mac, nic->mac, ETH_ALEN);
		else if (type == CK_KEY_IP4 && nic->n_ip4)
			a.ip4 = nic->ip4[rnd(st, nic->n_ip4)];
		else if (type == CK_KEY_IP6 && nic->n_ip6)
			a.ip6 = nic->ip6[rnd(st, nic->n_ip6)];
	}
	st->outcome[OUT_LOOKUP]++;
	return check_lookup(st, type, &a);
}

/* The whole table against the model: status, every domid, every pool key, the walk. */
static int compare(struct st *st)
{
	const struct model *md = st->model;
	struct ck_cursor c = {};
	struct ck_status status;
	const struct ck_entry *e;
	unsigned int i, n = 0;
	union ck_addr a;
	int type, err;

	ck_store_status(st->s, &status);
	if (status.epoch != md->epoch || status.gen != md->gen || status.count != md->count)
		return FAIL(st, "status (%llu, %llu, %u), model says (%llu, %llu, %u)",
			    status.epoch, status.gen, status.count, md->epoch, md->gen, md->count);
	rcu_read_lock();
	for (; ck_table_at(st->s, ck_store_table(st->s), &c); c.index++)
		n++;
	for (i = 0; i < DOMIDS; i++) {
		e = ck_table_find_domid(st->s, ck_store_table(st->s), i);
		if (!e != !md->present[i])
			break;
		if (e) {
			ck_entry_to_member(e, st->tmp);
			if (memcmp(st->tmp, &md->m[i], sizeof(*st->tmp)))
				break;
		}
	}
	rcu_read_unlock();
	if (n != md->count)
		return FAIL(st, "walk found %u entries, model has %u", n, md->count);
	if (i < DOMIDS)
		return FAIL(st, "domid %u differs from the model", i);
	for (type = 0; type < CK_KEY_TYPES; type++)
		for (i = 0; i < POOL; i++) {
			ck_selftest_key(type, i, &a);
			err = check_lookup(st, type, &a);
			if (err)
				return err;
		}
	return 0;
}

static int differential(struct st *st)
{
	int err = 0;
	u32 r;

	for (st->ops = 0; st->ops < OPS && !err; st->ops++) {
		memset(st->events, 0, sizeof(st->events));
		r = rnd(st, 100);
		if (r < 40)
			err = op_set(st);
		else if (r < 58)
			err = op_del(st);
		else if (r < 64)
			err = op_replace(st, false);
		else if (r < 65)
			err = op_replace(st, true);
		else
			err = op_lookup(st);
		if (!err && st->ops % COMPARE_EVERY == 0)
			err = compare(st);
		cond_resched();
	}
	return err ?: compare(st);
}

int ck_selftest_model(unsigned long *ops)
{
	struct st *st;
	int err = -ENOMEM;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	st->model = kvzalloc(sizeof(*st->model), GFP_KERNEL);
	st->tmp = kmalloc(sizeof(*st->tmp), GFP_KERNEL);
	st->list = kvcalloc(MAX_ENTRIES + 3, sizeof(*st->list), GFP_KERNEL);
	if (!st->model || !st->tmp || !st->list)
		goto out;
	err = ck_store_new(&st->s, MAX_ENTRIES);
	if (err)
		goto out;
	/* Printed on failure: the same seed replays the same operations. */
	st->seed = get_random_u64();
	prandom_seed_state(&st->rnd, st->seed);
	st->nb.notifier_call = st_event;
	blocking_notifier_chain_register(&st->s->chain, &st->nb);
	err = differential(st);
	blocking_notifier_chain_unregister(&st->s->chain, &st->nb);
	*ops += st->ops;
	if (!err)
		pr_info("selftest: model: %lu operations: %u applied, %u -EEXIST, %u -ENOSPC, %u -ESTALE, %u -EINVAL, %u lookups\n",
			st->ops, st->outcome[OUT_APPLIED], st->outcome[OUT_EEXIST],
			st->outcome[OUT_ENOSPC], st->outcome[OUT_ESTALE], st->outcome[OUT_EINVAL],
			st->outcome[OUT_LOOKUP]);
	ck_store_free(st->s);
out:
	kvfree(st->list);
	kfree(st->tmp);
	kvfree(st->model);
	kfree(st);
	return err;
}
