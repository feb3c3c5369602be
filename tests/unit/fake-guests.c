// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "failalloc.h"
#include "fake-guests.h"
#include "helpers.h"

static ssize_t fake_read(struct ck_stream *s, void *buf, size_t len)
{
	struct fake *k = (struct fake *)s;
	size_t n = k->in_len - k->in_pos;

	if (n == 0)
		return k->eof ? 0 : -EAGAIN;
	n = n < len ? n : len;
	memcpy(buf, k->in + k->in_pos, n);
	k->in_pos += n;
	return n;
}

static int on_written(struct ck_msg *msg, void *userdata)
{
	struct fake *k = userdata;

	k->got[msg->type]++;
	if (msg->type == CK_MSG_BYE)
		k->bye_code = msg->bye.code;
	if (ck_msg_is_fastpath(msg->type))
		k->fastpath = *msg;
	if (msg->type == CK_MSG_SNAPSHOT || msg->type == CK_MSG_DELTA)
		k->announced = msg->fastpath_version;
	if (msg->type == CK_MSG_DELTA) {
		k->delta_base = msg->delta.base_gen;
		k->delta_new = msg->delta.new_gen;
	}
	return 0;
}

static ssize_t fake_write(struct ck_stream *s, const void *buf, size_t len)
{
	struct fake *k = (struct fake *)s;

	if (k->blocked)
		return -EAGAIN;
	/* The peer's own work: never failed by a test that fails the daemon's allocations. */
	th_alloc_pause(true);
	k->out = realloc(k->out, k->out_len + len);
	memcpy(k->out + k->out_len, buf, len);
	k->out_len += len;
	ck_assert_int_eq(ck_frame_decoder_feed(k->dec, buf, len, on_written, k, NULL), 0);
	th_alloc_pause(false);
	return len;
}

static void fake_want_write(struct ck_stream *s, bool on)
{
}

/* Freed by the test, not here: it reads what the stream saw after the session ended. */
static void fake_free(struct ck_stream *s)
{
}

static bool fake_peer_attached(struct ck_stream *s)
{
	return !((struct fake *)s)->unattached;
}

static const struct ck_stream_ops fake_ops = {
	.read = fake_read, .write = fake_write, .want_write = fake_want_write, .free = fake_free,
	.peer_attached = fake_peer_attached,
};

static uint32_t on_acked(const struct guest_ack *ack, void *userdata)
{
	return 0;
}

static int on_fastpath(struct guest_fastpath *fp, void *userdata)
{
	struct fixture *f = userdata;

	return fastpath_relay_handle(&f->relay, f->gs, fp);
}

static void on_closed(struct ck_stream *s, uint16_t domid, void *userdata)
{
	struct fixture *f = userdata;

	((struct fake *)s)->closed = true;
	f->closed++;
}

static struct fixture *clock_of;	/* the fixture whose clock the relay reads */

static uint64_t fixture_clock(void)
{
	return clock_of->now_usec;
}

void setup_relay(struct fixture *f, const struct guests_config *cfg,
		 const struct fastpath_relay_config *relay_cfg)
{
	static const struct guests_callbacks cb = {
		.acked = on_acked, .fastpath = on_fastpath, .closed = on_closed,
	};
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct guests_config c = *cfg;
	struct ck_member mb;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(sd_event_new(&f->event), 0);
	ck_assert_int_eq(ck_membership_new(&f->m, EPOCH, 1024), 0);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (uint16_t d = 1; d <= 100; d++) {
		th_member(&mb, d, 0);
		strcpy(mb.nics[0].bridge, "xenbr0");
		ck_assert_int_eq(ck_memberset_put(set, &mb), 0);
	}
	ck_assert_int_eq(ck_membership_commit(f->m, set, NULL), 0);
	fastpath_relay_init(&f->relay, f->m, relay_cfg);
	f->policy = fastpath_policy_new();
	ck_assert_ptr_nonnull(f->policy);
	fastpath_relay_set_policy(&f->relay, NULL, f->policy);
	f->now_usec = 1000000;
	clock_of = f;
	f->relay.clock = fixture_clock;
	ck_assert_int_eq(guests_new(&f->gs, f->event, f->m, &c, &cb, f), 0);
}

