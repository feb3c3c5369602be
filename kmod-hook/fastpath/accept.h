/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a channel may carry: one test, which the sender applies before a frame takes the ring
 * (anything else takes the vif) and the receiver applies again before it delivers one
 * (anything else was the peer breaking the rules, and is dropped).  One function on both ends,
 * so a frame the sender hands the ring is never one the receiver throws away.
 */
#ifndef _CKFP_ACCEPT_H
#define _CKFP_ACCEPT_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/types.h>

/*
 * Whether a frame with these Ethernet and IPv4 headers goes from domain @from to domain @to
 * over their channel: a unicast IPv4 packet whose destination MAC and address are both @to's
 * in cokeeper's table, and whose source MAC and address are both @from's, both RUNNING, and
 * neither address one that dom0 has only from the guest's claim (COKEEPER_ADDR_CLAIMED).
 * Under rcu_read_lock() or in softirq (the table's lookups are lock-free).
 */
bool ckfp_may_carry(const struct ethhdr *eth, const struct iphdr *iph, u32 from, u32 to);

#endif /* _CKFP_ACCEPT_H */
