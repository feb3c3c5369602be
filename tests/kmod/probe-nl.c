// SPDX-License-Identifier: GPL-2.0-only
/* probe-nl: libnl-3 plumbing for genl-probe (see probe-nl.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>

#include <netlink/genl/ctrl.h>

#include "probe-nl.h"

int family;
struct reply r;

struct nl_sock *open_sock(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1;

	if (!sk || genl_connect(sk) < 0) {
		perror("genl_connect");
		exit(2);
	}
	/* Errors come back with their extack message and without our request echoed. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return sk;
}

void parse_member(struct nlattr *nest, struct member *m)
{
	struct nlattr *tb[COKEEPER_MEMBER_A_MAX + 1], *nic, *a;
	int rem, rem2;

	memset(m, 0, sizeof(*m));
	nla_parse_nested(tb, COKEEPER_MEMBER_A_MAX, nest, NULL);
	if (tb[COKEEPER_MEMBER_A_DOMID])
		m->domid = nla_get_u32(tb[COKEEPER_MEMBER_A_DOMID]);
	if (tb[COKEEPER_MEMBER_A_STATE])
		m->state = nla_get_u8(tb[COKEEPER_MEMBER_A_STATE]);
	if (tb[COKEEPER_MEMBER_A_UUID])
		nla_memcpy(m->uuid, tb[COKEEPER_MEMBER_A_UUID], sizeof(m->uuid));
	if (tb[COKEEPER_MEMBER_A_NAME])
		nla_strlcpy(m->name, tb[COKEEPER_MEMBER_A_NAME], sizeof(m->name));
	if (tb[COKEEPER_MEMBER_A_TX_PACKETS])
		m->tx_packets = nla_get_u64(tb[COKEEPER_MEMBER_A_TX_PACKETS]);
	if (tb[COKEEPER_MEMBER_A_TX_BYTES])
		m->tx_bytes = nla_get_u64(tb[COKEEPER_MEMBER_A_TX_BYTES]);
	nla_for_each_nested(nic, nest, rem) {
		struct nic *n;

		if (nla_type(nic) != COKEEPER_MEMBER_A_NIC || m->n_nics == COKEEPER_NICS_MAX)
			continue;
		n = &m->nics[m->n_nics++];
		nla_for_each_nested(a, nic, rem2) {
			if (nla_type(a) == COKEEPER_NIC_A_MAC)
				nla_memcpy(n->mac, a, 6);
			else if (nla_type(a) == COKEEPER_NIC_A_IPV4 && n->n4 < COKEEPER_ADDRS_MAX)
				nla_memcpy(&n->ip4[n->n4++], a, 4);
			else if (nla_type(a) == COKEEPER_NIC_A_IPV6 && n->n6 < COKEEPER_ADDRS_MAX)
				nla_memcpy(&n->ip6[n->n6++], a, 16);
			else if (nla_type(a) == COKEEPER_NIC_A_SOURCES)
				n->n_src = nla_memcpy(n->src, a, sizeof(n->src));
		}
	}
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[COKEEPER_A_MAX + 1];
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct reply *rp = arg;

	if (genlmsg_parse(nlh, 0, tb, COKEEPER_A_MAX, NULL) < 0)
		return NL_SKIP;
	rp->cmd = ((struct genlmsghdr *)nlmsg_data(nlh))->cmd;
	if (tb[COKEEPER_A_EPOCH] && tb[COKEEPER_A_GEN] && !rp->have_gen) {
		rp->have_gen = true;
		rp->epoch = nla_get_u64(tb[COKEEPER_A_EPOCH]);
		rp->gen = nla_get_u64(tb[COKEEPER_A_GEN]);
	}
	if (tb[COKEEPER_A_COUNT])
		rp->count = nla_get_u32(tb[COKEEPER_A_COUNT]);
	if (tb[COKEEPER_A_MAX_ENTRIES])
		rp->max_entries = nla_get_u32(tb[COKEEPER_A_MAX_ENTRIES]);
	if (tb[COKEEPER_A_DOMID])
		rp->domid = nla_get_u32(tb[COKEEPER_A_DOMID]);
	if (tb[COKEEPER_A_MEMBER] && rp->n < MAXM)
		parse_member(tb[COKEEPER_A_MEMBER], &rp->m[rp->n++]);
	return NL_OK;
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct reply *rp = arg;
	int off = NLMSG_HDRLEN + sizeof(*e);

	(void)nla;
	rp->err = e->error;
	rp->done = true;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && (int)nlh->nlmsg_len > off &&
	    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)nlh + off),
		      nlh->nlmsg_len - off, NULL) == 0 && tb[NLMSGERR_ATTR_MSG])
		nla_strlcpy(rp->ext, tb[NLMSGERR_ATTR_MSG], sizeof(rp->ext));
	return NL_STOP;
}

static int on_done(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct reply *)arg)->done = true;
	return NL_STOP;
}

static int on_intr(struct nl_msg *msg, void *arg)
{
	((struct reply *)arg)->intr++;
	return on_valid(msg, arg);
}

int request(struct nl_sock *sk, struct nl_msg *msg)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_CUSTOM);
	int err;

	memset(&r, 0, sizeof(r));
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_done, &r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_done, &r);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, on_intr, &r);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &r);
	err = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	while (err >= 0 && !r.done)
		err = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (!r.done) {
		r.err = -EIO;
		snprintf(r.ext, sizeof(r.ext), "libnl: %s", nl_geterror(err));
	}
	return r.err;
}

struct nl_msg *new_msg(uint8_t cmd, int flags)
{
	/* Room for a whole table of members; libnl's default is one page. */
	struct nl_msg *msg = nlmsg_alloc_size(1 << 17);

	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd, COKEEPER_GENL_VERSION);
	return msg;
}

