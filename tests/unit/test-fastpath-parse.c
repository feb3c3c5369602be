// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest-agent/fastpath-parse.c: what cokeeper-fp.ko multicasts, as the agent's one gate
 * sees it.  Messages are built byte by byte here, not with libnl, so that each can break
 * exactly one rule: every length check, the order's range, the grants' length, an unknown
 * command, each missing attribute, and netlink lengths that lie.
 */
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <string.h>

#include "fastpath-parse.h"
#include "helpers.h"
#include "linux/cokeeper_fp.h"

/* Aligned as a netlink message is; room for the largest offer. */
struct nlbuf {
	uint32_t words[1024];
	size_t len;
};

static uint8_t *bytes(struct nlbuf *b)
{
	return (uint8_t *)b->words;
}

static void finish(struct nlbuf *b)
{
	((struct nlmsghdr *)b->words)->nlmsg_len = b->len;
}

static void start(struct nlbuf *b, uint8_t cmd)
{
	struct nlmsghdr nlh = { .nlmsg_type = 0x1c };
	struct genlmsghdr gh = { .cmd = cmd, .version = CKFP_GENL_VERSION };

	memset(b, 0, sizeof(*b));
	memcpy(bytes(b), &nlh, sizeof(nlh));
	memcpy(bytes(b) + NLMSG_HDRLEN, &gh, sizeof(gh));
	b->len = NLMSG_HDRLEN + GENL_HDRLEN;
	finish(b);
}

static void put(struct nlbuf *b, uint16_t type, const void *data, size_t n)
{
	struct nlattr nla = { .nla_len = NLA_HDRLEN + n, .nla_type = type };

	ck_assert_uint_le(b->len + NLA_ALIGN(NLA_HDRLEN + n), sizeof(b->words));
	memcpy(bytes(b) + b->len, &nla, sizeof(nla));
	memcpy(bytes(b) + b->len + NLA_HDRLEN, data, n);
	b->len += NLA_ALIGN(NLA_HDRLEN + n);
	finish(b);
}

static void put_u32(struct nlbuf *b, uint16_t type, uint32_t v)
{
	put(b, type, &v, sizeof(v));
}

static void put_u64(struct nlbuf *b, uint16_t type, uint64_t v)
{
	put(b, type, &v, sizeof(v));
}

static void put_grefs(struct nlbuf *b, unsigned int n)
{
	uint32_t grefs[CKFP_GREFS_MAX + 1];

	for (unsigned int i = 0; i < n; i++)
		grefs[i] = 0x1000 + i;
	put(b, CKFP_A_GREFS, grefs, n * sizeof(uint32_t));
}

/* An offer, with each attribute left out when its bit is set in `omit`. */
enum { NO_DOMID = 1, NO_CHANNEL = 2, NO_VERSION = 4, NO_ORDER = 8, NO_EVTCHN = 16,
       NO_GREFS = 32 };

static void offer(struct nlbuf *b, uint32_t order, unsigned int n_grefs, unsigned int omit)
{
	start(b, CKFP_CMD_OFFER);
	if (!(omit & NO_DOMID))
		put_u32(b, CKFP_A_PEER_DOMID, 9);
	if (!(omit & NO_CHANNEL))
		put_u64(b, CKFP_A_CHANNEL_ID, 0xc0ffee);
	if (!(omit & NO_VERSION))
		put_u32(b, CKFP_A_RING_VERSION, CKFP_RING_VERSION);
	if (!(omit & NO_ORDER))
		put_u32(b, CKFP_A_RING_ORDER, order);
	if (!(omit & NO_EVTCHN))
		put_u32(b, CKFP_A_EVTCHN, 41);
	if (!(omit & NO_GREFS))
		put_grefs(b, n_grefs);
}

static const char *parse(struct nlbuf *b, struct ck_msg *out)
{
	return fastpath_parse_event(b->words, b->len, out);
}

static void refused(struct nlbuf *b, const char *why)
{
	struct ck_msg out;
	const char *got = parse(b, &out);

	ck_assert_msg(got != NULL, "accepted; wanted \"%s\"", why);
	ck_assert_str_eq(got, why);
}

