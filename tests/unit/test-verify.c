// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Every rule of ck_verify_envelope(), exercised through the real decoder with envelopes built
 * directly in protobuf-c (our own encoder refuses to produce most of these).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cokeeper.pb-c.h"
#include "codec.h"
#include "helpers.h"

struct pb_member {
	Cokeeper__Member m;
	Cokeeper__Nic nic;
	Cokeeper__Nic *nics[CK_NICS_MAX + 1];
	uint8_t uuid[CK_UUID_LEN + 1];
	uint8_t mac[CK_MAC_LEN + 1];
	uint32_t ipv4[CK_ADDRS_MAX + 1];
	uint8_t ipv6_bytes[CK_IPV6_LEN + 1];
	ProtobufCBinaryData ipv6[CK_ADDRS_MAX + 1];
};

/* A valid member with one NIC, one IPv4 and one IPv6 address. */
static void pb_member_init(struct pb_member *p, uint32_t domid)
{
	memset(p, 0, sizeof(*p));
	cokeeper__member__init(&p->m);
	cokeeper__nic__init(&p->nic);
	p->mac[1] = 0x16;
	p->mac[5] = 1;
	p->ipv4[0] = 0x0a000001;
	p->ipv6_bytes[0] = 0xfd;
	for (int i = 0; i <= CK_ADDRS_MAX; i++)
		p->ipv6[i] = (ProtobufCBinaryData){ CK_IPV6_LEN, p->ipv6_bytes };
	for (int i = 0; i <= CK_NICS_MAX; i++)
		p->nics[i] = &p->nic;
	p->nic.mac = (ProtobufCBinaryData){ CK_MAC_LEN, p->mac };
	p->nic.n_ipv4 = 1;
	p->nic.ipv4 = p->ipv4;
	p->nic.n_ipv6 = 1;
	p->nic.ipv6 = p->ipv6;
	p->m.domid = domid;
	p->m.uuid = (ProtobufCBinaryData){ CK_UUID_LEN, p->uuid };
	p->m.name = (ProtobufCBinaryData){ 3, (uint8_t *)"web" };
	p->m.n_nics = 1;
	p->m.nics = p->nics;
	p->m.state = COKEEPER__MEMBER_STATE__MEMBER_STATE_RUNNING;
}

/* Packs env, decodes it, and returns the result; err.msg gets the reason. */
static int decode(const Cokeeper__Envelope *env, struct ck_error *err, struct ck_msg *out)
{
	size_t len = cokeeper__envelope__get_packed_size(env);
	uint8_t *buf = malloc(len ? len : 1);
	int r;

	cokeeper__envelope__pack(env, buf);
	r = ck_codec_decode(buf, len, out, err);
	free(buf);
	return r;
}

/* Decodes a snapshot holding the given members and expects a refusal naming `why`. */
static void expect_snapshot_refused(Cokeeper__Member **members, size_t n, const char *why)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Snapshot snap = COKEEPER__SNAPSHOT__INIT;
	struct ck_error err = { 0 };
	struct ck_msg out;

	snap.epoch = 1;
	snap.chunks = 1;
	snap.n_members = n;
	snap.members = members;
	env.msg_case = COKEEPER__ENVELOPE__MSG_SNAPSHOT;
	env.snapshot = &snap;
	ck_assert_int_eq(decode(&env, &err, &out), -EBADMSG);
	ck_assert_msg(strstr(err.msg, why), "reason '%s' lacks '%s'", err.msg, why);
	/* Refused input leaves nothing behind. */
	ck_assert_int_eq(out.type, CK_MSG_UNSPEC);
	ck_assert_ptr_null(out.snapshot.members);
}

static void expect_member_refused(struct pb_member *p, const char *why)
{
	Cokeeper__Member *one = &p->m;

	expect_snapshot_refused(&one, 1, why);
}

