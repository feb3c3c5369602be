// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the fast path's ring (kmod-hook/fastpath/ckfp-ring.c): one ring with
 * our producer view and our consumer view on it, and a peer that writes anything anywhere
 * in the shared pages, between our calls and, through ckfp_load_hook, between two loads of
 * one call.
 *
 * Input: byte 0 is the set-up (bit 0: ring order 6 or 7; bits 1-2: the start index, some
 * just below 2^32), then a script of operations, one byte each plus its arguments:
 *   0 write a record (len16, shape8)      1 publish         2 take a record (piece16)
 *   3 consumer arm                        4 producer arm (len16), then the producer's watch
 *   5 peer writes a control field (field8, how8, value32)
 *   6 peer writes ring bytes (off32, n8, bytes)    7 peer writes a header near cons (k8, 16 bytes)
 *   8 arm a peer write, field or header, to happen inside the n-th next shared load (n8, then as 5 or 7)
 *   9 caller errors: copies out of range before and after a peek (off16, n16), ckfp_ctrl_check()
 * Invariants beyond "no out-of-bounds access" (each ring page is its own 4 KiB malloc()):
 *  - every record delivered has a valid header, its length within bounds, and lies inside
 *    what the prod value just loaded covered, inside the ring;
 *  - -EPROTO once means -EPROTO for every later call on that view;
 *  - as long as the peer wrote nothing but event fields, the ring never breaks, -ENOSPC and
 *    -EAGAIN come exactly when a model says so, and the bytes delivered are the bytes sent.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckfp-ring.h"

#define ORDER_TOP 7
#define MAX_OPS 512
#define QLEN (1U << (ORDER_TOP + CKFP_PAGE_SHIFT - 6)) /* records of 64 bytes in the largest ring */

#define want(cond) \
	do {       \
		if (!(cond)) \
			abort(); \
	} while (0)

struct input {
	const u8 *p;
	size_t n;
};

static u8 get8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static u16 get16(struct input *in)
{
	return get8(in) | (u16)get8(in) << 8;
}

static u32 get32(struct input *in)
{
	return get16(in) | (u32)get16(in) << 16;
}

static void *pages[1U << ORDER_TOP];
static struct ckfp_ctrl *ctrl;
static u8 *pool;	/* record payloads are slices of this */
#define POOL_SLICES 65536U

static struct ckfp_ring tx, rx;
static u32 size;
static bool tampered;		/* the peer wrote more than event fields */
static bool tx_broken, rx_broken;
static u32 last_prod;		/* the prod value the consumer's last load returned */

static struct rec {
	struct ckfp_rec_info info;
	u32 slice;
} q[QLEN];
static u32 head, tail, published;	/* q indices: taken, written, published */
static u32 inflight;			/* bytes written and not yet released */

/* A write the peer makes: to a control field or to 16 bytes of ring. */
struct peer_write {
	bool ring;
	u8 field;
	u8 how;
	u32 value;
	u32 off;
	u8 bytes[16];
};

static struct {
	bool armed;
	u8 countdown;
	struct peer_write w;
} later;

static __le32 *field(u8 n)
{
	struct ckfp_line *l = n % 10 < 5 ? &ctrl->by_offerer : &ctrl->by_acceptor;
	__le32 *f[] = { &l->tx_prod, &l->tx_cons_event, &l->rx_cons, &l->rx_prod_event, &l->closing };

	return f[n % 5];
}

/* Event fields and the closing flag decide no data: writing them keeps the run honest. */
static bool harmless(u8 n)
{
	return n % 5 == 1 || n % 5 == 3 || n % 5 == 4;
}

static void ring_poke(u32 off, const u8 *bytes, u32 n)
{
	for (u32 i = 0; i < n; i++) {
		u32 pos = (off + i) & (size - 1);

		((u8 *)pages[pos >> CKFP_PAGE_SHIFT])[pos & (CKFP_PAGE_SIZE - 1)] = bytes[i];
	}
}

static void peer_write(const struct peer_write *w)
{
	__le32 *f = field(w->field);

	if (w->ring) {
		ring_poke(w->off, w->bytes, sizeof(w->bytes));
		tampered = true;
		return;
	}
	/* Raw values, or near the present one by whole records: where the boundaries are. */
	*f = cpu_to_le32(w->how & 1 ? le32_to_cpu(*f) + (u32)(int32_t)(int8_t)w->value * 64 :
				       w->value);
	if (!harmless(w->field))
		tampered = true;
}

static void read_field_write(struct input *in, struct peer_write *w)
{
	w->ring = false;
	w->field = get8(in);
	w->how = get8(in);
	w->value = get32(in);
}

static void read_header_write(struct input *in, struct peer_write *w)
{
	w->ring = true;
	w->off = rx.idx + 64U * (get8(in) % 8);
	for (unsigned int i = 0; i < sizeof(w->bytes); i++)
		w->bytes[i] = get8(in);
}

