// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "frame.h"

struct ck_frame_decoder {
	uint8_t header[CK_FRAME_HEADER_LEN];
	size_t header_len;	/* bytes of header collected */
	/*
	 * Grows with the bytes that arrive, never to the declared length at once: a peer that
	 * announces 128 KiB and sends nothing more costs what it sent, not what it announced.
	 */
	uint8_t *payload;
	size_t payload_cap;
	size_t payload_len;	/* the frame's length, from the header (capped) */
	size_t payload_have;
	int failed;		/* the first error; the stream is unusable after it */
};

int ck_frame_encode(const struct ck_msg *msg, uint8_t **ret, size_t *len)
{
	uint8_t *buf;
	size_t n;
	int r;

	r = ck_codec_encode(msg, CK_FRAME_HEADER_LEN, &buf, &n);
	if (r < 0)
		return r;
	n -= CK_FRAME_HEADER_LEN;
	if (n > CK_FRAME_MAX_LEN) {
		free(buf);
		return -EMSGSIZE;
	}
	buf[0] = n >> 24;
	buf[1] = n >> 16;
	buf[2] = n >> 8;
	buf[3] = n;
	*ret = buf;
	*len = n + CK_FRAME_HEADER_LEN;
	return 0;
}

int ck_frame_decoder_new(struct ck_frame_decoder **ret)
{
	struct ck_frame_decoder *dec = calloc(1, sizeof(*dec));

	if (!dec)
		return -ENOMEM;
	*ret = dec;
	return 0;
}

void ck_frame_decoder_free(struct ck_frame_decoder *dec)
{
	if (!dec)
		return;
	free(dec->payload);
	free(dec);
}

size_t ck_frame_decoder_pending(const struct ck_frame_decoder *dec)
{
	return dec->header_len + dec->payload_have;
}

size_t ck_frame_decoder_allocated(const struct ck_frame_decoder *dec)
{
	return dec->payload_cap;
}

/* Room for `more` bytes of the partial frame: doubling, up to its declared length. */
static int reserve(struct ck_frame_decoder *dec, size_t more)
{
	size_t need = dec->payload_have + more, cap = dec->payload_cap;
	uint8_t *grown;

	if (need <= cap)
		return 0;
	cap = cap ? cap * 2 : 1024;
	if (cap < need)
		cap = need;
	if (cap > dec->payload_len)
		cap = dec->payload_len;
	grown = realloc(dec->payload, cap);
	if (!grown)
		return -ENOMEM;
	dec->payload = grown;
	dec->payload_cap = cap;
	return 0;
}

static int deliver(const uint8_t *payload, size_t len, ck_frame_handler_t handler,
		   void *userdata, struct ck_error *err)
{
	struct ck_msg msg;
	int r;

	r = ck_codec_decode(payload, len, &msg, err);
	if (r < 0)
		return r;
	r = handler(&msg, userdata);
	ck_msg_reset(&msg);
	return r;
}

static int frame_length(const uint8_t header[CK_FRAME_HEADER_LEN], size_t *len,
			struct ck_error *err)
{
	uint32_t n = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 |
		     (uint32_t)header[2] << 8 | header[3];

	if (n == 0 || n > CK_FRAME_MAX_LEN)
		return ck_error_set(err, -EMSGSIZE, "frame length %u outside 1..%u", n,
				    CK_FRAME_MAX_LEN);
	*len = n;
	return 0;
}

static int feed(struct ck_frame_decoder *dec, const uint8_t *in, size_t len,
		ck_frame_handler_t handler, void *userdata, struct ck_error *err)
{
	int r;

	while (len > 0) {
		size_t take;

		if (dec->header_len == 0 && len >= CK_FRAME_HEADER_LEN) {
			/* A whole header in the input (the usual case) is read where it lies. */
			dec->header_len = CK_FRAME_HEADER_LEN;
			r = frame_length(in, &dec->payload_len, err);
			if (r < 0)
				return r;
			dec->payload_have = 0;
			in += CK_FRAME_HEADER_LEN;
			len -= CK_FRAME_HEADER_LEN;
			if (len == 0)
				return 0;
		} else if (dec->header_len < CK_FRAME_HEADER_LEN) {
			take = CK_FRAME_HEADER_LEN - dec->header_len;
			take = take < len ? take : len;
			memcpy(dec->header + dec->header_len, in, take);
			dec->header_len += take;
			in += take;
			len -= take;
			if (dec->header_len < CK_FRAME_HEADER_LEN)
				return 0;
			r = frame_length(dec->header, &dec->payload_len, err);
			if (r < 0)
				return r;
			dec->payload_have = 0;
			if (len == 0)
				return 0;	/* nothing of the payload yet, nothing allocated */
		}

		/* A whole frame in the input is decoded where it lies, without a copy. */
		if (!dec->payload && len >= dec->payload_len) {
			take = dec->payload_len;
			dec->header_len = 0;
			r = deliver(in, take, handler, userdata, err);
			if (r < 0)
				return r;
			in += take;
			len -= take;
			continue;
		}

		take = dec->payload_len - dec->payload_have;
		take = take < len ? take : len;
		r = reserve(dec, take);
		if (r < 0)
			return r;
		memcpy(dec->payload + dec->payload_have, in, take);
		dec->payload_have += take;
		in += take;
		len -= take;
		if (dec->payload_have < dec->payload_len)
			return 0;

		dec->header_len = 0;
		dec->payload_have = 0;
		r = deliver(dec->payload, dec->payload_len, handler, userdata, err);
		free(dec->payload);
		dec->payload = NULL;
		dec->payload_cap = 0;
		if (r < 0)
			return r;
	}
	return 0;
}

int ck_frame_decoder_feed(struct ck_frame_decoder *dec, const void *untrusted, size_t len,
			  ck_frame_handler_t handler, void *userdata, struct ck_error *err)
{
	int r;

	if (dec->failed)
		return ck_error_set(err, -EPIPE, "stream already failed (%s)",
				    strerror(-dec->failed));
	r = feed(dec, untrusted, len, handler, userdata, err);
	if (r < 0)
		dec->failed = r;
	return r;
}
