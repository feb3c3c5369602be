// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-query fastpath: cokeeper-fp.ko's channels and counters (the genl family
 * "cokeeper_fp", uapi/linux/cokeeper_fp.h), one line or one JSON object per peer.
 */
#include <errno.h>
#include <inttypes.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/cokeeper_fp.h>

#include "genl.h"
#include "query-fastpath.h"

static const char *const state_names[] = {
	[CKFP_STATE_IDLE] = "idle",
	[CKFP_STATE_OFFERED] = "offered",
	[CKFP_STATE_UP] = "up",
	[CKFP_STATE_BACKOFF] = "backoff",
};

/* CKFP_A_WHY: one word, so that the text form stays one field a column. */
static const char *const why_names[] = {
	[CKFP_WHY_IDLE] = "idle",
	[CKFP_WHY_UP] = "up",
	[CKFP_WHY_OFF] = "off",
	[CKFP_WHY_NOT_AUTHORIZED] = "not-authorized",
	[CKFP_WHY_NO_SLOT] = "no-slot",
	[CKFP_WHY_BACKOFF] = "backoff",
	[CKFP_WHY_WAITING] = "waiting",
	[CKFP_WHY_GONE] = "gone",
};

/* Named as in the JSON output, in CKFP_STAT_A_* order. */
static const char *const stat_names[] = {
	[CKFP_STAT_A_TX_PACKETS] = "tx_packets",
	[CKFP_STAT_A_TX_BYTES] = "tx_bytes",
	[CKFP_STAT_A_RX_PACKETS] = "rx_packets",
	[CKFP_STAT_A_RX_BYTES] = "rx_bytes",
	[CKFP_STAT_A_FALLBACKS] = "fallbacks",
	[CKFP_STAT_A_TX_DROPS] = "tx_drops",
	[CKFP_STAT_A_RX_DROPS] = "rx_drops",
	[CKFP_STAT_A_BROKEN] = "broken",
	[CKFP_STAT_A_SETUPS] = "setups",
	[CKFP_STAT_A_TEARDOWNS] = "teardowns",
	[CKFP_STAT_A_EVENTS_SENT] = "events_sent",
	[CKFP_STAT_A_EVENTS_RECEIVED] = "events_received",
	[CKFP_STAT_A_EVENTS_SPURIOUS] = "events_spurious",
	[CKFP_STAT_A_TX_TO_VIF] = "tx_to_vif",
	[CKFP_STAT_A_STALLS] = "stalls",
	[CKFP_STAT_A_EVICTIONS] = "evictions",
};

/* The text form's column widths, as its header spells them. */
static const int stat_widths[] = {
	[CKFP_STAT_A_TX_PACKETS] = 10, [CKFP_STAT_A_TX_BYTES] = 12,
	[CKFP_STAT_A_RX_PACKETS] = 10, [CKFP_STAT_A_RX_BYTES] = 12,
	[CKFP_STAT_A_FALLBACKS] = 9, [CKFP_STAT_A_TX_DROPS] = 8, [CKFP_STAT_A_RX_DROPS] = 8,
	[CKFP_STAT_A_BROKEN] = 6, [CKFP_STAT_A_SETUPS] = 6, [CKFP_STAT_A_TEARDOWNS] = 9,
	[CKFP_STAT_A_EVENTS_SENT] = 10, [CKFP_STAT_A_EVENTS_RECEIVED] = 10,
	[CKFP_STAT_A_EVENTS_SPURIOUS] = 8, [CKFP_STAT_A_TX_TO_VIF] = 9, [CKFP_STAT_A_STALLS] = 6,
	[CKFP_STAT_A_EVICTIONS] = 7,
};

static struct nla_policy policy[CKFP_A_MAX + 1] = {
	[CKFP_A_PEER_DOMID] = {.type = NLA_U32},
	[CKFP_A_CHANNEL_ID] = {.type = NLA_U64},
	[CKFP_A_STATE] = {.type = NLA_U8},
	[CKFP_A_STATS] = {.type = NLA_NESTED},
	[CKFP_A_WHY] = {.type = NLA_U8},
};

static struct nla_policy stat_policy[CKFP_STAT_A_MAX + 1] = {
	[CKFP_STAT_A_TX_PACKETS ... CKFP_STAT_A_EVICTIONS] = {.type = NLA_U64},
};

struct printer {
	FILE *out;
	bool json;
	struct fastpath_view *view;	/* instead of printing */
	unsigned int n;
};

/* A module before CKFP_A_WHY sends none: "-", as for a column it cannot fill. */
static const char *why_name(const struct nlattr *why)
{
	unsigned int w;

	if (!why)
		return "-";
	w = nla_get_u8(why);
	return w <= CKFP_WHY_MAX ? why_names[w] : "unknown";
}

