// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "frame.h"
#include "heapcount.h"
#include "helpers.h"

/* Collects what a decoder delivers, re-encoded, so streams can be compared byte for byte. */
struct sink {
	int count;
	struct ck_msg last;	/* a copy of the last message's scalar fields */
	uint8_t *bytes;
	size_t len;
	int fail_with;
};

static int on_msg(struct ck_msg *msg, void *userdata)
{
	struct sink *s = userdata;
	uint8_t *buf;
	size_t n;

	if (s->fail_with)
		return s->fail_with;
	ck_assert_int_eq(ck_frame_encode(msg, &buf, &n), 0);
	s->bytes = realloc(s->bytes, s->len + n);
	memcpy(s->bytes + s->len, buf, n);
	s->len += n;
	free(buf);
	s->count++;
	s->last = *msg;
	s->last.snapshot.members = NULL;
	s->last.delta.upserts = NULL;
	s->last.delta.removed = NULL;
	return 0;
}

static void encode(const struct ck_msg *msg, uint8_t **buf, size_t *len)
{
	ck_assert_int_eq(ck_frame_encode(msg, buf, len), 0);
}

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	ck_assert_uint_eq(got_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		ck_assert_msg(got[i] == want[i], "byte %zu: got %02x, want %02x", i, got[i],
			      want[i]);
}

/* Golden bytes pin the wire format: a change here breaks every deployed agent. */
START_TEST(golden_hello)
{
	const struct ck_msg msg = { .type = CK_MSG_HELLO,
		.hello = { .domid = 5, .epoch = 0x1122, .gen = 3, .version = 1 } };
	const uint8_t want[] = { 0, 0, 0, 11, 0x0a, 9, 0x08, 5, 0x10, 0xa2, 0x22, 0x18, 3,
				 0x20, 1 };
	uint8_t *buf;
	size_t len;

	encode(&msg, &buf, &len);
	assert_bytes(buf, len, want, sizeof(want));
	free(buf);
}
END_TEST

/*
 * The fast path versions are fields of their own, so a peer built before them reads the
 * same frames; and what such a peer sends (golden_hello's bytes) decodes as version 0.
 */
START_TEST(golden_fastpath_versions)
{
	const struct ck_msg hello = { .type = CK_MSG_HELLO,
		.hello = { .domid = 5, .epoch = 0x1122, .gen = 3, .version = 1,
			   .fastpath_version = 1 } };
	const uint8_t want_hello[] = { 0, 0, 0, 13, 0x0a, 11, 0x08, 5, 0x10, 0xa2, 0x22, 0x18, 3,
				       0x20, 1, 0x28, 1 };
	const struct ck_msg delta = { .type = CK_MSG_DELTA, .chunks = 1, .fastpath_version = 1,
		.delta = { .epoch = 1, .base_gen = 2, .new_gen = 2 } };
	const uint8_t want_delta[] = { 0, 0, 0, 12, 0x1a, 10, 0x08, 1, 0x10, 2, 0x18, 2,
				       0x28, 1, 0x40, 1 };
	const uint8_t old_hello[] = { 0, 0, 0, 11, 0x0a, 9, 0x08, 5, 0x10, 0xa2, 0x22, 0x18, 3,
				      0x20, 1 };
	struct ck_msg got;
	uint8_t *buf;
	size_t len;

	encode(&hello, &buf, &len);
	assert_bytes(buf, len, want_hello, sizeof(want_hello));
	free(buf);
	encode(&delta, &buf, &len);
	assert_bytes(buf, len, want_delta, sizeof(want_delta));
	free(buf);

	/* The payloads, past the length: through the one gate, lib/verify. */
	ck_assert_int_eq(ck_codec_decode(want_delta + 4, sizeof(want_delta) - 4, &got, NULL), 0);
	ck_assert_uint_eq(got.fastpath_version, 1);
	ck_msg_reset(&got);
	ck_assert_int_eq(ck_codec_decode(want_hello + 4, sizeof(want_hello) - 4, &got, NULL), 0);
	ck_assert_uint_eq(got.hello.fastpath_version, 1);
	ck_assert_int_eq(ck_codec_decode(old_hello + 4, sizeof(old_hello) - 4, &got, NULL), 0);
	ck_assert_int_eq(got.type, CK_MSG_HELLO);
	ck_assert_uint_eq(got.hello.fastpath_version, 0);
}
END_TEST

START_TEST(golden_ack)
{
	const struct ck_msg msg = { .type = CK_MSG_ACK, .ack = { .epoch = 7, .gen = 9 } };
	const uint8_t want[] = { 0, 0, 0, 6, 0x22, 4, 0x08, 7, 0x10, 9 };
	uint8_t *buf;
	size_t len;

	encode(&msg, &buf, &len);
	assert_bytes(buf, len, want, sizeof(want));
	free(buf);
}
END_TEST

