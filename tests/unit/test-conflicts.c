// SPDX-License-Identifier: GPL-2.0-only
/*
 * conflicts.c against a naive model: the scan's former pairwise comparison of every two
 * members, kept here verbatim as the definition of the rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflicts.h"
#include "helpers.h"

#define SLOTS 600	/* domids 1..SLOTS-1 */

/* The model: what scan.c did before the indexes (its ties, its zeroing, its order). */
static void model_drop_shared_mac(struct ck_nic *nic, const struct ck_nic *other,
				  unsigned int *n)
{
	if (ck_mac_valid(nic->mac) && memcmp(nic->mac, other->mac, CK_MAC_LEN) == 0) {
		memset(nic->mac, 0, CK_MAC_LEN);
		(*n)++;
	}
}

static bool model_trust_claimed;

/* An address as a key: v4 or v6 bytes, zero-padded; false if it is no key. */
static bool model_addr(const struct ck_nic *nic, bool v6, unsigned int a, uint8_t key[17],
		       uint8_t *rank)
{
	static const uint8_t zero6[CK_IPV6_LEN];
	uint8_t src = v6 ? nic->ipv6_source[a] : nic->ipv4_source[a];

	memset(key, 0, 17);
	key[0] = v6;
	if (v6 ? !memcmp(nic->ipv6[a], zero6, CK_IPV6_LEN) : !nic->ipv4[a])
		return false;
	if (src == CK_ADDR_CLAIMED && !model_trust_claimed)
		return false;
	if (v6)
		memcpy(key + 1, nic->ipv6[a], CK_IPV6_LEN);
	else
		memcpy(key + 1, &nic->ipv4[a], 4);
	*rank = src;
	return true;
}

/*
 * The owner of key among the kept members, naively: the one domid holding it at the best
 * rank any holds it at; -1 for two such domids.
 */
static int model_owner(const struct ck_member *v, size_t kept, const uint8_t key[17])
{
	int best = 99, owner = -1;
	bool tie = false;

	for (size_t j = 0; j < kept; j++)
		for (unsigned int l = 0; l < v[j].n_nics; l++)
			for (int f = 0; f < 2; f++)
				for (unsigned int b = 0;
				     b < (f ? v[j].nics[l].n_ipv6 : v[j].nics[l].n_ipv4); b++) {
					uint8_t k2[17], rank;

					if (!model_addr(&v[j].nics[l], f, b, k2, &rank) ||
					    memcmp(k2, key, 17))
						continue;
					if (rank < best) {
						best = rank;
						owner = v[j].domid;
						tie = false;
					} else if (rank == best && v[j].domid != owner) {
						tie = true;
					}
				}
	return tie ? -1 : owner;
}

static bool model_superseded(const struct ck_member *a, const struct ck_member *b)
{
	if (memcmp(a->uuid, b->uuid, CK_UUID_LEN) != 0)
		return false;
	if (a->state != b->state)
		return a->state == CK_MEMBER_MIGRATING_OUT;
	return a->domid < b->domid;
}

static void model_compact(struct ck_member *m)
{
	static const uint8_t zero6[CK_IPV6_LEN];
	unsigned int nics = 0;

	for (unsigned int k = 0; k < m->n_nics; k++) {
		struct ck_nic nic = m->nics[k];
		unsigned int n4 = 0, n6 = 0;

		if (!ck_mac_valid(nic.mac))
			continue;
		for (unsigned int a = 0; a < nic.n_ipv4; a++)
			if (nic.ipv4[a]) {
				nic.ipv4_source[n4] = nic.ipv4_source[a];
				nic.ipv4[n4++] = nic.ipv4[a];
			}
		for (unsigned int a = 0; a < nic.n_ipv6; a++)
			if (memcmp(nic.ipv6[a], zero6, CK_IPV6_LEN)) {
				nic.ipv6_source[n6] = nic.ipv6_source[a];
				memcpy(nic.ipv6[n6++], nic.ipv6[a], CK_IPV6_LEN);
			}
		nic.n_ipv4 = n4;
		nic.n_ipv6 = n6;
		m->nics[nics++] = nic;
	}
	m->n_nics = nics;
}

