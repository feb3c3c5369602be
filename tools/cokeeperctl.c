// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperctl: cokeeperd's control socket from the command line.  A table for people,
 * --json for scripts (the members array in the canonical form of lib/member-json.h).
 * One table of subcommands, as wg(8) has; wait and latency live in ctl-wait.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cokeeperctl.h"
#include "control-client.h"
#include "number.h"
#include "options.h"

struct ctl_options ctl = {.control_path = CONTROL_DEFAULT_PATH};
static enum metrics_format metrics_format = METRICS_FORMAT_OPENMETRICS;
static FILE *metrics_out;	/* stdout, or metrics --output's file */

static const char *prog = "cokeeperctl";

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
			struct json_object *nic =
				n_nics ? json_object_array_get_idx(nics, k) : NULL;
			char addrs[256] = "";

			for (const char *fam = "ipv4"; nic && fam;
				fam = fam[3] == '4' ? "ipv6" : NULL) {
				struct json_object *a = get(nic, fam);

				for (size_t j = 0; a && j < json_object_array_length(a); j++) {
					if (*addrs)
						strncat(addrs, ",",
							sizeof(addrs) - strlen(addrs) - 1);
					strncat(addrs,
						json_object_get_string(
							json_object_array_get_idx(a, j)),
						sizeof(addrs) - strlen(addrs) - 1);
				}
			}
			if (k == 0)
				printf("%-6d %-20.20s %-14s %-17s %-31s %s\n",
					json_object_get_int(get(m, "domid")), get_s(m, "name"),
					get_s(m, "state"), nic ? get_s(nic, "mac") : "-",
					*addrs ? addrs : "-", get_s(m, "uuid"));
			else
				printf("%-6s %-20s %-14s %-17s %-31s\n", "", "", "",
					get_s(nic, "mac"), *addrs ? addrs : "-");
		}
	}
}

static void print_addresses(struct json_object *list)
{
	printf("%-6s %-20s %-17s %-39s %-13s %s\n", "DOMID", "NAME", "MAC", "ADDRESS", "SOURCE",
	       "USED");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *a = json_object_array_get_idx(list, i), *exp = get(a, "expires_s");
		char used[64];

		snprintf(used, sizeof(used), "%s", json_object_get_boolean(get(a, "used")) ? "yes" : "no");
		if (*get_s(a, "how"))
			snprintf(used + strlen(used), sizeof(used) - strlen(used), " (%s%s", get_s(a, "how"),
				 exp ? "" : ")");
		if (exp)
			snprintf(used + strlen(used), sizeof(used) - strlen(used), ", %" PRId64 " s left)",
				 json_object_get_int64(exp));
		printf("%-6d %-20.20s %-17s %-39s %-13s %s\n", json_object_get_int(get(a, "domid")),
		       get_s(a, "name"), *get_s(a, "mac") ? get_s(a, "mac") : "-", get_s(a, "address"),
		       get_s(a, "source"), used);
	}
}

static void print_guests(struct json_object *guests)
{
	printf("%-6s %-12s %-12s %-10s %-6s %-10s %-10s %-10s %-8s %s\n", "DOMID", "CHANNEL",
	       "STATE", "ACKED", "LAG", "LAST_MS", "MEAN_MS", "MAX_MS", "ACKS", "QUEUED");
	for (size_t i = 0; i < json_object_array_length(guests); i++) {
		struct json_object *g = json_object_array_get_idx(guests, i);

		printf("%-6d %-12s %-12s %-10" PRId64 " %-6" PRId64 " %-10.3f %-10.3f %-10.3f %-8"
		       PRId64 " %" PRId64 "\n",
		       json_object_get_int(get(g, "domid")), get_s(g, "channel"),
		       get_s(g, "state"), json_object_get_int64(get(g, "acked_gen")),
		       json_object_get_int64(get(g, "lag")),
		       json_object_get_int64(get(g, "last_latency_us")) / 1000.0,
		       json_object_get_int64(get(g, "mean_latency_us")) / 1000.0,
		       json_object_get_int64(get(g, "max_latency_us")) / 1000.0,
		       json_object_get_int64(get(g, "acks")),
		       json_object_get_int64(get(g, "queued_bytes")));
	}
}

