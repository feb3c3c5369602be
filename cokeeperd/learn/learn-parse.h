/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one gate for frames seen on a guest's vif (issue 22): an Ethernet frame in, as an
 * AF_PACKET SOCK_RAW socket hands it over, and out what it says about the guest's addresses
 * (a DHCP lease, NAK or release, an ARP or a neighbour advertisement).  Pure: no socket, no
 * allocation, no state, so the unit test and the fuzzer (tests/fuzz/fuzz-learn-parse.c)
 * drive exactly what cokeeperd runs.  Nothing in a frame is trusted beyond these checks: a
 * guest writes every byte of what it sends, and any host on the bridge every byte of a
 * DHCP reply.  Whether the MAC is the vif's member's own is the caller's check.
 *
 * What is learnt:
 *  - LEARN_DHCP_LEASE: a DHCPACK going to the guest (UDP 67 to 68, BOOTP op 2, Ethernet
 *    htype and hlen, the DHCP cookie, option 53 = 5).  mac is chaddr, which must be the
 *    Ethernet destination unless that is broadcast; ipv4 is yiaddr; lease_s option 51
 *    (LEARN_LEASE_INFINITE when absent, as RFC 2132 spells an infinite one); server_id
 *    option 54 (0 when absent).  An ACK with yiaddr 0 (the answer to a DHCPINFORM) leases
 *    nothing: -ENOENT.
 *  - LEARN_DHCP_NAK: a DHCPNAK (53 = 6) going to the guest, same MAC rule: the client's
 *    lease, if any, is void.
 *  - LEARN_DHCP_RELEASE: a DHCPRELEASE (UDP 68 to 67, op 1, 53 = 7) from the guest: mac is
 *    chaddr, which must be the Ethernet source; ipv4 is ciaddr.
 *  - LEARN_ARP: an ARP request or reply (Ethernet/IPv4) from the guest: mac is the sender's,
 *    which must be the Ethernet source; ipv4 the sender's.  A probe (sender 0.0.0.0) says
 *    nothing: -ENOENT; a gratuitous ARP counts.
 *  - LEARN_NDP_NA: an ICMPv6 neighbour advertisement (type 136, code 0, hop limit 255) from
 *    the guest: mac is the Ethernet source (a target link-layer address option, if any,
 *    must be the same), ipv6 the target.
 * One 802.1Q tag may precede the EtherType.  Checksums are verified: IPv4 headers always,
 * UDP's when non-zero and ICMPv6's, unless LEARN_F_CSUM_PARTIAL says the kernel has not
 * filled them in yet (see there).
 *
 * Addresses learnt are a host's: for IPv4 not 0/8, 127/8, multicast or 240/4 (broadcast
 * included), for IPv6 not unspecified, loopback or multicast.  Link-local ones (169.254/16,
 * fe80::/10) are real but no lookup by address wants them: -ENOENT, like other traffic.
 *
 * The return value sorts every other frame into one of three, for the caller to count (and
 * log the last two, rate-limited):
 *  -ENOENT   not a frame we learn from, and nothing wrong with it as far as we looked: another
 *            EtherType, protocol, port, DHCP message type or ARP op; a frame in the other
 *            direction (ARP to the guest is another guest's); an IPv4 fragment; BOOTP
 *            without DHCP; a probe; a link-local address.
 *  -EBADMSG  the bytes do not parse: a header or option cut off by the frame's end or by a
 *            length field, a length that lies, a bad checksum, a bad version, a malformed
 *            DHCP option list (no end option, an option twice, a wrong length) or NDP option.
 *  -EINVAL   it parses, but what it says cannot be so, or is refused: a MAC that is not a
 *            unicast station's or is not the frame's own (chaddr, the ARP sender, a target
 *            link-layer option), an address that is no host's (above), a BOOTP op that its
 *            ports contradict, an NA with a hop limit below 255 (it crossed a router) or a
 *            non-zero code.  Also: a direction or flags this API does not know.
 * The header of each layer is checked (bounds first, then whether it is one of ours, then
 * its checksum) before the next layer is looked at.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "member.h"

enum learn_dir {
	LEARN_DIR_UNSPEC = 0,
	LEARN_DIR_TO_GUEST,	/* sent out of the vif (PACKET_OUTGOING): to the guest */
	LEARN_DIR_FROM_GUEST,	/* received on the vif: the guest sent it */
	__LEARN_DIR_LAST
};
#define LEARN_DIR_MAX (__LEARN_DIR_LAST - 1)

/*
 * The kernel has not computed the frame's UDP or ICMPv6 checksum yet (TP_STATUS_CSUMNOTREADY
 * in PACKET_AUXDATA): the sender offloaded it (CHECKSUM_PARTIAL), as a DHCP server in dom0
 * or a netfront does, and the field holds only the pseudo-header's sum.  The IPv4 header's
 * is never offloaded, so it is checked regardless.
 */
#define LEARN_F_CSUM_PARTIAL (1U << 0)
#define LEARN_F_ALL LEARN_F_CSUM_PARTIAL

enum learn_kind {
	LEARN_UNSPEC = 0,
	LEARN_DHCP_LEASE,
	LEARN_DHCP_NAK,
	LEARN_DHCP_RELEASE,
	LEARN_ARP,
	LEARN_NDP_NA,
	__LEARN_LAST
};
#define LEARN_KIND_MAX (__LEARN_LAST - 1)

/* Option 51's own spelling of "infinite" (RFC 2132), and what an ACK without one gets. */
#define LEARN_LEASE_INFINITE UINT32_MAX

struct learn_event {
	uint8_t kind;			/* enum learn_kind */
	uint8_t mac[CK_MAC_LEN];	/* the guest's: a valid unicast MAC (ck_mac_valid) */
	uint32_t ipv4;			/* lease, release, arp; as numbers, like ck_nic's */
	uint8_t ipv6[CK_IPV6_LEN];	/* na */
	uint32_t lease_s;		/* lease: seconds, or LEARN_LEASE_INFINITE */
	uint32_t server_id;		/* lease: option 54, 0 when absent */
	uint32_t xid;			/* lease, nak, release: the DHCP transaction */
};

/*
 * untrusted: len bytes from the Ethernet header on.  0 and *out filled, or a negative errno
 * as above with *out zeroed.  why (may be NULL) receives a short static reason on a
 * rejection ("IPv4 header checksum"), NULL on success.
 */
int learn_parse(const uint8_t *untrusted, size_t len, enum learn_dir dir, unsigned int flags,
		struct learn_event *out, const char **why);

/* "lease", "nak", "release", "arp", "na"; "?" for anything else. */
const char *learn_kind_name(uint8_t kind);