START_TEST(golden_bye)
{
	struct ck_msg msg = { .type = CK_MSG_BYE, .bye = { .code = CK_BYE_SHUTDOWN } };
	const uint8_t want[] = { 0, 0, 0, 9, 0x2a, 7, 0x08, 1, 0x12, 3, 'b', 'y', 'e' };
	uint8_t *buf;
	size_t len;

	strcpy(msg.bye.reason, "bye");
	encode(&msg, &buf, &len);
	assert_bytes(buf, len, want, sizeof(want));
	free(buf);
}
END_TEST

START_TEST(golden_snapshot)
{
	struct ck_member m = { .domid = 3, .state = CK_MEMBER_RUNNING, .n_nics = 1,
		.name = "web",
		.nics = { { .mac = { 0x00, 0x16, 0x3e, 0, 0, 3 }, .n_ipv4 = 1,
			    .ipv4 = { 0x0a630003 } } } };
	const struct ck_msg msg = { .type = CK_MSG_SNAPSHOT, .chunk = 0, .chunks = 1,
		.snapshot = { .epoch = 1, .gen = 2, .members = &m, .n_members = 1 } };
	const uint8_t want[] = {
		0, 0, 0, 53,
		0x12, 51,				/* envelope.snapshot */
		0x08, 1, 0x10, 2, 0x20, 1,		/* epoch, gen, chunks (chunk 0 omitted) */
		0x2a, 43,				/* member */
		0x08, 3,				/* domid */
		0x12, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		0x1a, 3, 'w', 'e', 'b',
		0x22, 14,				/* nic */
		0x0a, 6, 0x00, 0x16, 0x3e, 0, 0, 3,	/* mac */
		0x12, 4, 0x03, 0x00, 0x63, 0x0a,	/* packed fixed32 ipv4 10.99.0.3 */
		0x28, 1,				/* state running */
	};
	uint8_t *buf;
	size_t len;

	for (int i = 0; i < CK_UUID_LEN; i++)
		m.uuid[i] = i;
	encode(&msg, &buf, &len);
	assert_bytes(buf, len, want, sizeof(want));
	free(buf);
}
END_TEST

START_TEST(golden_delta)
{
	uint16_t removed[] = { 7, 9 };
	const struct ck_msg msg = { .type = CK_MSG_DELTA, .chunks = 1,
		.delta = { .epoch = 1, .base_gen = 2, .new_gen = 4, .removed = removed,
			   .n_removed = 2 } };
	const uint8_t want[] = { 0, 0, 0, 14, 0x1a, 12, 0x08, 1, 0x10, 2, 0x18, 4, 0x28, 1,
				 0x3a, 2, 7, 9 };
	uint8_t *buf;
	size_t len;

	encode(&msg, &buf, &len);
	assert_bytes(buf, len, want, sizeof(want));
	free(buf);
}
END_TEST

START_TEST(golden_fastpath)
{
	const struct ck_msg accept = { .type = CK_MSG_FASTPATH_ACCEPT,
		.fastpath_accept = { .peer_domid = 7, .channel_id = 0x1234 } };
	const struct ck_msg close = { .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .peer_domid = 3, .reason = CKFP_CLOSE_UNREACHABLE } };
	const uint8_t want_accept[] = { 0, 0, 0, 7, 0x3a, 5, 0x08, 7, 0x10, 0xb4, 0x24 };
	const uint8_t want_close[] = { 0, 0, 0, 6, 0x42, 4, 0x08, 3, 0x18, 4 };
	uint8_t *buf;
	size_t len;

	encode(&accept, &buf, &len);
	assert_bytes(buf, len, want_accept, sizeof(want_accept));
	free(buf);
	encode(&close, &buf, &len);
	assert_bytes(buf, len, want_close, sizeof(want_close));
	free(buf);
}
END_TEST

static void round_trip(const struct ck_msg *msg)
{
	struct ck_frame_decoder *dec;
	struct sink sink = { 0 };
	uint8_t *buf;
	size_t len;

	encode(msg, &buf, &len);
	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, buf, len, on_msg, &sink, NULL), 0);
	ck_assert_int_eq(sink.count, 1);
	ck_assert_int_eq(sink.last.type, msg->type);
	assert_bytes(sink.bytes, sink.len, buf, len);
	free(buf);
	free(sink.bytes);
	ck_frame_decoder_free(dec);
}