static int on_peer(struct nl_msg *msg, void *arg)
{
	struct nlattr *a[CKFP_A_MAX + 1], *st[CKFP_STAT_A_MAX + 1] = {0};
	struct printer *p = arg;
	unsigned int state;
	int r;

	r = genlmsg_parse(nlmsg_hdr(msg), 0, a, CKFP_A_MAX, policy);
	if (r < 0 || !a[CKFP_A_PEER_DOMID] || !a[CKFP_A_STATE]) {
		return -EBADMSG;
	}
	if (a[CKFP_A_STATS] && nla_parse_nested(st, CKFP_STAT_A_MAX, a[CKFP_A_STATS],
						stat_policy) < 0) {
		return -EBADMSG;
	}
	state = nla_get_u8(a[CKFP_A_STATE]);
	if (p->view) {
		struct fastpath_peer *more = reallocarray(p->view->peers, p->view->n + 1,
							  sizeof(*more));

		if (!more) {
			return -ENOMEM;
		}
		p->view->peers = more;
		more[p->view->n++] = (struct fastpath_peer){
			.domid = nla_get_u32(a[CKFP_A_PEER_DOMID]),
			.state = (uint8_t)state,
			.tx_packets = st[CKFP_STAT_A_TX_PACKETS] ?
				      nla_get_u64(st[CKFP_STAT_A_TX_PACKETS]) : 0,
			.rx_packets = st[CKFP_STAT_A_RX_PACKETS] ?
				      nla_get_u64(st[CKFP_STAT_A_RX_PACKETS]) : 0,
		};
	} else if (p->json) {
		fprintf(p->out, "%s\n  {\"domid\": %" PRIu32 ", \"state\": \"%s\", \"why\": \"%s\"",
			p->n ? "," : "", nla_get_u32(a[CKFP_A_PEER_DOMID]),
			state <= CKFP_STATE_MAX ? state_names[state] : "unknown",
			why_name(a[CKFP_A_WHY]));
		for (int i = CKFP_STAT_A_TX_PACKETS; i <= CKFP_STAT_A_EVICTIONS; i++)
			fprintf(p->out, ", \"%s\": %" PRIu64, stat_names[i],
				st[i] ? (uint64_t)nla_get_u64(st[i]) : 0);
		fputc('}', p->out);
	} else {
		/* WHY last: scripts read the columns before it by position. */
		if (!p->n)
			fprintf(p->out, "%-6s %-8s %10s %12s %10s %12s %9s %8s %8s %6s %6s %9s "
				"%10s %10s %8s %9s %6s %7s %s\n", "DOMID", "STATE", "TX_PKTS",
				"TX_BYTES", "RX_PKTS", "RX_BYTES", "FALLBACK", "TX_DROP", "RX_DROP",
				"BROKEN", "SETUPS", "TEARDOWNS", "EV_SENT", "EV_RECV", "EV_SPUR",
				"TX_TO_VIF", "STALLS", "EVICTED", "WHY");
		fprintf(p->out, "%-6" PRIu32 " %-8s", nla_get_u32(a[CKFP_A_PEER_DOMID]),
			state <= CKFP_STATE_MAX ? state_names[state] : "unknown");
		for (int i = CKFP_STAT_A_TX_PACKETS; i <= CKFP_STAT_A_EVICTIONS; i++)
			fprintf(p->out, " %*" PRIu64, stat_widths[i],
				st[i] ? (uint64_t)nla_get_u64(st[i]) : 0);
		fprintf(p->out, " %s\n", why_name(a[CKFP_A_WHY]));
	}
	p->n++;
	return 0;
}

/* One dump of the family, each peer to on_peer; -ENOENT if cokeeper-fp.ko is not loaded. */
static int dump(struct printer *p)
{
	struct ck_genl g = {.sk = nl_socket_alloc()};
	struct nl_msg *msg;
	int r;

	if (!g.sk)
		return -ENOMEM;
	r = genl_connect(g.sk) < 0 ? -ECONNREFUSED : 0;
	if (!r && (g.family = genl_ctrl_resolve(g.sk, CKFP_GENL_NAME)) < 0)
		r = -ENOENT;
	if (r)
		goto out;
	msg = ck_genl_msg(&g, CKFP_CMD_GET, NLM_F_DUMP, 0);
	if (!msg) {
		r = -ENOMEM;
		goto out;
	}
	if (p->json)
		fputc('[', p->out);
	r = ck_genl_request(&g, msg, on_peer, p);
	if (p->json)
		fputs(p->n ? "\n]\n" : "]\n", p->out);
out:
	nl_socket_free(g.sk);
	return r;
}

int query_fastpath_print(struct nl_msg *msg, bool json, unsigned int n, FILE *out)
{
	struct printer p = {.out = out, .json = json, .n = n};

	return on_peer(msg, &p);
}

int query_fastpath(bool json, FILE *out)
{
	struct printer p = {.out = out, .json = json};

	return dump(&p);
}

int query_fastpath_view(struct fastpath_view *v)
{
	struct printer p = {.view = v};
	int r;

	*v = (struct fastpath_view){0};
	r = dump(&p);
	if (r < 0)
		fastpath_view_free(v);
	return r;
}

void fastpath_view_free(struct fastpath_view *v)
{
	free(v->peers);
	*v = (struct fastpath_view){0};
}

const struct fastpath_peer *fastpath_view_find(const struct fastpath_view *v, uint32_t domid)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->peers[i].domid == domid)
			return &v->peers[i];
	return NULL;
}

const char *fastpath_state_name(uint8_t state)
{
	return state <= CKFP_STATE_MAX ? state_names[state] : "unknown";
}
