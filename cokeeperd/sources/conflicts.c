// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <utlist.h>

#include "conflicts.h"
#include "hash.h"

enum { KEY_MAC = 1, KEY_IPV4, KEY_IPV6 };

struct key_id {
	uint8_t kind;
	uint8_t bytes[CK_IPV6_LEN];	/* zero-padded */
};

struct key_entry;
struct record;

/* One occurrence of a key in a member: which NIC, which address. */
struct key_ref {
	struct key_ref *prev, *next;	/* the key's holders */
	struct key_entry *key;
	struct record *rec;
	uint8_t nic, idx;
};

struct key_entry {
	struct key_id id;
	struct key_ref *refs;
	int32_t owner;			/* domid that keeps the key; -1: none */
	bool dirty;
	struct key_entry *next_dirty;
	UT_hash_handle hh;
};

struct uuid_group {
	uint8_t uuid[CK_UUID_LEN];
	struct record *members;
	int32_t survivor;		/* the domid that is the member; -1: none */
	bool dirty;
	struct uuid_group *next_dirty;
	UT_hash_handle hh;
};

struct record {
	uint16_t domid;
	struct ck_member m;
	struct uuid_group *group;
	struct record *gprev, *gnext;	/* the group's members */
	struct key_ref *refs;
	unsigned int n_refs;
	unsigned int conflicts;		/* its share of conflicts_count() */
	UT_hash_handle hh;
};

struct conflicts {
	struct record *records;
	struct uuid_group *groups;
	struct key_entry *keys;
	struct uuid_group *dirty_groups;
	struct key_entry *dirty_keys;
	unsigned int conflicts;
	bool trust_claimed;		/* claimed addresses are keys like any other */
	/* Each domid at most once (the bits say which), so touching never allocates. */
	size_t n_touched;
	bool resolved;			/* touched was handed out: the next touch starts anew */
	uint64_t touched_bits[(CK_DOMID_LIMIT + 63) / 64];
	uint16_t touched[CK_DOMID_LIMIT];
};

int conflicts_new(struct conflicts **ret, bool trust_claimed)
{
	struct conflicts *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->trust_claimed = trust_claimed;
	*ret = c;
	return 0;
}

static void free_refs(struct record *rec)
{
	free(rec->refs);
	rec->refs = NULL;
	rec->n_refs = 0;
}

void conflicts_free(struct conflicts *c)
{
	struct record *rec, *rtmp;
	struct uuid_group *g, *gtmp;
	struct key_entry *k, *ktmp;

	if (!c)
		return;
	HASH_ITER(hh, c->records, rec, rtmp) {
		HASH_DEL(c->records, rec);
		free_refs(rec);
		free(rec);
	}
	HASH_ITER(hh, c->groups, g, gtmp) {
		HASH_DEL(c->groups, g);
		free(g);
	}
	HASH_ITER(hh, c->keys, k, ktmp) {
		HASH_DEL(c->keys, k);
		free(k);
	}
	free(c);
}

static struct record *find_record(const struct conflicts *c, uint16_t domid)
{
	struct record *rec;

	HASH_FIND(hh, c->records, &domid, sizeof(domid), rec);
	return rec;
}

static void begin_touching(struct conflicts *c)
{
	if (!c->resolved)
		return;
	for (size_t i = 0; i < c->n_touched; i++)
		c->touched_bits[c->touched[i] / 64] &= ~(1ULL << (c->touched[i] % 64));
	c->n_touched = 0;
	c->resolved = false;
}

static void touch(struct conflicts *c, int32_t domid)
{
	begin_touching(c);
	if (domid < 0 || domid >= (int32_t)CK_DOMID_LIMIT ||
	    c->touched_bits[domid / 64] & (1ULL << (domid % 64)))
		return;
	c->touched_bits[domid / 64] |= 1ULL << (domid % 64);
	c->touched[c->n_touched++] = domid;
}

static void key_dirty(struct conflicts *c, struct key_entry *k)
{
	if (k->dirty)
		return;
	k->dirty = true;
	k->next_dirty = c->dirty_keys;
	c->dirty_keys = k;
}

static void group_dirty(struct conflicts *c, struct uuid_group *g)
{
	if (g->dirty)
		return;
	g->dirty = true;
	g->next_dirty = c->dirty_groups;
	c->dirty_groups = g;
}

