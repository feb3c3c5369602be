// SPDX-License-Identifier: GPL-2.0-only
/* Coalescing of rescan requests on a real sd-event loop. */
#include "helpers.h"
#include "rescan.h"

struct counter {
	struct rescan *rescan;
	unsigned int scans;
	unsigned int fires_during_first;
	uint64_t first_noticed;
};

static void on_scan(uint64_t noticed, void *userdata)
{
	struct counter *c = userdata;

	if (c->scans++ == 0) {
		c->first_noticed = noticed;
		/* A burst of watch fires arrives while the scan runs. */
		for (unsigned int i = 0; i < c->fires_during_first; i++)
			rescan_request(c->rescan);
	}
}

static void drain(sd_event *e)
{
	/* Run until nothing is pending any more. */
	while (sd_event_run(e, 0) > 0)
		;
}

START_TEST(burst_during_scan_costs_one_more)
{
	struct counter c = { .fires_during_first = 100 };
	sd_event *e;

	ck_assert_int_ge(sd_event_new(&e), 0);
	ck_assert_int_eq(rescan_new(&c.rescan, e, on_scan, &c), 0);
	rescan_request(c.rescan);
	drain(e);
	ck_assert_uint_eq(c.scans, 2);
	ck_assert_uint_eq(rescan_requests(c.rescan), 101);
	rescan_free(c.rescan);
	sd_event_unref(e);
}
END_TEST

START_TEST(burst_before_scan_costs_one)
{
	struct counter c = { 0 };
	sd_event *e;

	ck_assert_int_ge(sd_event_new(&e), 0);
	ck_assert_int_eq(rescan_new(&c.rescan, e, on_scan, &c), 0);
	for (int i = 0; i < 100; i++)
		rescan_request(c.rescan);
	drain(e);
	ck_assert_uint_eq(c.scans, 1);
	ck_assert_uint_ne(c.first_noticed, 0);
	/* Quiet afterwards: no scan without a request. */
	drain(e);
	ck_assert_uint_eq(c.scans, 1);
	rescan_free(c.rescan);
	sd_event_unref(e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rescan");

	th_add(s, burst_during_scan_costs_one_more);
	th_add(s, burst_before_scan_costs_one);
	return th_run(s);
}
