// SPDX-License-Identifier: LGPL-2.1-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addrbook.h"
#include "hash.h"
#include "member-json.h"

/* The orchestrator's addresses of one NIC of one domain. */
struct orchestrated {
	struct {
		uint8_t uuid[CK_UUID_LEN];
		uint8_t mac[CK_MAC_LEN];	/* zero: the domain's first NIC */
	} key;
	uint8_t n;
	struct ck_addr v[2 * CK_ADDRS_MAX];
	uint64_t missing_since;		/* no member had the uuid at a retain pass; 0: one had */
	UT_hash_handle hh;
};

/* What one MAC was seen holding: at most one address per way of learning it. */
struct learned {
	uint8_t mac[CK_MAC_LEN];
	struct {
		bool set;
		struct ck_addr a;
		uint64_t expires;
	} slot[__CK_LEARNED_LAST];
	uint64_t missing_since;		/* as orchestrated's, for the MAC */
	UT_hash_handle hh;
};

/* Which MAC learned an address: a learned address has one at most. */
struct learned_owner {
	struct ck_addr a;
	uint8_t mac[CK_MAC_LEN];
	UT_hash_handle hh;
};

struct ck_addrbook {
	struct orchestrated *orchestrated;
	struct learned *learned;
	struct learned_owner *owners;
};

static const uint8_t zero_mac[CK_MAC_LEN];

struct ck_addr ck_addr_from_ipv4(uint32_t ipv4)
{
	struct ck_addr a = { 0 };
	uint32_t be = htonl(ipv4);

	memcpy(a.bytes, &be, sizeof(be));
	return a;
}

uint32_t ck_addr_ipv4(const struct ck_addr *a)
{
	uint32_t be;

	memcpy(&be, a->bytes, sizeof(be));
	return ntohl(be);
}

int ck_addr_parse(const char *s, struct ck_addr *out)
{
	static const uint8_t zero6[CK_IPV6_LEN];
	uint32_t v4;

	memset(out, 0, sizeof(*out));
	if (ck_parse_ipv4(s, &v4) == 0) {
		/* Not 0.0.0.0/8, multicast or reserved (224/3): no NIC holds those. */
		if ((v4 >> 24) == 0 || (v4 >> 29) == 7)
			return -EINVAL;
		*out = ck_addr_from_ipv4(v4);
		return 0;
	}
	out->v6 = 1;
	if (ck_parse_ipv6(s, out->bytes) < 0 || !memcmp(out->bytes, zero6, CK_IPV6_LEN) ||
	    out->bytes[0] == 0xff)
		return -EINVAL;
	return 0;
}

void ck_addr_format(const struct ck_addr *a, char out[46])
{
	if (a->v6)
		ck_format_ipv6(a->bytes, out);
	else
		ck_format_ipv4(ck_addr_ipv4(a), out);
}

int ck_nic_add(struct ck_nic *nic, const struct ck_addr *a, uint8_t source)
{
	return a->v6 ? ck_nic_add_ipv6(nic, a->bytes, source)
		     : ck_nic_add_ipv4(nic, ck_addr_ipv4(a), source);
}

const char *ck_learned_how_name(unsigned int how)
{
	static const char *const names[] = { "dhcp", "arp", "ndp" };

	return how < __CK_LEARNED_LAST ? names[how] : "unknown";
}

