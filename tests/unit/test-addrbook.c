// SPDX-License-Identifier: LGPL-2.1-or-later
/* The address book's rules: each test fails without the rule it names. */
#include <errno.h>
#include <string.h>

#include "addrbook.h"
#include "helpers.h"

static const uint8_t mac_a[CK_MAC_LEN] = { 0, 0x16, 0x3e, 0, 0, 0xa };
static const uint8_t mac_b[CK_MAC_LEN] = { 0, 0x16, 0x3e, 0, 0, 0xb };
static const uint8_t uuid_a[CK_UUID_LEN] = { 0xa };

static struct ck_addr addr(const char *s)
{
	struct ck_addr a;

	ck_assert_int_eq(ck_addr_parse(s, &a), 0);
	return a;
}

/* A one-NIC member with mac, as a scan read it (no addresses). */
static struct ck_member member_with(const uint8_t mac[CK_MAC_LEN])
{
	struct ck_member m = { .domid = 1, .state = CK_MEMBER_RUNNING, .n_nics = 1 };

	memcpy(m.uuid, uuid_a, CK_UUID_LEN);
	memcpy(m.nics[0].mac, mac, CK_MAC_LEN);
	strcpy(m.name, "a");
	return m;
}

START_TEST(parse_refuses_what_no_nic_holds)
{
	struct ck_addr a;
	char s[46];

	ck_assert_int_eq(ck_addr_parse("0.0.0.0", &a), -EINVAL);
	ck_assert_int_eq(ck_addr_parse("0.1.2.3", &a), -EINVAL);
	ck_assert_int_eq(ck_addr_parse("224.0.0.1", &a), -EINVAL);
	ck_assert_int_eq(ck_addr_parse("255.255.255.255", &a), -EINVAL);
	ck_assert_int_eq(ck_addr_parse("::", &a), -EINVAL);
	ck_assert_int_eq(ck_addr_parse("ff02::1", &a), -EINVAL);
	ck_assert_int_eq(ck_addr_parse("10.0.0.256", &a), -EINVAL);
	ck_assert_int_eq(ck_addr_parse("", &a), -EINVAL);
	ck_assert_int_eq(ck_addr_parse("10.0.0.5", &a), 0);
	ck_assert_uint_eq(ck_addr_ipv4(&a), 0x0a000005);
	ck_addr_format(&a, s);
	ck_assert_str_eq(s, "10.0.0.5");
	ck_assert_int_eq(ck_addr_parse("fd00::5", &a), 0);
	ck_addr_format(&a, s);
	ck_assert_str_eq(s, "fd00::5");
}
END_TEST

START_TEST(orchestrator_set_get_clear_merge)
{
	struct ck_addrbook *b;
	struct ck_addr v[2 * CK_ADDRS_MAX + 1], got[2 * CK_ADDRS_MAX];
	struct ck_member m = member_with(mac_a);

	ck_assert_int_eq(ck_addrbook_new(&b), 0);
	for (unsigned int i = 0; i <= CK_ADDRS_MAX; i++)
		v[i] = ck_addr_from_ipv4(0x0a000001 + i);
	ck_assert_int_eq(ck_addrbook_set(b, uuid_a, NULL, v, CK_ADDRS_MAX + 1), -E2BIG);
	ck_assert_uint_eq(ck_addrbook_get(b, uuid_a, NULL, got), 0);
	v[1] = addr("fd00::1");
	ck_assert_int_eq(ck_addrbook_set(b, uuid_a, NULL, v, 2), 0);
	ck_assert_uint_eq(ck_addrbook_get(b, uuid_a, NULL, got), 2);
	ck_addrbook_merge(b, &m);
	ck_assert_uint_eq(m.nics[0].n_ipv4, 1);
	ck_assert_uint_eq(m.nics[0].ipv4_source[0], CK_ADDR_ORCHESTRATOR);
	ck_assert_uint_eq(m.nics[0].n_ipv6, 1);
	/* By MAC: only that NIC; a second NIC gets nothing of the first NIC's. */
	m = member_with(mac_a);
	m.n_nics = 2;
	memcpy(m.nics[1].mac, mac_b, CK_MAC_LEN);
	ck_assert_int_eq(ck_addrbook_set(b, uuid_a, mac_b, &v[2], 1), 0);
	ck_addrbook_merge(b, &m);
	ck_assert_uint_eq(m.nics[0].n_ipv4, 1);
	ck_assert_uint_eq(m.nics[1].n_ipv4, 1);
	ck_assert_uint_eq(m.nics[1].ipv4[0], 0x0a000003);
	ck_assert(ck_addrbook_clear(b, uuid_a));
	ck_assert(!ck_addrbook_clear(b, uuid_a));
	ck_assert_uint_eq(ck_addrbook_get(b, uuid_a, mac_b, got), 0);
	ck_addrbook_free(b);
}
END_TEST

