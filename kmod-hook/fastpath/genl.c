// SPDX-License-Identifier: GPL-2.0-only
/*
 * The genl family "cokeeper_fp": what the module asks the agent to relay (multicast), what
 * the agent relays back (admin commands), and the per-peer state and counters (GET).
 * Attribute types and ranges are checked by the policy; what depends on two attributes
 * (the number of grant references for a ring order) is checked here, once.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <net/genetlink.h>
#include <uapi/linux/cokeeper.h>
#include <uapi/linux/cokeeper_fp.h>

#include "chan.h"
#include "genl.h"

static struct genl_family family;

static const struct nla_policy policy[CKFP_A_MAX + 1] = {
	[CKFP_A_PEER_DOMID] = NLA_POLICY_MAX(NLA_U32, COKEEPER_DOMID_LIMIT - 1),
	[CKFP_A_CHANNEL_ID] = { .type = NLA_U64 },
	[CKFP_A_RING_VERSION] = NLA_POLICY_RANGE(NLA_U32, CKFP_RING_VERSION, CKFP_RING_VERSION),
	[CKFP_A_RING_ORDER] = NLA_POLICY_RANGE(NLA_U32, CKFP_RING_ORDER_MIN, CKFP_RING_ORDER_MAX),
	[CKFP_A_EVTCHN] = { .type = NLA_U32 },
	[CKFP_A_GREFS] = { .type = NLA_BINARY, .len = 4 * CKFP_GREFS_MAX },
	[CKFP_A_REASON] = NLA_POLICY_MAX(NLA_U32, CKFP_CLOSE_MAX),
};

/* 0 if the request carries the attribute, else -EINVAL with a message naming it. */
#define need(info, attr, msg) ({				\
	int __err = 0;						\
	if (!(info)->attrs[attr]) {				\
		NL_SET_ERR_MSG((info)->extack, msg);		\
		__err = -EINVAL;				\
	}							\
	__err;							\
})

static int offer_doit(struct sk_buff *skb, struct genl_info *info)
{
	u32 order, *grefs;
	int err;

	err = need(info, CKFP_A_PEER_DOMID, "missing CKFP_A_PEER_DOMID") ?:
	      need(info, CKFP_A_CHANNEL_ID, "missing CKFP_A_CHANNEL_ID") ?:
	      need(info, CKFP_A_RING_VERSION, "missing CKFP_A_RING_VERSION") ?:
	      need(info, CKFP_A_RING_ORDER, "missing CKFP_A_RING_ORDER") ?:
	      need(info, CKFP_A_EVTCHN, "missing CKFP_A_EVTCHN") ?: need(info, CKFP_A_GREFS, "missing CKFP_A_GREFS");
	if (err)
		return err;
	order = nla_get_u32(info->attrs[CKFP_A_RING_ORDER]);
	if (nla_len(info->attrs[CKFP_A_GREFS]) != 4 * CKFP_GREFS(order)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKFP_A_GREFS],
				    "GREFS must hold 1 + 2 * 2^RING_ORDER u32 references");
		return -EINVAL;
	}
	/* A private copy: the message is not ours to keep, and it must be read once. */
	grefs = kmemdup(nla_data(info->attrs[CKFP_A_GREFS]), 4 * CKFP_GREFS(order), GFP_KERNEL);
	if (!grefs)
		return -ENOMEM;
	err = ckfp_peer_offered(nla_get_u32(info->attrs[CKFP_A_PEER_DOMID]),
				nla_get_u64(info->attrs[CKFP_A_CHANNEL_ID]), order,
				nla_get_u32(info->attrs[CKFP_A_EVTCHN]), grefs);
	kfree(grefs);
	return err;
}

static int accept_doit(struct sk_buff *skb, struct genl_info *info)
{
	int err = need(info, CKFP_A_PEER_DOMID, "missing CKFP_A_PEER_DOMID") ?:
		  need(info, CKFP_A_CHANNEL_ID, "missing CKFP_A_CHANNEL_ID");

	return err ?: ckfp_peer_accepted(nla_get_u32(info->attrs[CKFP_A_PEER_DOMID]),
					 nla_get_u64(info->attrs[CKFP_A_CHANNEL_ID]));
}

