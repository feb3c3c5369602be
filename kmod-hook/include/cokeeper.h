/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeper.ko's in-kernel API for a fast path (V4V/Argo-style shared-memory channels):
 * "is this destination co-resident, and which domain is it?", and a notifier that tells the
 * fast path when a peer appears, changes, starts migrating away, or leaves.
 *
 * Lookups are lock-free (RCU) and may be called from any context that may not sleep,
 * including softirq and hard irq.  They copy out what they found, so the result stays valid
 * after the call, but it is a snapshot: the table may change right after.
 */
#ifndef _COKEEPER_H
#define _COKEEPER_H

#include <linux/in6.h>
#include <linux/notifier.h>
#include <linux/types.h>

/*
 * What a lookup or a notification tells about one peer.
 *
 * addr_source (enum cokeeper_addr_source, uapi) is where dom0 took the key that was looked
 * up: for cokeeper_lookup_ipv4() and cokeeper_lookup_ipv6(), that address's source (the most
 * trusted one, should the member list the address more than once).  A MAC is always the vif
 * backend's and a domid Xen's, so cokeeper_lookup_mac(), cokeeper_lookup_domid() and the
 * notifier say COKEEPER_ADDR_TOOLSTACK: that tells nothing about the peer's addresses, look
 * each one up.  A fast path carries traffic only to and from TOOLSTACK, ORCHESTRATOR and
 * LEARNED addresses (the uapi's comment on the enum).
 */
struct cokeeper_peer {
	u32 domid;
	u8 state;	/* enum cokeeper_member_state (uapi): RUNNING or MIGRATING_OUT */
	u8 addr_source;	/* enum cokeeper_addr_source (uapi) */
};

/* Each returns 0 and fills *peer, or -ENOENT when the address is not a co-resident peer's. */
int cokeeper_lookup_ipv4(__be32 addr, struct cokeeper_peer *peer);
int cokeeper_lookup_ipv6(const struct in6_addr *addr, struct cokeeper_peer *peer);
int cokeeper_lookup_mac(const u8 *mac, struct cokeeper_peer *peer);	/* ETH_ALEN bytes */
int cokeeper_lookup_domid(u32 domid, struct cokeeper_peer *peer);

/*
 * Notifier actions; the data argument is a const struct cokeeper_peer * (copy it if needed),
 * or NULL for COKEEPER_EPOCH_CHANGE.
 *
 * The chain is a blocking notifier chain.  It is called in process context (the netlink
 * request of cokeeper-agent), with cokeeper's table writer lock held, so that notifications
 * arrive in the order the table changed.  A callback may sleep, but briefly: table writes wait
 * for it.  It may call the lookups above, and sees the table as already changed: on
 * COKEEPER_PEER_REMOVE the peer is no longer found, on COKEEPER_PEER_ADD it is.
 *
 *   COKEEPER_PEER_ADD            a domid that was not in the table is now
 *   COKEEPER_PEER_CHANGE         a member was rewritten (name, keys or state other than below)
 *   COKEEPER_PEER_MIGRATING_OUT  a member went from RUNNING to MIGRATING_OUT: tear its
 *                                channel down now, before the domain disappears from this host
 *   COKEEPER_PEER_REMOVE         the domid left the table (delete, replace, flush)
 *   COKEEPER_EPOCH_CHANGE        the table was replaced by one of another epoch (dom0's
 *                                daemon started afresh, or a flush): a domid may now name
 *                                another domain than before, so drop what was set up with
 *                                the old one.  Sent before the REMOVEs, CHANGEs and ADDs of
 *                                that replacement; the data argument is NULL.
 */
enum cokeeper_peer_event {
	COKEEPER_PEER_ADD = 1,
	COKEEPER_PEER_CHANGE,
	COKEEPER_PEER_MIGRATING_OUT,
	COKEEPER_PEER_REMOVE,
	COKEEPER_EPOCH_CHANGE,
};

/*
 * Registering calls nb once with COKEEPER_PEER_ADD for every member already in the table
 * (as a netdevice notifier replays NETDEV_REGISTER), under the same lock as the changes, so
 * a fast path loaded after the table was written misses nothing and sees nothing twice.
 */
int cokeeper_register_notifier(struct notifier_block *nb);
int cokeeper_unregister_notifier(struct notifier_block *nb);

#endif /* _COKEEPER_H */
