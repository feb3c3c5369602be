// SPDX-License-Identifier: GPL-2.0-only
/*
 * Receive: NAPI copies each record out of the ring into a new skb and injects it on the
 * device the frame is addressed to, as if it had arrived there.  Everything is parsed on the
 * private copy, never in shared memory.  The channel skips dom0's anti-spoofing on the vif,
 * so each frame passes the sender's own test again (accept.h), with the channel's peer as the
 * sender: what fails it, the peer should never have put on the ring, and it is dropped.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/skbuff.h>
#include <net/page_pool.h>

#include "accept.h"
#include "chan.h"

/*
 * A frame up to RX_LINEAR_MAX is copied into the skb's head; a larger one gets RX_HEAD bytes
 * of head (the headers, so GRO and the stack find them linear) and the rest in page
 * fragments of up to 2^RX_FRAG_ORDER pages: a 64 KiB GSO frame takes two allocations, not
 * sixteen, and a fragment is never much larger than what it holds (its truesize is charged
 * to the receiving socket).
 *
 * The full-size fragments come from the channel's page pool, and go back to it when the
 * stack frees them: a page the kernel hands out new is zeroed first (Debian's kernels
 * have init_on_alloc on), which for a stream cost as much CPU as copying the frame out of
 * the ring (perf in the lab's guests: clear_page_erms 6.9% of the receiver's samples,
 * ckfp_ring_copy 2.3%).  A recycled page is not zeroed again: the copy fills what the
 * stack reads.  (chan.c makes the pool with the channel's NAPI, and destroys it after.)
 */
#define RX_LINEAR_MAX 2048U
#define RX_HEAD 256U
#define RX_FRAG_ORDER CKFP_RX_POOL_ORDER

/*
 * A page for @want more bytes: the pool's when @want fills most of one (a smaller fragment
 * would be charged the pool page's whole truesize), else the smallest order that holds it.
 */
static struct page *frag_page(struct ckfp_chan *c, u32 want, unsigned int *order)
{
	struct page *pg;

	if (want > (PAGE_SIZE << RX_FRAG_ORDER) / 2) {
		*order = RX_FRAG_ORDER;
		pg = page_pool_dev_alloc_pages(c->rx_pool);
		if (pg)
			return pg;
	}
	for (*order = min_t(unsigned int, get_order(want), RX_FRAG_ORDER); *order; (*order)--) {
		pg = alloc_pages(GFP_ATOMIC | __GFP_COMP | __GFP_NOWARN | __GFP_NORETRY, *order);
		if (pg)
			return pg;
	}
	return alloc_page(GFP_ATOMIC | __GFP_NOWARN);
}

static struct sk_buff *copy_out(struct ckfp_chan *c, const struct ckfp_rec_info *info)
{
	u32 head = info->len <= RX_LINEAR_MAX ? info->len : RX_HEAD, off = head;
	struct sk_buff *skb;

	skb = napi_alloc_skb(&c->napi, head);
	if (!skb)
		return NULL;
	/*
	 * Every skb of the channel, pool pages or not: freed, each of its pages goes back to
	 * the pool it came from, if any.  Marking them all keeps GRO and TCP's coalescing from
	 * moving a pool page into an skb that would free it as an ordinary one.
	 */
	skb_mark_for_recycle(skb);
	if (ckfp_ring_copy(&c->rx, 0, skb_put(skb, head), head))
		goto fail;
	while (off < info->len) {
		unsigned int order;
		struct page *pg;
		u32 n;

		if (skb_shinfo(skb)->nr_frags >= MAX_SKB_FRAGS)
			goto fail;
		pg = frag_page(c, info->len - off, &order);
		if (!pg)
			goto fail;
		n = min_t(u32, info->len - off, PAGE_SIZE << order);
		skb_add_rx_frag(skb, skb_shinfo(skb)->nr_frags, pg, 0, n, PAGE_SIZE << order);
		if (ckfp_ring_copy(&c->rx, off, page_address(pg), n))
			goto fail;
		off += n;
	}
	return skb;
fail:
	kfree_skb(skb);
	return NULL;
}

/*
 * The device whose MAC @dest is (one of this guest's own, per the table): the one this channel
 * delivered to last, found again only when it went away or its address changed, so a frame
 * costs a lookup by index, not a walk of every device.  NAPI polls a channel on one CPU at a
 * time, so rx_ifindex needs no lock.  An index, unlike a pointer, holds nothing: a device
 * gone is not found, and one that took the index over is not ours unless its MAC is.
 *
 * init_net only, as the egress hook (xmit.c hooked_kind): a vif moved to another namespace
 * sends nothing through a channel either, and a device there could be found again only
 * through a reference on its namespace, which NAPI cannot take or drop safely.
 */
static struct net_device *rx_dev(struct ckfp_chan *c, const u8 *dest)
{
	struct net_device *dev = NULL;

