// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperd/learn/learn-parse.c: frames on a vif, as the one gate sees them.  Frames are
 * built byte by byte (learn-frames.h), each valid but for the one rule it breaks, and the
 * reason the parser gives is compared exactly: a check that is taken out makes its test see
 * another reason or an acceptance.  Each frame is parsed from a heap copy of exactly its
 * length, so that under ASan a read past its end is a finding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "learn-frames.h"
#include "learn-parse.h"

#define TO LEARN_DIR_TO_GUEST
#define FROM LEARN_DIR_FROM_GUEST
#define PARTIAL LEARN_F_CSUM_PARTIAL

static int parse(const struct lf *f, enum learn_dir dir, unsigned int flags,
		 struct learn_event *ev, const char **why)
{
	uint8_t *copy = malloc(f->len ? f->len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, f->b, f->len);
	r = learn_parse(copy, f->len, dir, flags, ev, why);
	free(copy);
	return r;
}

/* Refused with exactly err and why, *out left zeroed. */
static void refused_flags(const struct lf *f, enum learn_dir dir, unsigned int flags, int err,
			  const char *why)
{
	static const struct learn_event zero;
	struct learn_event ev;
	const char *got;
	int r;

	memset(&ev, 0xa5, sizeof(ev));
	r = parse(f, dir, flags, &ev, &got);
	ck_assert_msg(r == err, "got %d (%s), wanted %d (%s)", r, r ? got : "accepted", err, why);
	ck_assert_str_eq(got, why);
	ck_assert(memcmp(&ev, &zero, sizeof(ev)) == 0);
}

static void refused(const struct lf *f, enum learn_dir dir, int err, const char *why)
{
	refused_flags(f, dir, 0, err, why);
}

static struct learn_event accepted_flags(const struct lf *f, enum learn_dir dir,
					 unsigned int flags, uint8_t kind)
{
	struct learn_event ev;
	const char *why = "unset";
	int r;

	r = parse(f, dir, flags, &ev, &why);
	ck_assert_msg(r == 0, "refused (%d): %s", r, why);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(ev.kind, kind);
	return ev;
}

static struct learn_event accepted(const struct lf *f, enum learn_dir dir, uint8_t kind)
{
	return accepted_flags(f, dir, 0, kind);
}

static void set_yiaddr(struct lf *f, uint32_t a)
{
	lf_set32(f, f->bootp + 16, a);
	lf_checksums(f);
}

/* A DHCP message's start without its option 53 (lf_dhcp_begin writes it last). */
static void begin_untyped(struct lf *f, uint8_t msg)
{
	lf_dhcp_begin(f, msg, 0);
	f->len -= 3;
}

START_TEST(lease_from_an_ack)
{
	struct learn_event ev;
	struct lf f;

	lf_dhcp_ack(&f, 0);
	ev = accepted(&f, TO, LEARN_DHCP_LEASE);
	ck_assert_mem_eq(ev.mac, lf_guest_mac, 6);
	ck_assert_uint_eq(ev.ipv4, LF_GUEST_IP);
	ck_assert_uint_eq(ev.lease_s, LF_LEASE_S);
	ck_assert_uint_eq(ev.server_id, LF_SERVER_IP);
	/* The guest sending one is a DHCP server, whose replies are learnt at their client. */
	refused(&f, FROM, -ENOENT, "DHCP reply from the guest");
	ck_assert_str_eq(learn_kind_name(ev.kind), "lease");
}
END_TEST

START_TEST(lease_vlan_tagged)
{
	struct learn_event ev;
	struct lf f;

	lf_dhcp_ack(&f, LF_VLAN);
	ev = accepted(&f, TO, LEARN_DHCP_LEASE);
	ck_assert_uint_eq(ev.ipv4, LF_GUEST_IP);
	/* Only one tag: a second is an EtherType of no interest. */
	lf_eth(&f, lf_guest_mac, lf_server_mac, LF_VLAN, 0x8100);
	lf_u16(&f, LF_VLAN);
	lf_u16(&f, 0x0800);
	lf_zeros(&f, 60);
	refused(&f, TO, -ENOENT, "EtherType is not IPv4, ARP or IPv6");
	lf_eth(&f, lf_guest_mac, lf_server_mac, 0, 0x8100);
	lf_u8(&f, 0);
	lf_u8(&f, LF_VLAN);
	lf_u8(&f, 0x08);
	refused(&f, TO, -EBADMSG, "truncated VLAN tag");
}
END_TEST