void put_member(struct nl_msg *msg, int type, const struct member *m, int mac_len)
{
	struct nlattr *nest = nla_nest_start(msg, type), *nic;
	int i, j;

	if (!nest) {
		fprintf(stderr, "genl-probe: request message full\n");
		exit(2);
	}

	nla_put_u32(msg, COKEEPER_MEMBER_A_DOMID, m->domid);
	nla_put(msg, COKEEPER_MEMBER_A_UUID, 16, m->uuid);
	nla_put_string(msg, COKEEPER_MEMBER_A_NAME, m->name);
	nla_put_u8(msg, COKEEPER_MEMBER_A_STATE, m->state);
	for (i = 0; i < m->n_nics; i++) {
		nic = nla_nest_start(msg, COKEEPER_MEMBER_A_NIC);
		nla_put(msg, COKEEPER_NIC_A_MAC, mac_len, m->nics[i].mac);
		for (j = 0; j < m->nics[i].n4; j++)
			nla_put(msg, COKEEPER_NIC_A_IPV4, 4, &m->nics[i].ip4[j]);
		for (j = 0; j < m->nics[i].n6; j++)
			nla_put(msg, COKEEPER_NIC_A_IPV6, 16, &m->nics[i].ip6[j]);
		if (m->nics[i].n_src)
			nla_put(msg, COKEEPER_NIC_A_SOURCES, m->nics[i].n_src, m->nics[i].src);
		nla_nest_end(msg, nic);
	}
	nla_nest_end(msg, nest);
}

void put_gen(struct nl_msg *msg, uint64_t epoch, uint64_t gen)
{
	nla_put_u64(msg, COKEEPER_A_EPOCH, epoch);
	nla_put_u64(msg, COKEEPER_A_GEN, gen);
}

int member_set(struct nl_sock *sk, const struct member *m, uint64_t epoch, uint64_t gen)
{
	struct nl_msg *msg = new_msg(COKEEPER_CMD_MEMBER_SET, 0);

	put_member(msg, COKEEPER_A_MEMBER, m, 6);
	if (epoch)
		put_gen(msg, epoch, gen);
	return request(sk, msg);
}

int replace(struct nl_sock *sk, const struct member *m, int n, uint64_t gen)
{
	struct nl_msg *msg = new_msg(COKEEPER_CMD_TABLE_REPLACE, 0);
	struct nlattr *nest;
	int i;

	put_gen(msg, EPOCH, gen);
	nest = nla_nest_start(msg, COKEEPER_A_MEMBERS);
	for (i = 0; i < n; i++)
		put_member(msg, COKEEPER_A_MEMBER, &m[i], 6);
	nla_nest_end(msg, nest);
	return request(sk, msg);
}

int simple(struct nl_sock *sk, uint8_t cmd, int flags)
{
	return request(sk, new_msg(cmd, flags));
}

int get_by(struct nl_sock *sk, int attr, const void *key, int len)
{
	struct nl_msg *msg = new_msg(COKEEPER_CMD_GET, 0);

	nla_put(msg, attr, len, key);
	return request(sk, msg);
}

void make_member(struct member *m, uint32_t domid, const char *name, uint8_t state)
{
	memset(m, 0, sizeof(*m));
	m->domid = domid;
	m->state = state;
	snprintf(m->name, sizeof(m->name), "%s", name);
	for (int i = 0; i < 16; i++)
		m->uuid[i] = (uint8_t)(domid * 16 + i);
}

struct nic *add_nic(struct member *m, uint8_t last)
{
	struct nic *n = &m->nics[m->n_nics++];
	static const uint8_t oui[] = { 0x00, 0x16, 0x3e };

	memcpy(n->mac, oui, 3);
	n->mac[4] = (uint8_t)(m->domid >> 8);
	n->mac[3] = (uint8_t)m->domid;
	n->mac[5] = last;
	return n;
}

void add4(struct nic *n, const char *s)
{
	inet_pton(AF_INET, s, &n->ip4[n->n4++]);
}

void add6(struct nic *n, const char *s)
{
	inet_pton(AF_INET6, s, &n->ip6[n->n6++]);
}

void set_sources(struct nic *n, const uint8_t *src, int len)
{
	memcpy(n->src, src, len);
	n->n_src = len;
}

bool same(const struct member *a, const struct member *b)
{
	struct member x = *a, y = *b;

	x.tx_packets = y.tx_packets = x.tx_bytes = y.tx_bytes = 0;
	return !memcmp(&x, &y, sizeof(x));
}


int receive_event(struct nl_sock *l, struct reply *out, int timeout_ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(l), .events = POLLIN };
	struct nl_cb *orig, *cb;
	int err;

	memset(out, 0, sizeof(*out));
	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	/* From the socket's callbacks: they carry nl_socket_disable_seq_check(). */
	orig = nl_socket_get_cb(l);
	cb = nl_cb_clone(orig);
	nl_cb_put(orig);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, out);
	/* One notification per datagram: one read is one event. */
	err = nl_recvmsgs(l, cb);
	nl_cb_put(cb);
	return err < 0 ? -EIO : 0;
}
