// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>

#include "conflicts.h"
#include "logging.h"
#include "scan.h"

static int put_member(struct scan_cache *c, uint16_t domid, struct ck_memberset *out,
		      struct scan_result *result)
{
	struct ck_member m;
	int r;

	if (conflicts_member(scan_cache_conflicts(c), domid, &m) < 0)
		return 0;
	r = ck_memberset_put(out, &m);
	if (r == -EINVAL) {
		log_warning_errno(r, "domid %u: not a valid member", domid);
		result->skipped++;
		return 0;
	}
	return r;
}

struct fill {
	struct scan_cache *c;
	struct ck_memberset *out;
	struct scan_result *result;
	int r;
};

static void fill_one(uint16_t domid, void *userdata)
{
	struct fill *f = userdata;

	if (f->r == 0)
		f->r = put_member(f->c, domid, f->out, f->result);
}

static int fill_whole(struct scan_cache *c, struct ck_memberset *out, struct scan_result *result)
{
	struct fill f = { .c = c, .out = out, .result = result };

	conflicts_foreach(scan_cache_conflicts(c), fill_one, &f);
	return f.r;
}

int scan_host_changes(const struct host *host, const struct scan_options *opts,
		      struct scan_cache *cache, struct ck_memberset *out,
		      struct scan_result *result)
{
	bool whole = scan_cache_whole(cache);
	const uint16_t *touched;
	size_t n;
	int r;

	r = scan_cache_run(host, opts, cache, result, &touched, &n);
	if (r < 0)
		return r;
	if (whole) {
		r = fill_whole(cache, out, result);
	} else {
		for (size_t i = 0; r == 0 && i < n; i++)
			r = put_member(cache, touched[i], out, result);
		result->partial = true;
		result->changed = touched;
		result->n_changed = n;
	}
	if (r < 0) {
		scan_cache_forget(cache);
		return r;
	}
	scan_cache_served(cache);
	return 0;
}

int scan_host(const struct host *host, const struct scan_options *opts, struct scan_cache *cache,
	      struct ck_memberset *out, struct scan_result *result)
{
	struct scan_cache *owned = NULL;	/* reading everything: a cache for this scan only */
	const uint16_t *touched;
	size_t n;
	int r;

	if (!cache) {
		r = scan_cache_new(&owned);
		if (r < 0)
			return r;
		cache = owned;
	}
	r = scan_cache_run(host, opts, cache, result, &touched, &n);
	if (r == 0)
		r = fill_whole(cache, out, result);
	if (r < 0)
		scan_cache_forget(cache);
	else
		scan_cache_served(cache);
	scan_cache_free(owned);
	return r;
}