START_TEST(lease_time_absent_is_infinite)
{
	struct learn_event ev;
	struct lf f;

	lf_dhcp_begin(&f, 5, 0);
	lf_dhcp_end(&f);
	ev = accepted(&f, TO, LEARN_DHCP_LEASE);
	ck_assert_uint_eq(ev.lease_s, LEARN_LEASE_INFINITE);
	ck_assert_uint_eq(ev.server_id, 0);
	/* Option 51's own "infinite", and a lease of 0 s, are the server's word. */
	lf_dhcp_begin(&f, 5, 0);
	lf_option32(&f, 51, 0xffffffff);
	lf_dhcp_end(&f);
	ck_assert_uint_eq(accepted(&f, TO, LEARN_DHCP_LEASE).lease_s, LEARN_LEASE_INFINITE);
	lf_dhcp_begin(&f, 5, 0);
	lf_option32(&f, 51, 0);
	lf_dhcp_end(&f);
	ck_assert_uint_eq(accepted(&f, TO, LEARN_DHCP_LEASE).lease_s, 0);
}
END_TEST

START_TEST(lease_chaddr_against_ethernet)
{
	const uint8_t multicast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	struct learn_event ev;
	struct lf f;

	/* Broadcast to a client that cannot take unicast yet. */
	lf_dhcp_ack(&f, 0);
	memcpy(f.b, lf_broadcast, 6);
	ev = accepted(&f, TO, LEARN_DHCP_LEASE);
	ck_assert_mem_eq(ev.mac, lf_guest_mac, 6);
	/* Unicast to another MAC than the one it leases to. */
	memcpy(f.b, lf_server_mac, 6);
	refused(&f, TO, -EINVAL, "chaddr is not the Ethernet destination");
	/* A group address as chaddr, even where the frame agrees. */
	memcpy(f.b, multicast, 6);
	memcpy(f.b + f.bootp + 28, multicast, 6);
	lf_checksums(&f);
	refused(&f, TO, -EINVAL, "chaddr is not a unicast MAC");
	memset(f.b + f.bootp + 28, 0, 6);
	memset(f.b, 0, 6);
	lf_checksums(&f);
	refused(&f, TO, -EINVAL, "chaddr is not a unicast MAC");
}
END_TEST

START_TEST(lease_yiaddr)
{
	static const uint32_t no_host[] = {
		0x7f000001,	/* 127.0.0.1 */
		0x01020304 & 0x00ffffff,	/* 0.2.3.4 */
		0xe0000001,	/* 224.0.0.1 */
		0xf0000001,	/* 240.0.0.1 */
		0xffffffff,
	};
	struct lf f;

	lf_dhcp_ack(&f, 0);
	for (size_t i = 0; i < sizeof(no_host) / sizeof(no_host[0]); i++) {
		set_yiaddr(&f, no_host[i]);
		refused(&f, TO, -EINVAL, "yiaddr is no host's address");
	}
	set_yiaddr(&f, 0);
	refused(&f, TO, -ENOENT, "DHCPACK of no address (to a DHCPINFORM)");
	set_yiaddr(&f, 0xa9fe0105);
	refused(&f, TO, -ENOENT, "IPv4 link-local address");
	/* The edges of what is refused are a host's. */
	set_yiaddr(&f, 0x01000000);
	accepted(&f, TO, LEARN_DHCP_LEASE);
	set_yiaddr(&f, 0xdfffffff);
	accepted(&f, TO, LEARN_DHCP_LEASE);
	set_yiaddr(&f, 0x80000001);
	accepted(&f, TO, LEARN_DHCP_LEASE);
}
END_TEST

START_TEST(nak)
{
	struct learn_event ev;
	struct lf f;

	lf_dhcp_nak(&f);
	ev = accepted(&f, TO, LEARN_DHCP_NAK);
	ck_assert_mem_eq(ev.mac, lf_guest_mac, 6);
	ck_assert_uint_eq(ev.ipv4, 0);
	refused(&f, FROM, -ENOENT, "DHCP reply from the guest");
	memcpy(f.b, lf_server_mac, 6);
	refused(&f, TO, -EINVAL, "chaddr is not the Ethernet destination");
}
END_TEST