static int close_doit(struct sk_buff *skb, struct genl_info *info)
{
	int err = need(info, CKFP_A_PEER_DOMID, "missing CKFP_A_PEER_DOMID") ?:
		  need(info, CKFP_A_CHANNEL_ID, "missing CKFP_A_CHANNEL_ID");
	u32 reason = CKFP_CLOSE_UNSPEC;

	if (err)
		return err;
	if (info->attrs[CKFP_A_REASON])
		reason = nla_get_u32(info->attrs[CKFP_A_REASON]);
	return ckfp_peer_closed(nla_get_u32(info->attrs[CKFP_A_PEER_DOMID]),
				nla_get_u64(info->attrs[CKFP_A_CHANNEL_ID]), reason);
}

static int put_peer(struct sk_buff *msg, struct ckfp_peer *p)
{
	struct ckfp_chan *c = rcu_dereference_protected(p->chan, lockdep_is_held(&ckfp_lock));
	struct nlattr *nest;
	int i;

	c = c ?: p->setup;
	if (nla_put_u32(msg, CKFP_A_PEER_DOMID, p->domid) ||
	    nla_put_u8(msg, CKFP_A_STATE, p->state) ||
	    nla_put_u64_64bit(msg, CKFP_A_CHANNEL_ID, c ? c->id : 0, CKFP_A_PAD) ||
	    nla_put_u8(msg, CKFP_A_WHY, ckfp_peer_why(p)))
		return -EMSGSIZE;
	nest = nla_nest_start(msg, CKFP_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	BUILD_BUG_ON(CKFP_STAT_A_TX_PACKETS + CKFP_ST_COUNT != CKFP_STAT_A_PAD);
	for (i = 0; i < CKFP_ST_COUNT; i++)
		if (nla_put_u64_64bit(msg, CKFP_STAT_A_TX_PACKETS + i,
				      atomic64_read(&p->stats[i]), CKFP_STAT_A_PAD))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

struct dump_ctx {
	struct sk_buff *skb;
	struct netlink_callback *cb;
	unsigned int n;
};

static int dump_one(struct ckfp_peer *p, void *arg)
{
	struct dump_ctx *d = arg;
	void *hdr;

	/* Peers that left and never had traffic are history, not state. */
	if (!p->member && p->state == CKFP_STATE_IDLE &&
	    !atomic64_read(&p->stats[CKFP_ST_SETUPS]))
		return 0;
	hdr = genlmsg_put(d->skb, NETLINK_CB(d->cb->skb).portid, d->cb->nlh->nlmsg_seq, &family,
			  NLM_F_MULTI, CKFP_CMD_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (put_peer(d->skb, p)) {
		genlmsg_cancel(d->skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(d->skb, hdr);
	d->n++;
	return 0;
}

static int get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_ctx d = { .skb = skb, .cb = cb };
	unsigned long pos = cb->args[0];
	int err;

	if (cb->args[1])
		return 0;
	err = ckfp_peer_walk(&pos, dump_one, &d);
	cb->args[0] = pos;
	if (err == -EMSGSIZE && d.n)
		return skb->len;	/* the rest in the next message */
	if (err)
		return err;
	cb->args[1] = 1;
	return skb->len;
}

struct get_ctx {
	u32 domid;
	struct sk_buff *msg;
	struct genl_info *info;
	int err;
};

static int get_one(struct ckfp_peer *p, void *arg)
{
	struct get_ctx *g = arg;
	void *hdr;

	if (p->domid != g->domid)
		return 0;
	hdr = genlmsg_put_reply(g->msg, g->info, &family, 0, CKFP_CMD_GET);
	g->err = hdr ? put_peer(g->msg, p) : -EMSGSIZE;
	if (!g->err)
		genlmsg_end(g->msg, hdr);
	return 1;
}

static int get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct get_ctx g = { .info = info, .err = -ENOENT };
	unsigned long pos;
	int err = need(info, CKFP_A_PEER_DOMID, "missing CKFP_A_PEER_DOMID");

	if (err)
		return err;
	g.domid = nla_get_u32(info->attrs[CKFP_A_PEER_DOMID]);
	pos = g.domid;
	g.msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!g.msg)
		return -ENOMEM;
	ckfp_peer_walk(&pos, get_one, &g);
	if (g.err) {
		nlmsg_free(g.msg);
		return g.err;
	}
	return genlmsg_reply(g.msg, info);
}

static const struct genl_ops ops[] = {
	{ .cmd = CKFP_CMD_OFFER, .doit = offer_doit, .flags = GENL_ADMIN_PERM },
	{ .cmd = CKFP_CMD_ACCEPT, .doit = accept_doit, .flags = GENL_ADMIN_PERM },
	{ .cmd = CKFP_CMD_CLOSE, .doit = close_doit, .flags = GENL_ADMIN_PERM },
	{ .cmd = CKFP_CMD_GET, .doit = get_doit, .dumpit = get_dumpit },
};

/* Offers name grant references: only the agent (CAP_NET_ADMIN) listens. */
static const struct genl_multicast_group mcgrps[] = {
	{ .name = CKFP_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family family __ro_after_init = {
	.name = CKFP_GENL_NAME,
	.version = CKFP_GENL_VERSION,
	.maxattr = CKFP_A_MAX,
	.policy = policy,
	.netnsok = false,
	.module = THIS_MODULE,
	.ops = ops,
	.n_ops = ARRAY_SIZE(ops),
	.mcgrps = mcgrps,
	.n_mcgrps = ARRAY_SIZE(mcgrps),
};

static void multicast(u8 cmd, u32 peer, u64 id, const struct ckfp_chan *c, u32 reason)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(c ? nla_total_size(4 * c->shm.npages) + 256 : 128, GFP_KERNEL);
	if (!msg)
		goto fail;
	hdr = genlmsg_put(msg, 0, 0, &family, 0, cmd);
	if (!hdr || nla_put_u32(msg, CKFP_A_PEER_DOMID, peer) ||
	    nla_put_u64_64bit(msg, CKFP_A_CHANNEL_ID, id, CKFP_A_PAD))
		goto free;
	if (c && (nla_put_u32(msg, CKFP_A_RING_VERSION, CKFP_RING_VERSION) ||
		  nla_put_u32(msg, CKFP_A_RING_ORDER, c->shm.order) ||
		  nla_put_u32(msg, CKFP_A_EVTCHN, c->shm.port) ||
		  nla_put(msg, CKFP_A_GREFS, 4 * c->shm.npages, c->shm.grefs)))
		goto free;
	if (cmd == CKFP_CMD_CLOSE && nla_put_u32(msg, CKFP_A_REASON, reason))
		goto free;
	genlmsg_end(msg, hdr);
	/* -ESRCH: no agent listens; the set-up times out and is retried. */
	genlmsg_multicast(&family, msg, 0, 0, GFP_KERNEL);
	return;
free:
	nlmsg_free(msg);
fail:
	pr_warn_ratelimited("cannot tell the agent about domain %u's channel\n", peer);
}

static void tell_offer(u32 peer, const struct ckfp_chan *c)
{
	multicast(CKFP_CMD_OFFER, peer, c->id, c, 0);
}

static void tell_accept(u32 peer, u64 id)
{
	multicast(CKFP_CMD_ACCEPT, peer, id, NULL, 0);
}

static void tell_close(u32 peer, u64 id, u32 reason)
{
	multicast(CKFP_CMD_CLOSE, peer, id, NULL, reason);
}

const struct ckfp_tell_ops ckfp_genl_tell = {
	.offer = tell_offer,
	.accept = tell_accept,
	.close = tell_close,
};

int ckfp_genl_init(void)
{
	return genl_register_family(&family);
}

void ckfp_genl_exit(void)
{
	genl_unregister_family(&family);
}
