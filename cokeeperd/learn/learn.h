/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Learning guests' addresses in dom0 (issue 22, --learn=dhcp|arp): one AF_PACKET socket on
 * every interface, whose BPF filter lets through only DHCP between ports 67 and 68 and, with
 * LEARN_MODE_ARP, ARP and ICMPv6 neighbour advertisements.  Of those, only frames on a vif
 * ("vif<domid>.<devid>", or its "-emu" twin of an HVM guest) count, and the vif's name says
 * which domain they belong to; learn-parse.h says what is learnt from each.  What is found
 * goes to the owner's callbacks with that domid: that the MAC is a NIC of that domain's
 * member is the owner's check, because a frame on guest A's vif may name guest B's MAC (a
 * broadcast DHCP reply to B goes out of every vif on the bridge).
 *
 * The spoke owns its socket, its counters and its rate limit of log lines; it never calls
 * another spoke.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "learn-parse.h"

#define LEARN_MODE_DHCP (1U << 0)	/* leases, NAKs and releases */
#define LEARN_MODE_ARP (1U << 1)	/* ARP and neighbour advertisements */
#define LEARN_MODE_F_ALL (LEARN_MODE_DHCP | LEARN_MODE_ARP)

/*
 * The largest frame read: more than a 1500-byte MTU's with a VLAN tag.  A longer one (a
 * jumbo frame: no DHCP server sends one) is counted as truncated and not parsed: its
 * checksum cannot be verified.  The filter has the kernel cut it to one byte more than is
 * read, which MSG_TRUNC then reports.
 */
#define LEARN_FRAME_MAX 2048
/* Frames read per wake-up: the loop serves everything else between two bursts. */
#define LEARN_BURST 64

struct learn;

/*
 * domid: the one the vif's name gives.  mac: the guest's, as the frame says (a valid
 * unicast MAC).  ipv4 as numbers, like ck_nic's.  Each callback that the modes need must
 * be set; none may call learn_free() (the burst of frames goes on after it returns).
 */
struct learn_callbacks {
	/* LEARN_MODE_DHCP: a DHCPACK; lease_s may be LEARN_LEASE_INFINITE; server_id 0: none. */
	void (*lease)(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		      uint32_t ipv4, uint32_t lease_s, uint32_t server_id);
	/* LEARN_MODE_DHCP: a DHCPNAK to mac: whatever lease it holds is void. */
	void (*nak)(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN]);
	/* LEARN_MODE_DHCP: mac gave ipv4 back. */
	void (*release)(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
			uint32_t ipv4);
	/* LEARN_MODE_ARP: mac claimed ipv4 in an ARP request or reply. */
	void (*arp)(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN], uint32_t ipv4);
	/* LEARN_MODE_ARP: mac advertised ipv6 (global or unique local). */
	void (*na)(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		   const uint8_t ipv6[CK_IPV6_LEN]);
};

struct learn_counters {
	uint64_t frames;	/* read from the socket (or given to learn_dispatch) */
	uint64_t events;	/* delivered to a callback */
	uint64_t not_vif;	/* on an interface that is no vif (the bridge, a NIC) or is gone */
	uint64_t ignored;	/* on a vif, nothing to learn (-ENOENT, or a mode that is off) */
	uint64_t malformed;	/* the parser's -EBADMSG: bytes that do not parse */
	uint64_t refused;	/* the parser's -EINVAL: parses, but says what cannot be so */
	uint64_t truncated;	/* longer than LEARN_FRAME_MAX: not parsed */
	uint64_t dropped_by_kernel;	/* PACKET_STATISTICS: the receive buffer was full */
	uint64_t rogue_replies;	/* DHCP replies a guest sent, and replies to their clients */
};

/*
 * modes: LEARN_MODE_* (at least one).  event NULL opens no socket: frames come only through
 * learn_dispatch() (the unit tests, which cannot open AF_PACKET without CAP_NET_RAW).
 * Errors (-EPERM without CAP_NET_RAW, -EINVAL for unknown modes or a missing callback) are
 * logged here with the step that failed.
 */
int learn_new(struct learn **ret, sd_event *event, unsigned int modes,
	      const struct learn_callbacks *cb, void *userdata);
void learn_free(struct learn *l);

/*
 * One frame as the socket gives it: len bytes from the Ethernet header, seen on ifname,
 * with its sockaddr_ll's pkttype (PACKET_OUTGOING: to the guest; any other: from it) and
 * LEARN_F_* flags.  0 if a callback was called; else why not: -ENODEV not a vif, -ENOENT
 * nothing to learn, the parser's -EBADMSG / -EINVAL (counted and logged, rate-limited), or
 * -EPERM: a DHCP reply sent by a guest, or one to a MAC that a guest's reply went to in the
 * last 5 s (a guest's DHCP server, or forger, teaches nothing).
 */
int learn_dispatch(struct learn *l, const uint8_t *frame, size_t len, const char *ifname,
		   int pkttype, unsigned int flags);

/* The clock the 5 s after a guest's DHCP reply are counted on (tests); ck_now_usec. */
void learn_set_clock(struct learn *l, uint64_t (*now)(void));

/* The counters so far; reads the kernel's drop count first, when there is a socket. */
void learn_get_counters(struct learn *l, struct learn_counters *out);

/*
 * The domain a vif's name says: "vif<domid>.<devid>" or "vif<domid>.<devid>-emu", as xl's
 * hotplug scripts name them, decimal without leading zeros, domid below CK_DOMID_LIMIT.
 * 0 and *domid set, or -EINVAL for any other name (a vifname= chosen by the operator
 * included: it says no domid).
 */
int learn_vif_domid(const char *ifname, uint16_t *domid);
