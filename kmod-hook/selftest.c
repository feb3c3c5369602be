// SPDX-License-Identifier: GPL-2.0-only
/*
 * The load-time self-test, run with selftest=1 on private stores (the live table is never
 * touched):
 *
 *  1. selftest-model.c: the table against a naive model over thousands of random operations.
 *  2. Here, a race: a kthread looks keys up while this thread replaces the table back and
 *     forth between two versions that map every key differently.  Inside one read section
 *     all answers must come from one version; a single lookup must give one version's
 *     answer.  Boot with preempt=full so readers get preempted inside their read sections.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/slab.h>

#include "selftest.h"

#define RACE_N 16
#define RACE_ROUNDS 400

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
	ck_selftest_key(CK_KEY_MAC, x, &a);
	memcpy(m->nics[0].mac, a.mac, ETH_ALEN);
	m->nics[0].n_ip4 = 1;
	ck_selftest_key(CK_KEY_IP4, x, &a);
	m->nics[0].ip4[0] = a.ip4;
	m->nics[0].n_ip6 = 1;
	ck_selftest_key(CK_KEY_IP6, x, &a);
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
				ck_selftest_key(type, x, &a);
				e = ck_table_find(r->s, t, type, &a);
				r->lookups++;
				if (!e || e->domid != (x + v) % RACE_N || (e->state ==
				    COKEEPER_STATE_RUNNING) != !v)
					r->errors++;
			}
		rcu_read_unlock();
		/* Separate read sections: each answer from one version or the other. */
		for (x = 0; x < RACE_N; x++) {
			ck_selftest_key(CK_KEY_IP4, x, &a);
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
	err = ck_selftest_replace(s, 7, round, list, RACE_N);
	ck_store_unlock(s);
	return err;
}

static int race(unsigned long *ops)
{
	struct race r = {};
	struct task_struct *reader;
	struct ck_member *list;
	unsigned int round;
	int err;

	list = kvcalloc(RACE_N, sizeof(*list), GFP_KERNEL);
	err = list ? ck_store_new(&r.s, RACE_N) : -ENOMEM;
	if (err)
		goto out;
	init_completion(&r.started);
	err = replace_version(r.s, list, 0);
	if (err)
		goto out;
	reader = kthread_run(race_reader, &r, "cokeeper-selftest");
	if (IS_ERR(reader)) {
		err = PTR_ERR(reader);
		goto out;
	}
	wait_for_completion(&r.started);
	for (round = 1; round <= RACE_ROUNDS && !err; round++) {
		err = replace_version(r.s, list, round);
		cond_resched();
	}
	kthread_stop(reader);
	*ops += round - 1 + r.lookups;
	if (!err && (r.errors || !r.lookups)) {
		pr_err("selftest: FAIL: race: %lu of %lu lookups saw a mix of versions or nothing\n",
		       r.errors, r.lookups);
		err = -ENOTRECOVERABLE;
	}
	if (!err)
		pr_info("selftest: race: %u replaces, %lu lookups; read sections saw A %lu, B %lu times\n",
			RACE_ROUNDS, r.lookups, r.seen[0], r.seen[1]);
out:
	if (err && err != -ENOTRECOVERABLE)
		pr_err("selftest: FAIL: race: %d\n", err);
	ck_store_free(r.s);
	kvfree(list);
	return err;
}

int ck_selftest(void)
{
	unsigned long ops = 0;
	int err;

	err = ck_selftest_model(&ops) ?: race(&ops);
	if (err) {
		pr_err("selftest: FAIL (%d after %lu operations)\n", err, ops);
		return -ENOTRECOVERABLE;
	}
	pr_info("selftest: PASS (%lu operations)\n", ops);
	return 0;
}
