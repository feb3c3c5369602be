// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the family accepts: an attribute policy per command and the one function that turns
 * an untrusted member nest into a struct ck_member.  The policies check types, lengths and
 * ranges; ck_member_parse() the rest (required attributes, counts, address rules, the
 * address sources).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <net/netlink.h>

#include "policy.h"

static int name_validate(const struct nlattr *attr, struct netlink_ext_ack *extack)
{
	const char *name = nla_data(attr);
	size_t len = strnlen(name, nla_len(attr));

	/* NLA_NUL_STRING checked the NUL and the length; what follows is the protocol's. */
	if (len + 1 != nla_len(attr)) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "bytes after the name's NUL");
		return -EINVAL;
	}
	if (!ck_name_valid(name, len)) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "a name is 1..64 printable ASCII bytes");
		return -EINVAL;
	}
	return 0;
}

static const struct nla_policy nic_policy[COKEEPER_NIC_A_MAX + 1] = {
	[COKEEPER_NIC_A_MAC] = NLA_POLICY_ETH_ADDR,
	[COKEEPER_NIC_A_IPV4] = NLA_POLICY_EXACT_LEN(sizeof(struct in_addr)),
	[COKEEPER_NIC_A_IPV6] = NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	/* Its length depends on the addresses beside it: parse_nic() checks it, and each byte. */
	[COKEEPER_NIC_A_SOURCES] = { .type = NLA_BINARY },
};

#define KERNEL_TO_USER { .type = NLA_REJECT, .reject_message = "attribute is kernel to user only" }

static const struct nla_policy member_policy[COKEEPER_MEMBER_A_MAX + 1] = {
	[COKEEPER_MEMBER_A_DOMID] = NLA_POLICY_MAX(NLA_U32, COKEEPER_DOMID_LIMIT - 1),
	[COKEEPER_MEMBER_A_UUID] = NLA_POLICY_EXACT_LEN(COKEEPER_UUID_LEN),
	[COKEEPER_MEMBER_A_NAME] =
		NLA_POLICY_VALIDATE_FN(NLA_NUL_STRING, name_validate, COKEEPER_NAME_MAX),
	[COKEEPER_MEMBER_A_STATE] =
		NLA_POLICY_RANGE(NLA_U8, COKEEPER_STATE_RUNNING, COKEEPER_STATE_MAX),
	[COKEEPER_MEMBER_A_NIC] = NLA_POLICY_NESTED(nic_policy),
	[COKEEPER_MEMBER_A_TX_PACKETS] = KERNEL_TO_USER,
	[COKEEPER_MEMBER_A_TX_BYTES] = KERNEL_TO_USER,
	[COKEEPER_MEMBER_A_PAD] = KERNEL_TO_USER,
};

static const struct nla_policy members_policy[COKEEPER_A_MAX + 1] = {
	[COKEEPER_A_MEMBER] = NLA_POLICY_NESTED(member_policy),
};

/* Epoch 0 means "never written": no request may claim it. */
#define GEN_POLICY							\
	[COKEEPER_A_EPOCH] = NLA_POLICY_MIN(NLA_U64, 1),		\
	[COKEEPER_A_GEN] = { .type = NLA_U64 },				\
	[COKEEPER_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, COKEEPER_F_ALL)

#define DOMID_POLICY NLA_POLICY_MAX(NLA_U32, COKEEPER_DOMID_LIMIT - 1)

/* One policy per command: an attribute a command does not take is refused, not ignored. */
const struct nla_policy ck_set_policy[COKEEPER_A_MAX + 1] = {
	[COKEEPER_A_MEMBER] = NLA_POLICY_NESTED(member_policy),
	GEN_POLICY,
};

const struct nla_policy ck_del_policy[COKEEPER_A_MAX + 1] = {
	[COKEEPER_A_DOMID] = DOMID_POLICY,
	GEN_POLICY,
};

const struct nla_policy ck_replace_policy[COKEEPER_A_MAX + 1] = {
	[COKEEPER_A_MEMBERS] = NLA_POLICY_NESTED(members_policy),
	GEN_POLICY,
};

const struct nla_policy ck_flush_policy[COKEEPER_A_MAX + 1] = {
	[COKEEPER_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, COKEEPER_F_ALL),
};

const struct nla_policy ck_get_policy[COKEEPER_A_MAX + 1] = {
	[COKEEPER_A_DOMID] = DOMID_POLICY,
	[COKEEPER_A_IPV4] = NLA_POLICY_EXACT_LEN(sizeof(struct in_addr)),
	[COKEEPER_A_IPV6] = NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[COKEEPER_A_MAC] = NLA_POLICY_ETH_ADDR,
};

const struct nla_policy ck_status_policy[COKEEPER_A_MAX + 1] = {};

