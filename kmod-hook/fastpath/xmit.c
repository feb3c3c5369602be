// SPDX-License-Identifier: GPL-2.0-only
/*
 * Transmit: a netfilter egress hook on every Ethernet device takes IPv4 frames for a peer
 * whose channel is up and writes them into the ring, instead of the device's queue.
 *
 * Egress runs in __dev_queue_xmit after every IPv4 hook (conntrack's confirm and NAT
 * included), with the Ethernet header built: rules and conntrack see exactly what the vif
 * would have sent.  The frame may still be GSO and CHECKSUM_PARTIAL: the ring carries both
 * as flags, and the receiver rebuilds them.  Qdiscs and tc egress are skipped for what the
 * ring takes; packet taps (tcpdump) still see it.
 *
 * A frame to a peer without a channel asks for one (chan.h ckfp_peer_demand) and takes the
 * vif.  Whatever the ring does not take goes on to the vif, as it would without a channel: a
 * frame the receiver would not accept (accept.h), one the ring cannot carry as it is, one
 * that finds the ring broken or the ring and its queue full.  The hook drops nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/if_vlan.h>
#include <linux/ip.h>
#include <linux/netfilter.h>
#include <linux/netfilter_netdev.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>

#include "accept.h"
#include "chan.h"
#include "cokeeper.h"

/*
 * Frames waiting for ring space, per channel: at most TXQ_MAX of them, and at most
 * TXQ_RINGS rings' worth of bytes (4 MiB at the default ring_order, 1 MiB at the smallest),
 * so that 256 GSO frames do not pin 16 MiB.  A frame beyond either takes the vif.
 */
#define TXQ_MAX 256
#define TXQ_RINGS 4

struct egress_hook {
	struct list_head node;		/* under RTNL */
	struct nf_hook_ops ops;
};

static LIST_HEAD(hooks);

/* What a frame stolen at egress keeps while it waits in txq: its record header. */
struct ckfp_skb_cb {
	struct ckfp_rec_info info;
};

static struct ckfp_rec_info *skb_info(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct ckfp_skb_cb) > sizeof(skb->cb));
	return &((struct ckfp_skb_cb *)skb->cb)->info;
}

/* The channel for this frame, or NULL to leave it to the device; *iph gets its IPv4 header. */
static struct ckfp_chan *route(struct sk_buff *skb, struct iphdr *iph)
{
	const struct ethhdr *eth = eth_hdr(skb);
	struct cokeeper_peer next;
	struct ckfp_chan *c;
	struct ckfp_peer *p;

	/* A VLAN tag (offloaded or in the frame) does not travel in the ring. */
	if (skb->protocol != htons(ETH_P_IP) || skb_vlan_tag_present(skb) ||
	    is_multicast_ether_addr(eth->h_dest))
		return NULL;
	if (skb_copy_bits(skb, ETH_HLEN, iph, sizeof(*iph)))
		return NULL;
	/* The vif would hand the frame to its next hop: a peer with a channel up, or nobody. */
	if (cokeeper_lookup_mac(eth->h_dest, &next))
		return NULL;
	p = ckfp_peer_find(next.domid);
	if (!p)
		return NULL;
	c = rcu_dereference(p->chan);
	if (!c) {
		/*
		 * Channels are made on demand, by the lower domid: a frame the channel could carry
		 * asks for one (once a jiffy at most), and takes the vif meanwhile.
		 */
		if (ckfp_self() < p->domid && READ_ONCE(p->demand_at) != jiffies &&
		    ckfp_may_carry(eth, iph, ckfp_self(), p->domid))
			ckfp_peer_demand(p);
		return NULL;
	}
	/* The test the peer applies to what it receives: what it would drop takes the vif. */
	if (!ckfp_may_carry(eth, iph, ckfp_self(), p->domid)) {
		ckfp_count(p, CKFP_ST_FALLBACKS, 1);
		return NULL;
	}
	return c;
}

