// SPDX-License-Identifier: LGPL-2.1-or-later
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>

#include "cokeeper-client.h"
#include "genl.h"
#include "peer.h"
#include "linux/cokeeper.h"

#define DUMP_RETRIES 16

struct ck_client {
	struct ck_genl *g;
	struct nl_sock *events;	/* opened by ck_client_notify_fd() */
};

int ck_client_open(struct ck_client **ret)
{
	struct ck_client *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = ck_genl_open(&c->g);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void ck_client_close(struct ck_client *c)
{
	if (!c)
		return;
	if (c->events)
		nl_socket_free(c->events);
	ck_genl_close(c->g);
	free(c);
}

const char *ck_client_error_message(const struct ck_client *c)
{
	return c->g->errmsg;
}

/* The COKEEPER_A_MEMBER of a reply, as a peer. */
static int parse_reply_member(struct nl_msg *msg, struct ck_client_peer *peer)
{
	struct nlattr *attr;
	struct ck_member m;
	uint64_t pk, by;
	int rem, r;

	nla_for_each_attr(attr, genlmsg_attrdata(nlmsg_data(nlmsg_hdr(msg)), 0),
			  genlmsg_attrlen(nlmsg_data(nlmsg_hdr(msg)), 0), rem) {
		if (nla_type(attr) != COKEEPER_A_MEMBER)
			continue;
		r = ck_genl_parse_member(attr, &m, &pk, &by);
		if (r < 0)
			return r;
		ck_peer_from_member(&m, pk, by, peer);
		return 1;
	}
	return 0;
}

struct get_state {
	struct ck_client_peer *peer;
	bool found;
};

static int on_get(struct nl_msg *msg, void *arg)
{
	struct get_state *st = arg;
	int r = parse_reply_member(msg, st->peer);

	if (r > 0)
		st->found = true;
	return r < 0 ? r : 0;
}

static int lookup(struct ck_client *c, int attr, const void *key, size_t len,
		  struct ck_client_peer *peer)
{
	struct get_state st = { .peer = peer };
	struct nl_msg *msg = ck_genl_msg(c->g, COKEEPER_CMD_GET, 0, 0);
	int r;

	if (!msg)
		return -ENOMEM;
	if (nla_put(msg, attr, (int)len, key) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	r = ck_genl_request(c->g, msg, on_get, &st);
	if (r < 0)
		return r;
	return st.found ? 0 : -ENOENT;
}

/*
 * The lookups fill a peer the caller allocated, so each exists in two versions
 * (cokeeper-client.h, ABI): COKEEPER_CLIENT_0.1, the default that programs built now bind to,
 * fills the whole struct; COKEEPER_CLIENT_0, for programs built against 0.1.0's header, fills
 * the part that header had, which ends where the address sources begin.
 */
#define PEER_0_SIZE offsetof(struct ck_client_peer, ipv4_source)
/* The old struct had no padding after tx_bytes, so it was exactly this long. */
static_assert(PEER_0_SIZE == offsetof(struct ck_client_peer, tx_bytes) + sizeof(uint64_t) &&
	      PEER_0_SIZE % _Alignof(struct ck_client_peer) == 0,
	      "struct ck_client_peer's 0.1.0 part moved");

/*
 * Declares impl with name's prototype and exports it as name@version.  GCC's attribute
 * survives link-time optimisation (a toplevel .symver does not); clang has only the latter.
 */
#if defined(__has_attribute) && __has_attribute(symver)
#define VERSIONED(name, impl, version) \
	extern __typeof__(name) impl __attribute__((symver(#name version)))
#else
#define VERSIONED(name, impl, version) \
	extern __typeof__(name) impl;  \
	__asm__(".symver " #impl ", " #name version)
#endif

VERSIONED(ck_client_lookup_ipv4, ck_client_lookup_ipv4_v1, "@@COKEEPER_CLIENT_0.1");
int ck_client_lookup_ipv4_v1(struct ck_client *c, const struct in_addr *addr,
			     struct ck_client_peer *peer)
{
	return lookup(c, COKEEPER_A_IPV4, &addr->s_addr, 4, peer);
}

VERSIONED(ck_client_lookup_ipv6, ck_client_lookup_ipv6_v1, "@@COKEEPER_CLIENT_0.1");
int ck_client_lookup_ipv6_v1(struct ck_client *c, const struct in6_addr *addr,
			     struct ck_client_peer *peer)
{
	return lookup(c, COKEEPER_A_IPV6, addr, 16, peer);
}

VERSIONED(ck_client_lookup_mac, ck_client_lookup_mac_v1, "@@COKEEPER_CLIENT_0.1");
int ck_client_lookup_mac_v1(struct ck_client *c, const uint8_t mac[6],
			    struct ck_client_peer *peer)
{
	return lookup(c, COKEEPER_A_MAC, mac, 6, peer);
}

VERSIONED(ck_client_lookup_domid, ck_client_lookup_domid_v1, "@@COKEEPER_CLIENT_0.1");
int ck_client_lookup_domid_v1(struct ck_client *c, uint16_t domid, struct ck_client_peer *peer)
{
	uint32_t v = domid;

	return lookup(c, COKEEPER_A_DOMID, &v, 4, peer);
}

/* Into a whole peer, then as much as the old caller has; *peer untouched on failure, as before. */
static int copy_0(int r, const struct ck_client_peer *whole, struct ck_client_peer *peer)
{
	if (r == 0)
		memcpy(peer, whole, PEER_0_SIZE);
	return r;
}

VERSIONED(ck_client_lookup_ipv4, ck_client_lookup_ipv4_v0, "@COKEEPER_CLIENT_0");
int ck_client_lookup_ipv4_v0(struct ck_client *c, const struct in_addr *addr,
			     struct ck_client_peer *peer)
{
	struct ck_client_peer whole;

	return copy_0(ck_client_lookup_ipv4_v1(c, addr, &whole), &whole, peer);
}

VERSIONED(ck_client_lookup_ipv6, ck_client_lookup_ipv6_v0, "@COKEEPER_CLIENT_0");
int ck_client_lookup_ipv6_v0(struct ck_client *c, const struct in6_addr *addr,
			     struct ck_client_peer *peer)
{
	struct ck_client_peer whole;

	return copy_0(ck_client_lookup_ipv6_v1(c, addr, &whole), &whole, peer);
}

VERSIONED(ck_client_lookup_mac, ck_client_lookup_mac_v0, "@COKEEPER_CLIENT_0");
int ck_client_lookup_mac_v0(struct ck_client *c, const uint8_t mac[6],
			    struct ck_client_peer *peer)
{
	struct ck_client_peer whole;

	return copy_0(ck_client_lookup_mac_v1(c, mac, &whole), &whole, peer);
}

VERSIONED(ck_client_lookup_domid, ck_client_lookup_domid_v0, "@COKEEPER_CLIENT_0");
int ck_client_lookup_domid_v0(struct ck_client *c, uint16_t domid, struct ck_client_peer *peer)
{
	struct ck_client_peer whole;

	return copy_0(ck_client_lookup_domid_v1(c, domid, &whole), &whole, peer);
}

struct status_state {
	uint64_t epoch, gen;
	uint32_t count, max;
};

static int on_status(struct nl_msg *msg, void *arg)
{
	struct status_state *st = arg;
	struct nlattr *attr;
	int rem;

	nla_for_each_attr(attr, genlmsg_attrdata(nlmsg_data(nlmsg_hdr(msg)), 0),
			  genlmsg_attrlen(nlmsg_data(nlmsg_hdr(msg)), 0), rem) {
		switch (nla_type(attr)) {
		case COKEEPER_A_EPOCH:
			st->epoch = nla_len(attr) == 8 ? nla_get_u64(attr) : 0;
			break;
		case COKEEPER_A_GEN:
			st->gen = nla_len(attr) == 8 ? nla_get_u64(attr) : 0;
			break;
		case COKEEPER_A_COUNT:
			st->count = nla_len(attr) == 4 ? nla_get_u32(attr) : 0;
			break;
		case COKEEPER_A_MAX_ENTRIES:
			st->max = nla_len(attr) == 4 ? nla_get_u32(attr) : 0;
			break;
		}
	}
	return 0;
}

int ck_client_status(struct ck_client *c, uint64_t *epoch, uint64_t *gen, uint32_t *count,
		     uint32_t *max_entries)
{
	struct status_state st = { 0 };
	struct nl_msg *msg = ck_genl_msg(c->g, COKEEPER_CMD_STATUS, 0, 0);
	int r;

	if (!msg)
		return -ENOMEM;
	r = ck_genl_request(c->g, msg, on_status, &st);
	if (r < 0)
		return r;
	if (epoch)
		*epoch = st.epoch;
	if (gen)
		*gen = st.gen;
	if (count)
		*count = st.count;
	if (max_entries)
		*max_entries = st.max;
	return 0;
}

struct dump_state {
	struct ck_client_peer *peers;
	size_t n, cap;
};

static int on_dump(struct nl_msg *msg, void *arg)
{
	struct dump_state *st = arg;
	struct ck_client_peer peer;
	int r = parse_reply_member(msg, &peer);

	if (r <= 0)
		return r;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct ck_client_peer *grown = realloc(st->peers, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		st->peers = grown;
		st->cap = cap;
	}
	st->peers[st->n++] = peer;
	return 0;
}

int ck_client_foreach(struct ck_client *c,
		      int (*fn)(const struct ck_client_peer *peer, void *userdata), void *userdata)
{
	struct dump_state st = { 0 };
	int r = -EAGAIN;

	/* Collect first, call fn after: a walk sees one consistent table or none. */
	for (int tries = 0; r == -EAGAIN && tries < DUMP_RETRIES; tries++) {
		struct nl_msg *msg = ck_genl_msg(c->g, COKEEPER_CMD_GET, NLM_F_DUMP, 0);

		st.n = 0;
		if (!msg) {
			r = -ENOMEM;
			break;
		}
		r = ck_genl_request(c->g, msg, on_dump, &st);
	}
	for (size_t i = 0; r == 0 && i < st.n; i++)
		r = fn(&st.peers[i], userdata);
	free(st.peers);
	return r;
}

int ck_client_notify_fd(struct ck_client *c)
{
	int grp;

	if (c->events)
		return nl_socket_get_fd(c->events);
	grp = genl_ctrl_resolve_grp(c->g->sk, COKEEPER_GENL_NAME, COKEEPER_GENL_MCGRP_EVENTS);
	if (grp < 0)
		return -ENOENT;
	c->events = nl_socket_alloc();
	if (!c->events)
		return -ENOMEM;
	nl_socket_disable_seq_check(c->events);
	if (genl_connect(c->events) < 0 || nl_socket_add_membership(c->events, grp) < 0 ||
	    nl_socket_set_nonblocking(c->events) < 0) {
		nl_socket_free(c->events);
		c->events = NULL;
		return -EIO;
	}
	return nl_socket_get_fd(c->events);
}

struct notify_state {
	void (*fn)(enum ck_client_event, const struct ck_client_peer *, uint64_t, void *);
	void *userdata;
};

static int on_event(struct nl_msg *msg, void *arg)
{
	struct notify_state *st = arg;
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct ck_client_peer peer = { 0 };
	struct nlattr *attr;
	uint64_t gen = 0;
	bool have_peer = false;
	int rem;

	nla_for_each_attr(attr, genlmsg_attrdata(gh, 0), genlmsg_attrlen(gh, 0), rem) {
		if (nla_type(attr) == COKEEPER_A_GEN && nla_len(attr) == 8)
			gen = nla_get_u64(attr);
		else if (nla_type(attr) == COKEEPER_A_DOMID && nla_len(attr) == 4)
			peer.domid = nla_get_u32(attr);
	}
	switch (gh->cmd) {
	case COKEEPER_CMD_MEMBER_SET:
		have_peer = parse_reply_member(msg, &peer) > 0;
		if (have_peer)
			st->fn(CK_CLIENT_EVENT_SET, &peer, gen, st->userdata);
		break;
	case COKEEPER_CMD_MEMBER_DEL:
		st->fn(CK_CLIENT_EVENT_DEL, &peer, gen, st->userdata);
		break;
	case COKEEPER_CMD_TABLE_REPLACE:
		st->fn(CK_CLIENT_EVENT_REPLACE, NULL, gen, st->userdata);
		break;
	case COKEEPER_CMD_FLUSH:
		st->fn(CK_CLIENT_EVENT_FLUSH, NULL, gen, st->userdata);
		break;
	}
	return NL_OK;
}

static int no_seq_check(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

int ck_client_notify_dispatch(struct ck_client *c,
			      void (*fn)(enum ck_client_event event,
					 const struct ck_client_peer *peer, uint64_t gen,
					 void *userdata),
			      void *userdata)
{
	struct notify_state st = { .fn = fn, .userdata = userdata };
	struct nl_cb *cb;
	int r;

	if (!c->events)
		return -EBADF;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, &st);
	/* Notifications carry no sequence number of ours: a fresh cb would drop them all. */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	r = nl_recvmsgs(c->events, cb);
	nl_cb_put(cb);
	return r < 0 && r != -NLE_AGAIN ? -EIO : 0;
}
