/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR LGPL-2.1-or-later */
/*
 * CoKeeper co-resident table: the generic netlink family "cokeeper".
 *
 * The cokeeper module keeps, in each guest's kernel, the table of domains that share this
 * guest's physical host: their domid, uuid, name, state, and the MACs and addresses of their
 * virtual interfaces.  cokeeper-agent writes it; anyone may read it; the V4V-style fast path
 * looks peers up in it from softirq context (kmod-hook/include/cokeeper.h).
 *
 * Family "cokeeper", version COKEEPER_GENL_VERSION, multicast group "events".
 *
 * Table generation.  The table carries the (epoch, gen) of the daemon's membership it was last
 * brought to.  Epoch 0 means "never written".  COKEEPER_CMD_TABLE_REPLACE sets both;
 * COKEEPER_CMD_MEMBER_SET and COKEEPER_CMD_MEMBER_DEL set gen when they carry COKEEPER_A_EPOCH
 * and COKEEPER_A_GEN and the epoch equals the table's (otherwise -ESTALE, nothing changes).
 * Every change also advances an internal change counter that paged dumps check.
 *
 * Commands (attributes in brackets are optional):
 *
 * COKEEPER_CMD_MEMBER_SET    admin   COKEEPER_A_MEMBER, [COKEEPER_A_EPOCH, COKEEPER_A_GEN]
 *     Adds the member, or replaces the one with its domid (all of its keys are replaced).
 *     -ENOSPC when the table holds max_entries members already; -EEXIST when one of its
 *     MACs or addresses belongs to another member.
 *
 * COKEEPER_CMD_MEMBER_DEL    admin   COKEEPER_A_DOMID, [COKEEPER_A_EPOCH, COKEEPER_A_GEN]
 *     Removes the member.  Removing an absent domid is not an error (idempotent deltas);
 *     without a generation it then changes nothing and sends no event.
 *
 * COKEEPER_CMD_TABLE_REPLACE admin   COKEEPER_A_EPOCH, COKEEPER_A_GEN, [COKEEPER_A_MEMBERS]
 *     Replaces the whole table with the members nested in COKEEPER_A_MEMBERS (each a
 *     COKEEPER_A_MEMBER) atomically: a new table is built aside, swapped in under RCU, and the
 *     old one freed after a grace period.  A reader sees the old table or the new one, never a
 *     mix.  Any invalid member, or a domid given twice, fails the whole command with -EINVAL
 *     and leaves the table as it was.
 *
 * COKEEPER_CMD_FLUSH         admin   (none)
 *     Empties the table and resets (epoch, gen) to (0, 0).
 *
 * COKEEPER_CMD_GET           open    one of COKEEPER_A_DOMID, COKEEPER_A_IPV4, COKEEPER_A_IPV6,
 *                                    COKEEPER_A_MAC
 *     Replies with one COKEEPER_A_MEMBER, or fails with -ENOENT (not co-resident).
 *     Exactly one key; none or several: -EINVAL.
 *   with NLM_F_DUMP                   (none; attributes: -EINVAL, without a message since
 *                                      6.1 gives a dump's start no extack)
 *     Dumps every member, one message each, in pages.  Each message of a dump carries
 *     NLM_F_DUMP_INTR if the table changed since the dump began; the reader then restarts.
 *     The first message also carries COKEEPER_A_EPOCH and COKEEPER_A_GEN of the table the
 *     dump started from; an empty table dumps as that one message without a member.
 *
 * COKEEPER_CMD_STATUS        open    (none)
 *     Replies with COKEEPER_A_EPOCH, COKEEPER_A_GEN, COKEEPER_A_COUNT, COKEEPER_A_MAX_ENTRIES.
 *
 * "admin" commands need CAP_NET_ADMIN (GENL_ADMIN_PERM): -EPERM otherwise.  Every attribute has
 * a policy, so a wrong type fails with -EINVAL and a wrong length with -ERANGE, each with an
 * extended ACK message naming the attribute.  Every admin command accepts COKEEPER_A_FLAGS;
 * unknown bits are -EINVAL; GET and STATUS refuse the attribute.  COKEEPER_A_EPOCH 0 in a
 * request is -ERANGE.  A generation given while the table's epoch is 0 is -ESTALE.
 *
 * The family exists in the initial network namespace only.
 *
 * Notifications on the "events" group use the command that caused them:
 *   COKEEPER_CMD_MEMBER_SET     COKEEPER_A_MEMBER (the new state), COKEEPER_A_EPOCH, _GEN
 *   COKEEPER_CMD_MEMBER_DEL     COKEEPER_A_DOMID, COKEEPER_A_EPOCH, _GEN
 *   COKEEPER_CMD_TABLE_REPLACE  COKEEPER_A_EPOCH, COKEEPER_A_GEN, COKEEPER_A_COUNT
 *   COKEEPER_CMD_FLUSH          (none)
 *
 * A member (COKEEPER_A_MEMBER, nested COKEEPER_MEMBER_A_*):
 *   DOMID u32 (< 0x7FF0, required), UUID 16 bytes (required), NAME string of 1..64 printable
 *   bytes (required), STATE u8 (enum cokeeper_member_state, required), and up to
 *   COKEEPER_NICS_MAX COKEEPER_MEMBER_A_NIC nests, each with MAC (6 bytes, required) and up to
 *   COKEEPER_ADDRS_MAX repeated IPV4 (4 bytes, network order) and IPV6 (16 bytes) attributes,
 *   and SOURCES: one byte (enum cokeeper_addr_source) per address, the IPV4s' in their order
 *   then the IPV6s'; absent, every address is the toolstack's; any other length, or a source
 *   past COKEEPER_ADDR_SOURCE_MAX, is -EINVAL.  Writers send SOURCES only when one of the NIC's
 *   addresses is not the toolstack's (a module older than SOURCES refuses the attribute, so a
 *   member without it still goes in there), and the kernel answers the same way: it keeps each
 *   address's source and puts SOURCES in replies, dumps and notifications under that rule.
 *   In replies and dumps (not notifications) the kernel adds TX_PACKETS and TX_BYTES (u64):
 *   what the netfilter hook counted towards this peer.  They carry over when a member is
 *   rewritten with the same domid and uuid.  With the module parameter mark set, packets to
 *   a peer that have no mark yet get it after the mangle table, then a new route lookup.
 */
