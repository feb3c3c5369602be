// SPDX-License-Identifier: GPL-2.0-only
/* Table entries: building one from a member, counters, freeing after a grace period. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/slab.h>

#include "entry.h"

static struct ck_stats *stats_new(gfp_t gfp)
{
	struct ck_stats *s = kzalloc(sizeof(*s), gfp);
	int cpu;

	if (!s)
		return NULL;
	s->pcpu = alloc_percpu_gfp(struct ck_pcpu_stats, gfp);
	if (!s->pcpu) {
		kfree(s);
		return NULL;
	}
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(s->pcpu, cpu)->syncp);
	refcount_set(&s->ref, 1);
	return s;
}

static void stats_put(struct ck_stats *s)
{
	if (s && refcount_dec_and_test(&s->ref)) {
		free_percpu(s->pcpu);
		kfree(s);
	}
}

static void add_key(struct ck_entry *e, enum ck_key_type type, const void *addr, u8 source)
{
	struct ck_key *k = &e->keys[e->n_keys++];

	k->entry = e;
	k->type = type;
	k->source = source;
	memcpy(&k->addr, addr, ck_addr_len(type));
}

/*
 * A member may list one address twice (on two NICs, say) with different sources.  A lookup
 * finds one copy or the other, so each copy answers with the most trusted source of them
 * all: dom0 holds the address at the highest trust it has for it.  Dumps keep each as written.
 */
static void resolve_sources(struct ck_entry *e)
{
	unsigned int i, j;

	for (i = 0; i < e->n_keys; i++) {
		struct ck_key *k = &e->keys[i];

		k->lookup_source = k->source;
		for (j = 0; j < e->n_keys; j++) {
			const struct ck_key *o = &e->keys[j];

			if (o->type == k->type && !memcmp(&o->addr, &k->addr, ck_addr_len(k->type)))
				k->lookup_source = min(k->lookup_source, o->source);
		}
	}
}

int ck_entry_new(struct ck_entry **ret, const struct ck_member *m, const struct ck_entry *share,
		 gfp_t gfp)
{
	unsigned int i, j, n = 0;
	struct ck_entry *e;

	for (i = 0; i < m->n_nics; i++)
		n += 1 + m->nics[i].n_ip4 + m->nics[i].n_ip6;
	e = kzalloc(struct_size(e, keys, n), gfp);
	if (!e)
		return -ENOMEM;
	if (share) {
		/* share is linked and we hold the writer lock or an RCU read section, so its
		 * reference keeps the counters alive while we take ours. */
		refcount_inc(&share->stats->ref);
		e->stats = share->stats;
	} else {
		e->stats = stats_new(gfp);
		if (!e->stats) {
			kfree(e);
			return -ENOMEM;
		}
	}
	e->domid = m->domid;
	e->state = m->state;
	memcpy(e->uuid, m->uuid, sizeof(e->uuid));
	strscpy(e->name, m->name, sizeof(e->name));
	e->n_nics = m->n_nics;
	for (i = 0; i < m->n_nics; i++) {
		const struct ck_nic *nic = &m->nics[i];

		e->nic[i].n_ip4 = nic->n_ip4;
		e->nic[i].n_ip6 = nic->n_ip6;
		/* The vif backend's mac key: the toolstack's by definition. */
		add_key(e, CK_KEY_MAC, nic->mac, COKEEPER_ADDR_TOOLSTACK);
		for (j = 0; j < nic->n_ip4; j++)
			add_key(e, CK_KEY_IP4, &nic->ip4[j], nic->ip4_source[j]);
		for (j = 0; j < nic->n_ip6; j++)
			add_key(e, CK_KEY_IP6, &nic->ip6[j], nic->ip6_source[j]);
	}
	resolve_sources(e);
	*ret = e;
	return 0;
}

void ck_entry_free(struct ck_entry *e)
{
	if (!e)
		return;
	stats_put(e->stats);
	kfree(e);
}

static void entry_free_rcu(struct rcu_head *rcu)
{
	ck_entry_free(container_of(rcu, struct ck_entry, rcu));
}

void ck_entry_free_rcu(struct ck_entry *e)
{
	call_rcu(&e->rcu, entry_free_rcu);
}

void ck_entry_to_member(const struct ck_entry *e, struct ck_member *m)
{
	const struct ck_key *k = e->keys;
	unsigned int i, j;

	memset(m, 0, sizeof(*m));
	m->domid = e->domid;
	m->state = e->state;
	memcpy(m->uuid, e->uuid, sizeof(m->uuid));
	strscpy(m->name, e->name, sizeof(m->name));
	m->n_nics = e->n_nics;
	for (i = 0; i < e->n_nics; i++) {
		struct ck_nic *nic = &m->nics[i];

		memcpy(nic->mac, k++->addr.mac, ETH_ALEN);
		nic->n_ip4 = e->nic[i].n_ip4;
		nic->n_ip6 = e->nic[i].n_ip6;
		for (j = 0; j < nic->n_ip4; j++, k++) {
			nic->ip4[j] = k->addr.ip4;
			nic->ip4_source[j] = k->source;
		}
		for (j = 0; j < nic->n_ip6; j++, k++) {
			nic->ip6[j] = k->addr.ip6;
			nic->ip6_source[j] = k->source;
		}
	}
}

bool ck_entry_same(const struct ck_entry *a, const struct ck_entry *b)
{
	unsigned int i;

	if (a->domid != b->domid || a->state != b->state || a->n_nics != b->n_nics ||
	    a->n_keys != b->n_keys || memcmp(a->uuid, b->uuid, sizeof(a->uuid)) ||
	    strcmp(a->name, b->name) || memcmp(a->nic, b->nic, sizeof(a->nic)))
		return false;
	/* Same counts per NIC, so the key types line up and only the addresses (and where they
	 * came from: a fast path acts on that too) can differ. */
	for (i = 0; i < a->n_keys; i++)
		if (memcmp(&a->keys[i].addr, &b->keys[i].addr, ck_addr_len(a->keys[i].type)) ||
		    a->keys[i].source != b->keys[i].source)
			return false;
	return true;
}

void ck_entry_count_tx(const struct ck_entry *e, unsigned int packets, unsigned int bytes)
{
	struct ck_pcpu_stats *s = get_cpu_ptr(e->stats->pcpu);
	unsigned long flags;

	/* Process and softirq context both send; on 32-bit the irqsave keeps the seqcount
	 * writer exclusive on this CPU.  On 64-bit all of this compiles to two local adds. */
	flags = u64_stats_update_begin_irqsave(&s->syncp);
	u64_stats_add(&s->packets, packets);
	u64_stats_add(&s->bytes, bytes);
	u64_stats_update_end_irqrestore(&s->syncp, flags);
	put_cpu_ptr(e->stats->pcpu);
}

void ck_entry_read_tx(const struct ck_entry *e, u64 *packets, u64 *bytes)
{
	unsigned int start;
	int cpu;

	*packets = 0;
	*bytes = 0;
	for_each_possible_cpu(cpu) {
		const struct ck_pcpu_stats *s = per_cpu_ptr(e->stats->pcpu, cpu);
		u64 p, b;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			p = u64_stats_read(&s->packets);
			b = u64_stats_read(&s->bytes);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		*packets += p;
		*bytes += b;
	}
}