/* raw[d].domid == d for members, 0 for none; out[d] likewise after resolving. */
static unsigned int model(const struct ck_member *raw, struct ck_member *out)
{
	static struct ck_member v[SLOTS];
	static bool drop[SLOTS];
	unsigned int conflicts = 0;
	size_t n = 0, kept = 0;

	for (unsigned int d = 1; d < SLOTS; d++)
		if (raw[d].domid)
			v[n++] = raw[d];
	for (size_t i = 0; i < n; i++) {
		drop[i] = false;
		for (size_t j = 0; j < n && !drop[i]; j++)
			drop[i] = j != i && model_superseded(&v[i], &v[j]);
	}
	for (size_t i = 0; i < n; i++) {
		if (drop[i])
			conflicts++;
		else
			v[kept++] = v[i];
	}
	/* Owners first, from the members before anything is zeroed. */
	static struct ck_member orig[SLOTS];
	memcpy(orig, v, kept * sizeof(*v));
	for (size_t i = 0; i < kept; i++)
		for (unsigned int k = 0; k < v[i].n_nics; k++) {
			struct ck_nic *nic = &v[i].nics[k];

			for (int f = 0; f < 2; f++)
				for (unsigned int a = 0; a < (f ? nic->n_ipv6 : nic->n_ipv4); a++) {
					uint8_t key[17], rank;
					uint8_t src = f ? nic->ipv6_source[a] : nic->ipv4_source[a];

					if (!model_addr(&orig[i].nics[k], f, a, key, &rank)) {
						/* Zero, or a claim nobody trusts: stripped, no conflict. */
						if (src == CK_ADDR_CLAIMED && !model_trust_claimed) {
							if (f)
								memset(nic->ipv6[a], 0, CK_IPV6_LEN);
							else
								nic->ipv4[a] = 0;
						}
						continue;
					}
					int owner = model_owner(orig, kept, key);

					if (owner == v[i].domid)
						continue;
					if (f)
						memset(nic->ipv6[a], 0, CK_IPV6_LEN);
					else
						nic->ipv4[a] = 0;
					/* Lost to a higher trust: the rules, not a conflict. */
					conflicts += owner < 0;
				}
		}
	for (size_t i = 1; i < kept; i++)
		for (unsigned int k = 0; k < v[i].n_nics; k++)
			for (size_t j = 0; j < i; j++)
				for (unsigned int l = 0; l < v[j].n_nics; l++)
					model_drop_shared_mac(&v[i].nics[k], &orig[j].nics[l],
							      &conflicts);
	memset(out, 0, SLOTS * sizeof(*out));
	for (size_t i = 0; i < kept; i++) {
		model_compact(&v[i]);
		out[v[i].domid] = v[i];
	}
	return conflicts;
}

/* A member drawing its uuid, MACs and addresses from small pools, so that many collide. */
static void random_member(struct ck_member *m, uint16_t domid, unsigned int *seed)
{
	memset(m, 0, sizeof(*m));
	m->domid = domid;
	m->state = rand_r(seed) % 5 ? CK_MEMBER_RUNNING : CK_MEMBER_MIGRATING_OUT;
	m->uuid[0] = rand_r(seed) % 4 ? domid & 0xff : rand_r(seed) % 16;
	m->uuid[1] = rand_r(seed) % 4 ? domid >> 8 : 0xee;
	snprintf(m->name, sizeof(m->name), "g%u", domid);
	m->n_nics = rand_r(seed) % 3;
	for (unsigned int k = 0; k < m->n_nics; k++) {
		struct ck_nic *nic = &m->nics[k];
		uint16_t mac = rand_r(seed) % 4 ? domid * 4 + k : (unsigned int)rand_r(seed) % 32;

		nic->mac[0] = 0x00;
		nic->mac[1] = 0x16;
		nic->mac[2] = 0x3e;
		nic->mac[4] = mac >> 8;
		nic->mac[5] = mac;
		nic->n_ipv4 = rand_r(seed) % 3;
		for (unsigned int a = 0; a < nic->n_ipv4; a++) {
			nic->ipv4[a] = 0x0a000000 |
				       (rand_r(seed) % 3 ? domid * 16u + k * 4 + a : (unsigned int)rand_r(seed) % 24);
			nic->ipv4_source[a] = rand_r(seed) % (CK_ADDR_SOURCE_MAX + 1);
		}
		nic->n_ipv6 = rand_r(seed) % 2;
		for (unsigned int a = 0; a < nic->n_ipv6; a++) {
			nic->ipv6[a][0] = 0xfd;
			nic->ipv6[a][15] = rand_r(seed) % 2 ? domid : rand_r(seed) % 8;
			nic->ipv6[a][14] = rand_r(seed) % 2 ? domid >> 8 : 0;
			nic->ipv6_source[a] = rand_r(seed) % (CK_ADDR_SOURCE_MAX + 1);
		}
	}
}

