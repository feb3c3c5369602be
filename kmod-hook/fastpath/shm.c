// SPDX-License-Identifier: GPL-2.0-only
/*
 * A channel's shared memory and event channel on Xen, for both sides (shm.h).
 *
 * The acceptor maps the peer's grants the way netback maps a frontend's (gnttab_alloc_pages,
 * then gnttab_map_refs at each page's linear-map address): the same call works for PV, where
 * it also updates the p2m, and for PVH, where gnttab_set_map_op passes a guest-physical
 * address.  No vmap: the ring code reaches the pages through the va[] array.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <xen/page.h>
#include <xen/xenbus.h>
#include <asm/xen/hypercall.h>

#include "shm.h"

/* The acceptor only reads the offerer->acceptor ring: it is granted and mapped read-only. */
static bool page_is_readonly(const struct ckfp_shm *s, unsigned int i)
{
	return i >= 1 && i < 1 + (1U << s->order);
}

static int shm_init(struct ckfp_shm *s, enum ckfp_side side, domid_t peer, unsigned int order)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->irq = -1;
	if (order < CKFP_ORDER_MIN || order > CKFP_ORDER_MAX)
		return -EINVAL;
	s->side = side;
	s->peer = peer;
	s->order = order;
	s->npages = 1 + (2U << order);
	s->pages = kcalloc(s->npages, sizeof(*s->pages), GFP_KERNEL);
	s->va = kcalloc(s->npages, sizeof(*s->va), GFP_KERNEL);
	s->grefs = kcalloc(s->npages, sizeof(*s->grefs), GFP_KERNEL);
	s->handles = kcalloc(s->npages, sizeof(*s->handles), GFP_KERNEL);
	if (!s->pages || !s->va || !s->grefs || !s->handles)
		return -ENOMEM;
	for (i = 0; i < s->npages; i++)
		s->handles[i] = INVALID_GRANT_HANDLE;
	return 0;
}

int ckfp_shm_offer(struct ckfp_shm *s, domid_t peer, unsigned int order)
{
	struct evtchn_alloc_unbound unbound = { .dom = DOMID_SELF, .remote_dom = peer };
	unsigned int i;
	int err;

	err = shm_init(s, CKFP_OFFERER, peer, order);
	if (err)
		goto fail;
	/* Order-0 pages only: gnttab_end_foreign_access() may keep and free each on its own. */
	for (i = 0; i < s->npages; i++) {
		s->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!s->pages[i]) {
			err = -ENOMEM;
			goto fail;
		}
		s->va[i] = page_address(s->pages[i]);
	}
	ckfp_ctrl_init(s->va[0], order);
	for (; s->live < s->npages; s->live++) {
		i = s->live;
		err = gnttab_grant_foreign_access(peer, xen_page_to_gfn(s->pages[i]),
						  page_is_readonly(s, i));
		if (err < 0)
			goto fail;
		s->grefs[i] = err;
	}
	err = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &unbound);
	if (err)
		goto fail;
	s->port = unbound.port;
	s->port_open = true;
	return 0;
fail:
	ckfp_shm_destroy(s);
	return err;
}

static int shm_map(struct ckfp_shm *s)
{
	struct gnttab_map_grant_ref *map;
	unsigned int i;
	int err;

	map = kcalloc(s->npages, sizeof(*map), GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	for (i = 0; i < s->npages; i++)
		gnttab_set_map_op(&map[i], (unsigned long)pfn_to_kaddr(page_to_pfn(s->pages[i])),
				  GNTMAP_host_map | (page_is_readonly(s, i) ? GNTMAP_readonly : 0),
				  s->grefs[i], s->peer);
	err = gnttab_map_refs(map, NULL, s->pages, s->npages);
	/* The call's result covers the hypercall only: each page has its own status. */
	for (i = 0; i < s->npages; i++) {
		if (map[i].status == GNTST_okay) {
			s->handles[i] = map[i].handle;
			s->live++;
		} else if (!err) {
			err = map[i].status == GNTST_bad_gntref || map[i].status == GNTST_bad_domain ?
			      -EINVAL : -EIO;
		}
	}
	kfree(map);
	return err;
}

int ckfp_shm_accept(struct ckfp_shm *s, domid_t peer, unsigned int order, const u32 *grefs,
		    evtchn_port_t peer_port)
{
	struct evtchn_bind_interdomain bind = { .remote_dom = peer, .remote_port = peer_port };
	unsigned int i, offered_order;
	int err;

	err = shm_init(s, CKFP_ACCEPTOR, peer, order);
	if (err)
		goto fail;
	memcpy(s->grefs, grefs, s->npages * sizeof(*s->grefs));
	err = gnttab_alloc_pages(s->npages, s->pages);
	if (err) {
		memset(s->pages, 0, s->npages * sizeof(*s->pages));
		goto fail;
	}
	for (i = 0; i < s->npages; i++)
		s->va[i] = page_address(s->pages[i]);
	err = shm_map(s);
	if (err)
		goto fail;
	/* The control page says what the offer said, or the offerer is not what it claims. */
	err = ckfp_ctrl_check(ckfp_shm_ctrl(s), &offered_order);
	if (!err && offered_order != order)
		err = -EPROTO;
	if (err)
		goto fail;
	err = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &bind);
	if (err)
		goto fail;
	s->port = bind.local_port;
	s->port_open = true;
	return 0;
fail:
	ckfp_shm_destroy(s);
	return err;
}

