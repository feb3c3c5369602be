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

static int usage_error(const char *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "%s %s: %s%s%s%s\nTry '%s --help'.\n", prog, cmd, what, arg ? " '" : "",
		arg ? arg : "", arg ? "'" : "", prog);
	return CTL_EXIT_USAGE;
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

int ctl_wait(int argc, char **argv)
{
	static const struct option options[] = {
		{"absent", no_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 't'},
		{"gen", required_argument, NULL, 'g'},
		{},
	};
	uint64_t timeout = DEFAULT_TIMEOUT_S * 1e6, start, target = 0;
	struct follow_key key = {};
	const char *what = NULL;
	struct follow *f;
	bool absent = false, has_gen = false;
	int c, r;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			absent = true;
			break;
		case 't':
			if (parse_timeout(optarg, &timeout) < 0)
				return usage_error("wait",
					"--timeout needs seconds (0 < S <= 86400), not", optarg);
			break;
		case 'g':
			if (ck_parse_uint(optarg, 0, UINT64_MAX, &key.gen) < 0)
				return usage_error("wait", "--gen needs a generation, not", optarg);
			has_gen = true;
			what = optarg;
			break;
		default:
			return usage_error("wait", "bad option", NULL);
		}
	}
	if (has_gen) {
		if (optind != argc || absent)
			return usage_error("wait", "--gen takes no KEY and no --absent", NULL);
		key.type = FOLLOW_KEY_GEN;
	} else {
		if (argc - optind != 1)
			return usage_error(
				"wait", "needs one KEY (domid, name, IP or MAC) or --gen N", NULL);
		what = argv[optind];
		if (follow_key_parse(&key, what) < 0)
			return usage_error("wait", "not a domid, name, address or MAC:", what);
	}

	start = ck_now_usec();
	if (open_follow(&f, "wait", &key, absent) < 0)
		return CTL_EXIT_FAIL;
	r = run_until(f, start + timeout, converged, NULL, NULL, NULL, -1);
	follow_target(f, &target, NULL);
	if (r < 0 && r != -ETIMEDOUT) {
		fprintf(stderr, "%s wait: %s\n", prog, strerror_follow(r));
		follow_free(f);
		return CTL_EXIT_FAIL;
	}
	if (ctl.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "converged", json_object_new_boolean(r == 0));
		if (has_gen)
			json_object_object_add(o, "gen_wanted", json_object_new_int64(key.gen));
		else
			json_object_object_add(o, "key", json_object_new_string(what));
		json_object_object_add(o, "absent", json_object_new_boolean(absent));
		json_object_object_add(o, "gen", r == 0 ? json_object_new_int64(target) : NULL);
		json_object_object_add(o, "elapsed_us",
			json_object_new_int64(
				r == 0 ? converged_after(f, start) : ck_now_usec() - start));
		json_object_object_add(o, "guests", guests_json(f, start, false));
		print_json(o);
	} else if (r == 0) {
		printf("%s %s at gen %" PRIu64 ", acknowledged by %d guest%s after %.3f ms\n",
			has_gen ? "generation" : what,
			has_gen		 ? "reached"
				: absent ? "absent"
					 : "present",
			target, live_guests(f), live_guests(f) == 1 ? "" : "s",
			converged_after(f, start) / 1000.0);
		json_object_put(guests_json(f, start, true));
	}
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "%s wait: timeout after %.1f s: %s\n", prog, timeout / 1e6,
			!follow_ready(f) ? "cokeeperd did not answer"
				: !follow_target(f, &target, NULL)
				? "cokeeperd's membership never had it"
				: "not every guest acknowledged it");
		if (!ctl.json)
			json_object_put(guests_json(f, start, true));
	}
	follow_free(f);
	return r == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

