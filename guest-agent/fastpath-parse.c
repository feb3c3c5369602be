// SPDX-License-Identifier: GPL-2.0-only
#include <linux/netlink.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "fastpath-parse.h"
#include "linux/cokeeper_fp.h"

static bool get_u32(struct nlattr **tb, int type, uint32_t *v)
{
	if (!tb[type] || nla_len(tb[type]) != sizeof(uint32_t))
		return false;
	*v = nla_get_u32(tb[type]);
	return true;
}

static bool get_u64(struct nlattr **tb, int type, uint64_t *v)
{
	if (!tb[type] || nla_len(tb[type]) != sizeof(uint64_t))
		return false;
	*v = nla_get_u64(tb[type]);
	return true;
}

/*
 * Every attribute's length exactly, the domid before it is narrowed, the order before it
 * sizes the grants, the grants' length against the order; the remaining rules are the
 * protocol's (ck_msg_fastpath_invalid).
 */
const char *fastpath_parse_event(const void *untrusted, size_t len, struct ck_msg *out)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)untrusted;
	struct nlattr *tb[CKFP_A_MAX + 1];
	struct ck_fastpath_offer *o = &out->fastpath_offer;
	uint32_t domid, reason = CKFP_CLOSE_UNSPEC;
	uint64_t channel = 0;

	memset(out, 0, sizeof(*out));
	/* libnl trusts nlmsg_len: it must lie within what was received. */
	if (len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len)
		return "truncated message";
	if (!genlmsg_valid_hdr(nlh, 0) || genlmsg_parse(nlh, 0, tb, CKFP_A_MAX, NULL) < 0)
		return "malformed message";
	switch (genlmsg_hdr(nlh)->cmd) {
	case CKFP_CMD_OFFER:
		out->type = CK_MSG_FASTPATH_OFFER;
		break;
	case CKFP_CMD_ACCEPT:
		out->type = CK_MSG_FASTPATH_ACCEPT;
		break;
	case CKFP_CMD_CLOSE:
		out->type = CK_MSG_FASTPATH_CLOSE;
		break;
	default:
		return "unknown command";
	}
	if (!get_u32(tb, CKFP_A_PEER_DOMID, &domid) || domid >= CK_DOMID_LIMIT)
		return "no peer domid, or one out of range";
	if (tb[CKFP_A_CHANNEL_ID] && !get_u64(tb, CKFP_A_CHANNEL_ID, &channel))
		return "channel id of the wrong size";
	if (out->type != CK_MSG_FASTPATH_CLOSE && !tb[CKFP_A_CHANNEL_ID])
		return "no channel id";
	if (tb[CKFP_A_REASON] && !get_u32(tb, CKFP_A_REASON, &reason))
		return "reason of the wrong size";
	*ck_msg_fastpath_peer(out) = domid;
	switch (out->type) {
	case CK_MSG_FASTPATH_OFFER:
		o->channel_id = channel;
		if (!get_u32(tb, CKFP_A_RING_VERSION, &o->ring_version) ||
		    !get_u32(tb, CKFP_A_RING_ORDER, &o->ring_order) ||
		    !get_u32(tb, CKFP_A_EVTCHN, &o->evtchn_port) || !tb[CKFP_A_GREFS])
			return "offer without its ring version, order, event channel or grants";
		if (o->ring_order < CKFP_RING_ORDER_MIN || o->ring_order > CKFP_RING_ORDER_MAX)
			return "offer of a ring order out of range";
		o->n_grefs = CKFP_GREFS(o->ring_order);
		if ((size_t)nla_len(tb[CKFP_A_GREFS]) != o->n_grefs * sizeof(uint32_t))
			return "offer whose grants do not match its ring order";
		memcpy(o->grefs, nla_data(tb[CKFP_A_GREFS]), o->n_grefs * sizeof(uint32_t));
		break;
	case CK_MSG_FASTPATH_ACCEPT:
		out->fastpath_accept.channel_id = channel;
		break;
	default:
		out->fastpath_close.channel_id = channel;
		out->fastpath_close.reason = reason;
		break;
	}
	return ck_msg_fastpath_invalid(out);
}
