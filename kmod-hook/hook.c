// SPDX-License-Identifier: GPL-2.0-only
/*
 * The LOCAL_OUT netfilter hooks: count what this guest sends to co-resident peers and, if
 * the mark parameter is set, mark it so that policy routing (ip rule fwmark) can steer it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/moduleparam.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/net_namespace.h>
#include <net/route.h>

#include "hook.h"

static unsigned int mark;
module_param(mark, uint, 0644);
MODULE_PARM_DESC(mark, "skb->mark for unmarked packets to co-resident peers (0: off)");

static struct ck_store *store __read_mostly;

/* Counts the peer's packets as the wire will: a GSO packet is gso_segs of them. */
static void count(const struct ck_entry *e, const struct sk_buff *skb)
{
	unsigned int segs = skb_is_gso(skb) ? max_t(u16, skb_shinfo(skb)->gso_segs, 1) : 1;

	ck_entry_count_tx(e, segs, skb->len);
}

/*
 * Marks only packets nobody marked before (SO_MARK, iptables): an explicit mark is a
 * deliberate routing decision that a co-residence hint must not override.  Then routes
 * again, as iptables' mangle table does, since the route was chosen before the mark.
 */
static bool apply_mark(struct sk_buff *skb)
{
	u32 m = READ_ONCE(mark);

	if (!m || skb->mark)
		return false;
	skb->mark = m;
	return true;
}

static unsigned int hook_ipv4(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	const struct ck_entry *e;
	int err;

	/* Raw sockets with IP_HDRINCL can hand us anything. */
	if (skb->len < sizeof(struct iphdr) || ip_hdrlen(skb) < sizeof(struct iphdr))
		return NF_ACCEPT;
	/* Netfilter runs hooks inside rcu_read_lock(). */
	e = ck_table_find(store, ck_store_table(store), CK_KEY_IP4, &ip_hdr(skb)->daddr);
	if (!e)
		return NF_ACCEPT;
	count(e, skb);
	if (apply_mark(skb)) {
		err = ip_route_me_harder(state->net, state->sk, skb, RTN_UNSPEC);
		if (err < 0) {
			net_dbg_ratelimited("IPv4 reroute with mark %#x failed: %d\n", skb->mark, err);
			return NF_DROP_ERR(err);
		}
	}
	return NF_ACCEPT;
}

static unsigned int hook_ipv6(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	const struct ck_entry *e;
	int err;

	if (skb->len < sizeof(struct ipv6hdr))
		return NF_ACCEPT;
	e = ck_table_find(store, ck_store_table(store), CK_KEY_IP6, &ipv6_hdr(skb)->daddr);
	if (!e)
		return NF_ACCEPT;
	count(e, skb);
	if (apply_mark(skb)) {
		err = nf_ip6_route_me_harder(state->net, state->sk, skb);
		if (err < 0) {
			net_dbg_ratelimited("IPv6 reroute with mark %#x failed: %d\n", skb->mark, err);
			return NF_DROP_ERR(err);
		}
	}
	return NF_ACCEPT;
}

/* After mangle, so that marks set by the administrator's rules are already there to see. */
static const struct nf_hook_ops hook_ops[] = {
	{
		.hook = hook_ipv4,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_MANGLE + 1,
	},
	{
		.hook = hook_ipv6,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_MANGLE + 1,
	},
};

/* Every namespace's traffic may go to a peer: the table is the guest's, not a namespace's. */
static int __net_init hook_net_init(struct net *net)
{
	return nf_register_net_hooks(net, hook_ops, ARRAY_SIZE(hook_ops));
}

static void __net_exit hook_net_exit(struct net *net)
{
	nf_unregister_net_hooks(net, hook_ops, ARRAY_SIZE(hook_ops));
}

static struct pernet_operations hook_net_ops = {
	.init = hook_net_init,
	.exit = hook_net_exit,
};

int ck_hook_init(struct ck_store *s)
{
	store = s;
	return register_pernet_subsys(&hook_net_ops);
}

void ck_hook_exit(void)
{
	unregister_pernet_subsys(&hook_net_ops);
}
