// SPDX-License-Identifier: GPL-2.0-only
/*
 * The generic netlink family "cokeeper" (include/uapi/linux/cokeeper.h): policies, request
 * parsing, replies, paged dumps and the "events" notifications.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <net/genetlink.h>

#include "netlink.h"
#include "policy.h"

enum { MCGRP_EVENTS };

static struct ck_store *store __read_mostly;
static struct genl_family family;

/* The most a member can take in a message: every limit reached. */
static size_t member_size(void)
{
	size_t addrs = COKEEPER_ADDRS_MAX * (nla_total_size(sizeof(struct in_addr)) +
					     nla_total_size(sizeof(struct in6_addr)));
	size_t nic = nla_total_size(0) + nla_total_size(ETH_ALEN) + addrs +
		     nla_total_size(2 * COKEEPER_ADDRS_MAX);

	return nla_total_size(0) + nla_total_size(sizeof(u32)) +
	       nla_total_size(COKEEPER_UUID_LEN) + nla_total_size(COKEEPER_NAME_MAX + 1) +
	       nla_total_size(sizeof(u8)) + COKEEPER_NICS_MAX * nic +
	       2 * nla_total_size_64bit(sizeof(u64));
}

static size_t gen_size(void)
{
	return 2 * nla_total_size_64bit(sizeof(u64));
}

static int put_gen(struct sk_buff *skb, u64 epoch, u64 gen)
{
	if (nla_put_u64_64bit(skb, COKEEPER_A_EPOCH, epoch, COKEEPER_A_PAD) ||
	    nla_put_u64_64bit(skb, COKEEPER_A_GEN, gen, COKEEPER_A_PAD))
		return -EMSGSIZE;
	return 0;
}

/*
 * A NIC's SOURCES, from its n address keys k: only when one of them is not the toolstack's,
 * as agents write them, so a table without sources dumps as it did before them.
 */
static int put_sources(struct sk_buff *skb, const struct ck_key *k, unsigned int n)
{
	u8 src[2 * COKEEPER_ADDRS_MAX];
	bool any = false;
	unsigned int i;

	for (i = 0; i < n; i++) {
		src[i] = k[i].source;
		any |= src[i] != COKEEPER_ADDR_TOOLSTACK;
	}
	return any ? nla_put(skb, COKEEPER_NIC_A_SOURCES, n, src) : 0;
}

/* Caller holds rcu_read_lock() or the writer lock. */
static int put_entry(struct sk_buff *skb, const struct ck_entry *e, bool with_tx)
{
	const struct ck_key *k = e->keys, *addrs;
	struct nlattr *member, *nic;
	u64 packets, bytes;
	unsigned int i, j;

	member = nla_nest_start(skb, COKEEPER_A_MEMBER);
	if (!member)
		return -EMSGSIZE;
	if (nla_put_u32(skb, COKEEPER_MEMBER_A_DOMID, e->domid) ||
	    nla_put(skb, COKEEPER_MEMBER_A_UUID, COKEEPER_UUID_LEN, e->uuid) ||
	    nla_put_string(skb, COKEEPER_MEMBER_A_NAME, e->name) ||
	    nla_put_u8(skb, COKEEPER_MEMBER_A_STATE, e->state))
		goto err_cancel;
	for (i = 0; i < e->n_nics; i++) {
		nic = nla_nest_start(skb, COKEEPER_MEMBER_A_NIC);
		if (!nic || nla_put(skb, COKEEPER_NIC_A_MAC, ETH_ALEN, k++->addr.mac))
			goto err_cancel;
		addrs = k;
		for (j = 0; j < e->nic[i].n_ip4; j++)
			if (nla_put_in_addr(skb, COKEEPER_NIC_A_IPV4, k++->addr.ip4))
				goto err_cancel;
		for (j = 0; j < e->nic[i].n_ip6; j++)
			if (nla_put_in6_addr(skb, COKEEPER_NIC_A_IPV6, &k++->addr.ip6))
				goto err_cancel;
		if (put_sources(skb, addrs, k - addrs))
			goto err_cancel;
		nla_nest_end(skb, nic);
	}
	if (with_tx) {
		ck_entry_read_tx(e, &packets, &bytes);
		if (nla_put_u64_64bit(skb, COKEEPER_MEMBER_A_TX_PACKETS, packets,
				      COKEEPER_MEMBER_A_PAD) ||
		    nla_put_u64_64bit(skb, COKEEPER_MEMBER_A_TX_BYTES, bytes,
				      COKEEPER_MEMBER_A_PAD))
			goto err_cancel;
	}
	nla_nest_end(skb, member);
	return 0;

err_cancel:
	nla_nest_cancel(skb, member);
	return -EMSGSIZE;
}