/*
 * Calls fn for every key occurrence of m (zero addresses are never kept: not keys; nor is a
 * claimed address unless claimed counts: one the operator does not trust is stripped).
 */
#define FOREACH_KEY(m, claimed, fn, ...)                                                     \
	do {                                                                                 \
		for (unsigned int k_ = 0; k_ < (m)->n_nics; k_++) {                          \
			const struct ck_nic *n_ = &(m)->nics[k_];                            \
			struct key_id id_;                                                   \
			if (ck_mac_valid(n_->mac)) {                                         \
				memset(&id_, 0, sizeof(id_));                                \
				id_.kind = KEY_MAC;                                          \
				memcpy(id_.bytes, n_->mac, CK_MAC_LEN);                      \
				fn(__VA_ARGS__, &id_, k_, 0);                                \
			}                                                                    \
			for (unsigned int a_ = 0; a_ < n_->n_ipv4 && a_ < CK_ADDRS_MAX; a_++) { \
				if (!n_->ipv4[a_] ||                                         \
				    (!(claimed) && n_->ipv4_source[a_] == CK_ADDR_CLAIMED))  \
					continue;                                            \
				memset(&id_, 0, sizeof(id_));                                \
				id_.kind = KEY_IPV4;                                         \
				memcpy(id_.bytes, &n_->ipv4[a_], sizeof(n_->ipv4[a_]));      \
				fn(__VA_ARGS__, &id_, k_, a_);                               \
			}                                                                    \
			for (unsigned int a_ = 0; a_ < n_->n_ipv6 && a_ < CK_ADDRS_MAX; a_++) { \
				static const uint8_t zero_[CK_IPV6_LEN];                     \
				if (!memcmp(n_->ipv6[a_], zero_, CK_IPV6_LEN) ||             \
				    (!(claimed) && n_->ipv6_source[a_] == CK_ADDR_CLAIMED))  \
					continue;                                            \
				memset(&id_, 0, sizeof(id_));                                \
				id_.kind = KEY_IPV6;                                         \
				memcpy(id_.bytes, n_->ipv6[a_], CK_IPV6_LEN);                \
				fn(__VA_ARGS__, &id_, k_, a_);                               \
			}                                                                    \
		}                                                                            \
	} while (0)

static void count_key(unsigned int *n, const struct key_id *id, unsigned int nic,
		      unsigned int idx)
{
	(*n)++;
}

struct prepare {
	struct conflicts *c;
	struct key_ref *refs;
	unsigned int n;
	int r;
};

/* Finds or adds the key's entry (a new one is dirty, so an unused one is freed later). */
static void prepare_key(struct prepare *p, const struct key_id *id, unsigned int nic,
			unsigned int idx)
{
	struct key_entry *k;

	if (p->r < 0)
		return;
	HASH_FIND(hh, p->c->keys, id, sizeof(*id), k);
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k) {
			p->r = -ENOMEM;
			return;
		}
		k->id = *id;
		k->owner = -1;
		p->r = CK_HASH_TRY(HASH_ADD(hh, p->c->keys, id, sizeof(k->id), k));
		if (p->r < 0) {
			free(k);
			return;
		}
		key_dirty(p->c, k);
	}
	p->refs[p->n++] = (struct key_ref){ .key = k, .nic = nic, .idx = idx };
}

static int find_group(struct conflicts *c, const uint8_t uuid[CK_UUID_LEN],
		      struct uuid_group **ret)
{
	struct uuid_group *g;
	int r;

	HASH_FIND(hh, c->groups, uuid, CK_UUID_LEN, g);
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		memcpy(g->uuid, uuid, CK_UUID_LEN);
		g->survivor = -1;
		r = CK_HASH_TRY(HASH_ADD(hh, c->groups, uuid, CK_UUID_LEN, g));
		if (r < 0) {
			free(g);
			return r;
		}
		group_dirty(c, g);
	}
	*ret = g;
	return 0;
}

static void unindex(struct conflicts *c, struct record *rec)
{
	for (unsigned int i = 0; i < rec->n_refs; i++) {
		DL_DELETE(rec->refs[i].key->refs, &rec->refs[i]);
		key_dirty(c, rec->refs[i].key);
	}
	free_refs(rec);
	DL_DELETE2(rec->group->members, rec, gprev, gnext);
	group_dirty(c, rec->group);
	rec->group = NULL;
	c->conflicts -= rec->conflicts;
	rec->conflicts = 0;
}