void setup(struct fixture *f, const struct guests_config *cfg)
{
	setup_relay(f, cfg, NULL);
}

void teardown(struct fixture *f)
{
	guests_free(f->gs);
	fastpath_relay_release(&f->relay);
	fastpath_policy_free(f->policy);
	ck_membership_free(f->m);
	sd_event_unref(f->event);
}

struct fake *fake_new(struct fixture *f)
{
	struct fake *k = calloc(1, sizeof(*k));

	ck_assert_ptr_nonnull(k);
	ck_stream_init(&k->base, &fake_ops, CK_STREAM_DOMID_ANY);
	strcpy(k->base.label, "fake");
	ck_assert_int_eq(ck_frame_decoder_new(&k->dec), 0);
	k->f = f;
	return k;
}

void fake_destroy(struct fake *k)
{
	ck_outbuf_release(&k->base.out);
	ck_frame_decoder_free(k->dec);
	free(k->in);
	free(k->out);
	free(k);
}

/* Appends one framed message to what the peer will have sent. */
void peer_sends(struct fake *k, const struct ck_msg *msg)
{
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(ck_frame_encode(msg, &buf, &len), 0);
	k->in = realloc(k->in, k->in_len + len);
	memcpy(k->in + k->in_len, buf, len);
	k->in_len += len;
	free(buf);
}

void peer_hellos(struct fake *k, unsigned int n, uint64_t epoch, uint64_t gen)
{
	const struct ck_msg hello = { .type = CK_MSG_HELLO,
		.hello = { .domid = 7, .version = CK_PROTOCOL_VERSION, .epoch = epoch,
			   .gen = gen } };

	while (n--)
		peer_sends(k, &hello);
}

/* Runs the loop's ready work (defer sources) until the fake's input is consumed. */
void run_until_read(struct fixture *f, struct fake *k)
{
	for (unsigned int i = 0; i < 100000 && k->in_pos < k->in_len && !k->closed; i++)
		ck_assert_int_ge(sd_event_run(f->event, 0), 0);
}
/* A guest whose agent said Hello as domid announcing fastpath_version (its snapshot taken). */
struct fake *joined_with(struct fixture *f, uint16_t domid, uint32_t fastpath_version)
{
	const struct ck_msg hello = { .type = CK_MSG_HELLO,
		.hello = { .domid = domid, .version = CK_PROTOCOL_VERSION,
			   .fastpath_version = fastpath_version } };
	struct fake *k = fake_new(f);

	ck_assert_int_eq(guests_attach(f->gs, &k->base), 0);
	peer_sends(k, &hello);
	ck_stream_notify(&k->base);
	ck_assert(!k->closed);
	ck_assert_uint_gt(k->got[CK_MSG_SNAPSHOT], 0);
	ck_assert_uint_eq(k->announced, CK_FASTPATH_VERSION);	/* whatever it announced */
	return k;
}

struct fake *joined_as(struct fixture *f, uint16_t domid)
{
	return joined_with(f, domid, CK_FASTPATH_VERSION);
}

void send_offer(struct fake *k, uint16_t to, uint64_t channel)
{
	struct ck_msg offer = { .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = to, .channel_id = channel,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN, .evtchn_port = 21,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };

	for (unsigned int i = 0; i < offer.fastpath_offer.n_grefs; i++)
		offer.fastpath_offer.grefs[i] = 500 + i;
	peer_sends(k, &offer);
	ck_stream_notify(&k->base);
}

void send_small(struct fake *k, enum ck_msg_type type, uint16_t to, uint64_t channel)
{
	struct ck_msg msg = { .type = type };

	if (type == CK_MSG_FASTPATH_ACCEPT)
		msg.fastpath_accept = (struct ck_fastpath_accept){ to, channel };
	else
		msg.fastpath_close = (struct ck_fastpath_close){ to, channel, CKFP_CLOSE_SHUTDOWN };
	peer_sends(k, &msg);
	ck_stream_notify(&k->base);
}