START_TEST(release)
{
	const uint8_t multicast[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	struct learn_event ev;
	struct lf f;

	lf_dhcp_release(&f);
	ev = accepted(&f, FROM, LEARN_DHCP_RELEASE);
	ck_assert_mem_eq(ev.mac, lf_guest_mac, 6);
	ck_assert_uint_eq(ev.ipv4, LF_GUEST_IP);
	refused(&f, TO, -ENOENT, "DHCP request to the guest");

	/* Another client's release, sent by this guest. */
	memcpy(f.b + 6, lf_server_mac, 6);
	refused(&f, FROM, -EINVAL, "chaddr is not the Ethernet source");
	memcpy(f.b + 6, multicast, 6);
	memcpy(f.b + f.bootp + 28, multicast, 6);
	lf_checksums(&f);
	refused(&f, FROM, -EINVAL, "chaddr is not a unicast MAC");

	lf_dhcp_release(&f);
	lf_set32(&f, f.bootp + 12, 0);
	lf_checksums(&f);
	refused(&f, FROM, -EINVAL, "ciaddr is no host's address");
	lf_set32(&f, f.bootp + 12, 0xa9fe0001);
	lf_checksums(&f);
	refused(&f, FROM, -ENOENT, "IPv4 link-local address");
}
END_TEST

START_TEST(ethernet_and_arguments)
{
	struct learn_event ev;
	struct lf f;

	lf_dhcp_ack(&f, 0);
	refused(&f, LEARN_DIR_UNSPEC, -EINVAL, "unknown direction");
	refused(&f, LEARN_DIR_MAX + 1, -EINVAL, "unknown direction");
	refused_flags(&f, TO, LEARN_F_ALL + 1, -EINVAL, "unknown flags");
	f.len = 13;
	refused(&f, TO, -EBADMSG, "truncated Ethernet header");
	f.len = 0;
	refused(&f, TO, -EBADMSG, "truncated Ethernet header");
	lf_eth(&f, lf_guest_mac, lf_server_mac, 0, 0x88cc);	/* LLDP */
	lf_zeros(&f, 46);
	refused(&f, TO, -ENOENT, "EtherType is not IPv4, ARP or IPv6");
	/* why may be NULL. */
	ck_assert_int_eq(learn_parse(f.b, f.len, TO, 0, &ev, NULL), -ENOENT);
	ck_assert_str_eq(learn_kind_name(LEARN_UNSPEC), "?");
	ck_assert_str_eq(learn_kind_name(LEARN_KIND_MAX + 1), "?");
}
END_TEST

START_TEST(ipv4_header)
{
	struct lf f;

	lf_dhcp_ack(&f, 0);
	f.len = f.l3 + 19;
	refused(&f, TO, -EBADMSG, "truncated IPv4 header");

	lf_dhcp_ack(&f, 0);
	f.b[f.l3] = 0x65;
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "IPv4 version is not 4");
	f.b[f.l3] = 0x44;
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "IPv4 header length below 20");

	/* Its total length past the frame's end, and below its header's. */
	lf_dhcp_ack(&f, 0);
	f.len--;
	refused(&f, TO, -EBADMSG, "IPv4 lengths outside the frame");
	lf_dhcp_ack(&f, 0);
	lf_set16(&f, f.l3 + 2, 19);
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "IPv4 lengths outside the frame");
	/* The header's length past the frame's end, with a total that agrees. */
	lf_dhcp_ack(&f, 0);
	f.b[f.l3] = 0x4f;
	f.len = f.l3 + 40;
	lf_set16(&f, f.l3 + 2, 40);
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "IPv4 lengths outside the frame");

	lf_dhcp_ack(&f, 0);
	f.b[f.l3 + 10] ^= 0x01;
	refused(&f, TO, -EBADMSG, "IPv4 header checksum");
	lf_dhcp_ack(&f, 0);
	f.b[f.l3 + 8] = 63;	/* TTL, without its checksum */
	refused(&f, TO, -EBADMSG, "IPv4 header checksum");

	lf_dhcp_ack(&f, 0);
	f.b[f.l3 + 9] = 6;
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "IPv4, not UDP");
}
END_TEST

START_TEST(ipv4_fragments)
{
	struct lf f;

	lf_dhcp_ack(&f, 0);
	lf_set16(&f, f.l3 + 6, 0x2000);	/* more fragments */
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "IPv4 fragment");
	lf_set16(&f, f.l3 + 6, 0x0001);	/* an offset of 8 */
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "IPv4 fragment");
	lf_set16(&f, f.l3 + 6, 0x1fff);
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "IPv4 fragment");
	lf_set16(&f, f.l3 + 6, 0x4000);	/* don't fragment: whole */
	lf_checksums(&f);
	accepted(&f, TO, LEARN_DHCP_LEASE);
}
END_TEST

/* Options in the IPv4 header move UDP; Ethernet padding follows the datagram. */
START_TEST(ipv4_options_and_padding)
{
	struct learn_event ev;
	uint8_t msg = 5;
	struct lf f;

	lf_eth(&f, lf_guest_mac, lf_server_mac, 0, 0x0800);
	lf_ipv4(&f, LF_SERVER_IP, LF_GUEST_IP, 17);
	f.b[f.l3] = 0x47;
	lf_u32(&f, 0x01010101);	/* no-operation options */
	lf_u32(&f, 0x01010100);
	lf_udp(&f, 67, 68);
	lf_bootp(&f, 2, lf_guest_mac, 0, LF_GUEST_IP);
	lf_option(&f, 53, &msg, 1);
	lf_option32(&f, 51, 60);
	lf_dhcp_end(&f);
	ev = accepted(&f, TO, LEARN_DHCP_LEASE);
	ck_assert_uint_eq(ev.lease_s, 60);

	lf_dhcp_ack(&f, 0);
	lf_u32(&f, 0xffffffff);
	accepted(&f, TO, LEARN_DHCP_LEASE);
}
END_TEST

