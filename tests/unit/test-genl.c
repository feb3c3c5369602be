// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A member as client/genl.c puts it into a request (the agent's writes) and parses it from
 * the kernel's replies, dumps and notifications (libcokeeper-client's reads), without a
 * kernel: golden bytes for a NIC, round trips, and the address sources' rules of
 * include/uapi/linux/cokeeper.h (one byte per address, IPv4s' then IPv6s', absent = all the
 * toolstack's, any other length or an unknown source -EBADMSG).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "genl.h"
#include "helpers.h"
#include "linux/cokeeper.h"

#define FAMILY 0x20

static struct nl_msg *new_msg(void)
{
	struct ck_genl g = { .family = FAMILY };
	struct nl_msg *msg = ck_genl_msg(&g, COKEEPER_CMD_MEMBER_SET, 0, 1 << 16);

	ck_assert_ptr_nonnull(msg);
	return msg;
}

/* The message's first attribute: the member nest. */
static struct nlattr *first_attr(struct nl_msg *msg)
{
	return genlmsg_attrdata(nlmsg_data(nlmsg_hdr(msg)), 0);
}

static struct nl_msg *put(const struct ck_member *m)
{
	struct nl_msg *msg = new_msg();

	ck_assert_int_eq(ck_genl_put_member(msg, COKEEPER_A_MEMBER, m), 0);
	return msg;
}

/* One NIC: 00:16:3e:00:00:05, 10.0.0.5 and fd00::5. */
static void small_member(struct ck_member *m, uint8_t source4, uint8_t source6)
{
	th_member(m, 5, 0);
	memcpy(m->nics[0].mac, "\x00\x16\x3e\x00\x00\x05", CK_MAC_LEN);
	m->nics[0].ipv4[0] = 0x0a000005;
	m->nics[0].ipv4_source[0] = source4;
	m->nics[0].n_ipv6 = 1;
	inet_pton(AF_INET6, "fd00::5", m->nics[0].ipv6[0]);
	m->nics[0].ipv6_source[0] = source6;
}

/* The payload of the member's (first) NIC nest. */
static struct nlattr *nic_of(struct nl_msg *msg)
{
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, first_attr(msg), rem)
		if (nla_type(a) == COKEEPER_MEMBER_A_NIC)
			return a;
	ck_abort_msg("no NIC nest");
	return NULL;
}

/* An attribute header as a little-endian host writes it (netlink is in host order). */
#define H(len, type) (len) & 0xff, (len) >> 8, (type) & 0xff, (type) >> 8
#define V6_5 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5

START_TEST(golden_nic_with_sources)
{
	static const uint8_t want[] = {
		H(10, COKEEPER_NIC_A_MAC), 0x00, 0x16, 0x3e, 0x00, 0x00, 0x05, 0, 0,
		H(8, COKEEPER_NIC_A_IPV4), 10, 0, 0, 5,
		H(20, COKEEPER_NIC_A_IPV6), V6_5,
		/* learned, then toolstack: the IPv4 address's, then the IPv6 one's */
		H(6, COKEEPER_NIC_A_SOURCES), COKEEPER_ADDR_LEARNED, COKEEPER_ADDR_TOOLSTACK, 0, 0,
	};
	struct ck_member m;
	struct nl_msg *msg;
	struct nlattr *nic;

	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		return;
	small_member(&m, CK_ADDR_LEARNED, CK_ADDR_TOOLSTACK);
	msg = put(&m);
	nic = nic_of(msg);
	ck_assert_int_eq(nla_len(nic), sizeof(want));
	ck_assert_mem_eq(nla_data(nic), want, sizeof(want));
	nlmsg_free(msg);
}
END_TEST

/* Every address the toolstack's: no SOURCES, the bytes of an agent from before them. */
START_TEST(golden_nic_without_sources)
{
	static const uint8_t want[] = {
		H(10, COKEEPER_NIC_A_MAC), 0x00, 0x16, 0x3e, 0x00, 0x00, 0x05, 0, 0,
		H(8, COKEEPER_NIC_A_IPV4), 10, 0, 0, 5,
		H(20, COKEEPER_NIC_A_IPV6), V6_5,
	};
	struct ck_member m;
	struct nl_msg *msg;
	struct nlattr *nic;

	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		return;
	small_member(&m, CK_ADDR_TOOLSTACK, CK_ADDR_TOOLSTACK);
	msg = put(&m);
	nic = nic_of(msg);
	ck_assert_int_eq(nla_len(nic), sizeof(want));
	ck_assert_mem_eq(nla_data(nic), want, sizeof(want));
	nlmsg_free(msg);
}
END_TEST