static void print_stats(struct json_object *o)
{
	struct json_object *c = get(o, "counters"), *conv = get(o, "convergence");

	printf("source %s, epoch %s, gen %" PRId64 "\n", get_s(o, "source"), get_s(o, "epoch"),
		json_object_get_int64(get(o, "gen")));
	if (c && json_object_is_type(c, json_type_object)) {
		json_object_object_foreach(c, key, val)
			printf("  %-18s %" PRId64 "\n", key, json_object_get_int64(val));
	}
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
		printf("  ack   domid %-5d gen %-6" PRId64 " %8.3f ms %s\n",
			json_object_get_int(get(ev, "domid")),
			json_object_get_int64(get(ev, "gen")),
			json_object_get_int64(get(ev, "latency_us")) / 1000.0,
			get_s(ev, "channel"));
	} else if (!strcmp(type, "delta")) {
		struct json_object *ups = get(ev, "upserts"), *rm = get(ev, "removed");

		printf("delta gen %" PRId64 " -> %" PRId64 ":",
			json_object_get_int64(get(ev, "base_gen")),
			json_object_get_int64(get(ev, "gen")));
		for (size_t i = 0; ups && i < json_object_array_length(ups); i++) {
			struct json_object *m = json_object_array_get_idx(ups, i);

			printf(" +%s(%d%s)", get_s(m, "name"), json_object_get_int(get(m, "domid")),
				strcmp(get_s(m, "state"), "running") ? ",migrating-out" : "");
		}
		for (size_t i = 0; rm && i < json_object_array_length(rm); i++)
			printf(" -domid %d", json_object_get_int(json_object_array_get_idx(rm, i)));
		printf("\n");
	} else if (!strcmp(type, "guest-closed")) {
		printf("  closed domid %-5d %s\n", json_object_get_int(get(ev, "domid")),
			get_s(ev, "channel"));
	}
	fflush(stdout);
}

/*
 * A reply or event line, as an object of a protocol version this tool reads: NULL when it
 * is not (said on stderr).  A newer major version is an error, not a guess: what changed
 * in it may be what this tool would print.
 */
static struct json_object *parse_object(const char *cmd, const char *line)
{
	struct json_object *o = json_tokener_parse(line);
	int64_t version;
	int r;

	if (!o || !json_object_is_type(o, json_type_object)) {
		fprintf(stderr, "%s: %s: cokeeperd's reply is not a JSON object\n", prog, cmd);
		json_object_put(o);
		return NULL;
	}
	r = control_check_protocol(o, &version);
	if (r == -EPROTONOSUPPORT)
		fprintf(stderr, "%s: %s: cokeeperd speaks control protocol %" PRId64 ", this "
			"cokeeperctl knows up to %d: use the cokeeperctl of cokeeperd's package\n",
			prog, cmd, version, CONTROL_PROTOCOL_KNOWN);
	else if (r < 0)
		fprintf(stderr, "%s: %s: cokeeperd's reply has a \"protocol\" that is no "
			"version\n", prog, cmd);
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* 0, or -EIO when the metrics could not be written (a full disk under the textfile). */
static int print_reply(const char *cmd, struct json_object *reply)
{
	if (!strcmp(cmd, "metrics")) {
		return ctl_metrics_print(reply, metrics_format, metrics_out);
	} else if (ctl.json) {
		/* For members, exactly the canonical array, so views can be diffed. */
		struct json_object *members = get(reply, "members");

		puts(json_object_to_json_string_ext(
			!strcmp(cmd, "members") && members ? members : reply,
			JSON_C_TO_STRING_PLAIN));
	} else if (!strcmp(cmd, "members") || !strcmp(cmd, "watch")) {
		printf("epoch %s gen %" PRId64 "\n", get_s(reply, "epoch"),
			json_object_get_int64(get(reply, "gen")));
		print_members(get(reply, "members"));
	} else if (!strcmp(cmd, "guests")) {
		print_guests(get(reply, "guests"));
	} else if (!strcmp(cmd, "addresses")) {
		print_addresses(get(reply, "addresses"));
	} else if (!strcmp(cmd, "addresses-set")) {
		struct json_object *list = get(reply, "orchestrator");

		printf("%s (domid %d): the orchestrator's addresses", get_s(reply, "name"),
		       json_object_get_int(get(reply, "domid")));
		for (size_t i = 0; list && i < json_object_array_length(list); i++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(list, i)));
		printf("%s\n", list && json_object_array_length(list) ? "" : " none");
	} else if (!strcmp(cmd, "stats")) {
		print_stats(reply);
	} else if (get(reply, "text")) {
		fputs(get_s(reply, "text"), stdout);
	} else if (get(reply, "domid")) {
		printf("domid %d\n", json_object_get_int(get(reply, "domid")));
	}
	fflush(stdout);
	return 0;
}

