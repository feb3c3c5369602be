// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rings' index and bounds arithmetic (ckfp-ring.h), shared by the module and the tests.
 *
 * Indices are free-running u32 byte counters, never reduced modulo the ring size: "prod -
 * cons" is then the number of bytes in flight even after the counters wrap at 2^32, full and
 * empty are told apart without a spare slot, and one comparison against the size catches any
 * value a peer may write.  A byte's place is (index & (size - 1)), split into a page number
 * and an offset, because the pages are granted frames mapped one by one, not one contiguous
 * area.
 *
 * Every value from shared memory is loaded exactly once per operation into a local, through
 * CKFP_LOAD, and only the local is checked and used: a peer that rewrites a field between
 * our check and our use cannot make the two disagree.
 */
#include "ckfp-ring.h"

_Static_assert(sizeof(struct ckfp_line) == 64, "one cache line per writer");
_Static_assert(sizeof(struct ckfp_ctrl) == 192, "control page layout");
_Static_assert(sizeof(struct ckfp_rec) == 16, "record header layout");
_Static_assert(2 * CKFP_STRIDE(CKFP_MAX_FRAME) <= CKFP_PAGE_SIZE << CKFP_ORDER_MIN,
	       "the smallest ring holds two of the largest records");

#ifndef __KERNEL__
void (*ckfp_load_hook)(const void *addr, size_t size);
#endif

void ckfp_ctrl_init(struct ckfp_ctrl *ctrl, unsigned int order)
{
	memset(ctrl, 0, sizeof(*ctrl));
	ctrl->magic = cpu_to_le32(CKFP_MAGIC);
	ctrl->version = cpu_to_le32(CKFP_VERSION);
	ctrl->ring_order = cpu_to_le32(order);
}

int ckfp_ctrl_check(const struct ckfp_ctrl *ctrl, unsigned int *order)
{
	u32 magic = le32_to_cpu(CKFP_LOAD(ctrl->magic));
	u32 version = le32_to_cpu(CKFP_LOAD(ctrl->version));
	u32 o = le32_to_cpu(CKFP_LOAD(ctrl->ring_order));

	if (magic != CKFP_MAGIC || version != CKFP_VERSION)
		return -EPROTO;
	if (o < CKFP_ORDER_MIN || o > CKFP_ORDER_MAX)
		return -EPROTO;
	*order = o;
	return 0;
}

int ckfp_ring_init(struct ckfp_ring *r, struct ckfp_ctrl *ctrl, void *const *pg,
		   unsigned int order, enum ckfp_side side, enum ckfp_role role, u32 start)
{
	if (order < CKFP_ORDER_MIN || order > CKFP_ORDER_MAX || start % CKFP_REC_ALIGN)
		return -EINVAL;
	if ((side != CKFP_OFFERER && side != CKFP_ACCEPTOR) || (role != CKFP_TX && role != CKFP_RX))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->pg = pg;
	r->mine = side == CKFP_OFFERER ? &ctrl->by_offerer : &ctrl->by_acceptor;
	r->peer = side == CKFP_OFFERER ? &ctrl->by_acceptor : &ctrl->by_offerer;
	r->size = CKFP_PAGE_SIZE << order;
	r->idx = start;
	r->shared = start;
	r->seen = start;
	return 0;
}

static int broken(struct ckfp_ring *r)
{
	r->broken = true;
	return -EPROTO;
}

/* The byte at idx: its page and the offset in it. */
static u8 *at(const struct ckfp_ring *r, u32 idx)
{
	u32 pos = idx & (r->size - 1);

	return (u8 *)r->pg[pos >> CKFP_PAGE_SHIFT] + (pos & (CKFP_PAGE_SIZE - 1));
}

/* The room from idx to the end of its page (and so never past the end of the ring). */
static u32 room(u32 idx)
{
	return CKFP_PAGE_SIZE - (idx & (CKFP_PAGE_SIZE - 1));
}

static void copy_to_ring(struct ckfp_ring *r, u32 idx, const void *src, u32 n)
{
	const u8 *s = src;

	while (n) {
		u32 chunk = n < room(idx) ? n : room(idx);

		memcpy(at(r, idx), s, chunk);
		idx += chunk;
		s += chunk;
		n -= chunk;
	}
}

/*
 * Frame bytes are payload: a peer that changes them while we copy changes only what it
 * sends, so they are copied without CKFP_LOAD, once, into private memory.
 */
static void copy_from_ring(const struct ckfp_ring *r, u32 idx, void *dst, u32 n)
{
	u8 *d = dst;

	while (n) {
		u32 chunk = n < room(idx) ? n : room(idx);

		memcpy(d, at(r, idx), chunk);
		idx += chunk;
		d += chunk;
		n -= chunk;
	}
}

