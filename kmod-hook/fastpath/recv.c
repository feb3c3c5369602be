// SPDX-License-Identifier: GPL-2.0-only
/*
 * Receive: NAPI copies each record out of the ring into a new skb and injects it on the
 * device the frame is addressed to, as if it had arrived there.  Everything is parsed on the
 * private copy, never in shared memory.  The channel skips dom0's anti-spoofing on the vif,
 * so the source is checked against the table: the sender's MAC and IPv4 address must both
 * be the channel's peer's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/skbuff.h>

#include "chan.h"
#include "cokeeper.h"

/*
 * A frame up to RX_LINEAR_MAX is copied into the skb's head; a larger one gets RX_HEAD bytes
 * of head (the headers, so GRO and the stack find them linear) and the rest in page
 * fragments of up to 2^RX_FRAG_ORDER pages: a 64 KiB GSO frame takes two allocations, not
 * sixteen, and a fragment is never much larger than what it holds (its truesize is charged
 * to the receiving socket).
 */
#define RX_LINEAR_MAX 2048U
#define RX_HEAD 256U
#define RX_FRAG_ORDER 3U

static struct page *frag_page(u32 want, unsigned int *order)
{
	struct page *pg;

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
	if (ckfp_ring_copy(&c->rx, 0, skb_put(skb, head), head))
		goto fail;
	while (off < info->len) {
		unsigned int order;
		struct page *pg;
		u32 n;

		if (skb_shinfo(skb)->nr_frags >= MAX_SKB_FRAGS)
			goto fail;
		pg = frag_page(info->len - off, &order);
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

/* Takes the frame as the device's own, or says why not (the caller drops it). */
static bool admit(struct ckfp_chan *c, struct sk_buff *skb, const struct ckfp_rec_info *info)
{
	const struct ethhdr *eth = (const struct ethhdr *)skb->data;
	struct cokeeper_peer src;
	const struct iphdr *iph;
	struct net_device *dev;

	/* To this guest's own vif, as dom0 knows it: the peer picks no other device. */
	if (cokeeper_lookup_mac(eth->h_dest, &src) || src.domid != ckfp_self())
		return false;
	dev = dev_getbyhwaddr_rcu(&init_net, ARPHRD_ETHER, eth->h_dest);
	if (!dev || !(dev->flags & IFF_UP))
		return false;
	if (cokeeper_lookup_mac(eth->h_source, &src) || src.domid != c->peer->domid)
		return false;
	skb->protocol = eth_type_trans(skb, dev);
	if (skb->protocol != htons(ETH_P_IP) || skb->pkt_type != PACKET_HOST)
		return false;
	if (!pskb_may_pull(skb, sizeof(*iph)))
		return false;
	skb_reset_network_header(skb);
	iph = ip_hdr(skb);
	if (cokeeper_lookup_ipv4(iph->saddr, &src) || src.domid != c->peer->domid)
		return false;
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
