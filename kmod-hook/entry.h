/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One table entry: a member in the compact form the table links, with one hash node per key
 * (each MAC and address, with where dom0 took it from) and the peer's transmit counters.
 *
 * An entry is immutable once linked: a change builds a new entry and the old one is freed
 * after an RCU grace period.  The counters live in a separate, reference-counted object so
 * that they survive the rewrites of one domain's entry.
 */
#ifndef _CK_ENTRY_H
#define _CK_ENTRY_H

#include <linux/rculist.h>
#include <linux/refcount.h>
#include <linux/u64_stats_sync.h>

#include "member.h"

enum ck_key_type {
	CK_KEY_MAC,
	CK_KEY_IP4,
	CK_KEY_IP6,
	CK_KEY_TYPES
};

union ck_addr {
	u8 mac[ETH_ALEN];
	__be32 ip4;
	struct in6_addr ip6;
};

struct ck_entry;

struct ck_key {
	struct hlist_node node;
	struct ck_entry *entry;
	union ck_addr addr;
	u8 type;		/* enum ck_key_type */
	u8 source;		/* enum cokeeper_addr_source as written; a MAC's: TOOLSTACK */
	u8 lookup_source;	/* what a lookup of the key says (ck_entry_new) */
};

struct ck_pcpu_stats {
	u64_stats_t packets;
	u64_stats_t bytes;
	struct u64_stats_sync syncp;
};

struct ck_stats {
	refcount_t ref;
	struct ck_pcpu_stats __percpu *pcpu;
};

struct ck_entry {
	struct hlist_node domid_node;
	struct rcu_head rcu;
	struct ck_stats *stats;
	u32 domid;
	u8 state;
	u8 n_nics;
	u8 uuid[COKEEPER_UUID_LEN];
	char name[COKEEPER_NAME_MAX + 1];
	struct {
		u8 n_ip4;
		u8 n_ip6;
	} nic[COKEEPER_NICS_MAX];
	/* Per NIC in order: its MAC, then its IPv4, then its IPv6 addresses. */
	unsigned int n_keys;
	struct ck_key keys[];
};

/*
 * Builds an unlinked entry from m.  With share non-NULL the entry takes a reference on
 * share's counters (same domain rewritten); otherwise it gets fresh ones.
 */
int ck_entry_new(struct ck_entry **ret, const struct ck_member *m, const struct ck_entry *share,
		 gfp_t gfp);
/* Frees at once: only for entries no reader can have seen.  NULL is a no-op. */
void ck_entry_free(struct ck_entry *e);
/* Frees after a grace period: for entries that were linked. */
void ck_entry_free_rcu(struct ck_entry *e);

void ck_entry_to_member(const struct ck_entry *e, struct ck_member *m);
/* True if a and b describe the same member (counters aside). */
bool ck_entry_same(const struct ck_entry *a, const struct ck_entry *b);

static inline size_t ck_addr_len(enum ck_key_type type)
{
	switch (type) {
	case CK_KEY_MAC:
		return ETH_ALEN;
	case CK_KEY_IP4:
		return sizeof(__be32);
	default:
		return sizeof(struct in6_addr);
	}
}

/* Softirq-safe: the netfilter hook counts what it sent towards the peer. */
void ck_entry_count_tx(const struct ck_entry *e, unsigned int packets, unsigned int bytes);
void ck_entry_read_tx(const struct ck_entry *e, u64 *packets, u64 *bytes);

#endif /* _CK_ENTRY_H */
