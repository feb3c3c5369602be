// SPDX-License-Identifier: GPL-2.0-only
/* Peers, channels and their lifecycle (chan.h). */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <net/page_pool.h>
#include <uapi/linux/cokeeper_fp.h>

#include "chan.h"
#include "ckfp-lru.h"

/*
 * 1 MiB per direction: in the lab (TCG) a 64 MiB stream ran 2.3x faster than with 256 KiB
 * rings in the same boot (run 20261130-125926-31893): a GSO record is up to 64 KiB, and the
 * sender must not wait for each wake-up of the receiver.  It costs the offerer 2 MiB per channel.
 */
static unsigned int ring_order = CKFP_ORDER_MAX;
module_param(ring_order, uint, 0444);
MODULE_PARM_DESC(ring_order, "pages per ring and direction as a power of two (6..8, default 8: 1 MiB)");

/*
 * Channels are made on demand and at most max_channels at once (closed ones whose pages the
 * peer still maps included): a peer with traffic waiting when they are all taken gets the slot
 * of the least recently used, once that one has carried nothing for CHAN_IDLE.
 */
static unsigned int max_channels = 8;
module_param(max_channels, uint, 0444);
MODULE_PARM_DESC(max_channels, "most channels this guest offers or accepts at once (default 8)");
/*
 * How long a channel must have carried nothing before it may be closed for another peer, and
 * how recent a frame to a peer without one must be for it to wait for one: the same second,
 * so a channel in use is never taken for a peer that sent less recently than it did.
 */
#define CHAN_IDLE HZ

/*
 * How long a peer may leave what we sent unread before its channel goes down and the vif
 * carries the traffic: it must have read, within this time, everything it had been given when
 * the wait began (ckfp_ring_watch).  A live module reads in NAPI, whatever its sockets do, so
 * only a peer that is stopped (paused, hung, hostile) takes that long.  0: no limit (the tick
 * still checks the event channel).  Writable at run time.
 */
static unsigned int stall_timeout_ms = 2000;
module_param(stall_timeout_ms, uint, 0644);
MODULE_PARM_DESC(stall_timeout_ms, "ms a peer may leave what we sent unread before its channel closes (default 2000, 0: no limit)");

/* How long an offer may wait for its ACCEPT; a set-up that fails is retried after 1..60 s. */
#define OFFER_TIMEOUT (10 * HZ)
#define BACKOFF_MAX_S 60

DEFINE_MUTEX(ckfp_lock);
static DEFINE_XARRAY(peers);		/* domid -> struct ckfp_peer; freed at exit only */
static struct workqueue_struct *wq;
static domid_t self;			/* this guest's domid, re-read after a resume */
static bool active;			/* false: suspending, or not yet started */
static u32 inactive_reason = CKFP_CLOSE_SHUTDOWN;
static unsigned int nchans;		/* channels offered, up, or closed but still mapped */
static bool exiting;
static const struct ckfp_tell_ops *tell_ops;
/*
 * After this guest was restored (a migration, or xl restore) its table describes the old host
 * until the agent has resynced: a domid there may name another domain here.  No channel is
 * offered or accepted until the table names this guest by its new domid as RUNNING, however
 * long that takes (no timer: a stale table is never trusted).  That entry comes from the
 * agent's resync, as the old table knew this guest by its old domid only.  A replaced table
 * tells its removals and rewrites before its additions, so when this guest's entry is an
 * addition, the stale peers are gone by then; when it is a rewrite (the new domid was a peer's
 * on the old host), a stale peer's rewrite may still follow, and takes its channel down.
 */
static bool resync_pending;
/*
 * How often to look again whether a peer has unmapped a closed channel's pages; the first
 * look comes sooner, because an honest peer unmaps as soon as it sees our in-band close, and
 * until it does the channel still takes a slot that a waiting peer could have.
 */
#define ZOMBIE_RETRY (5 * HZ)
#define ZOMBIE_FIRST_RETRY (HZ / 5)
/* A channel that lived this long resets the backoff: the next failure waits 1 s again. */
#define UP_STABLE (60 * HZ)

struct ckfp_peer *ckfp_peer_find(u32 domid)
{
	return xa_load(&peers, domid);
}