START_TEST(valid_messages_parse)
{
	struct nlbuf b;
	struct ck_msg m;

	offer(&b, CKFP_RING_ORDER_MAX, CKFP_GREFS_MAX, 0);
	ck_assert_ptr_null(parse(&b, &m));
	ck_assert_int_eq(m.type, CK_MSG_FASTPATH_OFFER);
	ck_assert_uint_eq(m.fastpath_offer.peer_domid, 9);
	ck_assert_uint_eq(m.fastpath_offer.channel_id, 0xc0ffee);
	ck_assert_uint_eq(m.fastpath_offer.ring_order, CKFP_RING_ORDER_MAX);
	ck_assert_uint_eq(m.fastpath_offer.evtchn_port, 41);
	ck_assert_uint_eq(m.fastpath_offer.n_grefs, CKFP_GREFS_MAX);
	ck_assert_uint_eq(m.fastpath_offer.grefs[CKFP_GREFS_MAX - 1], 0x1000 + CKFP_GREFS_MAX - 1);

	start(&b, CKFP_CMD_ACCEPT);
	put_u32(&b, CKFP_A_PEER_DOMID, CK_DOMID_LIMIT - 1);
	put_u64(&b, CKFP_A_CHANNEL_ID, 3);
	ck_assert_ptr_null(parse(&b, &m));
	ck_assert_int_eq(m.type, CK_MSG_FASTPATH_ACCEPT);
	ck_assert_uint_eq(m.fastpath_accept.peer_domid, CK_DOMID_LIMIT - 1);
	ck_assert_uint_eq(m.fastpath_accept.channel_id, 3);

	/* A Close needs neither a channel (0: whatever exists) nor a reason. */
	start(&b, CKFP_CMD_CLOSE);
	put_u32(&b, CKFP_A_PEER_DOMID, 4);
	ck_assert_ptr_null(parse(&b, &m));
	ck_assert_int_eq(m.type, CK_MSG_FASTPATH_CLOSE);
	ck_assert_uint_eq(m.fastpath_close.channel_id, 0);
	ck_assert_uint_eq(m.fastpath_close.reason, CKFP_CLOSE_UNSPEC);
	put_u32(&b, CKFP_A_REASON, CKFP_CLOSE_MAX);
	ck_assert_ptr_null(parse(&b, &m));
	ck_assert_uint_eq(m.fastpath_close.reason, CKFP_CLOSE_MAX);

	/* Attributes it does not know are skipped, as the kernel's own parser would. */
	put_u32(&b, CKFP_A_MAX + 5, 1);
	ck_assert_ptr_null(parse(&b, &m));
}
END_TEST

/* Netlink's own lengths: the buffer, the header's claim, the genl header. */
START_TEST(netlink_lengths_that_lie)
{
	struct ck_msg m;
	struct nlbuf b;

	start(&b, CKFP_CMD_CLOSE);
	put_u32(&b, CKFP_A_PEER_DOMID, 4);
	ck_assert_ptr_null(parse(&b, &m));
	ck_assert_str_eq(fastpath_parse_event(b.words, 0, &m), "truncated message");
	ck_assert_str_eq(fastpath_parse_event(b.words, NLMSG_HDRLEN - 1, &m),
			 "truncated message");
	/* The header claims more than arrived. */
	ck_assert_str_eq(fastpath_parse_event(b.words, b.len - 1, &m), "truncated message");
	((struct nlmsghdr *)b.words)->nlmsg_len = UINT32_MAX;
	refused(&b, "truncated message");
	((struct nlmsghdr *)b.words)->nlmsg_len = NLMSG_HDRLEN - 1;
	refused(&b, "truncated message");
	/* No room for the genl header. */
	((struct nlmsghdr *)b.words)->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN - 1;
	refused(&b, "malformed message");
	/* The header claims less: the attribute is cut off, so it is missing. */
	((struct nlmsghdr *)b.words)->nlmsg_len = b.len - 1;
	refused(&b, "no peer domid, or one out of range");
	/* An attribute that claims more than the message holds is not read either. */
	finish(&b);
	((struct nlattr *)(bytes(&b) + NLMSG_HDRLEN + GENL_HDRLEN))->nla_len = 64;
	refused(&b, "no peer domid, or one out of range");
}
END_TEST

