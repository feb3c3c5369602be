// SPDX-License-Identifier: GPL-2.0-only
/*
 * The load-time self-test, run with selftest=1 on private stores (the live table is never
 * touched):
 *
 *  1. A differential test: thousands of random sets, deletes, replaces, flushes and lookups
 *     by every key, each applied to a store and to a naive model (plain arrays, linear
 *     scans).  Every operation's result, every notifier event and, regularly, the whole table
 *     must match the model.
 *  2. A race: a kthread looks keys up while this thread replaces the table back and forth
 *     between two versions that map every key differently.  Inside one read section all
 *     answers must come from one version; a single lookup must give one version's answer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <net/ipv6.h>

#include "include/cokeeper.h"
#include "selftest.h"
#include "table.h"

#define DOMIDS 40		/* domids drawn from 0..DOMIDS-1, so operations meet */
#define MAX_ENTRIES 24		/* below DOMIDS, so -ENOSPC happens */
#define POOL 256		/* keys drawn from POOL MACs, IPv4 and IPv6 addresses */
#define OPS 20000
#define COMPARE_EVERY 64
#define RACE_N 16
#define RACE_ROUNDS 400

enum { NO_EVENT, LAST_EVENT = COKEEPER_PEER_REMOVE };

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

static void pool_key(enum ck_key_type type, unsigned int i, union ck_addr *a)
{
	memset(a, 0, sizeof(*a));
	switch (type) {
	case CK_KEY_MAC:
		a->mac[0] = 0x02;	/* locally administered unicast */
		a->mac[4] = i >> 8;
		a->mac[5] = i;
		break;
	case CK_KEY_IP4:
		a->ip4 = htonl(0x0a000001 + i);
		break;
	default:
		a->ip6.s6_addr32[0] = htonl(0xfd000000);
		a->ip6.s6_addr32[3] = htonl(i + 1);
		break;
	}
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

		pool_key(CK_KEY_MAC, pick(st, next), &a);
		memcpy(nic->mac, a.mac, ETH_ALEN);
		nic->n_ip4 = rnd(st, 3);
		for (j = 0; j < nic->n_ip4; j++) {
			pool_key(CK_KEY_IP4, pick(st, next), &a);
			nic->ip4[j] = a.ip4;
		}
		nic->n_ip6 = rnd(st, 3);
		for (j = 0; j < nic->n_ip6; j++) {
			pool_key(CK_KEY_IP6, pick(st, next), &a);
			nic->ip6[j] = a.ip6;
		}
	}
}

