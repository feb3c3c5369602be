// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>

#include "genl.h"
#include "linux/cokeeper.h"

#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE 32
#endif

#define BUFFER_BYTES (4 << 20)	/* a table replace of a large host is one message */

/* The loaded module's family version; 1 (the oldest) when the controller does not say. */
static unsigned int family_version(struct nl_sock *sk)
{
	struct nl_cache *cache = NULL;
	struct genl_family *fam;
	unsigned int v = 1;

	if (genl_ctrl_alloc_cache(sk, &cache) < 0)
		return v;
	fam = genl_ctrl_search_by_name(cache, COKEEPER_GENL_NAME);
	if (fam) {
		v = genl_family_get_version(fam);
		genl_family_put(fam);
	}
	nl_cache_free(cache);
	return v ? v : 1;
}

int ck_genl_open(struct ck_genl **ret)
{
	struct ck_genl *g = calloc(1, sizeof(*g));
	int one = 1, bytes = BUFFER_BYTES, fd, r;

	if (!g)
		return -ENOMEM;
	g->sk = nl_socket_alloc();
	if (!g->sk) {
		free(g);
		return -ENOMEM;
	}
	if (genl_connect(g->sk) < 0) {
		r = -EPROTONOSUPPORT;
		goto err;
	}
	fd = nl_socket_get_fd(g->sk);
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/* Privileged writers may exceed wmem_max; others keep what they get. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	g->family = genl_ctrl_resolve(g->sk, COKEEPER_GENL_NAME);
	if (g->family < 0) {
		r = -ENOENT;	/* the module is not loaded (and could not be) */
		goto err;
	}
	g->version = family_version(g->sk);
	*ret = g;
	return 0;
err:
	nl_socket_free(g->sk);
	free(g);
	return r;
}

void ck_genl_close(struct ck_genl *g)
{
	if (!g)
		return;
	nl_socket_free(g->sk);
	free(g);
}

struct nl_msg *ck_genl_msg(struct ck_genl *g, uint8_t cmd, int flags, size_t size)
{
	struct nl_msg *msg = size ? nlmsg_alloc_size(size) : nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, g->family, 0, flags, cmd,
			 COKEEPER_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct request_state {
	struct ck_genl *g;
	int (*on_reply)(struct nl_msg *reply, void *arg);
	void *arg;
	int error;
	bool done;
	bool interrupted;
};

/* The extended ACK's message, after the capped original header (NETLINK_CAP_ACK). */
static void save_extack(struct ck_genl *g, struct nlmsgerr *err)
{
	struct nlmsghdr *hdr = (struct nlmsghdr *)((char *)err - NLMSG_HDRLEN);
	size_t offset = sizeof(*err);
	struct nlattr *tlvs, *attr;
	int len, rem;

	g->errmsg[0] = '\0';
	if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
		offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
	len = (int)hdr->nlmsg_len - NLMSG_HDRLEN - (int)offset;
	if (len <= 0)
		return;
	tlvs = (struct nlattr *)((char *)err + offset);
	nla_for_each_attr(attr, tlvs, len, rem) {
		if (nla_type(attr) == NLMSGERR_ATTR_MSG && nla_len(attr) > 0) {
			snprintf(g->errmsg, sizeof(g->errmsg), "%.*s", nla_len(attr),
				 (const char *)nla_data(attr));
			g->errmsg[strcspn(g->errmsg, "\n")] = '\0';
		}
	}
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct request_state *st = arg;

	st->error = err->error;
	if (err->error < 0)
		save_extack(st->g, err);
	st->done = true;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct request_state *st = arg;

	st->done = true;
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct request_state *st = arg;

	if (nlmsg_hdr(msg)->nlmsg_flags & NLM_F_DUMP_INTR)
		st->interrupted = true;
	if (st->on_reply && !st->error) {
		int r = st->on_reply(msg, st->arg);

		if (r < 0)
			st->error = r;
	}
	return NL_OK;
}

int ck_genl_request(struct ck_genl *g, struct nl_msg *msg,
		    int (*on_reply)(struct nl_msg *reply, void *arg), void *arg)
{
	struct request_state st = { .g = g, .on_reply = on_reply, .arg = arg };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int r;

	g->errmsg[0] = '\0';
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &st);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &st);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_ack, &st);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &st);
	r = nl_send_auto(g->sk, msg);
	nlmsg_free(msg);
	if (r < 0) {
		nl_cb_put(cb);
		return r == -NLE_NOMEM ? -ENOMEM : -EMSGSIZE;
	}
	while (!st.done) {
		r = nl_recvmsgs(g->sk, cb);
		if (r < 0 && !st.done) {
			st.error = -EIO;
			break;
		}
	}
	nl_cb_put(cb);
	if (st.error)
		return st.error;
	return st.interrupted ? -EAGAIN : 0;
}

