// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "fanout.h"

int fanout_delta(struct fanout *f, const struct ck_delta *d, struct ck_bytes **ret)
{
	struct ck_bytes *enc;
	int r;

	if (!f->delta || f->delta_epoch != d->epoch || f->delta_gen != d->new_gen) {
		r = ck_chunk_encode_delta(d, CK_FASTPATH_VERSION, &enc);
		if (r < 0)
			return r;
		ck_bytes_unref(f->delta);
		f->delta = enc;
		f->delta_epoch = d->epoch;
		f->delta_gen = d->new_gen;
	}
	*ret = f->delta;
	return 0;
}

int fanout_snapshot(struct fanout *f, const struct ck_membership *m, struct ck_bytes **ret)
{
	struct ck_bytes *enc;
	int r;

	if (!f->snapshot || f->snapshot_epoch != m->epoch || f->snapshot_gen != m->gen) {
		r = ck_chunk_encode_snapshot(m, CK_FASTPATH_VERSION, &enc);
		if (r < 0)
			return r;
		ck_bytes_unref(f->snapshot);
		f->snapshot = enc;
		f->snapshot_epoch = m->epoch;
		f->snapshot_gen = m->gen;
	}
	*ret = f->snapshot;
	return 0;
}

int fanout_merged(struct fanout *f, const struct ck_delta *d, struct ck_bytes **ret)
{
	struct ck_bytes *enc;
	int r;

	if (!f->merged || f->merged_epoch != d->epoch || f->merged_base != d->base_gen ||
	    f->merged_gen != d->new_gen) {
		r = ck_chunk_encode_delta(d, CK_FASTPATH_VERSION, &enc);
		if (r < 0)
			return r;
		ck_bytes_unref(f->merged);
		f->merged = enc;
		f->merged_epoch = d->epoch;
		f->merged_base = d->base_gen;
		f->merged_gen = d->new_gen;
	}
	*ret = f->merged;
	return 0;
}

/* What tells one filtered delta from another of the same generations. */
static uint32_t *delta_key(const struct ck_delta *d, size_t *n)
{
	uint32_t *key = malloc((d->n_upserts + d->n_removed + 1) * sizeof(*key));

	*n = 0;
	if (!key)
		return NULL;
	for (size_t i = 0; i < d->n_upserts; i++)
		key[(*n)++] = d->upserts[i].domid;
	for (size_t i = 0; i < d->n_removed; i++)
		key[(*n)++] = d->removed[i] | 1u << 16;
	return key;
}

/* slot holds the encoding of d: the same generations and the same domids changed. */
static bool same_view_delta(const struct fanout_view_delta *slot, const struct ck_delta *d)
{
	size_t n = 0;

	if (!slot->bytes || slot->epoch != d->epoch || slot->base != d->base_gen ||
	    slot->gen != d->new_gen || slot->n_key != d->n_upserts + d->n_removed)
		return false;
	for (size_t i = 0; i < d->n_upserts; i++)
		if (slot->key[n++] != d->upserts[i].domid)
			return false;
	for (size_t i = 0; i < d->n_removed; i++)
		if (slot->key[n++] != (d->removed[i] | 1u << 16))
			return false;
	return true;
}

int fanout_view_delta(struct fanout *f, const struct ck_delta *filtered, struct ck_bytes **ret)
{
	struct fanout_view_delta *slot;
	struct ck_bytes *enc;
	uint32_t *key;
	size_t n;
	int r;

	/* Upserts at one generation are the same records: the domids say which delta it is. */
	for (unsigned int i = 0; i < FANOUT_VIEWS; i++)
		if (same_view_delta(&f->view_deltas[i], filtered)) {
			*ret = f->view_deltas[i].bytes;
			return 0;
		}
	key = delta_key(filtered, &n);
	if (!key)
		return -ENOMEM;
	r = ck_chunk_encode_delta(filtered, CK_FASTPATH_VERSION, &enc);
	if (r < 0) {
		free(key);
		return r;
	}
	slot = &f->view_deltas[f->next_view_delta++ % FANOUT_VIEWS];
	ck_bytes_unref(slot->bytes);
	free(slot->key);
	*slot = (struct fanout_view_delta){
		.bytes = enc, .epoch = filtered->epoch, .base = filtered->base_gen,
		.gen = filtered->new_gen, .key = key, .n_key = n,
	};
	*ret = enc;
	return 0;
}

static uint64_t bits_hash(const uint64_t *bits)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a over the words */

	for (size_t i = 0; i < VIEW_WORDS; i++)
		h = (h ^ bits[i]) * 0x100000001b3ull;
	return h;
}

struct view_copy {
	const struct guest_view *v;
	struct ck_memberset *set;
	int r;
};

static void copy_if_held(const struct ck_member *m, void *userdata)
{
	struct view_copy *c = userdata;

	if (c->r == 0 && view_has(c->v, m->domid))
		c->r = ck_memberset_put(c->set, m);
}

int fanout_view_snapshot(struct fanout *f, const struct ck_membership *m,
			 const struct guest_view *v, struct ck_bytes **ret)
{
	uint64_t hash = bits_hash(v->bits);
	struct fanout_view_snapshot *slot;
	struct view_copy c = { .v = v };
	struct ck_membership view;
	struct ck_bytes *enc;
	uint64_t *bits;

	for (unsigned int i = 0; i < FANOUT_VIEWS; i++) {
		slot = &f->view_snapshots[i];
		if (slot->bytes && slot->epoch == m->epoch && slot->gen == m->gen &&
		    slot->hash == hash && !memcmp(slot->bits, v->bits, VIEW_WORDS * sizeof(*bits))) {
			*ret = slot->bytes;
			return 0;
		}
	}
	bits = malloc(VIEW_WORDS * sizeof(*bits));
	c.r = bits ? ck_memberset_new(&c.set) : -ENOMEM;
	if (c.r == 0)
		ck_memberset_foreach(m->members, copy_if_held, &c);
	if (c.r == 0) {
		view = (struct ck_membership){ .epoch = m->epoch, .gen = m->gen, .members = c.set };
		c.r = ck_chunk_encode_snapshot(&view, CK_FASTPATH_VERSION, &enc);
	}
	ck_memberset_free(c.set);
	if (c.r < 0) {
		free(bits);
		return c.r;
	}
	memcpy(bits, v->bits, VIEW_WORDS * sizeof(*bits));
	slot = &f->view_snapshots[f->next_view_snapshot++ % FANOUT_VIEWS];
	ck_bytes_unref(slot->bytes);
	free(slot->bits);
	*slot = (struct fanout_view_snapshot){
		.bytes = enc, .epoch = m->epoch, .gen = m->gen, .hash = hash, .bits = bits,
	};
	*ret = enc;
	return 0;
}

void fanout_release(struct fanout *f)
{
	for (unsigned int i = 0; i < FANOUT_VIEWS; i++) {
		ck_bytes_unref(f->view_deltas[i].bytes);
		free(f->view_deltas[i].key);
		ck_bytes_unref(f->view_snapshots[i].bytes);
		free(f->view_snapshots[i].bits);
	}
	ck_bytes_unref(f->delta);
	ck_bytes_unref(f->snapshot);
	ck_bytes_unref(f->merged);
	*f = (struct fanout){ 0 };
}