static void peer_schedule(struct ckfp_peer *p, unsigned long delay)
{
	if (!exiting)
		mod_delayed_work(wq, &p->work, delay);
}

static bool wanted(const struct ckfp_peer *p)
{
	return active && !resync_pending && READ_ONCE(ckfp_enable) && self && p->member &&
	       p->domid != self;
}

u32 ckfp_self(void)
{
	return READ_ONCE(self);
}

static u32 unwanted_reason(const struct ckfp_peer *p)
{
	if (!active)
		return inactive_reason;
	return READ_ONCE(ckfp_enable) ? CKFP_CLOSE_PEER_GONE : CKFP_CLOSE_SHUTDOWN;
}

static irqreturn_t chan_irq(int irq, void *dev)
{
	struct ckfp_chan *c = dev;
	/*
	 * Work: records to read, the peer closing, or room it made for frames waiting in our
	 * queue (its consumer index moved since our producer last looked).  Frames waiting alone
	 * are not work: a peer that stops reading our ring could otherwise storm us with events
	 * that each wake NAPI for nothing, never throttled.  An event with no work is spurious,
	 * and the kernel's late EOI holds this port's next event back a little longer after each
	 * spurious one in a row (from the second: 1, 2, 4 ... jiffies, up to a second).  A racy
	 * look can only delay an EOI or miss a throttle; NAPI reads the ring properly, and the
	 * liveness tick kicks NAPI while frames wait, should an event be lost.
	 */
	bool work = le32_to_cpu(READ_ONCE(c->rx.peer->tx_prod)) != READ_ONCE(c->rx.idx) ||
		    READ_ONCE(c->rx.peer->closing) ||
		    (!skb_queue_empty_lockless(&c->txq) &&
		     le32_to_cpu(READ_ONCE(c->tx.peer->rx_cons)) != READ_ONCE(c->tx.seen));

	/*
	 * A poll under way may have taken the records this event announced: not spurious.
	 * (Two spurious events in a row make Xen's late EOI hold this port's next one back.)
	 */
	if (!work && test_bit(NAPI_STATE_SCHED, &c->napi.state))
		work = true;
	if (work)
		napi_schedule(&c->napi);
	ckfp_count(c->peer, work ? CKFP_ST_EVENTS_RECEIVED : CKFP_ST_EVENTS_SPURIOUS, 1);
	xen_irq_lateeoi(irq, work ? 0 : XEN_EOI_FLAG_SPURIOUS);
	return IRQ_HANDLED;
}

/* The liveness tick: a quarter of the stall timeout, between 50 and 500 ms. */
static unsigned long watch_tick(void)
{
	unsigned long t = msecs_to_jiffies(READ_ONCE(stall_timeout_ms));

	if (!t)
		return HZ / 2;
	return clamp(t / 4, (unsigned long)HZ / 20, (unsigned long)HZ / 2);
}

void ckfp_chan_watch(struct ckfp_chan *c)
{
	lockdep_assert_held(&c->tx_lock);
	c->watched = true;
	queue_delayed_work(wq, &c->watch_work, watch_tick());
}

/*
 * While something we sent waits for the peer (chan.h): is it still there?  Its end of the
 * event channel must still be bound to ours, and it must read what we give it
 * (stall_timeout_ms).  When it fails either, the channel is marked and the peer's work tears
 * it down, as after a broken ring: this work never takes ckfp_lock, which chan_destroy holds
 * while it cancels it.
 */