int ck_addrbook_new(struct ck_addrbook **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void ck_addrbook_free(struct ck_addrbook *b)
{
	struct orchestrated *o, *otmp;
	struct learned *l, *ltmp;
	struct learned_owner *w, *wtmp;

	if (!b)
		return;
	HASH_ITER(hh, b->orchestrated, o, otmp) {
		HASH_DEL(b->orchestrated, o);
		free(o);
	}
	HASH_ITER(hh, b->learned, l, ltmp) {
		HASH_DEL(b->learned, l);
		free(l);
	}
	HASH_ITER(hh, b->owners, w, wtmp) {
		HASH_DEL(b->owners, w);
		free(w);
	}
	free(b);
}

static struct orchestrated *find_orchestrated(const struct ck_addrbook *b,
					      const uint8_t uuid[CK_UUID_LEN], const uint8_t *mac)
{
	struct orchestrated probe, *o;

	memset(&probe.key, 0, sizeof(probe.key));
	memcpy(probe.key.uuid, uuid, CK_UUID_LEN);
	if (mac)
		memcpy(probe.key.mac, mac, CK_MAC_LEN);
	HASH_FIND(hh, b->orchestrated, &probe.key, sizeof(probe.key), o);
	return o;
}

int ck_addrbook_set(struct ck_addrbook *b, const uint8_t uuid[CK_UUID_LEN],
		    const uint8_t *mac, const struct ck_addr *v, size_t n)
{
	struct orchestrated *o = find_orchestrated(b, uuid, mac);
	size_t n6 = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		n6 += v[i].v6 != 0;
	if (n - n6 > CK_ADDRS_MAX || n6 > CK_ADDRS_MAX)
		return -E2BIG;
	if (n == 0) {
		if (o) {
			HASH_DEL(b->orchestrated, o);
			free(o);
		}
		return 0;
	}
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		memcpy(o->key.uuid, uuid, CK_UUID_LEN);
		if (mac)
			memcpy(o->key.mac, mac, CK_MAC_LEN);
		r = CK_HASH_TRY(HASH_ADD(hh, b->orchestrated, key, sizeof(o->key), o));
		if (r < 0) {
			free(o);
			return r;
		}
	}
	o->n = n;
	memcpy(o->v, v, n * sizeof(*v));
	return 0;
}

size_t ck_addrbook_get(const struct ck_addrbook *b, const uint8_t uuid[CK_UUID_LEN],
		       const uint8_t *mac, struct ck_addr *out)
{
	const struct orchestrated *o = find_orchestrated(b, uuid, mac);

	if (!o)
		return 0;
	memcpy(out, o->v, o->n * sizeof(*out));
	return o->n;
}

bool ck_addrbook_clear(struct ck_addrbook *b, const uint8_t uuid[CK_UUID_LEN])
{
	struct orchestrated *o, *tmp;
	bool had = false;

	HASH_ITER(hh, b->orchestrated, o, tmp)
		if (!memcmp(o->key.uuid, uuid, CK_UUID_LEN)) {
			HASH_DEL(b->orchestrated, o);
			free(o);
			had = true;
		}
	return had;
}

void ck_addrbook_foreach_set(const struct ck_addrbook *b,
			     void (*fn)(const uint8_t uuid[CK_UUID_LEN], const uint8_t *mac,
					const struct ck_addr *v, size_t n, void *userdata),
			     void *userdata)
{
	const struct orchestrated *o, *tmp;

	HASH_ITER(hh, b->orchestrated, o, tmp)
		fn(o->key.uuid, memcmp(o->key.mac, zero_mac, CK_MAC_LEN) ? o->key.mac : NULL,
		   o->v, o->n, userdata);
}

static struct learned *find_learned(const struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN])
{
	struct learned *l;

	HASH_FIND(hh, b->learned, mac, CK_MAC_LEN, l);
	return l;
}

static struct learned_owner *find_owner(const struct ck_addrbook *b, const struct ck_addr *a)
{
	struct learned_owner *w;

	HASH_FIND(hh, b->owners, a, sizeof(*a), w);
	return w;
}

/* Empties one slot of l, and the address's owner entry if l is its owner. */
static void clear_slot(struct ck_addrbook *b, struct learned *l, unsigned int how)
{
	struct learned_owner *w = find_owner(b, &l->slot[how].a);

	if (w && !memcmp(w->mac, l->mac, CK_MAC_LEN)) {
		HASH_DEL(b->owners, w);
		free(w);
	}
	l->slot[how].set = false;
}

/* Frees l if it holds nothing any more; whether it did. */
static bool free_if_empty(struct ck_addrbook *b, struct learned *l)
{
	for (unsigned int i = 0; i < __CK_LEARNED_LAST; i++)
		if (l->slot[i].set)
			return false;
	HASH_DEL(b->learned, l);
	free(l);
	return true;
}

/* The slot of l holding a, or -1. */
static int slot_of(const struct learned *l, const struct ck_addr *a)
{
	for (unsigned int i = 0; i < __CK_LEARNED_LAST; i++)
		if (l->slot[i].set && !memcmp(&l->slot[i].a, a, sizeof(*a)))
			return i;
	return -1;
}

