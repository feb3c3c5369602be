// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for cokeeperd's gate for frames seen on a vif
 * (cokeeperd/learn/learn-parse.c).  Byte 0 says how the frame was seen: bit 0 set, sent by
 * the guest (else sent to it); bit 1 set, LEARN_F_CSUM_PARTIAL (its UDP or ICMPv6 checksum
 * not filled in, so not checked: this lets the fuzzer past them).  The rest is the frame,
 * copied to a buffer of exactly its size so that a read past the end is a finding.
 *
 * Invariants beyond "no crash, no out-of-bounds read":
 *  - the verdict is one of the four the header documents, a reason given for every refusal
 *    and the event zeroed; the same bytes give the same verdict and event twice;
 *  - what passes is of a known kind, names a unicast MAC, and the frame's own: the Ethernet
 *    source for what the guest sent, the destination (or broadcast) for what it received;
 *  - its address is a host's (not 0/8, 127/8, multicast, 240/4 or link-local; for IPv6 not
 *    unspecified, loopback, multicast or link-local), the fields of other kinds zero;
 *  - it is learnt in one direction only, and the same with LEARN_F_CSUM_PARTIAL;
 *  - Ethernet padding does not matter: one more byte after the frame, the same event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "learn-parse.h"

#define want(cond)                   \
	do {                         \
		if (!(cond))         \
			abort();     \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool ipv4_of_a_host(uint32_t a)
{
	uint8_t first = a >> 24;

	return first != 0 && first != 127 && first < 224 && (a >> 16) != 0xa9fe;
}

static bool ipv6_of_a_host(const uint8_t a[CK_IPV6_LEN])
{
	static const uint8_t loopback[CK_IPV6_LEN] = { [15] = 1 };

	return a[0] != 0xff && !all_zero(a, CK_IPV6_LEN) &&
	       memcmp(a, loopback, CK_IPV6_LEN) != 0 && !(a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

static int parse(const uint8_t *frame, size_t len, size_t room, enum learn_dir dir,
		 unsigned int flags, struct learn_event *ev)
{
	uint8_t *buf = malloc(room ? room : 1);
	const char *why;
	int r;

	want(buf);
	memcpy(buf, frame, len);
	memset(buf + len, 0, room - len);
	r = learn_parse(buf, room, dir, flags, ev, &why);
	want(r == 0 || r == -ENOENT || r == -EBADMSG || r == -EINVAL);
	want(!r == !why);
	if (r)
		want(why[0] && all_zero(ev, sizeof(*ev)));
	free(buf);
	return r;
}

static void check_event(const uint8_t *frame, enum learn_dir dir, const struct learn_event *ev)
{
	static const uint8_t broadcast[CK_MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	bool to = dir == LEARN_DIR_TO_GUEST;

	want(ev->kind > LEARN_UNSPEC && ev->kind <= LEARN_KIND_MAX);
	want(ck_mac_valid(ev->mac));
	switch (ev->kind) {
	case LEARN_DHCP_LEASE:
	case LEARN_DHCP_NAK:
		want(to);
		want(memcmp(ev->mac, frame, CK_MAC_LEN) == 0 ||
		     memcmp(frame, broadcast, CK_MAC_LEN) == 0);
		break;
	default:
		want(!to);
		want(memcmp(ev->mac, frame + CK_MAC_LEN, CK_MAC_LEN) == 0);
		break;
	}
	if (ev->kind == LEARN_DHCP_NAK || ev->kind == LEARN_NDP_NA)
		want(ev->ipv4 == 0);
	else
		want(ipv4_of_a_host(ev->ipv4));
	if (ev->kind == LEARN_NDP_NA)
		want(ipv6_of_a_host(ev->ipv6));
	else
		want(all_zero(ev->ipv6, CK_IPV6_LEN));
	if (ev->kind != LEARN_DHCP_LEASE)
		want(ev->lease_s == 0 && ev->server_id == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct learn_event ev, again;
	enum learn_dir dir, other;
	unsigned int flags;
	size_t len;
	int r;

	if (size < 1)
		return 0;
	dir = data[0] & 1 ? LEARN_DIR_FROM_GUEST : LEARN_DIR_TO_GUEST;
	other = dir == LEARN_DIR_TO_GUEST ? LEARN_DIR_FROM_GUEST : LEARN_DIR_TO_GUEST;
	flags = data[0] & 2 ? LEARN_F_CSUM_PARTIAL : 0;
	data++;
	len = size - 1;

	r = parse(data, len, len, dir, flags, &ev);
	want(parse(data, len, len, dir, flags, &again) == r);
	want(memcmp(&ev, &again, sizeof(ev)) == 0);
	if (r)
		return 0;
	check_event(data, dir, &ev);
	want(parse(data, len, len, other, flags, &again) == -ENOENT);
	want(parse(data, len, len, dir, flags | LEARN_F_CSUM_PARTIAL, &again) == 0);
	want(memcmp(&ev, &again, sizeof(ev)) == 0);
	want(parse(data, len, len + 1, dir, flags, &again) == 0);
	want(memcmp(&ev, &again, sizeof(ev)) == 0);
	return 0;
}