#ifndef _UAPI_LINUX_COKEEPER_H
#define _UAPI_LINUX_COKEEPER_H

#define COKEEPER_GENL_NAME "cokeeper"
/* 2: COKEEPER_NIC_A_SOURCES; a module of version 1 refuses it (strict validation). */
#define COKEEPER_GENL_VERSION 2
#define COKEEPER_GENL_MCGRP_EVENTS "events"

#define COKEEPER_DOMID_LIMIT 0x7FF0
#define COKEEPER_UUID_LEN 16
#define COKEEPER_NAME_MAX 64
#define COKEEPER_NICS_MAX 8
#define COKEEPER_ADDRS_MAX 8	/* per address family, per NIC */

/*
 * Where dom0 took an address from, in falling trust.  The fast path carries traffic only to
 * TOOLSTACK, ORCHESTRATOR and LEARNED addresses: a CLAIMED one is in the table only because
 * dom0's operator chose to trust what guests say about themselves, for lookups.
 */
enum cokeeper_addr_source {
	COKEEPER_ADDR_TOOLSTACK,	/* the vif backend's ip key (xl's ip=) */
	COKEEPER_ADDR_ORCHESTRATOR,	/* set by dom0's orchestrator (cokeeperctl addresses) */
	COKEEPER_ADDR_LEARNED,		/* dom0 saw it on the guest's vif (DHCP, ARP, NDP) */
	COKEEPER_ADDR_CLAIMED,		/* the guest's own attr/vif/N/ipv4|ipv6 */
	__COKEEPER_ADDR_LAST
};
#define COKEEPER_ADDR_SOURCE_MAX (__COKEEPER_ADDR_LAST - 1)