static void u32_sized(struct nlbuf *b, uint16_t type, size_t n)
{
	const uint8_t zeros[16] = { 0 };

	start(b, CKFP_CMD_OFFER);
	put_u32(b, CKFP_A_PEER_DOMID, 9);
	put_u64(b, CKFP_A_CHANNEL_ID, 1);
	put_grefs(b, CKFP_GREFS(CKFP_RING_ORDER_MIN));
	for (uint16_t t = CKFP_A_RING_VERSION; t <= CKFP_A_EVTCHN; t++) {
		uint32_t v = t == CKFP_A_RING_VERSION ? CKFP_RING_VERSION :
			     t == CKFP_A_RING_ORDER   ? CKFP_RING_ORDER_MIN : 5;

		if (t == type)
			put(b, t, zeros, n);
		else
			put_u32(b, t, v);
	}
}

/* Each fixed-size attribute must have exactly its size: shorter and longer are refused. */
START_TEST(each_length_check)
{
	const char *missing = "offer without its ring version, order, event channel or grants";
	const uint8_t zeros[16] = { 0 };
	struct nlbuf b;

	for (size_t n = 0; n <= 8; n += 2) {
		if (n == 4)
			continue;
		start(&b, CKFP_CMD_CLOSE);
		put(&b, CKFP_A_PEER_DOMID, zeros, n);
		refused(&b, "no peer domid, or one out of range");

		start(&b, CKFP_CMD_CLOSE);
		put_u32(&b, CKFP_A_PEER_DOMID, 4);
		put(&b, CKFP_A_REASON, zeros, n);
		refused(&b, "reason of the wrong size");

		u32_sized(&b, CKFP_A_RING_VERSION, n);
		refused(&b, missing);
		u32_sized(&b, CKFP_A_RING_ORDER, n);
		refused(&b, missing);
		u32_sized(&b, CKFP_A_EVTCHN, n);
		refused(&b, missing);
	}
	for (size_t n = 0; n <= 16; n += 4) {
		if (n == 8)
			continue;
		start(&b, CKFP_CMD_ACCEPT);
		put_u32(&b, CKFP_A_PEER_DOMID, 4);
		put(&b, CKFP_A_CHANNEL_ID, zeros, n);
		refused(&b, "channel id of the wrong size");
	}
	/* The sizes it wants, for contrast. */
	u32_sized(&b, CKFP_A_EVTCHN, 4);
	ck_assert_ptr_null(parse(&b, &(struct ck_msg){ 0 }));
}
END_TEST

START_TEST(domid_out_of_range)
{
	struct nlbuf b;

	start(&b, CKFP_CMD_CLOSE);
	put_u32(&b, CKFP_A_PEER_DOMID, CK_DOMID_LIMIT);
	refused(&b, "no peer domid, or one out of range");
	start(&b, CKFP_CMD_CLOSE);
	put_u32(&b, CKFP_A_PEER_DOMID, UINT32_MAX);
	refused(&b, "no peer domid, or one out of range");
}
END_TEST

/* Checked before CKFP_GREFS() of it sizes anything: a wild order would shift past 32 bits. */
START_TEST(order_out_of_range)
{
	const uint32_t bad[] = { 0, CKFP_RING_ORDER_MIN - 1, CKFP_RING_ORDER_MAX + 1, 31, 32,
				 UINT32_MAX };
	struct nlbuf b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		offer(&b, bad[i], CKFP_GREFS(CKFP_RING_ORDER_MIN), 0);
		refused(&b, "offer of a ring order out of range");
	}
}
END_TEST

START_TEST(grefs_length_mismatch)
{
	const char *why = "offer whose grants do not match its ring order";
	static const uint8_t zeros[CKFP_GREFS_MAX * 4];
	struct nlbuf b;

	offer(&b, CKFP_RING_ORDER_MIN, CKFP_GREFS(CKFP_RING_ORDER_MIN) - 1, 0);
	refused(&b, why);
	offer(&b, CKFP_RING_ORDER_MIN, CKFP_GREFS(CKFP_RING_ORDER_MIN) + 1, 0);
	refused(&b, why);
	offer(&b, CKFP_RING_ORDER_MIN + 1, CKFP_GREFS(CKFP_RING_ORDER_MIN), 0);
	refused(&b, why);
	offer(&b, CKFP_RING_ORDER_MIN, 0, 0);
	refused(&b, why);
	/* Not a whole number of grants. */
	offer(&b, CKFP_RING_ORDER_MIN, CKFP_GREFS(CKFP_RING_ORDER_MIN), NO_GREFS);
	put(&b, CKFP_A_GREFS, zeros, CKFP_GREFS(CKFP_RING_ORDER_MIN) * 4 + 2);
	refused(&b, why);
}
END_TEST