static void hook(const void *addr, size_t sz)
{
	if (later.armed && later.countdown-- == 0) {
		later.armed = false;
		peer_write(&later.w);
	}
	if (addr == &ctrl->by_offerer.tx_prod)
		last_prod = le32_to_cpu(ctrl->by_offerer.tx_prod);
}

/* Sticky -EPROTO, and never -EPROTO from an honest peer. */
static int seen(struct ckfp_ring *r, bool *broken, int err)
{
	if (*broken)
		want(err == -EPROTO);
	if (err == -EPROTO) {
		want(tampered);
		*broken = true;
	}
	want(ckfp_ring_broken(r) == *broken);
	return err;
}

static void shape(struct ckfp_rec_info *info, u32 len, u8 s)
{
	*info = (struct ckfp_rec_info){ .len = len };
	switch (s & 3) {
	case 1:
		info->flags = CKFP_REC_F_CSUM_PARTIAL;
		info->csum_start = 14;	/* the IPv4 header checksum: inside the smallest frame */
		info->csum_off = 10;
		break;
	case 2:
		info->flags = CKFP_REC_F_DATA_VALID;
		break;
	case 3:
		info->flags = CKFP_REC_F_GSO_TCPV4 | CKFP_REC_F_CSUM_PARTIAL;
		info->gso_size = 1448;
		break;
	}
}

static u32 frame_len(u16 v)
{
	return CKFP_MIN_FRAME + v % (CKFP_MAX_FRAME - CKFP_MIN_FRAME + 1);
}

static void op_write(struct input *in)
{
	u32 len = frame_len(get16(in));
	u8 s = get8(in);
	u32 slice = (tail * 7919U) % POOL_SLICES;
	unsigned int nfrags = 1 + (s >> 2) % 4;
	struct ckfp_frag frags[4];
	struct ckfp_rec_info info;
	u32 at = 0;
	int err;

	shape(&info, len, s);
	for (unsigned int i = 0; i < nfrags; i++) {
		u32 n = i + 1 == nfrags ? len - at : (len - at) / 3;

		frags[i] = (struct ckfp_frag){ pool + slice + at, n };
		at += n;
	}
	err = seen(&tx, &tx_broken, ckfp_ring_write(&tx, &info, frags, nfrags));
	want(err == 0 || err == -ENOSPC || err == -EPROTO);
	if (!tampered)
		want(err == (inflight + CKFP_STRIDE(len) <= size ? 0 : -ENOSPC));
	if (err == 0) {
		q[tail % QLEN] = (struct rec){ info, slice };
		tail++;
		inflight += CKFP_STRIDE(len);
	}
}

static void op_publish(void)
{
	bool notify;
	int err = seen(&tx, &tx_broken, ckfp_ring_publish(&tx, &notify));

	want(err == 0 || err == -EPROTO);
	if (err == 0)
		published = tail;
}

/* The next record's header, checked; the record stays peeked until op_take releases it. */
static int peek(struct ckfp_rec_info *info)
{
	int err = seen(&rx, &rx_broken, ckfp_ring_peek(&rx, info));

	want(err == 0 || err == -EAGAIN || err == -EPROTO);
	if (!tampered)
		want(err == (head == published ? -EAGAIN : 0));
	if (err)
		return err;
	/* A valid header, and a record inside what prod covered, inside the ring. */
	want(info->len >= CKFP_MIN_FRAME && info->len <= CKFP_MAX_FRAME);
	want(!(info->flags & ~CKFP_REC_F_ALL));
	if (info->flags & CKFP_REC_F_GSO)
		want(info->gso_size && info->flags & CKFP_REC_F_CSUM_PARTIAL);
	if (info->flags & CKFP_REC_F_CSUM_PARTIAL)
		want((u32)info->csum_start + info->csum_off + 2 <= info->len);
	want(CKFP_STRIDE(info->len) <= last_prod - rx.idx && last_prod - rx.idx <= size);
	return 0;
}

static void op_take(struct input *in)
{
	u32 piece = 1 + get16(in);
	u32 old = rx.idx;
	struct ckfp_rec_info info;
	bool notify;
	u8 *buf;

	if (peek(&info))
		return;

	/* Exactly len bytes: ASan reports a copy that writes more. */
	buf = malloc(info.len);
	want(buf);
	for (u32 off = 0; off < info.len; off += piece) {
		u32 n = info.len - off < piece ? info.len - off : piece;

		want(seen(&rx, &rx_broken, ckfp_ring_copy(&rx, off, buf + off, n)) == 0);
	}
	if (!tampered) {
		const struct rec *r = &q[head % QLEN];

		want(!memcmp(&info, &r->info, sizeof(info)));
		want(!memcmp(buf, pool + r->slice, info.len));
	}
	free(buf);
	want(seen(&rx, &rx_broken, ckfp_ring_release(&rx, &notify)) == 0);
	want(rx.idx - old == CKFP_STRIDE(info.len));
	head++;
	inflight -= CKFP_STRIDE(info.len);
}

static void op_cons_arm(void)
{
	bool pending;
	int err = seen(&rx, &rx_broken, ckfp_ring_cons_arm(&rx, &pending));

	want(err == 0 || err == -EPROTO);
	if (!tampered && !err)
		want(pending == (head != published));
}

