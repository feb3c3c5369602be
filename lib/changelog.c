// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "changelog.h"

struct change {
	uint64_t gen;
	bool removed;
	struct ck_member member;	/* for a removal only member.domid is meaningful */
};

struct ck_changelog {
	size_t capacity;
	size_t count;
	size_t head;		/* index of the oldest change */
	struct change *ring;
};

int ck_changelog_new(struct ck_changelog **ret, size_t capacity)
{
	struct ck_changelog *log;

	if (capacity == 0)
		return -EINVAL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->ring = calloc(capacity, sizeof(*log->ring));
	if (!log->ring) {
		free(log);
		return -ENOMEM;
	}
	log->capacity = capacity;
	*ret = log;
	return 0;
}

void ck_changelog_free(struct ck_changelog *log)
{
	if (!log)
		return;
	free(log->ring);
	free(log);
}

void ck_changelog_clear(struct ck_changelog *log)
{
	log->count = 0;
	log->head = 0;
}

static const struct change *at(const struct ck_changelog *log, size_t i)
{
	return &log->ring[(log->head + i) % log->capacity];
}

uint64_t ck_changelog_newest(const struct ck_changelog *log)
{
	return log->count ? at(log, log->count - 1)->gen : 0;
}

void ck_changelog_append(struct ck_changelog *log, uint64_t gen, const struct ck_member *upsert,
		   uint16_t domid)
{
	struct change *c;

	if (log->count && gen != ck_changelog_newest(log) + 1)
		ck_changelog_clear(log);
	if (log->count == log->capacity) {
		log->head = (log->head + 1) % log->capacity;
		log->count--;
	}
	c = &log->ring[(log->head + log->count) % log->capacity];
	log->count++;
	c->gen = gen;
	c->removed = upsert == NULL;
	if (upsert)
		c->member = *upsert;
	else
		c->member.domid = domid;
}

static int by_domid_then_gen(const void *a, const void *b)
{
	const struct change *const *x = a, *const *y = b;

	if ((*x)->member.domid != (*y)->member.domid)
		return (int)(*x)->member.domid - (int)(*y)->member.domid;
	return (*x)->gen < (*y)->gen ? -1 : (*x)->gen > (*y)->gen;
}

int ck_changelog_since(const struct ck_changelog *log, uint64_t since_gen, struct ck_delta *out)
{
	uint64_t newest = ck_changelog_newest(log);
	const struct change **v = NULL;
	struct ck_delta d = { 0 };
	size_t first, n;
	int r = -ENOMEM;

	if (since_gen > newest || (log->count && since_gen + 1 < at(log, 0)->gen) ||
	    (!log->count && since_gen != newest))
		return -ESTALE;

	first = log->count ? (size_t)(since_gen + 1 - at(log, 0)->gen) : 0;
	n = log->count - first;
	d.base_gen = since_gen;
	d.new_gen = newest;
	if (n == 0)
		goto done;

	v = calloc(n, sizeof(*v));
	d.upserts = calloc(n, sizeof(*d.upserts));
	d.removed = calloc(n, sizeof(*d.removed));
	if (!v || !d.upserts || !d.removed)
		goto fail;
	for (size_t i = 0; i < n; i++)
		v[i] = at(log, first + i);

	/* The last change of each domid is its state at the newest generation. */
	qsort(v, n, sizeof(*v), by_domid_then_gen);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && v[i + 1]->member.domid == v[i]->member.domid)
			continue;
		if (v[i]->removed)
			d.removed[d.n_removed++] = v[i]->member.domid;
		else
			d.upserts[d.n_upserts++] = v[i]->member;
	}
	free(v);
done:
	*out = d;
	return 0;
fail:
	free(v);
	ck_delta_reset(&d);
	return r;
}
