/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One side's hold on a channel's shared memory and event channel.
 *
 * The offerer (the lower domid) allocates every shared page, grants each to the peer and
 * allocates an unbound event-channel port for it; the acceptor maps those grants and binds
 * that port.  Nothing of the acceptor's own memory is ever shared.  Xen itself checks who
 * may map (a grant names the one domain allowed) and who may bind (an unbound port names its
 * one remote domain), so a relay that lied about the peer could only make set-up fail.
 *
 * Page layout: [0] the control page, then the offerer->acceptor ring's 2^order pages, then
 * the acceptor->offerer ring's.
 */
#ifndef _CKFP_SHM_H
#define _CKFP_SHM_H

#include <linux/interrupt.h>
#include <linux/types.h>
#include <xen/events.h>
#include <xen/grant_table.h>
#include <xen/interface/event_channel.h>

#include "ckfp-ring.h"

struct ckfp_shm {
	enum ckfp_side side;
	domid_t peer;
	unsigned int order;
	unsigned int npages;		/* 1 + 2 << order */
	struct page **pages;
	void **va;			/* page_address() of each page: the rings' page tables */
	u32 *grefs;			/* offerer: ours; acceptor: the peer's, as offered */
	grant_handle_t *handles;	/* acceptor: one per mapped page */
	unsigned int live;		/* pages granted (offerer) or mapped (acceptor) */
	evtchn_port_t port;		/* our local port */
	bool port_open;
	int irq;			/* bound to port, or -1 */
	void *irq_dev;
};

/* The offerer's side: pages, grants to peer, an unbound port.  Undone by ckfp_shm_destroy. */
int ckfp_shm_offer(struct ckfp_shm *s, domid_t peer, unsigned int order);

/*
 * The acceptor's side: maps the peer's grefs (CKFP_GREFS(order) of them), checks the control
 * page, binds to the peer's port.  -EINVAL/-EPROTO for an offer that does not hold up.
 */
int ckfp_shm_accept(struct ckfp_shm *s, domid_t peer, unsigned int order, const u32 *grefs,
		    evtchn_port_t peer_port);

/* Routes our port's events to handler (a lateeoi handler: it must call xen_irq_lateeoi). */
int ckfp_shm_bind(struct ckfp_shm *s, irq_handler_t handler, const char *name, void *dev);

/*
 * Whether our port is still bound to the peer's (EVTCHNOP_status): -ENOTCONN once it is not,
 * which is what Xen leaves when the peer closed its end (it died, or let go of the channel
 * without a word); another -errno if the hypercall failed.
 */
int ckfp_shm_port_check(const struct ckfp_shm *s);

/* Closes our port (and unbinds its handler, waiting for a running one).  Idempotent. */
void ckfp_shm_close_port(struct ckfp_shm *s);

/*
 * Releases what can be released now: closes the port, unmaps (acceptor), ends each grant
 * the peer no longer maps (offerer).  Returns how many granted pages the peer still maps:
 * those stay held (a peer that never unmaps must not make us give our grant references and
 * pages away one channel after another); retry with ckfp_shm_reap().
 */
unsigned int ckfp_shm_release(struct ckfp_shm *s);
unsigned int ckfp_shm_reap(struct ckfp_shm *s);

/* Releases everything, leaving pages the peer still maps to the kernel's deferred list. */
void ckfp_shm_destroy(struct ckfp_shm *s);

static inline struct ckfp_ctrl *ckfp_shm_ctrl(const struct ckfp_shm *s)
{
	return s->va[0];
}

/* The pages of the ring that side produces into. */
static inline void *const *ckfp_shm_ring_pages(const struct ckfp_shm *s, enum ckfp_side producer)
{
	return &s->va[producer == CKFP_OFFERER ? 1 : 1 + (1U << s->order)];
}

/* A view of one of the two rings from this side: TX is the ring this side produces into. */
int ckfp_shm_ring_init(const struct ckfp_shm *s, struct ckfp_ring *r, enum ckfp_role role);

static inline void ckfp_shm_notify(const struct ckfp_shm *s)
{
	if (s->irq >= 0)
		notify_remote_via_irq(s->irq);
}

/* This guest's domid, from its xenstore home (0 when it cannot be read). */
domid_t ckfp_self_domid(void);

#endif /* _CKFP_SHM_H */
