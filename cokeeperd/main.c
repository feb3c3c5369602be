// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperd: the dom0 daemon that knows, at every moment, which domains share this host, and
 * pushes every change to each guest's agent.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "control.h"
#include "daemon.h"
#include "guests.h"
#include "logging.h"

/* Long options without a short one: values past any character. */
enum {
	OPT_MAX_GUESTS = 0x1100,
	OPT_HELLO_TIMEOUT,
	OPT_MAX_CONTROL_CLIENTS,
	OPT_MAX_WATCHERS,
	OPT_CONTROL_IDLE_TIMEOUT,
	OPT_ADMIN_GROUP,
};

static const struct source_ops *const sources[] = {
	&source_xenstore_ops, &source_poll_ops, &source_sim_ops,
};
static const struct transport_ops *const transports[] = {
	&transport_vchan_ops, &transport_unix_ops,
};

/*
 * Each guest holds a descriptor (a socket, an event channel) and --max-guests defaults to
 * more than the usual soft limit of 1,024: take what the hard limit allows.
 */
static void raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warning_errno(-errno, "cannot read the descriptor limit");
		return;
	}
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning_errno(-errno, "cannot raise the descriptor limit to %llu",
				  (unsigned long long)rl.rlim_max);
}

static const struct source_ops *find_source(const char *name)
{
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (!strcmp(sources[i]->name, name))
			return sources[i];
	return NULL;
}

