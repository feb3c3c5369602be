/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The classic BPF program learn.c attaches to its packet socket, so that cokeeperd wakes only
 * for frames the parser (learn-parse.h) may learn from: IPv4 UDP from port 67 to 68 or 68 to
 * 67, not a fragment (dhcp); ARP, and IPv6 whose next header is ICMPv6 of type 136 (arp).
 * One 802.1Q tag may precede the EtherType.  A program only, no socket: the unit test runs
 * it on a Unix datagram socket, which any user may filter.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <linux/filter.h>

#define LEARN_FILTER_MAX 32	/* instructions */

/*
 * Fills prog and returns its length.  A frame that passes is cut to snaplen bytes (which
 * MSG_TRUNC then reports as its length): one more than the reader's buffer, so that a
 * longer frame shows as one without the kernel keeping it whole.
 */
unsigned short learn_filter_build(struct sock_filter prog[LEARN_FILTER_MAX], bool dhcp, bool arp,
				  uint32_t snaplen);