/* Sends one request and handles its reply (and, for watch, what follows): an exit status. */
static int request(struct json_object *req, const char *cmd)
{
	size_t len;
	const char *out = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	struct line_reader reader;
	struct json_object *reply;
	char *line, *buf;
	int fd, r;

	fd = control_connect(ctl.control_path);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot reach cokeeperd at %s: %s\n", prog, ctl.control_path,
			strerror(-fd));
		return CTL_EXIT_FAIL;
	}
	line_reader_init(&reader, CONTROL_REPLY_MAX);
	buf = malloc(len + 1);
	if (!buf) {
		r = -ENOMEM;
		goto err;
	}
	memcpy(buf, out, len);
	buf[len] = '\n';
	r = control_send(fd, buf, len + 1);
	free(buf);
	if (r < 0)
		goto err;
	r = line_reader_getline(&reader, fd, &line, &len);
	if (r < 0)
		goto err;
	reply = parse_object(cmd, line);
	if (!reply) {
		r = CTL_EXIT_FAIL;
		goto out;
	}
	if (!json_object_get_boolean(get(reply, "ok"))) {
		fprintf(stderr, "%s: %s: %s\n", prog, cmd, get_s(reply, "error"));
		json_object_put(reply);
		r = CTL_EXIT_FAIL;
		goto out;
	}
	r = print_reply(cmd, reply);
	json_object_put(reply);
	if (r < 0) {
		fprintf(stderr, "%s: %s: cannot write the output: %s\n", prog, cmd, strerror(-r));
		r = CTL_EXIT_FAIL;
		goto out;
	}
	r = CTL_EXIT_OK;

	while (!strcmp(cmd, "watch")) {
		struct json_object *ev;

		r = line_reader_getline(&reader, fd, &line, &len);
		if (r < 0)
			goto err;
		ev = parse_object(cmd, line);
		if (!ev) {
			r = CTL_EXIT_FAIL;
			goto out;
		}
		if (ctl.json) {
			puts(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
			fflush(stdout);
		} else {
			print_event(ev);
		}
		json_object_put(ev);
	}
out:
	line_reader_release(&reader);
	close(fd);
	return r;

err:
	fprintf(stderr, "%s: %s: %s\n", prog, cmd,
		r == -ECONNRESET	 ? "cokeeperd closed the connection"
			: r == -EMSGSIZE ? "cokeeperd's reply is longer than 64 MiB"
					 : strerror(-r));
	r = CTL_EXIT_FAIL;
	goto out;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return CTL_EXIT_USAGE;
}

/* members, guests, stats, watch, rescan, policy, reload: the request is the subcommand's name. */
static int cmd_plain(int argc, char **argv)
{
	struct json_object *req;
	int r;

	if (argc > 1)
		return usage_error("%s takes no arguments", argv[0]);
	req = json_object_new_object();
	if (!req || json_object_object_add(req, "cmd", json_object_new_string(argv[0])) < 0) {
		json_object_put(req);
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		return CTL_EXIT_FAIL;
	}
	r = request(req, argv[0]);
	json_object_put(req);
	return r;
}

/*
 * metrics [--format openmetrics|prometheus] [--output PATH]: the stats reply, for a
 * monitoring system; a PATH is replaced whole, or removed when cokeeperd cannot be asked.
 */