int ck_addrbook_learn(struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN],
		      const struct ck_addr *a, enum ck_learned_how how, uint64_t expires,
		      uint8_t lost[CK_MAC_LEN])
{
	struct learned *l = find_learned(b, mac), *fresh = NULL, *other;
	struct learned_owner *w = find_owner(b, a), *new_owner = NULL;
	bool mine = w && !memcmp(w->mac, mac, CK_MAC_LEN);
	int r;

	if (how != CK_LEARNED_DHCP) {
		if (mine) {
			/* Heard again: its expiry moves.  A lease stays a lease, with its own. */
			if (l && l->slot[how].set && !memcmp(&l->slot[how].a, a, sizeof(*a)))
				l->slot[how].expires = expires;
			return CK_LEARN_SAME;
		}
		if (l && l->slot[how].set)
			return CK_LEARN_HAS_ONE;
		if (w)
			return CK_LEARN_TAKEN;
	} else if (l && l->slot[how].set && !memcmp(&l->slot[how].a, a, sizeof(*a))) {
		l->slot[how].expires = expires;
		return CK_LEARN_SAME;
	}

	/* Every allocation first: a failure changes nothing. */
	if (!l) {
		fresh = calloc(1, sizeof(*fresh));
		if (!fresh)
			return -ENOMEM;
		memcpy(fresh->mac, mac, CK_MAC_LEN);
	}
	if (!w) {
		new_owner = calloc(1, sizeof(*new_owner));
		if (!new_owner) {
			free(fresh);
			return -ENOMEM;
		}
		new_owner->a = *a;
		memcpy(new_owner->mac, mac, CK_MAC_LEN);
		r = CK_HASH_TRY(HASH_ADD(hh, b->owners, a, sizeof(new_owner->a), new_owner));
		if (r < 0) {
			free(new_owner);
			free(fresh);
			return r;
		}
	}
	if (fresh) {
		r = CK_HASH_TRY(HASH_ADD(hh, b->learned, mac, CK_MAC_LEN, fresh));
		if (r < 0) {
			if (new_owner) {
				HASH_DEL(b->owners, new_owner);
				free(new_owner);
			}
			free(fresh);
			return r;
		}
		l = fresh;
	}

	if (w && !mine) {
		/* A lease: the DHCP server gave a to this MAC, whoever learned it before. */
		other = find_learned(b, w->mac);
		memcpy(lost, w->mac, CK_MAC_LEN);
		memcpy(w->mac, mac, CK_MAC_LEN);
		for (unsigned int i = 0; other && i < __CK_LEARNED_LAST; i++)
			if (other->slot[i].set && !memcmp(&other->slot[i].a, a, sizeof(*a)))
				other->slot[i].set = false;	/* the owner entry is ours now */
		if (other)
			free_if_empty(b, other);
	} else if (mine) {
		/* Learned some other way before (ARP): the lease's slot holds it from now on. */
		int s = slot_of(l, a);

		if (s >= 0 && s != (int)how)
			l->slot[s].set = false;
	}
	if (l->slot[how].set && memcmp(&l->slot[how].a, a, sizeof(*a)))
		clear_slot(b, l, how);	/* the MAC's previous lease */
	l->slot[how].set = true;
	l->slot[how].a = *a;
	l->slot[how].expires = expires;
	return CK_LEARN_CHANGED;
}

bool ck_addrbook_unlearn(struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN],
			 const struct ck_addr *a)
{
	struct learned *l = find_learned(b, mac);
	bool had = false;

	for (unsigned int i = 0; l && i < __CK_LEARNED_LAST; i++)
		if (l->slot[i].set && (!a || !memcmp(&l->slot[i].a, a, sizeof(*a)))) {
			clear_slot(b, l, i);
			had = true;
		}
	if (l)
		free_if_empty(b, l);
	return had;
}

bool ck_addrbook_learned_expiry(const struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN],
				enum ck_learned_how how, const struct ck_addr *a, uint64_t *expires)
{
	const struct learned *l = find_learned(b, mac);

	if (!l || how >= __CK_LEARNED_LAST || !l->slot[how].set ||
	    memcmp(&l->slot[how].a, a, sizeof(*a)))
		return false;
	*expires = l->slot[how].expires;
	return true;
}

bool ck_addrbook_unlearn_how(struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN],
			     enum ck_learned_how how)
{
	struct learned *l = find_learned(b, mac);

	if (!l || how >= __CK_LEARNED_LAST || !l->slot[how].set)
		return false;
	clear_slot(b, l, how);
	free_if_empty(b, l);
	return true;
}