int conflicts_set(struct conflicts *c, uint16_t domid, const struct ck_member *m)
{
	struct record *rec = find_record(c, domid), *fresh = NULL;
	struct prepare p = { .c = c };
	struct uuid_group *g = NULL;
	unsigned int n = 0;

	if (!m && !rec)
		return 0;
	if (m && rec && ck_member_equal(&rec->m, m))
		return 0;
	/* Every allocation first, so that a failure leaves everything as it was. */
	if (m) {
		FOREACH_KEY(m, c->trust_claimed, count_key, &n);
		p.refs = calloc(n ? n : 1, sizeof(*p.refs));
		if (!p.refs)
			return -ENOMEM;
		FOREACH_KEY(m, c->trust_claimed, prepare_key, &p);
		if (p.r == 0)
			p.r = find_group(c, m->uuid, &g);
		if (p.r == 0 && !rec) {
			fresh = calloc(1, sizeof(*fresh));
			if (!fresh) {
				p.r = -ENOMEM;
			} else {
				fresh->domid = domid;
				p.r = CK_HASH_TRY(HASH_ADD(hh, c->records, domid,
							   sizeof(fresh->domid), fresh));
				if (p.r < 0)
					free(fresh);
			}
		}
		if (p.r < 0) {
			free(p.refs);
			return p.r;
		}
	}

	touch(c, domid);
	if (rec)
		unindex(c, rec);
	if (!m) {
		HASH_DEL(c->records, rec);
		free(rec);
		return 0;
	}
	rec = rec ?: fresh;
	rec->m = *m;
	rec->refs = p.refs;
	rec->n_refs = p.n;
	for (unsigned int i = 0; i < p.n; i++) {
		rec->refs[i].rec = rec;
		DL_APPEND(rec->refs[i].key->refs, &rec->refs[i]);
		key_dirty(c, rec->refs[i].key);
	}
	rec->group = g;
	DL_APPEND2(g->members, rec, gprev, gnext);
	group_dirty(c, g);
	return 0;
}

static bool survives(const struct record *rec)
{
	return rec->group->survivor == rec->domid;
}

/* The member of a uuid: the running half, else the migrating-out one; the newer domid. */
static bool better(const struct record *a, const struct record *b)
{
	bool ra = a->m.state != CK_MEMBER_MIGRATING_OUT, rb = b->m.state != CK_MEMBER_MIGRATING_OUT;

	if (ra != rb)
		return ra;
	return a->domid > b->domid;
}

static void survival_changed(struct conflicts *c, int32_t domid)
{
	struct record *rec;

	touch(c, domid);
	if (domid < 0 || !(rec = find_record(c, domid)))
		return;
	for (unsigned int i = 0; i < rec->n_refs; i++)
		key_dirty(c, rec->refs[i].key);
}

static unsigned int record_conflicts(const struct record *rec)
{
	unsigned int n = 0;

	if (!survives(rec))
		return 1;
	/*
	 * A MAC kept by another domid, an address nobody keeps (a tie): conflicts.  An address
	 * another member holds at a higher trust is the rules working, not a conflict.
	 */
	for (unsigned int i = 0; i < rec->n_refs; i++) {
		const struct key_entry *k = rec->refs[i].key;

		n += k->id.kind == KEY_MAC ? k->owner != rec->domid : k->owner < 0;
	}
	return n;
}

/* How far the key's holder is believed: an address by its source, a MAC all alike. */
static unsigned int ref_rank(const struct key_ref *ref)
{
	const struct ck_nic *nic = &ref->rec->m.nics[ref->nic];

	switch (ref->key->id.kind) {
	case KEY_IPV4:
		return nic->ipv4_source[ref->idx];
	case KEY_IPV6:
		return nic->ipv6_source[ref->idx];
	default:
		return 0;
	}
}

/*
 * Who keeps the key.  A MAC: the lowest domid of those holding it.  An address: the one
 * member holding it at the highest trust any holds it at; two members at that trust are a
 * conflict and neither keeps it, so a guest can never take an address by saying it first.
 */
