// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * client/peer.c: a member to the public struct ck_client_peer and back, the address sources
 * included, and ck_client_peer_source(), which tells one address's source from a peer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "helpers.h"
#include "peer.h"

START_TEST(sources_survive_the_round_trip)
{
	struct ck_client_peer p;
	struct ck_member m, back;
	uint32_t rng = 7;

	for (int i = 0; i < 300; i++) {
		th_random_member(&m, 1 + i, &rng);
		for (unsigned int n = 0; n < m.n_nics; n++) {
			for (unsigned int a = 0; a < m.nics[n].n_ipv4; a++)
				m.nics[n].ipv4_source[a] = th_below(&rng, CK_ADDR_SOURCE_MAX + 1);
			for (unsigned int a = 0; a < m.nics[n].n_ipv6; a++)
				m.nics[n].ipv6_source[a] = th_below(&rng, CK_ADDR_SOURCE_MAX + 1);
		}
		ck_peer_from_member(&m, 0, 0, &p);
		for (unsigned int n = 0; n < m.n_nics; n++)
			for (unsigned int a = 0; a < m.nics[n].n_ipv4; a++)
				ck_assert_uint_eq(p.ipv4_source[n][a], m.nics[n].ipv4_source[a]);
		ck_peer_to_member(&p, &back);
		ck_assert(ck_member_equal(&m, &back));
	}
}
END_TEST

/* Two NICs: 10.0.0.1 learned and 10.0.0.2 claimed, then 10.0.0.2 again (orchestrator's). */
static void two_nics(struct ck_client_peer *p)
{
	memset(p, 0, sizeof(*p));
	p->n_nics = 2;
	p->nics[0].n_ipv4 = 2;
	inet_pton(AF_INET, "10.0.0.1", &p->nics[0].ipv4[0]);
	inet_pton(AF_INET, "10.0.0.2", &p->nics[0].ipv4[1]);
	p->ipv4_source[0][0] = CK_CLIENT_ADDR_LEARNED;
	p->ipv4_source[0][1] = CK_CLIENT_ADDR_CLAIMED;
	p->nics[0].n_ipv6 = 1;
	inet_pton(AF_INET6, "fd00::1", &p->nics[0].ipv6[0]);
	p->ipv6_source[0][0] = CK_CLIENT_ADDR_CLAIMED;
	p->nics[1].n_ipv4 = 1;
	inet_pton(AF_INET, "10.0.0.2", &p->nics[1].ipv4[0]);
	p->ipv4_source[1][0] = CK_CLIENT_ADDR_ORCHESTRATOR;
}

START_TEST(peer_source_of_each_address)
{
	struct ck_client_peer p;
	struct in_addr a4;
	struct in6_addr a6;

	two_nics(&p);
	inet_pton(AF_INET, "10.0.0.1", &a4);
	ck_assert_int_eq(ck_client_peer_source(&p, AF_INET, &a4), CK_CLIENT_ADDR_LEARNED);
	inet_pton(AF_INET6, "fd00::1", &a6);
	ck_assert_int_eq(ck_client_peer_source(&p, AF_INET6, &a6), CK_CLIENT_ADDR_CLAIMED);
	/* Listed twice: the most trusted copy, as the kernel's lookup says. */
	inet_pton(AF_INET, "10.0.0.2", &a4);
	ck_assert_int_eq(ck_client_peer_source(&p, AF_INET, &a4), CK_CLIENT_ADDR_ORCHESTRATOR);
}
END_TEST

START_TEST(peer_source_of_no_address)
{
	struct ck_client_peer p;
	struct in_addr a4;
	struct in6_addr a6;

	two_nics(&p);
	inet_pton(AF_INET, "10.0.0.3", &a4);
	ck_assert_int_eq(ck_client_peer_source(&p, AF_INET, &a4), -ENOENT);
	/* An IPv4 address's bytes are no IPv6 address. */
	memset(&a6, 0, sizeof(a6));
	memcpy(&a6, &p.nics[0].ipv4[0], 4);
	ck_assert_int_eq(ck_client_peer_source(&p, AF_INET6, &a6), -ENOENT);
	ck_assert_int_eq(ck_client_peer_source(&p, AF_PACKET, &a4), -EAFNOSUPPORT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("peer");

	th_add(s, sources_survive_the_round_trip);
	th_add(s, peer_source_of_each_address);
	th_add(s, peer_source_of_no_address);
	return th_run(s);
}
