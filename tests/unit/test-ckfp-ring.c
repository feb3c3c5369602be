// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path's ring arithmetic (kmod-hook/fastpath/ckfp-ring.c), compiled as userspace.
 * Every ring page is its own malloc() of exactly 4 KiB, so ASan reports any access that
 * assumes the pages are contiguous.  The hostile tests play the peer by writing the shared
 * control page and record headers directly.
 */
#include <stdlib.h>
#include <string.h>

#include "ckfp-ring.h"
#include "helpers.h"

/* Both ends of the offerer -> acceptor ring in one process. */
struct fx {
	struct ckfp_ctrl *ctrl;
	void **pg;
	unsigned int order;
	u32 size;
	struct ckfp_ring tx;	/* the offerer's producer view */
	struct ckfp_ring rx;	/* the acceptor's consumer view */
};

static void fx_init(struct fx *f, unsigned int order, u32 start)
{
	f->order = order;
	f->size = CKFP_PAGE_SIZE << order;
	f->ctrl = malloc(sizeof(*f->ctrl));
	ck_assert_ptr_nonnull(f->ctrl);
	ckfp_ctrl_init(f->ctrl, order);
	/* Both sides begin at start, as if that many bytes had already gone through. */
	f->ctrl->by_offerer.tx_prod = cpu_to_le32(start);
	f->ctrl->by_acceptor.rx_cons = cpu_to_le32(start);
	f->pg = calloc(1U << order, sizeof(*f->pg));
	ck_assert_ptr_nonnull(f->pg);
	for (u32 i = 0; i < 1U << order; i++) {
		f->pg[i] = calloc(1, CKFP_PAGE_SIZE);
		ck_assert_ptr_nonnull(f->pg[i]);
	}
	ck_assert_int_eq(ckfp_ring_init(&f->tx, f->ctrl, f->pg, order, CKFP_OFFERER, CKFP_TX, start), 0);
	ck_assert_int_eq(ckfp_ring_init(&f->rx, f->ctrl, f->pg, order, CKFP_ACCEPTOR, CKFP_RX, start), 0);
}

static void fx_free(struct fx *f)
{
	for (u32 i = 0; i < 1U << f->order; i++)
		free(f->pg[i]);
	free(f->pg);
	free(f->ctrl);
}

/* The shared header of the record at idx, to tamper with. */
static struct ckfp_rec *hdr_at(struct fx *f, u32 idx)
{
	u32 pos = idx & (f->size - 1);

	return (struct ckfp_rec *)((u8 *)f->pg[pos / CKFP_PAGE_SIZE] + pos % CKFP_PAGE_SIZE);
}

static void fill(u8 *buf, u32 len, u32 seed)
{
	for (u32 i = 0; i < len; i++)
		buf[i] = (u8)(th_rand(&seed) >> 24);
}

/* Writes a record of len bytes from seed, in nfrags pieces (at least one), not published. */
static int put(struct fx *f, u32 len, u32 seed, u16 flags, unsigned int nfrags)
{
	struct ckfp_rec_info info = { .len = len, .flags = flags, .gso_size = flags & CKFP_REC_F_GSO ? 1448 : 0 };
	struct ckfp_frag frags[4];
	u8 *buf = malloc(len);
	u32 at = 0;
	int err;

	ck_assert_ptr_nonnull(buf);
	fill(buf, len, seed);
	ck_assert_uint_le(nfrags, 4);
	for (unsigned int i = 0; i < nfrags; i++) {
		u32 n = i + 1 == nfrags ? len - at : (len - at) / 2;

		frags[i] = (struct ckfp_frag){ buf + at, n };
		at += n;
	}
	err = ckfp_ring_write(&f->tx, &info, frags, nfrags);
	free(buf);
	return err;
}

static bool publish(struct fx *f)
{
	bool notify;

	ck_assert_int_eq(ckfp_ring_publish(&f->tx, &notify), 0);
	return notify;
}

