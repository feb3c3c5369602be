// SPDX-License-Identifier: LGPL-2.1-or-later
#include <assert.h>
#include <errno.h>
#include <sanitizer/asan_interface.h>	/* no-op macros outside ASan builds */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ack-wire.h"
#include "codec.h"
#include "verify.h"

/* encode casts states and bye codes to the proto's enums, which must number them alike. */
static_assert(CK_MEMBER_RUNNING == (int)COKEEPER__MEMBER_STATE__MEMBER_STATE_RUNNING &&
	      CK_MEMBER_MIGRATING_OUT == (int)COKEEPER__MEMBER_STATE__MEMBER_STATE_MIGRATING_OUT,
	      "member states differ from proto/cokeeper.proto's");
static_assert(CK_ADDR_TOOLSTACK == (int)COKEEPER__ADDRESS_SOURCE__ADDRESS_SOURCE_TOOLSTACK &&
	      CK_ADDR_ORCHESTRATOR == (int)COKEEPER__ADDRESS_SOURCE__ADDRESS_SOURCE_ORCHESTRATOR &&
	      CK_ADDR_LEARNED == (int)COKEEPER__ADDRESS_SOURCE__ADDRESS_SOURCE_LEARNED &&
	      CK_ADDR_CLAIMED == (int)COKEEPER__ADDRESS_SOURCE__ADDRESS_SOURCE_CLAIMED,
	      "address sources differ from proto/cokeeper.proto's");
static_assert(CK_BYE_SHUTDOWN == (int)COKEEPER__BYE_CODE__BYE_CODE_SHUTDOWN &&
	      CK_BYE_PROTOCOL_ERROR == (int)COKEEPER__BYE_CODE__BYE_CODE_PROTOCOL_ERROR &&
	      CK_BYE_VERSION == (int)COKEEPER__BYE_CODE__BYE_CODE_VERSION &&
	      CK_BYE_OVERLOAD == (int)COKEEPER__BYE_CODE__BYE_CODE_OVERLOAD,
	      "bye codes differ from proto/cokeeper.proto's");

/* The protobuf-c view of one member, pointing into the struct ck_member it describes. */
struct member_pb {
	Cokeeper__Member m;
	Cokeeper__Nic nics[CK_NICS_MAX];
	Cokeeper__Nic *nic_ptrs[CK_NICS_MAX];
	ProtobufCBinaryData ipv6[CK_NICS_MAX][CK_ADDRS_MAX];
	uint8_t sources[CK_NICS_MAX][2 * CK_ADDRS_MAX];
};

struct members_pb {
	struct member_pb *v;
	Cokeeper__Member **ptrs;
};

static void members_pb_free(struct members_pb *pb)
{
	free(pb->v);
	free(pb->ptrs);
}

/* The Nic's sources: none at all while every address is the toolstack's, as before them. */
static ProtobufCBinaryData nic_sources(const struct ck_nic *nic, uint8_t *buf)
{
	bool any = false;

	memcpy(buf, nic->ipv4_source, nic->n_ipv4);
	memcpy(buf + nic->n_ipv4, nic->ipv6_source, nic->n_ipv6);
	for (unsigned int i = 0; i < nic->n_ipv4 + (unsigned int)nic->n_ipv6; i++)
		any |= buf[i] != CK_ADDR_TOOLSTACK;
	return (ProtobufCBinaryData){ any ? nic->n_ipv4 + (unsigned int)nic->n_ipv6 : 0, buf };
}

