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

#define DEFAULT_TIMEOUT_S 30.0

static const char *prog = "cokeeperctl";

/* Reports a usage error; -EINVAL, which the command turns into CTL_EXIT_USAGE. */
static int usage_error(const char *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "%s %s: %s%s%s%s\nTry '%s --help'.\n", prog, cmd, what, arg ? " '" : "",
		arg ? arg : "", arg ? "'" : "", prog);
	return -EINVAL;
}

/* Seconds, a decimal fraction allowed, more than 0 and at most a day. */
static int parse_timeout(const char *s, uint64_t *usec)
{
	return ck_parse_seconds(s, 1, 86400 * 1000000ull, usec);
}

static const char *strerror_follow(int r)
{
	switch (r) {
	case -ECONNRESET:
		return "cokeeperd closed the control connection";
	case -EBADMSG:
		return "cokeeperd sent a line this tool does not understand";
	case -EMSGSIZE:
		return "cokeeperd sent a line longer than 64 MiB";
	default:
		return strerror(-r);
	}
}

/*
 * Reads the watch stream until done(f) or the deadline; also reaps the child (when
 * *child > 0), whose exit status it stores in *status and then sets *child to 0.
 * 0 when done, -ETIMEDOUT, or the follower's error.
 */
static int run_until(struct follow *f, uint64_t deadline, bool (*done)(struct follow *f, void *),
	void *data, pid_t *child, int *status, int pidfd)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{.fd = follow_fd(f), .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
		uint64_t now = ck_now_usec();
		int timeout_ms, n;

		if (child && *child > 0 && waitpid(*child, status, WNOHANG) == *child)
			*child = 0;
		if (done(f, data))
			return 0;
		if (now >= deadline)
			return -ETIMEDOUT;
		timeout_ms = (int)((deadline - now + 999) / 1000);
		/* Without a pidfd, the command's end is noticed on a 10 ms tick. */
		if (child && *child > 0 && pidfd < 0 && timeout_ms > 10)
			timeout_ms = 10;
		n = poll(pfd, pidfd >= 0 && child && *child > 0 ? 2 : 1, timeout_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0 && pfd[0].revents) {
			int r = follow_read(f, ck_now_usec());

			if (r < 0)
				return r;
		}
	}
}

static bool ready(struct follow *f, void *data)
{
	return follow_ready(f);
}

static bool converged(struct follow *f, void *data)
{
	return follow_converged(f);
}

static int live_guests(struct follow *f)
{
	size_t n;
	const struct follow_guest *g = follow_guests(f, &n);
	int live = 0;

	for (size_t i = 0; i < n; i++)
		live += !g[i].closed;
	return live;
}

/*
 * Each live guest, as JSON and for people, timed from origin: acked_us (when this tool read
 * its ack of the target; null when it has not acked) and latency_us (cokeeperd's measure,
 * from its notice; null when the ack came before this tool looked).
 */
static struct json_object *guests_json(struct follow *f, uint64_t origin, bool print)
{
	struct json_object *arr = json_object_new_array();
	size_t n;
	const struct follow_guest *g = follow_guests(f, &n);

	for (size_t i = 0; i < n; i++) {
		struct json_object *o;

		if (g[i].closed)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "channel", json_object_new_string(g[i].channel));
		json_object_object_add(o, "domid", json_object_new_int(g[i].domid));
		json_object_object_add(o, "acked_gen", json_object_new_int64(g[i].acked_gen));
		json_object_object_add(o, "acked_us",
			g[i].acked_usec
				? json_object_new_int64(
					  g[i].acked_usec > origin ? g[i].acked_usec - origin : 0)
				: NULL);
		json_object_object_add(o, "latency_us",
			g[i].acked_usec && g[i].latency_us >= 0
				? json_object_new_int64(g[i].latency_us)
				: NULL);
		json_object_array_add(arr, o);
		if (!print)
			continue;
		if (!g[i].acked_usec) {
			printf("  %-12s domid %-5d acked gen %" PRId64 ": not yet\n", g[i].channel,
				g[i].domid, g[i].acked_gen);
			continue;
		}
		printf("  %-12s domid %-5d acked gen %-6" PRId64 " at %9.3f ms", g[i].channel,
			g[i].domid, g[i].acked_gen,
			(g[i].acked_usec > origin ? g[i].acked_usec - origin : 0) / 1000.0);
		if (g[i].latency_us >= 0)
			printf(", %9.3f ms after cokeeperd's notice", g[i].latency_us / 1000.0);
		printf("\n");
	}
	return arr;
}