struct latency_state {
	pid_t child; /* 0 once reaped */
	uint64_t baseline; /* cokeeperd's generation when the command started */
	bool keyed; /* --present or --absent */
	bool gen_set; /* unkeyed: the generation to wait for is chosen */
	const int *status; /* the command's wait status, once reaped */
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
	if (!WIFEXITED(*st->status) || WEXITSTATUS(*st->status) != 0)
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

int ctl_latency(int argc, char **argv)
{
	static const struct option options[] = {
		{"present", required_argument, NULL, 'p'},
		{"absent", required_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 't'},
		{},
	};
	uint64_t timeout = DEFAULT_TIMEOUT_S * 1e6, start, gen = 0, notice_at = 0;
	struct latency_state st = {};
	struct follow_key key = {.type = FOLLOW_KEY_GEN};
	const char *what = NULL;
	struct follow *f;
	bool absent = false;
	int c, r, status = 0, pidfd = -1;

	ctl_getopt_reset();
	/* "+": the command's own options are not ours. */
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'a':
			if (what)
				return usage_error(
					"latency", "takes one --present or --absent", NULL);
			what = optarg;
			absent = c == 'a';
			if (follow_key_parse(&key, what) < 0)
				return usage_error(
					"latency", "not a domid, name, address or MAC:", what);
			break;
		case 't':
			if (parse_timeout(optarg, &timeout) < 0)
				return usage_error("latency",
					"--timeout needs seconds (0 < S <= 86400), not", optarg);
			break;
		default:
			return usage_error("latency", "bad option", NULL);
		}
	}
	if (optind >= argc)
		return usage_error("latency", "needs a COMMAND to run (after --)", NULL);
	st.keyed = what != NULL;
	st.status = &status;

	start = ck_now_usec();
	if (open_follow(&f, "latency", &key, absent) < 0)
		return CTL_EXIT_FAIL;
	/* The state before the command, so that only its change counts. */
	r = run_until(f, start + timeout, ready, NULL, NULL, NULL, -1);
	if (r < 0) {
		fprintf(stderr, "%s latency: %s\n", prog,
			r == -ETIMEDOUT ? "cokeeperd did not answer" : strerror_follow(r));
		follow_free(f);
		return CTL_EXIT_FAIL;
	}
	st.baseline = follow_gen(f);
	follow_set_after(f, st.baseline);

	start = ck_now_usec();
	r = spawn(argv + optind, &st.child);
	if (r < 0) {
		fprintf(stderr, "%s latency: cannot run %s: %s\n", prog, argv[optind],
			strerror(-r));
		follow_free(f);
		return CTL_EXIT_FAIL;
	}
	pidfd = (int)syscall(SYS_pidfd_open, st.child, 0);
	r = run_until(f, start + timeout, latency_done, &st, &st.child, &status, pidfd);
	if (pidfd >= 0)
		close(pidfd);
	if (r < 0 && r != -ETIMEDOUT) {
		fprintf(stderr, "%s latency: %s\n", prog, strerror_follow(r));
		goto out;
	}
	if (st.child > 0) {
		fprintf(stderr, "%s latency: timeout after %.1f s: %s still running\n", prog,
			timeout / 1e6, argv[optind]);
		kill(st.child, SIGTERM);
		waitpid(st.child, &status, 0);
		st.child = 0;
		r = -ETIMEDOUT;
	} else if (exit_code(status) != 0) {
		fprintf(stderr, "%s latency: %s exited with %d\n", prog, argv[optind],
			exit_code(status));
		r = -ECHILD;
	} else if (r == -ETIMEDOUT) {
		fprintf(stderr, "%s latency: timeout after %.1f s: %s\n", prog, timeout / 1e6,
			!follow_target(f, &gen, NULL)
				? (st.keyed ? "cokeeperd's membership never reflected the change"
					    : "cokeeperd saw no change")
				: "not every guest acknowledged the change");
	}
	follow_target(f, &gen, &notice_at);
	if (ctl.json) {
		struct json_object *o = json_object_new_object(), *cmd = json_object_new_array();
		int64_t lat = max_latency(f);

		for (int i = optind; i < argc; i++)
			json_object_array_add(cmd, json_object_new_string(argv[i]));
		json_object_object_add(o, "converged", json_object_new_boolean(r == 0));
		json_object_object_add(o, "command", cmd);
		json_object_object_add(o, "command_rc", json_object_new_int(exit_code(status)));
		if (what) {
			json_object_object_add(o, "key", json_object_new_string(what));
			json_object_object_add(o, "absent", json_object_new_boolean(absent));
		}
		json_object_object_add(o, "base_gen", json_object_new_int64(st.baseline));
		json_object_object_add(o, "gen", r == 0 ? json_object_new_int64(gen) : NULL);
		/* From the command's start to the last guest's ack; from cokeeperd's notice. */
		json_object_object_add(o, "latency_us",
			r == 0 ? json_object_new_int64(converged_after(f, start)) : NULL);
		json_object_object_add(o, "notice_latency_us",
			r == 0 && lat >= 0 ? json_object_new_int64(lat) : NULL);
		json_object_object_add(
			o, "delta_us", notice_at ? json_object_new_int64(notice_at - start) : NULL);
		json_object_object_add(o, "guests", guests_json(f, start, false));
		print_json(o);
	} else {
		if (r == 0) {
			int64_t lat = max_latency(f);

			printf("%s: gen %" PRIu64 " in every guest (%d) %.3f ms after the command "
			       "started",
				what ? what : "change", gen, live_guests(f),
				converged_after(f, start) / 1000.0);
			if (lat >= 0)
				printf(", %.3f ms after cokeeperd's notice", lat / 1000.0);
			printf(" (cokeeperd published it at %.3f ms; command exit %d)\n",
				(notice_at - start) / 1000.0, exit_code(status));
		}
		json_object_put(guests_json(f, start, true));
	}
out:
	follow_free(f);
	return r == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
