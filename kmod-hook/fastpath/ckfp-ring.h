/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fast path's shared-memory rings: layout and index arithmetic, written once in plain C
 * and compiled both into cokeeper-fp.ko and into userspace (tests/unit/test-ckfp-ring.c,
 * tests/fuzz/fuzz-ckfp-ring.c).  Everything outside goes through ckfp-compat.h.
 *
 * Shared memory: one control page and two data rings of 2^order pages, all owned by the
 * offerer (the lower domid) and mapped read-write by the acceptor.  The acceptor is
 * untrusted, and so is the offerer from the acceptor's side: whatever one side writes
 * anywhere in the shared pages, the other must not read or write outside its own memory,
 * loop, or deliver a record that does not lie inside the ring.  A ring whose peer broke the
 * protocol is marked broken and stays broken; the caller tears the channel down.
 *
 * Each side sees each data ring through a struct ckfp_ring "view" of its own: producer (TX)
 * or consumer (RX).  The view's indices live in private memory; the shared copies are only
 * written by this side and only read by the peer, so a peer scribbling on them cannot
 * change what this side believes.
 */
#ifndef _CKFP_RING_H
#define _CKFP_RING_H

#include "ckfp-compat.h"

#define CKFP_MAGIC 0x504b434bU /* "CKFP" read as little-endian bytes */
#define CKFP_VERSION 1U

/* Xen grants whole 4 KiB frames, whatever the kernel's PAGE_SIZE. */
#define CKFP_PAGE_SHIFT 12
#define CKFP_PAGE_SIZE (1U << CKFP_PAGE_SHIFT)

#define CKFP_ETH_HLEN 14U
#define CKFP_MIN_FRAME (CKFP_ETH_HLEN + 20U) /* Ethernet + a minimal IPv4 header */
#define CKFP_MAX_FRAME (CKFP_ETH_HLEN + 65535U) /* a 64 KiB GSO packet */

#define CKFP_REC_ALIGN 64U
#define CKFP_STRIDE(len) (((u32)sizeof(struct ckfp_rec) + (len) + CKFP_REC_ALIGN - 1) & \
			  ~(CKFP_REC_ALIGN - 1))

/*
 * 2^6 pages = 256 KiB is the smallest ring that holds two records of CKFP_MAX_FRAME, so a
 * producer never waits for the consumer to drain everything before a large record fits.
 * The largest keeps a ring's size far below 2^31, so "prod - cons" is never ambiguous.
 */
#define CKFP_ORDER_MIN 6U
#define CKFP_ORDER_MAX 8U

/* One cache line, written by exactly one side (so no line is bounced by two writers). */
struct ckfp_line {
	__le32 tx_prod;		/* my TX ring: producer index, in bytes, free-running */
	__le32 tx_cons_event;	/* my TX ring: "notify me when your cons passes this" */
	__le32 rx_cons;		/* my RX ring: consumer index */
	__le32 rx_prod_event;	/* my RX ring: "notify me when your prod passes this" */
	__le32 closing;		/* in-band teardown request */
	u8 pad[44];
};

struct ckfp_ctrl {
	__le32 magic;
	__le32 version;
	__le32 ring_order;
	__le32 flags;
	u8 pad[48];
	struct ckfp_line by_offerer;	/* TX = the offerer -> acceptor ring, RX = the other */
	struct ckfp_line by_acceptor;	/* TX = the acceptor -> offerer ring, RX = the other */
};

enum ckfp_rec_flag {
	CKFP_REC_F_CSUM_PARTIAL = 1U << 0,	/* csum_start/csum_off name the checksum to fill */
	CKFP_REC_F_DATA_VALID = 1U << 1,	/* the sender's stack already checked the checksum */
	CKFP_REC_F_GSO_TCPV4 = 1U << 2,		/* one TCP segment per gso_size bytes */
	CKFP_REC_F_GSO_UDP_L4 = 1U << 3,	/* one UDP datagram per gso_size bytes */
	CKFP_REC_F_GSO = CKFP_REC_F_GSO_TCPV4 | CKFP_REC_F_GSO_UDP_L4,
	CKFP_REC_F_ALL = (1U << 4) - 1,
};

/* Before every frame, at an index that is a multiple of 64: never split across pages. */
struct ckfp_rec {
	__le32 len;		/* frame bytes after this header */
	__le16 flags;		/* enum ckfp_rec_flag */
	__le16 gso_size;
	__le16 csum_start;	/* from the frame's first byte */
	__le16 csum_off;	/* from csum_start */
	__le32 rsvd;		/* written as 0, never read */
};

/* A record's header in CPU order, as the producer gives it and the consumer returns it. */
struct ckfp_rec_info {
	u32 len;
	u16 flags;
	u16 gso_size;
	u16 csum_start;
	u16 csum_off;
};

