// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for cokeeperd's agent sessions (cokeeperd/guests/): the input is what one
 * guest sends, read through a fake stream in slices, into a guests object attached to a real
 * membership, with the event loop run in between as cokeeperd's would (the resume of a slice
 * that ended on its budget, the refusal of a session over the limit).  Writes are taken
 * whole, in random short pieces, or not at all, so the queue, its limit and the coalesced
 * resyncs run too.  Every session ends, every stream is handed back; ASan checks for leaks.
 *
 * Input: byte 0 picks the read slice (1..64 bytes, or whatever is there), byte 1 the write
 * behaviour and what else happens (a second guest over the limit, changes committed while
 * it talks); the rest is the guest's byte stream.
 *
 * With F_SESSIONS the guest is one domain (domid 5, as a vchan would prove it) that connects
 * again and again: its bytes are split at each SESSION_MARK, one session each, in turn, while
 * two peers that announced the fast path stay connected (domid 2 below it, 19 above; 19 never
 * reads with F_PEER_STUCK).  Whatever the sessions send, the relay passes on at most its two
 * budgets' worth for the domain and a Close of each offer (the interval outlasts any run),
 * at most max_pending offers wait, and the stuck peer's queue holds no more than its
 * snapshot and the queue limit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath-relay.h"
#include "frame.h"
#include "guests.h"
#include "logging.h"
#include "memberset.h"

#define EPOCH 0x1122ull	/* tests/unit/test-frame.c's golden Hello names it */
#define MEMBERS 20

enum {
	F_WRITE_SHORT = 1 << 0,		/* random short writes */
	F_WRITE_BLOCKED = 1 << 1,	/* -EAGAIN until the input is read (then whole) */
	F_SECOND_GUEST = 1 << 2,	/* another attaches first: this one is over the limit */
	F_CHANGES = 1 << 3,		/* commits a change between slices */
	F_WRITE_FAILS = 1 << 4,		/* the channel breaks after the input is read */
	F_SESSIONS = 1 << 5,		/* one domain's sessions in turn, and two peers */
	F_PEER_STUCK = 1 << 6,		/* with F_SESSIONS: the higher peer never reads */
};

#define SESSION_MARK "\xffNEW"
#define SESSION_DOMID 5
#define PEER_LOW 2
#define PEER_HIGH 19
#define QUEUE_LIMIT 4096

struct fake {
	struct ck_stream base;
	const uint8_t *in;
	size_t len, pos, slice;
	unsigned int flags;
	uint32_t rng;
	bool closed;
	bool stays;		/* a peer: its input ends, its connection does not */
};

static ssize_t fake_read(struct ck_stream *s, void *buf, size_t len)
{
	struct fake *k = (struct fake *)s;
	size_t n = k->len - k->pos;

	if (n == 0)
		return k->stays ? -EAGAIN : 0;	/* or the guest hung up after its last byte */
	if (k->slice && n > k->slice)
		n = k->slice;
	n = n < len ? n : len;
	memcpy(buf, k->in + k->pos, n);
	k->pos += n;
	return n;
}

static ssize_t fake_write(struct ck_stream *s, const void *buf, size_t len)
{
	struct fake *k = (struct fake *)s;

	if (k->stays)
		return k->flags & F_PEER_STUCK ? -EAGAIN : (ssize_t)len;
	if (k->flags & F_WRITE_FAILS && k->pos == k->len)
		return -EPIPE;
	if (k->flags & F_WRITE_BLOCKED && k->pos < k->len)
		return -EAGAIN;
	if (k->flags & F_WRITE_SHORT) {
		k->rng ^= k->rng << 13;
		k->rng ^= k->rng >> 17;
		k->rng ^= k->rng << 5;
		len = k->rng % (len + 1);
		return len ? (ssize_t)len : -EAGAIN;
	}
	return len;
}

static void fake_want_write(struct ck_stream *s, bool on)
{
}

static void fake_free(struct ck_stream *s)
{
}

