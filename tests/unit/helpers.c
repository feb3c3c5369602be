// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

uint32_t th_rand(uint32_t *s)
{
	uint32_t x = *s ? *s : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

uint32_t th_below(uint32_t *s, uint32_t bound)
{
	return bound ? th_rand(s) % bound : 0;
}

static void set_mac(uint8_t mac[CK_MAC_LEN], uint16_t domid, unsigned int nic)
{
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;
	mac[3] = nic;
	mac[4] = domid >> 8;
	mac[5] = domid;
}

void th_member(struct ck_member *m, uint16_t domid, unsigned int variant)
{
	memset(m, 0, sizeof(*m));
	m->domid = domid;
	m->state = CK_MEMBER_RUNNING;
	for (unsigned int i = 0; i < CK_UUID_LEN; i++)
		m->uuid[i] = (uint8_t)(domid * 31 + i);
	snprintf(m->name, sizeof(m->name), "vm-%u", domid);
	m->n_nics = 1;
	set_mac(m->nics[0].mac, domid, 0);
	m->nics[0].n_ipv4 = 1;
	m->nics[0].ipv4[0] = 0x0a000000u | ((uint32_t)domid << 8) | (variant & 0xff) | 1;
}

void th_random_member(struct ck_member *m, uint16_t domid, uint32_t *rng)
{
	th_member(m, domid, th_rand(rng));
	if (th_below(rng, 4) == 0)
		m->state = CK_MEMBER_MIGRATING_OUT;
	snprintf(m->name, sizeof(m->name), "guest-%u-%u", domid, th_below(rng, 1000));
	m->n_nics = th_below(rng, CK_NICS_MAX + 1);
	for (unsigned int i = 0; i < m->n_nics; i++) {
		struct ck_nic *nic = &m->nics[i];

		set_mac(nic->mac, domid, i);
		nic->n_ipv4 = th_below(rng, CK_ADDRS_MAX + 1);
		for (unsigned int a = 0; a < nic->n_ipv4; a++)
			nic->ipv4[a] = 0x0a000000u | (th_rand(rng) & 0xffffff) | 1;
		nic->n_ipv6 = th_below(rng, 3);
		for (unsigned int a = 0; a < nic->n_ipv6; a++) {
			nic->ipv6[a][0] = 0xfd;
			for (unsigned int b = 1; b < CK_IPV6_LEN; b++)
				nic->ipv6[a][b] = th_rand(rng);
		}
	}
}

void th_max_member(struct ck_member *m, uint16_t domid)
{
	th_member(m, domid, 0);
	memset(m->name, 'x', CK_NAME_MAX);
	m->name[CK_NAME_MAX] = '\0';
	m->n_nics = CK_NICS_MAX;
	for (unsigned int i = 0; i < CK_NICS_MAX; i++) {
		struct ck_nic *nic = &m->nics[i];

		set_mac(nic->mac, domid, i);
		nic->n_ipv4 = CK_ADDRS_MAX;
		nic->n_ipv6 = CK_ADDRS_MAX;
		for (unsigned int a = 0; a < CK_ADDRS_MAX; a++) {
			nic->ipv4[a] = 0xffffffffu - a;	/* largest varint-free fixed32 anyway */
			memset(nic->ipv6[a], 0xff, CK_IPV6_LEN);
			/* Not the toolstack's: the sources go on the wire too. */
			nic->ipv4_source[a] = CK_ADDR_CLAIMED;
			nic->ipv6_source[a] = CK_ADDR_CLAIMED;
		}
	}
}

struct ck_memberset *th_random_set(uint32_t *rng, size_t max, uint16_t domid_space)
{
	struct ck_memberset *set;
	size_t n = th_below(rng, max + 1);

	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (size_t i = 0; i < n; i++) {
		struct ck_member m;

		th_random_member(&m, th_below(rng, domid_space), rng);
		ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	}
	return set;
}

int th_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
