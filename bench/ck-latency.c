// SPDX-License-Identifier: GPL-2.0-only
/*
 * ck-latency (runs in dom0): how long a toolstack change takes to reach every guest's kernel
 * table, measured from outside CoKeeper so that event-driven and polling modes are timed by
 * the same clock and the same rules.
 *
 *   ck-latency --observers 3,4,5 --present 10.99.0.9 [--control SOCKET] -- xl create probe.cfg
 *   ck-latency --observers 3,4,5 --absent 10.99.0.9 -- xl destroy probe
 *
 * Each observer guest publishes its kernel table's view in its own xenstore key
 * data/ck-report (tests/guest/ck-reporter rewrites it on every kernel notification, as the
 * canonical members JSON, which holds the table's addresses).  The origin is the moment the change became visible
 * to any dom0 reader:
 *   --present: the first write of a vif backend "ip" key holding the address;
 *   --absent:  the first @releaseDomain, or the address leaving a vif backend key that held
 *              it when the command started (libxl removes the devices before it kills the
 *              domain).
 * Each watch fire is judged by reading only the key it names, on a second xenstore handle,
 * and timed when it is taken, so that the clock is not late by this tool's own work.
 * The end is the last observer's report reflecting it.  With --control (cokeeperd's control
 * socket) it also follows cokeeperd's watch stream, as `cokeeperctl wait` does and with the
 * same code (tools/watch-follow.c): the first generation after the command started whose
 * membership holds (lacks) the address, then each observer's Ack of it, which its agent
 * sends once the kernel table holds it.
 * Prints one line:
 *   latency_us=N [ack_latency_us=N [notice_latency_us=N]] origin_us=… observers=3
 *   command_rc=0 origin_mono_us=… dom3=…[/ack=…] dom4=… dom5=…
 * (notice_latency_us is cokeeperd's own, from its source's notice to the last Ack;
 * origin_us counts from the command's start; origin_mono_us is CLOCK_MONOTONIC, the clock
 * cokeeperd's debug log uses; domN= is each observer's own latency, "(early)" when it
 * reflected the change before the origin was seen: 0, and a sign the origin came late.)
 * Exit status 0 on success, 1 on timeout or error.
 */
#include <errno.h>
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
#include "number.h"
#include "options.h"
#include "watch-follow.h"

#define MAX_OBSERVERS 32
#define MAX_KEYS 16

struct observer {
	unsigned int domid;
	char path[64];
	uint64_t done_usec;	/* its report reflected the change */
	uint64_t acked_usec;	/* cokeeperd had its Ack of a generation with the change */
	int64_t notice_latency_us;	/* cokeeperd's own: its notice to that Ack; -1 unknown */
	bool early;		/* reflected the change before the origin was seen */
};

static struct observer observers[MAX_OBSERVERS];
static unsigned int n_observers;
static const char *address;
static bool want_present;
/* --absent: the vif ip keys that hold the address when the command starts. */
static char *held_by[MAX_KEYS];
static unsigned int n_held;
/* --control: cokeeperd's watch stream (tools/watch-follow.c, as cokeeperctl wait has it). */
static struct follow *follow;

/* Does the value list the address as a whole word? */
static bool value_has(const char *value)
{
	size_t n = strlen(address);

	for (const char *p = value; (p = strstr(p, address)); p += n) {
		/* Reports are JSON ("10.99.0.9"), vif ip keys space-separated. */
		bool start = p == value || p[-1] == '"' || p[-1] == ' ';
		bool end = p[n] == '\0' || p[n] == '"' || p[n] == ' ' || p[n] == '\n';

		if (start && end)
			return true;
	}
	return false;
}

static bool key_has(struct xs_handle *xs, const char *path)
{
	unsigned int len;
	char *value = xs_read(xs, XBT_NULL, path, &len);
	bool has = value && value_has(value);

	free(value);
	return has;
}

/* Every vif backend ip key that holds the address (a walk: only before the clock starts). */
static void find_holders(struct xs_handle *xs)
{
	unsigned int n_doms = 0;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain/0/backend/vif", &n_doms);

	for (unsigned int i = 0; doms && i < n_doms; i++) {
		char path[128], **devs;
		unsigned int n_devs = 0;

		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%s", doms[i]);
		devs = xs_directory(xs, XBT_NULL, path, &n_devs);
		for (unsigned int j = 0; devs && j < n_devs && n_held < MAX_KEYS; j++) {
			char key[192];

			snprintf(key, sizeof(key), "%s/%s/ip", path, devs[j]);
			if (key_has(xs, key))
				held_by[n_held++] = strdup(key);
		}
		free(devs);
	}
	free(doms);
}

