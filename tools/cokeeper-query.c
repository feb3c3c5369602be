// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-query: this guest's co-resident table, from the kernel, for people and scripts.
 * Reads need no privilege.  One table of subcommands, as wg(8) has; what they print is in
 * query-print.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "cokeeper-client.h"
#include "options.h"
#include "query-fastpath.h"
#include "query-print.h"

#define EXIT_USAGE 2

static const char *prog = "cokeeper-query";
static bool json_out;
static enum metrics_format metrics_format = METRICS_FORMAT_OPENMETRICS;
static const char *metrics_output;	/* NULL: stdout */

static void report(const char *what, struct ck_client *c, int r)
{
	const char *msg = c ? ck_client_error_message(c) : "";

	fprintf(stderr, "%s: %s: %s%s%s\n", prog, what, strerror(-r), *msg ? ": " : "", msg);
}

static int usage_error(const char *cmd, const char *args)
{
	fprintf(stderr, "Usage: %s [--json] %s%s\n", prog, cmd, args);
	return EXIT_USAGE;
}

static int open_client(struct ck_client **c)
{
	int r = ck_client_open(c);

	if (r < 0)
		fprintf(stderr, "%s: cannot reach the kernel's co-resident table: %s%s\n", prog,
			strerror(-r), r == -ENOENT ? " (is cokeeper.ko loaded?)" : "");
	return r;
}

static int cmd_members(int argc, char **argv)
{
	struct fastpath_view fp;
	struct ck_client *c;
	bool have_fp;
	int r;

	if (argc != 1)
		return usage_error(argv[0], "");
	if (open_client(&c) < 0)
		return 2;
	/* The JSON form stays the canonical table cokeeperctl prints; text adds the fast path. */
	have_fp = !json_out && query_fastpath_view(&fp) == 0;

	r = query_members(c, json_out, have_fp ? &fp : NULL, stdout);
	if (have_fp)
		fastpath_view_free(&fp);
	if (r < 0)
		report("cannot read the table", c, r);
	ck_client_close(c);
	return r < 0 ? 2 : 0;
}

/* Exit 0 co-resident, 1 not, 2 error: a script's if needs no parsing. */
static int cmd_lookup(int argc, char **argv)
{
	struct ck_client *c;
	int r;

	if (argc != 2)
		return usage_error(argv[0], " ADDR|MAC|DOMID");
	if (open_client(&c) < 0)
		return 2;
	r = query_lookup(c, argv[1], json_out, stdout);
	if (r == -EINVAL)
		fprintf(stderr, "%s: '%s' is not an address, MAC or domid\n", prog, argv[1]);
	else if (r < 0 && r != -ENOENT)
		report("lookup", c, r);
	ck_client_close(c);
	return r == 0 ? 0 : r == -ENOENT ? 1 : 2;
}

static int cmd_status(int argc, char **argv)
{
	struct ck_client *c;
	int r;

	if (argc != 1)
		return usage_error(argv[0], "");
	if (open_client(&c) < 0)
		return 2;
	r = query_status(c, json_out, stdout);
	if (r < 0)
		report("status", c, r);
	ck_client_close(c);
	return r < 0 ? 2 : 0;
}

/*
 * metrics: the table for a monitoring system, in --format's text; an --output file is
 * replaced whole, or removed when the table cannot be read.
 */
static int cmd_metrics(int argc, char **argv)
{
	struct metrics_file file = {.f = stdout};
	struct fastpath_view fp;
	struct ck_client *c = NULL;
	bool have_fp;
	int r;

	if (argc != 1)
		return usage_error(argv[0], "");
	if (metrics_output) {
		r = metrics_file_open(&file, metrics_output);
		if (r < 0) {
			fprintf(stderr, "%s: metrics: %s: %s\n", prog, metrics_output, strerror(-r));
			return 2;
		}
	}
	r = open_client(&c);
	if (r == 0) {
		have_fp = query_fastpath_view(&fp) == 0;
		r = query_metrics(c, have_fp ? &fp : NULL, metrics_format, file.f);
		if (have_fp)
			fastpath_view_free(&fp);
		if (r == -EIO)
			fprintf(stderr, "%s: metrics: cannot write the output\n", prog);
		else if (r < 0)
			report("cannot read the table", c, r);
		ck_client_close(c);
	}
	if (metrics_output) {
		int e = metrics_file_close(&file, r);

		if (e < 0 && r >= 0)
			fprintf(stderr, "%s: metrics: %s: %s\n", prog, metrics_output, strerror(-e));
		r = e;
	}
	return r < 0 ? 2 : 0;
}