START_TEST(valid_member_accepted)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Snapshot snap = COKEEPER__SNAPSHOT__INIT;
	struct pb_member p;
	Cokeeper__Member *one = &p.m;
	struct ck_msg out;

	pb_member_init(&p, 42);
	snap.epoch = 1;
	snap.chunks = 1;
	snap.n_members = 1;
	snap.members = &one;
	env.msg_case = COKEEPER__ENVELOPE__MSG_SNAPSHOT;
	env.snapshot = &snap;
	ck_assert_int_eq(decode(&env, NULL, &out), 0);
	ck_assert_int_eq(out.type, CK_MSG_SNAPSHOT);
	ck_assert_uint_eq(out.snapshot.n_members, 1);
	ck_assert_uint_eq(out.snapshot.members[0].domid, 42);
	ck_assert_str_eq(out.snapshot.members[0].name, "web");
	ck_assert_uint_eq(out.snapshot.members[0].nics[0].ipv4[0], 0x0a000001);
	ck_assert_uint_eq(out.snapshot.members[0].nics[0].ipv6[0][0], 0xfd);
	ck_msg_reset(&out);
}
END_TEST

START_TEST(domid_out_of_range)
{
	struct pb_member p;

	pb_member_init(&p, CK_DOMID_LIMIT);
	expect_member_refused(&p, "out of range");
	pb_member_init(&p, UINT32_MAX);
	expect_member_refused(&p, "out of range");
}
END_TEST

START_TEST(uuid_wrong_size)
{
	struct pb_member p;

	pb_member_init(&p, 1);
	p.m.uuid.len = CK_UUID_LEN - 1;
	expect_member_refused(&p, "uuid of 15 bytes");
	p.m.uuid.len = CK_UUID_LEN + 1;
	expect_member_refused(&p, "uuid of 17 bytes");
}
END_TEST

START_TEST(name_rules_enforced)
{
	char longname[CK_NAME_MAX + 1];
	struct pb_member p;

	memset(longname, 'a', sizeof(longname));
	pb_member_init(&p, 1);
	p.m.name = (ProtobufCBinaryData){ 0, NULL };
	expect_member_refused(&p, "name of 0 bytes");
	p.m.name = (ProtobufCBinaryData){ CK_NAME_MAX + 1, (uint8_t *)longname };
	expect_member_refused(&p, "name of 65 bytes");
	p.m.name = (ProtobufCBinaryData){ 4, (uint8_t *)"a\0bc" };
	expect_member_refused(&p, "not printable");
	p.m.name = (ProtobufCBinaryData){ 3, (uint8_t *)"\x1b[m" };
	expect_member_refused(&p, "not printable");
}
END_TEST

START_TEST(state_must_be_known)
{
	struct pb_member p;

	pb_member_init(&p, 1);
	p.m.state = COKEEPER__MEMBER_STATE__MEMBER_STATE_UNSPEC;
	expect_member_refused(&p, "unknown state 0");
	p.m.state = 3;
	expect_member_refused(&p, "unknown state 3");
}
END_TEST

START_TEST(nic_counts_bounded)
{
	struct pb_member p;

	pb_member_init(&p, 1);
	p.m.n_nics = CK_NICS_MAX + 1;
	expect_member_refused(&p, "9 nics");
	pb_member_init(&p, 1);
	p.nic.n_ipv4 = CK_ADDRS_MAX + 1;
	expect_member_refused(&p, "9 ipv4");
	pb_member_init(&p, 1);
	p.nic.n_ipv6 = CK_ADDRS_MAX + 1;
	expect_member_refused(&p, "9 ipv6");
}
END_TEST