/* notify when ev lies in (old, new], all modulo 2^32: the peer asked to hear of this step. */
static bool crossed(u32 old, u32 new, u32 ev)
{
	return (u32)(new - ev) < (u32)(new - old);
}

static bool frame_len_ok(u32 len)
{
	return len >= CKFP_MIN_FRAME && len <= CKFP_MAX_FRAME;
}

/* The rules for a record's header: the peer's are checked with them, and so are ours. */
static bool header_ok(const struct ckfp_rec_info *h)
{
	if (h->len < CKFP_MIN_FRAME)
		return false;
	if (h->len > CKFP_MAX_FRAME)
		return false;
	if (h->flags & ~CKFP_REC_F_ALL)
		return false;
	if (h->flags & CKFP_REC_F_GSO) {
		/* One GSO type, a segment size, and the checksum the segments will need. */
		if ((h->flags & CKFP_REC_F_GSO) == CKFP_REC_F_GSO)
			return false;
		if (h->gso_size == 0)
			return false;
		if (!(h->flags & CKFP_REC_F_CSUM_PARTIAL))
			return false;
	}
	/* The 2-byte checksum field lies inside the frame (u16 + u16 + 2 cannot overflow). */
	if (h->flags & CKFP_REC_F_CSUM_PARTIAL && (u32)h->csum_start + h->csum_off + 2 > h->len)
		return false;
	return true;
}

/*
 * The producer's one load of the peer's cons, checked: cons only moves forward, and never
 * past what we produced.  Both in one test, modulo 2^32: the distance it moved since we last
 * looked must not exceed the distance from there to our index.  Returns the free bytes.
 */
static int load_free(struct ckfp_ring *r, u32 *free)
{
	u32 cons = le32_to_cpu(CKFP_LOAD(r->peer->rx_cons));

	if (cons - r->seen > r->idx - r->seen)
		return broken(r);
	r->seen = cons;
	*free = r->size - (r->idx - cons);
	return 0;
}

int ckfp_ring_space(struct ckfp_ring *r, u32 len)
{
	u32 free;
	int err;

	if (r->broken)
		return -EPROTO;
	if (!frame_len_ok(len))
		return -EINVAL;
	err = load_free(r, &free);
	if (err)
		return err;
	return CKFP_STRIDE(len) <= free ? 0 : -ENOSPC;
}

int ckfp_ring_write(struct ckfp_ring *r, const struct ckfp_rec_info *info,
		    const struct ckfp_frag *frags, unsigned int nfrags)
{
	struct ckfp_rec rec = {
		.len = cpu_to_le32(info->len),
		.flags = cpu_to_le16(info->flags),
		.gso_size = cpu_to_le16(info->gso_size),
		.csum_start = cpu_to_le16(info->csum_start),
		.csum_off = cpu_to_le16(info->csum_off),
	};
	u32 total = 0, idx;
	unsigned int i;
	int err;

	if (r->broken)
		return -EPROTO;
	if (!header_ok(info))
		return -EINVAL;
	for (i = 0; i < nfrags; i++) {
		if (frags[i].len > info->len - total)
			return -EINVAL;
		total += frags[i].len;
	}
	if (total != info->len)
		return -EINVAL;
	err = ckfp_ring_space(r, info->len);
	if (err)
		return err;

	idx = r->idx;
	copy_to_ring(r, idx, &rec, sizeof(rec));
	idx += sizeof(rec);
	for (i = 0; i < nfrags; i++) {
		copy_to_ring(r, idx, frags[i].base, frags[i].len);
		idx += frags[i].len;
	}
	r->idx += CKFP_STRIDE(info->len);
	return 0;
}

int ckfp_ring_publish(struct ckfp_ring *r, bool *notify)
{
	u32 old = r->shared;
	u32 ev;

	*notify = false;
	if (r->broken)
		return -EPROTO;
	if (old == r->idx)
		return 0;
	/* The records' bytes before the index that makes them visible. */
	virt_wmb();
	WRITE_ONCE(r->mine->tx_prod, cpu_to_le32(r->idx));
	r->shared = r->idx;
	/* Our prod store before the event load, or both sides may decide not to notify. */
	virt_mb();
	ev = le32_to_cpu(CKFP_LOAD(r->peer->rx_prod_event));
	*notify = crossed(old, r->idx, ev);
	return 0;
}

