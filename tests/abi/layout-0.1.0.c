// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * struct ck_client_peer as libcokeeper-client 0.1.0's header declared it, frozen here, against
 * the installed header's: every field a program built then reads must be where it was, and
 * the old struct must end where the fields added since begin, which is all the
 * COKEEPER_CLIENT_0 lookups write (client.c).  A field inserted before the end, or one that
 * changes type, fails this at compile time.
 */
#include <assert.h>
#include <stddef.h>

#include <cokeeper-client.h>

struct nic_0_1_0 {
	uint8_t mac[6];
	uint8_t n_ipv4, n_ipv6;
	struct in_addr ipv4[8];
	struct in6_addr ipv6[8];
};

struct peer_0_1_0 {
	uint16_t domid;
	uint8_t state;
	uint8_t n_nics;
	uint8_t uuid[16];
	char name[64 + 1];
	struct nic_0_1_0 nics[8];
	uint64_t tx_packets, tx_bytes;
};

#define SAME(old, new, field)                                                               \
	static_assert(offsetof(struct old, field) == offsetof(struct new, field) &&            \
			      sizeof(((struct old *)0)->field) == sizeof(((struct new *)0)->field), \
		      #field " moved")

SAME(nic_0_1_0, ck_client_nic, mac);
SAME(nic_0_1_0, ck_client_nic, n_ipv4);
SAME(nic_0_1_0, ck_client_nic, n_ipv6);
SAME(nic_0_1_0, ck_client_nic, ipv4);
SAME(nic_0_1_0, ck_client_nic, ipv6);
static_assert(sizeof(struct nic_0_1_0) == sizeof(struct ck_client_nic), "the NIC grew");

SAME(peer_0_1_0, ck_client_peer, domid);
SAME(peer_0_1_0, ck_client_peer, state);
SAME(peer_0_1_0, ck_client_peer, n_nics);
SAME(peer_0_1_0, ck_client_peer, uuid);
SAME(peer_0_1_0, ck_client_peer, name);
SAME(peer_0_1_0, ck_client_peer, nics);
SAME(peer_0_1_0, ck_client_peer, tx_packets);
SAME(peer_0_1_0, ck_client_peer, tx_bytes);
static_assert(sizeof(struct peer_0_1_0) == offsetof(struct ck_client_peer, ipv4_source),
	      "0.1.0's peer does not end where the address sources begin");

int main(void)
{
	return 0;
}
