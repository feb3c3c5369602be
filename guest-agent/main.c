// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-agent: runs in each domU, keeps the kernel's co-resident table equal to what
 * cokeeperd in dom0 says lives on this host.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "logging.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cokeeper-agent [OPTIONS]\n"
		"Keeps this guest's co-resident table in step with cokeeperd in dom0.\n\n"
		"  -t, --transport=NAME   vchan (default, on Xen) or unix (the simulation)\n"
		"  -S, --socket=PATH      unix: cokeeperd's agent socket\n"
		"                         (default /run/cokeeper/agent.sock)\n"
		"  -d, --domid=N          unix: the domid this agent speaks for (vchan reads it\n"
		"                         from xenstore)\n"
		"  -k, --sink=NAME        kernel (default: the cokeeper module's table over\n"
		"                         generic netlink) or memory (no module needed)\n"
		"      --dump=FILE        memory: write the table there as JSON after each change\n"
		"      --fastpath-log=FILE  memory: the fast path stand-in (which accepts every\n"
		"                         offer) appends each message relayed to it there\n"
		"      --no-fastpath      memory: answer offers as a guest without the module\n"
		"      --fastpath-offer=N memory: offer domid N a channel once in sync\n"
		"      --answer-timeout=MS  reconnect when cokeeperd has not answered our Hello\n"
		"                         this long after connecting (default 30000)\n"
		"  -v, --verbose          debug messages\n"
		"  -V, --version          the version\n"
		"  -h, --help             this text\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "transport", required_argument, NULL, 't' },
		{ "socket", required_argument, NULL, 'S' },
		{ "domid", required_argument, NULL, 'd' },
		{ "sink", required_argument, NULL, 'k' },
		{ "dump", required_argument, NULL, 'D' },
		{ "answer-timeout", required_argument, NULL, 'A' },
		{ "fastpath-log", required_argument, NULL, 'F' },
		{ "no-fastpath", no_argument, NULL, 'N' },
		{ "fastpath-offer", required_argument, NULL, 'O' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	struct agent_config cfg = {
		.transport = "vchan",
		.socket_path = "/run/cokeeper/agent.sock",
		.domid = -1,
		.sink = "kernel",
	};
	bool verbose = false;
	struct agent *a;
	char *end;
	long v;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:S:d:k:vVh", options, NULL)) != -1) {
		switch (c) {
		case 't':
			cfg.transport = optarg;
			break;
		case 'S':
			cfg.socket_path = optarg;
			break;
		case 'd':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v >= 0x7FF0) {
				fprintf(stderr, "cokeeper-agent: --domid takes 1..32751\n");
				return 2;
			}
			cfg.domid = (int)v;
			break;
		case 'k':
			cfg.sink = optarg;
			break;
		case 'D':
			cfg.dump_path = optarg;
			break;
		case 'A':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 100 || v > 3600000) {
				fprintf(stderr, "cokeeper-agent: --answer-timeout takes 100..3600000 ms\n");
				return 2;
			}
			cfg.answer_timeout_usec = (uint64_t)v * 1000;
			break;
		case 'F':
			cfg.fastpath_log = optarg;
			break;
		case 'N':
			cfg.fastpath_absent = true;
			break;
		case 'O':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v >= 0x7FF0) {
				fprintf(stderr, "cokeeper-agent: --fastpath-offer takes 1..32751\n");
				return 2;
			}
			cfg.fastpath_offer_to = (int)v;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("cokeeper-agent %s\n", CK_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cokeeper-agent: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!strcmp(cfg.transport, "unix") && cfg.domid < 0) {
		fprintf(stderr, "cokeeper-agent: --transport=unix needs --domid\n");
		return 2;
	}
	if ((cfg.dump_path || cfg.fastpath_log || cfg.fastpath_absent || cfg.fastpath_offer_to) &&
	    strcmp(cfg.sink, "memory")) {
		fprintf(stderr, "cokeeper-agent: --dump and the --fastpath options go with "
				"--sink=memory\n");
		return 2;
	}

	ck_log_setup("cokeeper-agent", verbose);
	r = agent_new(&a, &cfg);
	if (r < 0) {
		log_error_errno(r, "cannot start (transport %s, sink %s)", cfg.transport, cfg.sink);
		return 1;
	}
	r = agent_run(a);
	agent_free(a);
	return r < 0 ? 1 : 0;
}
