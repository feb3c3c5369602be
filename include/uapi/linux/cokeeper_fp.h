/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR LGPL-2.1-or-later */
/*
 * CoKeeper fast path: the generic netlink family "cokeeper_fp" of cokeeper-fp.ko.
 *
 * cokeeper-fp.ko moves IPv4 traffic to a co-resident peer over a shared-memory channel:
 * pages granted by the lower domid (the offerer) and mapped by the higher (the acceptor),
 * plus an interdomain event channel.  The two modules never talk directly to set a channel
 * up: each tells its cokeeper-agent, which relays through cokeeperd, which rewrites the peer
 * domid from the identity of the vchan the message came on.  So CKFP_A_PEER_DOMID always
 * names "the other end": the destination in what the module sends, the source in what the
 * agent hands it.
 *
 * Family "cokeeper_fp", version CKFP_GENL_VERSION, multicast group "events" (needs
 * CAP_NET_ADMIN to join).
 *
 * Set-up:  offerer module  --OFFER-->  agent -> cokeeperd -> agent  --OFFER-->  acceptor module
 *          acceptor module --ACCEPT--> ...                         --ACCEPT--> offerer module
 *          either          --CLOSE-->  ...                         --CLOSE-->  the other
 *
 * Commands (the module multicasts OFFER, ACCEPT and CLOSE on "events" for the agent to relay;
 * the agent sends them to the module with what it received; all three are admin):
 *
 * CKFP_CMD_OFFER   PEER_DOMID, CHANNEL_ID, RING_VERSION, RING_ORDER, EVTCHN, GREFS
 *     The offerer's grants: GREFS is 1 + 2 * 2^RING_ORDER grant references (u32 each, host
 *     order): the control page, then the offerer->acceptor ring's pages, then the other's.
 * CKFP_CMD_ACCEPT  PEER_DOMID, CHANNEL_ID
 *     The acceptor mapped everything and bound the event channel.
 * CKFP_CMD_CLOSE   PEER_DOMID, CHANNEL_ID, [REASON]
 *     The channel is gone (or was never accepted).  CHANNEL_ID 0 closes whatever channel
 *     exists to the peer (cokeeperd and the agent send that when they cannot deliver an offer).
 * CKFP_CMD_GET     open, with NLM_F_DUMP: one message per peer the module knows, with
 *     PEER_DOMID, STATE, CHANNEL_ID, STATS and WHY (modules before WHY: the rest).  Without
 *     NLM_F_DUMP, PEER_DOMID: that one.
 *
 * A module that receives an OFFER it cannot take answers with a CLOSE; a set-up that does not
 * complete within a few seconds is closed by the module that started it.
 */
#ifndef _UAPI_LINUX_COKEEPER_FP_H
#define _UAPI_LINUX_COKEEPER_FP_H

#define CKFP_GENL_NAME "cokeeper_fp"
#define CKFP_GENL_VERSION 1
#define CKFP_GENL_MCGRP_EVENTS "events"

#define CKFP_RING_VERSION 1
#define CKFP_RING_ORDER_MIN 6
#define CKFP_RING_ORDER_MAX 8
#define CKFP_GREFS(order) (1U + 2U * (1U << (order)))
#define CKFP_GREFS_MAX CKFP_GREFS(CKFP_RING_ORDER_MAX)

enum ckfp_cmd {
	CKFP_CMD_UNSPEC,
	CKFP_CMD_OFFER,
	CKFP_CMD_ACCEPT,
	CKFP_CMD_CLOSE,
	CKFP_CMD_GET,
	__CKFP_CMD_LAST
};
#define CKFP_CMD_MAX (__CKFP_CMD_LAST - 1)

/* Why a channel closed or was refused; informational, for counters and logs. */
enum ckfp_close_reason {
	CKFP_CLOSE_UNSPEC,
	CKFP_CLOSE_SHUTDOWN,	/* module unloading, the fast path switched off, or an
				 * idle channel closed to make room for another */
	CKFP_CLOSE_PEER_GONE,	/* the peer left the table or is migrating away */
	CKFP_CLOSE_NO_FASTPATH,	/* the peer runs no fast path (no module, no agent) */
	CKFP_CLOSE_UNREACHABLE,	/* cokeeperd could not deliver the message */
	CKFP_CLOSE_BROKEN,	/* a ring broke the protocol */
	CKFP_CLOSE_TIMEOUT,	/* the set-up did not complete in time, or the peer left
				 * the ring unread too long (a stall) */
	CKFP_CLOSE_REFUSED,	/* the offer was invalid, unwanted or could not be mapped, the
				 * acceptor had no slot, or dom0 does not pair the two */
	CKFP_CLOSE_SUSPEND,	/* this guest is being suspended (save, migration) */
	__CKFP_CLOSE_LAST
};
#define CKFP_CLOSE_MAX (__CKFP_CLOSE_LAST - 1)