/*
 * A NIC's COKEEPER_NIC_A_SOURCES, only when one of its addresses is not the toolstack's, as
 * lib/codec.c does on the wire: a module older than sources refuses the unknown attribute
 * (strict validation), so members with the toolstack's addresses alone, which every member
 * was before, still go into it; one with other sources fails loudly rather than losing them.
 */
static int put_sources(struct nl_msg *msg, const struct ck_nic *n)
{
	uint8_t buf[2 * CK_ADDRS_MAX];
	bool any = false;

	memcpy(buf, n->ipv4_source, n->n_ipv4);
	memcpy(buf + n->n_ipv4, n->ipv6_source, n->n_ipv6);
	for (unsigned int i = 0; i < n->n_ipv4 + (unsigned int)n->n_ipv6; i++)
		any |= buf[i] != CK_ADDR_TOOLSTACK;
	if (any && nla_put(msg, COKEEPER_NIC_A_SOURCES, n->n_ipv4 + n->n_ipv6, buf) < 0)
		return -EMSGSIZE;
	return 0;
}

int ck_genl_put_member(struct nl_msg *msg, int attrtype, const struct ck_member *m)
{
	return ck_genl_put_member_for(msg, attrtype, m, COKEEPER_GENL_VERSION);
}

int ck_genl_put_member_for(struct nl_msg *msg, int attrtype, const struct ck_member *m,
			   unsigned int version)
{
	bool sources = version >= 2;
	struct nlattr *member, *nic;

	member = nla_nest_start(msg, attrtype);
	if (!member || nla_put_u32(msg, COKEEPER_MEMBER_A_DOMID, m->domid) < 0 ||
	    nla_put(msg, COKEEPER_MEMBER_A_UUID, CK_UUID_LEN, m->uuid) < 0 ||
	    nla_put_string(msg, COKEEPER_MEMBER_A_NAME, m->name) < 0 ||
	    nla_put_u8(msg, COKEEPER_MEMBER_A_STATE, m->state) < 0)
		return -EMSGSIZE;
	for (unsigned int i = 0; i < m->n_nics; i++) {
		const struct ck_nic *n = &m->nics[i];

		nic = nla_nest_start(msg, COKEEPER_MEMBER_A_NIC);
		if (!nic || nla_put(msg, COKEEPER_NIC_A_MAC, CK_MAC_LEN, n->mac) < 0)
			return -EMSGSIZE;
		/*
		 * A module without sources would take a claim for the toolstack's word and its
		 * fast path carry it: a guest's claim does not go into such a table at all.
		 */
		for (unsigned int a = 0; a < n->n_ipv4; a++) {
			uint32_t be = htonl(n->ipv4[a]);

			if (!sources && n->ipv4_source[a] == CK_ADDR_CLAIMED)
				continue;
			if (nla_put(msg, COKEEPER_NIC_A_IPV4, 4, &be) < 0)
				return -EMSGSIZE;
		}
		for (unsigned int a = 0; a < n->n_ipv6; a++) {
			if (!sources && n->ipv6_source[a] == CK_ADDR_CLAIMED)
				continue;
			if (nla_put(msg, COKEEPER_NIC_A_IPV6, CK_IPV6_LEN, n->ipv6[a]) < 0)
				return -EMSGSIZE;
		}
		if (sources && put_sources(msg, n) < 0)
			return -EMSGSIZE;
		nla_nest_end(msg, nic);
	}
	nla_nest_end(msg, member);
	return 0;
}

/* As the kernel checks them (and lib/verify.c on the wire): absent, all the toolstack's. */
static int parse_sources(const struct nlattr *attr, struct ck_nic *nic)
{
	const uint8_t *src;

	if (!attr)
		return 0;
	if (nla_len(attr) != nic->n_ipv4 + nic->n_ipv6)
		return -EBADMSG;
	src = nla_data(attr);
	for (int i = 0; i < nla_len(attr); i++)
		if (src[i] > CK_ADDR_SOURCE_MAX)
			return -EBADMSG;
	memcpy(nic->ipv4_source, src, nic->n_ipv4);
	memcpy(nic->ipv6_source, src + nic->n_ipv4, nic->n_ipv6);
	return 0;
}

