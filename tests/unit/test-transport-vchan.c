// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperd's vchan transport without Xen: its set-up queue, over bench/fake-vchan.c and a
 * libxenvchan_server_init of our own that records each set-up and fails the ones asked to.
 * The queue paces set-ups at least SETUP_INTERVAL_USEC apart and delays retries and reopened
 * channels by SETUP_RETRY_USEC; the tests check only the order that implies, never a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxenvchan.h>

#include "fake-vchan.h"
#include "helpers.h"
#include "transport.h"

#define MAX_INITS 512

static int inits[MAX_INITS];
static size_t n_inits;
static int fail_domid = -1;
static unsigned int fails_left;

struct libxenvchan *libxenvchan_server_init(struct xentoollog_logger *logger, int domain,
					    const char *xs_path, size_t read_min,
					    size_t write_min)
{
	ck_assert_uint_lt(n_inits, MAX_INITS);
	inits[n_inits++] = domain;
	if (domain == fail_domid && fails_left > 0) {
		fails_left--;
		errno = EAGAIN;
		return NULL;
	}
	return fake_vchan_new();
}

struct fixture {
	sd_event *event;
	struct ck_membership *m;
	struct ck_delta delta;		/* the one that made every member */
	struct transport *t;
	struct ck_stream *streams[MAX_INITS];
	size_t n_streams;
};

static int on_connected(struct ck_stream *s, void *userdata)
{
	struct fixture *f = userdata;

	f->streams[f->n_streams++] = s;
	return 0;
}

static void setup(struct fixture *f, uint16_t members)
{
	static const struct transport_callbacks cb = { .connected = on_connected };
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct transport_config cfg = { 0 };
	struct ck_member mb;

	memset(f, 0, sizeof(*f));
	n_inits = 0;
	fail_domid = -1;
	ck_assert_int_eq(sd_event_new(&f->event), 0);
	ck_assert_int_eq(ck_membership_new(&f->m, 1, 1024), 0);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (uint16_t d = 1; d <= members; d++) {
		th_member(&mb, d, 0);
		ck_assert_int_eq(ck_memberset_put(set, &mb), 0);
	}
	ck_assert_int_eq(ck_membership_commit(f->m, set, &f->delta), 0);
	cfg.event = f->event;
	cfg.membership = f->m;
	ck_assert_int_eq(transport_vchan_ops.new(&f->t, &cfg, &cb, f), 0);
}

static void run_until_connected(struct fixture *f, size_t n)
{
	while (f->n_streams < n)
		ck_assert_int_ge(sd_event_run(f->event, UINT64_MAX), 0);
}

static void teardown(struct fixture *f)
{
	for (size_t i = 0; i < f->n_streams; i++)
		ck_stream_free(f->streams[i]);
	f->t->ops->free(f->t);
	ck_delta_reset(&f->delta);
	ck_membership_free(f->m);
	sd_event_unref(f->event);
}

START_TEST(setups_run_once_each_in_order_of_arrival)
{
	struct fixture f;

	setup(&f, 5);
	/* Told twice before any set-up ran: each domid waits once. */
	transport_vchan_ops.members_changed(f.t, &f.delta);
	transport_vchan_ops.members_changed(f.t, &f.delta);
	run_until_connected(&f, 5);
	ck_assert_uint_eq(n_inits, 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(inits[i], (int)i + 1);
		ck_assert_uint_eq(f.streams[i]->domid, i + 1);
	}
	/* Served already: a change that names them again sets nothing up. */
	transport_vchan_ops.members_changed(f.t, &f.delta);
	ck_assert_int_eq(sd_event_run(f.event, 0), 0);
	ck_assert_uint_eq(n_inits, 5);
	teardown(&f);
}
END_TEST

/*
 * 150 set-ups paced 2 ms apart take at least 298 ms; the failed one is due again after
 * 200 ms, so it comes back before the last of them, and the others keep their order.
 */
START_TEST(a_failed_setup_is_retried_before_what_waits)
{
	struct fixture f;
	size_t retry_at = 0;

	setup(&f, 150);
	fail_domid = 1;
	fails_left = 1;
	transport_vchan_ops.members_changed(f.t, &f.delta);
	run_until_connected(&f, 150);
	ck_assert_uint_eq(n_inits, 151);
	ck_assert_int_eq(inits[0], 1);
	for (size_t i = 1, next = 2; i < n_inits; i++) {
		if (inits[i] == 1) {
			ck_assert_uint_eq(retry_at, 0);
			retry_at = i;
			continue;
		}
		ck_assert_int_eq(inits[i], (int)next++);
	}
	ck_assert_uint_gt(retry_at, 0);
	ck_assert_uint_lt(retry_at, n_inits - 1);
	teardown(&f);
}
END_TEST

START_TEST(a_closed_channel_is_served_afresh)
{
	struct fixture f;

	setup(&f, 3);
	transport_vchan_ops.members_changed(f.t, &f.delta);
	run_until_connected(&f, 3);
	/* The session on domid 2 ended: the transport frees its stream and serves it anew. */
	transport_vchan_ops.stream_closed(f.t, f.streams[1]);
	f.streams[1] = f.streams[--f.n_streams];
	run_until_connected(&f, 3);
	ck_assert_uint_eq(n_inits, 4);
	ck_assert_int_eq(inits[3], 2);
	ck_assert_uint_eq(f.streams[2]->domid, 2);
	teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("transport-vchan");

	th_add(s, setups_run_once_each_in_order_of_arrival);
	th_add(s, a_failed_setup_is_retried_before_what_waits);
	th_add(s, a_closed_channel_is_served_afresh);
	return th_run(s);
}