static void chan_watch(struct work_struct *w)
{
	struct ckfp_chan *c = container_of(to_delayed_work(w), struct ckfp_chan, watch_work);
	unsigned long timeout = msecs_to_jiffies(READ_ONCE(stall_timeout_ms));
	bool queued;
	int state;

	if (ckfp_shm_port_check(&c->shm) == -ENOTCONN) {
		WRITE_ONCE(c->port_lost, true);
		ckfp_chan_fault(c);
		return;		/* still "watched": nothing queues it again on the way down */
	}
	spin_lock_bh(&c->tx_lock);
	queued = !skb_queue_empty(&c->txq);
	state = ckfp_ring_watch(&c->tx, &c->watch, queued);
	if (state == CKFP_WATCH_IDLE)
		c->watched = false;	/* the next frame sent queues the tick again */
	spin_unlock_bh(&c->tx_lock);
	if (state == CKFP_WATCH_IDLE)
		return;
	if (state < 0) {
		WRITE_ONCE(c->broken, true);
		ckfp_chan_fault(c);
		return;
	}
	if (state == CKFP_WATCH_MOVING) {
		c->watch_since = jiffies;
	} else if (timeout && time_after_eq(jiffies, c->watch_since + timeout) &&
		   /*
		    * The acceptor may send as soon as it has accepted, and the offerer reads
		    * nothing before that ACCEPT reached it through both agents and dom0: what it
		    * leaves unread until then is the relay's delay, and an ACCEPT that never
		    * arrives is the offerer's set-up timeout to handle.
		    */
		   (c->shm.side == CKFP_OFFERER || time_after_eq(jiffies, c->up_at + OFFER_TIMEOUT))) {
		WRITE_ONCE(c->stalled, true);
		ckfp_chan_fault(c);
		return;
	}
	/* Frames queued for room: NAPI writes what fits now, even if an event was lost. */
	if (queued) {
		local_bh_disable();
		napi_schedule(&c->napi);
		local_bh_enable();
	}
	queue_delayed_work(wq, &c->watch_work, watch_tick());
}

static struct ckfp_chan *chan_alloc(struct ckfp_peer *p)
{
	struct ckfp_chan *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	c->peer = p;
	c->shm.irq = -1;
	spin_lock_init(&c->tx_lock);
	skb_queue_head_init(&c->txq);
	INIT_DELAYED_WORK(&c->watch_work, chan_watch);
	return c;
}

/* Rings, NAPI and the event channel of a channel whose shared memory is in place. */
static int chan_start(struct ckfp_chan *c)
{
	const struct page_pool_params pool = {
		.order = CKFP_RX_POOL_ORDER,
		.pool_size = CKFP_RX_POOL_PAGES,
		.nid = NUMA_NO_NODE,
	};
	int err;

	err = ckfp_shm_ring_init(&c->shm, &c->tx, CKFP_TX) ?:
	      ckfp_shm_ring_init(&c->shm, &c->rx, CKFP_RX);
	if (err)
		return err;
	c->rx_pool = page_pool_create(&pool);
	if (IS_ERR(c->rx_pool)) {
		err = PTR_ERR(c->rx_pool);
		c->rx_pool = NULL;
		return err;
	}
	c->napi_dev = kzalloc(sizeof(*c->napi_dev), GFP_KERNEL);
	if (!c->napi_dev)
		return -ENOMEM;
	init_dummy_netdev(c->napi_dev);
	netif_napi_add(c->napi_dev, &c->napi, ckfp_chan_poll);
	napi_enable(&c->napi);
	c->napi_on = true;
	err = ckfp_shm_bind(&c->shm, chan_irq, "cokeeper-fp", c);
	if (err)
		return err;
	/* Whatever the peer wrote before our port was bound. */
	napi_schedule(&c->napi);
	return 0;
}

/* A slot came free (nchans went down): the peers with traffic waiting look again. */
static void slot_freed(void)
{
	struct ckfp_peer *p;
	unsigned long i;

	xa_for_each(&peers, i, p)
		if (test_bit(CKFP_PEER_DEMAND, &p->flags) && !rcu_access_pointer(p->chan) &&
		    !p->setup)
			peer_schedule(p, 0);
}

/* Frames still waiting for ring space when their channel goes: dropped and counted. */
static void txq_purge(struct ckfp_chan *c)
{
	u32 n = skb_queue_len(&c->txq);

	skb_queue_purge(&c->txq);
	c->txq_bytes = 0;
	ckfp_count(c->peer, CKFP_ST_TX_DROPS, n);
}

/*
 * Tears a channel down that nothing publishes any more (p->chan and p->setup no longer
 * point at it): the data path leaves it, the peer is told in band, NAPI stops (no poll
 * after this), our port closes (no handler after this), queued frames are dropped, and only
 * then the shared pages go: no CPU can touch them once they are unmapped or given back.
 * Pages the peer still maps are kept as the peer's zombie until it lets go.
 */