static int cmd_metrics(int argc, char **argv)
{
	static const struct option options[] = {
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{},
	};
	struct json_object *req;
	struct metrics_file file;
	const char *output = NULL;
	int c, r;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == 'o') {
			output = optarg;
			continue;
		}
		if (c != 'f')
			return usage_error("metrics: bad option");
		if (metrics_format_parse(optarg, &metrics_format) < 0)
			return usage_error("metrics: --format is openmetrics or prometheus, not '%s'",
					   optarg);
	}
	if (optind < argc)
		return usage_error("metrics takes no arguments");
	req = json_object_new_object();
	if (!req || json_object_object_add(req, "cmd", json_object_new_string("stats")) < 0) {
		json_object_put(req);
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		return CTL_EXIT_FAIL;
	}
	metrics_out = stdout;
	if (output) {
		r = metrics_file_open(&file, output);
		if (r < 0) {
			json_object_put(req);
			fprintf(stderr, "%s: metrics: %s: %s\n", prog, output, strerror(-r));
			return CTL_EXIT_FAIL;
		}
		metrics_out = file.f;
	}
	r = request(req, "metrics");
	json_object_put(req);
	if (output) {
		int e = metrics_file_close(&file, r == CTL_EXIT_OK ? 0 : -EIO);

		if (e < 0 && r == CTL_EXIT_OK) {
			fprintf(stderr, "%s: metrics: %s: %s\n", prog, output, strerror(-e));
			r = CTL_EXIT_FAIL;
		}
	}
	return r;
}

/* policy-set FILE|-: the fast path policy, in fastpath.conf(5)'s syntax, sent whole. */
static int cmd_policy_set(int argc, char **argv)
{
	/* The request is one line of at most 4096 bytes, the text escaped in it. */
	enum { REQUEST_MAX = 4096 };
	struct json_object *req;
	char text[REQUEST_MAX];
	size_t n, len;
	FILE *f;
	int r;

	if (argc != 2)
		return usage_error("policy-set takes one FILE (- for standard input)");
	f = strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, argv[1], strerror(errno));
		return CTL_EXIT_FAIL;
	}
	n = fread(text, 1, sizeof(text), f);
	r = ferror(f) ? -EIO : 0;
	if (f != stdin)
		fclose(f);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, argv[1], strerror(-r));
		return CTL_EXIT_FAIL;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("policy-set"));
	json_object_object_add(req, "text", json_object_new_string_len(text, (int)n));
	json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	if (n == sizeof(text) || len + 1 > REQUEST_MAX) {
		fprintf(stderr, "%s: %s: too long to send as one request (at most %d bytes, "
			"escaped): write it to the policy file and use reload\n", prog, argv[1],
			REQUEST_MAX);
		json_object_put(req);
		return CTL_EXIT_FAIL;
	}
	r = request(req, "policy-set");
	json_object_put(req);
	return r;
}

/* Xen's first reserved domid (DOMID_FIRST_RESERVED): every guest's domid is below it. */
#define DOMID_LIMIT 0x7ff0

static void json_free(struct json_object **o)
{
	json_object_put(*o);
}

