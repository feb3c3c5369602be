// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "member-json.h"
#include "scan.h"

/*
 * An allocation failure inside uthash must fail the one insert, not abort the daemon: without
 * HASH_NONFATAL_OOM set to 1, uthash ignores uthash_nonfatal_oom() and calls exit(-1).
 */
#define HASH_NONFATAL_OOM 1
static bool cache_oom;
#define uthash_nonfatal_oom(elt) (cache_oom = true)
#define uthash_malloc(sz) scan_hash_malloc(sz)

/*
 * uthash's own allocations (the table, its buckets).  Weak so that tests/unit/test-scan.c
 * can replace it and make an insert fail; nothing else does.
 */
void *scan_hash_malloc(size_t size);
__attribute__((weak)) void *scan_hash_malloc(size_t size)
{
	return malloc(size);
}

#include <uthash.h>

/* One domain as the last scan read it: its run state and, if it was a member, its record. */
enum {
	STALE_NICS = 1,		/* a vif backend fired: its vifs are read again */
	STALE_ALL = 2,		/* anything else: the whole domain is */
};

struct cached_domain {
	uint16_t domid;
	uint8_t stale;		/* STALE_*: what watches said changed since it was read */
	uint64_t seen;		/* the scan that last listed it */
	struct domain_info info;
	struct ck_member m;	/* as read, before conflicts between members are resolved */
	UT_hash_handle hh;
};

struct scan_cache {
	struct cached_domain *domains;	/* uthash by domid; only members are kept */
	bool all_stale;
	bool reading_all;	/* this scan serves an all_stale (which may be set again meanwhile) */
	uint64_t scans;
	/*
	 * The hypervisor's domain list as the last scan took it.  Domains come, go and change
	 * run state only with @introduceDomain or @releaseDomain (or a libxl event) firing, so
	 * until one does the list is reused rather than asked for again.
	 */
	struct domain_info *infos;
	size_t n_infos;
	bool list_stale;
};

#define INCOMING_SUFFIX "--incoming"
#define MIGRATEDAWAY_SUFFIX "--migratedaway"

/* /local/domain/<domid>/<leaf>: keys the toolstack owns and the guest cannot write. */
static char *read_key(const struct host *host, unsigned int domid, const char *leaf)
{
	char path[128];
	unsigned int len;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, leaf);
	return host->ops->read(host->ctx, path, &len);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Domain names are the toolstack's, but only printable ASCII of bounded length goes on. */
