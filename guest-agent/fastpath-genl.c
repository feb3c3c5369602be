// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path's module over generic netlink (include/uapi/linux/cokeeper_fp.h).  Two
 * sockets: one read from the event loop, joined to the genl controller's "notify" group for
 * as long as the agent runs and to the family's "events" group while the family exists; one
 * for commands, each answered by the kernel's ACK.  The module may be loaded or unloaded at
 * any time: its family's appearance and departure come as notifications, so nothing polls.
 * What the module says is checked by fastpath-parse.c alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/genetlink.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "fastpath-parse.h"
#include "fastpath-port.h"
#include "genl.h"
#include "linux/cokeeper_fp.h"
#include "logging.h"
#include "ratelimit.h"

#define WAKEUP_MESSAGES 256	/* then the loop serves the rest and comes back */

struct genl_port {
	struct fastpath_port base;
	struct nl_sock *events;
	struct ck_genl cmd;	/* cmd.family: 0 while the module is not there */
	int group;		/* the family's "events" group, while joined */
	sd_event_source *io;
	struct ck_ratelimit rl;	/* what the module's messages make us log */
};

static int from_nl(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	default:
		return -EIO;
	}
}

static void forget(struct genl_port *p, const char *why)
{
	if (!p->cmd.family)
		return;
	(void)nl_socket_drop_membership(p->events, p->group);
	log_info("fast path: the \"%s\" family %s", CKFP_GENL_NAME, why);
	p->cmd.family = 0;
	p->group = 0;
}

/* Finds the family and joins its events; -ENOENT while the module is not loaded. */
static int follow(struct genl_port *p)
{
	int family, group, r;

	family = genl_ctrl_resolve(p->cmd.sk, CKFP_GENL_NAME);
	if (family < 0) {
		forget(p, "is gone");
		return -ENOENT;
	}
	if (family == p->cmd.family)
		return 0;
	forget(p, "was replaced");
	group = genl_ctrl_resolve_grp(p->cmd.sk, CKFP_GENL_NAME, CKFP_GENL_MCGRP_EVENTS);
	if (group < 0)
		return log_warning_errno(-ENOENT, "fast path: the \"%s\" family has no \"%s\" group",
					 CKFP_GENL_NAME, CKFP_GENL_MCGRP_EVENTS);
	r = nl_socket_add_membership(p->events, group);
	if (r < 0)
		return log_warning_errno(from_nl(r), "fast path: cannot join the \"%s\" group",
					 CKFP_GENL_MCGRP_EVENTS);
	p->cmd.family = family;
	p->group = group;
	log_info("fast path: the \"%s\" family is there (id %d)", CKFP_GENL_NAME, family);
	return 0;
}

static void on_ctrl(struct genl_port *p, struct nlmsghdr *nlh)
{
	struct nlattr *tb[CTRL_ATTR_MAX + 1];
	uint8_t cmd;

	if (!genlmsg_valid_hdr(nlh, 0) || genlmsg_parse(nlh, 0, tb, CTRL_ATTR_MAX, NULL) < 0)
		return;
	cmd = genlmsg_hdr(nlh)->cmd;
	if (cmd != CTRL_CMD_NEWFAMILY && cmd != CTRL_CMD_DELFAMILY)
		return;
	if (!tb[CTRL_ATTR_FAMILY_NAME] || nla_strcmp(tb[CTRL_ATTR_FAMILY_NAME], CKFP_GENL_NAME))
		return;
	if (cmd == CTRL_CMD_DELFAMILY)
		forget(p, "is gone (module unloaded)");
	else
		(void)follow(p);
}

static int on_message(struct nl_msg *msg, void *arg)
{
	struct genl_port *p = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	const char *why;
	struct ck_msg m;

	if (nlh->nlmsg_type == GENL_ID_CTRL) {
		on_ctrl(p, nlh);
		return NL_OK;
	}
	if (!p->cmd.family || nlh->nlmsg_type != p->cmd.family)
		return NL_OK;
	why = fastpath_parse_event(nlh, nlh->nlmsg_len, &m);
	if (why) {
		ck_log_limited(&p->rl, LOG_WARNING, 0, "fast path: the module sent a message we "
			       "drop: %s", why);
		return NL_OK;
	}
	p->base.cb.event(&m, p->base.userdata);
	return NL_OK;
}

static int on_readable(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	struct genl_port *p = userdata;

	for (unsigned int i = 0; i < WAKEUP_MESSAGES; i++) {
		int r = nl_recvmsgs_default(p->events);

		if (r == -NLE_AGAIN)
			break;
		if (r < 0) {
			/* An overrun loses events, perhaps the family's own: look again. */
			ck_log_limited(&p->rl, LOG_NOTICE, from_nl(r), "fast path: netlink events lost");
			(void)follow(p);
			break;
		}
	}
	return 0;
}

