/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Peers and their channels: the fast path's state.
 *
 * One struct ckfp_peer per domid the module has heard of, kept until the module unloads
 * (a few dozen bytes each); at most one channel per peer.  Every state change happens in
 * process context under ckfp_lock: the notifier, genl requests and each peer's work.  The
 * data path (the egress hook, NAPI) only follows peer->chan under RCU and never changes
 * state; when it finds a ring broken or the peer closing, it queues the peer's work.
 *
 * The peer's work reconciles what is with what should be: a channel may exist when the fast
 * path is on, this guest is not suspending, and the peer is a RUNNING member.  The lower
 * domid offers (allocates, grants, multicasts OFFER), on demand: once a frame to the peer
 * took the vif for want of a channel (ckfp_peer_demand); the higher accepts what it is
 * offered.  At most max_channels exist; when they are all taken, the one least recently used
 * makes room if it has been idle long enough (chan.c make_room).
 */
#ifndef _CKFP_CHAN_H
#define _CKFP_CHAN_H

#include <linux/atomic.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>

#include "shm.h"

enum ckfp_stat {
	CKFP_ST_TX_PACKETS,
	CKFP_ST_TX_BYTES,
	CKFP_ST_RX_PACKETS,
	CKFP_ST_RX_BYTES,
	CKFP_ST_FALLBACKS,
	CKFP_ST_TX_DROPS,
	CKFP_ST_RX_DROPS,
	CKFP_ST_BROKEN,
	CKFP_ST_SETUPS,
	CKFP_ST_TEARDOWNS,
	CKFP_ST_EVENTS_SENT,
	CKFP_ST_EVENTS_RECEIVED,
	CKFP_ST_EVENTS_SPURIOUS,
	CKFP_ST_TX_TO_VIF,
	CKFP_ST_STALLS,
	CKFP_ST_EVICTIONS,
	CKFP_ST_COUNT
};

struct ckfp_chan {
	struct ckfp_peer *peer;		/* outlives the channel */
	u64 id;
	struct ckfp_shm shm;
	struct ckfp_ring tx, rx;
	spinlock_t tx_lock;		/* tx, txq and txq_bytes */
	struct sk_buff_head txq;	/* frames waiting for ring space, in order */
	u32 txq_bytes;			/* their lengths (records' len), summed */
	int rx_ifindex;			/* NAPI only: the vif last delivered to; 0: none yet */
	struct page_pool *rx_pool;	/* NAPI's pages for large frames (recv.c), recycled */
	struct net_device *napi_dev;	/* a dummy device to hang NAPI on */
	struct napi_struct napi;
	bool napi_on;
	bool broken;			/* set by the data path: the peer broke the ring */
	bool peer_closing;		/* set by the data path: the peer's in-band close */
	/*
	 * Liveness (chan.c chan_watch): a tick that runs only while something we sent waits for
	 * the peer, queued by the data path under tx_lock, and never takes ckfp_lock.
	 */
	struct delayed_work watch_work;
	bool watched;			/* under tx_lock: watch_work is queued or running */
	struct ckfp_watch watch;	/* under tx_lock */
	unsigned long watch_since;	/* watch_work: jiffies the current wait began */
	bool stalled;			/* set by watch_work: the peer stopped reading the ring */
	bool port_lost;			/* set by watch_work: our port no longer reaches the peer */
	unsigned long up_at;		/* jiffies the channel came up */
	unsigned long last_used;	/* jiffies a frame last went through, either way */
	struct rcu_head rcu;
};

enum ckfp_peer_flag {
	/*
	 * Set by the data path when it asks for a channel and queues the work, cleared by the
	 * work once the peer is up or idle with no traffic waiting: while set, frames to the
	 * peer queue nothing (the work offers, or waits for a slot and is woken when one frees).
	 */
	CKFP_PEER_DEMAND,
};

struct ckfp_peer {
	u32 domid;
	u8 state;			/* enum ckfp_state */
	bool member;			/* a RUNNING member of the table, as last notified */
	struct ckfp_chan __rcu *chan;	/* UP only: what the data path uses */
	struct ckfp_chan *setup;	/* OFFERED: granted, waiting for ACCEPT */
	struct ckfp_chan *zombie;	/* closed, but the peer still maps some of its pages */
	unsigned long up_since;		/* jiffies the channel came up; 0 when not up */
	unsigned long retry_at;		/* BACKOFF: jiffies */
	unsigned int backoff;		/* seconds, doubled per failure up to 60 */
	u32 last_reason;		/* enum ckfp_close_reason of the last teardown */
	u32 peer_reason;		/* enum ckfp_close_reason of a CLOSE from the other side
					 * that ended the last set-up; UNSPEC once another starts */
	bool no_slot;			/* the last look for a slot found none (ckfp_peer_why) */
	unsigned long demand_at;	/* jiffies a frame to it last took the vif for want of a
					 * channel (the data path, at most once a jiffy) */
	unsigned long flags;		/* enum ckfp_peer_flag */
	struct delayed_work work;
	atomic64_t stats[CKFP_ST_COUNT];
};