static void round_trip(const struct ck_member *m)
{
	struct nl_msg *msg = put(m);
	struct ck_member back;

	/* What the agent sizes a table replace's message by. */
	ck_assert_uint_eq(ck_genl_member_size(m), nla_total_size(nla_len(first_attr(msg))));

	ck_assert_int_eq(ck_genl_parse_member(first_attr(msg), &back, NULL, NULL), 0);
	ck_assert_msg(ck_member_equal(m, &back), "domid %u changed on the way", m->domid);
	nlmsg_free(msg);
}

START_TEST(round_trip_sources)
{
	struct ck_member m;
	uint32_t rng = 22;

	th_max_member(&m, 3);	/* every address CLAIMED */
	round_trip(&m);
	for (int i = 0; i < 500; i++) {
		th_random_member(&m, 1 + i, &rng);
		for (unsigned int n = 0; n < m.n_nics; n++) {
			for (unsigned int a = 0; a < m.nics[n].n_ipv4; a++)
				m.nics[n].ipv4_source[a] = th_below(&rng, CK_ADDR_SOURCE_MAX + 1);
			for (unsigned int a = 0; a < m.nics[n].n_ipv6; a++)
				m.nics[n].ipv6_source[a] = th_below(&rng, CK_ADDR_SOURCE_MAX + 1);
		}
		round_trip(&m);
	}
}
END_TEST

/*
 * A member nest as a kernel could send it: one NIC with n4 IPv4 and n6 IPv6 addresses and
 * SOURCES of len bytes from src (none if len < 0), first or last in the NIC as early says.
 */
static struct nl_msg *raw(int n4, int n6, const uint8_t *src, int len, bool early)
{
	static const uint8_t uuid[CK_UUID_LEN] = { 1 }, mac[CK_MAC_LEN] = { 0, 0x16, 0x3e, 0, 0, 9 };
	struct nl_msg *msg = new_msg();
	struct nlattr *member, *nic;
	uint8_t v6[CK_IPV6_LEN] = { 0xfd };

	member = nla_nest_start(msg, COKEEPER_A_MEMBER);
	ck_assert_int_eq(nla_put_u32(msg, COKEEPER_MEMBER_A_DOMID, 9), 0);
	ck_assert_int_eq(nla_put(msg, COKEEPER_MEMBER_A_UUID, CK_UUID_LEN, uuid), 0);
	ck_assert_int_eq(nla_put_string(msg, COKEEPER_MEMBER_A_NAME, "nine"), 0);
	ck_assert_int_eq(nla_put_u8(msg, COKEEPER_MEMBER_A_STATE, CK_MEMBER_RUNNING), 0);
	nic = nla_nest_start(msg, COKEEPER_MEMBER_A_NIC);
	if (early && len >= 0)
		ck_assert_int_eq(nla_put(msg, COKEEPER_NIC_A_SOURCES, len, src), 0);
	ck_assert_int_eq(nla_put(msg, COKEEPER_NIC_A_MAC, CK_MAC_LEN, mac), 0);
	for (int i = 0; i < n4; i++)
		ck_assert_int_eq(nla_put_u32(msg, COKEEPER_NIC_A_IPV4, htonl(0x0a000101 + i)), 0);
	for (int i = 0; i < n6; i++) {
		v6[15] = i + 1;
		ck_assert_int_eq(nla_put(msg, COKEEPER_NIC_A_IPV6, CK_IPV6_LEN, v6), 0);
	}
	if (!early && len >= 0)
		ck_assert_int_eq(nla_put(msg, COKEEPER_NIC_A_SOURCES, len, src), 0);
	nla_nest_end(msg, nic);
	nla_nest_end(msg, member);
	return msg;
}

static int parse(struct nl_msg *msg, struct ck_member *m)
{
	int r = ck_genl_parse_member(first_attr(msg), m, NULL, NULL);

	nlmsg_free(msg);
	return r;
}