/* The ring's header for this frame; false if the ring cannot carry it as it is. */
static bool describe(const struct sk_buff *skb, const struct iphdr *iph,
		     struct ckfp_rec_info *info)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);
	u32 gso_ok = SKB_GSO_TCPV4 | SKB_GSO_TCP_FIXEDID | SKB_GSO_TCP_ECN;
	bool l4 = iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP;

	if (skb->len < CKFP_MIN_FRAME || skb->len > CKFP_MAX_FRAME || skb_has_frag_list(skb))
		return false;
	memset(info, 0, sizeof(*info));
	info->len = skb->len;
	if (skb->ip_summed == CHECKSUM_PARTIAL) {
		/*
		 * The receiver finds the checksum from the outer IPv4 header (skb_checksum_setup),
		 * so only a TCP or UDP checksum right after it can travel: a tunnel's inner one,
		 * or SCTP's CRC, is left to the device, which resolves it before it sends.
		 */
		if (skb->encapsulation || skb->csum_not_inet || !l4 ||
		    skb_checksum_start_offset(skb) != ETH_HLEN + iph->ihl * 4)
			return false;
		info->flags |= CKFP_REC_F_CSUM_PARTIAL;
		info->csum_start = skb_checksum_start_offset(skb);
		info->csum_off = skb->csum_offset;
	} else if (skb->ip_summed == CHECKSUM_UNNECESSARY) {
		info->flags |= CKFP_REC_F_DATA_VALID;
	}
	if (skb_is_gso(skb)) {
		/* TCP segmentation offload only; the rest (UDP GSO, tunnels) to the device. */
		if ((sh->gso_type & ~gso_ok) || !(sh->gso_type & SKB_GSO_TCPV4) ||
		    iph->protocol != IPPROTO_TCP || !(info->flags & CKFP_REC_F_CSUM_PARTIAL) ||
		    !sh->gso_size)
			return false;
		info->flags |= CKFP_REC_F_GSO_TCPV4;
		info->gso_size = sh->gso_size;
	}
	return true;
}

/* Writes one frame into the ring, under tx_lock; -ENOSPC if it does not fit yet. */
static int put(struct ckfp_chan *c, struct sk_buff *skb, const struct ckfp_rec_info *info)
{
	struct ckfp_frag frags[MAX_SKB_FRAGS + 1];
	unsigned int i, n = 0;

	frags[n++] = (struct ckfp_frag){ .base = skb->data, .len = skb_headlen(skb) };
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];

		frags[n++] = (struct ckfp_frag){ .base = skb_frag_address(f),
						 .len = skb_frag_size(f) };
	}
	return ckfp_ring_write(&c->tx, info, frags, n);
}

/* Packet taps (tcpdump) see what the ring takes, as they would have on the vif. */
static void tap(struct sk_buff *skb)
{
	if (dev_nit_active(skb->dev))
		dev_queue_xmit_nit(skb, skb->dev);
}

/* Whether txq, under tx_lock, has room for a frame of @len bytes. */
static bool txq_room(const struct ckfp_chan *c, u32 len)
{
	return skb_queue_len(&c->txq) < TXQ_MAX &&
	       c->txq_bytes + len <= TXQ_RINGS * c->tx.size;
}

/* Publishes what was written, under tx_lock; it now waits for the peer (ckfp_chan_sent). */
static void kick(struct ckfp_chan *c, int err)
{
	bool notify = false;

	if (!err)
		err = ckfp_ring_publish(&c->tx, &notify);
	if (err == -EPROTO) {
		WRITE_ONCE(c->broken, true);
		ckfp_chan_fault(c);
		return;
	}
	if (notify)
		ckfp_chan_notify(c);
	ckfp_chan_sent(c);
}

/* From NAPI once the ring has room: queued frames, in order, as far as they fit. */
void ckfp_chan_txq_drain(struct ckfp_chan *c)
{
	struct ckfp_rec_info *info;
	struct sk_buff *skb;
	bool wrote = false, fits;
	int err = 0;

	spin_lock_bh(&c->tx_lock);
	while ((skb = skb_peek(&c->txq))) {
		info = skb_info(skb);	/* described when it was queued */
		err = put(c, skb, info);
		if (err == -ENOSPC) {
			err = ckfp_ring_prod_arm(&c->tx, info->len, &fits);
			if (!err && fits)
				continue;
			break;
		}
		if (err == -EPROTO)
			break;
		__skb_unlink(skb, &c->txq);
		c->txq_bytes -= info->len;
		if (err) {
			/* The ring refuses this frame for good: drop it, not the queue behind it. */
			ckfp_count(c->peer, CKFP_ST_TX_DROPS, 1);
			kfree_skb(skb);
			continue;
		}
		wrote = true;
		ckfp_chan_used(c);
		ckfp_count(c->peer, CKFP_ST_TX_PACKETS, 1);
		ckfp_count(c->peer, CKFP_ST_TX_BYTES, skb->len);
		dev_consume_skb_any(skb);
	}
	if (wrote || err == -EPROTO)
		kick(c, err == -EPROTO ? err : 0);
	spin_unlock_bh(&c->tx_lock);
}

