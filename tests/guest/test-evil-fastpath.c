// SPDX-License-Identifier: GPL-2.0-only
/*
 * ck-evil fastpath-garbage and fastpath-stall without Xen: the Offer they send goes through
 * lib's encoder and decoder unchanged, the control page they write passes the acceptor's
 * check, each kind of garbage fastpath-garbage publishes is what the acceptor's ring code
 * (kmod-hook/fastpath/ckfp-ring.c, the module's own source) calls broken, and what
 * fastpath-stall leaves the acceptor sending is what that code's watch calls a stall.  Pages are malloc()ed one by one, as granted pages are
 * mapped: nothing here may assume they are contiguous.
 */
#include <stdlib.h>

#include "evil-fastpath.h"
#include "frame.h"
#include "helpers.h"

static int keep(struct ck_msg *msg, void *userdata)
{
	struct ck_msg *out = userdata;

	*out = *msg;
	return 0;
}

START_TEST(offer_round_trip)
{
	uint32_t grefs[EVIL_FP_PAGES];
	struct ck_error err = { 0 };
	struct ck_frame_decoder *dec;
	struct ck_msg msg, got = { 0 };
	uint8_t *buf;
	size_t len;

	for (unsigned int i = 0; i < EVIL_FP_PAGES; i++)
		grefs[i] = 0x10000 + 7 * i;
	evil_fp_offer(&msg, 42, 0x8badf00ddeadbeefULL, 17, grefs);
	ck_assert_int_eq(ck_frame_encode(&msg, &buf, &len), 0);
	ck_assert_int_eq(ck_frame_decoder_new(&dec), 0);
	ck_assert_int_eq(ck_frame_decoder_feed(dec, buf, len, keep, &got, &err), 0);
	ck_assert_int_eq(got.type, CK_MSG_FASTPATH_OFFER);
	ck_assert_uint_eq(got.fastpath_offer.peer_domid, 42);
	ck_assert_uint_eq(got.fastpath_offer.channel_id, 0x8badf00ddeadbeefULL);
	ck_assert_uint_eq(got.fastpath_offer.ring_version, CKFP_RING_VERSION);
	ck_assert_uint_eq(got.fastpath_offer.ring_order, CKFP_RING_ORDER_MIN);
	ck_assert_uint_eq(got.fastpath_offer.evtchn_port, 17);
	ck_assert_uint_eq(got.fastpath_offer.n_grefs, 129);
	for (unsigned int i = 0; i < EVIL_FP_PAGES; i++)
		ck_assert_uint_eq(got.fastpath_offer.grefs[i], grefs[i]);
	ck_frame_decoder_free(dec);
	free(buf);
}
END_TEST

START_TEST(kinds_by_name)
{
	enum evil_fp_kind k = EVIL_FP_FLAGS;

	ck_assert_int_eq(evil_fp_kind_parse(NULL, &k), 0);
	ck_assert_int_eq(k, EVIL_FP_PROD);
	ck_assert_int_eq(evil_fp_kind_parse("len", &k), 0);
	ck_assert_int_eq(k, EVIL_FP_LEN);
	ck_assert_int_eq(evil_fp_kind_parse("flags", &k), 0);
	ck_assert_int_eq(k, EVIL_FP_FLAGS);
	ck_assert_int_eq(evil_fp_kind_parse("prod", &k), 0);
	ck_assert_int_eq(k, EVIL_FP_PROD);
	ck_assert_int_eq(evil_fp_kind_parse("cons", &k), -EINVAL);
}
END_TEST

/*
 * The acceptor's side of a channel ck-evil offered: its control page checked as
 * ckfp_shm_accept() does, the offerer's ring empty until the garbage, then broken.
 */