START_TEST(udp_header)
{
	struct lf f;

	lf_dhcp_ack(&f, 0);
	lf_set16(&f, f.l3 + 2, 20 + 7);
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "truncated UDP header");

	lf_dhcp_ack(&f, 0);
	lf_set16(&f, f.l4 + 4, 7);
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "UDP length outside its datagram");
	lf_dhcp_ack(&f, 0);
	lf_set16(&f, f.l4 + 4, f.len - f.l4 + 1);
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "UDP length outside its datagram");
	/* Shorter than the datagram: the rest is not UDP's (and here, not BOOTP's). */
	lf_dhcp_ack(&f, 0);
	lf_set16(&f, f.l4 + 4, 8 + 239);
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "truncated BOOTP message");

	lf_dhcp_ack(&f, 0);
	lf_set16(&f, f.l4, 68);
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "UDP, not between DHCP's ports");
	lf_set16(&f, f.l4, 67);
	lf_set16(&f, f.l4 + 2, 67);
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "UDP, not between DHCP's ports");
	lf_set16(&f, f.l4, 53);
	lf_set16(&f, f.l4 + 2, 68);
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "UDP, not between DHCP's ports");
}
END_TEST

START_TEST(udp_checksum)
{
	uint8_t pad = 0;
	struct lf f;

	lf_dhcp_ack(&f, 0);
	f.b[f.bootp + 4] ^= 0x80;	/* xid: the IPv4 header's checksum still holds */
	refused(&f, TO, -EBADMSG, "UDP checksum");
	/* Not computed yet (offloaded), or not at all. */
	accepted_flags(&f, TO, PARTIAL, LEARN_DHCP_LEASE);
	lf_dhcp_ack(&f, 0);
	f.no_udp_csum = true;
	lf_checksums(&f);
	f.b[f.bootp + 4] ^= 0x80;
	accepted(&f, TO, LEARN_DHCP_LEASE);

	/* An odd length: the last byte counts as a word's high half. */
	lf_dhcp_begin(&f, 5, 0);
	lf_option(&f, 0, &pad, 0);	/* two pads: 0, 0 */
	lf_u8(&f, 0);
	lf_dhcp_end(&f);
	ck_assert_uint_eq((f.len - f.l4) % 2, 1);
	accepted(&f, TO, LEARN_DHCP_LEASE);
	f.b[f.len - 1] = 0x7f;	/* end, then a byte that is only padding to DHCP */
	refused(&f, TO, -EBADMSG, "UDP checksum");
}
END_TEST

START_TEST(bootp_fixed_part)
{
	struct lf f;

	lf_dhcp_ack(&f, 0);
	f.len = f.bootp + 239;
	lf_finish(&f);
	refused(&f, TO, -EBADMSG, "truncated BOOTP message");

	lf_dhcp_ack(&f, 0);
	f.b[f.bootp] = 1;
	lf_checksums(&f);
	refused(&f, TO, -EINVAL, "BOOTP op contradicts the UDP ports");
	lf_dhcp_release(&f);
	f.b[f.bootp] = 2;
	lf_checksums(&f);
	refused(&f, FROM, -EINVAL, "BOOTP op contradicts the UDP ports");

	lf_dhcp_ack(&f, 0);
	f.b[f.bootp + 1] = 6;	/* IEEE 802 */
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "BOOTP of a client that is not Ethernet");
	lf_dhcp_ack(&f, 0);
	f.b[f.bootp + 2] = 16;
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "BOOTP of a client that is not Ethernet");

	lf_dhcp_ack(&f, 0);
	f.b[f.bootp + 239] = 0x64;
	lf_checksums(&f);
	refused(&f, TO, -ENOENT, "BOOTP without DHCP's cookie");
}
END_TEST

