// SPDX-License-Identifier: GPL-2.0-only
/*
 * learn-parse.h's gate.  Every read is of bytes at an offset that was checked against the
 * length before: no struct is laid over the frame, so neither alignment nor padding matters,
 * and a length field is believed only as far as the bytes that arrived.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include "learn-parse.h"

#define VLAN_TAG_LEN 4
#define IPV4_HDR_MIN 20
#define UDP_HDR_LEN 8
#define IPV6_HDR_LEN 40
#define ARP_FIXED_LEN 8		/* hardware and protocol types and lengths, op */
#define ARP_IPV4_LEN 28		/* and Ethernet/IPv4's addresses */
#define ICMPV6_HDR_LEN 4
#define NA_LEN 24		/* ICMPv6 header, flags, target: where the options start */

/* BOOTP's fixed part (RFC 951), then DHCP's cookie and options (RFC 2131). */
#define BOOTP_OP 0
#define BOOTP_HTYPE 1
#define BOOTP_HLEN 2
#define BOOTP_XID 4
#define BOOTP_CIADDR 12
#define BOOTP_YIADDR 16
#define BOOTP_CHADDR 28
#define BOOTP_COOKIE 236
#define BOOTP_OPTIONS 240
#define BOOTREQUEST 1
#define BOOTREPLY 2
#define DHCP_COOKIE 0x63825363u
#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68

enum {
	OPT_PAD = 0,
	OPT_LEASE_TIME = 51,
	OPT_OVERLOAD = 52,
	OPT_MESSAGE_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_END = 255,
};

enum { DHCPACK = 5, DHCPNAK = 6, DHCPRELEASE = 7 };

/* One frame being parsed, and why it was turned away. */
struct frame {
	const uint8_t *p;
	size_t len;
	enum learn_dir dir;
	unsigned int flags;
	const uint8_t *dst, *src;	/* the Ethernet addresses */
	const char *why;
};

static int ignored(struct frame *f, const char *why)
{
	f->why = why;
	return -ENOENT;
}

static int malformed(struct frame *f, const char *why)
{
	f->why = why;
	return -EBADMSG;
}

static int refused(struct frame *f, const char *why)
{
	f->why = why;
	return -EINVAL;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The Internet checksum's running sum (RFC 1071) over n bytes as big-endian words, an odd
 * last byte padded with zero.  64 bits: no IP length can carry it over.
 */
static uint64_t sum_bytes(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint64_t)p[n - 1] << 8;
	return sum;
}

