// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>

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

int fanout_merged_since(struct fanout *f, const struct ck_membership *m, uint64_t epoch,
			uint64_t gen, struct ck_bytes **ret, size_t *changes)
{
	struct ck_bytes *enc;
	struct ck_delta delta;
	int r;

	if (f->merged && f->merged_epoch == m->epoch && epoch == m->epoch &&
	    f->merged_base == gen && f->merged_gen == m->gen) {
		*changes = f->merged_changes;
		*ret = f->merged;
		return 0;
	}
	r = ck_membership_delta_since(m, epoch, gen, &delta);
	if (r < 0)
		return r;
	*changes = ck_delta_changes(&delta);
	r = *changes > ck_memberset_count(m->members) ? -E2BIG :
		ck_chunk_encode_delta(&delta, CK_FASTPATH_VERSION, &enc);
	ck_delta_reset(&delta);
	if (r < 0)
		return r;
	ck_bytes_unref(f->merged);
	f->merged = enc;
	f->merged_epoch = m->epoch;
	f->merged_base = gen;
	f->merged_gen = m->gen;
	f->merged_changes = *changes;
	*ret = enc;
	return 0;
}

void fanout_release(struct fanout *f)
{
	ck_bytes_unref(f->delta);
	ck_bytes_unref(f->snapshot);
	ck_bytes_unref(f->merged);
	*f = (struct fanout){ 0 };
}