/* Takes the next record, copied out in pieces of piece bytes, and checks it. */
static bool take(struct fx *f, u32 len, u32 seed, u32 piece)
{
	struct ckfp_rec_info info;
	u8 *want = malloc(len), *got = malloc(len);
	bool notify;

	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(ckfp_ring_peek(&f->rx, &info), 0);
	ck_assert_uint_eq(info.len, len);
	for (u32 off = 0; off < len; off += piece)
		ck_assert_int_eq(ckfp_ring_copy(&f->rx, off, got + off, len - off < piece ? len - off : piece), 0);
	fill(want, len, seed);
	ck_assert_int_eq(memcmp(want, got, len), 0);
	ck_assert_int_eq(ckfp_ring_release(&f->rx, &notify), 0);
	free(want);
	free(got);
	return notify;
}

/* Random records through the ring, checked against a FIFO; returns the bytes moved. */
static uint64_t random_traffic(struct fx *f, uint32_t *rng, unsigned int records, bool garbage_events)
{
	struct { u32 len, seed; } q[64];
	unsigned int head = 0, tail = 0, published = 0, sent = 0;
	uint64_t inflight = 0, moved = 0;

	while (sent < records || head != tail) {
		if (garbage_events) {
			f->ctrl->by_offerer.tx_cons_event = th_rand(rng);
			f->ctrl->by_acceptor.rx_prod_event = th_rand(rng);
		}
		if (sent < records && tail - head < 64 && th_below(rng, 3)) {
			u32 r = th_below(rng, 4);
			u32 len = r == 0 ? CKFP_MAX_FRAME - th_below(rng, 64) :
				  r == 1 ? CKFP_MIN_FRAME + th_below(rng, 20000) :
					   CKFP_MIN_FRAME + th_below(rng, 256);
			u32 seed = th_rand(rng);
			int err = put(f, len, seed, 0, 1 + th_below(rng, 4));

			if (inflight + CKFP_STRIDE(len) <= f->size) {
				ck_assert_int_eq(err, 0);
				q[tail++ % 64] = (typeof(q[0])){ len, seed };
				inflight += CKFP_STRIDE(len);
				sent++;
			} else {
				ck_assert_int_eq(err, -ENOSPC);
			}
			if (th_below(rng, 2)) {
				publish(f);
				published = tail;
			}
		} else if (head != published) {
			u32 len = q[head % 64].len;

			take(f, len, q[head % 64].seed, 1 + th_below(rng, 5000));
			head++;
			inflight -= CKFP_STRIDE(len);
			moved += len;
		} else {
			struct ckfp_rec_info info;

			ck_assert_int_eq(ckfp_ring_peek(&f->rx, &info), -EAGAIN);
			publish(f);
			published = tail;
		}
	}
	ck_assert(!ckfp_ring_broken(&f->tx));
	ck_assert(!ckfp_ring_broken(&f->rx));
	return moved;
}

START_TEST(round_trip_random)
{
	/* Starting before 2^32 makes the free-running indices wrap during the test. */
	const u32 starts[] = { 0, 0u - 64 * 1000, 4096 * 3 + 64 * 7 };

	for (unsigned int order = CKFP_ORDER_MIN; order <= CKFP_ORDER_MAX; order++) {
		for (unsigned int s = 0; s < 3; s++) {
			uint32_t rng = order * 7919 + s;
			struct fx f;
			uint64_t moved;

			fx_init(&f, order, starts[s]);
			moved = random_traffic(&f, &rng, 600, false);
			/* Enough to have wrapped the ring several times. */
			ck_assert_uint_gt(moved, 3 * (uint64_t)f.size);
			fx_free(&f);
		}
	}
}
END_TEST

START_TEST(garbage_events_change_only_notify)
{
	uint32_t rng = 42;
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, 0u - 64 * 100);
	random_traffic(&f, &rng, 600, true);
	fx_free(&f);
}
END_TEST

START_TEST(min_and_max_frames)
{
	struct ckfp_rec_info info;
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, 0);
	ck_assert_int_eq(put(&f, CKFP_MIN_FRAME, 1, 0, 1), 0);
	ck_assert_int_eq(put(&f, CKFP_MAX_FRAME, 2, 0, 3), 0);
	publish(&f);
	take(&f, CKFP_MIN_FRAME, 1, CKFP_MIN_FRAME);
	take(&f, CKFP_MAX_FRAME, 2, 4096);
	/* Our own caller's lengths are checked too, as input errors. */
	ck_assert_int_eq(put(&f, CKFP_MIN_FRAME - 1, 3, 0, 1), -EINVAL);
	ck_assert_int_eq(put(&f, CKFP_MAX_FRAME + 1, 3, 0, 1), -EINVAL);
	ck_assert_int_eq(ckfp_ring_space(&f.tx, CKFP_MAX_FRAME + 1), -EINVAL);
	ck_assert_int_eq(ckfp_ring_peek(&f.rx, &info), -EAGAIN);
	fx_free(&f);
}
END_TEST