static const struct ck_stream_ops fake_ops = {
	.read = fake_read, .write = fake_write, .want_write = fake_want_write, .free = fake_free,
};

static struct fastpath_relay relay;	/* the hub's part */

static uint32_t on_acked(const struct guest_ack *ack, void *userdata)
{
	return 0;
}

static int on_fastpath(struct guest_fastpath *fp, void *userdata)
{
	return fastpath_relay_handle(&relay, *(struct guests **)userdata, fp);
}

static void on_closed(struct ck_stream *s, uint16_t domid, void *userdata)
{
	struct fake *k = (struct fake *)s;

	k->closed = true;
	ck_outbuf_release(&k->base.out);
}

static void fake_init(struct fake *k, const uint8_t *in, size_t len, unsigned int slice,
		      unsigned int flags)
{
	memset(k, 0, sizeof(*k));
	ck_stream_init(&k->base, &fake_ops,
		       flags & F_SESSIONS ? SESSION_DOMID : CK_STREAM_DOMID_ANY);
	strcpy(k->base.label, "fuzz");
	k->in = in;
	k->len = len;
	k->slice = slice;
	k->flags = flags;
	k->rng = 0x9e3779b9u ^ (flags << 8) ^ slice;
}

static void member(struct ck_member *mb, uint16_t domid, unsigned int variant)
{
	memset(mb, 0, sizeof(*mb));
	mb->domid = domid;
	mb->state = CK_MEMBER_RUNNING;
	snprintf(mb->name, sizeof(mb->name), "guest-%u-%u", domid, variant);
	mb->uuid[0] = domid;
	mb->n_nics = 1;
	mb->nics[0].mac[1] = 0x16;
	mb->nics[0].mac[5] = domid;
	mb->nics[0].n_ipv4 = 1;
	mb->nics[0].ipv4[0] = 0x0a630000u | domid;
}

static struct ck_membership *membership(void)
{
	struct ck_memberset *set;
	struct ck_membership *m;

	if (ck_membership_new(&m, EPOCH, 16) < 0 || ck_memberset_new(&set) < 0)
		abort();
	for (uint16_t d = 1; d <= MEMBERS; d++) {
		struct ck_member mb;

		member(&mb, d, 0);
		if (ck_memberset_put(set, &mb) < 0)
			abort();
	}
	/* One generation per member: a Hello naming gen 3 of this epoch resumes from the log. */
	if (ck_membership_commit(m, set, NULL) < 0)
		abort();
	ck_memberset_free(set);
	return m;
}

