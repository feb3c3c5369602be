// SPDX-License-Identifier: GPL-2.0-only
/*
 * ck-latency (runs in dom0): how long a toolstack change takes to reach every guest's kernel
 * table, measured from outside CoKeeper so that event-driven and polling modes are timed by
 * the same clock and the same rules.
 *
 *   ck-latency --observers 3,4,5 --present 10.99.0.9 -- xl create probe.cfg
 *   ck-latency --observers 3,4,5 --absent 10.99.0.9 -- xl destroy probe
 *
 * Each observer guest publishes its kernel table's view in its own xenstore key
 * data/ck-report (tests/guest/ck-reporter rewrites it on every kernel notification, as the
 * canonical members JSON, which holds the table's addresses).  The origin is the moment the change became visible
 * to any dom0 reader:
 *   --present: the first write of a vif backend "ip" key holding the address;
 *   --absent:  the first @releaseDomain, or the address leaving every vif backend (libxl
 *              removes the devices before it kills the domain), after the command starts.
 * The end is the last observer's report reflecting it.  Prints one line:
 *   latency_us=N origin_us=… observers=3 command_rc=0
 * Exit status 0 on success, 1 on timeout or error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>

#include "clock.h"

#define MAX_OBSERVERS 32

struct observer {
	unsigned int domid;
	char path[64];
	uint64_t done_usec;
};

static struct observer observers[MAX_OBSERVERS];
static unsigned int n_observers;
static const char *address;
static bool want_present;

/* Does the report line list the address as a whole word? */
static bool report_has(const char *report)
{
	size_t n = strlen(address);

	for (const char *p = report; (p = strstr(p, address)); p += n) {
		/* Reports are JSON ("10.99.0.9"), vif ip keys space-separated. */
		bool start = p == report || p[-1] == '"' || p[-1] == ' ';
		bool end = p[n] == '\0' || p[n] == '"' || p[n] == ' ' || p[n] == '\n';

		if (start && end)
			return true;
	}
	return false;
}

static void check_observer(struct xs_handle *xs, struct observer *o, uint64_t now)
{
	unsigned int len;
	char *report;

	if (o->done_usec)
		return;
	report = xs_read(xs, XBT_NULL, o->path, &len);
	if (report && report_has(report) == want_present)
		o->done_usec = now;
	free(report);
}

/* Is the address in any vif backend's ip key yet? */
static bool address_visible(struct xs_handle *xs)
{
	unsigned int n_doms = 0;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain/0/backend/vif", &n_doms);
	bool found = false;

	for (unsigned int i = 0; doms && i < n_doms && !found; i++) {
		char path[128], **devs;
		unsigned int n_devs = 0;

		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%s", doms[i]);
		devs = xs_directory(xs, XBT_NULL, path, &n_devs);
		for (unsigned int j = 0; devs && j < n_devs && !found; j++) {
			char key[192], *ip;
			unsigned int len;

			snprintf(key, sizeof(key), "%s/%s/ip", path, devs[j]);
			ip = xs_read(xs, XBT_NULL, key, &len);
			found = ip && report_has(ip);
			free(ip);
		}
		free(devs);
	}
	free(doms);
	return found;
}

static int parse_observers(char *list)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		if (n_observers == MAX_OBSERVERS)
			return -E2BIG;
		observers[n_observers].domid = strtoul(tok, NULL, 10);
		snprintf(observers[n_observers].path, sizeof(observers[0].path),
			 "/local/domain/%u/data/ck-report", observers[n_observers].domid);
		n_observers++;
	}
	return n_observers ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "observers", required_argument, NULL, 'o' },
		{ "present", required_argument, NULL, 'p' },
		{ "absent", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{},
	};
	uint64_t origin = 0, start, deadline, timeout_ms = 60000;
	int c, status = 0, command_rc = -1;
	struct xs_handle *xs;
	bool child_done = false;
	pid_t child;

	while ((c = getopt_long(argc, argv, "+o:p:a:t:", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (parse_observers(optarg) < 0)
				return 2;
			break;
		case 'p':
		case 'a':
			address = optarg;
			want_present = c == 'p';
			break;
		case 't':
			timeout_ms = strtoull(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!address || !n_observers || optind >= argc) {
		fprintf(stderr, "usage: ck-latency --observers D,D… --present|--absent IP -- CMD…\n");
		return 2;
	}
	/*
	 * Real-time priority, so that on a busy dom0 this observer sees the origin (a watch
	 * fire) before cokeeperd or the toolstack get the CPU back; otherwise the origin is
	 * late by a scheduling slice and a fast change can measure as zero.  Set before
	 * xs_open(): libxenstore reads watch events in a thread of its own, which inherits it.
	 */
	{
		struct sched_param sp = { .sched_priority = 50 };

		/* RESET_ON_FORK: the command it times runs at normal priority. */
		if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0)
			fprintf(stderr, "ck-latency: no real-time priority (%s); timing is coarser\n",
				strerror(errno));
	}
	xs = xs_open(0);
	if (!xs) {
		perror("ck-latency: xs_open");
		return 1;
	}
	for (unsigned int i = 0; i < n_observers; i++)
		if (!xs_watch(xs, observers[i].path, "report"))
			return perror("ck-latency: xs_watch"), 1;
	if (!xs_watch(xs, "/local/domain/0/backend/vif", "origin") ||
	    (!want_present && !xs_watch(xs, "@releaseDomain", "origin")))
		return perror("ck-latency: xs_watch"), 1;
	/* Registering a watch fires it once: drain those before the clock starts. */
	usleep(100000);
	for (char **ev; (ev = xs_check_watch(xs));)
		free(ev);

	start = ck_now_usec();
	deadline = start + timeout_ms * 1000;
	child = fork();
	if (child == 0) {
		execvp(argv[optind], argv + optind);
		_exit(127);
	}

	for (;;) {
		struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
		uint64_t now = ck_now_usec();
		bool all = origin != 0;
		char **ev;

		if (!child_done && waitpid(child, &status, WNOHANG) == child) {
			child_done = true;
			command_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		for (unsigned int i = 0; i < n_observers; i++)
			all = all && observers[i].done_usec;
		if (all && child_done)
			break;
		if (now > deadline) {
			fprintf(stderr, "ck-latency: timeout (origin %s, %s)\n",
				origin ? "seen" : "never seen", child_done ? "command done" :
									      "command running");
			for (unsigned int i = 0; i < n_observers; i++)
				if (!observers[i].done_usec)
					fprintf(stderr, "ck-latency: domid %u never reflected %s\n",
						observers[i].domid, address);
			return 1;
		}
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		now = ck_now_usec();
		while ((ev = xs_check_watch(xs))) {
			bool is_origin = !strcmp(ev[XS_WATCH_TOKEN], "origin");

			free(ev);
			if (is_origin && !origin && address_visible(xs) == want_present)
				origin = now;
		}
		/* Observers that reflected the change before the origin was seen count at it. */
		for (unsigned int i = 0; origin && i < n_observers; i++)
			check_observer(xs, &observers[i], now);
	}

	{
		uint64_t last = 0;

		for (unsigned int i = 0; i < n_observers; i++)
			if (observers[i].done_usec > last)
				last = observers[i].done_usec;
		printf("latency_us=%llu origin_us=%llu observers=%u command_rc=%d\n",
		       (unsigned long long)(last - origin), (unsigned long long)(origin - start),
		       n_observers, command_rc);
	}
	xs_close(xs);
	return command_rc == 0 ? 0 : 1;
}