/* Three maximal records and one that takes the rest: strides add up to the ring's size. */
static void fill_exactly(struct fx *f)
{
	u32 last = f->size - 3 * CKFP_STRIDE(CKFP_MAX_FRAME) - sizeof(struct ckfp_rec);

	ck_assert_uint_eq(3 * CKFP_STRIDE(CKFP_MAX_FRAME) + CKFP_STRIDE(last), f->size);
	for (u32 i = 0; i < 3; i++)
		ck_assert_int_eq(put(f, CKFP_MAX_FRAME, i, 0, 2), 0);
	ck_assert_int_eq(put(f, last, 3, 0, 4), 0);
}

START_TEST(exactly_full_ring)
{
	u32 last;
	struct fx f;

	/* Starting mid-page puts record boundaries and the ring's end inside records. */
	fx_init(&f, CKFP_ORDER_MIN, 4096 * 17 + 64 * 5);
	last = f.size - 3 * CKFP_STRIDE(CKFP_MAX_FRAME) - sizeof(struct ckfp_rec);
	fill_exactly(&f);
	ck_assert_int_eq(ckfp_ring_space(&f.tx, CKFP_MIN_FRAME), -ENOSPC);
	ck_assert_int_eq(put(&f, CKFP_MIN_FRAME, 9, 0, 1), -ENOSPC);
	publish(&f);
	take(&f, CKFP_MAX_FRAME, 0, 1000);
	ck_assert_int_eq(ckfp_ring_space(&f.tx, CKFP_MAX_FRAME), 0);
	ck_assert_int_eq(put(&f, CKFP_MAX_FRAME, 4, 0, 1), 0);
	ck_assert_int_eq(ckfp_ring_space(&f.tx, CKFP_MIN_FRAME), -ENOSPC);
	publish(&f);
	take(&f, CKFP_MAX_FRAME, 1, 65536);
	take(&f, CKFP_MAX_FRAME, 2, 3);
	take(&f, last, 3, 4096);
	take(&f, CKFP_MAX_FRAME, 4, 77);
	ck_assert_int_eq(ckfp_ring_space(&f.tx, CKFP_MAX_FRAME), 0);
	fx_free(&f);
}
END_TEST

START_TEST(record_wraps_across_the_end)
{
	struct fx f;

	/* The header in the ring's last 64 bytes, the frame continuing on page 0. */
	fx_init(&f, CKFP_ORDER_MIN, (CKFP_PAGE_SIZE << CKFP_ORDER_MIN) * 5 - 64);
	ck_assert_int_eq(put(&f, 9000, 7, 0, 3), 0);
	publish(&f);
	take(&f, 9000, 7, 9000);
	fx_free(&f);
}
END_TEST

START_TEST(notify_only_when_asked)
{
	bool pending, fits;
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, 0);
	/* The consumer asks for an event on the next record: exactly one publish notifies. */
	ck_assert_int_eq(ckfp_ring_cons_arm(&f.rx, &pending), 0);
	ck_assert(!pending);
	ck_assert_int_eq(put(&f, 100, 1, 0, 1), 0);
	ck_assert(publish(&f));
	ck_assert_int_eq(put(&f, 100, 2, 0, 1), 0);
	ck_assert(!publish(&f));
	ck_assert_int_eq(ckfp_ring_cons_arm(&f.rx, &pending), 0);
	ck_assert(pending);

	/* The producer waits for room for a large record: only the release that makes it fit notifies. */
	ck_assert_int_eq(put(&f, CKFP_MAX_FRAME, 3, 0, 1), 0);
	ck_assert_int_eq(put(&f, CKFP_MAX_FRAME, 4, 0, 1), 0);
	ck_assert_int_eq(put(&f, CKFP_MAX_FRAME, 5, 0, 1), 0);
	ck_assert_int_eq(put(&f, CKFP_MAX_FRAME, 6, 0, 1), -ENOSPC);
	ck_assert_int_eq(ckfp_ring_prod_arm(&f.tx, CKFP_MAX_FRAME, &fits), 0);
	ck_assert(!fits);
	publish(&f);
	ck_assert(!take(&f, 100, 1, 100));
	ck_assert(!take(&f, 100, 2, 100));
	ck_assert(take(&f, CKFP_MAX_FRAME, 3, 4096));
	ck_assert_int_eq(put(&f, CKFP_MAX_FRAME, 6, 0, 1), 0);
	fx_free(&f);
}
END_TEST