/* One more member changes, and the guests hear of it. */
static void change(struct ck_membership *m, struct guests *gs, unsigned int i)
{
	struct ck_memberset *set;
	struct ck_member mb;
	struct ck_delta delta;

	member(&mb, 1 + i % MEMBERS, i + 1);
	if (ck_memberset_copy(m->members, &set) < 0 || ck_memberset_put(set, &mb) < 0 ||
	    ck_membership_commit(m, set, &delta) < 0)
		abort();
	guests_broadcast(gs, &delta);
	ck_delta_reset(&delta);
	ck_memberset_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the loop until the guest's session ended (its input ends with a hang-up). */
static void serve(sd_event *event, struct ck_membership *m, struct guests *gs, struct fake *guest)
{
	for (unsigned int i = 0; !guest->closed && i < 100000; i++) {
		ck_stream_notify(&guest->base);
		if (guest->flags & F_CHANGES && !guest->closed)
			change(m, gs, i);
		while (sd_event_run(event, 0) > 0)
			;
	}
	if (!guest->closed)
		abort();
}

/* A peer that said Hello as domid, announcing the fast path; what it holds queued then. */
static size_t peer_joins(sd_event *event, struct guests *gs, struct fake *peer, uint16_t domid,
			 unsigned int flags, uint8_t **hello)
{
	const struct ck_msg msg = { .type = CK_MSG_HELLO,
		.hello = { .domid = domid, .version = CK_PROTOCOL_VERSION,
			   .fastpath_version = CK_FASTPATH_VERSION } };
	size_t len;

	if (ck_frame_encode(&msg, hello, &len) < 0)
		abort();
	fake_init(peer, *hello, len, 0, flags & F_PEER_STUCK);
	peer->stays = true;
	ck_stream_init(&peer->base, &fake_ops, domid);
	if (guests_attach(gs, &peer->base) < 0)
		abort();
	ck_stream_notify(&peer->base);
	while (sd_event_run(event, 0) > 0)
		;
	if (peer->closed)
		abort();
	return ck_stream_queued(&peer->base);
}

/* One domain's sessions in turn, each what lies between two marks. */
static void sessions(sd_event *event, struct ck_membership *m, struct guests *gs,
		     const uint8_t *in, size_t len, unsigned int slice, unsigned int flags)
{
	const size_t mark = sizeof(SESSION_MARK) - 1;

	while (len > 0) {
		const uint8_t *end = memmem(in, len, SESSION_MARK, mark);
		size_t part = end ? (size_t)(end - in) : len;
		struct fake guest;

		fake_init(&guest, in, part, slice, flags);
		if (guests_attach(gs, &guest.base) < 0)
			abort();
		serve(event, m, gs, &guest);
		in += end ? part + mark : part;
		len -= end ? part + mark : part;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct guests_callbacks cb = {
		.acked = on_acked, .fastpath = on_fastpath, .closed = on_closed,
	};
	/* An interval no run outlasts: the budgets are exact counts. */
	static const struct fastpath_relay_config relay_cfg = {
		.interval_usec = 24 * 3600 * 1000000ull,
	};
	static sd_event *event;
	struct guests_config cfg = { .queue_limit = QUEUE_LIMIT };
	struct fake guest, other, low, high;
	uint8_t *hellos[2] = { NULL, NULL };
	size_t high_snapshot = 0;
	struct ck_membership *m;
	struct guests *gs;
	unsigned int flags;

	if (!event) {
		ck_log_setup("fuzz-guest", false);
		ck_log_set_max_priority(LOG_CRIT);	/* every session logs its end */
		if (sd_event_new(&event) < 0)
			abort();
	}
	if (size < 2)
		return 0;
	flags = data[1];
	fake_init(&guest, data + 2, size - 2, data[0] % 65, flags);
	fake_init(&other, NULL, 0, 0, 0);
	cfg.max_guests = flags & F_SECOND_GUEST && !(flags & F_SESSIONS) ? 1 : 0;
	m = membership();
	fastpath_relay_init(&relay, m, &relay_cfg);
	if (guests_new(&gs, event, m, &cfg, &cb, &gs) < 0)
		abort();
	if (flags & F_SESSIONS) {
		(void)peer_joins(event, gs, &low, PEER_LOW, flags, &hellos[0]);
		high_snapshot = peer_joins(event, gs, &high, PEER_HIGH, flags, &hellos[1]);
		sessions(event, m, gs, data + 2, size - 2, data[0] % 65, flags);
		/*
		 * Its budgets are the domain's, whatever its sessions did: its offers, its
		 * answers, and a free Close of each offer it made.
		 */
		if (relay.counters.relayed > 3 * relay.cfg.burst)
			abort();
		if (fastpath_relay_pending(&relay, 0) > relay.cfg.max_pending)
			abort();
		if (ck_stream_queued(&high.base) > high_snapshot + QUEUE_LIMIT)
			abort();
		if (low.closed || high.closed)
			abort();
	} else {
		if (flags & F_SECOND_GUEST && guests_attach(gs, &other.base) < 0)
			abort();
		if (guests_attach(gs, &guest.base) < 0)
			abort();
		/* A level-triggered channel wakes its owner while there is input; the loop in between. */
		serve(event, m, gs, &guest);
	}
	guests_free(gs);
	fastpath_relay_release(&relay);
	if (!other.closed && flags & F_SECOND_GUEST && !(flags & F_SESSIONS))
		abort();
	free(hellos[0]);
	free(hellos[1]);
	ck_membership_free(m);
	return 0;
}