/* sim VERB ...: the simulated source's verbs (cokeeperd --source sim only). */
static int cmd_sim(int argc, char **argv)
{
	static const struct option options[] = {
		{"ip", required_argument, NULL, 'i'},
		{"mac", required_argument, NULL, 'm'},
		{"pause-ms", required_argument, NULL, 'p'},
		{"bridge", required_argument, NULL, 'b'},
		{"rate", required_argument, NULL, 'r'},
		{"uuid", required_argument, NULL, 'u'},
		{},
	};
	static const char *const verbs[] = {"create", "destroy", "migrate", "fire", "vif", "claim"};
	struct json_object *req __attribute__((cleanup(json_free))) = json_object_new_object();
	struct json_object *ips = json_object_new_array();
	const char *verb = argc > 1 ? argv[1] : "";
	bool known = false;
	char cmd[32];
	uint64_t v;
	int c;

	if (!req || !ips) {
		json_object_put(ips);
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		return CTL_EXIT_FAIL;
	}
	/* Owned by req from here, whether or not create uses it. */
	json_object_object_add(req, "ip", ips);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		known = known || !strcmp(verb, verbs[i]);
	if (!known)
		return usage_error("sim needs create, destroy, migrate, fire, vif or claim");
	argc--;
	argv++;
	ctl_getopt_reset();
	/* Permuting: "create NAME --ip ADDR" as well as "create --ip ADDR NAME". */
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'i':
			json_object_array_add(ips, json_object_new_string(optarg));
			break;
		case 'm':
			json_object_object_add(req, "mac", json_object_new_string(optarg));
			break;
		case 'b':
			json_object_object_add(req, "bridge", json_object_new_string(optarg));
			break;
		case 'r':
			json_object_object_add(req, "rate", json_object_new_string(optarg));
			break;
		case 'u':
			json_object_object_add(req, "uuid", json_object_new_string(optarg));
			break;
		case 'p':
			if (ck_parse_uint(optarg, 0, 3600 * 1000, &v) < 0)
				return usage_error("--pause-ms: '%s' is not a number of ms from 0 "
						   "to 3600000",
					optarg);
			json_object_object_add(req, "pause_ms", json_object_new_int(v));
			break;
		default:
			return usage_error("sim %s: bad option", verb);
		}
	}
	snprintf(cmd, sizeof(cmd), "sim-%s", verb);
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (!strcmp(verb, "fire")) {
		if (argc - optind > 1)
			return usage_error("sim fire takes at most one token");
		if (optind < argc)
			json_object_object_add(req, "token", json_object_new_string(argv[optind]));
		json_object_object_del(req, "ip");
	} else if (argc - optind != 1) {
		return usage_error("sim %s takes one %s", verb,
			strcmp(verb, "create") ? "NAME or DOMID" : "NAME");
	} else if (!strcmp(verb, "create")) {
		json_object_object_add(req, "name", json_object_new_string(argv[optind]));
	} else {
		const char *who = argv[optind];

		if (!strcmp(verb, "claim")) {
			/* What the guest writes in its attr/vif/0: --ip split by family. */
			struct json_object *v4 = json_object_new_array(), *v6 = json_object_new_array();

			for (size_t i = 0; i < json_object_array_length(ips); i++) {
				struct json_object *a = json_object_array_get_idx(ips, i);

				json_object_array_add(strchr(json_object_get_string(a), ':') ? v6 : v4,
						      json_object_get(a));
			}
			json_object_object_add(req, "ipv4", v4);
			json_object_object_add(req, "ipv6", v6);
		}
		json_object_object_del(req, "ip");
		/* All digits is a domid, which then must be one; anything else is a name. */
		if (strspn(who, "0123456789") == strlen(who)) {
			if (ck_parse_uint(who, 0, DOMID_LIMIT - 1, &v) < 0)
				return usage_error(
					"'%s' is not a domid (0 to %d)", who, DOMID_LIMIT - 1);
			json_object_object_add(req, "domid", json_object_new_int(v));
		} else {
			json_object_object_add(req, "name", json_object_new_string(who));
		}
	}
	return request(req, cmd);
}

/*
 * addresses [DOMAIN]: what each member uses and from where.
 * addresses set|add|clear DOMAIN [--mac MAC] [ADDRESS...]: the orchestrator's.
 */
static int cmd_addresses(int argc, char **argv)
{
	static const struct option options[] = {
		{"mac", required_argument, NULL, 'm'},
		{},
	};
	struct json_object *req __attribute__((cleanup(json_free))) = json_object_new_object();
	const char *op = argc > 1 ? argv[1] : "";
	bool change = !strcmp(op, "set") || !strcmp(op, "add") || !strcmp(op, "clear");
	struct json_object *list;
	int c;

	if (!req) {
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		return CTL_EXIT_FAIL;
	}
	if (!change) {
		if (argc > 2)
			return usage_error("addresses takes at most one DOMAIN, or set|add|clear");
		json_object_object_add(req, "cmd", json_object_new_string("addresses"));
		if (argc == 2)
			json_object_object_add(req, "domain", json_object_new_string(argv[1]));
		return request(req, "addresses");
	}
	argc--;
	argv++;
	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c != 'm')
			return usage_error("addresses %s: bad option", op);
		json_object_object_add(req, "mac", json_object_new_string(optarg));
	}
	if (optind >= argc)
		return usage_error("addresses %s needs a DOMAIN (a domid, name or uuid)", op);
	if (strcmp(op, "clear") && argc - optind < 2)
		return usage_error("addresses %s needs at least one ADDRESS", op);
	if (!strcmp(op, "clear") && argc - optind > 1)
		return usage_error("addresses clear takes a DOMAIN only");
	json_object_object_add(req, "cmd", json_object_new_string("addresses-set"));
	json_object_object_add(req, "op", json_object_new_string(op));
	json_object_object_add(req, "domain", json_object_new_string(argv[optind]));
	list = json_object_new_array();
	json_object_object_add(req, "addresses", list);
	for (int i = optind + 1; i < argc; i++)
		json_object_array_add(list, json_object_new_string(argv[i]));
	return request(req, "addresses-set");
}