static bool member_has(const struct ck_member *m, enum ck_key_type type, const union ck_addr *a)
{
	unsigned int i, j;

	for (i = 0; i < m->n_nics; i++) {
		const struct ck_nic *nic = &m->nics[i];

		if (type == CK_KEY_MAC && ether_addr_equal(nic->mac, a->mac))
			return true;
		for (j = 0; type == CK_KEY_IP4 && j < nic->n_ip4; j++)
			if (nic->ip4[j] == a->ip4)
				return true;
		for (j = 0; type == CK_KEY_IP6 && j < nic->n_ip6; j++)
			if (ipv6_addr_equal(&nic->ip6[j], &a->ip6))
				return true;
	}
	return false;
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

/* Replaces the table with the n members of list, or leaves it as it was. */
static int replace(struct ck_store *s, u64 epoch, u64 gen, const struct ck_member *list,
		   unsigned int n)
{
	struct ck_table *t;
	unsigned int i;
	int err;

	err = ck_store_replace_begin(s, &t, epoch, gen);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		err = ck_store_replace_add(s, t, &list[i], NULL);
		if (err) {
			ck_store_replace_abort(t);
			return err;
		}
	}
	ck_store_replace_commit(s, t);
	return 0;
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
		err = replace(st->s, epoch, gen, st->list, n);
	ck_store_unlock(st->s);
	if (err != expect) {
		kfree(by_domid);
		return FAIL(st, "%s of %u members: %d, model says %d", flush ? "flush" : "replace",
			    n, err, expect);
	}
	if (!err) {
		for (i = 0; i < DOMIDS; i++) {
			if (md->present[i] && !present[i])
				want[COKEEPER_PEER_REMOVE]++;
			else if (present[i])
				want[expected_event(md->present[i] ? &md->m[i] : NULL,
						    &by_domid[i])]++;
		}
		want[NO_EVENT] = 0;
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

static int check_lookup(struct st *st, enum ck_key_type type, const union ck_addr *a)
{
	int want = model_find(st->model, type, a), got = -1, state = 0;
	const struct ck_entry *e;

	rcu_read_lock();
	e = ck_table_find(st->s, ck_store_table(st->s), type, a);
	if (e) {
		got = e->domid;
		state = e->state;
	}
	rcu_read_unlock();
	if (got != want || (e && state != st->model->m[want].state))
		return FAIL(st, "lookup of a type %d key: domid %d, model says %d", type, got,
			    want);
	return 0;
}

static int op_lookup(struct st *st)
{
	enum ck_key_type type = rnd(st, CK_KEY_TYPES);
	const struct ck_member *m = &st->model->m[rnd(st, DOMIDS)];
	union ck_addr a;

	pool_key(type, rnd(st, POOL), &a);
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
			pool_key(type, i, &a);
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

struct race {
	struct ck_store *s;
	struct completion started;
	unsigned long lookups;
	unsigned long seen[2];		/* read sections that saw version A, B */
	unsigned long errors;
};

/* Version v maps key x to domid (x + v) % RACE_N; A is v = 0, B is v = 1. */
static void race_member(struct ck_member *m, u32 domid, unsigned int v)
{
	unsigned int x = (domid + RACE_N - v) % RACE_N;
	union ck_addr a;

	memset(m, 0, sizeof(*m));
	m->domid = domid;
	m->state = v ? COKEEPER_STATE_MIGRATING_OUT : COKEEPER_STATE_RUNNING;
	snprintf(m->name, sizeof(m->name), "race-%u", domid);
	m->n_nics = 1;
	pool_key(CK_KEY_MAC, x, &a);
	memcpy(m->nics[0].mac, a.mac, ETH_ALEN);
	m->nics[0].n_ip4 = 1;
	pool_key(CK_KEY_IP4, x, &a);
	m->nics[0].ip4[0] = a.ip4;
	m->nics[0].n_ip6 = 1;
	pool_key(CK_KEY_IP6, x, &a);
	m->nics[0].ip6[0] = a.ip6;
}

static int race_reader(void *arg)
{
	struct race *r = arg;
	const struct ck_entry *e;
	struct ck_table *t;
	unsigned int x, v;
	union ck_addr a;
	int type;

	complete(&r->started);
	while (!kthread_should_stop()) {
		/* One read section, one table: every answer from the same version. */
		rcu_read_lock();
		t = ck_store_table(r->s);
		v = READ_ONCE(t->gen) & 1;
		r->seen[v]++;
		for (type = 0; type < CK_KEY_TYPES; type++)
			for (x = 0; x < RACE_N; x++) {
				pool_key(type, x, &a);
				e = ck_table_find(r->s, t, type, &a);
				r->lookups++;
				if (!e || e->domid != (x + v) % RACE_N || (e->state ==
				    COKEEPER_STATE_RUNNING) != !v)
					r->errors++;
			}
		rcu_read_unlock();
		/* Separate read sections: each answer from one version or the other. */
		for (x = 0; x < RACE_N; x++) {
			pool_key(CK_KEY_IP4, x, &a);
			rcu_read_lock();
			e = ck_table_find(r->s, ck_store_table(r->s), CK_KEY_IP4, &a);
			if (!e || (e->domid != x && e->domid != (x + 1) % RACE_N))
				r->errors++;
			rcu_read_unlock();
			r->lookups++;
		}
		cond_resched();
	}
	return 0;
}

/* The table at gen round, holding version round & 1. */
static int replace_version(struct ck_store *s, struct ck_member *list, unsigned int round)
{
	unsigned int d;
	int err;

	for (d = 0; d < RACE_N; d++)
		race_member(&list[d], d, round & 1);
	ck_store_lock(s);
	err = replace(s, 7, round, list, RACE_N);
	ck_store_unlock(s);
	return err;
}

static int race(struct st *st)
{
	struct race r = { .s = st->s };
	struct task_struct *reader;
	unsigned int round;
	int err;

	init_completion(&r.started);
	err = replace_version(st->s, st->list, 0);
	if (err)
		return FAIL(st, "race: first replace: %d", err);
	reader = kthread_run(race_reader, &r, "cokeeper-selftest");
	if (IS_ERR(reader))
		return PTR_ERR(reader);
	wait_for_completion(&r.started);
	for (round = 1; round <= RACE_ROUNDS && !err; round++) {
		err = replace_version(st->s, st->list, round);
		cond_resched();
	}
	kthread_stop(reader);
	st->ops += RACE_ROUNDS + r.lookups;
	if (err)
		return FAIL(st, "race: replace: %d", err);
	if (r.errors || !r.lookups)
		return FAIL(st, "race: %lu of %lu lookups saw a mix or nothing", r.errors,
			    r.lookups);
	pr_info("selftest: race: %u replaces, %lu lookups, read sections saw A %lu, B %lu times\n",
		RACE_ROUNDS, r.lookups, r.seen[0], r.seen[1]);
	return 0;
}

int ck_selftest(void)
{
	struct st *st;
	int err = -ENOMEM;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	st->model = kvzalloc(sizeof(*st->model), GFP_KERNEL);
	st->tmp = kmalloc(sizeof(*st->tmp), GFP_KERNEL);
	st->list = kvcalloc(max(MAX_ENTRIES + 3, RACE_N), sizeof(*st->list), GFP_KERNEL);
	if (!st->model || !st->tmp || !st->list)
		goto out;
	err = ck_store_new(&st->s, MAX_ENTRIES);
	if (err)
		goto out;
	st->seed = get_random_u64();
	prandom_seed_state(&st->rnd, st->seed);
	st->nb.notifier_call = st_event;
	blocking_notifier_chain_register(&st->s->chain, &st->nb);

	err = differential(st);
	if (!err) {
		blocking_notifier_chain_unregister(&st->s->chain, &st->nb);
		err = race(st);
	}
	if (!err)
		pr_info("selftest: PASS (%lu operations)\n", st->ops);
	else
		pr_err("selftest: FAIL\n");
	ck_store_free(st->s);
out:
	kvfree(st->list);
	kfree(st->tmp);
	kvfree(st->model);
	kfree(st);
	return err ? -ENOTRECOVERABLE : 0;
}