/*
 * Is this origin watch fire the change?  Only the key the fire names is read, so that
 * seeing the origin costs one round trip, not a walk of every vif while xl keeps writing.
 * --present: a vif device whose ip key holds the address.  --absent: @releaseDomain, or a key
 * that held the address (or a directory above it) rewritten or removed without it.
 */
static bool is_origin(struct xs_handle *xs, const char *path)
{
	static const char vif[] = "/local/domain/0/backend/vif/";

	/*
	 * libxl writes a vif in one transaction, and xenstored fires the nodes it created one
	 * by one: the device directory's fire comes first, tens of ms before the ip key's
	 * under load, and the key is readable from the first (the order varies).  So any
	 * fire in a domain's vif tree reads the ip keys of the devices it may concern.
	 */
	if (want_present && !strncmp(path, vif, sizeof(vif) - 1)) {
		const char *domid = path + sizeof(vif) - 1, *dev = strchr(domid, '/'), *end;
		char key[192];

		if (!dev) {		/* a domain's vifs: every device's ip key */
			unsigned int n = 0;
			char **devs = xs_directory(xs, XBT_NULL, path, &n);
			bool has = false;

			for (unsigned int i = 0; devs && i < n && !has; i++) {
				snprintf(key, sizeof(key), "%s/%s/ip", path, devs[i]);
				has = key_has(xs, key);
			}
			free(devs);
			return has;
		}
		end = strchr(dev + 1, '/');
		snprintf(key, sizeof(key), "%.*s/ip", (int)(end ? end - path : (long)strlen(path)),
			 path);
		return key_has(xs, key);
	}
	if (want_present)
		return false;
	if (!strcmp(path, "@releaseDomain"))
		return true;
	for (unsigned int i = 0; i < n_held; i++)
		if (!strncmp(held_by[i], path, strlen(path)) && !key_has(xs, held_by[i]))
			return true;
	return false;
}

static struct observer *observer_of(const char *path)
{
	for (unsigned int i = 0; i < n_observers; i++)
		if (!strcmp(observers[i].path, path))
			return &observers[i];
	return NULL;
}

static bool reflects(struct xs_handle *xs, const struct observer *o)
{
	return key_has(xs, o->path) == want_present;
}

/* Each observer's first Ack of a generation with the change, as the follower timed it. */
static void take_acks(void)
{
	size_t n;
	const struct follow_guest *g = follow_guests(follow, &n);

	for (unsigned int i = 0; i < n_observers; i++)
		for (size_t k = 0; !observers[i].acked_usec && k < n; k++)
			if (g[k].domid == (int)observers[i].domid && !g[k].closed && g[k].acked_usec) {
				observers[i].acked_usec = g[k].acked_usec;
				observers[i].notice_latency_us = g[k].latency_us;
			}
}

/* Connects to cokeeperd and waits for its state before the change: 0 or -errno. */
static int follow_start(const char *path)
{
	struct follow_key key;
	uint64_t deadline = ck_now_usec() + 10000000;
	int r;

	r = follow_key_parse(&key, address);
	if (r < 0)
		return r;
	r = follow_new(&follow, path, &key, !want_present);
	if (r < 0)
		return r;
	while (!follow_ready(follow)) {
		struct pollfd pfd = { .fd = follow_fd(follow), .events = POLLIN };

		if (ck_now_usec() > deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, 100) > 0 && (r = follow_read(follow, ck_now_usec())) < 0)
			return r;
	}
	follow_set_after(follow, follow_gen(follow));
	return 0;
}

static int parse_observers(char *list)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		uint64_t domid;

		if (n_observers == MAX_OBSERVERS)
			return -E2BIG;
		if (ck_parse_uint(tok, 1, 0x7FEF, &domid) < 0)
			return -EINVAL;
		observers[n_observers].domid = domid;
		observers[n_observers].notice_latency_us = -1;
		snprintf(observers[n_observers].path, sizeof(observers[0].path),
			 "/local/domain/%u/data/ck-report", observers[n_observers].domid);
		n_observers++;
	}
	return n_observers ? 0 : -EINVAL;
}

static const struct ck_option options[] = {
	{ "observers", 'o', "D,D...", "the guests whose reporters time the change" },
	{ "present", 'p', "IP", "time IP's appearance" },
	{ "absent", 'a', "IP", "time IP's disappearance" },
	{ "timeout", 't', "MS", "give up after MS (default 60000)" },
	{ "control", 'c', "SOCKET", "also follow cokeeperd's watch stream there" },
	{},
};

static void usage(void)
{
	fprintf(stderr, "usage: ck-latency --observers D,D... --present|--absent IP "
		"[--control SOCKET] [--timeout MS] -- CMD...\n");
	ck_options_help(stderr, options, 26);
}