START_TEST(round_trip_every_type)
{
	struct ck_member members[CK_FRAME_MAX_MEMBERS];
	uint16_t removed[CK_FRAME_MAX_REMOVED];
	struct ck_msg msg;
	uint32_t rng = 1234;

	for (int i = 0; i < CK_FRAME_MAX_MEMBERS; i++)
		th_random_member(&members[i], i + 1, &rng);
	for (int i = 0; i < CK_FRAME_MAX_REMOVED; i++)
		removed[i] = 100 + i;

	msg = (struct ck_msg){ .type = CK_MSG_HELLO,
		.hello = { .domid = 0x7fef, .version = 1, .epoch = UINT64_MAX, .gen = 1,
			   .fastpath_version = UINT32_MAX } };
	round_trip(&msg);
	msg = (struct ck_msg){ .type = CK_MSG_SNAPSHOT, .chunk = 2, .chunks = 3,
		.fastpath_version = 1,
		.snapshot = { .epoch = 9, .gen = 0, .members = members,
			      .n_members = CK_FRAME_MAX_MEMBERS } };
	round_trip(&msg);
	msg = (struct ck_msg){ .type = CK_MSG_DELTA, .chunks = 1, .fastpath_version = 7,
		.delta = { .epoch = 9, .base_gen = 1, .new_gen = 1 + 10 + CK_FRAME_MAX_REMOVED,
			   .upserts = members, .n_upserts = 10, .removed = removed,
			   .n_removed = CK_FRAME_MAX_REMOVED } };
	round_trip(&msg);
	msg = (struct ck_msg){ .type = CK_MSG_ACK, .ack = { .epoch = 1, .gen = UINT64_MAX } };
	round_trip(&msg);
	msg = (struct ck_msg){ .type = CK_MSG_BYE, .bye = { .code = CK_BYE_OVERLOAD } };
	memset(msg.bye.reason, 'r', CK_BYE_REASON_MAX);
	round_trip(&msg);
	msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = 0x7fef, .channel_id = UINT64_MAX,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MAX, .evtchn_port = 77,
				    .n_grefs = CKFP_GREFS_MAX } };
	for (unsigned int i = 0; i < CKFP_GREFS_MAX; i++)
		msg.fastpath_offer.grefs[i] = 0xfffffff0u - i;
	round_trip(&msg);
	msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_ACCEPT,
		.fastpath_accept = { .peer_domid = 1, .channel_id = 1 } };
	round_trip(&msg);
	msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .peer_domid = 2, .channel_id = 3, .reason = CKFP_CLOSE_MAX } };
	round_trip(&msg);
}
END_TEST

/* Many frames delivered in every split, down to a byte at a time, decode to the same stream. */
START_TEST(split_stream_decodes_identically)
{
	uint8_t *stream = NULL;
	size_t stream_len = 0;
	uint32_t rng = 4321;
	int frames = 40;

	for (int i = 0; i < frames; i++) {
		struct ck_member m[3];
		struct ck_msg msg = { .type = CK_MSG_SNAPSHOT, .chunks = 1,
			.snapshot = { .epoch = 5, .gen = i, .members = m, .n_members = 3 } };
		uint8_t *buf;
		size_t len;

		for (int k = 0; k < 3; k++)
			th_random_member(&m[k], k + 1, &rng);
		encode(&msg, &buf, &len);
		stream = realloc(stream, stream_len + len);
		memcpy(stream + stream_len, buf, len);
		stream_len += len;
		free(buf);
	}
	for (size_t piece = 1; piece <= 97; piece += (piece < 8 ? 1 : 16)) {
		struct ck_frame_decoder *dec;
		struct sink sink = { 0 };

		ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
		for (size_t off = 0; off < stream_len; off += piece) {
			size_t n = stream_len - off < piece ? stream_len - off : piece;

			ck_assert_int_eq(ck_frame_decoder_feed(dec, stream + off, n, on_msg,
							       &sink, NULL), 0);
		}
		ck_assert_int_eq(sink.count, frames);
		ck_assert_uint_eq(ck_frame_decoder_pending(dec), 0);
		assert_bytes(sink.bytes, sink.len, stream, stream_len);
		free(sink.bytes);
		ck_frame_decoder_free(dec);
	}
	free(stream);
}
END_TEST

START_TEST(truncated_frame_waits)
{
	const struct ck_msg msg = { .type = CK_MSG_ACK, .ack = { .epoch = 7, .gen = 9 } };
	struct ck_frame_decoder *dec;
	struct sink sink = { 0 };
	uint8_t *buf;
	size_t len;

	encode(&msg, &buf, &len);
	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, buf, len - 1, on_msg, &sink, NULL), 0);
	ck_assert_int_eq(sink.count, 0);
	ck_assert_uint_eq(ck_frame_decoder_pending(dec), len - 1);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, buf + len - 1, 1, on_msg, &sink, NULL), 0);
	ck_assert_int_eq(sink.count, 1);
	free(buf);
	free(sink.bytes);
	ck_frame_decoder_free(dec);
}
END_TEST