	if (c->rx_ifindex)
		dev = dev_get_by_index_rcu(&init_net, c->rx_ifindex);
	if (dev && ether_addr_equal(dev->dev_addr, dest))
		return dev;
	dev = dev_getbyhwaddr_rcu(&init_net, ARPHRD_ETHER, dest);
	c->rx_ifindex = dev ? dev->ifindex : 0;
	return dev;
}

/* Takes the frame as the device's own, or says why not (the caller drops it). */
static bool admit(struct ckfp_chan *c, struct sk_buff *skb, const struct ckfp_rec_info *info)
{
	const struct ethhdr *eth = (const struct ethhdr *)skb->data;
	const struct iphdr *iph = (const struct iphdr *)(skb->data + ETH_HLEN);
	struct net_device *dev;

	/* A record is at least CKFP_MIN_FRAME bytes, all in the head (copy_out). */
	BUILD_BUG_ON(RX_HEAD < ETH_HLEN + sizeof(*iph));
	if (skb_headlen(skb) < ETH_HLEN + sizeof(*iph) || eth->h_proto != htons(ETH_P_IP))
		return false;
	/* Before the device: a frame to an address that is not ours costs no lookup of one. */
	if (!ckfp_may_carry(eth, iph, c->peer->domid, ckfp_self()))
		return false;
	dev = rx_dev(c, eth->h_dest);
	if (!dev || !(dev->flags & IFF_UP))
		return false;
	skb->protocol = eth_type_trans(skb, dev);
	if (skb->protocol != htons(ETH_P_IP) || skb->pkt_type != PACKET_HOST)
		return false;
	skb_reset_network_header(skb);
	if (info->flags & CKFP_REC_F_CSUM_PARTIAL) {
		/* As netfront: the stack finds the checksum's place itself, not from the peer. */
		skb->ip_summed = CHECKSUM_PARTIAL;
		if (skb_checksum_setup(skb, false))
			return false;
	} else if (info->flags & CKFP_REC_F_DATA_VALID) {
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	}
	if (info->flags & CKFP_REC_F_GSO_TCPV4) {
		if (!(info->flags & CKFP_REC_F_CSUM_PARTIAL) || ip_hdr(skb)->protocol != IPPROTO_TCP ||
		    info->gso_size >= skb->len)
			return false;
		skb_shinfo(skb)->gso_size = info->gso_size;
		skb_shinfo(skb)->gso_type = SKB_GSO_TCPV4 | SKB_GSO_DODGY;
		skb_shinfo(skb)->gso_segs = 0;
	} else if (info->flags & CKFP_REC_F_GSO) {
		return false;
	}
	return true;
}

int ckfp_chan_poll(struct napi_struct *napi, int budget)
{
	struct ckfp_chan *c = container_of(napi, struct ckfp_chan, napi);
	struct ckfp_rec_info info;
	bool kick = false, notify, pending;
	struct sk_buff *skb;
	int done = 0, err = 0;

	/* The offerer reads nothing before the acceptor's ACCEPT: ckfp_peer_accepted kicks us. */
	if (rcu_access_pointer(c->peer->chan) != c) {
		napi_complete_done(napi, 0);
		return 0;
	}
	while (done < budget) {
		err = ckfp_ring_peek(&c->rx, &info);
		if (err)
			break;
		skb = copy_out(c, &info);
		err = ckfp_ring_release(&c->rx, &notify);
		kick |= notify;
		if (err) {
			kfree_skb(skb);
			break;
		}
		done++;
		if (skb && admit(c, skb, &info)) {
			ckfp_chan_used(c);
			ckfp_count(c->peer, CKFP_ST_RX_PACKETS, 1);
			ckfp_count(c->peer, CKFP_ST_RX_BYTES, info.len);
			napi_gro_receive(napi, skb);
		} else {
			ckfp_count(c->peer, CKFP_ST_RX_DROPS, 1);
			kfree_skb(skb);
		}
	}
	if (kick)
		ckfp_chan_notify(c);
	if (err == -EPROTO || ckfp_ring_broken(&c->tx)) {
		WRITE_ONCE(c->broken, true);
		ckfp_chan_fault(c);
		/* With a full budget the core polls again; that poll completes. */
		if (done < budget)
			napi_complete_done(napi, done);
		return done;
	}
	if (le32_to_cpu(READ_ONCE(c->rx.peer->closing))) {
		WRITE_ONCE(c->peer_closing, true);
		ckfp_chan_fault(c);
	}
	/* The peer may have made room for what waits in txq. */
	if (!skb_queue_empty_lockless(&c->txq))
		ckfp_chan_txq_drain(c);
	if (done < budget && napi_complete_done(napi, done)) {
		/* Ask for an event on the next record, then look once more: none is lost. */
		if (!ckfp_ring_cons_arm(&c->rx, &pending) && pending)
			napi_schedule(napi);
	}
	return done;
}