static void chan_destroy(struct ckfp_peer *p, struct ckfp_chan *c, u32 reason, bool tell)
{
	synchronize_net();
	if (c->tx.mine) {
		WRITE_ONCE(c->tx.mine->closing, cpu_to_le32(1));
		ckfp_shm_notify(&c->shm);
	}
	if (c->napi_dev && c->napi_on)
		napi_disable(&c->napi);
	/* Nothing queues the tick any more (no egress hook, no poll): stop it. */
	cancel_delayed_work_sync(&c->watch_work);
	ckfp_shm_close_port(&c->shm);
	if (c->napi_dev) {
		netif_napi_del(&c->napi);
		kfree(c->napi_dev);
		c->napi_dev = NULL;
	}
	/* NAPI is off: pages still in sockets come back later, the pool goes after the last. */
	if (c->rx_pool)
		page_pool_destroy(c->rx_pool);
	c->rx_pool = NULL;
	txq_purge(c);
	if (tell)
		tell_ops->close(p->domid, c->id, reason);
	p->last_reason = reason;
	if (ckfp_shm_release(&c->shm)) {
		if (!p->zombie) {
			pr_info_ratelimited("domain %u still maps %u pages of a closed channel: "
					    "held until it unmaps them\n", p->domid, c->shm.live);
			p->zombie = c;	/* still counted in nchans: max_channels bounds them */
			peer_schedule(p, ZOMBIE_FIRST_RETRY);
			return;
		}
		ckfp_shm_destroy(&c->shm);
	}
	nchans--;
	kfree(c);
	slot_freed();
}

/* A zombie's pages, once the peer unmapped them all: true when none is left. */
static bool reap(struct ckfp_peer *p)
{
	if (!p->zombie)
		return true;
	if (ckfp_shm_reap(&p->zombie->shm))
		return false;
	kfree(p->zombie);
	p->zombie = NULL;
	nchans--;
	slot_freed();
	return true;
}

static void reconcile_all_locked(void);

static void backoff(struct ckfp_peer *p)
{
	/* A channel that lived long enough starts afresh; one torn down early does not. */
	if (p->up_since && time_after(jiffies, p->up_since + UP_STABLE))
		p->backoff = 0;
	p->up_since = 0;
	p->backoff = p->backoff ? min(p->backoff * 2, (unsigned int)BACKOFF_MAX_S) : 1;
	p->retry_at = jiffies + p->backoff * HZ;
	p->state = CKFP_STATE_BACKOFF;
	peer_schedule(p, p->backoff * HZ);
}

/* Takes the live channel away from the data path at once, then tears it down. */
static void peer_down(struct ckfp_peer *p, u32 reason, bool tell)
{
	struct ckfp_chan *up = rcu_dereference_protected(p->chan, lockdep_is_held(&ckfp_lock));
	struct ckfp_chan *setup = p->setup;

	RCU_INIT_POINTER(p->chan, NULL);
	p->setup = NULL;
	if (up) {
		ckfp_count(p, CKFP_ST_TEARDOWNS, 1);
		if (reason == CKFP_CLOSE_BROKEN)
			ckfp_count(p, CKFP_ST_BROKEN, 1);
		chan_destroy(p, up, reason, tell);
	}
	if (setup)
		chan_destroy(p, setup, reason, tell);
	p->state = CKFP_STATE_IDLE;
}

/* A frame to it took the vif for want of a channel within the last CHAN_IDLE. */
static bool demanded(const struct ckfp_peer *p)
{
	return time_before(jiffies, READ_ONCE(p->demand_at) + CHAN_IDLE);
}

/*
 * Every slot is taken and @for_p needs one: closes the up channel least recently used, if it
 * has carried nothing for CHAN_IDLE.  True when a slot is free now; otherwise *retry says when
 * one may be (slot_freed also wakes @for_p if it frees earlier: a set-up failing, a closed
 * channel's pages unmapped at last).  One walk of the peers, only when the slots are full.
 */
