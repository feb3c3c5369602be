// SPDX-License-Identifier: GPL-2.0-only
/*
 * vchan fan-in: N vchan streams in one sd-event loop, as cokeeperd serves its guests, all N
 * peers "ack" at once (a 19-byte frame in each ring, each event channel notified), and the
 * loop runs until every stream has read its ack.  Under valgrind --tool=callgrind
 * --collect-atstart=no only those loop runs are counted (bench/vchan-fanin.py divides by
 * the acks).  The channels are bench/fake-vchan.c's, so it runs without Xen and measures the
 * stream layer and sd-event, nothing of the hypervisor.
 *
 *   vchan-fanin [--own-sources] N ROUNDS
 *
 * --own-sources gives each stream an sd-event source of its own (the agent's way, and every
 * stream's before issue 19); the default puts them all in one poll set (the daemon's way).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libxenvchan.h>
#include <valgrind/callgrind.h>

#include "fake-vchan.h"
#include "stream-vchan.h"

/* The size of an Ack on the wire (bench/RESULTS.md, "Membership at scale"). */
#define ACK_BYTES 19

/* An older stream-vchan.c (bench/vchan-fanin.py builds 0879d42's) has no poll set. */
#pragma weak stream_vchan_new_in

struct fanin {
	size_t acks;
	unsigned long long iterations;
};

static void on_io(struct ck_stream *s, void *userdata)
{
	struct fanin *f = userdata;
	unsigned char buf[64];
	ssize_t n;

	while ((n = ck_stream_read(s, buf, sizeof(buf))) > 0)
		f->acks += n == ACK_BYTES;
}

static int add_streams(struct ck_stream **streams, struct libxenvchan **chans, size_t n,
		       sd_event *event, struct poll_set *set, struct fanin *f)
{
	for (size_t i = 0; i < n; i++) {
		int r;

		chans[i] = fake_vchan_new();
		if (!chans[i])
			return -errno;
		if (set)
			r = stream_vchan_new_in(&streams[i], set, chans[i], (uint16_t)(i + 1));
		else
			r = stream_vchan_new(&streams[i], event, chans[i], (uint16_t)(i + 1));
		if (r < 0) {
			libxenvchan_close(chans[i]);
			chans[i] = NULL;
			return r;
		}
		ck_stream_set_handler(streams[i], on_io, f);
	}
	return 0;
}

/* Every peer acks, then the loop runs until each ack was read; only the loop is counted. */
static int round_trip(sd_event *event, struct libxenvchan **chans, size_t n, struct fanin *f,
		      bool measured)
{
	static const unsigned char ack[ACK_BYTES] = { 0 };
	int r;

	for (size_t i = 0; i < n; i++) {
		r = fake_vchan_put(chans[i], ack, sizeof(ack));
		if (r < 0)
			return r;
	}
	f->acks = 0;
	if (measured)
		CALLGRIND_TOGGLE_COLLECT;
	while (f->acks < n) {
		r = sd_event_run(event, UINT64_MAX);
		if (r < 0)
			break;
		f->iterations++;
	}
	if (measured)
		CALLGRIND_TOGGLE_COLLECT;
	return r < 0 ? r : 0;
}

static int run(size_t n, unsigned int rounds, bool own_sources)
{
	struct ck_stream **streams = calloc(n, sizeof(*streams));
	struct libxenvchan **chans = calloc(n, sizeof(*chans));
	struct poll_set *set = NULL;
	struct fanin f = { 0 };
	sd_event *event = NULL;
	int r = -ENOMEM;

	if (!streams || !chans)
		goto out;
	r = sd_event_new(&event);
	if (r == 0 && !own_sources)
		r = poll_set_new(&set, event);
	if (r == 0)
		r = add_streams(streams, chans, n, event, set, &f);
	/* One unmeasured round: sd-event and the streams allocate what they keep. */
	for (unsigned int i = 0; r == 0 && i <= rounds; i++) {
		if (i == 1)
			f.iterations = 0;
		r = round_trip(event, chans, n, &f, i > 0);
	}
	if (r == 0)
		printf("streams %zu rounds %u acks %zu loop iterations per round %.1f\n", n, rounds,
		       n * rounds, rounds ? (double)f.iterations / rounds : 0.0);
out:
	for (size_t i = 0; streams && i < n; i++)
		if (streams[i])
			ck_stream_free(streams[i]);
		else if (chans[i])
			libxenvchan_close(chans[i]);
	poll_set_free(set);
	sd_event_unref(event);
	free(streams);
	free(chans);
	return r;
}

static int raise_fd_limit(size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= n + 64)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "own-sources", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool own_sources = false;
	unsigned long n, rounds;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'o') {
			own_sources = true;
		} else {
			fprintf(stderr, "usage: %s [--own-sources] N ROUNDS\n", argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != 2 || (n = strtoul(argv[optind], NULL, 10)) == 0 || n > 65535 ||
	    (rounds = strtoul(argv[optind + 1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: %s [--own-sources] N ROUNDS (N in 1..65535)\n", argv[0]);
		return 2;
	}
	if (!own_sources && !stream_vchan_new_in) {
		fprintf(stderr, "%s: this stream-vchan.c has no poll set: --own-sources\n", argv[0]);
		return 2;
	}
	r = raise_fd_limit(n);
	if (r == 0)
		r = run(n, (unsigned int)rounds, own_sources);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], strerror(-r));
		return 1;
	}
	return 0;
}