START_TEST(caller_errors_are_einval)
{
	struct ckfp_rec_info info = { .len = 100 };
	struct ckfp_frag frag = { "x", 1 };
	struct ckfp_ring r;
	bool notify;
	u8 buf[200];
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, 0);
	ck_assert_int_eq(ckfp_ring_init(&r, f.ctrl, f.pg, CKFP_ORDER_MIN - 1, CKFP_OFFERER, CKFP_TX, 0), -EINVAL);
	ck_assert_int_eq(ckfp_ring_init(&r, f.ctrl, f.pg, CKFP_ORDER_MAX + 1, CKFP_OFFERER, CKFP_TX, 0), -EINVAL);
	ck_assert_int_eq(ckfp_ring_init(&r, f.ctrl, f.pg, CKFP_ORDER_MIN, CKFP_OFFERER, CKFP_TX, 32), -EINVAL);
	/* Fragments that do not add up to the length. */
	ck_assert_int_eq(ckfp_ring_write(&f.tx, &info, &frag, 1), -EINVAL);
	ck_assert_int_eq(ckfp_ring_write(&f.tx, &info, NULL, 0), -EINVAL);
	ck_assert_int_eq(put(&f, 100, 1, 1U << 15, 1), -EINVAL);
	/* Our own headers obey the rules the peer's are checked against. */
	memset(buf, 0, sizeof(buf));
	info = (struct ckfp_rec_info){ .len = 100, .flags = CKFP_REC_F_CSUM_PARTIAL, .csum_start = 98 };
	frag = (struct ckfp_frag){ buf, 100 };
	ck_assert_int_eq(ckfp_ring_write(&f.tx, &info, &frag, 1), 0);
	info.csum_start = 99;
	ck_assert_int_eq(ckfp_ring_write(&f.tx, &info, &frag, 1), -EINVAL);
	publish(&f);
	ck_assert_int_eq(ckfp_ring_peek(&f.rx, &info), 0);
	ck_assert_uint_eq(info.csum_start, 98);
	ck_assert_int_eq(ckfp_ring_release(&f.rx, &notify), 0);
	/* Copy and release without a peeked record, a copy past its end. */
	ck_assert_int_eq(ckfp_ring_copy(&f.rx, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(ckfp_ring_release(&f.rx, &notify), -EINVAL);
	ck_assert_int_eq(put(&f, 100, 1, 0, 1), 0);
	publish(&f);
	ck_assert_int_eq(ckfp_ring_peek(&f.rx, &info), 0);
	ck_assert_int_eq(ckfp_ring_copy(&f.rx, 50, buf, 51), -EINVAL);
	ck_assert_int_eq(ckfp_ring_copy(&f.rx, 101, buf, 0), -EINVAL);
	ck_assert_int_eq(ckfp_ring_copy(&f.rx, 100, buf, 0), 0);
	ck_assert(!ckfp_ring_broken(&f.rx) && !ckfp_ring_broken(&f.tx));
	fx_free(&f);
}
END_TEST

START_TEST(ctrl_check)
{
	struct ckfp_ctrl c;
	unsigned int order;

	ckfp_ctrl_init(&c, 7);
	ck_assert_int_eq(ckfp_ctrl_check(&c, &order), 0);
	ck_assert_uint_eq(order, 7);
	c.ring_order = cpu_to_le32(CKFP_ORDER_MAX + 1);
	ck_assert_int_eq(ckfp_ctrl_check(&c, &order), -EPROTO);
	ckfp_ctrl_init(&c, 7);
	c.magic ^= 1;
	ck_assert_int_eq(ckfp_ctrl_check(&c, &order), -EPROTO);
	ckfp_ctrl_init(&c, 7);
	c.version = cpu_to_le32(2);
	ck_assert_int_eq(ckfp_ctrl_check(&c, &order), -EPROTO);
}
END_TEST

/* -EPROTO now, and for every consumer call after, even once the peer behaves again. */
static void assert_rx_broken_for_good(struct fx *f, u32 honest_prod)
{
	struct ckfp_rec_info info;
	bool flag;
	u8 buf[64];

	ck_assert_int_eq(ckfp_ring_peek(&f->rx, &info), -EPROTO);
	ck_assert(ckfp_ring_broken(&f->rx));
	f->ctrl->by_offerer.tx_prod = cpu_to_le32(honest_prod);
	ck_assert_int_eq(ckfp_ring_peek(&f->rx, &info), -EPROTO);
	ck_assert_int_eq(ckfp_ring_copy(&f->rx, 0, buf, 1), -EPROTO);
	ck_assert_int_eq(ckfp_ring_release(&f->rx, &flag), -EPROTO);
	ck_assert_int_eq(ckfp_ring_cons_arm(&f->rx, &flag), -EPROTO);
}

/* One honest record of len bytes from index 0, then the peer's edit of its header. */
static struct ckfp_rec *one_record(struct fx *f, u32 len, u16 flags)
{
	fx_init(f, CKFP_ORDER_MIN, 0);
	ck_assert_int_eq(put(f, len, 1, flags, 1), 0);
	publish(f);
	return hdr_at(f, 0);
}

START_TEST(hostile_prod_beyond_size)
{
	struct fx f;

	one_record(&f, 100, 0);
	f.ctrl->by_offerer.tx_prod = cpu_to_le32(f.size + 64);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

START_TEST(hostile_prod_backwards)
{
	struct fx f;

	/* Behind the consumer's index: seen as more than a ring's worth in flight. */
	one_record(&f, 100, 0);
	take(&f, 100, 1, 100);
	f.ctrl->by_offerer.tx_prod = cpu_to_le32(0);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

static const struct ckfp_line *only_line;

static void only_control_loads(const void *addr, size_t size)
{
	ck_assert_msg((const u8 *)addr >= (const u8 *)only_line &&
			      (const u8 *)addr < (const u8 *)(only_line + 1),
		"a load outside the peer's control line");
}

START_TEST(hostile_prod_inside_header)
{
	struct fx f;

	/* A header that prod does not cover is not even read. */
	one_record(&f, 100, 0);
	f.ctrl->by_offerer.tx_prod = cpu_to_le32(8);
	only_line = &f.ctrl->by_offerer;
	ckfp_load_hook = only_control_loads;
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	ckfp_load_hook = NULL;
	fx_free(&f);
}
END_TEST

START_TEST(hostile_len_below_min)
{
	struct fx f;

	one_record(&f, 100, 0)->len = cpu_to_le32(CKFP_MIN_FRAME - 1);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

START_TEST(hostile_len_above_max)
{
	struct fx f;

	/* prod covers the whole ring, so only the length check can stop this one. */
	one_record(&f, 100, 0)->len = cpu_to_le32(CKFP_MAX_FRAME + 1);
	f.ctrl->by_offerer.tx_prod = cpu_to_le32(f.size);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

START_TEST(hostile_stride_beyond_prod)
{
	struct fx f;

	one_record(&f, 100, 0)->len = cpu_to_le32(100 + 64);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

START_TEST(hostile_unknown_flags)
{
	struct fx f;

	one_record(&f, 100, 0)->flags = cpu_to_le16(CKFP_REC_F_ALL + 1);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

START_TEST(hostile_gso_without_size)
{
	struct fx f;

	one_record(&f, 100, CKFP_REC_F_GSO_TCPV4 | CKFP_REC_F_CSUM_PARTIAL)->gso_size = 0;
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

START_TEST(hostile_two_gso_types)
{
	struct fx f;

	one_record(&f, 100, 0)->flags = cpu_to_le16(CKFP_REC_F_GSO | CKFP_REC_F_CSUM_PARTIAL);
	hdr_at(&f, 0)->gso_size = cpu_to_le16(1000);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

START_TEST(hostile_gso_without_csum)
{
	struct fx f;

	one_record(&f, 100, 0)->flags = cpu_to_le16(CKFP_REC_F_GSO_UDP_L4);
	hdr_at(&f, 0)->gso_size = cpu_to_le16(1000);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

START_TEST(hostile_csum_beyond_frame)
{
	struct fx f;

	/* 60 + 39 + 2 > 100: the checksum's 2 bytes would end past the frame. */
	one_record(&f, 100, CKFP_REC_F_CSUM_PARTIAL)->csum_start = cpu_to_le16(60);
	hdr_at(&f, 0)->csum_off = cpu_to_le16(39);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

/* The honest records before these edits still arrive: only the bad one breaks the ring. */
START_TEST(hostile_after_good_records)
{
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, 0);
	ck_assert_int_eq(put(&f, 100, 1, 0, 1), 0);
	ck_assert_int_eq(put(&f, 200, 2, 0, 1), 0);
	publish(&f);
	hdr_at(&f, CKFP_STRIDE(100))->len = cpu_to_le32(0xffffffff);
	take(&f, 100, 1, 100);
	assert_rx_broken_for_good(&f, CKFP_STRIDE(100) + CKFP_STRIDE(200));
	fx_free(&f);
}
END_TEST

/* -EPROTO now, and for every producer call after, even once the peer behaves again. */
static void assert_tx_broken_for_good(struct fx *f, u32 honest_cons)
{
	bool flag;

	ck_assert_int_eq(ckfp_ring_space(&f->tx, 100), -EPROTO);
	ck_assert(ckfp_ring_broken(&f->tx));
	f->ctrl->by_acceptor.rx_cons = cpu_to_le32(honest_cons);
	ck_assert_int_eq(ckfp_ring_space(&f->tx, 100), -EPROTO);
	ck_assert_int_eq(put(f, 100, 1, 0, 1), -EPROTO);
	ck_assert_int_eq(ckfp_ring_publish(&f->tx, &flag), -EPROTO);
	ck_assert_int_eq(ckfp_ring_prod_arm(&f->tx, 100, &flag), -EPROTO);
}

START_TEST(hostile_cons_past_prod)
{
	struct fx f;

	one_record(&f, 100, 0);
	f.ctrl->by_acceptor.rx_cons = cpu_to_le32(CKFP_STRIDE(100) + 64);
	assert_tx_broken_for_good(&f, 0);
	fx_free(&f);
}
END_TEST

START_TEST(hostile_cons_backwards)
{
	struct fx f;

	/* The producer has seen cons at 128; going back to 64 would count bytes twice. */
	one_record(&f, 100, 0);
	take(&f, 100, 1, 100);
	ck_assert_int_eq(ckfp_ring_space(&f.tx, 100), 0);
	f.ctrl->by_acceptor.rx_cons = cpu_to_le32(CKFP_STRIDE(100) - 64);
	assert_tx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

/* The peer scribbling on the producer's own line changes nothing: it is never read back. */
START_TEST(own_line_never_read)
{
	struct fx f;

	one_record(&f, 100, 0);
	f.ctrl->by_offerer.tx_prod = cpu_to_le32(0xdeadbeef);
	f.ctrl->by_offerer.tx_cons_event = cpu_to_le32(0xdeadbeef);
	ck_assert_int_eq(put(&f, 100, 2, 0, 1), 0);
	ck_assert_int_eq(ckfp_ring_space(&f.tx, CKFP_MAX_FRAME), 0);
	publish(&f);
	ck_assert_uint_eq(le32_to_cpu(f.ctrl->by_offerer.tx_prod), 2 * CKFP_STRIDE(100));
	take(&f, 100, 1, 100);
	take(&f, 100, 2, 100);
	fx_free(&f);
}
END_TEST

/* Counts the loads of each control field and header field in one operation. */
static const void *loaded[32];
static unsigned int n_loaded;
static struct ckfp_rec *flip_after_load; /* rewrite this header's len once it was loaded */

static void count_load(const void *addr, size_t size)
{
	for (unsigned int i = 0; i < n_loaded; i++)
		ck_assert_msg(loaded[i] != addr, "a shared field was loaded twice in one operation");
	ck_assert_uint_lt(n_loaded, 32);
	if (flip_after_load && n_loaded && loaded[n_loaded - 1] == &flip_after_load->len)
		flip_after_load->len = cpu_to_le32(CKFP_MAX_FRAME);
	loaded[n_loaded++] = addr;
}

START_TEST(each_shared_field_loaded_once)
{
	struct ckfp_rec_info info;
	bool flag;
	u8 buf[128];
	struct fx f;

	one_record(&f, 100, CKFP_REC_F_CSUM_PARTIAL);
	flip_after_load = hdr_at(&f, 0);
	ckfp_load_hook = count_load;
	ck_assert_int_eq(ckfp_ring_peek(&f.rx, &info), 0);
	ck_assert_uint_ge(n_loaded, 2);
	/* The peer's later edit of len did not reach the validated record. */
	ck_assert_uint_eq(info.len, 100);
	ck_assert_int_eq(ckfp_ring_copy(&f.rx, 0, buf, 101), -EINVAL);
	n_loaded = 0;
	ck_assert_int_eq(ckfp_ring_peek(&f.rx, &info), 0);
	ck_assert_uint_eq(info.len, 100);
	ck_assert_int_eq(ckfp_ring_release(&f.rx, &flag), 0);
	n_loaded = 0;
	ck_assert_int_eq(put(&f, 100, 2, 0, 1), 0);
	n_loaded = 0;
	ck_assert_int_eq(ckfp_ring_publish(&f.tx, &flag), 0);
	n_loaded = 0;
	ck_assert_int_eq(ckfp_ring_prod_arm(&f.tx, 100, &flag), 0);
	n_loaded = 0;
	ck_assert_int_eq(ckfp_ring_cons_arm(&f.rx, &flag), 0);
	ckfp_load_hook = NULL;
	flip_after_load = NULL;
	n_loaded = 0;
	fx_free(&f);
}
END_TEST

/* The producer's watch (ckfp_ring_watch): one look per call, as the module's tick makes. */
static int look(struct fx *f, struct ckfp_watch *w, bool queued)
{
	return ckfp_ring_watch(&f->tx, w, queued);
}

START_TEST(watch_idle_moving_waiting)
{
	struct ckfp_watch w = { 0 };
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, 0);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_IDLE);
	ck_assert_int_eq(put(&f, 100, 1, 0, 1), 0);
	/* Written but not published: the peer cannot read it yet, so nothing waits for it. */
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_IDLE);
	publish(&f);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_MOVING);
	ck_assert_int_eq(put(&f, 200, 2, 0, 1), 0);
	publish(&f);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_WAITING);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_WAITING);
	/* The first record was all there was when the wait began: reached, a new wait. */
	take(&f, 100, 1, 100);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_MOVING);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_WAITING);
	take(&f, 200, 2, 200);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_IDLE);
	ck_assert(!w.waiting);
	fx_free(&f);
}
END_TEST

/* A peer that reads a little at a time never reaches the mark: it stays WAITING. */
START_TEST(watch_nibbling_peer_keeps_waiting)
{
	struct ckfp_watch w = { 0 };
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, 0);
	for (u32 i = 0; i < 3; i++)
		ck_assert_int_eq(put(&f, 100, i, 0, 1), 0);
	publish(&f);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_MOVING);
	take(&f, 100, 0, 100);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_WAITING);
	/* More published meanwhile does not move the mark. */
	ck_assert_int_eq(put(&f, 100, 3, 0, 1), 0);
	publish(&f);
	take(&f, 100, 1, 100);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_WAITING);
	/* One byte further, as a peer may write its index: still short of the mark. */
	f.ctrl->by_acceptor.rx_cons = cpu_to_le32(2 * CKFP_STRIDE(100) + 1);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_WAITING);
	f.ctrl->by_acceptor.rx_cons = cpu_to_le32(3 * CKFP_STRIDE(100));
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_MOVING);
	fx_free(&f);
}
END_TEST