/* The slowest live guest's cokeeperd latency (-1 if no ack carried one). */
static int64_t max_latency(struct follow *f)
{
	size_t n;
	const struct follow_guest *g = follow_guests(f, &n);
	int64_t max = -1;

	for (size_t i = 0; i < n; i++)
		if (!g[i].closed && g[i].acked_usec && g[i].latency_us > max)
			max = g[i].latency_us;
	return max;
}

/* When the target was read and every live guest's ack of it too, from origin. */
static uint64_t converged_after(struct follow *f, uint64_t origin)
{
	size_t n;
	const struct follow_guest *g = follow_guests(f, &n);
	uint64_t gen, last = origin, at;

	if (follow_target(f, &gen, &at) && at > last)
		last = at;
	for (size_t i = 0; i < n; i++)
		if (!g[i].closed && g[i].acked_usec > last)
			last = g[i].acked_usec;
	return last - origin;
}

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

static int open_follow(
	struct follow **f, const char *cmd, const struct follow_key *key, bool absent)
{
	int r = follow_new(f, ctl.control_path, key, absent);

	if (r < 0)
		fprintf(stderr, "%s %s: cannot follow cokeeperd at %s: %s\n", prog, cmd,
			ctl.control_path, strerror(-r));
	return r;
}

/* What `cokeeperctl wait` was asked. */
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
			if (parse_timeout(optarg, &o->timeout) < 0)
				return usage_error("wait",
					"--timeout needs seconds (0 < S <= 86400), not", optarg);
			break;
		case 'g':
			if (ck_parse_uint(optarg, 0, UINT64_MAX, &o->key.gen) < 0)
				return usage_error("wait", "--gen needs a generation, not", optarg);
			o->has_gen = true;
			o->what = optarg;
			break;
		default:
			return usage_error("wait", "bad option", NULL);
		}
	}
	if (o->has_gen) {
		if (optind != argc || o->absent)
			return usage_error("wait", "--gen takes no KEY and no --absent", NULL);
		o->key.type = FOLLOW_KEY_GEN;
		return 0;
	}
	if (argc - optind != 1)
		return usage_error(
			"wait", "needs one KEY (domid, name, IP or MAC) or --gen N", NULL);
	o->what = argv[optind];
	if (follow_key_parse(&o->key, o->what) < 0)
		return usage_error("wait", "not a domid, name, address or MAC:", o->what);
	return 0;
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
		json_object_new_int64(r == 0 ? converged_after(f, start) : ck_now_usec() - start));
	json_object_object_add(j, "guests", guests_json(f, start, false));
	print_json(j);
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
		o->has_gen ? "generation" : o->what, wait_reached(o), target, live_guests(f),
		live_guests(f) == 1 ? "" : "s", converged_after(f, start) / 1000.0);
	json_object_put(guests_json(f, start, true));
}

/* Which step the wait never got past. */
static const char *wait_stuck_at(struct follow *f)
{
	uint64_t target;

	if (!follow_ready(f))
		return "cokeeperd did not answer";
	if (!follow_target(f, &target, NULL))
		return "cokeeperd's membership never had it";
	return "not every guest acknowledged it";
}