START_TEST(address_sizes_checked)
{
	struct pb_member p;

	pb_member_init(&p, 1);
	p.nic.mac.len = 5;
	expect_member_refused(&p, "mac of 5 bytes");
	pb_member_init(&p, 1);
	p.ipv6[0].len = 4;
	expect_member_refused(&p, "ipv6 address of 4 bytes");
	pb_member_init(&p, 1);
	p.mac[0] = 0x01;	/* multicast */
	expect_member_refused(&p, "invalid mac");
	pb_member_init(&p, 1);
	p.ipv4[0] = 0;
	expect_member_refused(&p, "zero ipv4");
}
END_TEST

/* One source per address (the ipv4s' then the ipv6s'), each known; none: the toolstack's. */
START_TEST(address_sources_checked)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Snapshot snap = COKEEPER__SNAPSHOT__INIT;
	uint8_t sources[3] = { CK_ADDR_LEARNED, CK_ADDR_ORCHESTRATOR, CK_ADDR_SOURCE_MAX + 1 };
	struct pb_member p;
	Cokeeper__Member *one = &p.m;
	struct ck_msg out;

	pb_member_init(&p, 1);
	p.nic.sources = (ProtobufCBinaryData){ 1, sources };
	expect_member_refused(&p, "1 address sources for 2 addresses");
	p.nic.sources = (ProtobufCBinaryData){ 3, sources };
	expect_member_refused(&p, "3 address sources for 2 addresses");
	sources[0] = CK_ADDR_SOURCE_MAX + 1;
	p.nic.sources = (ProtobufCBinaryData){ 2, sources };
	expect_member_refused(&p, "address source 4 unknown");

	sources[0] = CK_ADDR_LEARNED;
	snap.epoch = 1;
	snap.chunks = 1;
	snap.n_members = 1;
	snap.members = &one;
	env.msg_case = COKEEPER__ENVELOPE__MSG_SNAPSHOT;
	env.snapshot = &snap;
	ck_assert_int_eq(decode(&env, NULL, &out), 0);
	ck_assert_uint_eq(out.snapshot.members[0].nics[0].ipv4_source[0], CK_ADDR_LEARNED);
	ck_assert_uint_eq(out.snapshot.members[0].nics[0].ipv6_source[0], CK_ADDR_ORCHESTRATOR);
	ck_msg_reset(&out);

	p.nic.sources = (ProtobufCBinaryData){ 0, NULL };
	ck_assert_int_eq(decode(&env, NULL, &out), 0);
	ck_assert_uint_eq(out.snapshot.members[0].nics[0].ipv4_source[0], CK_ADDR_TOOLSTACK);
	ck_assert_uint_eq(out.snapshot.members[0].nics[0].ipv6_source[0], CK_ADDR_TOOLSTACK);
	ck_msg_reset(&out);
}
END_TEST

START_TEST(duplicate_domid_in_snapshot)
{
	struct pb_member a, b;
	Cokeeper__Member *two[2] = { &a.m, &b.m };

	pb_member_init(&a, 7);
	pb_member_init(&b, 7);
	expect_snapshot_refused(two, 2, "domid 7 appears twice");
}
END_TEST

START_TEST(too_many_members_in_frame)
{
	static struct pb_member p;
	Cokeeper__Member *many[CK_FRAME_MAX_MEMBERS + 1];

	pb_member_init(&p, 1);
	for (int i = 0; i <= CK_FRAME_MAX_MEMBERS; i++)
		many[i] = &p.m;
	expect_snapshot_refused(many, CK_FRAME_MAX_MEMBERS + 1, "65 members");
}
END_TEST

static int decode_delta(Cokeeper__Delta *delta, struct ck_error *err)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	struct ck_msg out;
	int r;

	env.msg_case = COKEEPER__ENVELOPE__MSG_DELTA;
	env.delta = delta;
	r = decode(&env, err, &out);
	ck_msg_reset(&out);
	return r;
}

