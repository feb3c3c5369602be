/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The protocol's messages as the rest of the code sees them: plain structs holding only
 * values that passed ck_verify_envelope(), never the decoder's raw output.
 */
#pragma once

#include <linux/cokeeper_fp.h>	/* #defines and enums only: the ring's limits */

#include "delta.h"

#define CK_PROTOCOL_VERSION 1
/*
 * The fast path set-up version this build speaks: announced in Hello by the agent and on
 * Snapshot and Delta by cokeeperd (proto/cokeeper.proto); 0 from a peer means none.
 */
#define CK_FASTPATH_VERSION 1
#define CK_BYE_REASON_MAX 128
#define CK_FRAME_MAX_MEMBERS 64		/* members (snapshot) or upserts (delta) in one frame */
#define CK_FRAME_MAX_REMOVED 4096	/* removed domids in one delta frame */
/* Enough chunks for the largest possible host, CK_DOMID_LIMIT members. */
#define CK_CHUNKS_MAX ((CK_DOMID_LIMIT + CK_FRAME_MAX_MEMBERS - 1) / CK_FRAME_MAX_MEMBERS)

enum ck_msg_type {
	CK_MSG_UNSPEC = 0,
	CK_MSG_HELLO,
	CK_MSG_SNAPSHOT,
	CK_MSG_DELTA,
	CK_MSG_ACK,
	CK_MSG_BYE,
	CK_MSG_FASTPATH_OFFER,
	CK_MSG_FASTPATH_ACCEPT,
	CK_MSG_FASTPATH_CLOSE,
	__CK_MSG_LAST
};
#define CK_MSG_MAX (__CK_MSG_LAST - 1)

enum ck_bye_code {
	CK_BYE_UNSPEC = 0,
	CK_BYE_SHUTDOWN,
	CK_BYE_PROTOCOL_ERROR,
	CK_BYE_VERSION,
	CK_BYE_OVERLOAD,
	__CK_BYE_LAST
};
#define CK_BYE_MAX (__CK_BYE_LAST - 1)

struct ck_hello {
	uint16_t domid;
	uint32_t version;
	uint64_t epoch;		/* 0: the agent holds no table */
	uint64_t gen;
	uint32_t fastpath_version;	/* 0: never send it Fastpath* messages */
};

struct ck_snapshot {
	uint64_t epoch;
	uint64_t gen;
	struct ck_member *members;
	size_t n_members;
};

struct ck_ack {
	uint64_t epoch;
	uint64_t gen;
};

struct ck_bye {
	uint32_t code;		/* enum ck_bye_code */
	char reason[CK_BYE_REASON_MAX + 1];
};

/*
 * Fast path set-up, relayed by cokeeperd between two agents.  peer_domid is the destination
 * in what an agent sends and the source in what cokeeperd forwards (it overwrites it).
 */
struct ck_fastpath_offer {
	uint16_t peer_domid;
	uint64_t channel_id;	/* never 0 */
	uint32_t ring_version;	/* CKFP_RING_VERSION */
	uint32_t ring_order;	/* CKFP_RING_ORDER_MIN..MAX */
	uint32_t evtchn_port;
	uint32_t n_grefs;	/* CKFP_GREFS(ring_order), exactly */
	uint32_t grefs[CKFP_GREFS_MAX];
};

struct ck_fastpath_accept {
	uint16_t peer_domid;
	uint64_t channel_id;	/* never 0 */
};

struct ck_fastpath_close {
	uint16_t peer_domid;
	uint64_t channel_id;	/* 0: whatever channel exists to the peer */
	uint32_t reason;	/* enum ckfp_close_reason */
};

struct ck_msg {
	enum ck_msg_type type;
	/* Snapshot and delta: this frame is chunk `chunk` (from 0) of `chunks`. */
	uint32_t chunk;
	uint32_t chunks;
	/* Snapshot and delta: cokeeperd's fast path version (0: it relays nothing). */
	uint32_t fastpath_version;
	union {
		struct ck_hello hello;
		struct ck_snapshot snapshot;
		struct ck_delta delta;
		struct ck_ack ack;
		struct ck_bye bye;
		struct ck_fastpath_offer fastpath_offer;
		struct ck_fastpath_accept fastpath_accept;
		struct ck_fastpath_close fastpath_close;
	};
};

/*
 * Zeroes what a message of this type uses: its header and its member of the union (all of it
 * for CK_MSG_UNSPEC).  A message is only ever read through its type's member, so that is a
 * zeroed message of the type; an Ack is 32 bytes of a struct of 2 KiB (a fast path offer's
 * grants), and a thousand guests' Acks per change are each zeroed twice.
 */
void ck_msg_zero(struct ck_msg *msg, enum ck_msg_type type);

/*
 * Frees the arrays a decoded message owns and zeroes what its type uses (ck_msg_zero()).  Messages built by hand for sending may point at borrowed arrays; those
 * are not passed here.
 */
void ck_msg_reset(struct ck_msg *msg);

const char *ck_msg_type_name(enum ck_msg_type type);

/* True for the fast path's three set-up messages. */
bool ck_msg_is_fastpath(enum ck_msg_type type);
/* A fast path message's peer_domid, and its channel_id; the caller checked the type. */
uint16_t *ck_msg_fastpath_peer(struct ck_msg *msg);
uint64_t ck_msg_fastpath_channel(const struct ck_msg *msg);

/*
 * The one set of rules for a fast path message's fields (ck_verify_envelope() applies it to
 * what arrives, the encoder to what is sent): NULL if it keeps them, else what it breaks.
 */
const char *ck_msg_fastpath_invalid(const struct ck_msg *msg);
