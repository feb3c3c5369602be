// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

#define BAD(err, ...) ck_error_set(err, -EBADMSG, __VA_ARGS__)

/* Which domids a message has named so far: each may appear once. */
struct seen {
	uint8_t bits[CK_DOMID_LIMIT / 8];
};

static int mark(struct seen *seen, uint32_t domid, struct ck_error *err)
{
	uint8_t bit = 1u << (domid % 8);

	if (domid >= CK_DOMID_LIMIT)
		return BAD(err, "domid %u out of range", domid);
	if (seen->bits[domid / 8] & bit)
		return BAD(err, "domid %u appears twice", domid);
	seen->bits[domid / 8] |= bit;
	return 0;
}

static int verify_nic(const Cokeeper__Nic *untrusted, struct ck_nic *nic, uint32_t domid,
		      struct ck_error *err)
{
	if (!untrusted)
		return BAD(err, "domid %u: missing nic", domid);
	if (untrusted->mac.len != CK_MAC_LEN)
		return BAD(err, "domid %u: mac of %zu bytes", domid, untrusted->mac.len);
	if (untrusted->n_ipv4 > CK_ADDRS_MAX || untrusted->n_ipv6 > CK_ADDRS_MAX)
		return BAD(err, "domid %u: %zu ipv4 and %zu ipv6 addresses, limit %u each", domid,
			   untrusted->n_ipv4, untrusted->n_ipv6, CK_ADDRS_MAX);
	memcpy(nic->mac, untrusted->mac.data, CK_MAC_LEN);
	nic->n_ipv4 = untrusted->n_ipv4;
	for (size_t i = 0; i < untrusted->n_ipv4; i++)
		nic->ipv4[i] = untrusted->ipv4[i];
	nic->n_ipv6 = untrusted->n_ipv6;
	for (size_t i = 0; i < untrusted->n_ipv6; i++) {
		if (untrusted->ipv6[i].len != CK_IPV6_LEN)
			return BAD(err, "domid %u: ipv6 address of %zu bytes", domid,
				   untrusted->ipv6[i].len);
		memcpy(nic->ipv6[i], untrusted->ipv6[i].data, CK_IPV6_LEN);
	}
	if (untrusted->sources.len == 0) {
		memset(nic->ipv4_source, CK_ADDR_TOOLSTACK, sizeof(nic->ipv4_source));
		memset(nic->ipv6_source, CK_ADDR_TOOLSTACK, sizeof(nic->ipv6_source));
		return 0;
	}
	if (untrusted->sources.len != untrusted->n_ipv4 + untrusted->n_ipv6)
		return BAD(err, "domid %u: %zu address sources for %zu addresses", domid,
			   untrusted->sources.len, untrusted->n_ipv4 + untrusted->n_ipv6);
	for (size_t i = 0; i < untrusted->sources.len; i++)
		if (untrusted->sources.data[i] > CK_ADDR_SOURCE_MAX)
			return BAD(err, "domid %u: address source %u unknown", domid,
				   untrusted->sources.data[i]);
	memcpy(nic->ipv4_source, untrusted->sources.data, untrusted->n_ipv4);
	memcpy(nic->ipv6_source, untrusted->sources.data + untrusted->n_ipv4, untrusted->n_ipv6);
	return 0;
}

static int verify_member(const Cokeeper__Member *untrusted, struct ck_member *m,
			 struct seen *seen, struct ck_error *err)
{
	int r;

	if (!untrusted)
		return BAD(err, "missing member");
	r = mark(seen, untrusted->domid, err);
	if (r < 0)
		return r;
	if (untrusted->uuid.len != CK_UUID_LEN)
		return BAD(err, "domid %u: uuid of %zu bytes", untrusted->domid,
			   untrusted->uuid.len);
	if (!ck_name_valid((const char *)untrusted->name.data, untrusted->name.len))
		return BAD(err, "domid %u: name of %zu bytes is empty, too long or not printable",
			   untrusted->domid, untrusted->name.len);
	if (untrusted->state <= COKEEPER__MEMBER_STATE__MEMBER_STATE_UNSPEC ||
	    untrusted->state > CK_MEMBER_STATE_MAX)
		return BAD(err, "domid %u: unknown state %d", untrusted->domid, untrusted->state);
	if (untrusted->n_nics > CK_NICS_MAX)
		return BAD(err, "domid %u: %zu nics, limit %u", untrusted->domid,
			   untrusted->n_nics, CK_NICS_MAX);