static struct ckfp_watch watch;

static void op_prod_arm(struct input *in)
{
	u32 len = frame_len(get16(in));
	bool fits, queued = len & 1;
	int err = seen(&tx, &tx_broken, ckfp_ring_prod_arm(&tx, len, &fits));

	want(err == 0 || err == -EPROTO);
	if (!tampered && !err)
		want(fits == (inflight + CKFP_STRIDE(len) <= size));
	/* The watch: idle exactly when all that was published was taken and nothing is queued. */
	err = seen(&tx, &tx_broken, ckfp_ring_watch(&tx, &watch, queued));
	want(err == CKFP_WATCH_IDLE || err == CKFP_WATCH_MOVING || err == CKFP_WATCH_WAITING ||
	     err == -EPROTO);
	if (!tampered && err >= 0)
		want((err == CKFP_WATCH_IDLE) == (head == published && !queued));
}

static void op_caller_errors(struct input *in)
{
	u32 off = get16(in), n = get16(in);
	unsigned int order;
	static u8 buf[65536];
	struct ckfp_rec_info info;
	int err;

	/* Before and after a peek: no record to copy from, then a range past its end. */
	err = seen(&rx, &rx_broken, ckfp_ring_copy(&rx, off, buf, n));
	want(err == (rx_broken ? -EPROTO : !rx.cur.len || off + n > rx.cur.len ? -EINVAL : 0));
	if (peek(&info) == 0) {
		err = seen(&rx, &rx_broken, ckfp_ring_copy(&rx, off, buf, n));
		want(err == (off + n > info.len ? -EINVAL : 0));
	}
	err = ckfp_ctrl_check(ctrl, &order);
	want(err == -EPROTO || (err == 0 && order >= CKFP_ORDER_MIN && order <= CKFP_ORDER_MAX));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const u32 starts[] = { 0, 0U - 64, 0U - 64 * 1000, 4096 * 5 + 64 * 3 };
	struct input in = { data, len };
	unsigned int order;
	u32 start;
	u8 setup;

	if (!ctrl) {
		ctrl = malloc(sizeof(*ctrl));
		want(ctrl);
		for (unsigned int i = 0; i < 1U << ORDER_TOP; i++) {
			pages[i] = malloc(CKFP_PAGE_SIZE);
			want(pages[i]);
		}
		pool = malloc(POOL_SLICES + CKFP_MAX_FRAME);
		want(pool);
		for (u32 i = 0, x = 1; i < POOL_SLICES + CKFP_MAX_FRAME; i++) {
			x = x * 1103515245U + 12345U;
			pool[i] = x >> 24;
		}
	}

	setup = get8(&in);
	order = CKFP_ORDER_MIN + (setup & 1);
	start = starts[(setup >> 1) & 3];
	size = CKFP_PAGE_SIZE << order;
	for (unsigned int i = 0; i < 1U << order; i++)
		memset(pages[i], 0, CKFP_PAGE_SIZE);
	ckfp_ctrl_init(ctrl, order);
	ctrl->by_offerer.tx_prod = cpu_to_le32(start);
	ctrl->by_acceptor.rx_cons = cpu_to_le32(start);
	want(ckfp_ring_init(&tx, ctrl, pages, order, CKFP_OFFERER, CKFP_TX, start) == 0);
	want(ckfp_ring_init(&rx, ctrl, pages, order, CKFP_ACCEPTOR, CKFP_RX, start) == 0);
	tampered = tx_broken = rx_broken = false;
	head = tail = published = inflight = 0;
	last_prod = start;
	later.armed = false;
	watch = (struct ckfp_watch){ 0 };
	ckfp_load_hook = hook;

	for (unsigned int ops = 0; in.n && ops < MAX_OPS; ops++) {
		struct peer_write w;

		switch (get8(&in) % 10) {
		case 0:
			op_write(&in);
			break;
		case 1:
			op_publish();
			break;
		case 2:
			op_take(&in);
			break;
		case 3:
			op_cons_arm();
			break;
		case 4:
			op_prod_arm(&in);
			break;
		case 5:
			read_field_write(&in, &w);
			peer_write(&w);
			break;
		case 6: {
			u32 off = get32(&in);
			u32 n = 1 + get8(&in) % 64;

			n = n < in.n ? n : in.n;
			ring_poke(off, in.p, n);
			in.p += n;
			in.n -= n;
			tampered = true;
			break;
		}
		case 7:
			read_header_write(&in, &w);
			peer_write(&w);
			break;
		case 8:
			later.countdown = get8(&in) % 16;
			if (get8(&in) & 1)
				read_header_write(&in, &later.w);
			else
				read_field_write(&in, &later.w);
			later.armed = true;
			break;
		case 9:
			op_caller_errors(&in);
			break;
		}
		/* A queue the honest model cannot follow any more only matters to an honest run. */
		want(tampered || tail - head <= QLEN);
	}
	ckfp_load_hook = NULL;
	return 0;
}