static void copy_name(char dst[CK_NAME_MAX + 1], const char *src)
{
	size_t i;

	for (i = 0; i < CK_NAME_MAX && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '_';
	dst[i] = '\0';
}

/* "vm" holds "/vm/<uuid>"; the uuid is the path's last element. */
static int read_uuid(const struct host *host, unsigned int domid, uint8_t uuid[CK_UUID_LEN])
{
	char *vm = read_key(host, domid, "vm");
	const char *slash;
	int r = -ENOENT;

	if (vm) {
		slash = strrchr(vm, '/');
		r = ck_parse_uuid(slash ? slash + 1 : vm, uuid);
		free(vm);
	}
	return r;
}

static int by_number(const void *a, const void *b)
{
	long x = strtol(*(char *const *)a, NULL, 10), y = strtol(*(char *const *)b, NULL, 10);

	return (x > y) - (x < y);
}

/* The vif's "ip" key: addresses separated by spaces, as libxl writes them. */
static void parse_ips(struct ck_nic *nic, char *ips, unsigned int domid)
{
	char *save = NULL;

	for (char *tok = strtok_r(ips, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strchr(tok, ':')) {
			if (nic->n_ipv6 < CK_ADDRS_MAX &&
			    ck_parse_ipv6(tok, nic->ipv6[nic->n_ipv6]) == 0)
				nic->n_ipv6++;
			continue;
		}
		if (nic->n_ipv4 < CK_ADDRS_MAX && ck_parse_ipv4(tok, &nic->ipv4[nic->n_ipv4]) == 0 &&
		    nic->ipv4[nic->n_ipv4] != 0)
			nic->n_ipv4++;
		else
			log_debug("domid %u: vif ip '%.64s' ignored", domid, tok);
	}
}

static void read_nics(const struct host *host, struct ck_member *m)
{
	char path[96];
	unsigned int num = 0;
	char **devs;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u", m->domid);
	devs = host->ops->directory(host->ctx, path, &num);
	if (!devs)
		return;
	qsort(devs, num, sizeof(*devs), by_number);
	for (unsigned int i = 0; i < num && m->n_nics < CK_NICS_MAX; i++) {
		struct ck_nic *nic = &m->nics[m->n_nics];
		char key[160], *mac, *ip;
		unsigned int len;

		snprintf(key, sizeof(key), "%s/%.16s/mac", path, devs[i]);
		mac = host->ops->read(host->ctx, key, &len);
		if (!mac || ck_parse_mac(mac, nic->mac) < 0 || !ck_mac_valid(nic->mac)) {
			log_debug("domid %u: vif %.16s without a valid mac", m->domid, devs[i]);
			free(mac);
			memset(nic, 0, sizeof(*nic));
			continue;
		}
		free(mac);
		snprintf(key, sizeof(key), "%s/%.16s/ip", path, devs[i]);
		ip = host->ops->read(host->ctx, key, &len);
		if (ip) {
			parse_ips(nic, ip, m->domid);
			free(ip);
		}
		m->n_nics++;
	}
	free(devs);
}

static int by_domid(const void *a, const void *b)
{
	const struct ck_member *x = a, *y = b;

	return (int)x->domid - (int)y->domid;
}

/* Reads one domain; -ENOENT when it is not (or not yet, or no longer) a member. */
static int read_member(const struct host *host, const struct domain_info *info,
		       struct ck_member *m)
{
	char *name;

	if (info->dying || (info->shutdown && !info->suspended))
		return -ENOENT;
	memset(m, 0, sizeof(*m));
	m->domid = info->domid;
	m->state = info->suspended ? CK_MEMBER_MIGRATING_OUT : CK_MEMBER_RUNNING;

	/* A domain being built has no name yet; a migration target is paused "--incoming". */
	name = read_key(host, info->domid, "name");
	if (!name)
		return -ENOENT;
	if (!*name || ends_with(name, INCOMING_SUFFIX) || ends_with(name, MIGRATEDAWAY_SUFFIX)) {
		free(name);
		return -ENOENT;
	}
	copy_name(m->name, name);
	free(name);
	if (read_uuid(host, info->domid, m->uuid) < 0)
		return -ENOENT;
	read_nics(host, m);
	return 0;
}

/* Zeroes in nic every key that other holds too; compact() then drops them. */
static unsigned int drop_shared_keys(struct ck_nic *nic, const struct ck_nic *other)
{
	unsigned int dropped = 0;

	if (ck_mac_valid(nic->mac) && memcmp(nic->mac, other->mac, CK_MAC_LEN) == 0) {
		memset(nic->mac, 0, CK_MAC_LEN);
		dropped++;
	}
	for (unsigned int a = 0; a < nic->n_ipv4; a++)
		for (unsigned int b = 0; b < other->n_ipv4; b++)
			if (nic->ipv4[a] && nic->ipv4[a] == other->ipv4[b]) {
				nic->ipv4[a] = 0;
				dropped++;
			}
	for (unsigned int a = 0; a < nic->n_ipv6; a++)
		for (unsigned int b = 0; b < other->n_ipv6; b++)
			if (!memcmp(nic->ipv6[a], other->ipv6[b], CK_IPV6_LEN)) {
				memset(nic->ipv6[a], 0, CK_IPV6_LEN);
				dropped++;
			}
	return dropped;
}

/* Of two members with one uuid, the one to drop: the migrating-out or else the older half. */
static bool superseded_by(const struct ck_member *a, const struct ck_member *b)
{
	if (memcmp(a->uuid, b->uuid, CK_UUID_LEN) != 0)
		return false;
	if (a->state != b->state)
		return a->state == CK_MEMBER_MIGRATING_OUT;
	return a->domid < b->domid;
}

/*
 * Two domids with one uuid are a localhost migration's two halves: the running one is the
 * member.  A key held by two members (a toolstack misconfiguration) stays with the lower
 * domid, because a guest's kernel table cannot map one key to two peers.  members is sorted
 * by domid.
 */
static int resolve_conflicts(struct ck_member *v, size_t *n, unsigned int *conflicts)
{
	bool *drop = calloc(*n ? *n : 1, sizeof(*drop));
	size_t kept = 0;

	if (!drop)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++)
		for (size_t j = 0; j < *n && !drop[i]; j++)
			drop[i] = j != i && superseded_by(&v[i], &v[j]);
	for (size_t i = 0; i < *n; i++) {
		if (drop[i])
			(*conflicts)++;
		else
			v[kept++] = v[i];
	}
	free(drop);
	*n = kept;

	for (size_t i = 1; i < *n; i++)
		for (unsigned int k = 0; k < v[i].n_nics; k++)
			for (size_t j = 0; j < i; j++)
				for (unsigned int l = 0; l < v[j].n_nics; l++)
					*conflicts += drop_shared_keys(&v[i].nics[k], &v[j].nics[l]);
	return 0;
}

