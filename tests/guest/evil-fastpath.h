/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Xen-free half of `ck-evil fastpath-garbage` and `fastpath-stall`: the offer they send,
 * the control page they write as an honest offerer would, the garbage fastpath-garbage then
 * publishes in its own ring, and what fastpath-stall leaves unread in the victim's.
 * Kept apart from ck-evil.c so a unit test can check, without Xen, that the offer survives
 * lib's encoder and decoder and that each kind of garbage is what the victim's ring code
 * (kmod-hook/fastpath/ckfp-ring.c, the same source) calls broken.
 */
#pragma once

#include <stdint.h>

#include "ckfp-ring.h"
#include "message.h"

/* The smallest ring: 1 control page, then 2 rings of 64 pages (offerer -> acceptor first). */
#define EVIL_FP_ORDER CKFP_ORDER_MIN
#define EVIL_FP_RING_PAGES (1U << EVIL_FP_ORDER)
#define EVIL_FP_PAGES CKFP_GREFS(EVIL_FP_ORDER)

enum evil_fp_kind {
	EVIL_FP_PROD,	/* by_offerer.tx_prod far past the ring's size */
	EVIL_FP_LEN,	/* one record header with len 0xFFFFFFF0, prod = 64 */
	EVIL_FP_FLAGS,	/* one record of a valid length with a flag bit nobody defined */
};

/* NULL (the default) is "prod"; -EINVAL for a name that is none of the kinds. */
int evil_fp_kind_parse(const char *name, enum evil_fp_kind *kind);

/* A FastpathOffer to peer for channel id, with its port and EVIL_FP_PAGES grefs in order. */
void evil_fp_offer(struct ck_msg *msg, uint16_t peer, uint64_t id, uint32_t port,
		   const uint32_t *grefs);

/* The offerer's control page (a zeroed 4 KiB page), as cokeeper-fp.ko writes it. */
void evil_fp_ctrl_init(struct ckfp_ctrl *ctrl);

/*
 * What `ck-evil fastpath-stall` leaves the victim with: the bytes it published in its own
 * ring (acceptor -> offerer) that we never read, as its line and ours say.
 */
uint32_t evil_fp_unread(const struct ckfp_ctrl *ctrl);

/*
 * Publishes kind's garbage in the offerer -> acceptor ring: ring holds its
 * EVIL_FP_RING_PAGES page addresses.  The victim sees it on its next poll.
 */
void evil_fp_break(struct ckfp_ctrl *ctrl, void *const *ring, enum evil_fp_kind kind);