START_TEST(oversized_length_rejected_before_payload)
{
	const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff };
	const uint8_t just_over[] = { 0x00, 0x02, 0x00, 0x01 };	/* 128 KiB + 1 */
	const uint8_t zero[] = { 0, 0, 0, 0 };
	struct ck_frame_decoder *dec;
	struct ck_error err = { 0 };
	struct sink sink = { 0 };

	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, huge, 4, on_msg, &sink, &err), -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(err.msg, "4294967295"));
	ck_assert_uint_eq(ck_frame_decoder_pending(dec), 4);	/* nothing allocated for it */
	ck_frame_decoder_free(dec);

	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, just_over, 4, on_msg, &sink, NULL),
			 -EMSGSIZE);
	ck_frame_decoder_free(dec);

	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, zero, 4, on_msg, &sink, NULL), -EMSGSIZE);
	ck_frame_decoder_free(dec);
	ck_assert_int_eq(sink.count, 0);
}
END_TEST

/* A peer that announces a large frame costs what it sent, not what it announced. */
START_TEST(buffer_grows_as_bytes_arrive)
{
	static struct ck_member members[CK_FRAME_MAX_MEMBERS];
	const struct ck_msg msg = { .type = CK_MSG_SNAPSHOT, .chunks = 1,
		.snapshot = { .epoch = 1, .gen = 1, .members = members,
			      .n_members = CK_FRAME_MAX_MEMBERS } };
	const uint8_t announce[] = { 0x00, 0x02, 0x00, 0x00, 1, 2, 3 };	/* 128 KiB, 3 bytes */
	struct ck_frame_decoder *dec;
	struct sink sink = { 0 };
	uint8_t *buf;
	size_t len, fed;

	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, announce, sizeof(announce), on_msg, &sink,
					       NULL), 0);
	ck_assert_uint_eq(ck_frame_decoder_pending(dec), sizeof(announce));
	ck_assert_uint_le(ck_frame_decoder_allocated(dec), 1024);
	ck_frame_decoder_free(dec);

	/* A real large frame, fed in pieces: never more than twice what is held. */
	for (unsigned int i = 0; i < CK_FRAME_MAX_MEMBERS; i++)
		th_max_member(&members[i], 1 + i);
	encode(&msg, &buf, &len);
	ck_assert_uint_gt(len, 64 * 1024);
	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	for (fed = 0; fed < len; fed += 1000) {
		size_t piece = len - fed < 1000 ? len - fed : 1000;
		size_t held;

		ck_assert_int_eq(ck_frame_decoder_feed(dec, buf + fed, piece, on_msg, &sink,
						       NULL), 0);
		held = ck_frame_decoder_pending(dec);
		ck_assert_uint_le(ck_frame_decoder_allocated(dec), held * 2 > 1024 ? held * 2 :
										       1024);
	}
	ck_assert_int_eq(sink.count, 1);
	ck_assert_uint_eq(ck_frame_decoder_allocated(dec), 0);	/* freed once delivered */
	free(buf);
	free(sink.bytes);
	ck_frame_decoder_free(dec);
}
END_TEST

START_TEST(garbage_fails_and_poisons_stream)
{
	const uint8_t garbage[] = { 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff };
	const struct ck_msg ack = { .type = CK_MSG_ACK, .ack = { .epoch = 7, .gen = 9 } };
	struct ck_frame_decoder *dec;
	struct ck_error err = { 0 };
	struct sink sink = { 0 };
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, garbage, sizeof(garbage), on_msg, &sink, &err),
			 -EBADMSG);
	ck_assert_str_ne(err.msg, "");
	encode(&ack, &buf, &len);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, buf, len, on_msg, &sink, NULL), -EPIPE);
	ck_assert_int_eq(sink.count, 0);
	free(buf);
	ck_frame_decoder_free(dec);
}
END_TEST

START_TEST(handler_error_stops_decoding)
{
	const struct ck_msg ack = { .type = CK_MSG_ACK, .ack = { .epoch = 7, .gen = 9 } };
	struct ck_frame_decoder *dec;
	struct sink sink = { .fail_with = -ECONNRESET };
	uint8_t *buf;
	size_t len;

	encode(&ack, &buf, &len);
	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, buf, len, on_msg, &sink, NULL), -ECONNRESET);
	free(buf);
	ck_frame_decoder_free(dec);
}
END_TEST