static int members_pb_build(struct members_pb *pb, const struct ck_member *members, size_t n)
{
	memset(pb, 0, sizeof(*pb));
	if (n > CK_FRAME_MAX_MEMBERS)
		return -EMSGSIZE;
	for (size_t i = 0; i < n; i++)
		if (ck_member_check(&members[i]) < 0)
			return -EINVAL;
	if (n == 0)
		return 0;
	pb->v = calloc(n, sizeof(*pb->v));
	pb->ptrs = calloc(n, sizeof(*pb->ptrs));
	if (!pb->v || !pb->ptrs) {
		members_pb_free(pb);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ck_member *src = &members[i];
		struct member_pb *dst = &pb->v[i];

		cokeeper__member__init(&dst->m);
		dst->m.domid = src->domid;
		dst->m.uuid = (ProtobufCBinaryData){ CK_UUID_LEN, (uint8_t *)src->uuid };
		dst->m.name = (ProtobufCBinaryData){ strlen(src->name), (uint8_t *)src->name };
		dst->m.state = (Cokeeper__MemberState)src->state;
		dst->m.n_nics = src->n_nics;
		dst->m.nics = dst->nic_ptrs;
		for (unsigned int k = 0; k < src->n_nics; k++) {
			const struct ck_nic *nic = &src->nics[k];
			Cokeeper__Nic *pnic = &dst->nics[k];

			cokeeper__nic__init(pnic);
			dst->nic_ptrs[k] = pnic;
			pnic->mac = (ProtobufCBinaryData){ CK_MAC_LEN, (uint8_t *)nic->mac };
			pnic->n_ipv4 = nic->n_ipv4;
			pnic->ipv4 = (uint32_t *)nic->ipv4;
			pnic->n_ipv6 = nic->n_ipv6;
			pnic->ipv6 = dst->ipv6[k];
			for (unsigned int a = 0; a < nic->n_ipv6; a++)
				dst->ipv6[k][a] = (ProtobufCBinaryData){ CK_IPV6_LEN,
									 (uint8_t *)nic->ipv6[a] };
			pnic->sources = nic_sources(nic, dst->sources[k]);
		}
		pb->ptrs[i] = &dst->m;
	}
	return 0;
}

static bool chunks_valid(const struct ck_msg *msg)
{
	return msg->chunks >= 1 && msg->chunks <= CK_CHUNKS_MAX && msg->chunk < msg->chunks;
}

/* Packs env behind headroom bytes into a new buffer; env's messages are the caller's. */
static int pack(const Cokeeper__Envelope *env, size_t headroom, uint8_t **ret, size_t *len)
{
	size_t size = cokeeper__envelope__get_packed_size(env);
	uint8_t *buf = malloc(headroom + size);

	if (!buf)
		return -ENOMEM;
	cokeeper__envelope__pack(env, buf + headroom);
	*ret = buf;
	*len = headroom + size;
	return 0;
}

static int encode_hello(const struct ck_hello *msg, size_t headroom, uint8_t **ret, size_t *len)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Hello hello = COKEEPER__HELLO__INIT;

	if (msg->domid >= CK_DOMID_LIMIT)
		return -EINVAL;
	hello.domid = msg->domid;
	hello.protocol_version = msg->version;
	hello.epoch = msg->epoch;
	hello.gen = msg->gen;
	hello.fastpath_version = msg->fastpath_version;
	env.msg_case = COKEEPER__ENVELOPE__MSG_HELLO;
	env.hello = &hello;
	return pack(&env, headroom, ret, len);
}

static int encode_snapshot(const struct ck_msg *msg, size_t headroom, uint8_t **ret, size_t *len)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Snapshot snapshot = COKEEPER__SNAPSHOT__INIT;
	struct members_pb members;
	int r;

	if (!chunks_valid(msg) || msg->snapshot.epoch == 0)
		return -EINVAL;
	r = members_pb_build(&members, msg->snapshot.members, msg->snapshot.n_members);
	if (r < 0)
		return r;
	snapshot.epoch = msg->snapshot.epoch;
	snapshot.gen = msg->snapshot.gen;
	snapshot.chunk = msg->chunk;
	snapshot.chunks = msg->chunks;
	snapshot.fastpath_version = msg->fastpath_version;
	snapshot.n_members = msg->snapshot.n_members;
	snapshot.members = members.ptrs;
	env.msg_case = COKEEPER__ENVELOPE__MSG_SNAPSHOT;
	env.snapshot = &snapshot;
	r = pack(&env, headroom, ret, len);
	members_pb_free(&members);
	return r;
}