/* Why the wait timed out, on stderr; for people, which guests acked what. */
static void wait_report_timeout(struct follow *f, const struct wait_opts *o, uint64_t start)
{
	fprintf(stderr, "%s wait: timeout after %.1f s: %s\n", prog, o->timeout / 1e6,
		wait_stuck_at(f));
	if (!ctl.json)
		json_object_put(guests_json(f, start, true));
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
	if (open_follow(&f, "wait", &o.key, o.absent) < 0)
		return CTL_EXIT_FAIL;
	r = run_until(f, start + o.timeout, converged, NULL, NULL, NULL, -1);
	if (r < 0 && r != -ETIMEDOUT) {
		fprintf(stderr, "%s wait: %s\n", prog, strerror_follow(r));
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

struct latency_state {
	pid_t child; /* 0 once reaped */
	uint64_t baseline; /* cokeeperd's generation when the command started */
	uint64_t start; /* when the command started */
	bool keyed; /* --present or --absent */
	bool gen_set; /* unkeyed: the generation to wait for is chosen */
	int status; /* the command's wait status, once reaped */
};

/*
 * Done when the command has ended and every guest acked its change.  Without a key, the
 * change is what cokeeperd had published when the command ended, or else the next one.
 */
static bool latency_done(struct follow *f, void *data)
{
	struct latency_state *st = data;

	if (st->child > 0)
		return false;
	/* A command that failed has most likely changed nothing: no point waiting. */
	if (!WIFEXITED(st->status) || WEXITSTATUS(st->status) != 0)
		return true;
	if (!st->keyed && !st->gen_set) {
		uint64_t gen = follow_gen(f);

		follow_set_gen(f, gen > st->baseline ? gen : st->baseline + 1, ck_now_usec());
		st->gen_set = true;
	}
	return follow_converged(f);
}

static int spawn(char **argv, pid_t *ret)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* With --json, stdout is this tool's report: the command's output goes aside. */
		if (ctl.json)
			dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "%s latency: %s: %s\n", prog, argv[0], strerror(errno));
		_exit(127);
	}
	*ret = pid;
	return 0;
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* What `cokeeperctl latency` was asked. */
struct latency_opts {
	struct follow_key key;
	const char *what; /* --present's or --absent's KEY; NULL for any change */
	uint64_t timeout; /* microseconds */
	bool absent;
	char **command; /* NULL-terminated, as execvp wants it */
	int n_command;
};

/* 0, or -EINVAL (reported). */
static int latency_parse(int argc, char **argv, struct latency_opts *o)
{
	static const struct option options[] = {
		{"present", required_argument, NULL, 'p'},
		{"absent", required_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 't'},
		{},
	};
	int c;

	ctl_getopt_reset();
	/* "+": the command's own options are not ours. */
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'a':
			if (o->what)
				return usage_error(
					"latency", "takes one --present or --absent", NULL);
			o->what = optarg;
			o->absent = c == 'a';
			if (follow_key_parse(&o->key, o->what) < 0)
				return usage_error(
					"latency", "not a domid, name, address or MAC:", o->what);
			break;
		case 't':
			if (parse_timeout(optarg, &o->timeout) < 0)
				return usage_error("latency",
					"--timeout needs seconds (0 < S <= 86400), not", optarg);
			break;
		default:
			return usage_error("latency", "bad option", NULL);
		}
	}
	if (optind >= argc)
		return usage_error("latency", "needs a COMMAND to run (after --)", NULL);
	o->command = argv + optind;
	o->n_command = argc - optind;
	return 0;
}

/* Follows cokeeperd and takes its generation before the command: 0 or -errno (reported). */
static int latency_open(struct follow **ret, const struct latency_opts *o, struct latency_state *st)
{
	uint64_t start = ck_now_usec();
	struct follow *f;
	int r;

	r = open_follow(&f, "latency", &o->key, o->absent);
	if (r < 0)
		return r;
	/* The state before the command, so that only its change counts. */
	r = run_until(f, start + o->timeout, ready, NULL, NULL, NULL, -1);
	if (r < 0) {
		fprintf(stderr, "%s latency: %s\n", prog,
			r == -ETIMEDOUT ? "cokeeperd did not answer" : strerror_follow(r));
		follow_free(f);
		return r;
	}
	st->baseline = follow_gen(f);
	follow_set_after(f, st->baseline);
	*ret = f;
	return 0;
}

/*
 * Runs the command and follows cokeeperd until every guest acked its change, the command
 * failed, or the timeout: 0, -ETIMEDOUT, or another -errno (reported).
 */
static int latency_run(struct follow *f, const struct latency_opts *o, struct latency_state *st)
{
	int r, pidfd;

	st->start = ck_now_usec();
	r = spawn(o->command, &st->child);
	if (r < 0) {
		fprintf(stderr, "%s latency: cannot run %s: %s\n", prog, o->command[0],
			strerror(-r));
		return r;
	}
	pidfd = (int)syscall(SYS_pidfd_open, st->child, 0);
	r = run_until(f, st->start + o->timeout, latency_done, st, &st->child, &st->status, pidfd);
	if (pidfd >= 0)
		close(pidfd);
	if (r < 0 && r != -ETIMEDOUT)
		fprintf(stderr, "%s latency: %s\n", prog, strerror_follow(r));
	return r;
}

/*
 * The run's outcome, its failure told on stderr: 0, -ETIMEDOUT (a command still running is
 * ended), or -ECHILD when the command failed.
 */
