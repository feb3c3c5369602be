// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "evil-fastpath.h"

int evil_fp_kind_parse(const char *name, enum evil_fp_kind *kind)
{
	if (!name || !strcmp(name, "prod"))
		*kind = EVIL_FP_PROD;
	else if (!strcmp(name, "len"))
		*kind = EVIL_FP_LEN;
	else if (!strcmp(name, "flags"))
		*kind = EVIL_FP_FLAGS;
	else
		return -EINVAL;
	return 0;
}

void evil_fp_offer(struct ck_msg *msg, uint16_t peer, uint64_t id, uint32_t port,
		   const uint32_t *grefs)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = CK_MSG_FASTPATH_OFFER;
	msg->fastpath_offer.peer_domid = peer;
	msg->fastpath_offer.channel_id = id;
	msg->fastpath_offer.ring_version = CKFP_RING_VERSION;
	msg->fastpath_offer.ring_order = EVIL_FP_ORDER;
	msg->fastpath_offer.evtchn_port = port;
	msg->fastpath_offer.n_grefs = EVIL_FP_PAGES;
	memcpy(msg->fastpath_offer.grefs, grefs, EVIL_FP_PAGES * sizeof(*grefs));
}

void evil_fp_ctrl_init(struct ckfp_ctrl *ctrl)
{
	/* The module's own function: the victim must accept the channel before we break it. */
	ckfp_ctrl_init(ctrl, EVIL_FP_ORDER);
}

uint32_t evil_fp_unread(const struct ckfp_ctrl *ctrl)
{
	return le32_to_cpu(READ_ONCE(ctrl->by_acceptor.tx_prod)) -
	       le32_to_cpu(READ_ONCE(ctrl->by_offerer.rx_cons));
}

/* A record header at index 0 (the first page's start), then prod: the header first. */
static void publish_header(struct ckfp_ctrl *ctrl, void *const *ring, u32 len, u16 flags,
			   u32 prod)
{
	struct ckfp_rec rec = { .len = cpu_to_le32(len), .flags = cpu_to_le16(flags) };

	memcpy(ring[0], &rec, sizeof(rec));
	virt_wmb();
	WRITE_ONCE(ctrl->by_offerer.tx_prod, cpu_to_le32(prod));
}

void evil_fp_break(struct ckfp_ctrl *ctrl, void *const *ring, enum evil_fp_kind kind)
{
	/* An Ethernet frame of 60 bytes: within CKFP_MIN_FRAME..CKFP_MAX_FRAME. */
	const u32 frame = 60;

	switch (kind) {
	case EVIL_FP_PROD:
		/* 256 ring sizes ahead of a consumer at 0: "prod - cons" exceeds the size. */
		WRITE_ONCE(ctrl->by_offerer.tx_prod,
			   cpu_to_le32((CKFP_PAGE_SIZE << EVIL_FP_ORDER) * 256U));
		break;
	case EVIL_FP_LEN:
		publish_header(ctrl, ring, 0xFFFFFFF0U, 0, 64);
		break;
	case EVIL_FP_FLAGS:
		/* The record's stride is covered by prod: only the flags are wrong. */
		publish_header(ctrl, ring, frame, 1U << 15, CKFP_STRIDE(frame));
		break;
	}
}
