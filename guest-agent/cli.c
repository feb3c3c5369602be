// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "logging.h"
#include "number.h"

#define PROG "cokeeper-agent"
/* Xen's first reserved domid (DOMID_FIRST_RESERVED): every guest's is below it. */
#define DOMID_MAX 0x7FEF

enum {
	OPT_DUMP = CK_OPTION_LONG_ONLY,
	OPT_ANSWER_TIMEOUT,
};

static const struct ck_option options[] = {
	{ "transport", 't', "NAME", "vchan (default, on Xen) or unix (the simulation)" },
	{ "socket", 'S', "PATH", "unix: cokeeperd's agent socket\n"
				 "(default /run/cokeeper/agent.sock)" },
	{ "domid", 'd', "N", "unix: the domid this agent speaks for (vchan reads it\n"
			     "from xenstore)" },
	{ "sink", 'k', "NAME", "kernel (default: the cokeeper module's table over\n"
			       "generic netlink) or memory (no module needed)" },
	{ "dump", OPT_DUMP, "FILE", "memory: write the table there as JSON after each change" },
	{ "answer-timeout", OPT_ANSWER_TIMEOUT, "MS",
	  "reconnect when cokeeperd has not answered our Hello\n"
	  "this long after connecting (default 30000)" },
	{ "verbose", 'v', NULL, "debug messages" },
	{ "version", 'V', NULL, "the version" },
	{ "help", 'h', NULL, "this text" },
	{},
};

struct settings {
	struct agent_config cfg;
	const char *transport, *sink;
	bool verbose;
};

static void usage(FILE *f, const struct agent_driver *driver)
{
	fprintf(f, "Usage: " PROG " [OPTIONS]\n"
		   "Keeps this guest's co-resident table in step with cokeeperd in dom0.\n\n");
	ck_options_help(f, options, 25);
	if (driver)
		ck_options_help(f, driver->options, 25);
}

static int number(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *ret)
{
	return ck_option_number(PROG, opt, arg, min, max, "", ret);
}

static int set_option(struct settings *s, int key, const char *arg,
		      const struct agent_driver *driver)
{
	uint64_t v = 0;
	int r = 0;

	switch (key) {
	case 't':
		s->transport = arg;
		break;
	case 'S':
		s->cfg.socket_path = arg;
		break;
	case 'd':
		r = number("domid", arg, 1, DOMID_MAX, &v);
		s->cfg.domid = (int)v;
		break;
	case 'k':
		s->sink = arg;
		break;
	case OPT_DUMP:
		s->cfg.dump_path = arg;
		break;
	case OPT_ANSWER_TIMEOUT:
		r = number("answer-timeout", arg, 100, 3600000, &v);
		s->cfg.answer_timeout_usec = v * 1000;
		break;
	case 'v':
		s->verbose = true;
		break;
	default:
		if (driver && key >= AGENT_DRIVER_OPTION)
			return driver->option(key, arg, driver->hooks.userdata);
		usage(stderr, driver);
		r = -EINVAL;
	}
	return r;
}

/* What goes together, once the backends are known: 0, or -EINVAL reported. */
static int check(struct settings *s, const struct agent_driver *driver)
{
	if (agent_backends_pick(&s->cfg, s->transport, s->sink) < 0)
		return -EINVAL;
	if (s->cfg.transport->needs_domid && s->cfg.domid < 0) {
		fprintf(stderr, PROG ": --transport=%s needs --domid\n", s->transport);
		return -EINVAL;
	}
	if (s->cfg.dump_path && !s->cfg.sink->in_memory) {
		fprintf(stderr, PROG ": --dump goes with --sink=memory\n");
		return -EINVAL;
	}
	return driver && driver->check ? driver->check(&s->cfg, driver->hooks.userdata) : 0;
}

struct parse {
	struct settings *s;
	const struct agent_driver *driver;
};

static int parse_option(int key, const char *arg, void *userdata)
{
	struct parse *p = userdata;

	return set_option(p->s, key, arg, p->driver);
}

static void parse_usage(FILE *f, void *userdata)
{
	usage(f, ((struct parse *)userdata)->driver);
}

/* The command line into s: 0 to run, 1 when done (--help, --version), or -EINVAL reported. */
static int parse_args(struct settings *s, int argc, char **argv,
		      const struct agent_driver *driver)
{
	const struct ck_option *const tables[] = { options, driver ? driver->options : NULL };
	const struct ck_program program = {
		.name = PROG, .version = CK_VERSION, .tables = tables, .n_tables = 2,
		.set = parse_option, .usage = parse_usage,
	};
	struct parse p = { s, driver };
	int r = ck_options_parse(&program, argc, argv, &p);

	return r != 0 ? r : check(s, driver);
}

int agent_main(int argc, char **argv, const struct agent_driver *driver)
{
	struct settings s = {
		.cfg = {
			.socket_path = "/run/cokeeper/agent.sock",
			.domid = -1,
			.hooks = driver ? &driver->hooks : NULL,
		},
		.transport = "vchan",
		.sink = "kernel",
	};
	struct agent *a;
	int r = parse_args(&s, argc, argv, driver);

	if (r != 0)
		return r > 0 ? 0 : 2;
	ck_log_setup(PROG, s.verbose);
	r = agent_new(&a, &s.cfg);
	if (r < 0) {
		log_error_errno(r, "cannot start (transport %s, sink %s)", s.transport, s.sink);
		return 1;
	}
	r = agent_run(a);
	agent_free(a);
	return r < 0 ? 1 : 0;
}
