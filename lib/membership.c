// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "membership.h"

int ck_membership_new(struct ck_membership **ret, uint64_t epoch, size_t log_capacity)
{
	struct ck_membership *m;
	int r;

	if ((log_capacity > 0) != (epoch != 0))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->epoch = epoch;
	r = ck_memberset_new(&m->members);
	if (r < 0)
		goto err_free;
	if (log_capacity) {
		r = ck_changelog_new(&m->changelog, log_capacity);
		if (r < 0)
			goto err_members;
	}
	*ret = m;
	return 0;

err_members:
	ck_memberset_free(m->members);
err_free:
	free(m);
	return r;
}

void ck_membership_free(struct ck_membership *m)
{
	if (!m)
		return;
	ck_changelog_free(m->changelog);
	ck_memberset_free(m->members);
	free(m);
}

/* Removals then upserts, one generation each, in the order ck_delta_apply() uses. */
static void log_changes(struct ck_membership *m, struct ck_delta *d, struct ck_delta *out)
{
	uint64_t gen = m->gen;

	for (size_t i = 0; i < d->n_removed; i++)
		ck_changelog_append(m->changelog, ++gen, NULL, d->removed[i]);
	for (size_t i = 0; i < d->n_upserts; i++)
		ck_changelog_append(m->changelog, ++gen, &d->upserts[i], d->upserts[i].domid);

	d->epoch = m->epoch;
	d->base_gen = m->gen;
	d->new_gen = gen;
	m->gen = gen;
	if (out)
		*out = *d;
	else
		ck_delta_reset(d);
}

int ck_membership_commit(struct ck_membership *m, const struct ck_memberset *next,
			 struct ck_delta *out)
{
	_cleanup_memberset_ struct ck_memberset *copy = NULL;
	struct ck_delta d = { 0 };
	int r;

	if (!m->changelog)
		return -EINVAL;
	r = ck_delta_diff(m->members, next, &d);
	if (r < 0)
		return r;
	if (ck_delta_changes(&d) > 0) {
		r = ck_memberset_copy(next, &copy);
		if (r < 0) {
			ck_delta_reset(&d);
			return r;
		}
		ck_memberset_swap(m->members, copy);
	}
	log_changes(m, &d, out);
	return 0;
}

int ck_membership_commit_domids(struct ck_membership *m, const struct ck_memberset *next,
				const uint16_t *domids, size_t n, struct ck_delta *out)
{
	struct ck_delta d = { 0 };
	bool *fresh = NULL;	/* upserts[i] is a new member */
	int r = -ENOMEM;

	if (!m->changelog)
		return -EINVAL;
	for (size_t i = 1; i < n; i++)
		if (domids[i - 1] >= domids[i])
			return -EINVAL;
	if (n && (!(d.upserts = calloc(n, sizeof(*d.upserts))) ||
		  !(d.removed = calloc(n, sizeof(*d.removed))) ||
		  !(fresh = calloc(n, sizeof(*fresh)))))
		goto fail;
	/* The diff of the named domids only, in domid order as ck_delta_diff() gives it. */
	for (size_t i = 0; i < n; i++) {
		const struct ck_member *was = ck_memberset_find(m->members, domids[i]);
		const struct ck_member *is = ck_memberset_find(next, domids[i]);

		if (!is && was) {
			d.removed[d.n_removed++] = domids[i];
		} else if (is && (!was || !ck_member_equal(was, is))) {
			fresh[d.n_upserts] = !was;
			d.upserts[d.n_upserts++] = *is;
		}
	}
	/*
	 * Only a new member can fail to go in (an allocation): those first, taken out again on
	 * failure; then the replacements and removals, which cannot fail.
	 */
	for (size_t i = 0; i < d.n_upserts; i++) {
		if (!fresh[i])
			continue;
		r = ck_memberset_put(m->members, &d.upserts[i]);
		if (r < 0) {
			while (i-- > 0)
				if (fresh[i])
					(void)ck_memberset_remove(m->members, d.upserts[i].domid);
			goto fail;
		}
	}
	for (size_t i = 0; i < d.n_upserts; i++)
		if (!fresh[i])
			(void)ck_memberset_put(m->members, &d.upserts[i]);
	for (size_t i = 0; i < d.n_removed; i++)
		(void)ck_memberset_remove(m->members, d.removed[i]);
	free(fresh);
	log_changes(m, &d, out);
	return 0;

fail:
	free(fresh);
	ck_delta_reset(&d);
	return r;
}

int ck_membership_delta_since(const struct ck_membership *m, uint64_t epoch, uint64_t gen,
			      struct ck_delta *out)
{
	int r;

	if (!m->changelog || epoch != m->epoch || gen > m->gen)
		return -ESTALE;
	if (gen == m->gen) {
		*out = (struct ck_delta){ .epoch = m->epoch, .base_gen = gen, .new_gen = gen };
		return 0;
	}
	r = ck_changelog_since(m->changelog, gen, out);
	if (r < 0)
		return r;
	out->epoch = m->epoch;
	return 0;
}

int ck_membership_apply(struct ck_membership *m, const struct ck_delta *d)
{
	int r;

	if (d->new_gen < d->base_gen)
		return -EINVAL;
	if (m->epoch == 0 || d->epoch != m->epoch || d->base_gen > m->gen)
		return -ESTALE;
	if (d->new_gen <= m->gen)
		return 0;

	/*
	 * base_gen <= gen < new_gen: the delta names every domid changed after base_gen with
	 * its state at new_gen, and the ones it does not name did not change, so applying it
	 * over changes the replica already holds still lands exactly on new_gen.
	 */
	r = ck_delta_apply(m->members, d);
	if (r < 0)
		return r;
	m->gen = d->new_gen;
	return 0;
}

int ck_membership_replace(struct ck_membership *m, uint64_t epoch, uint64_t gen,
			  struct ck_memberset *members)
{
	if (epoch == 0) {
		ck_memberset_free(members);
		return -EINVAL;
	}
	ck_memberset_swap(m->members, members);
	ck_memberset_free(members);
	m->epoch = epoch;
	m->gen = gen;
	return 0;
}
