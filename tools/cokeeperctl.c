// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperctl: cokeeperd's control socket from the command line.  A table for people,
 * --json for scripts (the members array in the canonical form of lib/member-json.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "member-json.h"

static const char *control_path = "/run/cokeeper/control.sock";
static bool json_out;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cokeeperctl [--control=PATH] [--json] COMMAND\n"
		"Commands:\n"
		"  members                  the host's members\n"
		"  guests                   each agent session: acked generation, lag, latency\n"
		"  stats                    counters and convergence percentiles\n"
		"  watch                    follow changes and acknowledgements as they happen\n"
		"  rescan                   force a full rescan\n"
		"  sim create NAME [--ip ADDR]... [--mac MAC]   (simulated source only)\n"
		"  sim destroy NAME|DOMID\n"
		"  sim migrate NAME|DOMID [--pause-ms MS]\n"
		"  sim fire [TOKEN]         a spurious watch fire\n");
}

static int connect_control(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(control_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, control_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Reads one line of at most 64 MiB (a members reply of a large host) into *line. */
static int read_line(FILE *f, char **line)
{
	size_t cap = 0;
	ssize_t n = getline(line, &cap, f);

	if (n <= 0)
		return n == 0 || feof(f) ? -ECONNRESET : -errno;
	if (n > (64 << 20))
		return -EMSGSIZE;
	return 0;
}

static struct json_object *parse_reply(const char *line)
{
	struct json_object *o = json_tokener_parse(line);

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *get_s(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static void print_members(struct json_object *members)
{
	size_t n = json_object_array_length(members);

	printf("%-6s %-20s %-14s %-17s %-31s %s\n", "DOMID", "NAME", "STATE", "MAC", "ADDRESSES",
	       "UUID");
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(members, i);
		struct json_object *nics = get(m, "nics");
		size_t n_nics = nics ? json_object_array_length(nics) : 0;

		for (size_t k = 0; k < (n_nics ? n_nics : 1); k++) {
			struct json_object *nic = n_nics ? json_object_array_get_idx(nics, k) : NULL;
			char addrs[256] = "";

			for (const char *fam = "ipv4"; nic && fam; fam = fam[3] == '4' ? "ipv6" : NULL) {
				struct json_object *a = get(nic, fam);

				for (size_t j = 0; a && j < json_object_array_length(a); j++) {
					if (*addrs)
						strncat(addrs, ",", sizeof(addrs) - strlen(addrs) - 1);
					strncat(addrs,
						json_object_get_string(json_object_array_get_idx(a, j)),
						sizeof(addrs) - strlen(addrs) - 1);
				}
			}
			if (k == 0)
				printf("%-6d %-20.20s %-14s %-17s %-31s %s\n",
				       json_object_get_int(get(m, "domid")), get_s(m, "name"),
				       get_s(m, "state"), nic ? get_s(nic, "mac") : "-",
				       *addrs ? addrs : "-", get_s(m, "uuid"));
			else
				printf("%-6s %-20s %-14s %-17s %-31s\n", "", "", "", get_s(nic, "mac"),
				       *addrs ? addrs : "-");
		}
	}
}

static void print_guests(struct json_object *guests)
{
	printf("%-6s %-12s %-12s %-10s %-6s %-12s %s\n", "DOMID", "CHANNEL", "STATE", "ACKED",
	       "LAG", "LATENCY", "QUEUED");
	for (size_t i = 0; i < json_object_array_length(guests); i++) {
		struct json_object *g = json_object_array_get_idx(guests, i);

		printf("%-6d %-12s %-12s %-10" PRId64 " %-6" PRId64 " %-12.3f %" PRId64 "\n",
		       json_object_get_int(get(g, "domid")), get_s(g, "channel"), get_s(g, "state"),
		       json_object_get_int64(get(g, "acked_gen")),
		       json_object_get_int64(get(g, "lag")),
		       json_object_get_int64(get(g, "last_latency_us")) / 1000.0,
		       json_object_get_int64(get(g, "queued_bytes")));
	}
}

static void print_stats(struct json_object *o)
{
	struct json_object *c = get(o, "counters"), *conv = get(o, "convergence");

	printf("source %s, epoch %s, gen %" PRId64 "\n", get_s(o, "source"), get_s(o, "epoch"),
	       json_object_get_int64(get(o, "gen")));
	json_object_object_foreach(c, key, val)
		printf("  %-18s %" PRId64 "\n", key, json_object_get_int64(val));
	printf("convergence over %" PRId64 " guest acks: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, "
	       "max %.3f ms\n",
	       json_object_get_int64(get(conv, "count")),
	       json_object_get_int64(get(conv, "p50_us")) / 1000.0,
	       json_object_get_int64(get(conv, "p90_us")) / 1000.0,
	       json_object_get_int64(get(conv, "p99_us")) / 1000.0,
	       json_object_get_int64(get(conv, "max_us")) / 1000.0);
}

static void print_event(struct json_object *ev)
{
	const char *type = get_s(ev, "event");

	if (!strcmp(type, "ack")) {
		printf("  ack   domid %-5d gen %-6" PRId64 " %8.3f ms\n",
		       json_object_get_int(get(ev, "domid")), json_object_get_int64(get(ev, "gen")),
		       json_object_get_int64(get(ev, "latency_us")) / 1000.0);
	} else if (!strcmp(type, "delta")) {
		struct json_object *ups = get(ev, "upserts"), *rm = get(ev, "removed");

		printf("delta gen %" PRId64 " -> %" PRId64 ":", json_object_get_int64(get(ev, "base_gen")),
		       json_object_get_int64(get(ev, "gen")));
		for (size_t i = 0; i < json_object_array_length(ups); i++) {
			struct json_object *m = json_object_array_get_idx(ups, i);

			printf(" +%s(%d%s)", get_s(m, "name"), json_object_get_int(get(m, "domid")),
			       strcmp(get_s(m, "state"), "running") ? ",migrating-out" : "");
		}
		for (size_t i = 0; i < json_object_array_length(rm); i++)
			printf(" -domid %d", json_object_get_int(json_object_array_get_idx(rm, i)));
		printf("\n");
	}
	fflush(stdout);
}

/* Sends one request and handles its reply (and, for watch, what follows). */
static int request(struct json_object *req, const char *cmd)
{
	const char *line_out = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	struct json_object *reply;
	char *line = NULL;
	FILE *f;
	int fd, r;

	fd = connect_control();
	if (fd < 0) {
		fprintf(stderr, "cokeeperctl: cannot reach cokeeperd at %s: %s\n", control_path,
			strerror(-fd));
		return 1;
	}
	f = fdopen(fd, "r+");
	if (!f || fprintf(f, "%s\n", line_out) < 0 || fflush(f) != 0) {
		fprintf(stderr, "cokeeperctl: cannot send the request: %s\n", strerror(errno));
		return 1;
	}
	r = read_line(f, &line);
	if (r < 0 || !(reply = parse_reply(line))) {
		fprintf(stderr, "cokeeperctl: no valid reply from cokeeperd\n");
		free(line);
		fclose(f);
		return 1;
	}
	if (!json_object_get_boolean(get(reply, "ok"))) {
		fprintf(stderr, "cokeeperctl: %s: %s\n", cmd, get_s(reply, "error"));
		r = 1;
	} else if (json_out) {
		/* For members, exactly the canonical array, so views can be diffed. */
		struct json_object *members = get(reply, "members");

		puts(json_object_to_json_string_ext(!strcmp(cmd, "members") && members ? members :
						    reply, JSON_C_TO_STRING_PLAIN));
		r = 0;
	} else {
		if (!strcmp(cmd, "members") || !strcmp(cmd, "watch")) {
			printf("epoch %s gen %" PRId64 "\n", get_s(reply, "epoch"),
			       json_object_get_int64(get(reply, "gen")));
			print_members(get(reply, "members"));
		} else if (!strcmp(cmd, "guests")) {
			print_guests(get(reply, "guests"));
		} else if (!strcmp(cmd, "stats")) {
			print_stats(reply);
		} else if (get(reply, "domid")) {
			printf("domid %d\n", json_object_get_int(get(reply, "domid")));
		}
		r = 0;
	}
	json_object_put(reply);
	fflush(stdout);

	while (r == 0 && !strcmp(cmd, "watch") && read_line(f, &line) == 0) {
		struct json_object *ev = parse_reply(line);

		if (!ev)
			break;
		if (json_out)
			puts(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN)), fflush(stdout);
		else
			print_event(ev);
		json_object_put(ev);
	}
	free(line);
	fclose(f);
	return r;
}

static int sim_command(int argc, char **argv, struct json_object *req)
{
	static const struct option options[] = {
		{ "ip", required_argument, NULL, 'i' },
		{ "mac", required_argument, NULL, 'm' },
		{ "pause-ms", required_argument, NULL, 'p' },
		{},
	};
	struct json_object *ips = json_object_new_array();
	const char *verb = argv[0];
	char cmd[32];
	int c;

	/* 0, not 1: GNU getopt re-reads its mode ('+' in main) only on a full reset. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == 'i')
			json_object_array_add(ips, json_object_new_string(optarg));
		else if (c == 'm')
			json_object_object_add(req, "mac", json_object_new_string(optarg));
		else if (c == 'p')
			json_object_object_add(req, "pause_ms", json_object_new_int(atoi(optarg)));
		else
			return -EINVAL;
	}
	snprintf(cmd, sizeof(cmd), "sim-%s", verb);
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (!strcmp(verb, "create")) {
		if (optind >= argc)
			return -EINVAL;
		json_object_object_add(req, "name", json_object_new_string(argv[optind]));
		json_object_object_add(req, "ip", ips);
		return 0;
	}
	json_object_put(ips);
	if (!strcmp(verb, "fire")) {
		if (optind < argc)
			json_object_object_add(req, "token", json_object_new_string(argv[optind]));
		return 0;
	}
	if ((strcmp(verb, "destroy") && strcmp(verb, "migrate")) || optind >= argc)
		return -EINVAL;
	if (strspn(argv[optind], "0123456789") == strlen(argv[optind]))
		json_object_object_add(req, "domid", json_object_new_int(atoi(argv[optind])));
	else
		json_object_object_add(req, "name", json_object_new_string(argv[optind]));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct json_object *req;
	const char *cmd;
	int c, r;

	while ((c = getopt_long(argc, argv, "+c:jh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			control_path = optarg;
			break;
		case 'j':
			json_out = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	req = json_object_new_object();
	if (!strcmp(cmd, "sim")) {
		if (optind + 1 >= argc ||
		    sim_command(argc - optind - 1, argv + optind + 1, req) < 0) {
			usage(stderr);
			json_object_put(req);
			return 2;
		}
	} else if (!strcmp(cmd, "members") || !strcmp(cmd, "guests") || !strcmp(cmd, "stats") ||
		   !strcmp(cmd, "watch") || !strcmp(cmd, "rescan")) {
		if (optind + 1 < argc) {
			fprintf(stderr, "cokeeperctl: %s takes no arguments\n", cmd);
			json_object_put(req);
			return 2;
		}
		json_object_object_add(req, "cmd", json_object_new_string(cmd));
	} else {
		fprintf(stderr, "cokeeperctl: unknown command '%s'\n", cmd);
		usage(stderr);
		json_object_put(req);
		return 2;
	}
	r = request(req, cmd);
	json_object_put(req);
	return r;
}
