// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's kernel path against the real module (run inside tests/kmod's QEMU guest): the
 * session applies snapshots and deltas through the genl sink, and libcokeeper-client reads
 * the table back.  After every step the kernel's table must equal what the daemon-side
 * membership holds.  Prints PASS/FAIL lines; writes the final table in canonical JSON to the
 * path given, for cokeeper-query to be compared against.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "cokeeper-client.h"
#include "member-json.h"
#include "peer.h"
#include "session.h"

static int failures;
static struct session *session;
static struct ck_client *client;

#define CHECK(name, cond, ...)                                                  \
	do {                                                                    \
		if (cond) {                                                     \
			printf("PASS %s\n", name);                              \
		} else {                                                        \
			printf("FAIL %s: ", name);                              \
			printf(__VA_ARGS__);                                    \
			printf("\n");                                           \
			failures++;                                             \
		}                                                               \
	} while (0)

static int sent_to_daemon(const uint8_t *frame, size_t len, void *userdata)
{
	return 0;	/* Hellos and Acks: nobody listens here */
}

static int feed(struct ck_msg *msg, void *userdata)
{
	uint8_t *buf;
	size_t len;
	int r = ck_frame_encode(msg, &buf, &len);

	if (r < 0)
		return r;
	r = session_receive(session, buf, len, NULL);
	free(buf);
	return r;
}

static int collect(const struct ck_client_peer *p, void *userdata)
{
	struct ck_member m;

	ck_peer_to_member(p, &m);
	return ck_memberset_put(userdata, &m);
}

/* Does the kernel hold exactly what the daemon does? */
static bool kernel_equals(const struct ck_membership *daemon, char *why, size_t n)
{
	struct ck_memberset *set;
	uint64_t epoch, gen;
	bool same;
	int r;

	if (ck_memberset_new(&set) < 0)
		return false;
	r = ck_client_foreach(client, collect, set);
	if (r < 0) {
		snprintf(why, n, "dump failed: %s", strerror(-r));
		ck_memberset_free(set);
		return false;
	}
	same = ck_memberset_equal(set, daemon->members);
	r = ck_client_status(client, &epoch, &gen, NULL, NULL);
	if (!same)
		snprintf(why, n, "kernel has %zu members, daemon %zu", ck_memberset_count(set),
			 ck_memberset_count(daemon->members));
	else if (r < 0 || epoch != daemon->epoch || gen != daemon->gen)
		snprintf(why, n, "kernel at epoch %llx gen %llu, daemon at %llx gen %llu",
			 (unsigned long long)epoch, (unsigned long long)gen,
			 (unsigned long long)daemon->epoch, (unsigned long long)daemon->gen);
	ck_memberset_free(set);
	return same && r == 0 && epoch == daemon->epoch && gen == daemon->gen;
}

static uint32_t rng = 2026;

static uint32_t rnd(uint32_t bound)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng % bound;
}

static void make_member(struct ck_member *m, uint16_t domid, bool migrating)
{
	memset(m, 0, sizeof(*m));
	m->domid = domid;
	m->state = migrating ? CK_MEMBER_MIGRATING_OUT : CK_MEMBER_RUNNING;
	snprintf(m->name, sizeof(m->name), "guest-%u", domid);
	m->uuid[0] = domid;
	m->uuid[1] = domid >> 8;
	m->n_nics = 1 + (domid % 2);
	for (unsigned int i = 0; i < m->n_nics; i++) {
		m->nics[i].mac[1] = 0x16;
		m->nics[i].mac[3] = i;
		m->nics[i].mac[4] = domid >> 8;
		m->nics[i].mac[5] = domid;
		m->nics[i].n_ipv4 = 1;
		m->nics[i].ipv4[0] = 0x0a580000u | (i << 12) | domid;
		/* Every source, and members with the toolstack's alone (no SOURCES at all). */
		m->nics[i].ipv4_source[0] = (domid + i) % (CK_ADDR_SOURCE_MAX + 1);
		m->nics[i].n_ipv6 = i;
		if (i) {
			m->nics[i].ipv6[0][0] = 0xfd;
			m->nics[i].ipv6[0][14] = domid >> 8;
			m->nics[i].ipv6[0][15] = domid;
			m->nics[i].ipv6_source[0] = CK_ADDR_SOURCE_MAX - domid % (CK_ADDR_SOURCE_MAX + 1);
		}
	}
}

