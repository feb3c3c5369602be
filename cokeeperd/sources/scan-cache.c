// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scan's memory between scans (scan-cache.h): which domains a watch fire or a run-state
 * change sent to be read again, in what order a scan reads them, and their records as read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflicts.h"
#include "hash.h"
#include "logging.h"
#include "scan-cache.h"
#include "scan-read.h"

/* One domain as the last scan read it: its run state and, if it was a member, its record. */
enum {
	STALE_NICS = 1,		/* a vif backend fired: its vifs are read again */
	STALE_ALL = 2,		/* anything else: the whole domain is */
};

struct cached_domain {
	uint16_t domid;
	uint8_t stale;		/* STALE_*: what watches said changed since it was read */
	bool queued;		/* in the queue of domains to read, or this scan's late list */
	struct domain_info info;
	struct ck_member m;	/* as read, before conflicts between members are resolved */
	UT_hash_handle hh;
};

/* A growing array of domids. */
struct domids {
	uint16_t *v;
	size_t n, cap;
};

struct scan_cache {
	struct cached_domain *domains;	/* uthash by domid; only members are kept */
	bool all_stale;
	bool reading_all;	/* this scan serves an all_stale (which may be set again meanwhile) */
	bool whole;		/* the next scan_host_changes() hands out the whole set */
	/*
	 * The hypervisor's domain list as the last scan took it, sorted by domid.  Domains
	 * come, go and change run state only with @introduceDomain or @releaseDomain (or a
	 * libxl event) firing, so until one does the list is reused rather than asked for again.
	 */
	struct domain_info *infos;
	size_t n_infos;
	bool list_stale;
	/*
	 * What the next scan reads: domains a watch marked (queue), and listed domains that are
	 * not cached (not members yet, or an insert that failed), read every scan.
	 */
	struct domids queue, pending;
	/* While a scan runs: the domid it reads, and marked domains above it it still serves. */
	bool scanning;
	uint16_t cursor;
	struct domids late;
	/* The members as read, and who keeps what among them. */
	struct conflicts *conflicts;
	bool trust_claimed;	/* what conflicts was made with */
};

static int push(struct domids *d, uint16_t domid)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		uint16_t *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = domid;
	return 0;
}

int scan_cache_new(struct scan_cache **ret)
{
	struct scan_cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = conflicts_new(&c->conflicts, false);
	if (r < 0) {
		free(c);
		return r;
	}
	c->list_stale = true;
	c->whole = true;
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
	conflicts_free(c->conflicts);
	free(c->queue.v);
	free(c->pending.v);
	free(c->late.v);
	free(c->infos);
	free(c);
}

void scan_cache_forget(struct scan_cache *c)
{
	c->all_stale = true;
	c->list_stale = true;
	/* Also what the daemon may have missed: the next scan hands out the whole set. */
	c->whole = true;
}

void scan_cache_domains_changed(struct scan_cache *c)
{
	c->list_stale = true;
}

bool scan_cache_stale(const struct scan_cache *c)
{
	const struct cached_domain *e;

	if (c->all_stale || c->list_stale)
		return true;
	for (size_t i = 0; i < c->queue.n; i++) {
		HASH_FIND(hh, c->domains, &c->queue.v[i], sizeof(c->queue.v[i]), e);
		if (e && e->stale)
			return true;
	}
	return false;
}

/* Inserts domid into the sorted d (a scan's late list: a few domids at most). */
static int insert_sorted(struct domids *d, uint16_t domid)
{
	size_t i;
	int r = push(d, domid);

	if (r < 0)
		return r;
	for (i = d->n - 1; i > 0 && d->v[i - 1] > domid; i--)
		d->v[i] = d->v[i - 1];
	d->v[i] = domid;
	return 0;
}