static const struct transport_ops *find_transport(const char *name)
{
	for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (!strcmp(transports[i]->name, name))
			return transports[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cokeeperd [OPTIONS]\n"
		"Tells every guest on this Xen host which other guests live here, as it changes.\n\n"
		"  -s, --source=NAME         xenstore (default: watches + libxl events), poll\n"
		"                            (the measured baseline), or sim (a simulated host)\n"
		"  -t, --transport=NAME      vchan (default on Xen) or unix (default with sim)\n"
		"  -i, --poll-interval=MS    rescan period of --source=poll (default 1000)\n"
		"  -c, --control=PATH        control socket (default /run/cokeeper/control.sock)\n"
		"  -a, --agent-socket=PATH   unix transport socket (default /run/cokeeper/agent.sock)\n"
		"  -q, --queue-limit=BYTES   unread bytes per guest before it is resynced\n"
		"                            (default 4194304)\n"
		"      --max-guests=N        agent sessions at once; more get a Bye (default 1100,\n"
		"                            sized for a 1,024-guest host)\n"
		"      --hello-timeout=MS    a new agent session that sends no valid Hello within\n"
		"                            MS of attaching is ended (default 10000)\n"
		"      --include-dom0        make dom0 a member too\n"
		"      --max-control-clients=N\n"
		"                            control clients at once (default 64)\n"
		"      --max-watchers=N      control clients following changes (default 16)\n"
		"      --control-idle-timeout=S\n"
		"                            close a control client after S seconds without a\n"
		"                            request; watchers excepted (default 60)\n"
		"      --admin-group=NAME    besides root, this group may change state (rescan,\n"
		"                            sim-*); others on the control socket read only\n"
		"  -v, --verbose             debug messages\n"
		"  -V, --version             the version\n"
		"  -h, --help                this text\n");
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "source", required_argument, NULL, 's' },
		{ "transport", required_argument, NULL, 't' },
		{ "poll-interval", required_argument, NULL, 'i' },
		{ "control", required_argument, NULL, 'c' },
		{ "agent-socket", required_argument, NULL, 'a' },
		{ "queue-limit", required_argument, NULL, 'q' },
		{ "include-dom0", no_argument, NULL, 'D' },
		{ "max-guests", required_argument, NULL, OPT_MAX_GUESTS },
		{ "hello-timeout", required_argument, NULL, OPT_HELLO_TIMEOUT },
		{ "max-control-clients", required_argument, NULL, OPT_MAX_CONTROL_CLIENTS },
		{ "max-watchers", required_argument, NULL, OPT_MAX_WATCHERS },
		{ "control-idle-timeout", required_argument, NULL, OPT_CONTROL_IDLE_TIMEOUT },
		{ "admin-group", required_argument, NULL, OPT_ADMIN_GROUP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const char *source = "xenstore", *transport = NULL;
	struct daemon_config cfg = {
		.control_path = "/run/cokeeper/control.sock",
		.control_mode = 0660,
		.agent_socket = "/run/cokeeper/agent.sock",
		.poll_interval_ms = 1000,
		.queue_limit = 4u << 20,
		.max_guests = GUESTS_MAX_DEFAULT,
		.hello_timeout_usec = GUESTS_HELLO_TIMEOUT_DEFAULT_USEC,
		.max_control_clients = CONTROL_MAX_CLIENTS_DEFAULT,
		.max_watchers = CONTROL_MAX_WATCHERS_DEFAULT,
		.control_idle_timeout_sec = CONTROL_IDLE_TIMEOUT_DEFAULT_SEC,
	};
	struct daemon *d;
	unsigned long v;
	bool verbose = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:t:i:c:a:q:vVh", options, NULL)) != -1) {
		switch (c) {
		case 's':
			source = optarg;
			break;
		case 't':
			transport = optarg;
			break;
		case 'i':
			if (parse_uint(optarg, 10, 3600000, &v) < 0) {
				fprintf(stderr, "cokeeperd: --poll-interval takes 10..3600000 ms\n");
				return 2;
			}
			cfg.poll_interval_ms = v;
			break;
		case 'c':
			cfg.control_path = optarg;
			break;
		case 'a':
			cfg.agent_socket = optarg;
			break;
		case 'q':
			if (parse_uint(optarg, 65536, 1ul << 30, &v) < 0) {
				fprintf(stderr, "cokeeperd: --queue-limit takes 65536..2^30 bytes\n");
				return 2;
			}
			cfg.queue_limit = v;
			break;
		case OPT_MAX_GUESTS:
			if (parse_uint(optarg, 1, 65535, &v) < 0) {
				fprintf(stderr, "cokeeperd: --max-guests takes 1..65535\n");
				return 2;
			}
			cfg.max_guests = v;
			break;
		case OPT_HELLO_TIMEOUT:
			if (parse_uint(optarg, 100, 3600000, &v) < 0) {
				fprintf(stderr, "cokeeperd: --hello-timeout takes 100..3600000 ms\n");
				return 2;
			}
			cfg.hello_timeout_usec = (uint64_t)v * 1000;
			break;
		case 'D':
			cfg.include_dom0 = true;
			break;
		case OPT_MAX_CONTROL_CLIENTS:
			if (parse_uint(optarg, 1, 4096, &v) < 0) {
				fprintf(stderr, "cokeeperd: --max-control-clients takes 1..4096\n");
				return 2;
			}
			cfg.max_control_clients = v;
			break;
		case OPT_MAX_WATCHERS:
			if (parse_uint(optarg, 1, 4096, &v) < 0) {
				fprintf(stderr, "cokeeperd: --max-watchers takes 1..4096\n");
				return 2;
			}
			cfg.max_watchers = v;
			break;
		case OPT_CONTROL_IDLE_TIMEOUT:
			if (parse_uint(optarg, 1, 86400, &v) < 0) {
				fprintf(stderr,
					"cokeeperd: --control-idle-timeout takes 1..86400 s\n");
				return 2;
			}
			cfg.control_idle_timeout_sec = v;
			break;
		case OPT_ADMIN_GROUP: {
			/* At start, before any client: a name service lookup may block. */
			const struct group *g = getgrnam(optarg);

			if (!g) {
				fprintf(stderr, "cokeeperd: --admin-group: no group '%s'\n", optarg);
				return 2;
			}
			cfg.admin_group = true;
			cfg.admin_gid = g->gr_gid;
			break;
		}
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("cokeeperd %s\n", CK_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cokeeperd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cfg.max_watchers > cfg.max_control_clients) {
		fprintf(stderr, "cokeeperd: --max-watchers exceeds --max-control-clients\n");
		return 2;
	}
	if (!transport)
		transport = strcmp(source, "sim") ? "vchan" : "unix";
	cfg.source = find_source(source);
	cfg.transport = find_transport(transport);
	if (!cfg.source || !cfg.transport) {
		fprintf(stderr, "cokeeperd: unknown %s '%s'\n", cfg.source ? "transport" : "source",
			cfg.source ? transport : source);
		return 2;
	}
	/* A Unix socket cannot tell which domain is at its other end: simulation only. */
	if (cfg.transport == &transport_unix_ops && cfg.source != &source_sim_ops) {
		fprintf(stderr, "cokeeperd: --transport=unix runs only with --source=sim\n");
		return 2;
	}

	ck_log_setup("cokeeperd", verbose);
	raise_nofile_limit();
	r = daemon_new(&d, &cfg);
	if (r < 0) {
		log_error_errno(r, "cannot start (source %s, transport %s)", source, transport);
		return 1;
	}
	r = daemon_run(d);
	daemon_free(d);
	if (r < 0) {
		log_error_errno(r, "event loop failed");
		return 1;
	}
	return 0;
}
