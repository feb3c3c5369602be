// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"

void ck_delta_reset(struct ck_delta *d)
{
	free(d->upserts);
	free(d->removed);
	memset(d, 0, sizeof(*d));
}

int ck_delta_diff(const struct ck_memberset *from, const struct ck_memberset *to,
		  struct ck_delta *out)
{
	const struct ck_member **old = NULL, **new = NULL;
	struct ck_delta d = { 0 };
	size_t n_old, n_new;
	int r;

	r = ck_memberset_sorted(from, &old, &n_old);
	if (r < 0)
		return r;
	r = ck_memberset_sorted(to, &new, &n_new);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (n_new && !(d.upserts = calloc(n_new, sizeof(*d.upserts))))
		goto out;
	if (n_old && !(d.removed = calloc(n_old, sizeof(*d.removed))))
		goto out;

	/* Both lists are sorted by domid: one merge pass finds every difference. */
	for (size_t i = 0, j = 0; i < n_old || j < n_new;) {
		if (j == n_new || (i < n_old && old[i]->domid < new[j]->domid)) {
			d.removed[d.n_removed++] = old[i++]->domid;
		} else if (i == n_old || new[j]->domid < old[i]->domid) {
			d.upserts[d.n_upserts++] = *new[j++];
		} else {
			if (!ck_member_equal(old[i], new[j]))
				d.upserts[d.n_upserts++] = *new[j];
			i++;
			j++;
		}
	}
	*out = d;
	memset(&d, 0, sizeof(d));
	r = 0;
out:
	ck_delta_reset(&d);
	free(old);
	free(new);
	return r;
}

int ck_delta_apply(struct ck_memberset *set, const struct ck_delta *d)
{
	return ck_memberset_apply(set, d->upserts, d->n_upserts, d->removed, d->n_removed);
}