static void on_event(
	enum ck_client_event ev, const struct ck_client_peer *p, uint64_t gen, void *userdata)
{
	query_event(ev, p, gen, json_out, stdout);
}

static int cmd_fastpath(int argc, char **argv)
{
	int r;

	if (argc != 1)
		return usage_error(argv[0], "");
	r = query_fastpath(json_out, stdout);
	if (r == -ENOENT)
		fprintf(stderr, "%s: the fast path is not running (is cokeeper-fp.ko loaded?)\n",
			prog);
	else if (r < 0)
		report("cannot read the fast path's channels", NULL, r);
	return r < 0 ? 2 : 0;
}

/* Runs until killed or an error: the exit status is 2. */
static int cmd_monitor(int argc, char **argv)
{
	struct pollfd pfd = {.events = POLLIN};
	struct ck_client *c;
	int r = 0;

	if (argc != 1)
		return usage_error(argv[0], "");
	if (open_client(&c) < 0)
		return 2;
	pfd.fd = ck_client_notify_fd(c);
	if (pfd.fd < 0) {
		report("cannot join the events group", c, pfd.fd);
		ck_client_close(c);
		return 2;
	}
	while (r >= 0) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			report("poll", NULL, -errno);
			break;
		}
		r = ck_client_notify_dispatch(c, on_event, NULL);
		if (r < 0)
			report("notifications", c, r);
	}
	ck_client_close(c);
	return 2;
}

static const struct {
	const char *name;
	int (*handler)(int argc, char **argv);
	const char *help;
} subcommands[] = {
	{"members", cmd_members, "the table (--json: the canonical form cokeeperctl prints)"},
	{"lookup", cmd_lookup, "ADDR|MAC|DOMID: exit 0 co-resident, 1 not, 2 error"},
	{"status", cmd_status, "the table's epoch, generation and size"},
	{"monitor", cmd_monitor, "follow the kernel's change notifications"},
	{"fastpath", cmd_fastpath, "cokeeper-fp.ko's channel and counters per peer"},
	{"metrics", cmd_metrics, "the table and its counters as OpenMetrics (or --format's)"},
};

static const struct ck_option options[] = {
	{"json", 'j', NULL, "print JSON, for scripts"},
	{"format", 'f', "FORMAT", "metrics' text: openmetrics (default) or prometheus"},
	{"output", 'o', "PATH", "metrics into PATH, replaced whole"},
	{"version", 'V', NULL, "the version"},
	{"help", 'h', NULL, "this text"},
	{},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [OPTIONS] COMMAND\nOptions:\n", prog);
	ck_options_help(f, options, 18);
	fprintf(f, "Commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].help);
}

/* The options before the command: -1 to go on to it, or the exit status. */
static int parse_args(int argc, char **argv)
{
	const struct ck_option *const tables[] = {options};
	struct ck_getopt g __attribute__((cleanup(ck_getopt_done))) = {};
	int opt;

	if (ck_getopt_init(&g, tables, 1, "") < 0) {
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		return 1;
	}
	while ((opt = ck_getopt_next(&g, argc, argv)) != -1) {
		switch (opt) {
		case 'j':
			json_out = true;
			break;
		case 'o':
			metrics_output = optarg;
			break;
		case 'f':
			if (metrics_format_parse(optarg, &metrics_format) < 0) {
				fprintf(stderr, "%s: --format is openmetrics or prometheus, not '%s'\n"
					"Try '%s --help'.\n", prog, optarg, prog);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", prog, CK_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return EXIT_USAGE;
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
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[optind], subcommands[i].name))
			return subcommands[i].handler(argc - optind, argv + optind);
	fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", prog, argv[optind], prog);
	return EXIT_USAGE;
}