/* Every domid's resolved member equals the model's, and every one that changed was named. */
static void check(struct conflicts *c, const struct ck_member *raw, struct ck_member *before)
{
	static struct ck_member want[SLOTS];
	static bool named[SLOTS];
	unsigned int conflicts = model(raw, want);
	const uint16_t *touched;
	size_t n;

	conflicts_resolve(c, &touched, &n);
	memset(named, 0, sizeof(named));
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_lt(touched[i], SLOTS);
		if (i)
			ck_assert_uint_lt(touched[i - 1], touched[i]);
		named[touched[i]] = true;
	}
	for (unsigned int d = 1; d < SLOTS; d++) {
		struct ck_member got;
		bool has = conflicts_member(c, d, &got) == 0;

		ck_assert_msg(has == (want[d].domid != 0), "domid %u: member %d, model %d", d,
			      has, want[d].domid != 0);
		if (has)
			ck_assert_msg(ck_member_equal(&got, &want[d]), "domid %u differs", d);
		if ((before[d].domid != 0) != has ||
		    (has && !ck_member_equal(&before[d], &want[d])))
			ck_assert_msg(named[d], "domid %u changed but was not named", d);
		before[d] = has ? want[d] : (struct ck_member){ 0 };
	}
	ck_assert_uint_eq(conflicts_count(c), conflicts);
}

START_TEST(large_set_equals_pairwise_model)
{
	static struct ck_member raw[SLOTS], before[SLOTS];
	struct conflicts *c;
	unsigned int seed = 4242;

	memset(raw, 0, sizeof(raw));
	memset(before, 0, sizeof(before));
	model_trust_claimed = _i;
	ck_assert_int_eq(conflicts_new(&c, _i), 0);
	for (unsigned int d = 1; d < SLOTS; d++) {
		random_member(&raw[d], d, &seed);
		ck_assert_int_eq(conflicts_set(c, d, &raw[d]), 0);
	}
	check(c, raw, before);
	conflicts_free(c);
}
END_TEST

START_TEST(incremental_changes_equal_pairwise_model)
{
	static struct ck_member raw[SLOTS], before[SLOTS];
	struct conflicts *c;
	unsigned int seed = 777;

	memset(raw, 0, sizeof(raw));
	memset(before, 0, sizeof(before));
	model_trust_claimed = _i;
	ck_assert_int_eq(conflicts_new(&c, _i), 0);
	for (unsigned int d = 1; d < SLOTS; d += 2) {
		random_member(&raw[d], d, &seed);
		ck_assert_int_eq(conflicts_set(c, d, &raw[d]), 0);
	}
	check(c, raw, before);
	for (int round = 0; round < 150; round++) {
		unsigned int k = 1 + rand_r(&seed) % 4;

		for (unsigned int i = 0; i < k; i++) {
			uint16_t d = 1 + rand_r(&seed) % (SLOTS - 1);

			if (rand_r(&seed) % 3 == 0) {
				memset(&raw[d], 0, sizeof(raw[d]));
				ck_assert_int_eq(conflicts_set(c, d, NULL), 0);
			} else {
				random_member(&raw[d], d, &seed);
				ck_assert_int_eq(conflicts_set(c, d, &raw[d]), 0);
			}
		}
		check(c, raw, before);
	}
	conflicts_free(c);
}
END_TEST