/* 0, or 2 (a usage error, reported). */
static int parse_args(int argc, char **argv, uint64_t *timeout_ms, const char **control)
{
	const struct ck_option *const tables[] = { options };
	struct ck_getopt g __attribute__((cleanup(ck_getopt_done))) = {};
	int c;

	if (ck_getopt_init(&g, tables, 1, "+") < 0)
		return perror("ck-latency"), 2;
	while ((c = ck_getopt_next(&g, argc, argv)) != -1) {
		switch (c) {
		case 'o':
			if (parse_observers(optarg) < 0)
				return usage(), 2;
			break;
		case 'p':
		case 'a':
			address = optarg;
			want_present = c == 'p';
			break;
		case 't':
			if (ck_parse_uint(optarg, 1, 24 * 3600 * 1000, timeout_ms) < 0)
				return usage(), 2;
			break;
		case 'c':
			*control = optarg;
			break;
		default:
			return usage(), 2;
		}
	}
	if (!address || !n_observers || optind >= argc)
		return usage(), 2;
	return 0;
}

/* One timed run: the command, and when the change was first seen. */
struct run {
	struct xs_handle *xs;	/* watches */
	struct xs_handle *xr;	/* reads: on a handle without watches, no reader-thread hops */
	pid_t child;
	bool child_done;
	int command_rc;		/* -1 until the command is reaped */
	uint64_t start;		/* the command's start */
	uint64_t deadline;
	uint64_t origin;	/* the change became visible; 0 until seen */
};

/*
 * Real-time priority, so that on a busy dom0 this observer sees the origin (a watch fire)
 * before cokeeperd or the toolstack get the CPU back; otherwise the origin is late by a
 * scheduling slice and a fast change can measure as zero.  Set before xs_open():
 * libxenstore reads watch events in a thread of its own, which inherits it.
 */
static void raise_priority(void)
{
	struct sched_param sp = { .sched_priority = 50 };

	/* RESET_ON_FORK: the command it times runs at normal priority. */
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0)
		fprintf(stderr, "ck-latency: no real-time priority (%s); timing is coarser\n",
			strerror(errno));
}

/* perror(what), then -errno for the caller to pass up. */
static int xs_fail(const char *what)
{
	int r = errno ? -errno : -EIO;

	perror(what);
	return r;
}

/* Opens both handles and watches the origin's keys and each observer's: 0 or -errno. */
static int xs_setup(struct run *run)
{
	run->xs = xs_open(0);
	run->xr = run->xs ? xs_open(0) : NULL;
	if (!run->xr)
		return xs_fail("ck-latency: xs_open");
	if (!want_present) {
		find_holders(run->xr);
		if (!n_held)
			fprintf(stderr, "ck-latency: no vif holds %s; the origin is @releaseDomain\n",
				address);
	}
	for (unsigned int i = 0; i < n_observers; i++)
		if (!xs_watch(run->xs, observers[i].path, "report"))
			return xs_fail("ck-latency: xs_watch");
	if (!xs_watch(run->xs, "/local/domain/0/backend/vif", "origin") ||
	    (!want_present && !xs_watch(run->xs, "@releaseDomain", "origin")))
		return xs_fail("ck-latency: xs_watch");
	return 0;
}

/* Starts the clock and the command. */
static void run_command(struct run *run, char **command, uint64_t timeout_ms)
{
	/* Registering a watch fires it once: drain those before the clock starts. */
	usleep(100000);
	for (char **ev; (ev = xs_check_watch(run->xs));)
		free(ev);

	run->start = ck_now_usec();
	run->deadline = run->start + timeout_ms * 1000;
	run->child = fork();
	if (run->child == 0) {
		execvp(command[0], command);
		_exit(127);
	}
}

/* Every observer reflects the change (and, with --control, acked it), since the origin. */
static bool all_observed(const struct run *run)
{
	if (!run->origin)
		return false;
	for (unsigned int i = 0; i < n_observers; i++)
		if (!observers[i].done_usec || (follow && !observers[i].acked_usec))
			return false;
	return true;
}

static void report_timeout(const struct run *run)
{
	fprintf(stderr, "ck-latency: timeout (origin %s, %s)\n",
		run->origin ? "seen" : "never seen",
		run->child_done ? "command done" : "command running");
	for (unsigned int i = 0; i < n_observers; i++) {
		if (!observers[i].done_usec)
			fprintf(stderr, "ck-latency: domid %u never reflected %s\n",
				observers[i].domid, address);
		if (follow && !observers[i].acked_usec)
			fprintf(stderr, "ck-latency: domid %u never acked it%s\n",
				observers[i].domid,
				follow_target(follow, &(uint64_t){ 0 }, NULL) ? "" :
				" (no delta carried it)");
	}
}