/* *ret is NULL when the request carries no generation, &g when it carries both parts. */
static int parse_gen(struct genl_info *info, struct ck_gen *g, const struct ck_gen **ret)
{
	struct nlattr *epoch = info->attrs[COKEEPER_A_EPOCH];
	struct nlattr *gen = info->attrs[COKEEPER_A_GEN];

	*ret = NULL;
	if (!epoch && !gen)
		return 0;
	if (!epoch || !gen) {
		NL_SET_ERR_MSG_ATTR(info->extack, epoch ?: gen, "EPOCH and GEN go together");
		return -EINVAL;
	}
	g->epoch = nla_get_u64(epoch);
	g->gen = nla_get_u64(gen);
	*ret = g;
	return 0;
}

/*
 * Sent with the writer lock held, so listeners see changes in table order.  A listener
 * that cannot be told gets ENOBUFS on its socket: its view is stale, it must dump again.
 */
static void notify(struct genl_info *info, u8 cmd, const struct ck_gen *g,
		   const struct ck_entry *e, u32 domid, u32 count)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(member_size() + gen_size() + nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!skb)
		goto err_lost;
	hdr = genlmsg_put(skb, info->snd_portid, info->snd_seq, &family, 0, cmd);
	if (!hdr)
		goto err_free;
	switch (cmd) {
	case COKEEPER_CMD_MEMBER_SET:
		if (put_entry(skb, e, false) || put_gen(skb, g->epoch, g->gen))
			goto err_free;
		break;
	case COKEEPER_CMD_MEMBER_DEL:
		if (nla_put_u32(skb, COKEEPER_A_DOMID, domid) || put_gen(skb, g->epoch, g->gen))
			goto err_free;
		break;
	case COKEEPER_CMD_TABLE_REPLACE:
		if (put_gen(skb, g->epoch, g->gen) || nla_put_u32(skb, COKEEPER_A_COUNT, count))
			goto err_free;
		break;
	}
	genlmsg_end(skb, hdr);
	genl_notify(&family, skb, info, MCGRP_EVENTS, GFP_KERNEL);
	return;

err_free:
	nlmsg_free(skb);
err_lost:
	pr_warn_ratelimited("events: notification lost\n");
	genl_set_err(&family, genl_info_net(info), 0, MCGRP_EVENTS, -ENOBUFS);
}

static int member_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	const struct ck_gen *gp;
	struct ck_member *m;
	struct ck_gen g, out;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, COKEEPER_A_MEMBER)) {
		GENL_SET_ERR_MSG(info, "MEMBER is required");
		return -EINVAL;
	}
	err = parse_gen(info, &g, &gp);
	if (err)
		return err;
	m = kmalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	err = ck_member_parse(info->attrs[COKEEPER_A_MEMBER], m, info->extack);
	if (err)
		goto out;
	ck_store_lock(store);
	err = ck_store_set(store, m, gp, &out, info->extack);
	if (!err)
		notify(info, COKEEPER_CMD_MEMBER_SET, &out,
		       ck_table_find_domid(store, ck_store_table(store), m->domid), 0, 0);
	ck_store_unlock(store);
out:
	kfree(m);
	return err;
}

static int member_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	const struct ck_gen *gp;
	struct ck_gen g, out;
	bool changed;
	u32 domid;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, COKEEPER_A_DOMID)) {
		GENL_SET_ERR_MSG(info, "DOMID is required");
		return -EINVAL;
	}
	err = parse_gen(info, &g, &gp);
	if (err)
		return err;
	domid = nla_get_u32(info->attrs[COKEEPER_A_DOMID]);
	ck_store_lock(store);
	err = ck_store_del(store, domid, gp, &out, &changed, info->extack);
	if (!err && changed)
		notify(info, COKEEPER_CMD_MEMBER_DEL, &out, NULL, domid, 0);
	ck_store_unlock(store);
	return err;
}

static int table_replace_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *members = info->attrs[COKEEPER_A_MEMBERS];
	const struct nlattr *a;
	struct ck_member *m;
	struct ck_table *t;
	struct ck_gen g;
	int rem, err;

	if (GENL_REQ_ATTR_CHECK(info, COKEEPER_A_EPOCH) ||
	    GENL_REQ_ATTR_CHECK(info, COKEEPER_A_GEN)) {
		GENL_SET_ERR_MSG(info, "EPOCH and GEN are required");
		return -EINVAL;
	}
	g.epoch = nla_get_u64(info->attrs[COKEEPER_A_EPOCH]);
	g.gen = nla_get_u64(info->attrs[COKEEPER_A_GEN]);
	m = kmalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	ck_store_lock(store);
	err = ck_store_replace_begin(store, &t, g.epoch, g.gen);
	if (err)
		goto unlock;
	if (members) {
		nla_for_each_nested(a, members, rem) {
			err = ck_member_parse(a, m, info->extack);
			if (!err)
				err = ck_store_replace_add(store, t, m, info->extack);
			if (err) {
				/* Point at the member: the message may come from the table. */
				if (info->extack && !info->extack->bad_attr)
					NL_SET_BAD_ATTR(info->extack, a);
				ck_store_replace_abort(t);
				goto unlock;
			}
		}
	}
	ck_store_replace_commit(store, t);
	notify(info, COKEEPER_CMD_TABLE_REPLACE, &g, NULL, 0, t->count);