	memset(m, 0, sizeof(*m));
	m->domid = untrusted->domid;
	m->state = untrusted->state;
	memcpy(m->uuid, untrusted->uuid.data, CK_UUID_LEN);
	memcpy(m->name, untrusted->name.data, untrusted->name.len);
	m->n_nics = untrusted->n_nics;
	for (size_t i = 0; i < untrusted->n_nics; i++) {
		r = verify_nic(untrusted->nics[i], &m->nics[i], untrusted->domid, err);
		if (r < 0)
			return r;
	}
	/* What remains are the semantic rules shared with locally built members. */
	if (ck_member_check(m) < 0)
		return BAD(err, "domid %u: invalid mac or zero ipv4 address", untrusted->domid);
	return 0;
}

static int verify_members(Cokeeper__Member *const *untrusted, size_t n, struct ck_member **ret,
			  struct seen *seen, struct ck_error *err)
{
	struct ck_member *v;
	int r;

	*ret = NULL;
	if (n > CK_FRAME_MAX_MEMBERS)
		return BAD(err, "%zu members in one frame, limit %u", n, CK_FRAME_MAX_MEMBERS);
	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = verify_member(untrusted[i], &v[i], seen, err);
		if (r < 0) {
			free(v);
			return r;
		}
	}
	*ret = v;
	return 0;
}

static int verify_chunks(uint32_t chunk, uint32_t chunks, struct ck_msg *out, struct ck_error *err)
{
	if (chunks == 0 || chunks > CK_CHUNKS_MAX || chunk >= chunks)
		return BAD(err, "chunk %u of %u", chunk, chunks);
	out->chunk = chunk;
	out->chunks = chunks;
	return 0;
}

static int verify_snapshot(const Cokeeper__Snapshot *untrusted, struct ck_msg *out,
			   struct ck_error *err)
{
	struct seen seen = { 0 };
	int r;

	if (untrusted->epoch == 0)
		return BAD(err, "snapshot without an epoch");
	r = verify_chunks(untrusted->chunk, untrusted->chunks, out, err);
	if (r < 0)
		return r;
	out->fastpath_version = untrusted->fastpath_version;
	out->snapshot.epoch = untrusted->epoch;
	out->snapshot.gen = untrusted->gen;
	r = verify_members(untrusted->members, untrusted->n_members, &out->snapshot.members,
			   &seen, err);
	if (r < 0)
		return r;
	out->snapshot.n_members = untrusted->n_members;
	return 0;
}

static int verify_delta(const Cokeeper__Delta *untrusted, struct ck_msg *out,
			struct ck_error *err)
{
	struct ck_delta *d = &out->delta;
	struct seen seen = { 0 };
	int r;