START_TEST(delta_rules)
{
	Cokeeper__Delta delta = COKEEPER__DELTA__INIT;
	uint32_t removed[2] = { 3, 4 };
	struct pb_member p;
	Cokeeper__Member *one = &p.m;
	struct ck_error err = { 0 };

	pb_member_init(&p, 3);
	delta.epoch = 1;
	delta.base_gen = 10;
	delta.new_gen = 13;
	delta.chunks = 1;
	delta.n_removed = 1;
	delta.removed = &removed[1];
	delta.n_upserts = 1;
	delta.upserts = &one;
	ck_assert_int_eq(decode_delta(&delta, &err), 0);

	delta.n_removed = 2;	/* domid 3 both removed and upserted */
	delta.removed = removed;
	ck_assert_int_eq(decode_delta(&delta, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "domid 3 appears twice"));

	delta.n_removed = 1;
	delta.removed = &removed[1];
	delta.new_gen = 11;	/* two changes cannot fit one generation */
	ck_assert_int_eq(decode_delta(&delta, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "spans 1 generations"));

	delta.new_gen = 9;
	ck_assert_int_eq(decode_delta(&delta, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "back to"));

	delta.new_gen = 13;
	delta.epoch = 0;
	ck_assert_int_eq(decode_delta(&delta, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "without an epoch"));

	delta.epoch = 1;
	removed[1] = CK_DOMID_LIMIT;
	ck_assert_int_eq(decode_delta(&delta, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
}
END_TEST

START_TEST(chunk_numbering)
{
	Cokeeper__Delta delta = COKEEPER__DELTA__INIT;
	struct ck_error err = { 0 };

	delta.epoch = 1;
	delta.chunks = 0;
	ck_assert_int_eq(decode_delta(&delta, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "chunk 0 of 0"));
	delta.chunks = 2;
	delta.chunk = 2;
	ck_assert_int_eq(decode_delta(&delta, &err), -EBADMSG);
	delta.chunks = CK_CHUNKS_MAX + 1;
	delta.chunk = 0;
	ck_assert_int_eq(decode_delta(&delta, &err), -EBADMSG);
	delta.chunks = CK_CHUNKS_MAX;
	delta.chunk = CK_CHUNKS_MAX - 1;
	ck_assert_int_eq(decode_delta(&delta, &err), 0);
}
END_TEST

START_TEST(small_messages_checked)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__Hello hello = COKEEPER__HELLO__INIT;
	Cokeeper__Ack ack = COKEEPER__ACK__INIT;
	Cokeeper__Bye bye = COKEEPER__BYE__INIT;
	struct ck_error err = { 0 };
	struct ck_msg out;

	ck_assert_int_eq(decode(&env, &err, &out), -EBADMSG);	/* empty envelope */
	ck_assert_ptr_nonnull(strstr(err.msg, "no known message"));

	env.msg_case = COKEEPER__ENVELOPE__MSG_HELLO;
	env.hello = &hello;
	hello.domid = CK_DOMID_LIMIT;
	ck_assert_int_eq(decode(&env, &err, &out), -EBADMSG);
	hello.domid = 1;
	hello.gen = 5;	/* a generation without an epoch is meaningless */
	ck_assert_int_eq(decode(&env, &err, &out), -EBADMSG);
	hello.epoch = 2;
	ck_assert_int_eq(decode(&env, &err, &out), 0);
	ck_assert_uint_eq(out.hello.gen, 5);

	env.msg_case = COKEEPER__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	ck_assert_int_eq(decode(&env, &err, &out), -EBADMSG);

	env.msg_case = COKEEPER__ENVELOPE__MSG_BYE;
	env.bye = &bye;
	bye.code = 99;
	ck_assert_int_eq(decode(&env, &err, &out), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown code 99"));
	bye.code = COKEEPER__BYE_CODE__BYE_CODE_PROTOCOL_ERROR;
	bye.reason = (ProtobufCBinaryData){ 5, (uint8_t *)"bad\nx" };
	ck_assert_int_eq(decode(&env, &err, &out), -EBADMSG);
	bye.reason = (ProtobufCBinaryData){ 5, (uint8_t *)"bad x" };
	ck_assert_int_eq(decode(&env, &err, &out), 0);
	ck_assert_str_eq(out.bye.reason, "bad x");
}
END_TEST

/* An offer that keeps every rule: order 6, its 129 grants. */
static void pb_offer_init(Cokeeper__FastpathOffer *o, uint32_t *grefs)
{
	cokeeper__fastpath_offer__init(o);
	o->peer_domid = 9;
	o->channel_id = 0x55;
	o->ring_version = CKFP_RING_VERSION;
	o->ring_order = CKFP_RING_ORDER_MIN;
	o->evtchn_port = 12;
	o->n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN);
	o->grefs = grefs;
	for (unsigned int i = 0; i <= CKFP_GREFS_MAX; i++)
		grefs[i] = 1000 + i;
}

static void expect_refused(const Cokeeper__Envelope *env, const char *why)
{
	struct ck_error err = { 0 };
	struct ck_msg out;

	ck_assert_int_eq(decode(env, &err, &out), -EBADMSG);
	ck_assert_msg(strstr(err.msg, why), "refused for \"%s\", expected \"%s\"", err.msg, why);
	ck_assert_int_eq(out.type, CK_MSG_UNSPEC);
}

START_TEST(fastpath_offer_rules)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__FastpathOffer o;
	uint32_t grefs[CKFP_GREFS_MAX + 1];
	struct ck_error err = { 0 };
	struct ck_msg out;

	pb_offer_init(&o, grefs);
	env.msg_case = COKEEPER__ENVELOPE__MSG_FASTPATH_OFFER;
	env.fastpath_offer = &o;
	ck_assert_int_eq(decode(&env, &err, &out), 0);
	ck_assert_int_eq(out.type, CK_MSG_FASTPATH_OFFER);
	ck_assert_uint_eq(out.fastpath_offer.peer_domid, 9);
	ck_assert_uint_eq(out.fastpath_offer.channel_id, 0x55);
	ck_assert_uint_eq(out.fastpath_offer.evtchn_port, 12);
	ck_assert_uint_eq(out.fastpath_offer.n_grefs, 129);
	ck_assert_uint_eq(out.fastpath_offer.grefs[128], 1128);

	o.peer_domid = CK_DOMID_LIMIT;
	expect_refused(&env, "to domid 32752");
	o.peer_domid = 0x10009;	/* would be 9 once narrowed to 16 bits */
	expect_refused(&env, "to domid");
	pb_offer_init(&o, grefs);
	o.channel_id = 0;
	expect_refused(&env, "without a channel id");
	pb_offer_init(&o, grefs);
	o.ring_version = CKFP_RING_VERSION + 1;
	expect_refused(&env, "ring version");
	pb_offer_init(&o, grefs);
	o.ring_order = CKFP_RING_ORDER_MIN - 1;
	expect_refused(&env, "ring order");
	o.ring_order = CKFP_RING_ORDER_MAX + 1;
	expect_refused(&env, "ring order");
	o.ring_order = 40;	/* CKFP_GREFS(40) would shift past the word */
	expect_refused(&env, "ring order");
	pb_offer_init(&o, grefs);
	o.n_grefs--;
	expect_refused(&env, "grant count");
	o.n_grefs += 2;
	expect_refused(&env, "grant count");
	o.n_grefs = CKFP_GREFS_MAX + 1;
	expect_refused(&env, "grants, limit");
	/* The largest ring, exactly its grants. */
	o.ring_order = CKFP_RING_ORDER_MAX;
	o.n_grefs = CKFP_GREFS_MAX;
	ck_assert_int_eq(decode(&env, &err, &out), 0);
	ck_assert_uint_eq(out.fastpath_offer.grefs[CKFP_GREFS_MAX - 1], 1000 + CKFP_GREFS_MAX - 1);
}
END_TEST