static bool make_room(struct ckfp_peer *for_p, unsigned long *retry)
{
	unsigned long i, now = jiffies;
	struct ckfp_lru lru;
	struct ckfp_peer *p;
	struct ckfp_chan *c;

	ckfp_lru_init(&lru);
	xa_for_each(&peers, i, p) {
		c = rcu_dereference_protected(p->chan, lockdep_is_held(&ckfp_lock));
		if (c && p != for_p)
			ckfp_lru_consider(&lru, p->domid, READ_ONCE(c->last_used));
	}
	/* Not idle long enough, or none up: set-ups and closed channels hold the slots. */
	if (!ckfp_lru_ready(&lru, now, CHAN_IDLE, retry))
		return false;
	p = xa_load(&peers, lru.domid);
	pr_debug("domain %u's channel idle for %u ms: closed for domain %u\n", p->domid,
		 jiffies_to_msecs(now - lru.oldest), for_p->domid);
	ckfp_count(p, CKFP_ST_EVICTIONS, 1);
	peer_down(p, CKFP_CLOSE_SHUTDOWN, true);
	/* Its pages may still be mapped by its peer for a moment: then the slot frees later. */
	return nchans < max_channels;
}

static void peer_offer(struct ckfp_peer *p)
{
	struct ckfp_chan *c = chan_alloc(p);
	int err;

	if (!c) {
		backoff(p);
		return;
	}
	c->id = get_random_u64() | 1;	/* never 0: CLOSE's "whatever channel" */
	nchans++;
	p->peer_reason = CKFP_CLOSE_UNSPEC;	/* a new set-up: the last one's end is history */
	err = ckfp_shm_offer(&c->shm, p->domid, ring_order);
	if (!err)
		err = chan_start(c);
	if (err) {
		pr_warn_ratelimited("cannot offer a channel to domain %u: %d\n", p->domid, err);
		chan_destroy(p, c, CKFP_CLOSE_REFUSED, false);
		backoff(p);
		return;
	}
	p->setup = c;
	p->state = CKFP_STATE_OFFERED;
	p->retry_at = jiffies + OFFER_TIMEOUT;
	tell_ops->offer(p->domid, c);
	peer_schedule(p, OFFER_TIMEOUT);
}

/* Brings the peer to what should be (chan.h); under ckfp_lock. */
static void peer_reconcile(struct ckfp_peer *p)
{
	struct ckfp_chan *up = rcu_dereference_protected(p->chan, lockdep_is_held(&ckfp_lock));
	struct ckfp_chan *c = up ?: p->setup;

	if (c && READ_ONCE(c->broken)) {
		pr_warn_ratelimited("domain %u broke the ring protocol: channel closed\n", p->domid);
		peer_down(p, CKFP_CLOSE_BROKEN, true);
		backoff(p);
		return;
	}
	if (c && (READ_ONCE(c->stalled) || READ_ONCE(c->port_lost))) {
		bool lost = READ_ONCE(c->port_lost);

		if (lost)
			pr_warn_ratelimited("domain %u closed its end of the event channel: channel closed\n",
					    p->domid);
		else
			pr_warn_ratelimited("domain %u left the ring unread for %u ms: channel closed\n",
					    p->domid, READ_ONCE(stall_timeout_ms));
		ckfp_count(p, CKFP_ST_STALLS, 1);
		peer_down(p, lost ? CKFP_CLOSE_PEER_GONE : CKFP_CLOSE_TIMEOUT, true);
		backoff(p);
		return;
	}
	if (c && READ_ONCE(c->peer_closing)) {
		/* It said so in band (suspending, unloading): no CLOSE back; offer again later. */
		peer_down(p, CKFP_CLOSE_PEER_GONE, false);
		if (wanted(p) && self < p->domid) {
			backoff(p);
			return;
		}
	} else if ((up || p->setup) && !wanted(p)) {
		peer_down(p, unwanted_reason(p), true);
	} else if (p->setup && time_after_eq(jiffies, p->retry_at)) {
		peer_down(p, CKFP_CLOSE_TIMEOUT, true);
		backoff(p);
		return;
	}
	if (!wanted(p)) {
		p->state = CKFP_STATE_IDLE;
		p->backoff = 0;
		clear_bit(CKFP_PEER_DEMAND, &p->flags);
		if (!reap(p))
			peer_schedule(p, ZOMBIE_RETRY);
		return;
	}
	if (rcu_access_pointer(p->chan))
		return;
	if (p->setup) {
		/* Woken early (a frame, a freed slot): the offer's own timeout still stands. */
		peer_schedule(p, p->retry_at - jiffies);
		return;
	}
	/* No new grants to a peer that still maps the last channel's pages. */
	if (!reap(p)) {
		peer_schedule(p, ZOMBIE_RETRY);
		return;
	}
	if (p->state == CKFP_STATE_BACKOFF && time_before(jiffies, p->retry_at)) {
		peer_schedule(p, p->retry_at - jiffies);
		return;
	}
	p->state = CKFP_STATE_IDLE;
	if (self > p->domid)
		return;		/* the acceptor waits to be offered */
	p->no_slot = false;
	/* On demand: the next frame to it queues this work again (ckfp_peer_demand). */
	clear_bit(CKFP_PEER_DEMAND, &p->flags);
	smp_mb__after_atomic();
	if (!demanded(p))
		return;
	set_bit(CKFP_PEER_DEMAND, &p->flags);
	if (nchans >= max_channels) {
		unsigned long retry;

		if (!make_room(p, &retry)) {
			p->no_slot = true;
			peer_schedule(p, retry);
			return;
		}
	}
	peer_offer(p);
}