START_TEST(unknown_command)
{
	const uint8_t cmds[] = { CKFP_CMD_UNSPEC, CKFP_CMD_GET, CKFP_CMD_MAX + 1, 0xff };
	struct nlbuf b;

	for (size_t i = 0; i < sizeof(cmds); i++) {
		start(&b, cmds[i]);
		put_u32(&b, CKFP_A_PEER_DOMID, 4);
		put_u64(&b, CKFP_A_CHANNEL_ID, 3);
		refused(&b, "unknown command");
	}
}
END_TEST

START_TEST(missing_attributes)
{
	const char *offer_parts = "offer without its ring version, order, event channel or grants";
	const unsigned int parts[] = { NO_VERSION, NO_ORDER, NO_EVTCHN, NO_GREFS };
	struct nlbuf b;

	offer(&b, CKFP_RING_ORDER_MIN, CKFP_GREFS(CKFP_RING_ORDER_MIN), NO_DOMID);
	refused(&b, "no peer domid, or one out of range");
	offer(&b, CKFP_RING_ORDER_MIN, CKFP_GREFS(CKFP_RING_ORDER_MIN), NO_CHANNEL);
	refused(&b, "no channel id");
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		offer(&b, CKFP_RING_ORDER_MIN, CKFP_GREFS(CKFP_RING_ORDER_MIN), parts[i]);
		refused(&b, offer_parts);
	}
	start(&b, CKFP_CMD_ACCEPT);
	put_u32(&b, CKFP_A_PEER_DOMID, 4);
	refused(&b, "no channel id");
	start(&b, CKFP_CMD_ACCEPT);
	put_u64(&b, CKFP_A_CHANNEL_ID, 3);
	refused(&b, "no peer domid, or one out of range");
	start(&b, CKFP_CMD_CLOSE);
	refused(&b, "no peer domid, or one out of range");
}
END_TEST

/* What parses is then held to the protocol's rules (ck_msg_fastpath_invalid). */
START_TEST(protocol_rules_after_parsing)
{
	struct nlbuf b;

	start(&b, CKFP_CMD_ACCEPT);
	put_u32(&b, CKFP_A_PEER_DOMID, 4);
	put_u64(&b, CKFP_A_CHANNEL_ID, 0);
	refused(&b, "accept without a channel id");
	start(&b, CKFP_CMD_CLOSE);
	put_u32(&b, CKFP_A_PEER_DOMID, 4);
	put_u32(&b, CKFP_A_REASON, CKFP_CLOSE_MAX + 1);
	refused(&b, "close with an unknown reason");
	start(&b, CKFP_CMD_OFFER);
	put_u32(&b, CKFP_A_PEER_DOMID, 9);
	put_u64(&b, CKFP_A_CHANNEL_ID, 1);
	put_u32(&b, CKFP_A_RING_VERSION, CKFP_RING_VERSION + 1);
	put_u32(&b, CKFP_A_RING_ORDER, CKFP_RING_ORDER_MIN);
	put_u32(&b, CKFP_A_EVTCHN, 1);
	put_grefs(&b, CKFP_GREFS(CKFP_RING_ORDER_MIN));
	refused(&b, "offer of an unknown ring version");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fastpath-parse");

	th_add(s, valid_messages_parse);
	th_add(s, netlink_lengths_that_lie);
	th_add(s, each_length_check);
	th_add(s, domid_out_of_range);
	th_add(s, order_out_of_range);
	th_add(s, grefs_length_mismatch);
	th_add(s, unknown_command);
	th_add(s, missing_attributes);
	th_add(s, protocol_rules_after_parsing);
	return th_run(s);
}
