// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for everything a peer's bytes reach: the frame decoder, the protobuf
 * unpacker, ck_verify_envelope() and the chunk assembler.
 *
 * Input: byte 0 picks the piece size the stream is fed in (partial frames, as vchan delivers
 * them); the rest is the stream.  Invariants checked beyond "no crash, no leak":
 *  - every message that passes verification encodes again (the encoder and the verifier
 *    agree on the rules), and that encoding decodes to the same bytes (a stable round trip);
 *  - a decoder that failed once refuses everything after;
 *  - the input as one envelope: whatever lib/ack-wire.c reads in place, protobuf-c reads as
 *    the same Ack (the in-place reader never says yes to bytes protobuf-c reads otherwise).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ack-wire.h"
#include "chunk.h"
#include "codec.h"
#include "cokeeper.pb-c.h"
#include "frame.h"

static struct ck_assembler *assembler;

static int reencode(struct ck_msg *msg, void *userdata)
{
	struct ck_msg again, done;
	uint8_t *a, *b;
	size_t alen, blen;

	if (ck_codec_encode(msg, 0, &a, &alen) < 0)
		abort();
	if (ck_codec_decode(a, alen, &again, NULL) < 0)
		abort();
	if (ck_codec_encode(&again, 0, &b, &blen) < 0)
		abort();
	if (alen != blen || memcmp(a, b, alen) != 0)
		abort();
	free(a);
	free(b);
	ck_msg_reset(&again);

	if (ck_assembler_push(assembler, msg, &done) == 0)
		ck_msg_reset(&done);
	return 0;
}

static void ack_wire_agrees(const uint8_t *data, size_t size)
{
	Cokeeper__Envelope *env;
	uint64_t epoch, gen;

	if (!ck_ack_wire_read(data, size, &epoch, &gen))
		return;
	env = cokeeper__envelope__unpack(NULL, size, data);
	if (!env || env->msg_case != COKEEPER__ENVELOPE__MSG_ACK || !env->ack ||
	    env->ack->epoch != epoch || env->ack->gen != gen)
		abort();
	cokeeper__envelope__free_unpacked(env, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ck_frame_decoder *dec;
	struct ck_error err;
	size_t piece;
	int r = 0;

	if (size < 1)
		return 0;
	piece = data[0] ? data[0] : size;
	data++;
	size--;
	ack_wire_agrees(data, size);

	if (!assembler && ck_assembler_new(&assembler) < 0)
		abort();
	ck_assembler_reset(assembler);
	if (ck_frame_decoder_new(&dec) < 0)
		abort();
	for (size_t off = 0; off < size && r == 0; off += piece) {
		size_t n = size - off < piece ? size - off : piece;

		r = ck_frame_decoder_feed(dec, data + off, n, reencode, NULL, &err);
	}
	if (r < 0 && ck_frame_decoder_feed(dec, data, size ? 1 : 0, reencode, NULL, &err) != -EPIPE)
		abort();
	ck_frame_decoder_free(dec);
	return 0;
}