static void mark_stale(struct scan_cache *c, unsigned int domid, uint8_t what)
{
	struct cached_domain *e;
	uint16_t key = domid;
	int r;

	if (domid >= CK_DOMID_LIMIT)
		return;
	HASH_FIND(hh, c->domains, &key, sizeof(key), e);
	if (!e)
		return;
	e->stale |= what;
	if (e->queued)
		return;
	/* One the running scan has yet to reach is served by it, as in domid order it would. */
	if (c->scanning && key > c->cursor)
		r = insert_sorted(&c->late, key);
	else
		r = push(&c->queue, key);
	if (r < 0)
		scan_cache_forget(c);	/* nowhere to note it: read everything */
	else
		e->queued = true;
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

void scan_cache_remerge(struct scan_cache *c, uint16_t domid)
{
	mark_stale(c, domid, 0);
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
		/*
		 * A domain's vifs or one vif created or removed, or a vif's mac, ip, bridge or
		 * rate written (the last two decide its fast path pairs, fastpath.conf(5)); the
		 * rest (state, hotplug-status, features) is rewritten while it connects.
		 */
		if (depth > 3 || (depth == 3 && strcmp(leaf, "mac") && strcmp(leaf, "ip") &&
				  strcmp(leaf, "bridge") && strcmp(leaf, "rate")))
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
	/*
	 * The guest's own word on its addresses (attr/vif/<devid>/ipv4|ipv6/<n>): its vifs are
	 * read again.  The guest writes there as often as it likes; what it costs is the read
	 * of its own vifs once per scan, and a change only when what it claims is used.
	 */
	if (rest && domid >= 0 && !strncmp(rest, "/attr/vif", 9) &&
	    (rest[9] == '/' || rest[9] == '\0')) {
		mark_stale(c, domid, STALE_NICS);
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
	int r;

	if (!e)
		return -ENOMEM;
	e->domid = domid;
	r = CK_HASH_TRY(HASH_ADD(hh, c->domains, domid, sizeof(e->domid), e));
	if (r < 0) {
		free(e);
		return r;
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

	HASH_FIND(hh, c->domains, &key, sizeof(key), e);
	if (e && !c->reading_all && same_run_state(&e->info, info) && !(e->stale & STALE_ALL)) {
		*m = e->m;
		if (!e->stale)
			return 0;
		/* Name and uuid stand; the vifs are read again. */
		result->read++;
		m->n_nics = 0;
		memset(m->nics, 0, sizeof(m->nics));
		scan_read_nics(host, m);
		e->m = *m;
		/* A name fire taken while its vifs were read (a barrier) waits for the next scan. */
		e->stale &= ~STALE_NICS;
		return 0;
	}
	result->read++;
	r = scan_read_member(host, info, m);
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
	e->info = *info;
	e->m = *m;
	return 0;
}

static int by_info_domid(const void *a, const void *b)
{
	const struct domain_info *x = a, *y = b;

	return (int)x->domid - (int)y->domid;
}

static int by_domid(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static const struct domain_info *find_info(const struct scan_cache *c, uint16_t domid)
{
	struct domain_info key = { .domid = domid };

	return c->n_infos ? bsearch(&key, c->infos, c->n_infos, sizeof(key), by_info_domid) : NULL;
}

static bool info_equal(const struct domain_info *a, const struct domain_info *b)
{
	return a->domid == b->domid && same_run_state(a, b) && a->paused == b->paused;
}

/*
 * Takes the hypervisor's list anew and notes in todo every domain that came, went or
 * changed run state since the last one: one merge of two sorted lists.
 */
static int take_list(const struct host *host, struct scan_cache *c, struct domids *todo)
{
	struct domain_info *infos = NULL;
	size_t n = 0, i = 0, j = 0;
	int r;

	r = host->ops->list_domains(host->ctx, &infos, &n);
	if (r < 0)
		return r;
	for (size_t k = 1; k < n; k++)
		if (infos[k - 1].domid >= infos[k].domid) {
			qsort(infos, n, sizeof(*infos), by_info_domid);
			break;
		}
	while (r == 0 && (i < c->n_infos || j < n)) {
		if (j == n || (i < c->n_infos && c->infos[i].domid < infos[j].domid)) {
			r = push(todo, c->infos[i++].domid);
		} else if (i == c->n_infos || infos[j].domid < c->infos[i].domid) {
			r = push(todo, infos[j++].domid);
		} else {
			if (!info_equal(&c->infos[i], &infos[j]))
				r = push(todo, infos[j].domid);
			i++;
			j++;
		}
	}
	if (r < 0) {
		free(infos);
		return r;
	}
	free(c->infos);
	c->infos = infos;
	c->n_infos = n;
	c->list_stale = false;
	return 0;
}

/* Reads one domain the scan must and records what it found. */
static int scan_domain(const struct host *host, const struct scan_options *opts,
		       struct scan_cache *c, uint16_t domid, struct scan_result *result,
		       struct domids *pending)
{
	const struct domain_info *info = find_info(c, domid);
	struct cached_domain *e;
	struct ck_member m;
	int r, err = 0;

	HASH_FIND(hh, c->domains, &domid, sizeof(domid), e);
	if (e)
		e->queued = false;
	if (!info || domid >= CK_DOMID_LIMIT || (domid == 0 && !opts->include_dom0)) {
		/* Gone (or never one of ours): its record goes too. */
		if (e) {
			HASH_DEL(c->domains, e);
			free(e);
		}
		return conflicts_set(c->conflicts, domid, NULL);
	}
	c->cursor = domid;
	r = get_member(host, c, info, &m, result);
	HASH_FIND(hh, c->domains, &domid, sizeof(domid), e);
	if (!e) {
		/* Not a member, or not cached: read every scan. */
		err = push(pending, domid);
	} else if (e->stale && !e->queued) {
		/* A fire taken while it was read: the next scan reads it again. */
		err = push(&c->queue, domid);
		e->queued = err == 0;
	}
	if (err < 0)
		return err;
	if (r < 0) {
		result->skipped++;
		return conflicts_set(c->conflicts, domid, NULL);
	}
	/* What dom0 was told or saw, on top of what the domain's keys say (kept as read). */
	if (opts->addresses)
		opts->addresses(opts->addresses_data, &m);
	return conflicts_set(c->conflicts, domid, &m);
}

int scan_cache_run(const struct host *host, const struct scan_options *opts, struct scan_cache *c,
		   struct scan_result *result, const uint16_t **touched, size_t *n_touched)
{
	struct domids todo = { 0 }, pending = { 0 };
	int r = 0;

	memset(result, 0, sizeof(*result));
	if (opts->trust_claimed != c->trust_claimed) {
		/* Who keeps what changes everywhere: resolve it all anew (in practice once). */
		struct conflicts *fresh;

		r = conflicts_new(&fresh, opts->trust_claimed);
		if (r < 0)
			return r;
		conflicts_free(c->conflicts);
		c->conflicts = fresh;
		c->trust_claimed = opts->trust_claimed;
		scan_cache_forget(c);
	}
	c->reading_all = c->all_stale;
	c->all_stale = false;
	if (c->list_stale)
		r = take_list(host, c, &todo);
	for (size_t i = 0; r == 0 && c->reading_all && i < c->n_infos; i++)
		r = push(&todo, c->infos[i].domid);
	for (size_t i = 0; r == 0 && i < c->queue.n; i++)
		r = push(&todo, c->queue.v[i]);
	for (size_t i = 0; r == 0 && i < c->pending.n; i++)
		r = push(&todo, c->pending.v[i]);
	if (r < 0)
		goto out;
	c->queue.n = 0;
	if (todo.n) {
		size_t u = 1;

		qsort(todo.v, todo.n, sizeof(*todo.v), by_domid);
		for (size_t i = 1; i < todo.n; i++)
			if (todo.v[i] != todo.v[u - 1])
				todo.v[u++] = todo.v[i];
		todo.n = u;
	}

	/* The todo list merged with what fires mark during the scan above where it is. */
	c->scanning = true;
	c->cursor = 0;
	c->late.n = 0;
	for (size_t i = 0, j = 0; r == 0 && (i < todo.n || j < c->late.n);) {
		uint16_t domid;

		if (j == c->late.n || (i < todo.n && todo.v[i] <= c->late.v[j])) {
			domid = todo.v[i++];
			if (j < c->late.n && c->late.v[j] == domid)
				j++;
		} else {
			domid = c->late.v[j++];
		}
		r = scan_domain(host, opts, c, domid, result, &pending);
	}
	c->scanning = false;
	if (r < 0)
		goto out;
	free(c->pending.v);
	c->pending = pending;
	pending = (struct domids){ 0 };
	result->domains = c->n_infos;
	conflicts_resolve(c->conflicts, touched, n_touched);
	result->conflicts = conflicts_count(c->conflicts);
out:
	if (r < 0) {
		/* A failed scan served nothing and may have left anything half read: all again. */
		scan_cache_forget(c);
		c->scanning = false;
	}
	free(todo.v);
	free(pending.v);
	return r;
}

struct conflicts *scan_cache_conflicts(struct scan_cache *c)
{
	return c->conflicts;
}

bool scan_cache_whole(const struct scan_cache *c)
{
	return c->whole;
}

void scan_cache_served(struct scan_cache *c)
{
	c->whole = false;
}
