// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the agent's check of what cokeeper-fp.ko multicasts
 * (guest-agent/fastpath-parse.c): the input is one netlink message's bytes, as recv() would
 * hand them over, copied to a buffer of exactly that size (aligned as netlink's are) so
 * that a read past the end is a finding.
 *
 * Invariants beyond "no crash, no out-of-bounds read":
 *  - what passes is a fast path message that keeps the protocol's rules, so the agent can
 *    send it: it encodes, and decodes through lib/verify to the same bytes;
 *  - an offer's grant count is its order's, its order within range;
 *  - the same bytes give the same verdict twice (no state).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fastpath-parse.h"

#define want(cond)                   \
	do {                         \
		if (!(cond))         \
			abort();     \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1), *a, *b;
	struct ck_msg m, again;
	const char *why, *why2;
	size_t alen, blen;

	want(buf);
	memcpy(buf, data, size);
	why = fastpath_parse_event(buf, size, &m);
	why2 = fastpath_parse_event(buf, size, &again);
	want(!why == !why2 && (!why || strcmp(why, why2) == 0));
	if (!why) {
		want(memcmp(&m, &again, sizeof(m)) == 0);
		want(ck_msg_is_fastpath(m.type) && !ck_msg_fastpath_invalid(&m));
		if (m.type == CK_MSG_FASTPATH_OFFER)
			want(m.fastpath_offer.ring_order >= CKFP_RING_ORDER_MIN &&
			     m.fastpath_offer.ring_order <= CKFP_RING_ORDER_MAX &&
			     m.fastpath_offer.n_grefs == CKFP_GREFS(m.fastpath_offer.ring_order));
		want(ck_codec_encode(&m, 0, &a, &alen) == 0);
		want(ck_codec_decode(a, alen, &again, NULL) == 0);
		want(ck_codec_encode(&again, 0, &b, &blen) == 0);
		want(alen == blen && memcmp(a, b, alen) == 0);
		ck_msg_reset(&again);
		free(a);
		free(b);
	}
	free(buf);
	return 0;
}
