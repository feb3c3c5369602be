// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a channel may carry (accept.h).
 *
 * The channel skips dom0: no bridge, and no anti-spoofing rule on the vif.  What dom0 would
 * have let through is what its table says each end owns, so each address is checked against
 * it: the destination so that the ring delivers only what the vif would have delivered to the
 * same guest (a frame to a router's MAC for an address beyond it, or to another guest's
 * address, takes the vif); the source so that a guest sends through the ring only as itself
 * (a second address, a floating one, forwarded traffic: whatever dom0 lets through or not,
 * the vif decides).
 *
 * An address dom0 only has from the guest's own word (COKEEPER_ADDR_CLAIMED) is in the table
 * for lookups, not for this: a guest could claim its neighbour's address and have the ring
 * deliver what the vif would not.  Only the toolstack's, the orchestrator's and learned
 * addresses count as owned; frames to or from any other take the vif, where dom0 decides.
 */
#include <linux/etherdevice.h>
#include <linux/in.h>
#include <uapi/linux/cokeeper.h>

#include "accept.h"
#include "cokeeper.h"

/*
 * A lookup's answer: the key is a RUNNING member's, that member is @domid, and dom0 did not
 * take the key from the guest alone (a MAC's source is always the toolstack).  The sources
 * come in falling trust, so one added after CLAIMED is refused too until decided otherwise.
 */
static bool owned(int err, const struct cokeeper_peer *p, u32 domid)
{
	return !err && p->domid == domid && p->state == COKEEPER_STATE_RUNNING &&
	       p->addr_source <= COKEEPER_ADDR_LEARNED;
}

bool ckfp_may_carry(const struct ethhdr *eth, const struct iphdr *iph, u32 from, u32 to)
{
	struct cokeeper_peer p;

	/* Broadcast and multicast are the bridge's to deliver, whatever the table says. */
	if (iph->version != 4 || iph->ihl < 5 || !is_unicast_ether_addr(eth->h_dest) ||
	    ipv4_is_multicast(iph->daddr) || ipv4_is_lbcast(iph->daddr))
		return false;
	return owned(cokeeper_lookup_mac(eth->h_dest, &p), &p, to) &&
	       owned(cokeeper_lookup_ipv4(iph->daddr, &p), &p, to) &&
	       owned(cokeeper_lookup_mac(eth->h_source, &p), &p, from) &&
	       owned(cokeeper_lookup_ipv4(iph->saddr, &p), &p, from);
}