START_TEST(fastpath_accept_and_close_rules)
{
	Cokeeper__Envelope env = COKEEPER__ENVELOPE__INIT;
	Cokeeper__FastpathAccept a = COKEEPER__FASTPATH_ACCEPT__INIT;
	Cokeeper__FastpathClose c = COKEEPER__FASTPATH_CLOSE__INIT;
	struct ck_error err = { 0 };
	struct ck_msg out;

	env.msg_case = COKEEPER__ENVELOPE__MSG_FASTPATH_ACCEPT;
	env.fastpath_accept = &a;
	a.peer_domid = 4;
	expect_refused(&env, "accept without a channel id");
	a.channel_id = 8;
	ck_assert_int_eq(decode(&env, &err, &out), 0);
	ck_assert_int_eq(out.type, CK_MSG_FASTPATH_ACCEPT);
	ck_assert_uint_eq(out.fastpath_accept.peer_domid, 4);
	ck_assert_uint_eq(out.fastpath_accept.channel_id, 8);
	a.peer_domid = CK_DOMID_LIMIT;
	expect_refused(&env, "to domid");

	env.msg_case = COKEEPER__ENVELOPE__MSG_FASTPATH_CLOSE;
	env.fastpath_close = &c;
	c.peer_domid = 4;
	c.reason = CKFP_CLOSE_MAX + 1;
	expect_refused(&env, "unknown reason");
	c.reason = CKFP_CLOSE_MAX;
	ck_assert_int_eq(decode(&env, &err, &out), 0);	/* channel 0: whatever exists */
	ck_assert_int_eq(out.type, CK_MSG_FASTPATH_CLOSE);
	ck_assert_uint_eq(out.fastpath_close.reason, CKFP_CLOSE_MAX);
	c.peer_domid = UINT32_MAX;
	expect_refused(&env, "to domid");
}
END_TEST

