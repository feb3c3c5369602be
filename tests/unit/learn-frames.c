// SPDX-License-Identifier: GPL-2.0-only
/* learn-frames.h's builder.  Its checksums are computed byte by byte, not as the parser does. */
#include <stdlib.h>
#include <string.h>

#include "learn-frames.h"

const uint8_t lf_guest_mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x05 };
const uint8_t lf_server_mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0xfe };
const uint8_t lf_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const uint8_t lf_guest_ipv6[16] = { 0xfd, 0x00, [15] = 0x05 };
const uint8_t lf_all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };

void lf_put(struct lf *f, const void *p, size_t n)
{
	if (n > sizeof(f->b) - f->len)
		abort();
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

void lf_u8(struct lf *f, uint8_t v)
{
	lf_put(f, &v, 1);
}

void lf_u16(struct lf *f, uint16_t v)
{
	lf_u8(f, v >> 8);
	lf_u8(f, v & 0xff);
}

void lf_u32(struct lf *f, uint32_t v)
{
	lf_u16(f, v >> 16);
	lf_u16(f, v & 0xffff);
}

void lf_zeros(struct lf *f, size_t n)
{
	while (n--)
		lf_u8(f, 0);
}

void lf_set16(struct lf *f, size_t off, uint16_t v)
{
	if (off + 2 > f->len)
		abort();
	f->b[off] = v >> 8;
	f->b[off + 1] = v & 0xff;
}

void lf_set32(struct lf *f, size_t off, uint32_t v)
{
	lf_set16(f, off, v >> 16);
	lf_set16(f, off + 2, v & 0xffff);
}

static uint16_t get16(const struct lf *f, size_t off)
{
	return (uint16_t)(f->b[off] << 8 | f->b[off + 1]);
}

void lf_eth(struct lf *f, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan,
	    uint16_t type)
{
	memset(f, 0, sizeof(*f));
	lf_put(f, dst, 6);
	lf_put(f, src, 6);
	if (vlan) {
		lf_u16(f, 0x8100);
		lf_u16(f, vlan);
	}
	lf_u16(f, type);
	f->type = type;
	f->l3 = f->len;
}

void lf_ipv4(struct lf *f, uint32_t src, uint32_t dst, uint8_t proto)
{
	f->l3 = f->len;
	lf_u8(f, 0x45);
	lf_u8(f, 0);
	lf_u16(f, 0);		/* total length */
	lf_u16(f, 0x1234);	/* id */
	lf_u16(f, 0);		/* flags, fragment offset */
	lf_u8(f, 64);
	lf_u8(f, proto);
	lf_u16(f, 0);		/* checksum */
	lf_u32(f, src);
	lf_u32(f, dst);
}

void lf_udp(struct lf *f, uint16_t sport, uint16_t dport)
{
	f->l4 = f->len;
	lf_u16(f, sport);
	lf_u16(f, dport);
	lf_u16(f, 0);
	lf_u16(f, 0);
}

void lf_bootp(struct lf *f, uint8_t op, const uint8_t chaddr[6], uint32_t ciaddr,
	      uint32_t yiaddr)
{
	f->bootp = f->len;
	lf_u8(f, op);
	lf_u8(f, 1);		/* htype: Ethernet */
	lf_u8(f, 6);		/* hlen */
	lf_u8(f, 0);		/* hops */
	lf_u32(f, 0xdeadbeef);	/* xid */
	lf_u16(f, 0);		/* secs */
	lf_u16(f, 0);		/* flags */
	lf_u32(f, ciaddr);
	lf_u32(f, yiaddr);
	lf_u32(f, op == 2 ? LF_SERVER_IP : 0);	/* siaddr */
	lf_u32(f, 0);		/* giaddr */
	lf_put(f, chaddr, 6);
	lf_zeros(f, 10 + 64 + 128);	/* chaddr's rest, sname, file */
	lf_u32(f, 0x63825363);
}

void lf_option(struct lf *f, uint8_t code, const void *v, uint8_t n)
{
	lf_u8(f, code);
	lf_u8(f, n);
	lf_put(f, v, n);
}

void lf_option32(struct lf *f, uint8_t code, uint32_t v)
{
	lf_u8(f, code);
	lf_u8(f, 4);
	lf_u32(f, v);
}

void lf_ipv6(struct lf *f, const uint8_t src[16], const uint8_t dst[16], uint8_t next,
	     uint8_t hop_limit)
{
	f->l3 = f->len;
	lf_u32(f, 0x60000000);
	lf_u16(f, 0);		/* payload length */
	lf_u8(f, next);
	lf_u8(f, hop_limit);
	lf_put(f, src, 16);
	lf_put(f, dst, 16);
	f->l4 = f->len;
}

void lf_na_header(struct lf *f, const uint8_t target[16])
{
	lf_u8(f, 136);
	lf_u8(f, 0);
	lf_u16(f, 0);		/* checksum */
	lf_u32(f, 0x20000000);	/* override */
	lf_put(f, target, 16);
}

void lf_arp(struct lf *f, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
	    uint32_t tpa)
{
	lf_u16(f, 1);
	lf_u16(f, 0x0800);
	lf_u8(f, 6);
	lf_u8(f, 4);
	lf_u16(f, op);
	lf_put(f, sha, 6);
	lf_u32(f, spa);
	lf_put(f, tha, 6);
	lf_u32(f, tpa);
}

void lf_finish(struct lf *f)
{
	if (f->type == 0x0800 && f->len >= f->l3 + 20) {
		lf_set16(f, f->l3 + 2, f->len - f->l3);
		if (f->l4 && f->b[f->l3 + 9] == 17)
			lf_set16(f, f->l4 + 4, f->len - f->l4);
	} else if (f->type == 0x86dd && f->len >= f->l3 + 40) {
		lf_set16(f, f->l3 + 4, f->len - f->l3 - 40);
	}
	lf_checksums(f);
}

/* RFC 1071, a byte at a time. */
static uint32_t add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t cut(const struct lf *f, size_t off, size_t n)
{
	return off > f->len ? 0 : n < f->len - off ? n : f->len - off;
}

void lf_checksums(struct lf *f)
{
	uint32_t sum;
	uint16_t c;
	size_t n;

	if (f->type == 0x0800 && f->len >= f->l3 + 20) {
		lf_set16(f, f->l3 + 10, 0);
		n = cut(f, f->l3, (size_t)(f->b[f->l3] & 0x0f) * 4);
		lf_set16(f, f->l3 + 10, fold(add(0, f->b + f->l3, n)));
		if (f->l4 && f->b[f->l3 + 9] == 17 && f->len >= f->l4 + 8) {
			lf_set16(f, f->l4 + 6, 0);
			if (f->no_udp_csum)
				return;
			n = cut(f, f->l4, get16(f, f->l4 + 4));
			sum = add(17 + get16(f, f->l4 + 4), f->b + f->l3 + 12, 8);
			c = fold(add(sum, f->b + f->l4, n));
			lf_set16(f, f->l4 + 6, c ? c : 0xffff);
		}
	} else if (f->type == 0x86dd && f->len >= f->l4 + 4 && f->b[f->l3 + 6] == 58) {
		lf_set16(f, f->l4 + 2, 0);
		n = cut(f, f->l4, get16(f, f->l3 + 4));
		sum = add(58 + get16(f, f->l3 + 4), f->b + f->l3 + 8, 32);
		lf_set16(f, f->l4 + 2, fold(add(sum, f->b + f->l4, n)));
	}
}

void lf_dhcp_begin(struct lf *f, uint8_t msg, uint16_t vlan)
{
	if (msg == 2 || msg == 5 || msg == 6) {
		lf_eth(f, lf_guest_mac, lf_server_mac, vlan, 0x0800);
		lf_ipv4(f, LF_SERVER_IP, msg == 6 ? 0xffffffffu : LF_GUEST_IP, 17);
		lf_udp(f, 67, 68);
		lf_bootp(f, 2, lf_guest_mac, 0, msg == 6 ? 0 : LF_GUEST_IP);
	} else {
		lf_eth(f, lf_server_mac, lf_guest_mac, vlan, 0x0800);
		lf_ipv4(f, LF_GUEST_IP, LF_SERVER_IP, 17);
		lf_udp(f, 68, 67);
		lf_bootp(f, 1, lf_guest_mac, msg == 7 ? LF_GUEST_IP : 0, 0);
	}
	lf_option(f, 53, &msg, 1);
}

void lf_dhcp_end(struct lf *f)
{
	lf_u8(f, 255);
	lf_finish(f);
}

void lf_dhcp_ack(struct lf *f, uint16_t vlan)
{
	lf_dhcp_begin(f, 5, vlan);
	lf_option32(f, 54, LF_SERVER_IP);
	lf_option32(f, 51, LF_LEASE_S);
	lf_dhcp_end(f);
}

void lf_dhcp_nak(struct lf *f)
{
	lf_dhcp_begin(f, 6, 0);
	lf_option32(f, 54, LF_SERVER_IP);
	lf_dhcp_end(f);
}

void lf_dhcp_release(struct lf *f)
{
	lf_dhcp_begin(f, 7, 0);
	lf_option32(f, 54, LF_SERVER_IP);
	lf_dhcp_end(f);
}

void lf_arp_reply(struct lf *f)
{
	lf_eth(f, lf_server_mac, lf_guest_mac, 0, 0x0806);
	lf_arp(f, 2, lf_guest_mac, LF_GUEST_IP, lf_server_mac, LF_SERVER_IP);
}

void lf_na(struct lf *f)
{
	const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };

	lf_eth(f, all_nodes_mac, lf_guest_mac, 0, 0x86dd);
	lf_ipv6(f, lf_guest_ipv6, lf_all_nodes, 58, 255);
	lf_na_header(f, lf_guest_ipv6);
	lf_u8(f, 2);		/* target link-layer address */
	lf_u8(f, 1);
	lf_put(f, lf_guest_mac, 6);
	lf_finish(f);
}