static int32_t key_owner(const struct key_entry *k)
{
	unsigned int best = UINT32_MAX;
	int32_t owner = -1;
	bool tie = false;
	struct key_ref *ref;

	DL_FOREACH(k->refs, ref) {
		unsigned int rank;

		if (!survives(ref->rec))
			continue;
		if (k->id.kind == KEY_MAC) {
			if (owner < 0 || ref->rec->domid < owner)
				owner = ref->rec->domid;
			continue;
		}
		rank = ref_rank(ref);
		if (rank < best) {
			best = rank;
			owner = ref->rec->domid;
			tie = false;
		} else if (rank == best && ref->rec->domid != owner) {
			tie = true;
		}
	}
	return tie ? -1 : owner;
}

static int by_domid(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

void conflicts_resolve(struct conflicts *c, const uint16_t **ret, size_t *n)
{
	begin_touching(c);
	while (c->dirty_groups) {
		struct uuid_group *g = c->dirty_groups;
		struct record *best = NULL, *rec;
		int32_t old = g->survivor;

		c->dirty_groups = g->next_dirty;
		g->dirty = false;
		DL_FOREACH2(g->members, rec, gnext)
			if (!best || better(rec, best))
				best = rec;
		g->survivor = best ? best->domid : -1;
		if (g->survivor != old) {
			survival_changed(c, old);
			survival_changed(c, g->survivor);
		}
		if (!g->members) {
			HASH_DEL(c->groups, g);
			free(g);
		}
	}
	while (c->dirty_keys) {
		struct key_entry *k = c->dirty_keys;
		int32_t old = k->owner;

		c->dirty_keys = k->next_dirty;
		k->dirty = false;
		k->owner = key_owner(k);
		if (k->owner != old) {
			struct key_ref *ref;

			touch(c, old);
			touch(c, k->owner);
			/* Into or out of a tie: every holder's count of conflicts changes. */
			if (old < 0 || k->owner < 0)
				DL_FOREACH(k->refs, ref)
					touch(c, ref->rec->domid);
		}
		if (!k->refs) {
			HASH_DEL(c->keys, k);
			free(k);
		}
	}
	qsort(c->touched, c->n_touched, sizeof(*c->touched), by_domid);
	for (size_t i = 0; i < c->n_touched; i++) {
		struct record *rec = find_record(c, c->touched[i]);

		if (!rec)
			continue;
		c->conflicts -= rec->conflicts;
		rec->conflicts = record_conflicts(rec);
		c->conflicts += rec->conflicts;
	}
	c->resolved = true;
	*ret = c->touched;
	*n = c->n_touched;
}

/* Drops the NICs and addresses conflicts_member() zeroed. */
static void compact(struct ck_member *m)
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

int conflicts_member(const struct conflicts *c, uint16_t domid, struct ck_member *out)
{
	const struct record *rec = find_record(c, domid);

	if (!rec || !survives(rec))
		return -ENOENT;
	*out = rec->m;
	for (unsigned int i = 0; i < rec->n_refs; i++) {
		const struct key_ref *ref = &rec->refs[i];
		struct ck_nic *nic = &out->nics[ref->nic];

		if (ref->key->owner == domid)
			continue;
		if (ref->key->id.kind == KEY_MAC)
			memset(nic->mac, 0, CK_MAC_LEN);
		else if (ref->key->id.kind == KEY_IPV4)
			nic->ipv4[ref->idx] = 0;
		else
			memset(nic->ipv6[ref->idx], 0, CK_IPV6_LEN);
	}
	for (unsigned int k = 0; !c->trust_claimed && k < out->n_nics; k++) {
		struct ck_nic *nic = &out->nics[k];

		for (unsigned int a = 0; a < nic->n_ipv4; a++)
			if (nic->ipv4_source[a] == CK_ADDR_CLAIMED)
				nic->ipv4[a] = 0;
		for (unsigned int a = 0; a < nic->n_ipv6; a++)
			if (nic->ipv6_source[a] == CK_ADDR_CLAIMED)
				memset(nic->ipv6[a], 0, CK_IPV6_LEN);
	}
	compact(out);
	return 0;
}

int conflicts_member_as_read(const struct conflicts *c, uint16_t domid, struct ck_member *out)
{
	const struct record *rec = find_record(c, domid);

	if (!rec)
		return -ENOENT;
	*out = rec->m;
	return 0;
}

void conflicts_foreach(const struct conflicts *c, void (*fn)(uint16_t domid, void *userdata),
		       void *userdata)
{
	const struct record *rec, *tmp;

	HASH_ITER(hh, c->records, rec, tmp)
		fn(rec->domid, userdata);
}

unsigned int conflicts_count(const struct conflicts *c)
{
	return c->conflicts;
}
