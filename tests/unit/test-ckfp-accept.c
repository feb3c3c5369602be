// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path's acceptance test (kmod-hook/fastpath/accept.c), compiled as userspace with
 * kshim/ and cokeeper.ko's lookups stubbed over a small table: which frames a channel from
 * domain A to domain B may carry.  Both ends apply the same test, so each case holds for the
 * sender and the receiver.  Chiefly the address sources: an address dom0 has only from the
 * guest's claim is not owned, at either end; the other three are.
 */
#include "helpers.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "accept.h"
#include "cokeeper.h"
#include <uapi/linux/cokeeper.h>

#define A 1
#define B 2

struct key {
	bool mac; /* else an IPv4 address */
	uint8_t bytes[ETH_ALEN]; /* a MAC, or the address's 4 bytes in network order */
	uint32_t domid;
	uint8_t state;
	uint8_t source;
};

static const uint8_t mac_a[ETH_ALEN] = {0x00, 0x16, 0x3e, 0, 0, A};
static const uint8_t mac_b[ETH_ALEN] = {0x00, 0x16, 0x3e, 0, 0, B};
static const uint8_t mac_router[ETH_ALEN] = {0x00, 0x16, 0x3e, 0, 0, 0xfe};

/*
 * A owns 10.0.0.1, B owns 10.0.0.2 (the tests change their state and sources).  A MAC's
 * source is the toolstack's, as cokeeper.ko's lookups report it.
 */
static struct key table[] = {
	{true, {0x00, 0x16, 0x3e, 0, 0, A}, A, COKEEPER_STATE_RUNNING, COKEEPER_ADDR_TOOLSTACK},
	{true, {0x00, 0x16, 0x3e, 0, 0, B}, B, COKEEPER_STATE_RUNNING, COKEEPER_ADDR_TOOLSTACK},
	{false, {10, 0, 0, 1}, A, COKEEPER_STATE_RUNNING, COKEEPER_ADDR_TOOLSTACK},
	{false, {10, 0, 0, 2}, B, COKEEPER_STATE_RUNNING, COKEEPER_ADDR_TOOLSTACK},
};
#define IP_A (&table[2])
#define IP_B (&table[3])

static int find(bool mac, const void *bytes, struct cokeeper_peer *peer)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct key *k = &table[i];

		if (k->mac == mac && !memcmp(k->bytes, bytes, mac ? ETH_ALEN : 4)) {
			*peer = (struct cokeeper_peer){
				.domid = k->domid, .state = k->state, .addr_source = k->source};
			return 0;
		}
	}
	return -ENOENT;
}

int cokeeper_lookup_ipv4(__be32 addr, struct cokeeper_peer *peer)
{
	return find(false, &addr, peer);
}

int cokeeper_lookup_mac(const u8 *mac, struct cokeeper_peer *peer)
{
	return find(true, mac, peer);
}

static void reset(void)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		table[i].state = COKEEPER_STATE_RUNNING;
		table[i].source = COKEEPER_ADDR_TOOLSTACK;
	}
}

/* A's frame from 10.0.0.1 to daddr through dst's MAC, as the channel from A to B sees it. */
static bool carries(const uint8_t *dst, uint32_t daddr)
{
	struct ethhdr eth = {.h_proto = htobe16(ETH_P_IP)};
	struct iphdr iph = {
		.version = 4, .ihl = 5, .saddr = htobe32(0x0a000001), .daddr = htobe32(daddr)};

	memcpy(eth.h_dest, dst, ETH_ALEN);
	memcpy(eth.h_source, mac_a, ETH_ALEN);
	return ckfp_may_carry(&eth, &iph, A, B);
}

START_TEST(owned_by_both_ends)
{
	reset();
	ck_assert(carries(mac_b, 0x0a000002));
	/* The rules before sources still hold: the next hop's MAC, another's address. */
	ck_assert(!carries(mac_router, 0x0a000002));
	ck_assert(!carries(mac_b, 0x0a000001));
	ck_assert(!carries(mac_b, 0x0a000063));
	ck_assert(!carries(mac_b, 0xe0000001));
	IP_B->state = COKEEPER_STATE_MIGRATING_OUT;
	ck_assert(!carries(mac_b, 0x0a000002));
}
END_TEST

START_TEST(trusted_sources_are_owned)
{
	static const uint8_t trusted[] = {
		COKEEPER_ADDR_TOOLSTACK, COKEEPER_ADDR_ORCHESTRATOR, COKEEPER_ADDR_LEARNED};

	for (size_t i = 0; i < sizeof(trusted); i++) {
		for (size_t j = 0; j < sizeof(trusted); j++) {
			reset();
			IP_A->source = trusted[i];
			IP_B->source = trusted[j];
			ck_assert_msg(carries(mac_b, 0x0a000002), "sources %u to %u refused",
				trusted[i], trusted[j]);
		}
	}
}
END_TEST

/* The receiver's own address, as the sender's: a claim is no ownership at either end. */
START_TEST(claimed_address_takes_the_vif)
{
	reset();
	IP_B->source = COKEEPER_ADDR_CLAIMED;
	ck_assert(!carries(mac_b, 0x0a000002));
	reset();
	IP_A->source = COKEEPER_ADDR_CLAIMED;
	ck_assert(!carries(mac_b, 0x0a000002));
}
END_TEST

/* A source this module does not know (a newer cokeeper.ko's) is not trusted either. */
START_TEST(unknown_source_takes_the_vif)
{
	reset();
	IP_B->source = COKEEPER_ADDR_SOURCE_MAX + 1;
	ck_assert(!carries(mac_b, 0x0a000002));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ckfp-accept");

	th_add(s, owned_by_both_ends);
	th_add(s, trusted_sources_are_owned);
	th_add(s, claimed_address_takes_the_vif);
	th_add(s, unknown_source_takes_the_vif);
	return th_run(s);
}
