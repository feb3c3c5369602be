/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Frames for cokeeperd's learning from vifs (cokeeperd/learn/), built byte by byte with a
 * checksum code of their own: the unit tests break one rule of a valid frame at a time, the
 * fuzzer's seed generator writes the valid ones.  No Check here (the fuzz build has none): a
 * frame that would not fit aborts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LF_MAX 4096

/* The guest domid 5's NIC, the DHCP server's, and what the server hands out. */
extern const uint8_t lf_guest_mac[6];	/* 00:16:3e:00:00:05 */
extern const uint8_t lf_server_mac[6];	/* 00:16:3e:00:00:fe */
extern const uint8_t lf_broadcast[6];
extern const uint8_t lf_guest_ipv6[16];	/* fd00::5 */
extern const uint8_t lf_all_nodes[16];	/* ff02::1 */
#define LF_GUEST_IP 0x0a000005u		/* 10.0.0.5 */
#define LF_SERVER_IP 0x0a0000feu	/* 10.0.0.254 */
#define LF_LEASE_S 3600u
#define LF_VLAN 10

struct lf {
	uint8_t b[LF_MAX];
	size_t len;
	uint16_t type;	/* the EtherType after any tag */
	size_t l3;	/* the IPv4, IPv6 or ARP header */
	size_t l4;	/* the UDP or ICMPv6 header; 0: none */
	size_t bootp;	/* the BOOTP message; 0: none */
	bool no_udp_csum;	/* lf_checksums leaves UDP's 0 (not computed) */
};

void lf_put(struct lf *f, const void *p, size_t n);
void lf_u8(struct lf *f, uint8_t v);
void lf_u16(struct lf *f, uint16_t v);
void lf_u32(struct lf *f, uint32_t v);
void lf_zeros(struct lf *f, size_t n);
/* Big-endian writes at an offset already written. */
void lf_set16(struct lf *f, size_t off, uint16_t v);
void lf_set32(struct lf *f, size_t off, uint32_t v);

/* Starts f afresh; vlan 0: no tag, else an 802.1Q tag of that id. */
void lf_eth(struct lf *f, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan,
	    uint16_t type);
/* A 20-byte IPv4 header: lengths and checksum are lf_finish's. */
void lf_ipv4(struct lf *f, uint32_t src, uint32_t dst, uint8_t proto);
void lf_udp(struct lf *f, uint16_t sport, uint16_t dport);
/* BOOTP's fixed part, Ethernet's htype and hlen, and DHCP's cookie: options come next. */
void lf_bootp(struct lf *f, uint8_t op, const uint8_t chaddr[6], uint32_t ciaddr,
	      uint32_t yiaddr);
void lf_option(struct lf *f, uint8_t code, const void *v, uint8_t n);
void lf_option32(struct lf *f, uint8_t code, uint32_t v);
void lf_ipv6(struct lf *f, const uint8_t src[16], const uint8_t dst[16], uint8_t next,
	     uint8_t hop_limit);
/* An NA's ICMPv6 header and target, flags solicited and override; options come next. */
void lf_na_header(struct lf *f, const uint8_t target[16]);
void lf_arp(struct lf *f, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
	    uint32_t tpa);

/* The length fields (IPv4 total, UDP, IPv6 payload) from f->len, then lf_checksums. */
void lf_finish(struct lf *f);
/* Every checksum, over what the length fields say (cut to the frame). */
void lf_checksums(struct lf *f);

/*
 * A DHCP message of type msg with its headers and option 53: a reply (ACK, NAK, OFFER) from
 * the server to the guest's MAC, else a request from the guest (ciaddr set in a RELEASE);
 * vlan as lf_eth's.  Then options, then lf_dhcp_end (option 255 and lf_finish).
 */
void lf_dhcp_begin(struct lf *f, uint8_t msg, uint16_t vlan);
void lf_dhcp_end(struct lf *f);

/* Valid frames, one of each kind learnt (with lf_guest_mac, LF_GUEST_IP, lf_guest_ipv6). */
void lf_dhcp_ack(struct lf *f, uint16_t vlan);	/* with options 54 and 51 */
void lf_dhcp_nak(struct lf *f);
void lf_dhcp_release(struct lf *f);
void lf_arp_reply(struct lf *f);
void lf_na(struct lf *f);	/* with a target link-layer address option */
