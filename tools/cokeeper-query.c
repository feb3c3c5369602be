// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-query: this guest's co-resident table, from the kernel, for people and scripts.
 *   members [--json]       the table (--json: the canonical form cokeeperctl prints too)
 *   lookup ADDR|MAC|DOMID  exit 0 co-resident, 1 not, 2 error
 *   monitor                follow the kernel's change notifications
 *   status                 the table's epoch, generation and size
 * Reads need no privilege.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cokeeper-client.h"
#include "member-json.h"
#include "peer.h"

static bool json_out;

static void usage(FILE *f)
{
	fprintf(f, "Usage: cokeeper-query [--json] members | lookup ADDR|MAC|DOMID | monitor | status\n"
		   "Exit status of lookup: 0 co-resident, 1 not co-resident, 2 error.\n");
}

struct collect {
	struct ck_memberset *set;
	int bad;
};

static int collect_peer(const struct ck_client_peer *p, void *userdata)
{
	struct collect *c = userdata;
	struct ck_member m;
	char mac[18] = "-", addr[64] = "-";

	ck_peer_to_member(p, &m);
	if (ck_memberset_put(c->set, &m) < 0)
		c->bad++;
	if (json_out)
		return 0;
	if (m.n_nics) {
		ck_format_mac(m.nics[0].mac, mac);
		if (m.nics[0].n_ipv4)
			ck_format_ipv4(m.nics[0].ipv4[0], addr);
		else if (m.nics[0].n_ipv6)
			ck_format_ipv6(m.nics[0].ipv6[0], addr);
	}
	printf("%-6u %-20.20s %-14s %-17s %-18s %10" PRIu64 " %12" PRIu64 "\n", m.domid, m.name,
	       ck_member_state_name(m.state), mac, addr, p->tx_packets, p->tx_bytes);
	return 0;
}

static int cmd_members(struct ck_client *c)
{
	struct collect col = { 0 };
	struct json_object *arr;
	int r;

	if (ck_memberset_new(&col.set) < 0)
		return 2;
	if (!json_out)
		printf("%-6s %-20s %-14s %-17s %-18s %10s %12s\n", "DOMID", "NAME", "STATE", "MAC",
		       "ADDRESS", "TX_PKTS", "TX_BYTES");
	r = ck_client_foreach(c, collect_peer, &col);
	if (r < 0) {
		fprintf(stderr, "cokeeper-query: cannot read the table: %s\n", strerror(-r));
		ck_memberset_free(col.set);
		return 2;
	}
	if (json_out) {
		if (ck_members_to_json(col.set, &arr) < 0)
			return 2;
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	}
	ck_memberset_free(col.set);
	return col.bad ? 2 : 0;
}

static int cmd_lookup(struct ck_client *c, const char *key)
{
	struct ck_client_peer peer;
	struct in_addr a4;
	struct in6_addr a6;
	uint8_t mac[6];
	char *end;
	long domid;
	int r;

	if (inet_pton(AF_INET, key, &a4) == 1) {
		r = ck_client_lookup_ipv4(c, &a4, &peer);
	} else if (inet_pton(AF_INET6, key, &a6) == 1) {
		r = ck_client_lookup_ipv6(c, &a6, &peer);
	} else if (ck_parse_mac(key, mac) == 0) {
		r = ck_client_lookup_mac(c, mac, &peer);
	} else {
		errno = 0;
		domid = strtol(key, &end, 10);
		if (errno || *end || end == key || domid < 0 || domid >= CK_DOMID_LIMIT) {
			fprintf(stderr, "cokeeper-query: '%s' is not an address, MAC or domid\n", key);
			return 2;
		}
		r = ck_client_lookup_domid(c, domid, &peer);
	}
	if (r == -ENOENT) {
		if (!json_out)
			printf("%s: not co-resident\n", key);
		else
			puts("{\"co_resident\":false}");
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "cokeeper-query: lookup of %s failed: %s%s%s\n", key, strerror(-r),
			*ck_client_error_message(c) ? ": " : "", ck_client_error_message(c));
		return 2;
	}
	if (json_out)
		printf("{\"co_resident\":true,\"domid\":%u,\"name\":\"%s\",\"state\":\"%s\"}\n",
		       peer.domid, peer.name, ck_member_state_name(peer.state));
	else
		printf("%s: co-resident, domid %u (%s, %s)\n", key, peer.domid, peer.name,
		       ck_member_state_name(peer.state));
	return 0;
}