static int encode_delta(const struct ck_msg *msg, size_t headroom, uint8_t **ret, size_t *len)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Delta delta = COKEEPER__DELTA__INIT;
	const struct ck_delta *d = &msg->delta;
	struct members_pb members;
	uint32_t *removed = NULL;
	int r;

	if (!chunks_valid(msg) || d->epoch == 0 || d->new_gen < d->base_gen ||
	    ck_delta_changes(d) > d->new_gen - d->base_gen)
		return -EINVAL;
	if (d->n_removed > CK_FRAME_MAX_REMOVED)
		return -EMSGSIZE;
	r = members_pb_build(&members, d->upserts, d->n_upserts);
	if (r < 0)
		return r;
	/* The wire's removed list is uint32; ours holds uint16 domids. */
	if (d->n_removed) {
		removed = calloc(d->n_removed, sizeof(*removed));
		if (!removed) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < d->n_removed; i++)
			removed[i] = d->removed[i];
	}
	delta.epoch = d->epoch;
	delta.base_gen = d->base_gen;
	delta.new_gen = d->new_gen;
	delta.chunk = msg->chunk;
	delta.chunks = msg->chunks;
	delta.fastpath_version = msg->fastpath_version;
	delta.n_upserts = d->n_upserts;
	delta.upserts = members.ptrs;
	delta.n_removed = d->n_removed;
	delta.removed = removed;
	env.msg_case = COKEEPER__ENVELOPE__MSG_DELTA;
	env.delta = &delta;
	r = pack(&env, headroom, ret, len);
out:
	free(removed);
	members_pb_free(&members);
	return r;
}

static int encode_ack(const struct ck_ack *msg, size_t headroom, uint8_t **ret, size_t *len)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Ack ack = COKEEPER__ACK__INIT;

	if (msg->epoch == 0)
		return -EINVAL;
	ack.epoch = msg->epoch;
	ack.gen = msg->gen;
	env.msg_case = COKEEPER__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	return pack(&env, headroom, ret, len);
}

static int encode_bye(const struct ck_bye *msg, size_t headroom, uint8_t **ret, size_t *len)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Bye bye = COKEEPER__BYE__INIT;
	size_t n = strnlen(msg->reason, sizeof(msg->reason));

	if (msg->code == CK_BYE_UNSPEC || msg->code > CK_BYE_MAX || n > CK_BYE_REASON_MAX ||
	    !ck_printable(msg->reason, n))
		return -EINVAL;
	bye.code = (Cokeeper__ByeCode)msg->code;
	bye.reason = (ProtobufCBinaryData){ n, (uint8_t *)msg->reason };
	env.msg_case = COKEEPER__ENVELOPE__MSG_BYE;
	env.bye = &bye;
	return pack(&env, headroom, ret, len);
}

static int encode_fastpath(const struct ck_msg *msg, size_t headroom, uint8_t **ret,
			   size_t *len)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__FastpathOffer offer = COKEEPER__FASTPATH_OFFER__INIT;
	Cokeeper__FastpathAccept accept = COKEEPER__FASTPATH_ACCEPT__INIT;
	Cokeeper__FastpathClose close = COKEEPER__FASTPATH_CLOSE__INIT;
	const struct ck_fastpath_offer *o = &msg->fastpath_offer;

	if (ck_msg_fastpath_invalid(msg))
		return -EINVAL;
	switch (msg->type) {
	case CK_MSG_FASTPATH_OFFER:
		offer.peer_domid = o->peer_domid;
		offer.channel_id = o->channel_id;
		offer.ring_version = o->ring_version;
		offer.ring_order = o->ring_order;
		offer.evtchn_port = o->evtchn_port;
		offer.n_grefs = o->n_grefs;
		offer.grefs = (uint32_t *)o->grefs;
		env.msg_case = COKEEPER__ENVELOPE__MSG_FASTPATH_OFFER;
		env.fastpath_offer = &offer;
		break;
	case CK_MSG_FASTPATH_ACCEPT:
		accept.peer_domid = msg->fastpath_accept.peer_domid;
		accept.channel_id = msg->fastpath_accept.channel_id;
		env.msg_case = COKEEPER__ENVELOPE__MSG_FASTPATH_ACCEPT;
		env.fastpath_accept = &accept;
		break;
	default:
		close.peer_domid = msg->fastpath_close.peer_domid;
		close.channel_id = msg->fastpath_close.channel_id;
		close.reason = msg->fastpath_close.reason;
		env.msg_case = COKEEPER__ENVELOPE__MSG_FASTPATH_CLOSE;
		env.fastpath_close = &close;
		break;
	}
	return pack(&env, headroom, ret, len);
}

