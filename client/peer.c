// SPDX-License-Identifier: LGPL-2.1-or-later
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "peer.h"

/* The public values are the lib's (and so the uapi's, lib/member.c): copied as they are. */
static_assert(CK_CLIENT_ADDR_TOOLSTACK == (int)CK_ADDR_TOOLSTACK &&
	      CK_CLIENT_ADDR_ORCHESTRATOR == (int)CK_ADDR_ORCHESTRATOR &&
	      CK_CLIENT_ADDR_LEARNED == (int)CK_ADDR_LEARNED &&
	      CK_CLIENT_ADDR_CLAIMED == (int)CK_ADDR_CLAIMED && CK_ADDR_SOURCE_MAX == 3,
	      "address sources differ from lib/member.h's");

void ck_peer_from_member(const struct ck_member *m, uint64_t tx_packets, uint64_t tx_bytes,
			 struct ck_client_peer *p)
{
	memset(p, 0, sizeof(*p));
	p->domid = m->domid;
	p->state = m->state;
	p->n_nics = m->n_nics;
	memcpy(p->uuid, m->uuid, sizeof(p->uuid));
	memcpy(p->name, m->name, sizeof(p->name));
	for (unsigned int i = 0; i < m->n_nics; i++) {
		memcpy(p->nics[i].mac, m->nics[i].mac, 6);
		p->nics[i].n_ipv4 = m->nics[i].n_ipv4;
		p->nics[i].n_ipv6 = m->nics[i].n_ipv6;
		for (unsigned int a = 0; a < m->nics[i].n_ipv4; a++)
			p->nics[i].ipv4[a].s_addr = htonl(m->nics[i].ipv4[a]);
		for (unsigned int a = 0; a < m->nics[i].n_ipv6; a++)
			memcpy(&p->nics[i].ipv6[a], m->nics[i].ipv6[a], 16);
		memcpy(p->ipv4_source[i], m->nics[i].ipv4_source, m->nics[i].n_ipv4);
		memcpy(p->ipv6_source[i], m->nics[i].ipv6_source, m->nics[i].n_ipv6);
	}
	p->tx_packets = tx_packets;
	p->tx_bytes = tx_bytes;
}

void ck_peer_to_member(const struct ck_client_peer *p, struct ck_member *m)
{
	memset(m, 0, sizeof(*m));
	m->domid = p->domid;
	m->state = p->state;
	m->n_nics = p->n_nics;
	memcpy(m->uuid, p->uuid, CK_UUID_LEN);
	memcpy(m->name, p->name, sizeof(m->name));
	for (unsigned int i = 0; i < p->n_nics; i++) {
		memcpy(m->nics[i].mac, p->nics[i].mac, CK_MAC_LEN);
		m->nics[i].n_ipv4 = p->nics[i].n_ipv4;
		m->nics[i].n_ipv6 = p->nics[i].n_ipv6;
		for (unsigned int a = 0; a < p->nics[i].n_ipv4; a++)
			m->nics[i].ipv4[a] = ntohl(p->nics[i].ipv4[a].s_addr);
		for (unsigned int a = 0; a < p->nics[i].n_ipv6; a++)
			memcpy(m->nics[i].ipv6[a], &p->nics[i].ipv6[a], CK_IPV6_LEN);
		memcpy(m->nics[i].ipv4_source, p->ipv4_source[i], p->nics[i].n_ipv4);
		memcpy(m->nics[i].ipv6_source, p->ipv6_source[i], p->nics[i].n_ipv6);
	}
}

/* A member may list an address twice: the most trusted copy counts, as for the kernel's lookups. */
static void consider(int *best, uint8_t source)
{
	if (*best < 0 || source < *best)
		*best = source;
}

int ck_client_peer_source(const struct ck_client_peer *peer, int family, const void *addr)
{
	int best = -ENOENT;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	for (unsigned int i = 0; i < peer->n_nics && i < CK_CLIENT_NICS_MAX; i++) {
		const struct ck_client_nic *n = &peer->nics[i];

		for (unsigned int a = 0; family == AF_INET && a < n->n_ipv4 && a < CK_CLIENT_ADDRS_MAX;
		     a++)
			if (!memcmp(&n->ipv4[a], addr, sizeof(n->ipv4[a])))
				consider(&best, peer->ipv4_source[i][a]);
		for (unsigned int a = 0; family == AF_INET6 && a < n->n_ipv6 && a < CK_CLIENT_ADDRS_MAX;
		     a++)
			if (!memcmp(&n->ipv6[a], addr, sizeof(n->ipv6[a])))
				consider(&best, peer->ipv6_source[i][a]);
	}
	return best;
}