size_t ck_genl_member_size(const struct ck_member *m)
{
	size_t n = nla_total_size(0) + nla_total_size(4) + nla_total_size(CK_UUID_LEN) +
		   nla_total_size(strlen(m->name) + 1) + nla_total_size(1);

	for (unsigned int i = 0; i < m->n_nics; i++) {
		const struct ck_nic *nic = &m->nics[i];
		unsigned int addrs = nic->n_ipv4 + nic->n_ipv6;
		bool any = false;

		for (unsigned int a = 0; a < nic->n_ipv4; a++)
			any |= nic->ipv4_source[a] != CK_ADDR_TOOLSTACK;
		for (unsigned int a = 0; a < nic->n_ipv6; a++)
			any |= nic->ipv6_source[a] != CK_ADDR_TOOLSTACK;
		n += nla_total_size(0) + nla_total_size(CK_MAC_LEN) +
		     nic->n_ipv4 * nla_total_size(4) + nic->n_ipv6 * nla_total_size(CK_IPV6_LEN) +
		     (any ? nla_total_size(addrs) : 0);
	}
	return n;
}

static int parse_nic(struct nlattr *nest, struct ck_nic *nic)
{
	struct nlattr *attr, *sources = NULL;
	bool have_mac = false;
	int rem;

	memset(nic, 0, sizeof(*nic));
	nla_for_each_nested(attr, nest, rem) {
		switch (nla_type(attr)) {
		case COKEEPER_NIC_A_MAC:
			if (nla_len(attr) != CK_MAC_LEN)
				return -EBADMSG;
			memcpy(nic->mac, nla_data(attr), CK_MAC_LEN);
			have_mac = true;
			break;
		case COKEEPER_NIC_A_IPV4:
			if (nla_len(attr) != 4 || nic->n_ipv4 == CK_ADDRS_MAX)
				return -EBADMSG;
			nic->ipv4[nic->n_ipv4++] = ntohl(*(uint32_t *)nla_data(attr));
			break;
		case COKEEPER_NIC_A_IPV6:
			if (nla_len(attr) != CK_IPV6_LEN || nic->n_ipv6 == CK_ADDRS_MAX)
				return -EBADMSG;
			memcpy(nic->ipv6[nic->n_ipv6++], nla_data(attr), CK_IPV6_LEN);
			break;
		case COKEEPER_NIC_A_SOURCES:
			/* Its length depends on the addresses, which may come after it. */
			if (sources)
				return -EBADMSG;
			sources = attr;
			break;
		default:
			break;	/* newer kernels may add attributes */
		}
	}
	if (!have_mac)
		return -EBADMSG;
	return parse_sources(sources, nic);
}

int ck_genl_parse_member(struct nlattr *nest, struct ck_member *m, uint64_t *tx_packets,
			 uint64_t *tx_bytes)
{
	struct nlattr *attr;
	unsigned int seen = 0;
	int rem, r;

	memset(m, 0, sizeof(*m));
	if (tx_packets)
		*tx_packets = 0;
	if (tx_bytes)
		*tx_bytes = 0;
	nla_for_each_nested(attr, nest, rem) {
		int type = nla_type(attr);

		switch (type) {
		case COKEEPER_MEMBER_A_DOMID:
			if (nla_len(attr) != 4 || nla_get_u32(attr) >= CK_DOMID_LIMIT)
				return -EBADMSG;
			m->domid = nla_get_u32(attr);
			break;
		case COKEEPER_MEMBER_A_UUID:
			if (nla_len(attr) != CK_UUID_LEN)
				return -EBADMSG;
			memcpy(m->uuid, nla_data(attr), CK_UUID_LEN);
			break;
		case COKEEPER_MEMBER_A_NAME:
			if (nla_len(attr) < 2 || nla_len(attr) > CK_NAME_MAX + 1)
				return -EBADMSG;
			memcpy(m->name, nla_data(attr), nla_len(attr));
			m->name[CK_NAME_MAX] = '\0';
			break;
		case COKEEPER_MEMBER_A_STATE:
			if (nla_len(attr) != 1)
				return -EBADMSG;
			m->state = nla_get_u8(attr);
			break;
		case COKEEPER_MEMBER_A_NIC:
			if (m->n_nics == CK_NICS_MAX)
				return -EBADMSG;
			r = parse_nic(attr, &m->nics[m->n_nics]);
			if (r < 0)
				return r;
			m->n_nics++;
			break;
		case COKEEPER_MEMBER_A_TX_PACKETS:
			if (tx_packets && nla_len(attr) == 8)
				*tx_packets = nla_get_u64(attr);
			break;
		case COKEEPER_MEMBER_A_TX_BYTES:
			if (tx_bytes && nla_len(attr) == 8)
				*tx_bytes = nla_get_u64(attr);
			break;
		default:
			break;
		}
		if (type > 0 && type < 32)
			seen |= 1u << type;
	}
	if ((seen & 0x1e) != 0x1e)	/* domid, uuid, name and state are required */
		return -EBADMSG;
	return ck_member_check(m) < 0 ? -EBADMSG : 0;
}
