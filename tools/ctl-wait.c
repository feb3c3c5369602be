// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperctl wait and cokeeperctl latency: how long a membership change takes to reach
 * every guest, as CI jobs ask it.  Both follow cokeeperd's watch stream (watch-follow.c,
 * shared with bench/ck-latency) until every connected guest has acknowledged a generation
 * that holds (or lacks) what was asked for; an agent acknowledges a generation once its
 * kernel table holds it.
 *
 * wait times from its own start.  latency runs a command and times from the command's start
 * and, per guest, from cokeeperd's notice of the change (the ack events' latency_us, which
 * cokeeperd measures from the moment its source noticed).  bench/ck-latency times from the
 * change's first appearance in xenstore instead, which is finer and Xen-only.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "clock.h"
#include "number.h"
#include "cokeeperctl.h"
#include "watch-follow.h"
#include "ctl-follow.h"

struct wait_opts {
	struct follow_key key;
	const char *what; /* the KEY, or --gen's argument */
	uint64_t timeout; /* microseconds */
	bool absent;
	bool has_gen;
};

/* 0, or -EINVAL (reported). */
static int wait_parse(int argc, char **argv, struct wait_opts *o)
{
	static const struct option options[] = {
		{"absent", no_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 't'},
		{"gen", required_argument, NULL, 'g'},
		{},
	};
	int c;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->absent = true;
			break;
		case 't':
			if (ctl_parse_timeout(optarg, &o->timeout) < 0)
				return ctl_usage_error("wait",
					"--timeout needs seconds (0 < S <= 86400), not", optarg);
			break;
		case 'g':
			if (ck_parse_uint(optarg, 0, UINT64_MAX, &o->key.gen) < 0)
				return ctl_usage_error("wait", "--gen needs a generation, not", optarg);
			o->has_gen = true;
			o->what = optarg;
			break;
		default:
			return ctl_usage_error("wait", "bad option", NULL);
		}
	}
	if (o->has_gen) {
		if (optind != argc || o->absent)
			return ctl_usage_error("wait", "--gen takes no KEY and no --absent", NULL);
		o->key.type = FOLLOW_KEY_GEN;
		return 0;
	}
	if (argc - optind != 1)
		return ctl_usage_error(
			"wait", "needs one KEY (domid, name, uuid, IP or MAC) or --gen N", NULL);
	o->what = argv[optind];
	return ctl_parse_key("wait", o->what, &o->key);
}

/* r: 0 once converged, or -ETIMEDOUT. */
static void wait_report_json(struct follow *f, const struct wait_opts *o, int r, uint64_t start)
{
	struct json_object *j = json_object_new_object();
	uint64_t target;

	follow_target(f, &target, NULL);
	json_object_object_add(j, "converged", json_object_new_boolean(r == 0));
	if (o->has_gen)
		json_object_object_add(j, "gen_wanted", json_object_new_int64(o->key.gen));
	else
		json_object_object_add(j, "key", json_object_new_string(o->what));
	json_object_object_add(j, "absent", json_object_new_boolean(o->absent));
	json_object_object_add(j, "gen", r == 0 ? json_object_new_int64(target) : NULL);
	json_object_object_add(j, "elapsed_us",
		json_object_new_int64(r == 0 ? ctl_converged_after(f, start) : ck_now_usec() - start));
	json_object_object_add(j, "guests", ctl_guests_json(f, start, false));
	ctl_print_json(j);
}

/* What was reached, as the report's verb says it. */
static const char *wait_reached(const struct wait_opts *o)
{
	if (o->has_gen)
		return "reached";
	return o->absent ? "absent" : "present";
}

static void wait_report_text(struct follow *f, const struct wait_opts *o, uint64_t start)
{
	uint64_t target;

	follow_target(f, &target, NULL);
	printf("%s %s at gen %" PRIu64 ", acknowledged by %d guest%s after %.3f ms\n",
		o->has_gen ? "generation" : o->what, wait_reached(o), target, ctl_live_guests(f),
		ctl_live_guests(f) == 1 ? "" : "s", ctl_converged_after(f, start) / 1000.0);
	json_object_put(ctl_guests_json(f, start, true));
}

/* Which step the wait never got past, with the key as it was read. */
static void wait_stuck_at(struct follow *f, const struct wait_opts *o, char *buf, size_t size)
{
	uint64_t target;

	if (!follow_ready(f))
		snprintf(buf, size, "cokeeperd did not answer");
	else if (follow_target(f, &target, NULL))
		snprintf(buf, size, "not every guest acknowledged it");
	else if (o->has_gen)
		snprintf(buf, size, "cokeeperd's membership never reached generation %" PRIu64,
			 o->key.gen);
	else if (o->absent)
		snprintf(buf, size, "a member %s '%s' is still there",
			 follow_key_noun(o->key.type), o->what);
	else
		snprintf(buf, size, "no member %s '%s' appeared", follow_key_noun(o->key.type),
			 o->what);
}

/* Why the wait timed out, on stderr; for people, which guests acked what. */
static void wait_report_timeout(struct follow *f, const struct wait_opts *o, uint64_t start)
{
	char why[256];

	wait_stuck_at(f, o, why, sizeof(why));
	fprintf(stderr, "%s wait: timeout after %.1f s: %s\n", ctl_prog, o->timeout / 1e6, why);
	if (!ctl.json)
		json_object_put(ctl_guests_json(f, start, true));
}

int ctl_wait(int argc, char **argv)
{
	struct wait_opts o = {.timeout = DEFAULT_TIMEOUT_S * 1e6};
	struct follow *f;
	uint64_t start;
	int r;

	if (wait_parse(argc, argv, &o) < 0)
		return CTL_EXIT_USAGE;
	start = ck_now_usec();
	if (ctl_open_follow(&f, "wait", &o.key, o.absent) < 0)
		return CTL_EXIT_FAIL;
	r = ctl_run_until(f, start + o.timeout, ctl_converged, NULL, NULL, NULL, -1);
	if (r < 0 && r != -ETIMEDOUT) {
		fprintf(stderr, "%s wait: %s\n", ctl_prog, ctl_strerror_follow(f, r));
		follow_free(f);
		return CTL_EXIT_FAIL;
	}
	if (ctl.json)
		wait_report_json(f, &o, r, start);
	else if (r == 0)
		wait_report_text(f, &o, start);
	if (r == -ETIMEDOUT)
		wait_report_timeout(f, &o, start);
	follow_free(f);
	return r == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