static void peer_work(struct work_struct *w)
{
	struct ckfp_peer *p = container_of(to_delayed_work(w), struct ckfp_peer, work);

	mutex_lock(&ckfp_lock);
	peer_reconcile(p);
	mutex_unlock(&ckfp_lock);
}

static struct ckfp_peer *peer_get(u32 domid)
{
	struct ckfp_peer *p = xa_load(&peers, domid);
	int i;

	if (p)
		return p;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return NULL;
	p->domid = domid;
	p->demand_at = jiffies - CHAN_IDLE;	/* no traffic waiting yet */
	INIT_DELAYED_WORK(&p->work, peer_work);
	for (i = 0; i < CKFP_ST_COUNT; i++)
		atomic64_set(&p->stats[i], 0);
	if (xa_err(xa_store(&peers, domid, p, GFP_KERNEL))) {
		kfree(p);
		return NULL;
	}
	return p;
}

/* Down now (the data path leaves it at once), set up again later by the offerer. */
static void peer_restart(struct ckfp_peer *p, u32 reason)
{
	if (!rcu_access_pointer(p->chan) && !p->setup)
		return;
	peer_down(p, reason, true);
	if (self < p->domid)
		backoff(p);
}

void ckfp_epoch_changed(void)
{
	struct ckfp_peer *p;
	unsigned long i;

	mutex_lock(&ckfp_lock);
	xa_for_each(&peers, i, p)
		peer_restart(p, CKFP_CLOSE_PEER_GONE);
	mutex_unlock(&ckfp_lock);
}

void ckfp_peer_event(u32 domid, bool running, bool rewritten)
{
	struct ckfp_peer *p;

	mutex_lock(&ckfp_lock);
	/* The table lists this guest too; it is nobody's peer. */
	if (domid == self) {
		if (resync_pending && running) {
			resync_pending = false;
			reconcile_all_locked();
		}
		mutex_unlock(&ckfp_lock);
		return;
	}
	p = running ? peer_get(domid) : xa_load(&peers, domid);
	if (p) {
		p->member = running;
		if (rewritten)
			peer_restart(p, CKFP_CLOSE_PEER_GONE);
		/* At once, not from the work: MIGRATING_OUT must stop the traffic now. */
		peer_reconcile(p);
	} else if (running) {
		pr_warn_ratelimited("no memory for peer %u: it gets no channel\n", domid);
	}
	mutex_unlock(&ckfp_lock);
}