START_TEST(each_kind_breaks_the_acceptors_ring)
{
	enum evil_fp_kind kind = (enum evil_fp_kind)_i;
	struct ckfp_ctrl *ctrl = calloc(1, CKFP_PAGE_SIZE);
	void *ring[EVIL_FP_RING_PAGES];
	struct ckfp_rec_info info;
	struct ckfp_ring rx;
	unsigned int order;

	ck_assert_ptr_nonnull(ctrl);
	for (unsigned int i = 0; i < EVIL_FP_RING_PAGES; i++) {
		ring[i] = calloc(1, CKFP_PAGE_SIZE);
		ck_assert_ptr_nonnull(ring[i]);
	}
	evil_fp_ctrl_init(ctrl);
	ck_assert_int_eq(ckfp_ctrl_check(ctrl, &order), 0);
	ck_assert_uint_eq(order, CKFP_RING_ORDER_MIN);
	ck_assert_int_eq(ckfp_ring_init(&rx, ctrl, ring, order, CKFP_ACCEPTOR, CKFP_RX, 0), 0);
	ck_assert_int_eq(ckfp_ring_peek(&rx, &info), -EAGAIN);

	evil_fp_break(ctrl, ring, kind);
	ck_assert_int_eq(ckfp_ring_peek(&rx, &info), -EPROTO);
	ck_assert(ckfp_ring_broken(&rx));
	/* Garbage in the offerer's own line and ring only: the acceptor's line is untouched. */
	for (size_t i = 0; i < sizeof(ctrl->by_acceptor); i++)
		ck_assert_uint_eq(((const u8 *)&ctrl->by_acceptor)[i], 0);

	for (unsigned int i = 0; i < EVIL_FP_RING_PAGES; i++)
		free(ring[i]);
	free(ctrl);
}
END_TEST

/*
 * fastpath-stall reads nothing: the acceptor's producer fills its ring, its watch
 * (ckfp_ring_watch, what the module's liveness tick asks) never leaves WAITING after the
 * wait began, no room ever comes back, and evil_fp_unread reports every byte.
 */
START_TEST(stall_leaves_the_acceptor_waiting)
{
	struct ckfp_ctrl *ctrl = calloc(1, CKFP_PAGE_SIZE);
	void *ring[EVIL_FP_RING_PAGES];
	struct ckfp_rec_info info = { .len = 1514 };
	struct ckfp_watch w = { 0 };
	struct ckfp_ring tx;
	struct ckfp_frag frag;
	unsigned int order;
	bool notify, fits;
	u32 sent = 0;
	u8 *frame;

	ck_assert_ptr_nonnull(ctrl);
	frame = calloc(1, info.len);
	ck_assert_ptr_nonnull(frame);
	frag = (struct ckfp_frag){ frame, info.len };
	for (unsigned int i = 0; i < EVIL_FP_RING_PAGES; i++) {
		ring[i] = calloc(1, CKFP_PAGE_SIZE);
		ck_assert_ptr_nonnull(ring[i]);
	}
	evil_fp_ctrl_init(ctrl);
	ck_assert_int_eq(ckfp_ctrl_check(ctrl, &order), 0);
	/* The acceptor's own ring: the second one, which the acceptor produces into. */
	ck_assert_int_eq(ckfp_ring_init(&tx, ctrl, ring, order, CKFP_ACCEPTOR, CKFP_TX, 0), 0);
	ck_assert_int_eq(ckfp_ring_watch(&tx, &w, false), CKFP_WATCH_IDLE);
	while (ckfp_ring_write(&tx, &info, &frag, 1) == 0)
		sent += CKFP_STRIDE(info.len);
	ck_assert_int_eq(ckfp_ring_publish(&tx, &notify), 0);
	ck_assert_uint_eq(evil_fp_unread(ctrl), sent);
	ck_assert_int_eq(ckfp_ring_watch(&tx, &w, true), CKFP_WATCH_MOVING);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(ckfp_ring_watch(&tx, &w, true), CKFP_WATCH_WAITING);
		ck_assert_int_eq(ckfp_ring_prod_arm(&tx, info.len, &fits), 0);
		ck_assert(!fits);
	}
	ck_assert_uint_eq(evil_fp_unread(ctrl), sent);
	ck_assert(!ckfp_ring_broken(&tx));

	for (unsigned int i = 0; i < EVIL_FP_RING_PAGES; i++)
		free(ring[i]);
	free(frame);
	free(ctrl);
}
END_TEST

static Suite *evil_fastpath_suite(void)
{
	Suite *s = suite_create("evil-fastpath");
	TCase *tc = tcase_create("each_kind_breaks_the_acceptors_ring");

	th_add(s, offer_round_trip);
	th_add(s, kinds_by_name);
	th_add(s, stall_leaves_the_acceptor_waiting);
	tcase_set_timeout(tc, 0);
	tcase_add_loop_test(tc, each_kind_breaks_the_acceptors_ring, EVIL_FP_PROD,
			    EVIL_FP_FLAGS + 1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run(evil_fastpath_suite());
}
