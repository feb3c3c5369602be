// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "helpers.h"

/* Chunks go through real frames, then the assembler, as they would on a channel. */
struct pipe {
	struct ck_frame_decoder *dec;
	struct ck_assembler *asm_;
	struct ck_msg complete;
	int completions;
	int chunks_seen;
};

static int deliver(struct ck_msg *msg, void *userdata)
{
	struct pipe *p = userdata;
	struct ck_msg done;
	int r;

	p->chunks_seen++;
	r = ck_assembler_push(p->asm_, msg, &done);
	if (r < 0)
		return r;
	if (done.type != CK_MSG_UNSPEC) {
		ck_msg_reset(&p->complete);
		p->complete = done;
		p->completions++;
	}
	return 0;
}

static int emit(struct ck_msg *msg, void *userdata)
{
	struct pipe *p = userdata;
	uint8_t *buf;
	size_t len;
	int r;

	r = ck_frame_encode(msg, &buf, &len);
	ck_assert_int_eq(r, 0);
	r = ck_frame_decoder_feed(p->dec, buf, len, deliver, p, NULL);
	free(buf);
	return r;
}

static void pipe_init(struct pipe *p)
{
	memset(p, 0, sizeof(*p));
	ck_assert_int_eq(ck_frame_decoder_new(&p->dec), 0);
	ck_assert_int_eq(ck_assembler_new(&p->asm_), 0);
}

static void pipe_fini(struct pipe *p)
{
	ck_msg_reset(&p->complete);
	ck_assembler_free(p->asm_);
	ck_frame_decoder_free(p->dec);
}

static struct ck_membership *authority_with(size_t n)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct ck_membership *m;
	uint32_t rng = 17;

	ck_assert_int_eq(ck_membership_new(&m, 0x77, 16), 0);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (size_t i = 0; i < n; i++) {
		struct ck_member member;

		th_random_member(&member, i + 1, &rng);
		ck_assert_int_eq(ck_memberset_put(set, &member), 0);
	}
	ck_assert_int_eq(ck_membership_commit(m, set, NULL), 0);
	return m;
}

START_TEST(large_snapshot_reassembles)
{
	struct ck_membership *a = authority_with(200);
	struct ck_membership *r;
	struct ck_memberset *got;
	struct pipe p;

	pipe_init(&p);
	ck_assert_int_eq(ck_chunk_snapshot(a, emit, &p), 0);
	ck_assert_int_eq(p.chunks_seen, 4);	/* 64 + 64 + 64 + 8 */
	ck_assert_int_eq(p.completions, 1);
	ck_assert_uint_eq(p.complete.snapshot.n_members, 200);
	ck_assert_uint_eq(p.complete.snapshot.gen, a->gen);

	ck_assert_int_eq(ck_membership_new(&r, 0, 0), 0);
	ck_assert_int_eq(ck_memberset_new(&got), 0);
	for (size_t i = 0; i < p.complete.snapshot.n_members; i++)
		ck_assert_int_eq(ck_memberset_put(got, &p.complete.snapshot.members[i]), 0);
	ck_assert_int_eq(ck_membership_replace(r, p.complete.snapshot.epoch,
					       p.complete.snapshot.gen, got), 0);
	ck_assert(ck_memberset_equal(r->members, a->members));
	pipe_fini(&p);
	ck_membership_free(a);
	ck_membership_free(r);
}
END_TEST

START_TEST(empty_snapshot_is_one_chunk)
{
	struct ck_membership *a = authority_with(0);
	struct pipe p;

	pipe_init(&p);
	ck_assert_int_eq(ck_chunk_snapshot(a, emit, &p), 0);
	ck_assert_int_eq(p.chunks_seen, 1);
	ck_assert_int_eq(p.completions, 1);
	ck_assert_uint_eq(p.complete.snapshot.n_members, 0);
	pipe_fini(&p);
	ck_membership_free(a);
}
END_TEST