/*
 * One enum cokeeper_addr_source per address, the IPv4s' in order then the IPv6s'.  Absent,
 * every address is the toolstack's (what the zeroed member already says): a member from an
 * agent older than sources, or one whose addresses all are.
 */
static int parse_sources(const struct nlattr *attr, struct ck_nic *nic,
			 struct netlink_ext_ack *extack)
{
	const u8 *src;
	int i;

	BUILD_BUG_ON(COKEEPER_ADDR_TOOLSTACK != 0);
	if (!attr)
		return 0;
	if (nla_len(attr) != nic->n_ip4 + nic->n_ip6) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "SOURCES needs one byte per IPV4 and IPV6 address");
		return -EINVAL;
	}
	src = nla_data(attr);
	for (i = 0; i < nla_len(attr); i++)
		if (src[i] > COKEEPER_ADDR_SOURCE_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, attr, "unknown address source in SOURCES");
			return -EINVAL;
		}
	memcpy(nic->ip4_source, src, nic->n_ip4);
	memcpy(nic->ip6_source, src + nic->n_ip4, nic->n_ip6);
	return 0;
}

static int parse_nic(const struct nlattr *nest, struct ck_nic *nic,
		     struct netlink_ext_ack *extack)
{
	struct nlattr *tb[COKEEPER_NIC_A_MAX + 1];
	const struct nlattr *a;
	int rem, err;

	err = nla_parse_nested(tb, COKEEPER_NIC_A_MAX, nest, nic_policy, extack);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(extack, nest, tb, COKEEPER_NIC_A_MAC)) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "a NIC needs a MAC");
		return -EINVAL;
	}
	memcpy(nic->mac, nla_data(tb[COKEEPER_NIC_A_MAC]), ETH_ALEN);
	if (!ck_mac_valid(nic->mac)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[COKEEPER_NIC_A_MAC], "MAC is multicast or zero");
		return -EINVAL;
	}
	/* The policy checked every repeated attribute; only the counts are left. */
	nla_for_each_nested(a, nest, rem) {
		switch (nla_type(a)) {
		case COKEEPER_NIC_A_IPV4:
			if (nic->n_ip4 == COKEEPER_ADDRS_MAX) {
				NL_SET_ERR_MSG_ATTR(extack, a, "more than 8 IPv4 addresses on a NIC");
				return -EINVAL;
			}
			nic->ip4[nic->n_ip4] = nla_get_in_addr(a);
			if (!nic->ip4[nic->n_ip4++]) {
				NL_SET_ERR_MSG_ATTR(extack, a, "IPv4 address 0.0.0.0");
				return -EINVAL;
			}
			break;
		case COKEEPER_NIC_A_IPV6:
			if (nic->n_ip6 == COKEEPER_ADDRS_MAX) {
				NL_SET_ERR_MSG_ATTR(extack, a, "more than 8 IPv6 addresses on a NIC");
				return -EINVAL;
			}
			nic->ip6[nic->n_ip6++] = nla_get_in6_addr(a);
			break;
		}
	}
	return parse_sources(tb[COKEEPER_NIC_A_SOURCES], nic, extack);
}

int ck_member_parse(const struct nlattr *nest, struct ck_member *m,
			struct netlink_ext_ack *extack)
{
	struct nlattr *tb[COKEEPER_MEMBER_A_MAX + 1];
	const struct nlattr *a;
	int rem, err;

	err = nla_parse_nested(tb, COKEEPER_MEMBER_A_MAX, nest, member_policy, extack);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(extack, nest, tb, COKEEPER_MEMBER_A_DOMID) ||
	    NL_REQ_ATTR_CHECK(extack, nest, tb, COKEEPER_MEMBER_A_UUID) ||
	    NL_REQ_ATTR_CHECK(extack, nest, tb, COKEEPER_MEMBER_A_NAME) ||
	    NL_REQ_ATTR_CHECK(extack, nest, tb, COKEEPER_MEMBER_A_STATE)) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "a member needs DOMID, UUID, NAME and STATE");
		return -EINVAL;
	}
	memset(m, 0, sizeof(*m));
	m->domid = nla_get_u32(tb[COKEEPER_MEMBER_A_DOMID]);
	m->state = nla_get_u8(tb[COKEEPER_MEMBER_A_STATE]);
	nla_memcpy(m->uuid, tb[COKEEPER_MEMBER_A_UUID], sizeof(m->uuid));
	nla_strscpy(m->name, tb[COKEEPER_MEMBER_A_NAME], sizeof(m->name));
	nla_for_each_nested(a, nest, rem) {
		if (nla_type(a) != COKEEPER_MEMBER_A_NIC)
			continue;
		if (m->n_nics == COKEEPER_NICS_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, a, "more than 8 NICs");
			return -EINVAL;
		}
		err = parse_nic(a, &m->nics[m->n_nics++], extack);
		if (err)
			return err;
	}
	return 0;
}