int ck_codec_encode(const struct ck_msg *msg, size_t headroom, uint8_t **ret, size_t *len)
{
	switch (msg->type) {
	case CK_MSG_HELLO:
		return encode_hello(&msg->hello, headroom, ret, len);
	case CK_MSG_SNAPSHOT:
		return encode_snapshot(msg, headroom, ret, len);
	case CK_MSG_DELTA:
		return encode_delta(msg, headroom, ret, len);
	case CK_MSG_ACK:
		return encode_ack(&msg->ack, headroom, ret, len);
	case CK_MSG_BYE:
		return encode_bye(&msg->bye, headroom, ret, len);
	case CK_MSG_FASTPATH_OFFER:
	case CK_MSG_FASTPATH_ACCEPT:
	case CK_MSG_FASTPATH_CLOSE:
		return encode_fastpath(msg, headroom, ret, len);
	default:
		return -EINVAL;
	}
}

/*
 * protobuf-c unpacks every message, repeated field and bytes field into an allocation of
 * its own: an Ack alone took two mallocs and two frees, once per guest per change (issue 19).
 * An envelope lives only until ck_verify_envelope() has copied what it holds into *out, so
 * it is unpacked into a buffer on decode's stack and dropped whole.  What does not fit goes
 * to the heap allocation by allocation, as before: the buffer is a fixed cost whatever a peer
 * sends, and only a big snapshot or delta pays for the walk that frees the spill.
 */
#define ARENA_LEN 4096	/* an Ack, Hello, Bye, fast path message or a delta of a few members */

struct arena {
	size_t used;
	bool spilled;	/* something went to the heap: free_unpacked() must run */
	alignas(max_align_t) uint8_t buf[ARENA_LEN];
};

static void *arena_alloc(void *data, size_t size)
{
	struct arena *a = data;
	size_t at = (a->used + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);

	/* at < ARENA_LEN: even a zero-sized allocation lies inside buf, for arena_free(). */
	if (at < ARENA_LEN && size <= ARENA_LEN - at) {
		a->used = at + size;
		/* Under ASan, a read past one allocation into the next is still caught. */
		ASAN_UNPOISON_MEMORY_REGION(a->buf + at, size);
		return a->buf + at;
	}
	a->spilled = true;
	return malloc(size);
}

static void arena_free(void *data, void *p)
{
	struct arena *a = data;
	uintptr_t at = (uintptr_t)p, buf = (uintptr_t)a->buf;

	if (at - buf >= ARENA_LEN)	/* not in buf: wraps around below it */
		free(p);
}

int ck_codec_decode(const uint8_t *untrusted, size_t len, struct ck_msg *out,
		    struct ck_error *err)
{
	struct arena arena;	/* buf left unzeroed: protobuf-c sets all it hands out */
	ProtobufCAllocator alloc = { arena_alloc, arena_free, &arena };
	Cokeeper__Ack ack = COKEEPER__ACK__INIT;
	Cokeeper__Envelope *env, ack_env = COKEEPER__ENVELOPE__INIT;
	int r;

	/* A guest's answer to every change, read in place and verified as anything else. */
	if (ck_ack_wire_read(untrusted, len, &ack.epoch, &ack.gen)) {
		ack_env.msg_case = COKEEPER__ENVELOPE__MSG_ACK;
		ack_env.ack = &ack;
		return ck_verify_envelope(&ack_env, out, err);
	}
	arena.used = 0;
	arena.spilled = false;
	ASAN_POISON_MEMORY_REGION(arena.buf, ARENA_LEN);
	env = cokeeper__envelope__unpack(&alloc, len, untrusted);
	if (!env) {
		memset(out, 0, sizeof(*out));
		r = ck_error_set(err, -EBADMSG, "%zu bytes are not a protobuf envelope", len);
	} else {
		/*
		 * It zeroes *out first.  *out owns copies of everything it holds, so nothing
		 * points into the arena once it returns.
		 */
		r = ck_verify_envelope(env, out, err);
		if (arena.spilled)
			cokeeper__envelope__free_unpacked(env, &alloc);
	}
	ASAN_UNPOISON_MEMORY_REGION(arena.buf, ARENA_LEN);
	return r;
}
