// SPDX-License-Identifier: GPL-2.0-only
/* The exported fast-path API (include/cokeeper.h) over the module's one store. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/export.h>

#include "include/cokeeper.h"
#include "api.h"

/* Set once at module init, before any user of these symbols can load; read-only after. */
static struct ck_store *store __read_mostly;

void ck_api_init(struct ck_store *s)
{
	store = s;
}

/*
 * Copies out under the caller's read section: *peer stays valid after it ends.  source is
 * the looked-up key's (include/cokeeper.h: TOOLSTACK for a MAC or a domid).
 */
static int fill(const struct ck_entry *e, u8 source, struct cokeeper_peer *peer)
{
	if (!e)
		return -ENOENT;
	peer->domid = e->domid;
	peer->state = e->state;
	peer->addr_source = source;
	return 0;
}

static int lookup(enum ck_key_type type, const void *addr, struct cokeeper_peer *peer)
{
	const struct ck_key *k;
	int err;

	rcu_read_lock();
	k = ck_table_find_key(store, ck_store_table(store), type, addr);
	err = k ? fill(k->entry, k->lookup_source, peer) : -ENOENT;
	rcu_read_unlock();
	return err;
}

int cokeeper_lookup_ipv4(__be32 addr, struct cokeeper_peer *peer)
{
	return lookup(CK_KEY_IP4, &addr, peer);
}
EXPORT_SYMBOL_GPL(cokeeper_lookup_ipv4);

int cokeeper_lookup_ipv6(const struct in6_addr *addr, struct cokeeper_peer *peer)
{
	return lookup(CK_KEY_IP6, addr, peer);
}
EXPORT_SYMBOL_GPL(cokeeper_lookup_ipv6);

int cokeeper_lookup_mac(const u8 *mac, struct cokeeper_peer *peer)
{
	return lookup(CK_KEY_MAC, mac, peer);
}
EXPORT_SYMBOL_GPL(cokeeper_lookup_mac);

int cokeeper_lookup_domid(u32 domid, struct cokeeper_peer *peer)
{
	int err;

	rcu_read_lock();
	err = fill(ck_table_find_domid(store, ck_store_table(store), domid),
		   COKEEPER_ADDR_TOOLSTACK, peer);
	rcu_read_unlock();
	return err;
}
EXPORT_SYMBOL_GPL(cokeeper_lookup_domid);

/*
 * Under the writer lock, so no change can fall between the replay and the registration:
 * the new callback sees every member exactly once as an ADD, then every later change.
 */
int cokeeper_register_notifier(struct notifier_block *nb)
{
	struct cokeeper_peer peer;
	const struct ck_entry *e;
	struct ck_cursor c = {};
	struct ck_table *t;
	int err;

	ck_store_lock(store);
	err = blocking_notifier_chain_register(&store->chain, nb);
	t = ck_store_table(store);
	for (; !err && (e = ck_table_at(store, t, &c)); c.index++) {
		fill(e, COKEEPER_ADDR_TOOLSTACK, &peer);
		nb->notifier_call(nb, COKEEPER_PEER_ADD, &peer);
	}
	ck_store_unlock(store);
	return err;
}
EXPORT_SYMBOL_GPL(cokeeper_register_notifier);

int cokeeper_unregister_notifier(struct notifier_block *nb)
{
	return blocking_notifier_chain_unregister(&store->chain, nb);
}
EXPORT_SYMBOL_GPL(cokeeper_unregister_notifier);