/* The daemon's membership becomes domids first..last, and the agent gets its snapshot. */
static int send_snapshot_of(struct ck_membership *daemon, uint16_t first, uint16_t last)
{
	struct ck_memberset *set;

	ck_memberset_new(&set);
	for (uint16_t d = first; d <= last; d++) {
		struct ck_member m;

		make_member(&m, d, false);
		ck_memberset_put(set, &m);
	}
	ck_membership_commit(daemon, set, NULL);
	ck_memberset_free(set);
	return ck_chunk_snapshot(daemon, feed, NULL);
}

/* One random change of the daemon's membership, pushed to the session as a delta. */
static int step(struct ck_membership *daemon)
{
	struct ck_memberset *next;
	struct ck_member m;
	struct ck_delta d;
	uint16_t domid = 1 + rnd(40);
	int r;

	r = ck_memberset_copy(daemon->members, &next);
	if (r < 0)
		return r;
	if (ck_memberset_find(next, domid) && rnd(3) == 0) {
		ck_memberset_remove(next, domid);
	} else {
		make_member(&m, domid, rnd(4) == 0);
		ck_memberset_put(next, &m);
	}
	r = ck_membership_commit(daemon, next, &d);
	ck_memberset_free(next);
	if (r == 0)
		r = ck_chunk_delta(&d, feed, NULL);
	ck_delta_reset(&d);
	return r;
}

/*
 * A program built against 0.1.0's header binds to ck_client_lookup_ipv4@COKEEPER_CLIENT_0:
 * its peer ends where the sources begin, and nothing past that may be written.
 */
__typeof__(ck_client_lookup_ipv4) ck_client_lookup_ipv4_v0;

static void check_lookup_0(const struct in_addr *a4, const struct ck_client_peer *want)
{
	static union {
		struct ck_client_peer peer;
		unsigned char bytes[sizeof(struct ck_client_peer)];
	} buf;
	size_t old = offsetof(struct ck_client_peer, ipv4_source), spoiled = 0;
	int r;

	memset(&buf, 0xa5, sizeof(buf));
	r = ck_client_lookup_ipv4_v0(client, a4, &buf.peer);
	for (size_t i = old; i < sizeof(buf); i++)
		spoiled += buf.bytes[i] != 0xa5;
	CHECK("lookup-ipv4-0.1.0-abi", r == 0 && !memcmp(&buf.peer, want, old) && !spoiled,
	      "r=%d, %s, %zu bytes written past the old struct", r,
	      memcmp(&buf.peer, want, old) ? "differs" : "same", spoiled);
}

struct seen_events {
	int count;
	uint64_t last_gen;
};

static void on_event(enum ck_client_event event, const struct ck_client_peer *peer,
		     uint64_t gen, void *userdata)
{
	struct seen_events *seen = userdata;

	seen->count++;
	if (gen > seen->last_gen)
		seen->last_gen = gen;
}