static unsigned int egress(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	struct ckfp_rec_info info;
	struct ckfp_chan *c;
	struct iphdr iph;
	bool fits;
	int err;

	if (!READ_ONCE(ckfp_enable))
		return NF_ACCEPT;
	c = route(skb, &iph);	/* the hook runs under rcu_read_lock() */
	if (!c)
		return NF_ACCEPT;
	if (READ_ONCE(c->broken))
		goto to_vif;
	if (!describe(skb, &iph, &info)) {
		ckfp_count(c->peer, CKFP_ST_FALLBACKS, 1);
		return NF_ACCEPT;
	}

	spin_lock_bh(&c->tx_lock);
	err = skb_queue_empty(&c->txq) ? put(c, skb, &info) : -ENOSPC;
	if (!err) {
		kick(c, 0);
		spin_unlock_bh(&c->tx_lock);
		tap(skb);
		ckfp_chan_used(c);
		ckfp_count(c->peer, CKFP_ST_TX_PACKETS, 1);
		ckfp_count(c->peer, CKFP_ST_TX_BYTES, skb->len);
		consume_skb(skb);
		return NF_STOLEN;
	}
	if (err == -ENOSPC && txq_room(c, info.len)) {
		/* Once queued NAPI may free it at any time: the taps see it first. */
		tap(skb);
		/* Kept in order behind the others; NAPI writes it once the peer makes room. */
		*skb_info(skb) = info;
		__skb_queue_tail(&c->txq, skb);
		c->txq_bytes += info.len;
		ckfp_chan_sent(c);
		err = ckfp_ring_prod_arm(&c->tx, info.len, &fits);
		spin_unlock_bh(&c->tx_lock);
		if (err || fits)
			napi_schedule(&c->napi);
		return NF_STOLEN;
	}
	if (err == -EPROTO)
		kick(c, err);
	spin_unlock_bh(&c->tx_lock);
to_vif:
	/*
	 * The ring is broken, or it and the queue are full: the vif carries the frame, as it
	 * would without a channel.  The frames already queued keep their order among
	 * themselves, but this one may overtake them: a reorder, which TCP absorbs, is better
	 * than a loss.  (Taps see it once, on the vif's own path.)
	 */
	ckfp_count(c->peer, CKFP_ST_TX_TO_VIF, 1);
	return NF_ACCEPT;
}

/*
 * Only the guest's vifs (netfront: a device on the "xen" bus whose driver is "vif"): a
 * bridge, VLAN or tunnel device on top sends through them anyway, and its own frames
 * (tags, inner headers) must not be lifted out of it.
 */
static bool hooked_kind(const struct net_device *dev)
{
	const struct device *parent = dev->dev.parent;

	return dev->type == ARPHRD_ETHER && net_eq(dev_net(dev), &init_net) && parent &&
	       parent->bus && !strcmp(parent->bus->name, "xen") && parent->driver &&
	       !strcmp(parent->driver->name, "vif");
}

static int hook_add(struct net_device *dev)
{
	struct egress_hook *h = kzalloc(sizeof(*h), GFP_KERNEL);
	int err;

	if (!h)
		return -ENOMEM;
	h->ops = (struct nf_hook_ops){
		.hook = egress,
		.dev = dev,
		.pf = NFPROTO_NETDEV,
		.hooknum = NF_NETDEV_EGRESS,
		/* Last: every other egress hook (a user's rules) sees the frame first. */
		.priority = INT_MAX,
	};
	err = nf_register_net_hook(dev_net(dev), &h->ops);
	if (err) {
		kfree(h);
		return err;
	}
	list_add(&h->node, &hooks);
	return 0;
}

static void hook_del(struct net_device *dev)
{
	struct egress_hook *h, *tmp;

	list_for_each_entry_safe(h, tmp, &hooks, node) {
		if (dev && h->ops.dev != dev)
			continue;
		nf_unregister_net_hook(dev_net(h->ops.dev), &h->ops);
		list_del(&h->node);
		kfree(h);
	}
}

static int on_netdev(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	int err;

	/* Whatever the device has become since, its hook goes with it. */
	if (event == NETDEV_UNREGISTER) {
		hook_del(dev);
		return NOTIFY_DONE;
	}
	if (!hooked_kind(dev))
		return NOTIFY_DONE;
	if (event == NETDEV_REGISTER) {
		err = hook_add(dev);
		if (err)
			pr_warn("%s: no egress hook (%d): its traffic takes the usual path\n",
				dev->name, err);
	}
	return NOTIFY_DONE;
}

static struct notifier_block netdev_nb = { .notifier_call = on_netdev };

int ckfp_xmit_init(void)
{
	/* Replays NETDEV_REGISTER for the devices that exist already. */
	return register_netdevice_notifier(&netdev_nb);
}

void ckfp_xmit_exit(void)
{
	/* Replays NETDEV_UNREGISTER, which removes every hook; what is left is a bug's. */
	unregister_netdevice_notifier(&netdev_nb);
	rtnl_lock();
	WARN_ON(!list_empty(&hooks));
	hook_del(NULL);
	rtnl_unlock();
	/* nf_unregister_net_hook frees its entries after a grace period and does not wait for
	 * it: a hook still running may hold a peer, which the caller frees next. */
	synchronize_net();
}