static int cmd_help(int argc, char **argv);

static const struct {
	const char *name;
	int (*handler)(int argc, char **argv);
	const char *help;
} subcommands[] = {
	{"members", cmd_plain, "the host's members"},
	{"guests", cmd_plain, "each agent session: acked generation, lag, latency"},
	{"stats", cmd_plain, "counters and convergence percentiles"},
	{"metrics", cmd_metrics,
		"[--format openmetrics|prometheus] [--output PATH]: stats as OpenMetrics\n"
		"                text (or Prometheus', for node_exporter's textfile collector)"},
	{"watch", cmd_plain, "follow changes and acknowledgements as they happen"},
	{"rescan", cmd_plain, "force a full rescan"},
	{"addresses", cmd_addresses,
		"[DOMAIN]: each member's addresses, where each came from, whether used |\n"
		"                set|add|clear DOMAIN [--mac MAC] [ADDRESS...]: the orchestrator's"},
	{"policy", cmd_plain, "the fast path policy (fastpath.conf(5)) in force"},
	{"policy-set", cmd_policy_set,
		"FILE|-: replace the fast path policy until the next reload"},
	{"reload", cmd_plain, "read the fast path policy file again, and rescan"},
	{"wait", ctl_wait,
		"[--absent] [--timeout S] KEY|--gen N: until every guest acked KEY (a domid, "
		"name,\n"
		"                uuid, IP or MAC) present (or gone), or generation N; exit 0, 1 on "
		"timeout"},
	{"latency", ctl_latency,
		"[--present KEY|--absent KEY] [--timeout S] -- COMMAND...: run a toolstack\n"
		"                command; when every guest's table reflected its change"},
	{"sim", cmd_sim,
		"create NAME [--ip ADDR]... [--mac MAC] [--uuid UUID] [--bridge B] [--rate R] |\n"
		"                destroy NAME|DOMID | migrate NAME|DOMID [--pause-ms MS] |\n"
		"                vif NAME|DOMID [--bridge B] [--rate R] | fire [TOKEN] |\n"
		"                claim NAME|DOMID [--ip ADDR]... (the guest's own attr/vif)\n"
		"                (simulated source)"},
	{"help", cmd_help, "this text"},
};

static const struct ck_option global_options[] = {
	{"control", 'c', "PATH", "cokeeperd's control socket\n(default " CONTROL_DEFAULT_PATH ")"},
	{"json", 'j', NULL, "replies as JSON, for scripts"},
	{"version", 'V', NULL, "the version"},
	{"help", 'h', NULL, "this text"},
	{},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] COMMAND [ARGS]\n"
		"Talks to cokeeperd's control socket.\n"
		"Options:\n",
		prog);
	ck_options_help(f, global_options, 18);
	fprintf(f, "Commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-13s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "Exit status: 0 success, 1 failure or timeout, 2 usage error.\n");
}

static int cmd_help(int argc, char **argv)
{
	usage(stdout);
	return CTL_EXIT_OK;
}

void ctl_getopt_reset(void)
{
	/* 0, not 1: GNU getopt re-reads its mode ('+') only on a full reset. */
	optind = 0;
}

/* The global options: -1 to go on to the subcommand, or the exit status. */
static int parse_args(int argc, char **argv)
{
	const struct ck_option *const tables[] = {global_options};
	struct ck_getopt g __attribute__((cleanup(ck_getopt_done))) = {};
	int c;

	if (ck_getopt_init(&g, tables, 1, "+") < 0) {
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		return CTL_EXIT_FAIL;
	}
	while ((c = ck_getopt_next(&g, argc, argv)) != -1) {
		switch (c) {
		case 'c':
			ctl.control_path = optarg;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("%s %s\n", prog, CK_VERSION);
			return CTL_EXIT_OK;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return CTL_EXIT_USAGE;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	int r = parse_args(argc, argv);

	if (r >= 0)
		return r;
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[optind], subcommands[i].name))
			return subcommands[i].handler(argc - optind, argv + optind);
	return usage_error("unknown command '%s'", argv[optind]);
}