/* Drops the NICs and addresses resolve_conflicts() zeroed. */
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
			if (nic.ipv4[a])
				nic.ipv4[n4++] = nic.ipv4[a];
		for (unsigned int a = 0; a < nic.n_ipv6; a++)
			if (memcmp(nic.ipv6[a], zero6, CK_IPV6_LEN))
				memcpy(nic.ipv6[n6++], nic.ipv6[a], CK_IPV6_LEN);
		nic.n_ipv4 = n4;
		nic.n_ipv6 = n6;
		m->nics[nics++] = nic;
	}
	m->n_nics = nics;
}

int scan_cache_new(struct scan_cache **ret)
{
	struct scan_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->list_stale = true;
	*ret = c;
	return 0;
}

void scan_cache_free(struct scan_cache *c)
{
	struct cached_domain *e, *tmp;

	if (!c)
		return;
	HASH_ITER(hh, c->domains, e, tmp) {
		HASH_DEL(c->domains, e);
		free(e);
	}
	free(c->infos);
	free(c);
}

void scan_cache_forget(struct scan_cache *c)
{
	c->all_stale = true;
	c->list_stale = true;
}

void scan_cache_domains_changed(struct scan_cache *c)
{
	c->list_stale = true;
}

bool scan_cache_stale(const struct scan_cache *c)
{
	const struct cached_domain *e, *tmp;

	if (c->all_stale || c->list_stale)
		return true;
	HASH_ITER(hh, c->domains, e, tmp)
		if (e->stale)
			return true;
	return false;
}

static void mark_stale(struct scan_cache *c, unsigned int domid, uint8_t what)
{
	struct cached_domain *e;
	uint16_t key = domid;

	if (domid >= CK_DOMID_LIMIT)
		return;
	HASH_FIND(hh, c->domains, &key, sizeof(key), e);
	if (e)
		e->stale |= what;
}

/* A decimal domid that ends at '/' or the string's end; -1 if there is none. */
static long path_domid(const char *p, const char **rest)
{
	char *end;
	long domid;

	if (*p < '0' || *p > '9')
		return -1;
	domid = strtol(p, &end, 10);
	if ((*end != '/' && *end != '\0') || domid >= CK_DOMID_LIMIT)
		return -1;
	*rest = end;
	return domid;
}

bool scan_cache_watch_fired(struct scan_cache *c, const char *path)
{
	static const char vif[] = "/local/domain/0/backend/vif", home[] = "/local/domain/";
	const char *rest = NULL, *leaf;
	unsigned int depth = 0;
	long domid;

	/* @introduceDomain, @releaseDomain: the domain list. */
	if (path[0] == '@') {
		scan_cache_domains_changed(c);
		return true;
	}
	if (!strncmp(path, vif, sizeof(vif) - 1) && (path[sizeof(vif) - 1] == '/' ||
						     path[sizeof(vif) - 1] == '\0')) {
		rest = path + sizeof(vif) - 1;
		for (const char *p = rest; *p; p++)
			depth += *p == '/';
		if (depth == 0) {	/* the whole tree */
			scan_cache_forget(c);
			return true;
		}
		leaf = strrchr(rest, '/') + 1;
		/* A domain's vifs or one vif created or removed, or a vif's mac or ip written;
		 * the rest (state, hotplug-status, features) is rewritten while it connects. */
		if (depth > 3 || (depth == 3 && strcmp(leaf, "mac") && strcmp(leaf, "ip")))
			return false;
		domid = path_domid(rest + 1, &rest);
		if (domid < 0)
			scan_cache_forget(c);
		else
			mark_stale(c, domid, STALE_NICS);
		return true;
	}
	/* A member's name (xl rename, a migration's handover). */
	if (!strncmp(path, home, sizeof(home) - 1) &&
	    (domid = path_domid(path + sizeof(home) - 1, &rest)) >= 0 && !strcmp(rest, "/name")) {
		mark_stale(c, domid, STALE_ALL);
		return true;
	}
	/* Anything else watched is taken to change anything. */
	scan_cache_forget(c);
	return true;
}

static bool same_run_state(const struct domain_info *a, const struct domain_info *b)
{
	return a->dying == b->dying && a->shutdown == b->shutdown && a->suspended == b->suspended;
}

