// SPDX-License-Identifier: GPL-2.0-only
/* The watch-stream following that cokeeperctl wait and latency share (ctl-follow.h). */
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

const char *ctl_prog = "cokeeperctl";

/* Reports a usage error; -EINVAL, which the command turns into CTL_EXIT_USAGE. */
int ctl_usage_error(const char *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "%s %s: %s%s%s%s\nTry '%s --help'.\n", ctl_prog, cmd, what, arg ? " '" : "",
		arg ? arg : "", arg ? "'" : "", ctl_prog);
	return -EINVAL;
}

/*
 * KEY as a member's domid, name, uuid, address or MAC: 0, or -EINVAL (reported) for one no
 * member can ever have, which a wait would only time out on.
 */
int ctl_parse_key(const char *cmd, const char *s, struct follow_key *k)
{
	if (follow_key_parse(k, s) == 0)
		return 0;
	fprintf(stderr, "%s %s: '%s' can never match a member: %s\nTry '%s --help'.\n", ctl_prog,
		cmd, s, follow_key_rule(k->type), ctl_prog);
	return -EINVAL;
}

/* Seconds, a decimal fraction allowed, more than 0 and at most a day. */
int ctl_parse_timeout(const char *s, uint64_t *usec)
{
	return ck_parse_seconds(s, 1, 86400 * 1000000ull, usec);
}

const char *ctl_strerror_follow(struct follow *f, int r)
{
	if ((r == -EREMOTEIO || r == -EPROTONOSUPPORT) && follow_error(f))
		return follow_error(f);
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
int ctl_run_until(struct follow *f, uint64_t deadline, bool (*done)(struct follow *f, void *),
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

bool ctl_ready(struct follow *f, void *data)
{
	return follow_ready(f);
}

bool ctl_converged(struct follow *f, void *data)
{
	return follow_converged(f);
}

int ctl_live_guests(struct follow *f)
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
struct json_object *ctl_guests_json(struct follow *f, uint64_t origin, bool print)
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
int64_t ctl_max_latency(struct follow *f)
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
uint64_t ctl_converged_after(struct follow *f, uint64_t origin)
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

void ctl_print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

int ctl_open_follow(
	struct follow **f, const char *cmd, const struct follow_key *key, bool absent)
{
	int r = follow_new(f, ctl.control_path, key, absent);

	if (r < 0)
		fprintf(stderr, "%s %s: cannot follow cokeeperd at %s: %s\n", ctl_prog, cmd,
			ctl.control_path, strerror(-r));
	return r;
}

/* What `cokeeperctl wait` was asked. */