uint64_t ck_addrbook_next_expiry(const struct ck_addrbook *b)
{
	const struct learned *l, *tmp;
	uint64_t next = UINT64_MAX;

	HASH_ITER(hh, b->learned, l, tmp)
		for (unsigned int i = 0; i < __CK_LEARNED_LAST; i++)
			if (l->slot[i].set && l->slot[i].expires < next)
				next = l->slot[i].expires;
	return next;
}

void ck_addrbook_expire(struct ck_addrbook *b, uint64_t now,
			void (*fn)(const uint8_t mac[CK_MAC_LEN], void *userdata), void *userdata)
{
	struct learned *l, *tmp;

	HASH_ITER(hh, b->learned, l, tmp) {
		uint8_t mac[CK_MAC_LEN];
		bool lost = false;

		for (unsigned int i = 0; i < __CK_LEARNED_LAST; i++)
			if (l->slot[i].set && l->slot[i].expires <= now) {
				clear_slot(b, l, i);
				lost = true;
			}
		if (!lost)
			continue;
		memcpy(mac, l->mac, CK_MAC_LEN);
		free_if_empty(b, l);
		fn(mac, userdata);
	}
}

void ck_addrbook_foreach_learned(const struct ck_addrbook *b,
				 void (*fn)(const uint8_t mac[CK_MAC_LEN], const struct ck_addr *a,
					    enum ck_learned_how how, uint64_t expires,
					    void *userdata),
				 void *userdata)
{
	const struct learned *l, *tmp;

	HASH_ITER(hh, b->learned, l, tmp)
		for (unsigned int i = 0; i < __CK_LEARNED_LAST; i++)
			if (l->slot[i].set)
				fn(l->mac, &l->slot[i].a, i, l->slot[i].expires, userdata);
}

/* Whether an entry missing since *since (0: not missing) is due at now; notes the next due. */
static bool gone_for(uint64_t *since, bool present, uint64_t now, uint64_t grace,
		     uint64_t *next)
{
	if (present) {
		*since = 0;
		return false;
	}
	if (!*since)
		*since = now;
	if (now - *since >= grace)
		return true;
	if (*since + grace < *next)
		*next = *since + grace;
	return false;
}

size_t ck_addrbook_retain(struct ck_addrbook *b,
			  bool (*has_uuid)(const uint8_t uuid[CK_UUID_LEN], void *userdata),
			  bool (*has_mac)(const uint8_t mac[CK_MAC_LEN], void *userdata),
			  void *userdata, uint64_t now, uint64_t grace, uint64_t *next,
			  size_t *learned_dropped)
{
	struct orchestrated *o, *otmp;
	struct learned *l, *ltmp;
	size_t dropped = 0;

	*next = UINT64_MAX;
	*learned_dropped = 0;
	HASH_ITER(hh, b->orchestrated, o, otmp)
		if (gone_for(&o->missing_since, has_uuid(o->key.uuid, userdata), now, grace, next)) {
			HASH_DEL(b->orchestrated, o);
			free(o);
			dropped++;
		}
	HASH_ITER(hh, b->learned, l, ltmp)
		if (gone_for(&l->missing_since, has_mac(l->mac, userdata), now, grace, next)) {
			ck_addrbook_unlearn(b, l->mac, NULL);
			(*learned_dropped)++;
		}
	return dropped;
}

void ck_addrbook_merge(const struct ck_addrbook *b, struct ck_member *m)
{
	for (unsigned int k = 0; k < m->n_nics; k++) {
		struct ck_nic *nic = &m->nics[k];
		const struct orchestrated *o = find_orchestrated(b, m->uuid, nic->mac);
		const struct orchestrated *first = k == 0 ? find_orchestrated(b, m->uuid, NULL) : NULL;
		const struct learned *l = find_learned(b, nic->mac);

		for (unsigned int i = 0; o && i < o->n; i++)
			ck_nic_add(nic, &o->v[i], CK_ADDR_ORCHESTRATOR);
		for (unsigned int i = 0; first && i < first->n; i++)
			ck_nic_add(nic, &first->v[i], CK_ADDR_ORCHESTRATOR);
		for (unsigned int i = 0; l && i < __CK_LEARNED_LAST; i++)
			if (l->slot[i].set)
				ck_nic_add(nic, &l->slot[i].a, CK_ADDR_LEARNED);
	}
}