/* The first origin fire: observers already reflecting the change are timed at it. */
static void take_origin(struct run *run, uint64_t now)
{
	run->origin = now;
	/* Observers can only be ahead of the origin if it was seen late. */
	for (unsigned int i = 0; i < n_observers; i++)
		if (!observers[i].done_usec && reflects(run->xr, &observers[i])) {
			observers[i].done_usec = now;
			observers[i].early = true;
		}
}

/* Each fire is timed when it is taken, not when the batch began. */
static void take_fires(struct run *run)
{
	char **ev;

	while ((ev = xs_check_watch(run->xs))) {
		uint64_t now = ck_now_usec();
		const char *path = ev[XS_WATCH_PATH];
		struct observer *o;

		if (!strcmp(ev[XS_WATCH_TOKEN], "origin")) {
			if (!run->origin && is_origin(run->xr, path))
				take_origin(run, now);
		} else if (run->origin && (o = observer_of(path)) && !o->done_usec &&
			   reflects(run->xr, o)) {
			o->done_usec = now;
		}
		free(ev);
	}
}

/*
 * Until the command has ended and every observer reflected the change (and, with
 * --control, acked it): 0, or -ETIMEDOUT or the watch stream's error (reported).
 */
static int wait_all(struct run *run)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = xs_fileno(run->xs), .events = POLLIN },
					 { .fd = follow ? follow_fd(follow) : -1, .events = POLLIN } };
		int status = 0;

		if (!run->child_done && waitpid(run->child, &status, WNOHANG) == run->child) {
			run->child_done = true;
			run->command_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		if (all_observed(run) && run->child_done)
			return 0;
		if (ck_now_usec() > run->deadline) {
			report_timeout(run);
			return -ETIMEDOUT;
		}
		if (poll(pfd, follow ? 2 : 1, 20) <= 0)
			continue;
		if (pfd[1].revents & (POLLIN | POLLHUP)) {
			int r = follow_read(follow, ck_now_usec());

			if (r < 0) {
				fprintf(stderr, "ck-latency: cokeeperd's watch stream: %s\n",
					r == -ECONNRESET ? "closed" : strerror(-r));
				return r;
			}
			take_acks();
		}
		take_fires(run);
	}
}

/* The one line the lab's bench-lib.sh parses (see the top of this file). */
static void print_result(const struct run *run)
{
	uint64_t last = 0, last_ack = 0, origin = run->origin;
	int64_t notice = 0;

	for (unsigned int i = 0; i < n_observers; i++) {
		if (observers[i].done_usec > last)
			last = observers[i].done_usec;
		if (observers[i].acked_usec > last_ack)
			last_ack = observers[i].acked_usec;
		if (notice >= 0)
			notice = observers[i].notice_latency_us < 0 ? -1 :
				 observers[i].notice_latency_us > notice ?
				 observers[i].notice_latency_us : notice;
	}
	printf("latency_us=%llu", (unsigned long long)(last - origin));
	/* An ack before the origin was seen: the origin came late; count it as 0. */
	if (follow)
		printf(" ack_latency_us=%llu",
		       (unsigned long long)(last_ack > origin ? last_ack - origin : 0));
	/* cokeeperd's notice to the last Ack: what `cokeeperctl wait` and `latency` report. */
	if (follow && notice >= 0)
		printf(" notice_latency_us=%lld", (long long)notice);
	printf(" origin_us=%llu observers=%u command_rc=%d origin_mono_us=%llu",
	       (unsigned long long)(origin - run->start), n_observers, run->command_rc,
	       (unsigned long long)origin);
	/* Each observer's own latency, to see how they spread and which was last. */
	for (unsigned int i = 0; i < n_observers; i++) {
		printf(" dom%u=%llu%s", observers[i].domid,
		       (unsigned long long)(observers[i].done_usec - origin),
		       observers[i].early ? "(early)" : "");
		if (follow)
			printf("/ack=%lld", (long long)observers[i].acked_usec - (long long)origin);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	struct run run = { .command_rc = -1 };
	uint64_t timeout_ms = 60000;
	const char *control = NULL;

	if (parse_args(argc, argv, &timeout_ms, &control) != 0)
		return 2;
	raise_priority();
	if (xs_setup(&run) < 0)
		return 1;
	if (control) {
		int r = follow_start(control);

		if (r < 0) {
			fprintf(stderr, "ck-latency: %s: %s\n", control, strerror(-r));
			return 1;
		}
	}
	run_command(&run, argv + optind, timeout_ms);
	if (wait_all(&run) < 0)
		return 1;
	print_result(&run);
	follow_free(follow);
	xs_close(run.xr);
	xs_close(run.xs);
	return run.command_rc == 0 ? 0 : 1;
}