static int cmd_status(struct ck_client *c)
{
	uint64_t epoch, gen;
	uint32_t count, max;
	int r = ck_client_status(c, &epoch, &gen, &count, &max);

	if (r < 0) {
		fprintf(stderr, "cokeeper-query: status: %s\n", strerror(-r));
		return 2;
	}
	if (json_out)
		printf("{\"epoch\":\"%016" PRIx64 "\",\"gen\":%" PRIu64
		       ",\"count\":%u,\"max_entries\":%u}\n", epoch, gen, count, max);
	else
		printf("epoch %016" PRIx64 " gen %" PRIu64 ", %u of at most %u entries%s\n", epoch,
		       gen, count, max, epoch ? "" : " (never written by an agent)");
	return 0;
}

static void on_event(enum ck_client_event ev, const struct ck_client_peer *p, uint64_t gen,
		     void *userdata)
{
	static const char *const names[] = { [CK_CLIENT_EVENT_SET] = "set",
					     [CK_CLIENT_EVENT_DEL] = "del",
					     [CK_CLIENT_EVENT_REPLACE] = "replace",
					     [CK_CLIENT_EVENT_FLUSH] = "flush" };

	if (json_out)
		printf("{\"event\":\"%s\",\"gen\":%" PRIu64 ",\"domid\":%d,\"state\":\"%s\"}\n",
		       names[ev], gen, p ? p->domid : -1, p ? ck_member_state_name(p->state) : "");
	else if (p)
		printf("%-8s gen %-6" PRIu64 " domid %-5u %s %s\n", names[ev], gen, p->domid,
		       ev == CK_CLIENT_EVENT_SET ? p->name : "",
		       ev == CK_CLIENT_EVENT_SET ? ck_member_state_name(p->state) : "");
	else
		printf("%-8s gen %" PRIu64 "\n", names[ev], gen);
	fflush(stdout);
}

static int cmd_monitor(struct ck_client *c)
{
	struct pollfd pfd = { .events = POLLIN };

	pfd.fd = ck_client_notify_fd(c);
	if (pfd.fd < 0) {
		fprintf(stderr, "cokeeper-query: cannot join the events group: %s\n",
			strerror(-pfd.fd));
		return 2;
	}
	for (;;) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return 2;
		if (ck_client_notify_dispatch(c, on_event, NULL) < 0)
			return 2;
	}
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct ck_client *c;
	const char *cmd;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "jh", options, NULL)) != -1) {
		if (opt == 'j') {
			json_out = true;
		} else if (opt == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	r = ck_client_open(&c);
	if (r < 0) {
		fprintf(stderr, "cokeeper-query: cannot reach the kernel's co-resident table: %s%s\n",
			strerror(-r), r == -ENOENT ? " (is cokeeper.ko loaded?)" : "");
		return 2;
	}
	if (!strcmp(cmd, "members") && optind + 1 == argc)
		r = cmd_members(c);
	else if (!strcmp(cmd, "lookup") && optind + 2 == argc)
		r = cmd_lookup(c, argv[optind + 1]);
	else if (!strcmp(cmd, "status") && optind + 1 == argc)
		r = cmd_status(c);
	else if (!strcmp(cmd, "monitor") && optind + 1 == argc)
		r = cmd_monitor(c);
	else {
		usage(stderr);
		r = 2;
	}
	ck_client_close(c);
	return r;
}