	if (untrusted->epoch == 0)
		return BAD(err, "delta without an epoch");
	if (untrusted->new_gen < untrusted->base_gen)
		return BAD(err, "delta from gen %" PRIu64 " back to %" PRIu64, untrusted->base_gen,
			   untrusted->new_gen);
	/* Each change takes one generation, so a frame cannot hold more than the span. */
	if (untrusted->n_upserts + untrusted->n_removed > untrusted->new_gen - untrusted->base_gen)
		return BAD(err, "delta of %zu changes spans %" PRIu64 " generations",
			   untrusted->n_upserts + untrusted->n_removed,
			   untrusted->new_gen - untrusted->base_gen);
	if (untrusted->n_removed > CK_FRAME_MAX_REMOVED)
		return BAD(err, "%zu removals in one frame, limit %u", untrusted->n_removed,
			   CK_FRAME_MAX_REMOVED);
	r = verify_chunks(untrusted->chunk, untrusted->chunks, out, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < untrusted->n_removed; i++) {
		r = mark(&seen, untrusted->removed[i], err);
		if (r < 0)
			return r;
	}
	if (untrusted->n_removed) {
		d->removed = calloc(untrusted->n_removed, sizeof(*d->removed));
		if (!d->removed)
			return -ENOMEM;
		for (size_t i = 0; i < untrusted->n_removed; i++)
			d->removed[i] = untrusted->removed[i];
		d->n_removed = untrusted->n_removed;
	}
	r = verify_members(untrusted->upserts, untrusted->n_upserts, &d->upserts, &seen, err);
	if (r < 0)
		return r;
	d->n_upserts = untrusted->n_upserts;
	d->epoch = untrusted->epoch;
	d->base_gen = untrusted->base_gen;
	d->new_gen = untrusted->new_gen;
	out->fastpath_version = untrusted->fastpath_version;
	return 0;
}

static int verify_bye(const Cokeeper__Bye *untrusted, struct ck_bye *bye, struct ck_error *err)
{
	if (untrusted->code <= COKEEPER__BYE_CODE__BYE_CODE_UNSPEC || untrusted->code > CK_BYE_MAX)
		return BAD(err, "bye with unknown code %d", untrusted->code);
	if (untrusted->reason.len > CK_BYE_REASON_MAX ||
	    !ck_printable((const char *)untrusted->reason.data, untrusted->reason.len))
		return BAD(err, "bye reason of %zu bytes is too long or not printable",
			   untrusted->reason.len);
	bye->code = untrusted->code;
	if (untrusted->reason.len)	/* an empty bytes field may have no data pointer */
		memcpy(bye->reason, untrusted->reason.data, untrusted->reason.len);
	return 0;
}

/*
 * The wire's u32 domid and repeated grefs are bounded before they are narrowed or copied;
 * every other rule is ck_msg_fastpath_invalid()'s, shared with the encoder.
 */
static int check_fastpath(struct ck_msg *out, uint32_t peer_domid, struct ck_error *err)
{
	const char *why;

	if (peer_domid >= CK_DOMID_LIMIT)
		return BAD(err, "%s to domid %u", ck_msg_type_name(out->type), peer_domid);
	*ck_msg_fastpath_peer(out) = peer_domid;
	why = ck_msg_fastpath_invalid(out);
	if (why)
		return BAD(err, "%s", why);
	return 0;
}

static int verify_offer(const Cokeeper__FastpathOffer *untrusted, struct ck_msg *out,
			struct ck_error *err)
{
	struct ck_fastpath_offer *o = &out->fastpath_offer;

	if (untrusted->n_grefs > CKFP_GREFS_MAX)
		return BAD(err, "offer of %zu grants, limit %u", untrusted->n_grefs,
			   CKFP_GREFS_MAX);
	o->channel_id = untrusted->channel_id;
	o->ring_version = untrusted->ring_version;
	o->ring_order = untrusted->ring_order;
	o->evtchn_port = untrusted->evtchn_port;
	o->n_grefs = untrusted->n_grefs;
	for (size_t i = 0; i < untrusted->n_grefs; i++)
		o->grefs[i] = untrusted->grefs[i];
	return check_fastpath(out, untrusted->peer_domid, err);
}

