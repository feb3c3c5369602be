// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib/ack-wire.c, the Ack read without protobuf-c: it reads what the encoder writes, and on
 * any bytes at all it either agrees with protobuf-c or leaves them to it.  Every byte of
 * real Acks is mutated, and the message ck_codec_decode() makes of the result is compared
 * with protobuf-c's unpack followed by the same verification.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ack-wire.h"
#include "codec.h"
#include "cokeeper.pb-c.h"
#include "helpers.h"
#include "verify.h"

static const uint64_t values[] = {
	0, 1, 127, 128, 300, 16383, 16384, 0xffffffffull, 1ull << 56, (1ull << 63) - 1,
	1ull << 63, 0xe7f27a7964da9622ull, UINT64_MAX,
};
#define N_VALUES (sizeof(values) / sizeof(values[0]))

static size_t encode_ack(uint64_t epoch, uint64_t gen, uint8_t **buf)
{
	const struct ck_msg ack = { .type = CK_MSG_ACK, .ack = { .epoch = epoch, .gen = gen } };
	size_t len;

	ck_assert_int_eq(ck_codec_encode(&ack, 0, buf, &len), 0);
	return len;
}

/* What ck_codec_decode() made of these bytes before the in-place reader: the reference. */
static int decode_by_protobuf(const uint8_t *p, size_t len, struct ck_msg *out)
{
	Cokeeper__Envelope *env = cokeeper__envelope__unpack(NULL, len, p);
	int r;

	if (!env) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	r = ck_verify_envelope(env, out, NULL);
	cokeeper__envelope__free_unpacked(env, NULL);
	return r;
}

static void assert_decodes_alike(const uint8_t *p, size_t len)
{
	struct ck_msg got, want;
	uint64_t epoch, gen;
	int r = ck_codec_decode(p, len, &got, NULL);

	ck_assert_int_eq(r, decode_by_protobuf(p, len, &want));
	ck_assert_int_eq(got.type, want.type);
	if (r == 0 && got.type == CK_MSG_ACK) {
		ck_assert_uint_eq(got.ack.epoch, want.ack.epoch);
		ck_assert_uint_eq(got.ack.gen, want.ack.gen);
	}
	if (ck_ack_wire_read(p, len, &epoch, &gen)) {
		Cokeeper__Envelope *env = cokeeper__envelope__unpack(NULL, len, p);

		ck_assert_ptr_nonnull(env);
		ck_assert_int_eq(env->msg_case, COKEEPER__ENVELOPE__MSG_ACK);
		ck_assert_uint_eq(env->ack->epoch, epoch);
		ck_assert_uint_eq(env->ack->gen, gen);
		cokeeper__envelope__free_unpacked(env, NULL);
	}
	ck_msg_reset(&got);
	ck_msg_reset(&want);
}

/* Every Ack the encoder writes is read in place, to the same values. */
START_TEST(reads_what_the_encoder_writes)
{
	/* (An Ack of epoch 0 is refused by the encoder, as by the verifier.) */
	for (size_t i = 1; i < N_VALUES; i++) {
		for (size_t j = 0; j < N_VALUES; j++) {
			uint64_t epoch, gen;
			uint8_t *buf;
			size_t len = encode_ack(values[i], values[j], &buf);

			ck_assert(ck_ack_wire_read(buf, len, &epoch, &gen));
			ck_assert_uint_eq(epoch, values[i]);
			ck_assert_uint_eq(gen, values[j]);
			assert_decodes_alike(buf, len);
			free(buf);
		}
	}
}
END_TEST

/* Valid protobuf in another form: left to protobuf-c, which reads it as before. */
START_TEST(other_forms_are_left_to_protobuf)
{
	static const struct {
		const char *why;
		uint8_t bytes[16];
		size_t len;
	} forms[] = {
		{ "fields reversed", { 0x22, 0x04, 0x10, 0x09, 0x08, 0x05 }, 6 },
		{ "a field twice", { 0x22, 0x04, 0x08, 0x05, 0x08, 0x06 }, 6 },
		{ "a padded varint", { 0x22, 0x05, 0x08, 0x85, 0x00, 0x10, 0x09 }, 7 },
		{ "an unknown field", { 0x22, 0x06, 0x08, 0x05, 0x10, 0x09, 0x18, 0x01 }, 8 },
		{ "a padded length", { 0x22, 0x84, 0x00, 0x08, 0x05, 0x10, 0x09 }, 7 },
		{ "an Ack then a Hello", { 0x22, 0x02, 0x08, 0x05, 0x0a, 0x02, 0x08, 0x05 }, 8 },
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		uint64_t epoch, gen;

		ck_assert_msg(!ck_ack_wire_read(forms[i].bytes, forms[i].len, &epoch, &gen), "%s",
			      forms[i].why);
		assert_decodes_alike(forms[i].bytes, forms[i].len);
	}
}
END_TEST

/* Each byte of real Acks set to values that matter to a varint, and each length cut. */
START_TEST(mutated_acks_decode_as_protobuf_decodes_them)
{
	static const uint8_t bytes[] = { 0x00, 0x01, 0x02, 0x08, 0x10, 0x22, 0x7f, 0x80, 0x81, 0xff };
	uint8_t *buf, copy[64];

	for (size_t i = 1; i < N_VALUES; i += 2) {
		size_t len = encode_ack(values[i], values[N_VALUES - 1 - i], &buf);

		ck_assert_uint_le(len + 1, sizeof(copy));
		for (size_t at = 0; at < len; at++) {
			for (size_t b = 0; b < sizeof(bytes); b++) {
				memcpy(copy, buf, len);
				copy[at] = bytes[b];
				assert_decodes_alike(copy, len);
			}
			assert_decodes_alike(buf, at);	/* cut short */
		}
		memcpy(copy, buf, len);
		copy[len] = 0x00;
		assert_decodes_alike(copy, len + 1);	/* a byte too many */
		free(buf);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ack-wire");

	th_add(s, reads_what_the_encoder_writes);
	th_add(s, other_forms_are_left_to_protobuf);
	th_add(s, mutated_acks_decode_as_protobuf_decodes_them);
	return th_run(s);
}