int main(int argc, char **argv)
{
	struct ck_membership *daemon, *restarted;
	struct ck_client_peer peer;
	struct sink *sink;
	char why[160] = "";
	int r, bad_step = -1;

	if (argc != 2) {
		fprintf(stderr, "usage: sink-test EXPECTED_JSON_OUT\n");
		return 2;
	}
	r = sink_genl_new(&sink);
	CHECK("sink-genl-open", r == 0, "%s", strerror(-r));
	r = ck_client_open(&client);
	CHECK("client-open", r == 0, "%s", strerror(-r));
	if (failures)
		return 1;
	ck_membership_new(&daemon, 0x1111, 4096);
	session_new(&session, sink, 5, sent_to_daemon, NULL);
	session_start(session);

	/* A snapshot of 100 members: the kernel table is replaced in one go. */
	r = send_snapshot_of(daemon, 1, 100);
	CHECK("snapshot-applied", r == 0 && kernel_equals(daemon, why, sizeof(why)), "%s %s",
	      strerror(-r), why);

	/* 300 random deltas (sets, migrating-out, deletes), compared after each. */
	for (int i = 0; i < 300 && bad_step < 0; i++) {
		r = step(daemon);
		if (r < 0 || !kernel_equals(daemon, why, sizeof(why)))
			bad_step = i;
	}
	CHECK("300-deltas-kernel-equals-daemon", bad_step < 0, "step %d: %s", bad_step, why);
	CHECK("no-sink-fallbacks", session_stats(session)->sink_fallbacks == 0,
	      "%llu fallbacks", (unsigned long long)session_stats(session)->sink_fallbacks);

	/* Lookups through the client library. */
	{
		const struct ck_member *any = NULL;
		struct in_addr a4, none = { .s_addr = htonl(0x0a590001) };

		for (uint16_t d = 1; d <= 40 && !any; d++)
			any = ck_memberset_find(daemon->members, d);
		a4.s_addr = htonl(any->nics[0].ipv4[0]);
		r = ck_client_lookup_ipv4(client, &a4, &peer);
		CHECK("lookup-ipv4", r == 0 && peer.domid == any->domid, "r=%d domid %u", r,
		      peer.domid);
		r = ck_client_peer_source(&peer, AF_INET, &a4);
		CHECK("lookup-ipv4-source", r == any->nics[0].ipv4_source[0], "source %d, want %u",
		      r, any->nics[0].ipv4_source[0]);
		check_lookup_0(&a4, &peer);
		r = ck_client_lookup_mac(client, any->nics[0].mac, &peer);
		CHECK("lookup-mac", r == 0 && peer.domid == any->domid, "r=%d", r);
		r = ck_client_lookup_domid(client, any->domid, &peer);
		CHECK("lookup-domid", r == 0 && !strcmp(peer.name, any->name), "r=%d", r);
		r = ck_client_lookup_ipv4(client, &none, &peer);
		CHECK("lookup-absent-enoent", r == -ENOENT, "r=%d", r);
	}

	/* Notifications: a change shows up on the notify fd, as events with the new gen. */
	{
		struct pollfd pfd = { .events = POLLIN };
		struct seen_events seen = { 0 };

		pfd.fd = ck_client_notify_fd(client);
		r = step(daemon);
		while (pfd.fd >= 0 && seen.last_gen < daemon->gen && poll(&pfd, 1, 1000) > 0)
			ck_client_notify_dispatch(client, on_event, &seen);
		CHECK("notify-events-on-change", seen.count > 0 && seen.last_gen == daemon->gen,
		      "fd %d, %d events, last gen %llu of %llu", pfd.fd, seen.count,
		      (unsigned long long)seen.last_gen, (unsigned long long)daemon->gen);
	}

	/* cokeeperd restarts: a new epoch's snapshot leaves nothing of the old table. */
	ck_membership_new(&restarted, 0x2222, 4096);
	r = send_snapshot_of(restarted, 200, 202);
	CHECK("new-epoch-replaces-all", r == 0 && kernel_equals(restarted, why, sizeof(why)),
	      "%s", why);

	{
		struct json_object *arr;
		FILE *f = fopen(argv[1], "w");

		if (f && ck_members_to_json(restarted->members, &arr) == 0) {
			fprintf(f, "%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
			json_object_put(arr);
		}
		if (f)
			fclose(f);
	}
	session_free(session);
	sink->ops->free(sink);
	ck_client_close(client);
	ck_membership_free(daemon);
	ck_membership_free(restarted);
	printf("sink-test: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