/* A sum over data that includes its checksum field is all ones when the checksum holds. */
static bool sum_ok(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static bool is_broadcast(const uint8_t mac[CK_MAC_LEN])
{
	static const uint8_t all[CK_MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return memcmp(mac, all, CK_MAC_LEN) == 0;
}

/* 0 for an address to learn, else as the header says (bad names what held it). */
static int check_ipv4(struct frame *f, uint32_t a, const char *bad)
{
	uint8_t first = a >> 24;

	if (first == 0 || first == 127 || first >= 224)	/* 224/4 multicast, 240/4 class E */
		return refused(f, bad);
	if ((a >> 16) == 0xa9fe)
		return ignored(f, "IPv4 link-local address");
	return 0;
}

static int check_ipv6(struct frame *f, const uint8_t a[CK_IPV6_LEN])
{
	static const uint8_t zero[CK_IPV6_LEN - 1];

	if (a[0] == 0xff)
		return refused(f, "NA target is multicast");
	if (memcmp(a, zero, sizeof(zero)) == 0 && a[CK_IPV6_LEN - 1] <= 1)
		return refused(f, "NA target is unspecified or loopback");
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return ignored(f, "IPv6 link-local address");
	return 0;
}

struct dhcp_options {
	bool has_type, has_lease, has_server_id, overload;
	uint8_t type;
	uint32_t lease_s, server_id;
};

/* One fixed-size option the message may hold once (RFC 3396 would join repeats into one). */
static int take_option(struct frame *f, bool *seen, uint8_t n, uint8_t want, const char *what)
{
	if (n != want || *seen)
		return malformed(f, what);
	*seen = true;
	return 0;
}

static int parse_options(struct frame *f, const uint8_t *p, size_t len, struct dhcp_options *o)
{
	size_t i = 0;
	int r = 0;

	while (i < len) {
		uint8_t code = p[i], n;
		const uint8_t *v;

		if (code == OPT_PAD) {
			i++;
			continue;
		}
		if (code == OPT_END)
			return 0;
		if (len - i < 2)
			return malformed(f, "DHCP option cut off");
		n = p[i + 1];
		v = p + i + 2;
		if (n > len - i - 2)
			return malformed(f, "DHCP option runs past the end");
		switch (code) {
		case OPT_MESSAGE_TYPE:
			r = take_option(f, &o->has_type, n, 1,
					"DHCP option 53 twice or not 1 byte");
			if (r == 0)
				o->type = v[0];
			break;
		case OPT_LEASE_TIME:
			r = take_option(f, &o->has_lease, n, 4,
					"DHCP option 51 twice or not 4 bytes");
			if (r == 0)
				o->lease_s = get32(v);
			break;
		case OPT_SERVER_ID:
			r = take_option(f, &o->has_server_id, n, 4,
					"DHCP option 54 twice or not 4 bytes");
			if (r == 0)
				o->server_id = get32(v);
			break;
		case OPT_OVERLOAD:
			/* Options in sname and file are not read: only noted, to say why. */
			o->overload = true;
			break;
		default:
			break;
		}
		if (r < 0)
			return r;
		i += 2 + (size_t)n;
	}
	return malformed(f, "DHCP options without an end");
}

static int parse_dhcp_reply(struct frame *f, const uint8_t *b, const struct dhcp_options *o,
			    struct learn_event *out)
{
	const uint8_t *chaddr = b + BOOTP_CHADDR;
	uint32_t yiaddr;
	int r;

	if (o->type != DHCPACK && o->type != DHCPNAK)
		return ignored(f, "DHCP reply other than ACK or NAK");
	if (!ck_mac_valid(chaddr))
		return refused(f, "chaddr is not a unicast MAC");
	/* A server broadcasts to a client that cannot take unicast yet (RFC 2131 4.1). */
	if (memcmp(chaddr, f->dst, CK_MAC_LEN) != 0 && !is_broadcast(f->dst))
		return refused(f, "chaddr is not the Ethernet destination");
	memcpy(out->mac, chaddr, CK_MAC_LEN);
	out->xid = get32(b + BOOTP_XID);
	if (o->type == DHCPNAK) {
		out->kind = LEARN_DHCP_NAK;
		return 0;
	}
	yiaddr = get32(b + BOOTP_YIADDR);
	if (yiaddr == 0)
		return ignored(f, "DHCPACK of no address (to a DHCPINFORM)");
	r = check_ipv4(f, yiaddr, "yiaddr is no host's address");
	if (r < 0)
		return r;
	out->kind = LEARN_DHCP_LEASE;
	out->ipv4 = yiaddr;
	out->lease_s = o->has_lease ? o->lease_s : LEARN_LEASE_INFINITE;
	out->server_id = o->has_server_id ? o->server_id : 0;
	return 0;
}

static int parse_dhcp_request(struct frame *f, const uint8_t *b, const struct dhcp_options *o,
			      struct learn_event *out)
{
	const uint8_t *chaddr = b + BOOTP_CHADDR;
	uint32_t ciaddr;
	int r;

	if (o->type != DHCPRELEASE)
		return ignored(f, "DHCP request other than RELEASE");
	if (!ck_mac_valid(chaddr))
		return refused(f, "chaddr is not a unicast MAC");
	if (memcmp(chaddr, f->src, CK_MAC_LEN) != 0)
		return refused(f, "chaddr is not the Ethernet source");
	ciaddr = get32(b + BOOTP_CIADDR);
	r = check_ipv4(f, ciaddr, "ciaddr is no host's address");
	if (r < 0)
		return r;
	out->kind = LEARN_DHCP_RELEASE;
	memcpy(out->mac, chaddr, CK_MAC_LEN);
	out->ipv4 = ciaddr;
	return 0;
}

/* b: the UDP payload; reply: it went from port 67 to 68 (else 68 to 67). */
static int parse_bootp(struct frame *f, const uint8_t *b, size_t len, bool reply,
		       struct learn_event *out)
{
	struct dhcp_options o = { 0 };
	int r;

	if (len < BOOTP_OPTIONS)
		return malformed(f, "truncated BOOTP message");
	if (b[BOOTP_OP] != (reply ? BOOTREPLY : BOOTREQUEST))
		return refused(f, "BOOTP op contradicts the UDP ports");
	if (b[BOOTP_HTYPE] != ARPHRD_ETHER || b[BOOTP_HLEN] != ETH_ALEN)
		return ignored(f, "BOOTP of a client that is not Ethernet");
	if (get32(b + BOOTP_COOKIE) != DHCP_COOKIE)
		return ignored(f, "BOOTP without DHCP's cookie");
	r = parse_options(f, b + BOOTP_OPTIONS, len - BOOTP_OPTIONS, &o);
	if (r < 0)
		return r;
	if (!o.has_type)
		return ignored(f, o.overload ? "DHCP message type in overloaded fields (not read)" :
				  "BOOTP, not DHCP (no option 53)");
	return reply ? parse_dhcp_reply(f, b, &o, out) : parse_dhcp_request(f, b, &o, out);
}

/* ip: an IPv4 header of hlen bytes, its datagram total bytes, all within the frame. */
static int parse_udp(struct frame *f, const uint8_t *ip, size_t hlen, size_t total,
		     struct learn_event *out)
{
	const uint8_t *udp = ip + hlen;
	uint16_t sport, dport;
	bool reply;
	size_t ulen;

	if (total - hlen < UDP_HDR_LEN)
		return malformed(f, "truncated UDP header");
	ulen = get16(udp + 4);
	if (ulen < UDP_HDR_LEN || ulen > total - hlen)
		return malformed(f, "UDP length outside its datagram");
	sport = get16(udp);
	dport = get16(udp + 2);
	reply = sport == DHCP_SERVER_PORT && dport == DHCP_CLIENT_PORT;
	if (!reply && !(sport == DHCP_CLIENT_PORT && dport == DHCP_SERVER_PORT))
		return ignored(f, "UDP, not between DHCP's ports");
	/* A guest's replies are learnt as they reach the other guest's vif, and vice versa. */
	if (reply != (f->dir == LEARN_DIR_TO_GUEST))
		return ignored(f, reply ? "DHCP reply from the guest" :
					  "DHCP request to the guest");
	/* 0: the sender computed none (IPv4 allows that). */
	if (get16(udp + 6) != 0 && !(f->flags & LEARN_F_CSUM_PARTIAL) &&
	    !sum_ok(sum_bytes(IPPROTO_UDP + ulen, ip + 12, 8) + sum_bytes(0, udp, ulen)))
		return malformed(f, "UDP checksum");
	return parse_bootp(f, udp + UDP_HDR_LEN, ulen - UDP_HDR_LEN, reply, out);
}

static int parse_ipv4(struct frame *f, size_t off, struct learn_event *out)
{
	const uint8_t *ip = f->p + off;
	size_t avail = f->len - off, hlen, total;

	if (avail < IPV4_HDR_MIN)
		return malformed(f, "truncated IPv4 header");
	if (ip[0] >> 4 != 4)
		return malformed(f, "IPv4 version is not 4");
	hlen = (size_t)(ip[0] & 0x0f) * 4;
	total = get16(ip + 2);
	if (hlen < IPV4_HDR_MIN)
		return malformed(f, "IPv4 header length below 20");
	/* Bytes past total are the Ethernet minimum's padding. */
	if (total > avail || hlen > total)
		return malformed(f, "IPv4 lengths outside the frame");
	if (ip[9] != IPPROTO_UDP)
		return ignored(f, "IPv4, not UDP");
	if (get16(ip + 6) & (IP_MF | IP_OFFMASK))
		return ignored(f, "IPv4 fragment");
	if (!sum_ok(sum_bytes(0, ip, hlen)))
		return malformed(f, "IPv4 header checksum");
	return parse_udp(f, ip, hlen, total, out);
}

static int parse_arp(struct frame *f, size_t off, struct learn_event *out)
{
	const uint8_t *a = f->p + off, *sha = a + 8;
	uint16_t op;
	uint32_t spa;
	int r;

	if (f->dir != LEARN_DIR_FROM_GUEST)
		return ignored(f, "ARP to the guest");
	if (f->len - off < ARP_FIXED_LEN)
		return malformed(f, "truncated ARP header");
	if (get16(a) != ARPHRD_ETHER || get16(a + 2) != ETHERTYPE_IP)
		return ignored(f, "ARP, not for IPv4 over Ethernet");
	if (a[4] != ETH_ALEN || a[5] != 4)
		return malformed(f, "ARP address lengths are not Ethernet's and IPv4's");
	if (f->len - off < ARP_IPV4_LEN)
		return malformed(f, "truncated ARP addresses");
	op = get16(a + 6);
	if (op != ARPOP_REQUEST && op != ARPOP_REPLY)
		return ignored(f, "ARP, neither request nor reply");
	if (!ck_mac_valid(sha))
		return refused(f, "ARP sender is not a unicast MAC");
	if (memcmp(sha, f->src, CK_MAC_LEN) != 0)
		return refused(f, "ARP sender is not the Ethernet source");
	spa = get32(a + 14);
	if (spa == 0)
		return ignored(f, "ARP probe (sender 0.0.0.0)");
	r = check_ipv4(f, spa, "ARP sender address is no host's");
	if (r < 0)
		return r;
	out->kind = LEARN_ARP;
	memcpy(out->mac, sha, CK_MAC_LEN);
	out->ipv4 = spa;
	return 0;
}

/* The NA's options, 8-byte units (RFC 4861 4.6): only the target's link-layer address matters. */
static int check_na_options(struct frame *f, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n;

		if (len < 2)
			return malformed(f, "NDP option cut off");
		n = (size_t)p[1] * 8;
		if (n == 0)
			return malformed(f, "NDP option of length 0");
		if (n > len)
			return malformed(f, "NDP option runs past the end");
		if (p[0] == ND_OPT_TARGET_LINKADDR) {
			if (n != 8)
				return malformed(f, "NDP target link-layer option "
						    "is not Ethernet's");
			if (memcmp(p + 2, f->src, CK_MAC_LEN) != 0)
				return refused(f, "NA target link-layer address is not the "
						  "Ethernet source");
		}
		p += n;
		len -= n;
	}
	return 0;
}

static bool icmpv6_sum_ok(const uint8_t *ip, size_t plen)
{
	/* The pseudo-header (RFC 8200 8.1): addresses, upper-layer length, next header. */
	uint64_t sum = sum_bytes(0, ip + 8, 32) + plen + IPPROTO_ICMPV6;

	return sum_ok(sum_bytes(sum, ip + IPV6_HDR_LEN, plen));
}

static int parse_ipv6(struct frame *f, size_t off, struct learn_event *out)
{
	const uint8_t *ip = f->p + off, *icmp = ip + IPV6_HDR_LEN;
	size_t avail = f->len - off, plen;
	int r;

	if (f->dir != LEARN_DIR_FROM_GUEST)
		return ignored(f, "IPv6 to the guest");
	if (avail < IPV6_HDR_LEN)
		return malformed(f, "truncated IPv6 header");
	if (ip[0] >> 4 != 6)
		return malformed(f, "IPv6 version is not 6");
	plen = get16(ip + 4);
	if (plen > avail - IPV6_HDR_LEN)
		return malformed(f, "IPv6 payload length outside the frame");
	/* NDP is never behind extension headers in practice; one that is, is not learnt. */
	if (ip[6] != IPPROTO_ICMPV6)
		return ignored(f, "IPv6, not ICMPv6 right after the header");
	if (plen < ICMPV6_HDR_LEN)
		return malformed(f, "truncated ICMPv6 header");
	if (icmp[0] != ND_NEIGHBOR_ADVERT)
		return ignored(f, "ICMPv6, not a neighbour advertisement");
	if (plen < NA_LEN)
		return malformed(f, "truncated neighbour advertisement");
	if (!(f->flags & LEARN_F_CSUM_PARTIAL) && !icmpv6_sum_ok(ip, plen))
		return malformed(f, "ICMPv6 checksum");
	/* RFC 4861 7.1.2: 255 proves it was not forwarded from another link. */
	if (ip[7] != 255)
		return refused(f, "NA hop limit is not 255");
	if (icmp[1] != 0)
		return refused(f, "NA code is not 0");
	if (!ck_mac_valid(f->src))
		return refused(f, "Ethernet source is not a unicast MAC");
	r = check_na_options(f, icmp + NA_LEN, plen - NA_LEN);
	if (r < 0)
		return r;
	r = check_ipv6(f, icmp + 8);
	if (r < 0)
		return r;
	out->kind = LEARN_NDP_NA;
	memcpy(out->mac, f->src, CK_MAC_LEN);
	memcpy(out->ipv6, icmp + 8, CK_IPV6_LEN);
	return 0;
}

static int parse_ethernet(struct frame *f, struct learn_event *out)
{
	size_t off = ETH_HLEN;
	uint16_t type;

	if (f->dir != LEARN_DIR_TO_GUEST && f->dir != LEARN_DIR_FROM_GUEST)
		return refused(f, "unknown direction");
	if (f->flags & ~LEARN_F_ALL)
		return refused(f, "unknown flags");
	if (f->len < ETH_HLEN)
		return malformed(f, "truncated Ethernet header");
	f->dst = f->p;
	f->src = f->p + ETH_ALEN;
	type = get16(f->p + 2 * ETH_ALEN);
	if (type == ETHERTYPE_VLAN) {
		if (f->len < ETH_HLEN + VLAN_TAG_LEN)
			return malformed(f, "truncated VLAN tag");
		type = get16(f->p + ETH_HLEN + 2);
		off += VLAN_TAG_LEN;
	}
	switch (type) {
	case ETHERTYPE_IP:
		return parse_ipv4(f, off, out);
	case ETHERTYPE_ARP:
		return parse_arp(f, off, out);
	case ETHERTYPE_IPV6:
		return parse_ipv6(f, off, out);
	default:
		return ignored(f, "EtherType is not IPv4, ARP or IPv6");
	}
}

int learn_parse(const uint8_t *untrusted, size_t len, enum learn_dir dir, unsigned int flags,
		struct learn_event *out, const char **why)
{
	struct frame f = { .p = untrusted, .len = len, .dir = dir, .flags = flags };
	int r;

	memset(out, 0, sizeof(*out));
	r = parse_ethernet(&f, out);
	if (r < 0)
		memset(out, 0, sizeof(*out));
	if (why)
		*why = r < 0 ? f.why : NULL;
	return r;
}

const char *learn_kind_name(uint8_t kind)
{
	switch (kind) {
	case LEARN_DHCP_LEASE:
		return "lease";
	case LEARN_DHCP_NAK:
		return "nak";
	case LEARN_DHCP_RELEASE:
		return "release";
	case LEARN_ARP:
		return "arp";
	case LEARN_NDP_NA:
		return "na";
	default:
		return "?";
	}
}
