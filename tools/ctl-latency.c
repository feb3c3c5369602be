// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperctl latency: runs a command and times its membership change to every guest, from
 * the command's start and, per guest, from cokeeperd's notice (ctl-wait.c says more).
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
		fprintf(stderr, "%s latency: %s: %s\n", ctl_prog, argv[0], strerror(errno));
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
				return ctl_usage_error(
					"latency", "takes one --present or --absent", NULL);
			o->what = optarg;
			o->absent = c == 'a';
			if (ctl_parse_key("latency", o->what, &o->key) < 0)
				return -EINVAL;
			break;
		case 't':
			if (ctl_parse_timeout(optarg, &o->timeout) < 0)
				return ctl_usage_error("latency",
					"--timeout needs seconds (0 < S <= 86400), not", optarg);
			break;
		default:
			return ctl_usage_error("latency", "bad option", NULL);
		}
	}
	if (optind >= argc)
		return ctl_usage_error("latency", "needs a COMMAND to run (after --)", NULL);
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

	r = ctl_open_follow(&f, "latency", &o->key, o->absent);
	if (r < 0)
		return r;
	/* The state before the command, so that only its change counts. */
	r = ctl_run_until(f, start + o->timeout, ctl_ready, NULL, NULL, NULL, -1);
	if (r < 0) {
		fprintf(stderr, "%s latency: %s\n", ctl_prog,
			r == -ETIMEDOUT ? "cokeeperd did not answer" : ctl_strerror_follow(f, r));
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
		fprintf(stderr, "%s latency: cannot run %s: %s\n", ctl_prog, o->command[0],
			strerror(-r));
		return r;
	}
	pidfd = (int)syscall(SYS_pidfd_open, st->child, 0);
	r = ctl_run_until(f, st->start + o->timeout, latency_done, st, &st->child, &st->status, pidfd);
	if (pidfd >= 0)
		close(pidfd);
	if (r < 0 && r != -ETIMEDOUT)
		fprintf(stderr, "%s latency: %s\n", ctl_prog, ctl_strerror_follow(f, r));
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
		fprintf(stderr, "%s latency: timeout after %.1f s: %s still running\n", ctl_prog,
			o->timeout / 1e6, o->command[0]);
		kill(st->child, SIGTERM);
		waitpid(st->child, &st->status, 0);
		st->child = 0;
		return -ETIMEDOUT;
	}
	if (exit_code(st->status) != 0) {
		fprintf(stderr, "%s latency: %s exited with %d\n", ctl_prog, o->command[0],
			exit_code(st->status));
		return -ECHILD;
	}
	if (r == -ETIMEDOUT)
		fprintf(stderr, "%s latency: timeout after %.1f s: %s\n", ctl_prog, o->timeout / 1e6,
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
	int64_t lat = ctl_max_latency(f);
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
		r == 0 ? json_object_new_int64(ctl_converged_after(f, st->start)) : NULL);
	json_object_object_add(
		j, "notice_latency_us", r == 0 && lat >= 0 ? json_object_new_int64(lat) : NULL);
	json_object_object_add(
		j, "delta_us", notice_at ? json_object_new_int64(notice_at - st->start) : NULL);
	json_object_object_add(j, "guests", ctl_guests_json(f, st->start, false));
	ctl_print_json(j);
}

static void latency_report_text(
	struct follow *f, const struct latency_opts *o, const struct latency_state *st, int r)
{
	uint64_t gen, notice_at;

	follow_target(f, &gen, &notice_at);
	if (r == 0) {
		int64_t lat = ctl_max_latency(f);

		printf("%s: gen %" PRIu64 " in every guest (%d) %.3f ms after the command started",
			o->what ? o->what : "change", gen, ctl_live_guests(f),
			ctl_converged_after(f, st->start) / 1000.0);
		if (lat >= 0)
			printf(", %.3f ms after cokeeperd's notice", lat / 1000.0);
		printf(" (cokeeperd published it at %.3f ms; command exit %d)\n",
			(notice_at - st->start) / 1000.0, exit_code(st->status));
	}
	json_object_put(ctl_guests_json(f, st->start, true));
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