START_TEST(large_delta_reassembles_and_applies)
{
	struct ck_membership *a = authority_with(5000), *r;
	_cleanup_memberset_ struct ck_memberset *next = NULL;
	struct ck_delta d;
	struct pipe p;

	ck_assert_int_eq(ck_membership_new(&r, 0, 0), 0);
	{
		struct ck_memberset *copy;

		ck_assert_int_eq(ck_memberset_copy(a->members, &copy), 0);
		ck_assert_int_eq(ck_membership_replace(r, a->epoch, a->gen, copy), 0);
	}
	/* Destroy 4900 members and change 100 others: more removals and upserts than fit. */
	ck_assert_int_eq(ck_memberset_copy(a->members, &next), 0);
	for (uint16_t domid = 1; domid <= 4900; domid++)
		ck_assert_int_eq(ck_memberset_remove(next, domid), 0);
	for (uint16_t domid = 4901; domid <= 5000; domid++) {
		struct ck_member m;

		th_member(&m, domid, 3);
		ck_assert_int_eq(ck_memberset_put(next, &m), 0);
	}
	ck_assert_int_eq(ck_membership_commit(a, next, &d), 0);

	pipe_init(&p);
	ck_assert_int_eq(ck_chunk_delta(&d, emit, &p), 0);
	ck_assert_int_eq(p.chunks_seen, 2);	/* 4096 + 804 removals, 64 + 36 upserts */
	ck_assert_int_eq(p.completions, 1);
	ck_assert_int_eq(ck_membership_apply(r, &p.complete.delta), 0);
	ck_assert(ck_memberset_equal(r->members, a->members));
	ck_assert_uint_eq(r->gen, a->gen);
	ck_delta_reset(&d);
	pipe_fini(&p);
	ck_membership_free(a);
	ck_membership_free(r);
}
END_TEST

static struct ck_msg snapshot_chunk(uint64_t epoch, uint32_t chunk, uint32_t chunks,
				    uint16_t domid)
{
	struct ck_msg msg = { .type = CK_MSG_SNAPSHOT, .chunk = chunk, .chunks = chunks,
		.snapshot = { .epoch = epoch, .gen = 1, .n_members = 1 } };

	msg.snapshot.members = calloc(1, sizeof(struct ck_member));
	th_member(msg.snapshot.members, domid, 0);
	return msg;
}

START_TEST(out_of_order_chunk_is_eproto)
{
	struct ck_assembler *a;
	struct ck_msg msg, done;

	ck_assert_int_eq(ck_assembler_new(&a), 0);
	msg = snapshot_chunk(1, 1, 3, 1);	/* starts mid-message */
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), -EPROTO);

	msg = snapshot_chunk(1, 0, 3, 1);
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), 0);
	ck_assert_int_eq(done.type, CK_MSG_UNSPEC);
	msg = snapshot_chunk(1, 2, 3, 2);	/* skips chunk 1 */
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), -EPROTO);

	/* After the failure a fresh message is accepted from its start. */
	msg = snapshot_chunk(1, 0, 1, 1);
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), 0);
	ck_assert_int_eq(done.type, CK_MSG_SNAPSHOT);
	ck_msg_reset(&done);
	ck_assembler_free(a);
}
END_TEST

START_TEST(mismatched_chunk_is_eproto)
{
	struct ck_assembler *a;
	struct ck_msg msg, done;

	ck_assert_int_eq(ck_assembler_new(&a), 0);
	msg = snapshot_chunk(1, 0, 2, 1);
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), 0);
	msg = snapshot_chunk(2, 1, 2, 2);	/* another epoch */
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), -EPROTO);

	msg = snapshot_chunk(1, 0, 2, 1);
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), 0);
	msg = snapshot_chunk(1, 1, 2, 1);	/* domid 1 again */
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), -EPROTO);
	ck_assembler_free(a);
}
END_TEST

START_TEST(other_messages_pass_through)
{
	struct ck_assembler *a;
	struct ck_msg msg, done;

	ck_assert_int_eq(ck_assembler_new(&a), 0);
	msg = snapshot_chunk(1, 0, 2, 1);
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), 0);
	msg = (struct ck_msg){ .type = CK_MSG_BYE, .bye = { .code = CK_BYE_SHUTDOWN } };
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), 0);
	ck_assert_int_eq(done.type, CK_MSG_BYE);
	msg = snapshot_chunk(1, 1, 2, 2);
	ck_assert_int_eq(ck_assembler_push(a, &msg, &done), 0);
	ck_assert_int_eq(done.type, CK_MSG_SNAPSHOT);
	ck_assert_uint_eq(done.snapshot.n_members, 2);
	ck_msg_reset(&done);
	ck_assembler_free(a);
}
END_TEST

/* Each chunk's frame as ck_frame_encode makes it, one after another. */
struct concat {
	uint8_t *data;
	size_t len, n;
};

static int concat(struct ck_msg *msg, void *userdata)
{
	struct concat *f = userdata;
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(ck_frame_encode(msg, &buf, &len), 0);
	f->data = realloc(f->data, f->len + len);
	memcpy(f->data + f->len, buf, len);
	f->len += len;
	f->n++;
	free(buf);
	return 0;
}

/* The length of the frame at the start of p, header included. */
static size_t frame_len(const uint8_t *p)
{
	return CK_FRAME_HEADER_LEN + ((size_t)p[0] << 24 | (size_t)p[1] << 16 |
				      (size_t)p[2] << 8 | p[3]);
}