/* The encoder keeps the same rules: what it sends, the peer's verify accepts. */
START_TEST(fastpath_encoder_refuses_what_verify_would)
{
	struct ck_msg msg = { .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = 3, .channel_id = 1,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(ck_codec_encode(&msg, 0, &buf, &len), 0);
	free(buf);
	msg.fastpath_offer.n_grefs++;
	ck_assert_int_eq(ck_codec_encode(&msg, 0, &buf, &len), -EINVAL);
	msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_ACCEPT,
			       .fastpath_accept = { .peer_domid = 3 } };
	ck_assert_int_eq(ck_codec_encode(&msg, 0, &buf, &len), -EINVAL);
	msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_CLOSE,
			       .fastpath_close = { .peer_domid = CK_DOMID_LIMIT } };
	ck_assert_int_eq(ck_codec_encode(&msg, 0, &buf, &len), -EINVAL);
}
END_TEST

START_TEST(not_protobuf_at_all)
{
	const uint8_t junk[] = { 0x0a, 0xff, 0x01 };	/* a length past the end */
	struct ck_error err = { 0 };
	struct ck_msg out;

	ck_assert_int_eq(ck_codec_decode(junk, sizeof(junk), &out, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a protobuf envelope"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verify");

	th_add(s, valid_member_accepted);
	th_add(s, domid_out_of_range);
	th_add(s, uuid_wrong_size);
	th_add(s, name_rules_enforced);
	th_add(s, state_must_be_known);
	th_add(s, nic_counts_bounded);
	th_add(s, address_sizes_checked);
	th_add(s, address_sources_checked);
	th_add(s, duplicate_domid_in_snapshot);
	th_add(s, too_many_members_in_frame);
	th_add(s, delta_rules);
	th_add(s, chunk_numbering);
	th_add(s, small_messages_checked);
	th_add(s, fastpath_offer_rules);
	th_add(s, fastpath_accept_and_close_rules);
	th_add(s, fastpath_encoder_refuses_what_verify_would);
	th_add(s, not_protobuf_at_all);
	return th_run(s);
}
