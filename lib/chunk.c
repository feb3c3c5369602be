// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

static size_t div_round_up(size_t n, size_t d)
{
	return (n + d - 1) / d;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

int ck_chunk_snapshot(const struct ck_membership *m, ck_frame_handler_t emit, void *userdata)
{
	const struct ck_member **sorted = NULL;
	struct ck_member *buf = NULL;
	size_t n, chunks;
	int r;

	r = ck_memberset_sorted(m->members, &sorted, &n);
	if (r < 0)
		return r;
	chunks = n ? div_round_up(n, CK_FRAME_MAX_MEMBERS) : 1;
	if (n) {
		buf = calloc(min_size(n, CK_FRAME_MAX_MEMBERS), sizeof(*buf));
		if (!buf) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t c = 0; c < chunks; c++) {
		size_t first = c * CK_FRAME_MAX_MEMBERS;
		size_t count = min_size(n - first, CK_FRAME_MAX_MEMBERS);
		struct ck_msg msg = {
			.type = CK_MSG_SNAPSHOT,
			.chunk = c,
			.chunks = chunks,
			.snapshot = { .epoch = m->epoch, .gen = m->gen, .members = buf,
				      .n_members = count },
		};

		for (size_t i = 0; i < count; i++)
			buf[i] = *sorted[first + i];
		r = emit(&msg, userdata);
		if (r < 0)
			goto out;
	}
out:
	free(buf);
	free(sorted);
	return r;
}

int ck_chunk_delta(const struct ck_delta *d, ck_frame_handler_t emit, void *userdata)
{
	size_t chunks = div_round_up(d->n_upserts, CK_FRAME_MAX_MEMBERS);
	size_t by_removed = div_round_up(d->n_removed, CK_FRAME_MAX_REMOVED);
	int r;

	if (by_removed > chunks)
		chunks = by_removed;
	if (chunks == 0)
		chunks = 1;
	for (size_t c = 0; c < chunks; c++) {
		size_t up = min_size(c * CK_FRAME_MAX_MEMBERS, d->n_upserts);
		size_t rm = min_size(c * CK_FRAME_MAX_REMOVED, d->n_removed);
		struct ck_msg msg = { .type = CK_MSG_DELTA, .chunk = c, .chunks = chunks };

		msg.delta = *d;
		msg.delta.upserts = d->upserts + up;
		msg.delta.n_upserts = min_size(d->n_upserts - up, CK_FRAME_MAX_MEMBERS);
		msg.delta.removed = d->removed + rm;
		msg.delta.n_removed = min_size(d->n_removed - rm, CK_FRAME_MAX_REMOVED);
		r = emit(&msg, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

struct appender {
	struct ck_bytes *out;	/* NULL until the first frame */
	uint32_t fastpath_version;
};

static int append_frame(struct ck_msg *msg, void *userdata)
{
	struct appender *app = userdata;
	size_t at = app->out ? app->out->len : 0, len;
	uint8_t *buf;
	int r;

	msg->fastpath_version = app->fastpath_version;
	r = ck_frame_encode(msg, &buf, &len);
	if (r < 0)
		return r;
	r = app->out ? ck_bytes_resize(&app->out, at + len) : ck_bytes_new(&app->out, len);
	if (r == 0)
		memcpy(app->out->data + at, buf, len);
	free(buf);
	return r;
}

static int encoded(struct appender *app, int r, struct ck_bytes **ret)
{
	if (r < 0) {
		ck_bytes_unref(app->out);
		return r;
	}
	*ret = app->out;
	return 0;
}

int ck_chunk_encode_snapshot(const struct ck_membership *m, uint32_t fastpath_version,
			     struct ck_bytes **ret)
{
	struct appender app = { NULL, fastpath_version };

	return encoded(&app, ck_chunk_snapshot(m, append_frame, &app), ret);
}

int ck_chunk_encode_delta(const struct ck_delta *d, uint32_t fastpath_version,
			  struct ck_bytes **ret)
{
	struct appender app = { NULL, fastpath_version };

	return encoded(&app, ck_chunk_delta(d, append_frame, &app), ret);
}

struct ck_assembler {
	struct ck_msg pending;	/* type CK_MSG_UNSPEC when nothing is being collected */
	uint32_t next_chunk;
	uint8_t seen[CK_DOMID_LIMIT / 8];
};

int ck_assembler_new(struct ck_assembler **ret)
{
	struct ck_assembler *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	*ret = a;
	return 0;
}

void ck_assembler_reset(struct ck_assembler *a)
{
	ck_msg_reset(&a->pending);
	a->next_chunk = 0;
	memset(a->seen, 0, sizeof(a->seen));
}

void ck_assembler_free(struct ck_assembler *a)
{
	if (!a)
		return;
	ck_assembler_reset(a);
	free(a);
}

static int mark_all(struct ck_assembler *a, const struct ck_member *members, size_t n_members,
		    const uint16_t *domids, size_t n_domids)
{
	for (size_t i = 0; i < n_members + n_domids; i++) {
		uint16_t domid = i < n_members ? members[i].domid : domids[i - n_members];
		uint8_t bit = 1u << (domid % 8);

		if (a->seen[domid / 8] & bit)
			return -EPROTO;
		a->seen[domid / 8] |= bit;
	}
	return 0;
}

/* Appends n items of size sz from *src to *dst (holding *dst_n), taking over *src. */
static int append(void *dst_v, size_t *dst_n, void *src_v, size_t n, size_t sz)
{
	void **dst = dst_v, **src = src_v;
	void *grown;

	if (n == 0)
		return 0;
	if (*dst_n == 0) {
		free(*dst);
		*dst = *src;
		*src = NULL;
		*dst_n = n;
		return 0;
	}
	grown = realloc(*dst, (*dst_n + n) * sz);
	if (!grown)
		return -ENOMEM;
	memcpy((char *)grown + *dst_n * sz, *src, n * sz);
	*dst = grown;
	*dst_n += n;
	return 0;
}

static bool continues(const struct ck_msg *p, const struct ck_msg *msg, uint32_t next)
{
	if (p->type != msg->type || msg->chunk != next || msg->chunks != p->chunks)
		return false;
	if (msg->type == CK_MSG_SNAPSHOT)
		return msg->snapshot.epoch == p->snapshot.epoch &&
		       msg->snapshot.gen == p->snapshot.gen;
	return msg->delta.epoch == p->delta.epoch && msg->delta.base_gen == p->delta.base_gen &&
	       msg->delta.new_gen == p->delta.new_gen;
}

static int collect(struct ck_assembler *a, struct ck_msg *msg)
{
	struct ck_msg *p = &a->pending;
	int r;

	if (msg->type == CK_MSG_SNAPSHOT) {
		r = mark_all(a, msg->snapshot.members, msg->snapshot.n_members, NULL, 0);
		if (r < 0)
			return r;
		return append(&p->snapshot.members, &p->snapshot.n_members,
			      &msg->snapshot.members, msg->snapshot.n_members,
			      sizeof(struct ck_member));
	}
	r = mark_all(a, msg->delta.upserts, msg->delta.n_upserts, msg->delta.removed,
		     msg->delta.n_removed);
	if (r < 0)
		return r;
	r = append(&p->delta.upserts, &p->delta.n_upserts, &msg->delta.upserts,
		   msg->delta.n_upserts, sizeof(struct ck_member));
	if (r < 0)
		return r;
	r = append(&p->delta.removed, &p->delta.n_removed, &msg->delta.removed,
		   msg->delta.n_removed, sizeof(uint16_t));
	if (r < 0)
		return r;
	/* Together the chunks must still fit the generations they span. */
	if (ck_delta_changes(&p->delta) > p->delta.new_gen - p->delta.base_gen)
		return -EPROTO;
	return 0;
}

int ck_assembler_push(struct ck_assembler *a, struct ck_msg *msg, struct ck_msg *complete)
{
	int r;

	memset(complete, 0, sizeof(*complete));
	if (msg->type != CK_MSG_SNAPSHOT && msg->type != CK_MSG_DELTA) {
		*complete = *msg;
		memset(msg, 0, sizeof(*msg));
		return 0;
	}

	if (a->pending.type == CK_MSG_UNSPEC) {
		if (msg->chunk != 0) {
			r = -EPROTO;
			goto fail;
		}
		/* Start an empty message with the first chunk's identity; collect() fills it. */
		a->pending.type = msg->type;
		a->pending.chunks = msg->chunks;
		/* The first chunk's: a capability of the sender, not of the table. */
		a->pending.fastpath_version = msg->fastpath_version;
		if (msg->type == CK_MSG_SNAPSHOT)
			a->pending.snapshot = (struct ck_snapshot){ .epoch = msg->snapshot.epoch,
								    .gen = msg->snapshot.gen };
		else
			a->pending.delta = (struct ck_delta){ .epoch = msg->delta.epoch,
							      .base_gen = msg->delta.base_gen,
							      .new_gen = msg->delta.new_gen };
	}
	if (!continues(&a->pending, msg, a->next_chunk)) {
		r = -EPROTO;
		goto fail;
	}
	r = collect(a, msg);
	ck_msg_reset(msg);
	if (r < 0)
		goto fail;

	a->next_chunk++;
	if (a->next_chunk < a->pending.chunks)
		return 0;
	*complete = a->pending;
	complete->chunk = 0;
	complete->chunks = 1;
	memset(&a->pending, 0, sizeof(a->pending));
	ck_assembler_reset(a);
	return 0;

fail:
	ck_msg_reset(msg);
	ck_assembler_reset(a);
	return r;
}