static void assert_frames_are(const struct ck_bytes *got, struct concat *want)
{
	size_t at = 0, n = 0;

	ck_assert_uint_eq(got->refs, 1);
	ck_assert_uint_eq(got->len, want->len);
	ck_assert_mem_eq(got->data, want->data, want->len);
	/* Each frame is where its own length prefix says it ends. */
	while (at < got->len) {
		at += frame_len(got->data + at);
		n++;
	}
	ck_assert_uint_eq(at, got->len);
	ck_assert_uint_eq(n, want->n);
	free(want->data);
	*want = (struct concat){ 0 };
}

/* Encoded once for every guest: the same bytes as each chunk encoded by itself. */
START_TEST(encoded_once_is_byte_identical)
{
	struct ck_membership *a = authority_with(200);
	_cleanup_memberset_ struct ck_memberset *next = NULL;
	struct ck_bytes *got;
	struct concat want = { 0 };
	struct ck_delta d;

	ck_assert_int_eq(ck_chunk_encode_snapshot(a, 0, &got), 0);
	ck_assert_int_eq(ck_chunk_snapshot(a, concat, &want), 0);
	ck_assert_uint_eq(want.n, 4);
	assert_frames_are(got, &want);
	ck_bytes_unref(got);

	ck_assert_int_eq(ck_memberset_copy(a->members, &next), 0);
	for (uint16_t domid = 1; domid <= 150; domid++)
		ck_assert_int_eq(ck_memberset_remove(next, domid), 0);
	ck_assert_int_eq(ck_membership_commit(a, next, &d), 0);
	ck_assert_int_eq(ck_chunk_encode_delta(&d, 0, &got), 0);
	ck_assert_int_eq(ck_chunk_delta(&d, concat, &want), 0);
	assert_frames_are(got, &want);
	ck_bytes_unref(got);
	ck_delta_reset(&d);
	ck_membership_free(a);
}
END_TEST

/* Decodes every frame of f through p, checking each chunk's announced version. */
static int version_seen;

static int check_version(struct ck_msg *msg, void *userdata)
{
	version_seen = msg->fastpath_version;
	return deliver(msg, userdata);
}

/* Feeds the frames of f (then drops it) through p; returns how many there were. */
static size_t feed_frames(struct pipe *p, struct ck_bytes *f, uint32_t want)
{
	size_t n = 0;

	for (size_t at = 0; at < f->len; n++) {
		size_t len = frame_len(f->data + at);

		version_seen = -1;
		ck_assert_int_eq(ck_frame_decoder_feed(p->dec, f->data + at, len, check_version,
						       p, NULL), 0);
		ck_assert_int_eq(version_seen, want);
		at += len;
	}
	ck_bytes_unref(f);
	return n;
}

/*
 * cokeeperd's fast path version rides on every chunk of what it encodes once (so on the
 * answer to every Hello, whichever it is), and the whole message keeps it.
 */
START_TEST(encoded_frames_announce_the_fastpath_version)
{
	struct ck_membership *a = authority_with(100);
	const struct ck_delta empty = { .epoch = a->epoch, .base_gen = a->gen,
					.new_gen = a->gen };
	struct ck_bytes *f;
	struct pipe p;

	pipe_init(&p);
	ck_assert_int_eq(ck_chunk_encode_snapshot(a, CK_FASTPATH_VERSION, &f), 0);
	ck_assert_uint_eq(feed_frames(&p, f, CK_FASTPATH_VERSION), 2);
	ck_assert_int_eq(p.completions, 1);
	ck_assert_int_eq(p.complete.type, CK_MSG_SNAPSHOT);
	ck_assert_uint_eq(p.complete.fastpath_version, CK_FASTPATH_VERSION);

	/* The empty delta that answers a Hello from an agent that is current. */
	ck_assert_int_eq(ck_chunk_encode_delta(&empty, CK_FASTPATH_VERSION, &f), 0);
	feed_frames(&p, f, CK_FASTPATH_VERSION);
	ck_assert_int_eq(p.complete.type, CK_MSG_DELTA);
	ck_assert_uint_eq(p.complete.fastpath_version, CK_FASTPATH_VERSION);

	/* As an older daemon sends it: no field, read as 0. */
	ck_assert_int_eq(ck_chunk_encode_delta(&empty, 0, &f), 0);
	feed_frames(&p, f, 0);
	ck_assert_uint_eq(p.complete.fastpath_version, 0);
	pipe_fini(&p);
	ck_membership_free(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("chunk");

	th_add(s, large_snapshot_reassembles);
	th_add(s, empty_snapshot_is_one_chunk);
	th_add(s, large_delta_reassembles_and_applies);
	th_add(s, out_of_order_chunk_is_eproto);
	th_add(s, mismatched_chunk_is_eproto);
	th_add(s, other_messages_pass_through);
	th_add(s, encoded_once_is_byte_identical);
	th_add(s, encoded_frames_announce_the_fastpath_version);
	return th_run(s);
}