static int verify(const Cokeeper__Envelope *untrusted, struct ck_msg *out, struct ck_error *err)
{
	if (!untrusted)
		return BAD(err, "no envelope");
	switch (untrusted->msg_case) {
	case COKEEPER__ENVELOPE__MSG_HELLO:
		if (!untrusted->hello)
			break;
		out->type = CK_MSG_HELLO;
		if (untrusted->hello->domid >= CK_DOMID_LIMIT)
			return BAD(err, "hello from domid %u", untrusted->hello->domid);
		if (untrusted->hello->epoch == 0 && untrusted->hello->gen != 0)
			return BAD(err, "hello with gen %" PRIu64 " but no epoch",
				   untrusted->hello->gen);
		out->hello = (struct ck_hello){
			.domid = untrusted->hello->domid,
			.version = untrusted->hello->protocol_version,
			.epoch = untrusted->hello->epoch,
			.gen = untrusted->hello->gen,
			/* Any value: a later version announces what it speaks, 1 included. */
			.fastpath_version = untrusted->hello->fastpath_version,
		};
		return 0;
	case COKEEPER__ENVELOPE__MSG_SNAPSHOT:
		if (!untrusted->snapshot)
			break;
		out->type = CK_MSG_SNAPSHOT;
		return verify_snapshot(untrusted->snapshot, out, err);
	case COKEEPER__ENVELOPE__MSG_DELTA:
		if (!untrusted->delta)
			break;
		out->type = CK_MSG_DELTA;
		return verify_delta(untrusted->delta, out, err);
	case COKEEPER__ENVELOPE__MSG_ACK:
		if (!untrusted->ack)
			break;
		out->type = CK_MSG_ACK;
		if (untrusted->ack->epoch == 0)
			return BAD(err, "ack without an epoch");
		out->ack = (struct ck_ack){ .epoch = untrusted->ack->epoch,
					    .gen = untrusted->ack->gen };
		return 0;
	case COKEEPER__ENVELOPE__MSG_BYE:
		if (!untrusted->bye)
			break;
		out->type = CK_MSG_BYE;
		return verify_bye(untrusted->bye, &out->bye, err);
	case COKEEPER__ENVELOPE__MSG_FASTPATH_OFFER:
		if (!untrusted->fastpath_offer)
			break;
		out->type = CK_MSG_FASTPATH_OFFER;
		return verify_offer(untrusted->fastpath_offer, out, err);
	case COKEEPER__ENVELOPE__MSG_FASTPATH_ACCEPT:
		if (!untrusted->fastpath_accept)
			break;
		out->type = CK_MSG_FASTPATH_ACCEPT;
		out->fastpath_accept.channel_id = untrusted->fastpath_accept->channel_id;
		return check_fastpath(out, untrusted->fastpath_accept->peer_domid, err);
	case COKEEPER__ENVELOPE__MSG_FASTPATH_CLOSE:
		if (!untrusted->fastpath_close)
			break;
		out->type = CK_MSG_FASTPATH_CLOSE;
		out->fastpath_close.channel_id = untrusted->fastpath_close->channel_id;
		out->fastpath_close.reason = untrusted->fastpath_close->reason;
		return check_fastpath(out, untrusted->fastpath_close->peer_domid, err);
	default:
		return BAD(err, "envelope carries no known message (case %d)", untrusted->msg_case);
	}
	return BAD(err, "envelope case %d without its message", untrusted->msg_case);
}

/* The type an envelope's case would make (to zero no more of *out than it uses). */
static enum ck_msg_type case_type(const Cokeeper__Envelope *untrusted)
{
	switch (untrusted ? untrusted->msg_case : COKEEPER__ENVELOPE__MSG__NOT_SET) {
	case COKEEPER__ENVELOPE__MSG_HELLO:
		return CK_MSG_HELLO;
	case COKEEPER__ENVELOPE__MSG_ACK:
		return CK_MSG_ACK;
	case COKEEPER__ENVELOPE__MSG_BYE:
		return CK_MSG_BYE;
	case COKEEPER__ENVELOPE__MSG_FASTPATH_ACCEPT:
		return CK_MSG_FASTPATH_ACCEPT;
	case COKEEPER__ENVELOPE__MSG_FASTPATH_CLOSE:
		return CK_MSG_FASTPATH_CLOSE;
	default:
		return CK_MSG_UNSPEC;	/* all of it */
	}
}

int ck_verify_envelope(const Cokeeper__Envelope *untrusted, struct ck_msg *out,
		       struct ck_error *err)
{
	int r;

	ck_msg_zero(out, case_type(untrusted));
	r = verify(untrusted, out, err);
	if (r < 0) {
		ck_msg_reset(out);	/* frees what it took */
		memset(out, 0, sizeof(*out));
	}
	return r;
}
