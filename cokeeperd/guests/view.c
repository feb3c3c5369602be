// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

static void set_bit(uint64_t *bits, uint16_t domid, bool on)
{
	if (on)
		bits[domid / 64] |= 1ull << (domid % 64);
	else
		bits[domid / 64] &= ~(1ull << (domid % 64));
}

static bool view_has_in(const uint64_t *bits, uint16_t domid)
{
	return domid < CK_DOMID_LIMIT && (bits[domid / 64] >> (domid % 64)) & 1;
}

bool view_has(const struct guest_view *v, uint16_t domid)
{
	return v->bits && view_has_in(v->bits, domid);
}

void view_forget(struct guest_view *v)
{
	free(v->bits);
	v->bits = NULL;
}

static bool sees(uint16_t viewer, const struct view_filter *f, const struct ck_member *m)
{
	return m->domid == viewer || f->sees(viewer, m, f->userdata);
}

struct snapshot_walk {
	uint64_t *bits;
	uint16_t viewer;
	const struct view_filter *f;
	size_t seen;
};

static void add_if_seen(const struct ck_member *m, void *userdata)
{
	struct snapshot_walk *w = userdata;

	if (sees(w->viewer, w->f, m)) {
		set_bit(w->bits, m->domid, true);
		w->seen++;
	}
}

/* Whom viewer sees in m, into bits (zeroed); how many. */
static size_t walk(uint64_t *bits, uint16_t viewer, const struct view_filter *f,
		   const struct ck_membership *m)
{
	struct snapshot_walk w = { .bits = bits, .viewer = viewer, .f = f };

	memset(bits, 0, VIEW_WORDS * sizeof(*bits));
	ck_memberset_foreach(m->members, add_if_seen, &w);
	return w.seen;
}

/*
 * Its own record changed (a vif moved, a rename): does it see, besides what d changes, the
 * same members as before?  If not, d cannot say so: only a snapshot can.
 */
static int view_moved(const struct guest_view *v, uint16_t viewer, const struct view_filter *f,
		      const struct ck_membership *m, const struct ck_delta *d)
{
	uint64_t *now = malloc(VIEW_WORDS * sizeof(*now)), *then = malloc(VIEW_WORDS * sizeof(*then));
	int r = -ENOMEM;

	if (now && then) {
		walk(now, viewer, f, m);
		memcpy(then, v->bits, VIEW_WORDS * sizeof(*then));
		for (size_t i = 0; i < d->n_removed; i++)
			set_bit(then, d->removed[i], false);
		for (size_t i = 0; i < d->n_upserts; i++)
			set_bit(then, d->upserts[i].domid, view_has_in(now, d->upserts[i].domid));
		r = memcmp(now, then, VIEW_WORDS * sizeof(*now)) != 0;
	}
	free(now);
	free(then);
	return r;
}

int view_filter_delta(struct guest_view *v, uint16_t viewer, const struct view_filter *f,
		      const struct ck_membership *m, const struct ck_delta *d,
		      struct ck_delta *out)
{
	size_t n_up = 0, n_rm = 0;
	bool same = true;
	int r;

	if (!v->bits)
		return VIEW_SNAPSHOT;
	for (size_t i = 0; i < d->n_removed; i++) {
		if (d->removed[i] == viewer)
			return VIEW_SNAPSHOT;
		same = same && view_has(v, d->removed[i]);
	}
	for (size_t i = 0; i < d->n_upserts; i++) {
		if (d->upserts[i].domid == viewer) {
			r = view_moved(v, viewer, f, m, d);
			if (r < 0)
				view_forget(v);
			if (r)
				return r < 0 ? r : VIEW_SNAPSHOT;
		}
		same = same && sees(viewer, f, &d->upserts[i]);
	}
	if (same) {
		for (size_t i = 0; i < d->n_removed; i++)
			set_bit(v->bits, d->removed[i], false);
		for (size_t i = 0; i < d->n_upserts; i++)
			set_bit(v->bits, d->upserts[i].domid, true);
		return VIEW_SAME;
	}

	*out = (struct ck_delta){ .epoch = d->epoch, .base_gen = d->base_gen,
				  .new_gen = d->new_gen };
	out->upserts = calloc(d->n_upserts ?: 1, sizeof(*out->upserts));
	out->removed = calloc(d->n_upserts + d->n_removed ?: 1, sizeof(*out->removed));
	if (!out->upserts || !out->removed) {
		free(out->upserts);
		free(out->removed);
		*out = (struct ck_delta){ 0 };
		view_forget(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_removed; i++)
		if (view_has(v, d->removed[i])) {
			out->removed[n_rm++] = d->removed[i];
			set_bit(v->bits, d->removed[i], false);
		}
	for (size_t i = 0; i < d->n_upserts; i++) {
		const struct ck_member *up = &d->upserts[i];

		if (sees(viewer, f, up)) {
			out->upserts[n_up++] = *up;
			set_bit(v->bits, up->domid, true);
		} else if (view_has(v, up->domid)) {
			/* It had it and may not any more: out of its table. */
			out->removed[n_rm++] = up->domid;
			set_bit(v->bits, up->domid, false);
		}
	}
	out->n_upserts = n_up;
	out->n_removed = n_rm;
	return VIEW_FILTERED;
}

int view_snapshot(struct guest_view *v, uint16_t viewer, const struct view_filter *f,
		  const struct ck_membership *m, bool *all)
{
	if (!v->bits) {
		v->bits = malloc(VIEW_WORDS * sizeof(*v->bits));
		if (!v->bits)
			return -ENOMEM;
	}
	*all = walk(v->bits, viewer, f, m) == ck_memberset_count(m->members);
	return 0;
}