/* One piece of a frame to write (a linear part, a page fragment). */
struct ckfp_frag {
	const void *base;
	u32 len;
};

enum ckfp_side { CKFP_OFFERER, CKFP_ACCEPTOR };
enum ckfp_role { CKFP_TX, CKFP_RX };

/* Private state: never in shared memory, so the peer cannot touch it. */
struct ckfp_ring {
	void *const *pg;		/* 2^order pointers to (mapped) 4 KiB pages, any addresses */
	struct ckfp_line *mine;		/* the line this side writes (never reads back) */
	const struct ckfp_line *peer;	/* the line the peer writes: untrusted */
	u32 size;			/* bytes, a power of two */
	u32 idx;			/* TX: next byte to write; RX: next record's start */
	u32 shared;			/* the index last stored in the shared line */
	u32 seen;			/* TX: the peer's cons as last checked; RX: unused */
	struct ckfp_rec_info cur;	/* RX: the peeked record, validated; len 0 when none */
	bool broken;			/* sticky: every later call returns -EPROTO */
};

/* The offerer's set-up of a zeroed control page. */
void ckfp_ctrl_init(struct ckfp_ctrl *ctrl, unsigned int order);

/* The acceptor's check of the offerer's control page: magic, version and the ring order. */
int ckfp_ctrl_check(const struct ckfp_ctrl *ctrl, unsigned int *order);

/*
 * A view of one data ring: 2^order pages in pg (kept, not copied), role TX on the ring this
 * side produces, RX on the one it consumes.  start is the index both sides begin at (0 for a
 * new channel), a multiple of 64.
 */
int ckfp_ring_init(struct ckfp_ring *r, struct ckfp_ctrl *ctrl, void *const *pg,
		   unsigned int order, enum ckfp_side side, enum ckfp_role role, u32 start);

static inline bool ckfp_ring_broken(const struct ckfp_ring *r)
{
	return r->broken;
}

/* Producer.  0 when a record of len bytes fits now, -ENOSPC when it does not yet. */
int ckfp_ring_space(struct ckfp_ring *r, u32 len);

/*
 * Writes one record (not yet visible to the peer): the header from info and the frame from
 * nfrags pieces whose lengths add up to info->len.  -ENOSPC when it does not fit.
 */
int ckfp_ring_write(struct ckfp_ring *r, const struct ckfp_rec_info *info,
		    const struct ckfp_frag *frags, unsigned int nfrags);

/* Makes every written record visible; *notify says whether to kick the peer's event channel. */
int ckfp_ring_publish(struct ckfp_ring *r, bool *notify);

/*
 * Before waiting for space for a record of len bytes: asks the peer for an event once it
 * fits, then checks again (*fits) so an event cannot be lost between the check and the wait.
 */
int ckfp_ring_prod_arm(struct ckfp_ring *r, u32 len, bool *fits);

/*
 * Consumer.  The next record's header, validated; -EAGAIN when the ring is empty.  Until
 * ckfp_ring_release() the same record is returned again.
 */
int ckfp_ring_peek(struct ckfp_ring *r, struct ckfp_rec_info *info);

/* Copies bytes [off, off + n) of the peeked record's frame into dst. */
int ckfp_ring_copy(struct ckfp_ring *r, u32 off, void *dst, u32 n);

/* Gives the peeked record's space back; *notify says whether to kick the peer. */
int ckfp_ring_release(struct ckfp_ring *r, bool *notify);

/* Before waiting for records: asks for an event on the next one, then checks (*pending). */
int ckfp_ring_cons_arm(struct ckfp_ring *r, bool *pending);

/*
 * A producer's watch on its consumer, the peer: a wait begins with a mark at what is
 * published, and it ends when the peer's consumer index has reached that mark, so what the
 * peer must do in the time the caller allows is read all it had been given when the wait
 * began.  A peer that only nibbles (a record, a byte at a time) never reaches the mark; one
 * whose index goes back or past what we published has broken the ring.
 */
struct ckfp_watch {
	u32 mark;		/* the index published when the current wait began */
	bool waiting;		/* a wait is under way */
};

enum ckfp_watch_state {
	CKFP_WATCH_IDLE,	/* everything published was consumed and nothing is queued */
	CKFP_WATCH_MOVING,	/* a new wait began (the last one's mark was reached, or none ran) */
	CKFP_WATCH_WAITING,	/* the peer has not reached the mark yet: the caller times this */
};

/*
 * Producer.  One look at the peer's consumer index, checked as every load of it is; queued
 * says whether frames wait outside the ring for room (they keep a wait going even when the
 * ring is empty).  Returns an enum ckfp_watch_state, or -EPROTO.
 */
int ckfp_ring_watch(struct ckfp_ring *r, struct ckfp_watch *w, bool queued);

#endif /* _CKFP_RING_H */