START_TEST(dhcp_options_walk)
{
	const uint8_t name[40] = "a-host-name-that-is-long-enough-to-skip";
	struct learn_event ev;
	struct lf f;

	/* Pads, options it does not read, and whatever follows the end. */
	lf_dhcp_begin(&f, 5, 0);
	lf_zeros(&f, 3);
	lf_option32(&f, 1, 0xffffff00);
	lf_option(&f, 12, name, sizeof(name));
	lf_option(&f, 200, name, 0);
	lf_option32(&f, 51, 86400);
	lf_u8(&f, 255);
	lf_u32(&f, 0x3504ffff);	/* would be a malformed option 53 */
	lf_finish(&f);
	ev = accepted(&f, TO, LEARN_DHCP_LEASE);
	ck_assert_uint_eq(ev.lease_s, 86400);

	lf_dhcp_begin(&f, 5, 0);
	lf_option32(&f, 51, 86400);
	lf_finish(&f);
	refused(&f, TO, -EBADMSG, "DHCP options without an end");
	lf_dhcp_begin(&f, 5, 0);
	lf_zeros(&f, 5);
	lf_finish(&f);
	refused(&f, TO, -EBADMSG, "DHCP options without an end");

	lf_dhcp_begin(&f, 5, 0);
	lf_u8(&f, 51);
	lf_finish(&f);
	refused(&f, TO, -EBADMSG, "DHCP option cut off");
	lf_dhcp_begin(&f, 5, 0);
	lf_u8(&f, 12);
	lf_u8(&f, 5);
	lf_u32(&f, 0x41424344);
	lf_finish(&f);
	refused(&f, TO, -EBADMSG, "DHCP option runs past the end");
	/* Past the end of UDP's length, though not of the frame. */
	lf_dhcp_ack(&f, 0);
	lf_set16(&f, f.l4 + 4, f.len - f.l4 - 1);
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "DHCP options without an end");
	lf_set16(&f, f.l4 + 4, f.len - f.l4 - 4);	/* inside option 51's value */
	lf_checksums(&f);
	refused(&f, TO, -EBADMSG, "DHCP option runs past the end");
}
END_TEST

START_TEST(dhcp_options_read)
{
	uint8_t two[2] = { 5, 5 }, msg = 5;
	struct lf f;

	lf_dhcp_begin(&f, 5, 0);
	lf_option(&f, 53, &msg, 1);
	lf_dhcp_end(&f);
	refused(&f, TO, -EBADMSG, "DHCP option 53 twice or not 1 byte");
	begin_untyped(&f, 5);
	lf_option(&f, 53, two, 2);
	lf_dhcp_end(&f);
	refused(&f, TO, -EBADMSG, "DHCP option 53 twice or not 1 byte");
	/* Empty, and the frame's last bytes: its value is not read. */
	begin_untyped(&f, 5);
	lf_option(&f, 53, two, 0);
	lf_finish(&f);
	refused(&f, TO, -EBADMSG, "DHCP option 53 twice or not 1 byte");

	lf_dhcp_begin(&f, 5, 0);
	lf_option(&f, 51, two, 2);
	lf_dhcp_end(&f);
	refused(&f, TO, -EBADMSG, "DHCP option 51 twice or not 4 bytes");
	lf_dhcp_begin(&f, 5, 0);
	lf_option32(&f, 51, 60);
	lf_option32(&f, 51, 60);
	lf_dhcp_end(&f);
	refused(&f, TO, -EBADMSG, "DHCP option 51 twice or not 4 bytes");

	lf_dhcp_begin(&f, 5, 0);
	lf_option(&f, 54, two, 2);
	lf_dhcp_end(&f);
	refused(&f, TO, -EBADMSG, "DHCP option 54 twice or not 4 bytes");
	lf_dhcp_begin(&f, 5, 0);
	lf_option32(&f, 54, LF_SERVER_IP);
	lf_option32(&f, 54, LF_SERVER_IP);
	lf_dhcp_end(&f);
	refused(&f, TO, -EBADMSG, "DHCP option 54 twice or not 4 bytes");
}
END_TEST

START_TEST(dhcp_message_types)
{
	uint8_t overload = 3;
	struct lf f;

	begin_untyped(&f, 5);
	lf_option32(&f, 51, 60);
	lf_dhcp_end(&f);
	refused(&f, TO, -ENOENT, "BOOTP, not DHCP (no option 53)");
	begin_untyped(&f, 5);
	lf_option(&f, 52, &overload, 1);
	lf_dhcp_end(&f);
	refused(&f, TO, -ENOENT, "DHCP message type in overloaded fields (not read)");

	/* An offer, the other types as replies, and a type 0. */
	for (uint8_t msg = 0; msg <= 18; msg++) {
		if (msg == 5 || msg == 6)
			continue;
		begin_untyped(&f, 5);
		lf_option(&f, 53, &msg, 1);
		lf_dhcp_end(&f);
		refused(&f, TO, -ENOENT, "DHCP reply other than ACK or NAK");
	}
	/* A discover, a request, a decline, an inform, ... */
	for (uint8_t msg = 0; msg <= 18; msg++) {
		if (msg == 7)
			continue;
		begin_untyped(&f, 7);
		lf_option(&f, 53, &msg, 1);
		lf_dhcp_end(&f);
		refused(&f, FROM, -ENOENT, "DHCP request other than RELEASE");
	}
}
END_TEST