static int genl_deliver(struct fastpath_port *base, const struct ck_msg *msg)
{
	struct genl_port *p = (struct genl_port *)base;
	const struct ck_fastpath_offer *o = &msg->fastpath_offer;
	uint8_t cmd = msg->type == CK_MSG_FASTPATH_OFFER  ? CKFP_CMD_OFFER :
		      msg->type == CK_MSG_FASTPATH_ACCEPT ? CKFP_CMD_ACCEPT :
							    CKFP_CMD_CLOSE;
	struct nl_msg *m;
	bool full;
	int r;

	if (!p->cmd.family)
		return -ENOENT;
	m = nlmsg_alloc_size(1024 + CKFP_GREFS_MAX * sizeof(uint32_t));
	if (!m)
		return -ENOMEM;
	full = !genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, p->cmd.family, 0, 0, cmd,
			    CKFP_GENL_VERSION) ||
	       nla_put_u32(m, CKFP_A_PEER_DOMID, *ck_msg_fastpath_peer((struct ck_msg *)msg)) < 0 ||
	       nla_put_u64(m, CKFP_A_CHANNEL_ID, ck_msg_fastpath_channel(msg)) < 0;
	if (!full && msg->type == CK_MSG_FASTPATH_OFFER)
		full = nla_put_u32(m, CKFP_A_RING_VERSION, o->ring_version) < 0 ||
		       nla_put_u32(m, CKFP_A_RING_ORDER, o->ring_order) < 0 ||
		       nla_put_u32(m, CKFP_A_EVTCHN, o->evtchn_port) < 0 ||
		       nla_put(m, CKFP_A_GREFS, o->n_grefs * sizeof(uint32_t), o->grefs) < 0;
	if (!full && msg->type == CK_MSG_FASTPATH_CLOSE)
		full = nla_put_u32(m, CKFP_A_REASON, msg->fastpath_close.reason) < 0;
	if (full) {
		nlmsg_free(m);
		return -EMSGSIZE;
	}
	r = ck_genl_request(&p->cmd, m, NULL, NULL);
	if (r < 0 && p->cmd.errmsg[0])
		ck_log_limited(&p->rl, LOG_NOTICE, r, "fast path: kernel: %s", p->cmd.errmsg);
	return r;
}

static void genl_free(struct fastpath_port *base)
{
	struct genl_port *p = (struct genl_port *)base;

	sd_event_source_disable_unref(p->io);
	nl_socket_free(p->events);
	nl_socket_free(p->cmd.sk);
	free(p);
}

static const struct fastpath_port_ops genl_ops = {
	.name = "kernel",
	.deliver = genl_deliver,
	.free = genl_free,
};

int fastpath_genl_new(struct fastpath_port **ret, sd_event *event,
		      const struct fastpath_port_callbacks *cb, void *userdata)
{
	struct genl_port *p = calloc(1, sizeof(*p));
	int notify, r;

	if (!p)
		return -ENOMEM;
	p->base = (struct fastpath_port){ .ops = &genl_ops, .cb = *cb, .userdata = userdata };
	p->rl = (struct ck_ratelimit)CK_RATELIMIT_INIT(10 * 1000000ull, 5);
	p->events = nl_socket_alloc();
	p->cmd.sk = nl_socket_alloc();
	if (!p->events || !p->cmd.sk) {
		r = -ENOMEM;
		goto err;
	}
	r = genl_connect(p->events);
	r = r < 0 ? r : genl_connect(p->cmd.sk);
	if (r < 0) {
		r = from_nl(r);
		goto err;
	}
	/* Multicast carries no sequence numbers of ours. */
	nl_socket_disable_seq_check(p->events);
	nl_socket_modify_cb(p->events, NL_CB_VALID, NL_CB_CUSTOM, on_message, p);
	r = nl_socket_set_nonblocking(p->events);
	if (r < 0) {
		r = from_nl(r);
		goto err;
	}
	/* Subscribed before looking, so an appearance in between is not missed. */
	notify = genl_ctrl_resolve_grp(p->cmd.sk, "nlctrl", "notify");
	r = notify < 0 ? notify : nl_socket_add_membership(p->events, notify);
	if (r < 0) {
		r = from_nl(r);
		goto err;
	}
	r = sd_event_add_io(event, &p->io, nl_socket_get_fd(p->events), EPOLLIN, on_readable, p);
	if (r < 0)
		goto err;
	if (follow(p) == -ENOENT)
		log_info("fast path: no \"%s\" family yet; waiting for the module", CKFP_GENL_NAME);
	*ret = &p->base;
	return 0;
err:
	genl_free(&p->base);
	return r;
}