/* A lease is the DHCP server's word: a new one replaces the MAC's, and takes it from others. */
START_TEST(leases_replace_and_take)
{
	struct ck_addrbook *b;
	struct ck_addr x = addr("10.0.0.5"), y = addr("10.0.0.6");
	uint8_t lost[CK_MAC_LEN] = { 0 };
	struct ck_member m;

	ck_assert_int_eq(ck_addrbook_new(&b), 0);
	ck_assert_int_eq(ck_addrbook_learn(b, mac_a, &x, CK_LEARNED_DHCP, 100, lost),
			 CK_LEARN_CHANGED);
	ck_assert_int_eq(ck_addrbook_learn(b, mac_a, &x, CK_LEARNED_DHCP, 200, lost),
			 CK_LEARN_SAME);
	ck_assert_uint_eq(ck_addrbook_next_expiry(b), 200);
	/* Renewed to y: x leaves a. */
	ck_assert_int_eq(ck_addrbook_learn(b, mac_a, &y, CK_LEARNED_DHCP, 300, lost),
			 CK_LEARN_CHANGED);
	m = member_with(mac_a);
	ck_addrbook_merge(b, &m);
	ck_assert_uint_eq(m.nics[0].n_ipv4, 1);
	ck_assert_uint_eq(m.nics[0].ipv4[0], 0x0a000006);
	ck_assert_uint_eq(m.nics[0].ipv4_source[0], CK_ADDR_LEARNED);
	/* b leases y: a loses it, and is named. */
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &y, CK_LEARNED_DHCP, 300, lost),
			 CK_LEARN_CHANGED);
	ck_assert_mem_eq(lost, mac_a, CK_MAC_LEN);
	m = member_with(mac_a);
	ck_addrbook_merge(b, &m);
	ck_assert_uint_eq(m.nics[0].n_ipv4, 0);
	/* x is free again: a (by ARP) may take it. */
	ck_assert_int_eq(ck_addrbook_learn(b, mac_a, &x, CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_CHANGED);
	ck_addrbook_free(b);
}
END_TEST

/* ARP and NDP: the first address nobody else learned, and nothing after. */
START_TEST(arp_first_and_never_taken)
{
	struct ck_addrbook *b;
	struct ck_addr x = addr("10.0.0.5"), y = addr("10.0.0.6"), v6 = addr("fd00::6");
	uint8_t lost[CK_MAC_LEN] = { 0 };
	struct ck_member m;

	ck_assert_int_eq(ck_addrbook_new(&b), 0);
	ck_assert_int_eq(ck_addrbook_learn(b, mac_a, &x, CK_LEARNED_DHCP, 100, lost),
			 CK_LEARN_CHANGED);
	/* b answering for a's address gets nothing. */
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &x, CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_TAKEN);
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &y, CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_CHANGED);
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &y, CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_SAME);
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &x, CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_HAS_ONE);
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &v6, CK_LEARNED_NDP, UINT64_MAX, lost),
			 CK_LEARN_CHANGED);
	/* Heard again: its expiry moves; one it learned otherwise says nothing of ARP's. */
	{
		uint64_t exp = 0;

		ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &y, CK_LEARNED_ARP, 5000, lost),
				 CK_LEARN_SAME);
		ck_assert(ck_addrbook_learned_expiry(b, mac_b, CK_LEARNED_ARP, &y, &exp));
		ck_assert_uint_eq(exp, 5000);
		ck_assert(!ck_addrbook_learned_expiry(b, mac_b, CK_LEARNED_ARP, &x, &exp));
		ck_assert(!ck_addrbook_learned_expiry(b, mac_a, CK_LEARNED_ARP, &x, &exp));
	}
	/* a answering ARP for its own lease keeps it a lease (it still expires). */
	ck_assert_int_eq(ck_addrbook_learn(b, mac_a, &x, CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_SAME);
	ck_assert_uint_eq(ck_addrbook_next_expiry(b), 100);
	m = member_with(mac_b);
	ck_addrbook_merge(b, &m);
	ck_assert_uint_eq(m.nics[0].n_ipv4, 1);
	ck_assert_uint_eq(m.nics[0].ipv4[0], 0x0a000006);
	ck_assert_uint_eq(m.nics[0].n_ipv6, 1);
	/* b's second ARP address: not taken, but b has its first. */
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &(struct ck_addr){ .bytes = { 10, 0, 0, 7 } },
					   CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_HAS_ONE);
	ck_addrbook_free(b);
}
END_TEST

static unsigned int expired_calls;
static uint8_t expired_mac[CK_MAC_LEN];

static void on_expired(const uint8_t mac[CK_MAC_LEN], void *userdata)
{
	expired_calls++;
	memcpy(expired_mac, mac, CK_MAC_LEN);
}

