// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <string.h>

#include "helpers.h"

START_TEST(equal_ignores_unused_slots)
{
	struct ck_member a, b;

	th_member(&a, 7, 0);
	b = a;
	/* Garbage past the counts must not make two equal members differ. */
	b.nics[3].mac[0] = 0x42;
	b.nics[0].ipv4[5] = 99;
	memset(b.nics[0].ipv6, 0xaa, sizeof(b.nics[0].ipv6));
	ck_assert(ck_member_equal(&a, &b));
}
END_TEST

START_TEST(equal_sees_every_field)
{
	struct ck_member a, b;

	th_member(&a, 7, 0);
	b = a;
	b.state = CK_MEMBER_MIGRATING_OUT;
	ck_assert(!ck_member_equal(&a, &b));
	b = a;
	b.uuid[15] ^= 1;
	ck_assert(!ck_member_equal(&a, &b));
	b = a;
	strcpy(b.name, "other");
	ck_assert(!ck_member_equal(&a, &b));
	b = a;
	b.nics[0].ipv4[0]++;
	ck_assert(!ck_member_equal(&a, &b));
	b = a;
	b.nics[0].mac[5] ^= 2;
	ck_assert(!ck_member_equal(&a, &b));
	b = a;
	b.nics[0].n_ipv6 = 1;
	ck_assert(!ck_member_equal(&a, &b));
	b = a;
	b.nics[0].ipv4_source[0] = CK_ADDR_LEARNED;
	ck_assert(!ck_member_equal(&a, &b));
}
END_TEST

START_TEST(name_rules)
{
	char longest[CK_NAME_MAX + 1];

	memset(longest, 'a', sizeof(longest));
	ck_assert(ck_name_valid("web-1", 5));
	ck_assert(ck_name_valid(longest, CK_NAME_MAX));
	ck_assert(!ck_name_valid(longest, CK_NAME_MAX + 1));
	ck_assert(!ck_name_valid("", 0));
	ck_assert(!ck_name_valid("a\nb", 3));
	ck_assert(!ck_name_valid("\x1b[2J", 4));
	ck_assert(!ck_name_valid("caf\xc3\xa9", 5));
}
END_TEST

START_TEST(mac_rules)
{
	const uint8_t good[CK_MAC_LEN] = { 0x00, 0x16, 0x3e, 0x01, 0x02, 0x03 };
	const uint8_t group[CK_MAC_LEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	const uint8_t zero[CK_MAC_LEN] = { 0 };

	ck_assert(ck_mac_valid(good));
	ck_assert(!ck_mac_valid(group));
	ck_assert(!ck_mac_valid(zero));
}
END_TEST

START_TEST(check_rejects_out_of_range)
{
	struct ck_member m;

	th_member(&m, 1, 0);
	ck_assert_int_eq(ck_member_check(&m), 0);
	m.domid = CK_DOMID_LIMIT;
	ck_assert_int_eq(ck_member_check(&m), -EINVAL);
	th_member(&m, 1, 0);
	m.state = CK_MEMBER_UNSPEC;
	ck_assert_int_eq(ck_member_check(&m), -EINVAL);
	m.state = CK_MEMBER_STATE_MAX + 1;
	ck_assert_int_eq(ck_member_check(&m), -EINVAL);
	th_member(&m, 1, 0);
	m.n_nics = CK_NICS_MAX + 1;
	ck_assert_int_eq(ck_member_check(&m), -EINVAL);
	th_member(&m, 1, 0);
	m.nics[0].n_ipv4 = CK_ADDRS_MAX + 1;
	ck_assert_int_eq(ck_member_check(&m), -EINVAL);
	th_member(&m, 1, 0);
	m.nics[0].ipv4[0] = 0;
	ck_assert_int_eq(ck_member_check(&m), -EINVAL);
	th_member(&m, 1, 0);
	memset(m.name, 'n', sizeof(m.name));	/* no terminating NUL */
	ck_assert_int_eq(ck_member_check(&m), -EINVAL);
}
END_TEST

/* One address once, at the most trusted source it came from; a full NIC keeps dom0's. */
START_TEST(add_address_keeps_the_most_trusted)
{
	struct ck_nic nic = { 0 };
	uint8_t v6[CK_IPV6_LEN] = { 0xfd, [15] = 1 };

	ck_assert_int_eq(ck_nic_add_ipv4(&nic, 0x0a000001, CK_ADDR_CLAIMED), 0);
	ck_assert_int_eq(ck_nic_add_ipv4(&nic, 0x0a000001, CK_ADDR_ORCHESTRATOR), 0);
	ck_assert_uint_eq(nic.n_ipv4, 1);
	ck_assert_uint_eq(nic.ipv4_source[0], CK_ADDR_ORCHESTRATOR);
	ck_assert_int_eq(ck_nic_add_ipv4(&nic, 0x0a000001, CK_ADDR_LEARNED), 0);
	ck_assert_uint_eq(nic.ipv4_source[0], CK_ADDR_ORCHESTRATOR);
	for (uint32_t a = 2; a <= CK_ADDRS_MAX; a++)
		ck_assert_int_eq(ck_nic_add_ipv4(&nic, 0x0a000000 + a, CK_ADDR_CLAIMED), 0);
	ck_assert_uint_eq(nic.n_ipv4, CK_ADDRS_MAX);
	/* Full: a claim finds no room, a learned address takes a claim's place. */
	ck_assert_int_eq(ck_nic_add_ipv4(&nic, 0x0a000063, CK_ADDR_CLAIMED), -ENOSPC);
	ck_assert_int_eq(ck_nic_add_ipv4(&nic, 0x0a000064, CK_ADDR_LEARNED), 0);
	ck_assert_uint_eq(nic.n_ipv4, CK_ADDRS_MAX);
	ck_assert_uint_eq(nic.ipv4[0], 0x0a000001);
	ck_assert_uint_eq(nic.ipv4[1], 0x0a000064);
	ck_assert_uint_eq(nic.ipv4_source[1], CK_ADDR_LEARNED);

	ck_assert_int_eq(ck_nic_add_ipv6(&nic, v6, CK_ADDR_LEARNED), 0);
	ck_assert_int_eq(ck_nic_add_ipv6(&nic, v6, CK_ADDR_TOOLSTACK), 0);
	ck_assert_uint_eq(nic.n_ipv6, 1);
	ck_assert_uint_eq(nic.ipv6_source[0], CK_ADDR_TOOLSTACK);
	ck_assert_str_eq(ck_addr_source_name(CK_ADDR_LEARNED), "learned");
	ck_assert_int_eq(ck_addr_source_parse("orchestrator"), CK_ADDR_ORCHESTRATOR);
	ck_assert_int_eq(ck_addr_source_parse("dhcp"), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("member");

	th_add(s, equal_ignores_unused_slots);
	th_add(s, equal_sees_every_field);
	th_add(s, name_rules);
	th_add(s, mac_rules);
	th_add(s, check_rejects_out_of_range);
	th_add(s, add_address_keeps_the_most_trusted);
	return th_run(s);
}