START_TEST(arp)
{
	struct learn_event ev;
	struct lf f;

	lf_arp_reply(&f);
	ev = accepted(&f, FROM, LEARN_ARP);
	ck_assert_mem_eq(ev.mac, lf_guest_mac, 6);
	ck_assert_uint_eq(ev.ipv4, LF_GUEST_IP);
	/* Another guest's, going out of this vif. */
	refused(&f, TO, -ENOENT, "ARP to the guest");

	/* A request, a gratuitous one, and one padded to Ethernet's minimum. */
	lf_eth(&f, lf_broadcast, lf_guest_mac, 0, 0x0806);
	lf_arp(&f, 1, lf_guest_mac, LF_GUEST_IP, lf_broadcast, LF_SERVER_IP);
	accepted(&f, FROM, LEARN_ARP);
	lf_eth(&f, lf_broadcast, lf_guest_mac, 0, 0x0806);
	lf_arp(&f, 1, lf_guest_mac, LF_GUEST_IP, (const uint8_t[6]){ 0 }, LF_GUEST_IP);
	lf_zeros(&f, 18);
	ev = accepted(&f, FROM, LEARN_ARP);
	ck_assert_uint_eq(ev.ipv4, LF_GUEST_IP);
	/* Tagged. */
	lf_eth(&f, lf_broadcast, lf_guest_mac, LF_VLAN, 0x0806);
	lf_arp(&f, 2, lf_guest_mac, LF_GUEST_IP, lf_server_mac, LF_SERVER_IP);
	accepted(&f, FROM, LEARN_ARP);
}
END_TEST

START_TEST(arp_checks)
{
	const uint8_t multicast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	struct lf f;

	lf_arp_reply(&f);
	f.len = f.l3 + 7;
	refused(&f, FROM, -EBADMSG, "truncated ARP header");
	lf_arp_reply(&f);
	f.len--;
	refused(&f, FROM, -EBADMSG, "truncated ARP addresses");

	lf_arp_reply(&f);
	lf_set16(&f, f.l3, 6);
	refused(&f, FROM, -ENOENT, "ARP, not for IPv4 over Ethernet");
	lf_arp_reply(&f);
	lf_set16(&f, f.l3 + 2, 0x86dd);
	refused(&f, FROM, -ENOENT, "ARP, not for IPv4 over Ethernet");
	lf_arp_reply(&f);
	f.b[f.l3 + 4] = 8;
	refused(&f, FROM, -EBADMSG, "ARP address lengths are not Ethernet's and IPv4's");
	lf_arp_reply(&f);
	f.b[f.l3 + 5] = 16;
	refused(&f, FROM, -EBADMSG, "ARP address lengths are not Ethernet's and IPv4's");

	lf_arp_reply(&f);
	lf_set16(&f, f.l3 + 6, 3);	/* RARP */
	refused(&f, FROM, -ENOENT, "ARP, neither request nor reply");
	lf_set16(&f, f.l3 + 6, 0);
	refused(&f, FROM, -ENOENT, "ARP, neither request nor reply");

	/* Another's MAC as the sender, and a group address in both places. */
	lf_arp_reply(&f);
	memcpy(f.b + f.l3 + 8, lf_server_mac, 6);
	refused(&f, FROM, -EINVAL, "ARP sender is not the Ethernet source");
	memcpy(f.b + f.l3 + 8, multicast, 6);
	memcpy(f.b + 6, multicast, 6);
	refused(&f, FROM, -EINVAL, "ARP sender is not a unicast MAC");

	lf_arp_reply(&f);
	lf_set32(&f, f.l3 + 14, 0);
	refused(&f, FROM, -ENOENT, "ARP probe (sender 0.0.0.0)");
	lf_set32(&f, f.l3 + 14, 0x7f000001);
	refused(&f, FROM, -EINVAL, "ARP sender address is no host's");
	lf_set32(&f, f.l3 + 14, 0xffffffff);
	refused(&f, FROM, -EINVAL, "ARP sender address is no host's");
	lf_set32(&f, f.l3 + 14, 0xa9fe0a0b);
	refused(&f, FROM, -ENOENT, "IPv4 link-local address");
}
END_TEST

