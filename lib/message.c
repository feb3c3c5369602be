// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "member.h"
#include "message.h"

void ck_msg_reset(struct ck_msg *msg)
{
	switch (msg->type) {
	case CK_MSG_SNAPSHOT:
		free(msg->snapshot.members);
		break;
	case CK_MSG_DELTA:
		ck_delta_reset(&msg->delta);
		break;
	default:
		break;
	}
	ck_msg_zero(msg, msg->type);
}

/* Each size a constant, so that the compiler inlines every memset. */
#define ZERO(msg, member) \
	memset(msg, 0, offsetof(struct ck_msg, member) + sizeof(((struct ck_msg *)0)->member))

void ck_msg_zero(struct ck_msg *msg, enum ck_msg_type type)
{
	switch (type) {
	case CK_MSG_HELLO:
		ZERO(msg, hello);
		break;
	case CK_MSG_ACK:
		ZERO(msg, ack);
		break;
	case CK_MSG_BYE:
		ZERO(msg, bye);
		break;
	case CK_MSG_FASTPATH_ACCEPT:
		ZERO(msg, fastpath_accept);
		break;
	case CK_MSG_FASTPATH_CLOSE:
		ZERO(msg, fastpath_close);
		break;
	default:
		memset(msg, 0, sizeof(*msg));
		break;
	}
}

const char *ck_msg_type_name(enum ck_msg_type type)
{
	static const char *const names[] = {
		[CK_MSG_HELLO] = "hello", [CK_MSG_SNAPSHOT] = "snapshot",
		[CK_MSG_DELTA] = "delta", [CK_MSG_ACK] = "ack", [CK_MSG_BYE] = "bye",
		[CK_MSG_FASTPATH_OFFER] = "fastpath-offer",
		[CK_MSG_FASTPATH_ACCEPT] = "fastpath-accept",
		[CK_MSG_FASTPATH_CLOSE] = "fastpath-close",
	};

	return type > CK_MSG_UNSPEC && type <= CK_MSG_MAX ? names[type] : "unknown";
}

bool ck_msg_is_fastpath(enum ck_msg_type type)
{
	return type == CK_MSG_FASTPATH_OFFER || type == CK_MSG_FASTPATH_ACCEPT ||
	       type == CK_MSG_FASTPATH_CLOSE;
}

uint16_t *ck_msg_fastpath_peer(struct ck_msg *msg)
{
	switch (msg->type) {
	case CK_MSG_FASTPATH_OFFER:
		return &msg->fastpath_offer.peer_domid;
	case CK_MSG_FASTPATH_ACCEPT:
		return &msg->fastpath_accept.peer_domid;
	default:
		return &msg->fastpath_close.peer_domid;
	}
}

uint64_t ck_msg_fastpath_channel(const struct ck_msg *msg)
{
	switch (msg->type) {
	case CK_MSG_FASTPATH_OFFER:
		return msg->fastpath_offer.channel_id;
	case CK_MSG_FASTPATH_ACCEPT:
		return msg->fastpath_accept.channel_id;
	default:
		return msg->fastpath_close.channel_id;
	}
}

const char *ck_msg_fastpath_invalid(const struct ck_msg *msg)
{
	const struct ck_fastpath_offer *o = &msg->fastpath_offer;

	if (!ck_msg_is_fastpath(msg->type))
		return "not a fast path message";
	if (*ck_msg_fastpath_peer((struct ck_msg *)msg) >= CK_DOMID_LIMIT)
		return "peer domid out of range";
	switch (msg->type) {
	case CK_MSG_FASTPATH_OFFER:
		if (o->channel_id == 0)
			return "offer without a channel id";
		if (o->ring_version != CKFP_RING_VERSION)
			return "offer of an unknown ring version";
		/* The order first: CKFP_GREFS() of a wild one would shift past 32 bits. */
		if (o->ring_order < CKFP_RING_ORDER_MIN || o->ring_order > CKFP_RING_ORDER_MAX)
			return "offer of a ring order out of range";
		if (o->n_grefs != CKFP_GREFS(o->ring_order))
			return "offer whose grant count does not match its ring order";
		return NULL;
	case CK_MSG_FASTPATH_ACCEPT:
		return msg->fastpath_accept.channel_id ? NULL : "accept without a channel id";
	default:
		return msg->fastpath_close.reason <= CKFP_CLOSE_MAX ? NULL :
								   "close with an unknown reason";
	}
}
