// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>

#include "clock.h"
#include "fastpath-relay.h"
#include "guests.h"
#include "logging.h"

void fastpath_relay_init(struct fastpath_relay *fr, const struct ck_membership *m,
			 unsigned int burst, uint64_t interval_usec)
{
	*fr = (struct fastpath_relay){
		.m = m,
		.burst = burst ? burst : FASTPATH_RELAY_BURST_DEFAULT,
		.interval_usec = interval_usec ? interval_usec :
						 FASTPATH_RELAY_INTERVAL_DEFAULT_USEC,
	};
}

struct ck_ratelimit fastpath_relay_limit(const struct fastpath_relay *fr)
{
	return (struct ck_ratelimit)CK_RATELIMIT_INIT(fr->interval_usec, fr->burst);
}

static bool running(const struct fastpath_relay *fr, uint16_t domid)
{
	const struct ck_member *mb = ck_memberset_find(fr->m->members, domid);

	return mb && mb->state == CK_MEMBER_RUNNING;
}

/* The grants are the offerer's (the lower domid's): the direction is the protocol's. */
static const char *wrong_direction(enum ck_msg_type type, uint16_t src, uint16_t dst)
{
	if (src == dst)
		return "fast path message to itself";
	if (type == CK_MSG_FASTPATH_OFFER && src > dst)
		return "fast path offer to a lower domid";
	if (type == CK_MSG_FASTPATH_ACCEPT && src < dst)
		return "fast path accept to a higher domid";
	return NULL;
}

int fastpath_relay_route(struct fastpath_relay *fr, struct ck_ratelimit *limit, uint16_t src,
			 struct ck_msg *msg, uint64_t now_usec, int64_t dst_version,
			 const char **fault)
{
	uint16_t *peer = ck_msg_fastpath_peer(msg), dst = *peer;
	uint64_t channel = ck_msg_fastpath_channel(msg);
	uint32_t reason = CKFP_CLOSE_UNREACHABLE;
	bool to = false;

	*fault = wrong_direction(msg->type, src, dst);
	if (*fault) {
		fr->counters.refused++;
		return -EPROTO;
	}
	if (!ck_ratelimit_allow(limit, now_usec, NULL)) {
		fr->counters.rate_limited++;
		return FASTPATH_DROP;
	}
	to = dst_version >= 0 && running(fr, src) && running(fr, dst);
	if (to && dst_version < 1) {
		/* An agent older than the fast path ends its session on any of these. */
		to = false;
		reason = CKFP_CLOSE_NO_FASTPATH;
		fr->counters.no_fastpath++;
	} else if (!to) {
		fr->counters.unreachable++;
	}
	if (to) {
		fr->counters.relayed++;
		*peer = src;	/* the one thing the destination trusts: who sent it */
		log_debug("fast path: %s of channel %" PRIx64 " from domid %u to %u",
			  ck_msg_type_name(msg->type), channel, src, dst);
		return FASTPATH_FORWARD;
	}
	/* A Close needs no answer: there is nothing left to give up on. */
	if (msg->type == CK_MSG_FASTPATH_CLOSE)
		return FASTPATH_DROP;
	*msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .peer_domid = dst, .channel_id = channel,
				    .reason = reason } };
	return FASTPATH_ANSWER;
}

int fastpath_relay_handle(struct fastpath_relay *fr, struct guests *gs,
			  struct guest_fastpath *fp)
{
	uint16_t dst = fastpath_relay_destination(fp->msg);
	int64_t dst_version = -1;
	uint32_t version;
	int r;

	if (guests_fastpath_version(gs, dst, &version) == 0)
		dst_version = version;
	r = fastpath_relay_route(fr, fp->allowance, fp->src, fp->msg, ck_now_usec(), dst_version,
				 &fp->fault);
	switch (r) {
	case FASTPATH_FORWARD:
		(void)guests_send(gs, dst, fp->msg);
		return 0;
	case FASTPATH_ANSWER:
		return SESSION_FASTPATH_ANSWER;
	case FASTPATH_DROP:
		return 0;
	default:
		return r;
	}
}