/* The rules one by one: the running half, the newer domid, the lower domid keeps a key. */
START_TEST(rules_and_ties)
{
	struct ck_member a, b, got;
	struct conflicts *c;
	const uint16_t *t;
	size_t n;

	ck_assert_int_eq(conflicts_new(&c, false), 0);
	memset(&a, 0, sizeof(a));
	a.domid = 5;
	a.state = CK_MEMBER_RUNNING;
	strcpy(a.name, "a");
	a.uuid[0] = 1;
	a.n_nics = 1;
	memcpy(a.nics[0].mac, (uint8_t[]){ 0, 0x16, 0x3e, 0, 0, 1 }, CK_MAC_LEN);
	a.nics[0].n_ipv4 = 1;
	a.nics[0].ipv4[0] = 0x0a000001;
	b = a;
	b.domid = 7;
	b.state = CK_MEMBER_MIGRATING_OUT;
	ck_assert_int_eq(conflicts_set(c, 5, &a), 0);
	ck_assert_int_eq(conflicts_set(c, 7, &b), 0);
	conflicts_resolve(c, &t, &n);
	ck_assert_int_eq(conflicts_member(c, 5, &got), 0);	/* the running half */
	ck_assert_int_eq(conflicts_member(c, 7, &got), -ENOENT);
	b.state = CK_MEMBER_RUNNING;
	ck_assert_int_eq(conflicts_set(c, 7, &b), 0);
	conflicts_resolve(c, &t, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(conflicts_member(c, 5, &got), -ENOENT);	/* the newer domid */
	ck_assert_int_eq(conflicts_member(c, 7, &got), 0);
	ck_assert_uint_eq(got.n_nics, 1);
	/*
	 * Another uuid: both are members; the MAC stays with the lower domid, the address
	 * (both the toolstack's) with neither.
	 */
	b.uuid[0] = 2;
	ck_assert_int_eq(conflicts_set(c, 7, &b), 0);
	conflicts_resolve(c, &t, &n);
	ck_assert_int_eq(conflicts_member(c, 5, &got), 0);
	ck_assert_uint_eq(got.n_nics, 1);
	ck_assert_uint_eq(got.nics[0].n_ipv4, 0);
	ck_assert_int_eq(conflicts_member(c, 7, &got), 0);
	ck_assert_uint_eq(got.n_nics, 0);
	ck_assert_uint_eq(conflicts_count(c), 3);
	/* The lower one goes: the key is the other's again. */
	ck_assert_int_eq(conflicts_set(c, 5, NULL), 0);
	conflicts_resolve(c, &t, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(conflicts_member(c, 7, &got), 0);
	ck_assert_uint_eq(got.n_nics, 1);
	ck_assert_uint_eq(conflicts_count(c), 0);
	conflicts_free(c);
}
END_TEST

/* Sets domid's one-NIC member holding 10.0.0.1 from source (its MAC its own). */
static void hold(struct conflicts *c, uint16_t domid, uint8_t source)
{
	struct ck_member m = { .domid = domid, .state = CK_MEMBER_RUNNING, .n_nics = 1 };

	snprintf(m.name, sizeof(m.name), "g%u", domid);
	m.uuid[0] = domid;
	memcpy(m.nics[0].mac, (uint8_t[]){ 0, 0x16, 0x3e, 0, 0, domid }, CK_MAC_LEN);
	m.nics[0].n_ipv4 = 1;
	m.nics[0].ipv4[0] = 0x0a000001;
	m.nics[0].ipv4_source[0] = source;
	ck_assert_int_eq(conflicts_set(c, domid, &m), 0);
}

/* Whether domid's resolved member holds 10.0.0.1. */
static bool holds(struct conflicts *c, uint16_t domid)
{
	struct ck_member got;
	const uint16_t *t;
	size_t n;

	conflicts_resolve(c, &t, &n);
	ck_assert_int_eq(conflicts_member(c, domid, &got), 0);
	return got.n_nics == 1 && got.nics[0].n_ipv4 == 1;
}

/* The address rules one by one: higher trust wins, equal trust is nobody's, claims need trust. */
START_TEST(address_trust)
{
	struct conflicts *c;

	ck_assert_int_eq(conflicts_new(&c, false), 0);
	hold(c, 3, CK_ADDR_LEARNED);
	hold(c, 9, CK_ADDR_ORCHESTRATOR);
	ck_assert(!holds(c, 3));			/* the higher domid, but more trusted */
	ck_assert(holds(c, 9));
	ck_assert_uint_eq(conflicts_count(c), 0);	/* the rules, not a conflict */
	hold(c, 4, CK_ADDR_ORCHESTRATOR);		/* a tie at the top: nobody's */
	ck_assert(!holds(c, 4));
	ck_assert(!holds(c, 9));
	ck_assert(!holds(c, 3));
	ck_assert_uint_eq(conflicts_count(c), 3);	/* every holder of it */
	hold(c, 5, CK_ADDR_TOOLSTACK);			/* the toolstack's above all */
	ck_assert(holds(c, 5));
	ck_assert(!holds(c, 4));
	ck_assert_int_eq(conflicts_set(c, 5, NULL), 0);
	ck_assert_int_eq(conflicts_set(c, 4, NULL), 0);
	ck_assert(holds(c, 9));				/* the tie resolved */
	ck_assert_uint_eq(conflicts_count(c), 0);
	ck_assert_int_eq(conflicts_set(c, 9, NULL), 0);
	hold(c, 6, CK_ADDR_CLAIMED);			/* untrusted: no key, no conflict */
	ck_assert(holds(c, 3));
	ck_assert(!holds(c, 6));
	ck_assert_uint_eq(conflicts_count(c), 0);
	conflicts_free(c);

	ck_assert_int_eq(conflicts_new(&c, true), 0);
	hold(c, 6, CK_ADDR_CLAIMED);
	ck_assert(holds(c, 6));				/* trusted, it is used */
	hold(c, 3, CK_ADDR_LEARNED);			/* but below everything else */
	ck_assert(!holds(c, 6));
	ck_assert(holds(c, 3));
	conflicts_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conflicts");

	th_add(s, rules_and_ties);
	th_add(s, address_trust);
	th_add_loop(s, large_set_equals_pairwise_model, 0, 2);	/* _i: trust claims */
	th_add_loop(s, incremental_changes_equal_pairwise_model, 0, 2);
	return th_run(s);
}