START_TEST(na)
{
	const uint8_t global[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x05 };
	struct learn_event ev;
	struct lf f;

	lf_na(&f);
	ev = accepted(&f, FROM, LEARN_NDP_NA);
	ck_assert_mem_eq(ev.mac, lf_guest_mac, 6);
	ck_assert_mem_eq(ev.ipv6, lf_guest_ipv6, 16);
	ck_assert_uint_eq(ev.ipv4, 0);
	refused(&f, TO, -ENOENT, "IPv6 to the guest");

	/* No option, another option, a global target, Ethernet padding, a tag. */
	lf_eth(&f, lf_server_mac, lf_guest_mac, 0, 0x86dd);
	lf_ipv6(&f, lf_guest_ipv6, lf_all_nodes, 58, 255);
	lf_na_header(&f, global);
	lf_finish(&f);
	ev = accepted(&f, FROM, LEARN_NDP_NA);
	ck_assert_mem_eq(ev.ipv6, global, 16);
	lf_u8(&f, 14);		/* a nonce: not read */
	lf_u8(&f, 1);
	lf_zeros(&f, 6);
	lf_finish(&f);
	lf_zeros(&f, 12);
	accepted(&f, FROM, LEARN_NDP_NA);
	lf_eth(&f, lf_server_mac, lf_guest_mac, LF_VLAN, 0x86dd);
	lf_ipv6(&f, lf_guest_ipv6, lf_all_nodes, 58, 255);
	lf_na_header(&f, global);
	lf_finish(&f);
	accepted(&f, FROM, LEARN_NDP_NA);
}
END_TEST

START_TEST(na_headers)
{
	struct lf f;

	lf_na(&f);
	f.len = f.l3 + 39;
	refused(&f, FROM, -EBADMSG, "truncated IPv6 header");
	lf_na(&f);
	f.b[f.l3] = 0x40;
	refused(&f, FROM, -EBADMSG, "IPv6 version is not 6");
	lf_na(&f);
	f.len--;
	refused(&f, FROM, -EBADMSG, "IPv6 payload length outside the frame");

	lf_na(&f);
	f.b[f.l3 + 6] = 0;	/* hop-by-hop options first */
	refused(&f, FROM, -ENOENT, "IPv6, not ICMPv6 right after the header");
	lf_na(&f);
	lf_set16(&f, f.l3 + 4, 3);
	lf_checksums(&f);
	refused(&f, FROM, -EBADMSG, "truncated ICMPv6 header");
	lf_na(&f);
	f.b[f.l4] = 135;	/* a solicitation */
	lf_checksums(&f);
	refused(&f, FROM, -ENOENT, "ICMPv6, not a neighbour advertisement");
	lf_na(&f);
	lf_set16(&f, f.l3 + 4, 23);
	lf_checksums(&f);
	refused(&f, FROM, -EBADMSG, "truncated neighbour advertisement");

	lf_na(&f);
	f.b[f.l4 + 3] ^= 0x01;
	refused(&f, FROM, -EBADMSG, "ICMPv6 checksum");
	accepted_flags(&f, FROM, PARTIAL, LEARN_NDP_NA);
	lf_na(&f);
	f.b[f.l3 + 8] ^= 0x01;	/* the source address: the pseudo-header counts */
	refused(&f, FROM, -EBADMSG, "ICMPv6 checksum");
}
END_TEST