extern struct mutex ckfp_lock;

static inline void ckfp_count(struct ckfp_peer *p, enum ckfp_stat s, u64 n)
{
	atomic64_add(n, &p->stats[s]);
}

/* The peer with this domid, under rcu_read_lock() (or ckfp_lock); NULL if never heard of. */
struct ckfp_peer *ckfp_peer_find(u32 domid);

/*
 * How set-up messages leave for the peer (through the agent): the genl family's multicasts.
 * Given at init, so that the core does not depend on the interface above it.
 */
struct ckfp_tell_ops {
	void (*offer)(u32 peer, const struct ckfp_chan *c);
	void (*accept)(u32 peer, u64 id);
	void (*close)(u32 peer, u64 id, u32 reason);
};

/*
 * Module lifecycle: init before anything else; stop (every channel down, no work left)
 * before the data path's hooks go; exit (peers freed) once nothing can look them up.
 */
int ckfp_chan_init(const struct ckfp_tell_ops *tell);
void ckfp_chan_stop(void);
void ckfp_chan_exit(void);

/* The enable parameter changed: every peer to what it should be now. */
void ckfp_reconcile_all(void);

/*
 * The table said something about a peer (notifier, process context); rewritten: its entry
 * changed (its keys, perhaps its identity), so a channel set up before goes down first.
 */
void ckfp_peer_event(u32 domid, bool running, bool rewritten);

/* The table is of a new epoch: every channel goes down, set up again from the new table. */
void ckfp_epoch_changed(void);

/* What the agent relayed from the peer (genl, process context, ckfp_lock not held). */
int ckfp_peer_offered(u32 domid, u64 id, u32 order, evtchn_port_t port, const u32 *grefs);
int ckfp_peer_accepted(u32 domid, u64 id);
int ckfp_peer_closed(u32 domid, u64 id, u32 reason);

/* The data path found the channel unusable: tear it down from process context. */
void ckfp_chan_fault(struct ckfp_chan *c);

/*
 * The data path: a frame to @p that the channel could carry took the vif because there is
 * none.  Under rcu_read_lock(); the caller stores at most once a jiffy (demand_at).
 */
void ckfp_peer_demand(struct ckfp_peer *p);

/* A frame went through the channel, either way: what make_room's LRU choice goes by. */
static inline void ckfp_chan_used(struct ckfp_chan *c)
{
	unsigned long now = jiffies;

	/* One store a jiffy at most: the line is shared by the sending CPUs and NAPI. */
	if (READ_ONCE(c->last_used) != now)
		WRITE_ONCE(c->last_used, now);
}

/* Starts the liveness tick; under tx_lock.  Through ckfp_chan_sent. */
void ckfp_chan_watch(struct ckfp_chan *c);

/*
 * Under tx_lock, after a frame went into the ring or the queue behind it: something now
 * waits for the peer, so the liveness tick runs (if it does not yet) until nothing does.
 */
static inline void ckfp_chan_sent(struct ckfp_chan *c)
{
	if (!c->watched)
		ckfp_chan_watch(c);
}

/* Every channel down (enable=0, suspend), or allowed again. */
void ckfp_set_active(bool active, u32 reason);

/*
 * After a suspend: cancelled (thaw) or completed, so perhaps on another host (restored): then
 * nothing is set up until the table names this guest by its new domid (the agent resynced).
 */
void ckfp_resume(bool restored);

/* This guest's domid as last read. */
u32 ckfp_self(void);

/* Why the peer has a channel or not (enum ckfp_why), for GET; under ckfp_lock. */
u8 ckfp_peer_why(const struct ckfp_peer *p);

/* Calls fn for every known peer under ckfp_lock, in domid order, from *pos on. */
int ckfp_peer_walk(unsigned long *pos, int (*fn)(struct ckfp_peer *p, void *ctx), void *ctx);

/* Kicks the peer's event channel, counted. */
static inline void ckfp_chan_notify(struct ckfp_chan *c)
{
	ckfp_count(c->peer, CKFP_ST_EVENTS_SENT, 1);
	ckfp_shm_notify(&c->shm);
}

/*
 * The receive side's page pool: pages of 2^CKFP_RX_POOL_ORDER, of which CKFP_RX_POOL_PAGES
 * wait spare in its ring and about as many more in its allocation cache, refilled from
 * the ring (~2 MiB a channel at most).
 */
#define CKFP_RX_POOL_ORDER 3U
#define CKFP_RX_POOL_PAGES 32U

/* The data path (xmit.c, recv.c). */
int ckfp_xmit_init(void);
void ckfp_xmit_exit(void);
int ckfp_chan_poll(struct napi_struct *napi, int budget);
void ckfp_chan_txq_drain(struct ckfp_chan *c);

extern bool ckfp_enable;

#endif /* _CKFP_CHAN_H */
