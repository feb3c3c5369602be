// SPDX-License-Identifier: LGPL-2.1-or-later
#include "ack-wire.h"

#define TAG_ENVELOPE_ACK 0x22	/* field 4, length-delimited */
#define TAG_ACK_EPOCH 0x08	/* field 1, varint */
#define TAG_ACK_GEN 0x10	/* field 2, varint */
#define VARINT_MAX 10

/*
 * The shortest varint of a value at p (before end): its length, or 0 when the bytes are
 * anything else (cut short, past 64 bits, or padded: those go to protobuf-c, which decides).
 */
static size_t varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	size_t most = end - p < VARINT_MAX ? (size_t)(end - p) : VARINT_MAX;
	uint64_t x = 0;
	size_t i = 0;
	uint8_t b;

	do {
		if (i == most)
			return 0;
		b = p[i];
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		i++;
	} while (b & 0x80);
	/* Past 64 bits (a tenth byte above 1), or a zero last byte after others: not this form. */
	if ((i == VARINT_MAX && b > 1) || (i > 1 && b == 0))
		return 0;
	*v = x;
	return i;
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
