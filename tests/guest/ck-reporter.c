// SPDX-License-Identifier: GPL-2.0-only
/*
 * ck-reporter (runs in a lab domU): publishes this guest's kernel co-resident table, in the
 * canonical JSON that `cokeeperctl --json members` prints in dom0, to the guest's own
 * xenstore key data/ck-report, so dom0 can compare every guest's view with cokeeperd's and
 * time changes (bench/ck-latency).  Event-driven: it rewrites the key when the kernel
 * announces a change on the "events" group, with no fork or exec in the way.  It also
 * rewrites it after a live migration, which gives the guest a new xenstore home (the watch
 * on data/ck-report fires when the kernel re-registers it).
 * It runs at the lowest priority: it is an instrument, and the kernel wakes it in the middle
 * of the agent's table write, whose Ack it must not delay (the guest has one vCPU).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "cokeeper-client.h"
#include "member-json.h"
#include "peer.h"

#define KEY "data/ck-report"

static int collect(const struct ck_client_peer *p, void *userdata)
{
	struct ck_member m;

	ck_peer_to_member(p, &m);
	return ck_memberset_put(userdata, &m);
}

/* The table as canonical JSON, in a malloc()ed string. */
static char *render(struct ck_client *c)
{
	struct ck_memberset *set;
	struct json_object *arr;
	char *out = NULL;

	if (ck_memberset_new(&set) < 0)
		return NULL;
	if (ck_client_foreach(c, collect, set) == 0 && ck_members_to_json(set, &arr) == 0) {
		out = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	}
	ck_memberset_free(set);
	return out;
}

/* Writes the view (taking over now) and remembers it as the last one written. */
static void publish(struct xs_handle *xs, char *now, char **last)
{
	if (!now)
		return;
	if (!xs_write(xs, XBT_NULL, KEY, now, strlen(now)))
		fprintf(stderr, "ck-reporter: write %s: %s\n", KEY, strerror(errno));
	if (now != *last) {
		free(*last);
		*last = now;
	}
}

static void discard(enum ck_client_event event, const struct ck_client_peer *peer, uint64_t gen,
		    void *userdata)
{
}

int main(void)
{
	struct pollfd pfd[2] = { { .events = POLLIN }, { .events = POLLIN } };
	char *last = NULL;
	struct ck_client *c;
	bool changed = true, check_store = true;
	struct xs_handle *xs, *xw;
	int r;

	if (setpriority(PRIO_PROCESS, 0, 19) < 0)
		fprintf(stderr, "ck-reporter: setpriority: %s\n", strerror(errno));
	r = ck_client_open(&c);
	if (r < 0) {
		fprintf(stderr, "ck-reporter: no co-resident table: %s\n", strerror(-r));
		return 1;
	}
	/* Watches on one handle, reads and writes on another: no reader-thread hops. */
	xs = xs_open(0);
	xw = xs_open(0);
	pfd[0].fd = ck_client_notify_fd(c);
	if (!xs || !xw || pfd[0].fd < 0 || !xs_watch(xs, KEY, "report")) {
		fprintf(stderr, "ck-reporter: cannot set up (xenstore or events)\n");
		return 1;
	}
	pfd[1].fd = xs_fileno(xs);
	/*
	 * On the measured path only what must be there: a kernel notification renders and,
	 * if the view changed, writes.  The store is read back only when the watch fires (our
	 * own write, or a migration that left the new home without the key).
	 */
	for (;;) {
		if (changed) {
			char *now = render(c);

			if (now && (!last || strcmp(now, last)))
				publish(xw, now, &last);
			else
				free(now);
		}
		if (check_store && last) {
			unsigned int len;
			char *stored = xs_read(xw, XBT_NULL, KEY, &len);

			if (!stored || strcmp(stored, last))
				publish(xw, strdup(last), &last);
			free(stored);
		}
		changed = check_store = false;
		if (poll(pfd, 2, -1) < 0) {
			if (errno != EINTR)
				return 1;
			continue;
		}
		if (pfd[0].revents) {
			ck_client_notify_dispatch(c, discard, NULL);
			changed = true;
		}
		if (pfd[1].revents)
			for (char **ev; (ev = xs_check_watch(xs));) {
				free(ev);
				check_store = true;
			}
	}
}