/* Frames queued for room keep a wait going on an empty ring, but it never stalls there. */
START_TEST(watch_queued_on_empty_ring)
{
	struct ckfp_watch w = { 0 };
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, 0);
	ck_assert_int_eq(look(&f, &w, true), CKFP_WATCH_MOVING);
	ck_assert_int_eq(look(&f, &w, true), CKFP_WATCH_MOVING);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_IDLE);
	fx_free(&f);
}
END_TEST

/* The same across the indices' wrap at 2^32, with a full ring and the queue behind it. */
START_TEST(watch_across_the_wrap)
{
	const u32 start = 0U - 2 * CKFP_STRIDE(1000);
	struct ckfp_watch w = { 0 };
	unsigned int n = 0;
	struct fx f;

	fx_init(&f, CKFP_ORDER_MIN, start);
	while (put(&f, 1000, n, 0, 1) == 0)
		n++;
	publish(&f);
	ck_assert_uint_gt(n, 2);
	ck_assert_int_eq(look(&f, &w, true), CKFP_WATCH_MOVING);
	for (unsigned int i = 0; i + 1 < n; i++) {
		take(&f, 1000, i, 1000);
		ck_assert_int_eq(look(&f, &w, true), CKFP_WATCH_WAITING);
	}
	take(&f, 1000, n - 1, 1000);
	ck_assert_int_eq(look(&f, &w, true), CKFP_WATCH_MOVING);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_IDLE);
	fx_free(&f);
}
END_TEST

