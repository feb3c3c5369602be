// SPDX-License-Identifier: LGPL-2.1-or-later
#include <endian.h>
#include <string.h>

#include "ack-wire.h"

#define TAG_ENVELOPE_ACK 0x22	/* field 4, length-delimited */
#define TAG_ACK_EPOCH 0x08	/* field 1, varint */
#define TAG_ACK_GEN 0x10	/* field 2, varint */
#define VARINT_MAX 10

/* Seven bits from each of up to eight bytes (continuation bits cleared), packed low first. */
static uint64_t pack7(uint64_t w)
{
	w &= 0x7f7f7f7f7f7f7f7full;
	w = (w & 0x007f007f007f007full) | (w & 0x7f007f007f007f00ull) >> 1;
	w = (w & 0x00003fff00003fffull) | (w & 0x3fff00003fff0000ull) >> 2;
	return (w & 0x000000000fffffffull) | (w & 0x0fffffff00000000ull) >> 4;
}

/* Bytes at p (before end), one at a time from byte i with x holding what came before. */
static size_t varint_tail(const uint8_t *p, const uint8_t *end, size_t i, uint64_t x,
			  uint64_t *v)
{
	size_t most = end - p < VARINT_MAX ? (size_t)(end - p) : VARINT_MAX;

	for (; i < most; i++) {
		uint64_t b = p[i];

		x |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			/* Past 64 bits (a tenth byte above 1), or padded with a zero: not this form. */
			if ((i == VARINT_MAX - 1 && b > 1) || (i > 0 && b == 0))
				return 0;
			*v = x;
			return i + 1;
		}
	}
	return 0;
}

/*
 * The shortest varint of a value at p (before end): its length, or 0 when the bytes are
 * anything else (cut short, past 64 bits, or padded: those go to protobuf-c, which decides).
 * Every Ack carries the daemon's epoch, a random 64-bit number of ten bytes: its first eight
 * are read as one word.
 */
static size_t varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t w, stop;
	size_t len;

	if (end - p < 8)
		return varint_tail(p, end, 0, 0, v);
	memcpy(&w, p, sizeof(w));
	w = le64toh(w);
	stop = ~w & 0x8080808080808080ull;	/* the bytes without a continuation bit */
	if (!stop)
		return varint_tail(p, end, 8, pack7(w), v);
	len = (size_t)__builtin_ctzll(stop) / 8 + 1;
	if (len > 1 && p[len - 1] == 0)
		return 0;
	if (len < 8)
		w &= (1ull << (8 * len)) - 1;
	*v = pack7(w);
	return len;
}

/* An optional varint field with this tag at *p: false if its bytes are not the shortest form. */
static bool field(const uint8_t **p, const uint8_t *end, uint8_t tag, uint64_t *v)
{
	size_t n;

	if (*p == end || **p != tag)
		return true;
	n = varint(*p + 1, end, v);
	*p += 1 + n;
	return n > 0;
}

bool ck_ack_wire_read(const uint8_t *untrusted, size_t len, uint64_t *epoch, uint64_t *gen)
{
	const uint8_t *p = untrusted, *end = untrusted + len;
	uint64_t body;
	size_t n;

	*epoch = *gen = 0;
	if (len < 2 || p[0] != TAG_ENVELOPE_ACK)
		return false;
	n = varint(p + 1, end, &body);
	if (n == 0 || body != len - 1 - n)
		return false;
	p += 1 + n;
	return field(&p, end, TAG_ACK_EPOCH, epoch) && field(&p, end, TAG_ACK_GEN, gen) &&
	       p == end;
}