int ckfp_ring_prod_arm(struct ckfp_ring *r, u32 len, bool *fits)
{
	int err;

	*fits = false;
	if (r->broken)
		return -EPROTO;
	if (!frame_len_ok(len))
		return -EINVAL;
	/* The record fits once cons reaches idx + stride - size. */
	WRITE_ONCE(r->mine->tx_cons_event, cpu_to_le32(r->idx + CKFP_STRIDE(len) - r->size));
	virt_mb();
	err = ckfp_ring_space(r, len);
	if (err == -ENOSPC)
		return 0;
	*fits = !err;
	return err;
}

int ckfp_ring_peek(struct ckfp_ring *r, struct ckfp_rec_info *info)
{
	const struct ckfp_rec *rec;
	struct ckfp_rec_info h;
	u32 prod, used;

	if (r->broken)
		return -EPROTO;
	if (r->cur.len) {
		/* Already validated: the same record, without loading anything again. */
		*info = r->cur;
		return 0;
	}

	prod = le32_to_cpu(CKFP_LOAD(r->peer->tx_prod));
	used = prod - r->idx;
	if (used == 0)
		return -EAGAIN;
	if (used > r->size)
		return broken(r);
	/* Not even a header covered: the peer published a partial record; do not read it. */
	if (used < sizeof(*rec))
		return broken(r);
	/* prod before the record it covers. */
	virt_rmb();

	/* r->idx is a multiple of 64: the header lies in one page. */
	rec = (const struct ckfp_rec *)at(r, r->idx);
	h.len = le32_to_cpu(CKFP_LOAD(rec->len));
	h.flags = le16_to_cpu(CKFP_LOAD(rec->flags));
	h.gso_size = le16_to_cpu(CKFP_LOAD(rec->gso_size));
	h.csum_start = le16_to_cpu(CKFP_LOAD(rec->csum_start));
	h.csum_off = le16_to_cpu(CKFP_LOAD(rec->csum_off));
	if (!header_ok(&h))
		return broken(r);
	/* The whole record inside what prod covers: so inside the ring, as used <= size. */
	if (CKFP_STRIDE(h.len) > used)
		return broken(r);

	r->cur = h;
	*info = r->cur;
	return 0;
}

int ckfp_ring_copy(struct ckfp_ring *r, u32 off, void *dst, u32 n)
{
	if (r->broken)
		return -EPROTO;
	if (!r->cur.len || off > r->cur.len || n > r->cur.len - off)
		return -EINVAL;
	copy_from_ring(r, r->idx + sizeof(struct ckfp_rec) + off, dst, n);
	return 0;
}

int ckfp_ring_release(struct ckfp_ring *r, bool *notify)
{
	u32 old = r->idx;
	u32 ev;

	*notify = false;
	if (r->broken)
		return -EPROTO;
	if (!r->cur.len)
		return -EINVAL;
	r->idx += CKFP_STRIDE(r->cur.len);
	r->cur.len = 0;
	/* Our reads of the record before the store that lets the peer overwrite it. */
	virt_mb();
	WRITE_ONCE(r->mine->rx_cons, cpu_to_le32(r->idx));
	r->shared = r->idx;
	virt_mb();
	ev = le32_to_cpu(CKFP_LOAD(r->peer->tx_cons_event));
	*notify = crossed(old, r->idx, ev);
	return 0;
}

int ckfp_ring_cons_arm(struct ckfp_ring *r, bool *pending)
{
	u32 prod;

	*pending = false;
	if (r->broken)
		return -EPROTO;
	if (r->cur.len) {
		*pending = true;
		return 0;
	}
	/* Any record published after idx moves prod past idx + 1. */
	WRITE_ONCE(r->mine->rx_prod_event, cpu_to_le32(r->idx + 1));
	virt_mb();
	prod = le32_to_cpu(CKFP_LOAD(r->peer->tx_prod));
	/* Checked by the next peek; here only "is there anything". */
	*pending = prod != r->idx;
	return 0;
}

int ckfp_ring_watch(struct ckfp_ring *r, struct ckfp_watch *w, bool queued)
{
	u32 free, cons, pub = r->shared;
	int err;

	if (r->broken)
		return -EPROTO;
	err = load_free(r, &free);
	if (err)
		return err;
	cons = r->seen;
	if (cons == pub && !queued) {
		w->waiting = false;
		return CKFP_WATCH_IDLE;
	}
	/* Reached: cons is no further behind what is published now than the mark is. */
	if (!w->waiting || pub - cons <= pub - w->mark) {
		w->mark = pub;
		w->waiting = true;
		return CKFP_WATCH_MOVING;
	}
	return CKFP_WATCH_WAITING;
}