/* A consumer index that goes back, or past what was published, breaks the ring for good. */
START_TEST(watch_hostile_cons)
{
	struct ckfp_watch w = { 0 };
	struct fx f;

	one_record(&f, 100, 0);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_MOVING);
	f.ctrl->by_acceptor.rx_cons = cpu_to_le32(CKFP_STRIDE(100) + 64);
	ck_assert_int_eq(look(&f, &w, false), -EPROTO);
	f.ctrl->by_acceptor.rx_cons = cpu_to_le32(CKFP_STRIDE(100));
	ck_assert_int_eq(look(&f, &w, false), -EPROTO);
	fx_free(&f);

	one_record(&f, 100, 0);
	w = (struct ckfp_watch){ 0 };
	take(&f, 100, 1, 100);
	ck_assert_int_eq(look(&f, &w, false), CKFP_WATCH_IDLE);
	f.ctrl->by_acceptor.rx_cons = cpu_to_le32(0);
	ck_assert_int_eq(look(&f, &w, false), -EPROTO);
	assert_tx_broken_for_good(&f, CKFP_STRIDE(100));
	fx_free(&f);
}
END_TEST

static Suite *ckfp_ring_suite(void)
{
	Suite *s = suite_create("ckfp-ring");

	th_add(s, round_trip_random);
	th_add(s, garbage_events_change_only_notify);
	th_add(s, min_and_max_frames);
	th_add(s, exactly_full_ring);
	th_add(s, record_wraps_across_the_end);
	th_add(s, notify_only_when_asked);
	th_add(s, caller_errors_are_einval);
	th_add(s, ctrl_check);
	th_add(s, hostile_prod_beyond_size);
	th_add(s, hostile_prod_backwards);
	th_add(s, hostile_prod_inside_header);
	th_add(s, hostile_len_below_min);
	th_add(s, hostile_len_above_max);
	th_add(s, hostile_stride_beyond_prod);
	th_add(s, hostile_unknown_flags);
	th_add(s, hostile_gso_without_size);
	th_add(s, hostile_two_gso_types);
	th_add(s, hostile_gso_without_csum);
	th_add(s, hostile_csum_beyond_frame);
	th_add(s, hostile_after_good_records);
	th_add(s, hostile_cons_past_prod);
	th_add(s, hostile_cons_backwards);
	th_add(s, own_line_never_read);
	th_add(s, each_shared_field_loaded_once);
	th_add(s, watch_idle_moving_waiting);
	th_add(s, watch_nibbling_peer_keeps_waiting);
	th_add(s, watch_queued_on_empty_ring);
	th_add(s, watch_across_the_wrap);
	th_add(s, watch_hostile_cons);
	return s;
}

int main(void)
{
	return th_run(ckfp_ring_suite());
}