static int cache_insert(struct scan_cache *c, uint16_t domid, struct cached_domain **ret)
{
	struct cached_domain *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->domid = domid;
	cache_oom = false;
	HASH_ADD(hh, c->domains, domid, sizeof(e->domid), e);
	if (cache_oom) {
		free(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

/*
 * One domain's member record: the cache's, unless a watch or its run state says it may have
 * changed, else read from the host (and cached).  -ENOENT: not (yet, or any more) a member.
 */
static int get_member(const struct host *host, struct scan_cache *c,
		      const struct domain_info *info, struct ck_member *m,
		      struct scan_result *result)
{
	struct cached_domain *e = NULL;
	uint16_t key = info->domid;
	int r;

	if (c) {
		HASH_FIND(hh, c->domains, &key, sizeof(key), e);
		if (e && !c->reading_all && same_run_state(&e->info, info) &&
		    !(e->stale & STALE_ALL)) {
			e->seen = c->scans;
			*m = e->m;
			if (!e->stale)
				return 0;
			/* Name and uuid stand; the vifs are read again. */
			result->read++;
			m->n_nics = 0;
			memset(m->nics, 0, sizeof(m->nics));
			read_nics(host, m);
			e->m = *m;
			/* A name fire taken while its vifs were read (a barrier) waits for the next scan. */
			e->stale &= ~STALE_NICS;
			return 0;
		}
	}
	result->read++;
	r = read_member(host, info, m);
	if (!c)
		return r;
	if (r < 0) {
		/* Not a member yet (being built, incoming): read again every scan until it is. */
		if (e) {
			HASH_DEL(c->domains, e);
			free(e);
		}
		return r;
	}
	if (!e) {
		r = cache_insert(c, key, &e);
		if (r < 0) {
			/* The member still counts; uncached, it is read again next scan. */
			log_debug("domid %u: not cached: %s", key, strerror(-r));
			return 0;
		}
	}
	e->stale = 0;
	e->seen = c->scans;
	e->info = *info;
	e->m = *m;
	return 0;
}

/* Domains the scan did not list are gone: their records go too. */
static void cache_sweep(struct scan_cache *c)
{
	struct cached_domain *e, *tmp;

	HASH_ITER(hh, c->domains, e, tmp)
		if (e->seen != c->scans) {
			HASH_DEL(c->domains, e);
			free(e);
		}
}

int scan_host(const struct host *host, const struct scan_options *opts, struct scan_cache *cache,
	      struct ck_memberset *out, struct scan_result *result)
{
	struct domain_info *owned = NULL;	/* the list when there is no cache to keep it */
	const struct domain_info *infos;
	struct ck_member *members = NULL;
	size_t n_infos = 0, n = 0;
	int r;

	memset(result, 0, sizeof(*result));
	if (cache) {
		cache->scans++;
		cache->reading_all = cache->all_stale;
		cache->all_stale = false;
	}
	/* The list is the cache's when there is one: read only, until the next scan's. */
	if (!cache || cache->list_stale) {
		r = host->ops->list_domains(host->ctx, &owned, &n_infos);
		if (r < 0)
			goto out;
		if (cache) {
			free(cache->infos);
			cache->infos = owned;
			cache->n_infos = n_infos;
			cache->list_stale = false;
			owned = NULL;
		}
	}
	infos = cache ? cache->infos : owned;
	n_infos = cache ? cache->n_infos : n_infos;
	result->domains = n_infos;

	/*
	 * The hypervisor's list, one call: a domain it lists that xenstore does not (not yet
	 * introduced, or already released) has no name there, and read_member() skips it.
	 */
	members = calloc(n_infos ? n_infos : 1, sizeof(*members));
	if (!members) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_infos; i++) {
		const struct domain_info *info = &infos[i];

		if (info->domid >= CK_DOMID_LIMIT || (info->domid == 0 && !opts->include_dom0))
			continue;
		if (get_member(host, cache, info, &members[n], result) < 0) {
			result->skipped++;
			continue;
		}
		n++;
	}
	if (cache)
		cache_sweep(cache);
	qsort(members, n, sizeof(*members), by_domid);
	r = resolve_conflicts(members, &n, &result->conflicts);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		compact(&members[i]);
		r = ck_memberset_put(out, &members[i]);
		if (r < 0) {
			log_warning_errno(r, "domid %u: not a valid member", members[i].domid);
			result->skipped++;
		}
	}
	r = 0;
out:
	/* A failed scan served nothing: what it was to read everything for still stands. */
	if (r < 0 && cache && cache->reading_all)
		cache->all_stale = true;
	free(members);
	free(owned);
	return r;
}