static bool has_uuid_a(const uint8_t uuid[CK_UUID_LEN], void *userdata)
{
	return !memcmp(uuid, uuid_a, CK_UUID_LEN);
}

static bool has_mac_b(const uint8_t mac[CK_MAC_LEN], void *userdata)
{
	return !memcmp(mac, mac_b, CK_MAC_LEN);
}

START_TEST(expiry_release_and_retain)
{
	struct ck_addrbook *b;
	struct ck_addr x = addr("10.0.0.5"), y = addr("10.0.0.6");
	uint8_t lost[CK_MAC_LEN] = { 0 }, other_uuid[CK_UUID_LEN] = { 0xb };

	ck_assert_int_eq(ck_addrbook_new(&b), 0);
	ck_addrbook_learn(b, mac_a, &x, CK_LEARNED_DHCP, 100, lost);
	ck_addrbook_learn(b, mac_b, &y, CK_LEARNED_DHCP, 200, lost);
	ck_addrbook_expire(b, 99, on_expired, NULL);
	ck_assert_uint_eq(expired_calls, 0);
	ck_addrbook_expire(b, 100, on_expired, NULL);
	ck_assert_uint_eq(expired_calls, 1);
	ck_assert_mem_eq(expired_mac, mac_a, CK_MAC_LEN);
	ck_assert_uint_eq(ck_addrbook_next_expiry(b), 200);
	/* Expired, x is free: another MAC's ARP may have it. */
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &x, CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_CHANGED);
	ck_assert(!ck_addrbook_unlearn_how(b, mac_b, CK_LEARNED_NDP));
	ck_assert(ck_addrbook_unlearn_how(b, mac_b, CK_LEARNED_DHCP));	/* a DHCPNAK */
	ck_assert(!ck_addrbook_unlearn_how(b, mac_b, CK_LEARNED_DHCP));
	ck_addrbook_learn(b, mac_b, &y, CK_LEARNED_DHCP, 200, lost);
	ck_assert(ck_addrbook_unlearn(b, mac_b, &y));	/* DHCPRELEASE */
	ck_assert(!ck_addrbook_unlearn(b, mac_b, &y));
	ck_assert_uint_eq(ck_addrbook_next_expiry(b), UINT64_MAX);
	/* Retain: a's MAC and the other uuid are gone. */
	ck_addrbook_learn(b, mac_a, &y, CK_LEARNED_DHCP, 300, lost);
	ck_addrbook_set(b, uuid_a, NULL, &x, 1);
	ck_addrbook_set(b, other_uuid, NULL, &y, 1);
	{
		uint64_t next;
		size_t ld;

		/* Missing from now (1000): kept through the grace (100), dropped at its end. */
		ck_assert_uint_eq(ck_addrbook_retain(b, has_uuid_a, has_mac_b, NULL, 1000, 100, &next, &ld), 0);
		ck_assert_uint_eq(next, 1100);
		ck_assert(ck_addrbook_clear(b, other_uuid));	/* still there */
		ck_addrbook_set(b, other_uuid, NULL, &y, 1);
		ck_assert_uint_eq(ck_addrbook_retain(b, has_uuid_a, has_mac_b, NULL, 1050, 100, &next, &ld), 0);
		ck_assert_uint_eq(next, 1100);	/* mac_a's; other_uuid's, set anew, from 1050 */
		ck_assert_uint_eq(ck_addrbook_retain(b, has_uuid_a, has_mac_b, NULL, 1100, 100, &next, &ld), 0);
		ck_assert_uint_eq(next, 1150);	/* mac_a's lease went at 1100 */
		ck_assert_uint_eq(ld, 1);
		ck_assert_uint_eq(ck_addrbook_retain(b, has_uuid_a, has_mac_b, NULL, 1150, 100, &next, &ld), 1);
		ck_assert_uint_eq(next, UINT64_MAX);
	}
	ck_assert(!ck_addrbook_unlearn(b, mac_a, NULL));
	ck_assert(ck_addrbook_unlearn(b, mac_b, NULL));
	ck_assert(ck_addrbook_clear(b, uuid_a));
	ck_assert(!ck_addrbook_clear(b, other_uuid));
	/* y, a's lease before, is free again. */
	ck_assert_int_eq(ck_addrbook_learn(b, mac_b, &y, CK_LEARNED_ARP, UINT64_MAX, lost),
			 CK_LEARN_CHANGED);
	ck_addrbook_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addrbook");

	th_add(s, parse_refuses_what_no_nic_holds);
	th_add(s, orchestrator_set_get_clear_merge);
	th_add(s, leases_replace_and_take);
	th_add(s, arp_first_and_never_taken);
	th_add(s, expiry_release_and_retain);
	return th_run(s);
}
