// SPDX-License-Identifier: LGPL-2.1-or-later
#include <arpa/inet.h>
#include <string.h>

#include "peer.h"

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
	}
}