int ckfp_shm_bind(struct ckfp_shm *s, irq_handler_t handler, const char *name, void *dev)
{
	int irq = bind_evtchn_to_irqhandler_lateeoi(s->port, handler, 0, name, dev);

	if (irq < 0)
		return irq;
	s->irq = irq;
	s->irq_dev = dev;
	return 0;
}

int ckfp_shm_ring_init(const struct ckfp_shm *s, struct ckfp_ring *r, enum ckfp_role role)
{
	enum ckfp_side other = s->side == CKFP_OFFERER ? CKFP_ACCEPTOR : CKFP_OFFERER;
	enum ckfp_side producer = role == CKFP_TX ? s->side : other;

	return ckfp_ring_init(r, ckfp_shm_ctrl(s), ckfp_shm_ring_pages(s, producer), s->order,
			      s->side, role, 0);
}

int ckfp_shm_port_check(const struct ckfp_shm *s)
{
	struct evtchn_status st = { .dom = DOMID_SELF, .port = s->port };
	int err = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);

	if (err)
		return err;
	/* A peer that closes its end leaves ours unbound (waiting for it again), not closed. */
	if (st.status != EVTCHNSTAT_interdomain || st.u.interdomain.dom != s->peer)
		return -ENOTCONN;
	return 0;
}

void ckfp_shm_close_port(struct ckfp_shm *s)
{
	struct evtchn_close close = { .port = s->port };

	if (s->irq >= 0) {
		/* Waits for a running handler, then closes the port. */
		unbind_from_irqhandler(s->irq, s->irq_dev);
		s->irq = -1;
	} else if (s->port_open && HYPERVISOR_event_channel_op(EVTCHNOP_close, &close)) {
		pr_warn("cannot close event channel %u (peer %u)\n", s->port, s->peer);
	}
	s->port_open = false;
}

static void unmap_pages(struct ckfp_shm *s)
{
	struct gnttab_unmap_grant_ref *unmap;
	struct page **pages;
	unsigned int i, n = 0;
	int err;

	unmap = kcalloc(s->live, sizeof(*unmap), GFP_KERNEL);
	pages = kcalloc(s->live, sizeof(*pages), GFP_KERNEL);
	if (!unmap || !pages) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s->npages; i++) {
		if (s->handles[i] == INVALID_GRANT_HANDLE)
			continue;
		gnttab_set_unmap_op(&unmap[n], (unsigned long)pfn_to_kaddr(page_to_pfn(s->pages[i])),
				    GNTMAP_host_map, s->handles[i]);
		pages[n++] = s->pages[i];
	}
	err = gnttab_unmap_refs(unmap, NULL, pages, n);
	for (i = 0; !err && i < n; i++)
		if (unmap[i].status != GNTST_okay)
			err = -EIO;
out:
	kfree(unmap);
	kfree(pages);
	if (err) {
		/* A page still mapped to the peer must never go back to the allocator. */
		pr_err("cannot unmap %u pages of peer %u (%d): leaking them\n", s->live, s->peer, err);
		return;
	}
	s->live = 0;
	gnttab_free_pages(s->npages, s->pages);
}

/*
 * Ends each grant the peer no longer maps and frees its page; keeps the others, packed at
 * the front of the arrays, for a later try.  Returns how many are kept.
 */
static unsigned int end_grants(struct ckfp_shm *s)
{
	unsigned int i, kept = 0;

	for (i = 0; i < s->npages && s->pages[i]; i++) {
		if (i < s->live && !gnttab_try_end_foreign_access(s->grefs[i])) {
			s->pages[kept] = s->pages[i];
			s->grefs[kept++] = s->grefs[i];
			continue;
		}
		__free_page(s->pages[i]);
	}
	for (i = kept; i < s->npages; i++)
		s->pages[i] = NULL;
	s->live = kept;
	return kept;
}

static void free_arrays(struct ckfp_shm *s)
{
	kfree(s->pages);
	kfree(s->va);
	kfree(s->grefs);
	kfree(s->handles);
	s->pages = NULL;
	s->va = NULL;
	s->grefs = NULL;
	s->handles = NULL;
}

unsigned int ckfp_shm_release(struct ckfp_shm *s)
{
	unsigned int kept = 0;

	/* The port first: no handler of ours runs on these pages after this. */
	ckfp_shm_close_port(s);
	if (s->pages) {
		if (s->side == CKFP_OFFERER)
			kept = end_grants(s);
		else if (s->pages[0] && s->live)
			unmap_pages(s);
		else if (s->pages[0])
			gnttab_free_pages(s->npages, s->pages);
	}
	if (!kept)
		free_arrays(s);
	return kept;
}

unsigned int ckfp_shm_reap(struct ckfp_shm *s)
{
	unsigned int kept = s->pages ? end_grants(s) : 0;

	if (!kept)
		free_arrays(s);
	return kept;
}

void ckfp_shm_destroy(struct ckfp_shm *s)
{
	unsigned int i;

	if (!ckfp_shm_release(s))
		return;
	/* The kernel's deferred list owns what the peer still maps, and frees it once it lets go. */
	for (i = 0; i < s->live; i++)
		gnttab_end_foreign_access(s->grefs[i], s->pages[i]);
	s->live = 0;
	free_arrays(s);
}

domid_t ckfp_self_domid(void)
{
	/* "domid" relative to the guest's xenstore home, where the toolstack writes it. */
	return xenbus_read_unsigned("domid", "", 0);
}