unlock:
	ck_store_unlock(store);
	kfree(m);
	return err;
}

static int flush_doit(struct sk_buff *skb, struct genl_info *info)
{
	int err;

	ck_store_lock(store);
	err = ck_store_flush(store);
	if (!err)
		notify(info, COKEEPER_CMD_FLUSH, NULL, NULL, 0, 0);
	ck_store_unlock(store);
	return err;
}

static int get_doit(struct sk_buff *skb, struct genl_info *info)
{
	static const int keys[] = { COKEEPER_A_DOMID, COKEEPER_A_IPV4, COKEEPER_A_IPV6,
				    COKEEPER_A_MAC };
	const struct ck_entry *e = NULL;
	struct nlattr *key = NULL;
	struct ck_table *t;
	struct sk_buff *msg;
	unsigned int i, n = 0;
	__be32 ip4;
	void *hdr;
	int err;

	for (i = 0; i < ARRAY_SIZE(keys); i++)
		if (info->attrs[keys[i]]) {
			key = info->attrs[keys[i]];
			n++;
		}
	if (n != 1) {
		GENL_SET_ERR_MSG(info, "give exactly one of DOMID, IPV4, IPV6 and MAC");
		return -EINVAL;
	}
	msg = genlmsg_new(member_size(), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &family, 0, COKEEPER_CMD_GET);
	if (!hdr) {
		err = -EMSGSIZE;
		goto err_free;
	}

	rcu_read_lock();
	t = ck_store_table(store);
	switch (nla_type(key)) {
	case COKEEPER_A_DOMID:
		e = ck_table_find_domid(store, t, nla_get_u32(key));
		break;
	case COKEEPER_A_IPV4:
		ip4 = nla_get_in_addr(key);
		e = ck_table_find(store, t, CK_KEY_IP4, &ip4);
		break;
	case COKEEPER_A_IPV6:
		e = ck_table_find(store, t, CK_KEY_IP6, nla_data(key));
		break;
	case COKEEPER_A_MAC:
		e = ck_table_find(store, t, CK_KEY_MAC, nla_data(key));
		break;
	}
	err = e ? put_entry(msg, e, true) : -ENOENT;
	rcu_read_unlock();
	if (err) {
		if (err == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack, key, "not a co-resident member's");
		goto err_free;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

/* A dump's state between pages, in cb->ctx. */
struct dump_ctx {
	u64 start_seq;
	u64 epoch;
	u64 gen;
	struct ck_cursor cursor;
	bool sent_first;
};

/* netlink_callback's sequence fields are 32-bit, and 0 there means "not started". */
static unsigned int seq32(u64 seq)
{
	return lower_32_bits(seq) ?: 1;
}

static int get_dump_start(struct netlink_callback *cb)
{
	const struct genl_dumpit_info *di = genl_dumpit_info(cb);
	struct dump_ctx *ctx = (struct dump_ctx *)cb->ctx;
	struct ck_status st;
	int i;

	BUILD_BUG_ON(sizeof(*ctx) > sizeof(cb->ctx));
	/* Do and dump share GET's policy in 6.1; a dump takes nothing.  (6.1's genetlink
	 * gives .start no extack, cb->extack is NULL: the message shows on later kernels.) */
	for (i = 0; i <= COKEEPER_A_MAX; i++)
		if (di->attrs && di->attrs[i]) {
			NL_SET_ERR_MSG_ATTR(cb->extack, di->attrs[i], "a dump takes no attributes");
			return -EINVAL;
		}
	ck_store_status(store, &st);
	*ctx = (struct dump_ctx){ .start_seq = st.change_seq, .epoch = st.epoch, .gen = st.gen };
	cb->seq = seq32(st.change_seq);
	cb->prev_seq = cb->seq;	/* so that a change before the first page counts too */
	return 0;
}

/* One message: the entry (NULL: none, for an empty table), and epoch and gen if first. */
static int put_dump_msg(struct sk_buff *skb, struct netlink_callback *cb, struct dump_ctx *ctx,
			const struct ck_entry *e)
{
	u64 seq = ck_store_change_seq(store);
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, &family,
			  NLM_F_MULTI, COKEEPER_CMD_GET);
	if (!hdr)
		return -EMSGSIZE;
	cb->seq = seq32(seq);
	genl_dump_check_consistent(cb, hdr);
	/* The core flags only the first message after a change; every later one must be
	 * flagged as well, the reader may look at any of them. */
	if (seq != ctx->start_seq)
		genlmsg_nlhdr(hdr)->nlmsg_flags |= NLM_F_DUMP_INTR;
	if ((!ctx->sent_first && put_gen(skb, ctx->epoch, ctx->gen)) ||
	    (e && put_entry(skb, e, true))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	ctx->sent_first = true;
	return 0;
}

static int get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_ctx *ctx = (struct dump_ctx *)cb->ctx;
	const struct ck_entry *e;
	unsigned int sent = 0;
	struct ck_table *t;
	int err = 0;

	rcu_read_lock();
	/* A replace between pages moves us to the new table; the flag tells the reader. */
	t = ck_store_table(store);
	while ((e = ck_table_at(store, t, &ctx->cursor))) {
		err = put_dump_msg(skb, cb, ctx, e);
		if (err)
			break;
		ctx->cursor.index++;
		sent++;
	}
	if (!e && !ctx->sent_first) {
		err = put_dump_msg(skb, cb, ctx, NULL);
		sent += !err;
	}
	rcu_read_unlock();
	/* A change that raced with this page shows on the next message, even NLMSG_DONE,
	 * which the core checks against cb->seq too. */
	smp_rmb();
	cb->seq = seq32(ck_store_change_seq(store));
	if (err)
		return sent ? (int)skb->len : err;
	return 0;
}

static int status_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ck_status st;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(gen_size() + 2 * nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &family, 0, COKEEPER_CMD_STATUS);
	if (!hdr)
		goto err_nospace;
	ck_store_status(store, &st);
	if (put_gen(msg, st.epoch, st.gen) || nla_put_u32(msg, COKEEPER_A_COUNT, st.count) ||
	    nla_put_u32(msg, COKEEPER_A_MAX_ENTRIES, st.max_entries))
		goto err_nospace;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

#define OP_POLICY(p) .policy = p, .maxattr = ARRAY_SIZE(p) - 1

static const struct genl_ops ops[] = {
	{
		.cmd = COKEEPER_CMD_MEMBER_SET,
		.doit = member_set_doit,
		.flags = GENL_ADMIN_PERM,
		OP_POLICY(ck_set_policy),
	},
	{
		.cmd = COKEEPER_CMD_MEMBER_DEL,
		.doit = member_del_doit,
		.flags = GENL_ADMIN_PERM,
		OP_POLICY(ck_del_policy),
	},
	{
		.cmd = COKEEPER_CMD_TABLE_REPLACE,
		.doit = table_replace_doit,
		.flags = GENL_ADMIN_PERM,
		OP_POLICY(ck_replace_policy),
	},
	{
		.cmd = COKEEPER_CMD_FLUSH,
		.doit = flush_doit,
		.flags = GENL_ADMIN_PERM,
		OP_POLICY(ck_flush_policy),
	},
	{
		.cmd = COKEEPER_CMD_GET,
		.doit = get_doit,
		.start = get_dump_start,
		.dumpit = get_dumpit,
		OP_POLICY(ck_get_policy),
	},
	{
		.cmd = COKEEPER_CMD_STATUS,
		.doit = status_doit,
		OP_POLICY(ck_status_policy),
	},
};

/* Anyone may listen: the table is no secret inside the guest. */
static const struct genl_multicast_group mcgrps[] = {
	[MCGRP_EVENTS] = { .name = COKEEPER_GENL_MCGRP_EVENTS },
};

/*
 * Only in the initial network namespace: the table is the guest's, one for all namespaces,
 * and a container's CAP_NET_ADMIN over its own namespace must not rewrite it.
 * parallel_ops: the store has its own writer lock and readers need none.
 */
static struct genl_family family __ro_after_init = {
	.name = COKEEPER_GENL_NAME,
	.version = COKEEPER_GENL_VERSION,
	.netnsok = false,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = ops,
	.n_ops = ARRAY_SIZE(ops),
	.mcgrps = mcgrps,
	.n_mcgrps = ARRAY_SIZE(mcgrps),
};

int __init ck_netlink_init(struct ck_store *s)
{
	store = s;
	return genl_register_family(&family);
}

void ck_netlink_exit(void)
{
	genl_unregister_family(&family);
}