/* For a module of family version 1: no SOURCES, and no claimed address at all. */
START_TEST(old_module_gets_no_sources_and_no_claims)
{
	struct nl_msg *msg = new_msg();
	struct ck_member m, got;

	small_member(&m, CK_ADDR_LEARNED, CK_ADDR_CLAIMED);
	ck_assert_int_eq(ck_genl_put_member_for(msg, COKEEPER_A_MEMBER, &m, 1), 0);
	ck_assert_int_eq(ck_genl_parse_member(first_attr(msg), &got, NULL, NULL), 0);
	ck_assert_uint_eq(got.nics[0].n_ipv4, 1);
	ck_assert_uint_eq(got.nics[0].ipv4_source[0], CK_ADDR_TOOLSTACK);	/* as it says */
	ck_assert_uint_eq(got.nics[0].n_ipv6, 0);				/* the claim */
	nlmsg_free(msg);
}
END_TEST

START_TEST(parse_without_sources_is_all_toolstack)
{
	struct ck_member m;

	ck_assert_int_eq(parse(raw(2, 1, NULL, -1, false), &m), 0);
	ck_assert_uint_eq(m.nics[0].n_ipv4, 2);
	ck_assert_uint_eq(m.nics[0].ipv4_source[0], CK_ADDR_TOOLSTACK);
	ck_assert_uint_eq(m.nics[0].ipv4_source[1], CK_ADDR_TOOLSTACK);
	ck_assert_uint_eq(m.nics[0].ipv6_source[0], CK_ADDR_TOOLSTACK);
}
END_TEST

/* IPv4s' first, then IPv6s', wherever SOURCES sits among them. */
START_TEST(parse_sources_in_order)
{
	static const uint8_t src[] = { CK_ADDR_LEARNED, CK_ADDR_CLAIMED, CK_ADDR_ORCHESTRATOR };
	struct ck_member m;

	for (int early = 0; early <= 1; early++) {
		ck_assert_int_eq(parse(raw(2, 1, src, 3, early), &m), 0);
		ck_assert_uint_eq(m.nics[0].ipv4_source[0], CK_ADDR_LEARNED);
		ck_assert_uint_eq(m.nics[0].ipv4_source[1], CK_ADDR_CLAIMED);
		ck_assert_uint_eq(m.nics[0].ipv6_source[0], CK_ADDR_ORCHESTRATOR);
	}
}
END_TEST

START_TEST(parse_rejects_bad_sources)
{
	static const uint8_t src[] = { CK_ADDR_LEARNED, CK_ADDR_CLAIMED, CK_ADDR_LEARNED, 0 };
	static const uint8_t unknown[] = { CK_ADDR_LEARNED, CK_ADDR_SOURCE_MAX + 1, 0 };
	struct ck_member m;

	ck_assert_int_eq(parse(raw(2, 1, src, 2, false), &m), -EBADMSG);	/* too few */
	ck_assert_int_eq(parse(raw(2, 1, src, 4, false), &m), -EBADMSG);	/* too many */
	ck_assert_int_eq(parse(raw(0, 0, src, 0, false), &m), 0);	/* none for none */
	ck_assert_int_eq(parse(raw(0, 0, src, 1, true), &m), -EBADMSG);
	ck_assert_int_eq(parse(raw(2, 1, unknown, 3, false), &m), -EBADMSG);
	ck_assert_int_eq(parse(raw(2, 1, unknown, 3, true), &m), -EBADMSG);
}
END_TEST

START_TEST(parse_rejects_sources_twice)
{
	static const uint8_t src[] = { CK_ADDR_LEARNED };
	struct nl_msg *msg = raw(1, 0, src, 1, true);
	struct nlattr *nic = nic_of(msg);

	/* A second SOURCES inside the same NIC, which ends the member: both nests grow. */
	ck_assert_int_eq(nla_put(msg, COKEEPER_NIC_A_SOURCES, 1, src), 0);
	nic->nla_len += NLA_HDRLEN + NLA_ALIGN(1);
	first_attr(msg)->nla_len += NLA_HDRLEN + NLA_ALIGN(1);
	ck_assert_int_eq(parse(msg, &(struct ck_member){ 0 }), -EBADMSG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("genl");

	th_add(s, golden_nic_with_sources);
	th_add(s, golden_nic_without_sources);
	th_add(s, round_trip_sources);
	th_add(s, old_module_gets_no_sources_and_no_claims);
	th_add(s, parse_without_sources_is_all_toolstack);
	th_add(s, parse_sources_in_order);
	th_add(s, parse_rejects_bad_sources);
	th_add(s, parse_rejects_sources_twice);
	return th_run(s);
}