int ckfp_peer_offered(u32 domid, u64 id, u32 order, evtchn_port_t port, const u32 *grefs)
{
	struct ckfp_peer *p;
	struct ckfp_chan *c;
	int err;

	mutex_lock(&ckfp_lock);
	p = xa_load(&peers, domid);
	/* Only the lower domid offers, and only a member we would have a channel with. */
	if (!p || !wanted(p) || domid > self) {
		err = -EPERM;
		goto refuse;
	}
	c = rcu_dereference_protected(p->chan, lockdep_is_held(&ckfp_lock));
	if (c && c->id == id) {
		/* The same offer again (its ACCEPT was lost): the channel stands. */
		tell_ops->accept(domid, id);
		mutex_unlock(&ckfp_lock);
		return 0;
	}
	/* A new offer replaces whatever we had: the offerer started over. */
	peer_down(p, CKFP_CLOSE_REFUSED, false);
	p->peer_reason = CKFP_CLOSE_UNSPEC;
	p->no_slot = false;
	if (nchans >= max_channels) {
		unsigned long retry;

		/* The offerer has traffic for us; an idle channel makes room, or it retries. */
		if (!make_room(p, &retry)) {
			p->no_slot = true;	/* until its next offer */
			err = -ENOSPC;
			goto refuse;
		}
	}
	c = chan_alloc(p);
	if (!c) {
		err = -ENOMEM;
		goto refuse;
	}
	c->id = id;
	nchans++;
	err = ckfp_shm_accept(&c->shm, domid, order, grefs, port);
	if (!err)
		err = chan_start(c);
	if (err) {
		pr_warn_ratelimited("cannot accept domain %u's channel: %d\n", domid, err);
		chan_destroy(p, c, CKFP_CLOSE_REFUSED, false);
		goto refuse;
	}
	c->up_at = jiffies;
	c->last_used = jiffies;
	rcu_assign_pointer(p->chan, c);
	p->state = CKFP_STATE_UP;
	p->up_since = jiffies;
	ckfp_count(p, CKFP_ST_SETUPS, 1);
	tell_ops->accept(domid, id);
	napi_schedule(&c->napi);
	mutex_unlock(&ckfp_lock);
	return 0;
refuse:
	tell_ops->close(domid, id, CKFP_CLOSE_REFUSED);
	mutex_unlock(&ckfp_lock);
	return err;
}

int ckfp_peer_accepted(u32 domid, u64 id)
{
	struct ckfp_peer *p;
	int err = -ESTALE;

	mutex_lock(&ckfp_lock);
	p = xa_load(&peers, domid);
	if (p && p->setup && p->setup->id == id) {
		struct ckfp_chan *c = p->setup;

		c->up_at = jiffies;
		c->last_used = jiffies;
		rcu_assign_pointer(p->chan, c);
		p->setup = NULL;
		/* Up: a frame that takes the vif later asks afresh (after a close). */
		clear_bit(CKFP_PEER_DEMAND, &p->flags);
		p->state = CKFP_STATE_UP;
		p->up_since = jiffies;
		ckfp_count(p, CKFP_ST_SETUPS, 1);
		/* NAPI left what the peer sent before its ACCEPT reached us: read it now. */
		napi_schedule(&c->napi);
		err = 0;
	}
	mutex_unlock(&ckfp_lock);
	return err;
}

int ckfp_peer_closed(u32 domid, u64 id, u32 reason)
{
	struct ckfp_peer *p;
	struct ckfp_chan *up;
	int err = -ESTALE;

	mutex_lock(&ckfp_lock);
	p = xa_load(&peers, domid);
	up = p ? rcu_dereference_protected(p->chan, lockdep_is_held(&ckfp_lock)) : NULL;
	if (p && (up || p->setup) &&
	    (!id || (up && up->id == id) || (p->setup && p->setup->id == id))) {
		peer_down(p, reason, false);
		p->peer_reason = reason;
		/* The offerer tries again later; the acceptor waits to be offered. */
		if (self < domid)
			backoff(p);
		err = 0;
	}
	mutex_unlock(&ckfp_lock);
	return err;
}

void ckfp_chan_fault(struct ckfp_chan *c)
{
	peer_schedule(c->peer, 0);
}

void ckfp_peer_demand(struct ckfp_peer *p)
{
	WRITE_ONCE(p->demand_at, jiffies);
	/* The first since the work last looked: it offers, or waits for a slot. */
	if (!test_bit(CKFP_PEER_DEMAND, &p->flags) &&
	    !test_and_set_bit(CKFP_PEER_DEMAND, &p->flags))
		peer_schedule(p, 0);
}

