// SPDX-License-Identifier: GPL-2.0-only
/* learn-filter.h's program, written by hand: it is short, and each jump names its target. */
#include <string.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>

#include "learn-filter.h"

/*
 * The program, by instruction.  X holds the offset a VLAN tag adds (0 or 4) and, once the
 * IPv4 header's length is known, that plus the header's length: every load past the
 * EtherType is relative to X, so one path serves tagged and untagged frames.  A load past
 * the frame's end makes the kernel drop it.  Linux usually moves a VLAN tag out of the frame
 * into the skb before a packet tap sees it; the tagged case is for a vif that passes tags
 * through.  Whatever passes is checked again, fully, by the parser.
 */
enum {
	F_UNTAGGED,	/* X = 0 */
	F_TPID,		/* A = the EtherType, or the tag's TPID */
	F_IS_TAGGED,
	F_TAGGED,	/* X = 4 */
	F_INNER_TYPE,	/* A = the EtherType after the tag */
	F_IS_IPV4,
	F_IS_ARP,
	F_IS_IPV6,
	F_IPV4_PROTO,	/* IPv4: UDP, not a fragment */
	F_IS_UDP,
	F_IPV4_FRAG,
	F_IS_FRAGMENT,
	F_IHL,		/* X += the IPv4 header's length */
	F_IHL_MASK,
	F_IHL_BYTES,
	F_IHL_PLUS_TAG,
	F_IHL_TO_X,
	F_SPORT,	/* UDP: 67 to 68 or 68 to 67 */
	F_FROM_SERVER,
	F_FROM_CLIENT,
	F_DPORT_CLIENT,
	F_TO_CLIENT,
	F_DPORT_SERVER,
	F_TO_SERVER,
	F_IPV6_NEXT,	/* IPv6: ICMPv6 right after the header, type 136 */
	F_IS_ICMPV6,
	F_ICMPV6_TYPE,
	F_IS_NA,
	F_PKTTYPE,	/* from a guest only: not a copy going out of a port */
	F_IS_OUTGOING,
	F_ACCEPT,
	F_DROP,
	F_LEN
};

/* A jump's offset: relative to the instruction after it. */
#define TO(from, to) ((to) - (from) - 1)
#define L2 14		/* the Ethernet header, as if untagged */
#define LD(size, off) BPF_STMT(BPF_LD | (size) | BPF_IND, (off))
#define JEQ(at, k, yes, no) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), TO(at, yes), TO(at, no))

_Static_assert(F_LEN <= LEARN_FILTER_MAX, "LEARN_FILTER_MAX is too small");

unsigned short learn_filter_build(struct sock_filter prog[LEARN_FILTER_MAX], bool dhcp, bool arp,
				  uint32_t snaplen)
{
	int to_ipv4 = dhcp ? F_IPV4_PROTO : F_DROP;
	int to_arp = arp ? F_PKTTYPE : F_DROP;
	int to_ipv6 = arp ? F_IPV6_NEXT : F_DROP;
	const struct sock_filter p[F_LEN] = {
		[F_UNTAGGED] = BPF_STMT(BPF_LDX | BPF_W | BPF_IMM, 0),
		[F_TPID] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2 * ETH_ALEN),
		[F_IS_TAGGED] = JEQ(F_IS_TAGGED, ETH_P_8021Q, F_TAGGED, F_IS_IPV4),
		[F_TAGGED] = BPF_STMT(BPF_LDX | BPF_W | BPF_IMM, 4),
		[F_INNER_TYPE] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, L2 + 2),
		[F_IS_IPV4] = JEQ(F_IS_IPV4, ETH_P_IP, to_ipv4, F_IS_ARP),
		[F_IS_ARP] = JEQ(F_IS_ARP, ETH_P_ARP, to_arp, F_IS_IPV6),
		[F_IS_IPV6] = JEQ(F_IS_IPV6, ETH_P_IPV6, to_ipv6, F_DROP),

		[F_IPV4_PROTO] = LD(BPF_B, L2 + 9),
		[F_IS_UDP] = JEQ(F_IS_UDP, IPPROTO_UDP, F_IPV4_FRAG, F_DROP),
		[F_IPV4_FRAG] = LD(BPF_H, L2 + 6),
		/* More fragments, or an offset: the parser could not read it whole. */
		[F_IS_FRAGMENT] = BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff,
					   TO(F_IS_FRAGMENT, F_DROP), TO(F_IS_FRAGMENT, F_IHL)),
		[F_IHL] = LD(BPF_B, L2),
		[F_IHL_MASK] = BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x0f),
		[F_IHL_BYTES] = BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 2),
		[F_IHL_PLUS_TAG] = BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
		[F_IHL_TO_X] = BPF_STMT(BPF_MISC | BPF_TAX, 0),
		[F_SPORT] = LD(BPF_H, L2),
		[F_FROM_SERVER] = JEQ(F_FROM_SERVER, 67, F_DPORT_CLIENT, F_FROM_CLIENT),
		[F_FROM_CLIENT] = JEQ(F_FROM_CLIENT, 68, F_DPORT_SERVER, F_DROP),
		[F_DPORT_CLIENT] = LD(BPF_H, L2 + 2),
		[F_TO_CLIENT] = JEQ(F_TO_CLIENT, 68, F_ACCEPT, F_DROP),
		[F_DPORT_SERVER] = LD(BPF_H, L2 + 2),
		/* A client's message counts as it comes in from its guest (a DHCPRELEASE). */
		[F_TO_SERVER] = JEQ(F_TO_SERVER, 67, F_PKTTYPE, F_DROP),

		[F_IPV6_NEXT] = LD(BPF_B, L2 + 6),
		[F_IS_ICMPV6] = JEQ(F_IS_ICMPV6, IPPROTO_ICMPV6, F_ICMPV6_TYPE, F_DROP),
		[F_ICMPV6_TYPE] = LD(BPF_B, L2 + 40),
		[F_IS_NA] = JEQ(F_IS_NA, 136, F_PKTTYPE, F_DROP),

		/*
		 * What a guest sends is read as it comes in on its vif.  The bridge floods a
		 * broadcast (an ARP request, a DHCPDISCOVER) out of every other vif: those
		 * copies stay in the kernel, or one guest's broadcast would wake cokeeperd once
		 * per guest.  Server replies are wanted both ways (learn.c).
		 */
		[F_PKTTYPE] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
		[F_IS_OUTGOING] = JEQ(F_IS_OUTGOING, PACKET_OUTGOING, F_DROP, F_ACCEPT),

		[F_ACCEPT] = BPF_STMT(BPF_RET | BPF_K, snaplen),
		[F_DROP] = BPF_STMT(BPF_RET | BPF_K, 0),
	};

	memcpy(prog, p, sizeof(p));
	return F_LEN;
}