enum cokeeper_cmd {
	COKEEPER_CMD_UNSPEC,
	COKEEPER_CMD_MEMBER_SET,
	COKEEPER_CMD_MEMBER_DEL,
	COKEEPER_CMD_TABLE_REPLACE,
	COKEEPER_CMD_FLUSH,
	COKEEPER_CMD_GET,
	COKEEPER_CMD_STATUS,
	__COKEEPER_CMD_LAST
};
#define COKEEPER_CMD_MAX (__COKEEPER_CMD_LAST - 1)

enum cokeeper_member_state {
	COKEEPER_STATE_UNSPEC,
	COKEEPER_STATE_RUNNING,
	COKEEPER_STATE_MIGRATING_OUT,
	__COKEEPER_STATE_LAST
};
#define COKEEPER_STATE_MAX (__COKEEPER_STATE_LAST - 1)

/* No flags are defined yet; the attribute exists so that unknown bits are refused. */
#define COKEEPER_F_ALL 0U

enum cokeeper_attr {
	COKEEPER_A_UNSPEC,
	COKEEPER_A_EPOCH,		/* u64 */
	COKEEPER_A_GEN,			/* u64 */
	COKEEPER_A_MEMBER,		/* nest: COKEEPER_MEMBER_A_* */
	COKEEPER_A_MEMBERS,		/* nest: COKEEPER_A_MEMBER, repeated */
	COKEEPER_A_DOMID,		/* u32 */
	COKEEPER_A_IPV4,		/* 4 bytes, network order */
	COKEEPER_A_IPV6,		/* 16 bytes */
	COKEEPER_A_MAC,			/* 6 bytes */
	COKEEPER_A_COUNT,		/* u32 */
	COKEEPER_A_MAX_ENTRIES,		/* u32 */
	COKEEPER_A_FLAGS,		/* u32, COKEEPER_F_* */
	COKEEPER_A_PAD,
	__COKEEPER_A_LAST
};
#define COKEEPER_A_MAX (__COKEEPER_A_LAST - 1)

enum cokeeper_member_attr {
	COKEEPER_MEMBER_A_UNSPEC,
	COKEEPER_MEMBER_A_DOMID,	/* u32 */
	COKEEPER_MEMBER_A_UUID,		/* 16 bytes */
	COKEEPER_MEMBER_A_NAME,		/* NUL-terminated string, 1..64 bytes before the NUL */
	COKEEPER_MEMBER_A_STATE,	/* u8, enum cokeeper_member_state */
	COKEEPER_MEMBER_A_NIC,		/* nest: COKEEPER_NIC_A_*, repeated */
	COKEEPER_MEMBER_A_TX_PACKETS,	/* u64, kernel to user only */
	COKEEPER_MEMBER_A_TX_BYTES,	/* u64, kernel to user only */
	COKEEPER_MEMBER_A_PAD,
	__COKEEPER_MEMBER_A_LAST
};
#define COKEEPER_MEMBER_A_MAX (__COKEEPER_MEMBER_A_LAST - 1)

enum cokeeper_nic_attr {
	COKEEPER_NIC_A_UNSPEC,
	COKEEPER_NIC_A_MAC,		/* 6 bytes */
	COKEEPER_NIC_A_IPV4,		/* 4 bytes, network order, repeated */
	COKEEPER_NIC_A_IPV6,		/* 16 bytes, repeated */
	COKEEPER_NIC_A_SOURCES,		/* bytes, one enum cokeeper_addr_source per address */
	__COKEEPER_NIC_A_LAST
};
#define COKEEPER_NIC_A_MAX (__COKEEPER_NIC_A_LAST - 1)

#endif /* _UAPI_LINUX_COKEEPER_H */