static void reconcile_all_locked(void)
{
	struct ckfp_peer *p;
	unsigned long i;

	lockdep_assert_held(&ckfp_lock);
	if (exiting)
		return;
	xa_for_each(&peers, i, p)
		peer_reconcile(p);
}

void ckfp_set_active(bool on, u32 reason)
{
	struct ckfp_peer *p;
	unsigned long i;

	mutex_lock(&ckfp_lock);
	if (on)
		self = ckfp_self_domid();
	active = on && self;
	inactive_reason = reason;
	xa_for_each(&peers, i, p) {
		if (on) {
			/* A resume starts every peer afresh. */
			p->state = CKFP_STATE_IDLE;
			p->peer_reason = CKFP_CLOSE_UNSPEC;
			p->no_slot = false;
		}
		p->backoff = 0;
		peer_reconcile(p);
	}
	mutex_unlock(&ckfp_lock);
	if (on && !self)
		pr_warn("cannot read this guest's domid from xenstore: no channels\n");
}

void ckfp_resume(bool restored)
{
	if (restored) {
		mutex_lock(&ckfp_lock);
		resync_pending = true;
		mutex_unlock(&ckfp_lock);
	}
	ckfp_set_active(true, CKFP_CLOSE_UNSPEC);
}

u8 ckfp_peer_why(const struct ckfp_peer *p)
{
	lockdep_assert_held(&ckfp_lock);
	if (rcu_access_pointer(p->chan))
		return CKFP_WHY_UP;
	if (!active || resync_pending || !READ_ONCE(ckfp_enable) || !self)
		return CKFP_WHY_OFF;
	if (!p->member)
		return CKFP_WHY_GONE;
	if (p->setup)
		return CKFP_WHY_WAITING;
	/*
	 * Before the backoff that follows it: dom0 refusing the pair is what the operator must
	 * fix, and every later offer ends the same way until it is.
	 */
	if (p->peer_reason == CKFP_CLOSE_REFUSED)
		return CKFP_WHY_NOT_AUTHORIZED;
	if (p->no_slot)
		return CKFP_WHY_NO_SLOT;
	if (p->state == CKFP_STATE_BACKOFF)
		return CKFP_WHY_BACKOFF;
	return CKFP_WHY_IDLE;
}

int ckfp_peer_walk(unsigned long *pos, int (*fn)(struct ckfp_peer *p, void *ctx), void *ctx)
{
	struct ckfp_peer *p;
	int err = 0;

	mutex_lock(&ckfp_lock);
	xa_for_each_start(&peers, *pos, p, *pos) {
		err = fn(p, ctx);
		if (err)
			break;
	}
	mutex_unlock(&ckfp_lock);
	return err;
}

int ckfp_chan_init(const struct ckfp_tell_ops *ops)
{
	tell_ops = ops;
	if (ring_order < CKFP_ORDER_MIN || ring_order > CKFP_ORDER_MAX) {
		pr_err("ring_order %u is outside %u..%u\n", ring_order, CKFP_ORDER_MIN,
		       CKFP_ORDER_MAX);
		return -EINVAL;
	}
	wq = alloc_workqueue("cokeeper_fp", 0, 0);
	return wq ? 0 : -ENOMEM;
}

void ckfp_reconcile_all(void)
{
	mutex_lock(&ckfp_lock);
	reconcile_all_locked();
	mutex_unlock(&ckfp_lock);
}

void ckfp_chan_stop(void)
{
	struct ckfp_peer *p;
	unsigned long i;

	ckfp_set_active(false, CKFP_CLOSE_SHUTDOWN);
	mutex_lock(&ckfp_lock);
	exiting = true;
	mutex_unlock(&ckfp_lock);
	xa_for_each(&peers, i, p)
		cancel_delayed_work_sync(&p->work);
}

void ckfp_chan_exit(void)
{
	struct ckfp_peer *p;
	unsigned long i;

	destroy_workqueue(wq);
	xa_for_each(&peers, i, p) {
		if (p->zombie) {
			/* Unloading: the kernel's deferred list takes what the peer still maps. */
			ckfp_shm_destroy(&p->zombie->shm);
			kfree(p->zombie);
		}
		kfree(p);
	}
	xa_destroy(&peers);
}