START_TEST(na_rules)
{
	const uint8_t multicast[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	struct lf f;

	lf_na(&f);
	f.b[f.l3 + 7] = 254;
	refused(&f, FROM, -EINVAL, "NA hop limit is not 255");
	f.b[f.l3 + 7] = 64;
	refused(&f, FROM, -EINVAL, "NA hop limit is not 255");
	lf_na(&f);
	f.b[f.l4 + 1] = 1;
	lf_checksums(&f);
	refused(&f, FROM, -EINVAL, "NA code is not 0");

	/* A group address as the source: no option to disagree with it. */
	lf_eth(&f, lf_server_mac, multicast, 0, 0x86dd);
	lf_ipv6(&f, lf_guest_ipv6, lf_all_nodes, 58, 255);
	lf_na_header(&f, lf_guest_ipv6);
	lf_finish(&f);
	refused(&f, FROM, -EINVAL, "Ethernet source is not a unicast MAC");
}
END_TEST

START_TEST(na_options)
{
	struct lf f;

	lf_na(&f);
	f.b[f.l4 + 25] = 0;
	lf_checksums(&f);
	refused(&f, FROM, -EBADMSG, "NDP option of length 0");
	lf_na(&f);
	f.b[f.l4 + 25] = 2;
	lf_checksums(&f);
	refused(&f, FROM, -EBADMSG, "NDP option runs past the end");
	lf_na(&f);
	lf_u8(&f, 2);
	lf_finish(&f);
	refused(&f, FROM, -EBADMSG, "NDP option cut off");
	lf_na(&f);
	f.b[f.l4 + 25] = 2;
	lf_zeros(&f, 8);
	lf_finish(&f);
	refused(&f, FROM, -EBADMSG, "NDP target link-layer option is not Ethernet's");
	lf_na(&f);
	memcpy(f.b + f.l4 + 26, lf_server_mac, 6);
	lf_checksums(&f);
	refused(&f, FROM, -EINVAL, "NA target link-layer address is not the Ethernet source");
	/* The same option after one that is fine. */
	lf_eth(&f, lf_server_mac, lf_guest_mac, 0, 0x86dd);
	lf_ipv6(&f, lf_guest_ipv6, lf_all_nodes, 58, 255);
	lf_na_header(&f, lf_guest_ipv6);
	lf_u8(&f, 14);
	lf_u8(&f, 1);
	lf_zeros(&f, 6);
	lf_u8(&f, 2);
	lf_u8(&f, 1);
	lf_put(&f, lf_server_mac, 6);
	lf_finish(&f);
	refused(&f, FROM, -EINVAL, "NA target link-layer address is not the Ethernet source");
}
END_TEST

START_TEST(na_targets)
{
	static const uint8_t no_host[][16] = {
		{ 0xff, 0x02, [15] = 0x01 },
		{ 0xff, 0x0e, [15] = 0x05 },
		{ 0 },
		{ [15] = 0x01 },
	};
	const uint8_t link_local[16] = { 0xfe, 0x80, [15] = 0x05 };
	const uint8_t link_local_top[16] = { 0xfe, 0xbf, [15] = 0x05 };
	const uint8_t site_local[16] = { 0xfe, 0xc0, [15] = 0x05 };
	const uint8_t compatible[16] = { [15] = 0x02 };
	struct lf f;

	for (size_t i = 0; i < sizeof(no_host) / sizeof(no_host[0]); i++) {
		lf_na(&f);
		memcpy(f.b + f.l4 + 8, no_host[i], 16);
		lf_checksums(&f);
		refused(&f, FROM, -EINVAL, i < 2 ? "NA target is multicast" :
						   "NA target is unspecified or loopback");
	}
	lf_na(&f);
	memcpy(f.b + f.l4 + 8, link_local, 16);
	lf_checksums(&f);
	refused(&f, FROM, -ENOENT, "IPv6 link-local address");
	memcpy(f.b + f.l4 + 8, link_local_top, 16);
	lf_checksums(&f);
	refused(&f, FROM, -ENOENT, "IPv6 link-local address");
	/* Just outside fe80::/10, and just past ::1. */
	memcpy(f.b + f.l4 + 8, site_local, 16);
	lf_checksums(&f);
	accepted(&f, FROM, LEARN_NDP_NA);
	memcpy(f.b + f.l4 + 8, compatible, 16);
	lf_checksums(&f);
	accepted(&f, FROM, LEARN_NDP_NA);
}
END_TEST

static void ack_tagged(struct lf *f)
{
	lf_dhcp_ack(f, LF_VLAN);
}

/* Every valid frame cut short anywhere is refused as malformed, never read past its end. */
START_TEST(every_prefix_is_malformed)
{
	static const struct {
		void (*build)(struct lf *f);
		enum learn_dir dir;
		uint8_t kind;
	} valid[] = {
		{ ack_tagged, TO, LEARN_DHCP_LEASE },
		{ lf_dhcp_nak, TO, LEARN_DHCP_NAK },
		{ lf_dhcp_release, FROM, LEARN_DHCP_RELEASE },
		{ lf_arp_reply, FROM, LEARN_ARP },
		{ lf_na, FROM, LEARN_NDP_NA },
	};
	struct learn_event ev;
	struct lf f;

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		size_t full;

		valid[i].build(&f);
		accepted(&f, valid[i].dir, valid[i].kind);
		full = f.len;
		for (f.len = 0; f.len < full; f.len++)
			ck_assert_int_eq(parse(&f, valid[i].dir, 0, &ev, NULL), -EBADMSG);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("learn-parse");

	th_add(s, lease_from_an_ack);
	th_add(s, lease_vlan_tagged);
	th_add(s, lease_time_absent_is_infinite);
	th_add(s, lease_chaddr_against_ethernet);
	th_add(s, lease_yiaddr);
	th_add(s, nak);
	th_add(s, release);
	th_add(s, ethernet_and_arguments);
	th_add(s, ipv4_header);
	th_add(s, ipv4_fragments);
	th_add(s, ipv4_options_and_padding);
	th_add(s, udp_header);
	th_add(s, udp_checksum);
	th_add(s, bootp_fixed_part);
	th_add(s, dhcp_options_walk);
	th_add(s, dhcp_options_read);
	th_add(s, dhcp_message_types);
	th_add(s, arp);
	th_add(s, arp_checks);
	th_add(s, na);
	th_add(s, na_headers);
	th_add(s, na_rules);
	th_add(s, na_options);
	th_add(s, na_targets);
	th_add(s, every_prefix_is_malformed);
	return th_run(s);
}