static int latency_verdict(
	struct follow *f, const struct latency_opts *o, struct latency_state *st, int r)
{
	uint64_t gen;

	if (st->child > 0) {
		fprintf(stderr, "%s latency: timeout after %.1f s: %s still running\n", prog,
			o->timeout / 1e6, o->command[0]);
		kill(st->child, SIGTERM);
		waitpid(st->child, &st->status, 0);
		st->child = 0;
		return -ETIMEDOUT;
	}
	if (exit_code(st->status) != 0) {
		fprintf(stderr, "%s latency: %s exited with %d\n", prog, o->command[0],
			exit_code(st->status));
		return -ECHILD;
	}
	if (r == -ETIMEDOUT)
		fprintf(stderr, "%s latency: timeout after %.1f s: %s\n", prog, o->timeout / 1e6,
			!follow_target(f, &gen, NULL)
				? (st->keyed ? "cokeeperd's membership never reflected the change"
					     : "cokeeperd saw no change")
				: "not every guest acknowledged the change");
	return r;
}

static void latency_report_json(
	struct follow *f, const struct latency_opts *o, const struct latency_state *st, int r)
{
	struct json_object *j = json_object_new_object(), *cmd = json_object_new_array();
	int64_t lat = max_latency(f);
	uint64_t gen, notice_at;

	follow_target(f, &gen, &notice_at);
	for (int i = 0; i < o->n_command; i++)
		json_object_array_add(cmd, json_object_new_string(o->command[i]));
	json_object_object_add(j, "converged", json_object_new_boolean(r == 0));
	json_object_object_add(j, "command", cmd);
	json_object_object_add(j, "command_rc", json_object_new_int(exit_code(st->status)));
	if (o->what) {
		json_object_object_add(j, "key", json_object_new_string(o->what));
		json_object_object_add(j, "absent", json_object_new_boolean(o->absent));
	}
	json_object_object_add(j, "base_gen", json_object_new_int64(st->baseline));
	json_object_object_add(j, "gen", r == 0 ? json_object_new_int64(gen) : NULL);
	/* From the command's start to the last guest's ack; from cokeeperd's notice. */
	json_object_object_add(j, "latency_us",
		r == 0 ? json_object_new_int64(converged_after(f, st->start)) : NULL);
	json_object_object_add(
		j, "notice_latency_us", r == 0 && lat >= 0 ? json_object_new_int64(lat) : NULL);
	json_object_object_add(
		j, "delta_us", notice_at ? json_object_new_int64(notice_at - st->start) : NULL);
	json_object_object_add(j, "guests", guests_json(f, st->start, false));
	print_json(j);
}

static void latency_report_text(
	struct follow *f, const struct latency_opts *o, const struct latency_state *st, int r)
{
	uint64_t gen, notice_at;

	follow_target(f, &gen, &notice_at);
	if (r == 0) {
		int64_t lat = max_latency(f);

		printf("%s: gen %" PRIu64 " in every guest (%d) %.3f ms after the command started",
			o->what ? o->what : "change", gen, live_guests(f),
			converged_after(f, st->start) / 1000.0);
		if (lat >= 0)
			printf(", %.3f ms after cokeeperd's notice", lat / 1000.0);
		printf(" (cokeeperd published it at %.3f ms; command exit %d)\n",
			(notice_at - st->start) / 1000.0, exit_code(st->status));
	}
	json_object_put(guests_json(f, st->start, true));
}

int ctl_latency(int argc, char **argv)
{
	struct latency_opts o = {
		.key = {.type = FOLLOW_KEY_GEN}, .timeout = DEFAULT_TIMEOUT_S * 1e6};
	struct latency_state st = {};
	struct follow *f;
	int r;

	if (latency_parse(argc, argv, &o) < 0)
		return CTL_EXIT_USAGE;
	st.keyed = o.what != NULL;
	if (latency_open(&f, &o, &st) < 0)
		return CTL_EXIT_FAIL;
	r = latency_run(f, &o, &st);
	if (r < 0 && r != -ETIMEDOUT) {
		follow_free(f);
		return CTL_EXIT_FAIL;
	}
	r = latency_verdict(f, &o, &st, r);
	if (ctl.json)
		latency_report_json(f, &o, &st, r);
	else
		latency_report_text(f, &o, &st, r);
	follow_free(f);
	return r == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