/* What the Acks delivered so far held, checked after counting (Check's asserts allocate). */
struct acks {
	size_t count;
	size_t wrong;
};

static int on_ack(struct ck_msg *msg, void *userdata)
{
	struct acks *acks = userdata;

	if (msg->type != CK_MSG_ACK || msg->ack.epoch != 7 || msg->ack.gen != acks->count + 1)
		acks->wrong++;
	acks->count++;
	return 0;
}

/*
 * Issue 19: cokeeperd reads an Ack from every guest on every change, so decoding one must
 * not cost a malloc and a free; protobuf-c's included (heapcount.h).
 */
START_TEST(ack_decodes_without_heap)
{
	enum { N = 1000 };
	static uint8_t *frames[N];
	static size_t lens[N];
	struct ck_frame_decoder *dec;
	struct acks acks = { 0 };
	size_t allocs;

	for (size_t i = 0; i < N; i++) {
		const struct ck_msg ack = { .type = CK_MSG_ACK,
					    .ack = { .epoch = 7, .gen = i + 1 } };

		encode(&ack, &frames[i], &lens[i]);
	}
	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	th_heap_count_start();
	for (size_t i = 0; i < N; i++)
		if (ck_frame_decoder_feed(dec, frames[i], lens[i], on_ack, &acks, NULL) < 0)
			break;
	allocs = th_heap_count();
	ck_assert_uint_eq(acks.count, N);
	ck_assert_uint_eq(acks.wrong, 0);
	ck_assert_msg(allocs == 0, "%zu heap allocations decoding %d Acks", allocs, N);
	for (size_t i = 0; i < N; i++)
		free(frames[i]);
	ck_frame_decoder_free(dec);
}
END_TEST

/* The cap must hold the largest frame the limits allow, with room to spare. */
START_TEST(largest_frame_fits_cap)
{
	static struct ck_member members[CK_FRAME_MAX_MEMBERS];
	const struct ck_msg msg = { .type = CK_MSG_SNAPSHOT, .chunk = CK_CHUNKS_MAX - 1,
		.chunks = CK_CHUNKS_MAX,
		.snapshot = { .epoch = UINT64_MAX, .gen = UINT64_MAX, .members = members,
			      .n_members = CK_FRAME_MAX_MEMBERS } };
	uint8_t *buf;
	size_t len;

	for (unsigned int i = 0; i < CK_FRAME_MAX_MEMBERS; i++)
		th_max_member(&members[i], CK_DOMID_LIMIT - 1 - i);
	encode(&msg, &buf, &len);
	ck_assert_uint_le(len - CK_FRAME_HEADER_LEN, CK_FRAME_MAX_LEN * 9 / 10);
	free(buf);
}
END_TEST

START_TEST(encode_refuses_what_must_be_chunked)
{
	static struct ck_member members[CK_FRAME_MAX_MEMBERS + 1];
	struct ck_msg msg = { .type = CK_MSG_SNAPSHOT, .chunks = 1,
		.snapshot = { .epoch = 1, .members = members,
			      .n_members = CK_FRAME_MAX_MEMBERS + 1 } };
	uint8_t *buf;
	size_t len;

	for (unsigned int i = 0; i <= CK_FRAME_MAX_MEMBERS; i++)
		th_member(&members[i], i + 1, 0);
	ck_assert_int_eq(ck_frame_encode(&msg, &buf, &len), -EMSGSIZE);
	msg.snapshot.n_members = 1;
	msg.chunks = 0;
	ck_assert_int_eq(ck_frame_encode(&msg, &buf, &len), -EINVAL);
	msg.type = CK_MSG_UNSPEC;
	ck_assert_int_eq(ck_frame_encode(&msg, &buf, &len), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame");

	th_add(s, golden_hello);
	th_add(s, golden_fastpath_versions);
	th_add(s, golden_ack);
	th_add(s, golden_bye);
	th_add(s, golden_snapshot);
	th_add(s, golden_delta);
	th_add(s, golden_fastpath);
	th_add(s, round_trip_every_type);
	th_add(s, split_stream_decodes_identically);
	th_add(s, truncated_frame_waits);
	th_add(s, oversized_length_rejected_before_payload);
	th_add(s, buffer_grows_as_bytes_arrive);
	th_add(s, garbage_fails_and_poisons_stream);
	th_add(s, handler_error_stops_decoding);
	th_add(s, ack_decodes_without_heap);
	th_add(s, largest_frame_fits_cap);
	th_add(s, encode_refuses_what_must_be_chunked);
	return th_run(s);
}