enum ckfp_state {
	CKFP_STATE_IDLE,	/* no channel */
	CKFP_STATE_OFFERED,	/* offerer: grants made, waiting for ACCEPT */
	CKFP_STATE_UP,		/* traffic to the peer takes the ring */
	CKFP_STATE_BACKOFF,	/* a set-up failed; retried later */
	__CKFP_STATE_LAST
};
#define CKFP_STATE_MAX (__CKFP_STATE_LAST - 1)

/*
 * Why the peer has a channel or not, as the module sees it now (CKFP_A_WHY): what an
 * operator asks first, which STATE alone does not tell.  New values may be added at the end.
 */
enum ckfp_why {
	CKFP_WHY_IDLE,		/* no traffic asked for a channel yet (on demand), or this
				 * guest is the acceptor and waits for the peer's offer */
	CKFP_WHY_UP,		/* the channel is up */
	CKFP_WHY_OFF,		/* the module's enable=0, this guest is suspending, or it
				 * waits for the table after a restore */
	CKFP_WHY_NOT_AUTHORIZED, /* the last set-up ended with a CLOSE(REFUSED) from the
				 * other side: dom0's fastpath.conf does not pair the two, or
				 * no longer does (also an offer the peer could not take) */
	CKFP_WHY_NO_SLOT,	/* traffic waits, but max_channels are taken and none has
				 * been idle long enough to make room */
	CKFP_WHY_BACKOFF,	/* a set-up failed; offered again later */
	CKFP_WHY_WAITING,	/* an offer is out, waiting for ACCEPT */
	CKFP_WHY_GONE,		/* the peer left the table (listed for its counters) */
	__CKFP_WHY_LAST
};
#define CKFP_WHY_MAX (__CKFP_WHY_LAST - 1)

enum ckfp_attr {
	CKFP_A_UNSPEC,
	CKFP_A_PEER_DOMID,	/* u32, < 0x7FF0 */
	CKFP_A_CHANNEL_ID,	/* u64 */
	CKFP_A_RING_VERSION,	/* u32 */
	CKFP_A_RING_ORDER,	/* u32, CKFP_RING_ORDER_MIN..MAX */
	CKFP_A_EVTCHN,		/* u32, the offerer's unbound port */
	CKFP_A_GREFS,		/* binary: u32[CKFP_GREFS(order)] */
	CKFP_A_REASON,		/* u32, enum ckfp_close_reason */
	CKFP_A_STATE,		/* u8, enum ckfp_state */
	CKFP_A_STATS,		/* nest: CKFP_STAT_A_* (u64 each) */
	CKFP_A_PAD,
	CKFP_A_WHY,		/* u8, enum ckfp_why (GET replies only) */
	__CKFP_A_LAST
};
#define CKFP_A_MAX (__CKFP_A_LAST - 1)

enum ckfp_stat_attr {
	CKFP_STAT_A_UNSPEC,
	CKFP_STAT_A_TX_PACKETS,		/* frames sent through the ring */
	CKFP_STAT_A_TX_BYTES,
	CKFP_STAT_A_RX_PACKETS,		/* frames received from the ring and injected */
	CKFP_STAT_A_RX_BYTES,
	CKFP_STAT_A_FALLBACKS,		/* frames to the peer left to netfront: not between the
					 * two ends' own addresses, or not carried as they are
					 * (GSO kind, size) */
	CKFP_STAT_A_TX_DROPS,		/* frames dropped once queued: the channel went down */
	CKFP_STAT_A_RX_DROPS,		/* records dropped: not between the two ends' own
					 * addresses (spoofed), no device up for them, bad
					 * checksum set-up, no memory */
	CKFP_STAT_A_BROKEN,		/* channels torn down because the peer broke the ring */
	CKFP_STAT_A_SETUPS,		/* channels that came up */
	CKFP_STAT_A_TEARDOWNS,		/* channels that went down */
	CKFP_STAT_A_EVENTS_SENT,	/* notifications sent to the peer */
	CKFP_STAT_A_EVENTS_RECEIVED,	/* notifications from the peer that found work */
	CKFP_STAT_A_EVENTS_SPURIOUS,	/* ... that found none (EOI'd as spurious: throttled) */
	CKFP_STAT_A_TX_TO_VIF,		/* frames to the peer left to netfront because the ring
					 * was full and so was the queue, or broken */
	CKFP_STAT_A_STALLS,		/* channels closed because the peer left what was sent
					 * unread too long (stall_timeout_ms) or closed its end
					 * of the event channel */
	CKFP_STAT_A_EVICTIONS,		/* channels closed after a second idle to make room for
					 * a peer with traffic waiting (max_channels) */
	CKFP_STAT_A_PAD,
	__CKFP_STAT_A_LAST
};
#define CKFP_STAT_A_MAX (__CKFP_STAT_A_LAST - 1)

#endif /* _UAPI_LINUX_COKEEPER_FP_H */
