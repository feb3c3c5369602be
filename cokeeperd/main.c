// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperd: the dom0 daemon that knows, at every moment, which domains share this host, and
 * pushes every change to each guest's agent.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "backend.h"
#include "control.h"
#include "daemon.h"
#include "fastpath-relay.h"
#include "guests.h"
#include "logging.h"
#include "number.h"
#include "options.h"

#define PROG "cokeeperd"

enum {
	OPT_MAX_GUESTS = CK_OPTION_LONG_ONLY,
	OPT_HELLO_TIMEOUT,
	OPT_MAX_CONTROL_CLIENTS,
	OPT_MAX_WATCHERS,
	OPT_MAX_CONTROL_CLIENTS_PER_UID,
	OPT_MAX_WATCHERS_PER_UID,
	OPT_CONTROL_IDLE_TIMEOUT,
	OPT_CONTROL_MAX_AGE,
	OPT_ADMIN_GROUP,
	OPT_INCLUDE_DOM0,
	OPT_FASTPATH_BUDGET,
	OPT_FASTPATH_MAX_PENDING,
	OPT_FASTPATH_OFFER_TIMEOUT,
	OPT_FASTPATH_POLICY,
	OPT_LEARN,
	OPT_TRUST_GUEST_ADDRESSES,
	OPT_ADDRESS_STATE,
	OPT_ADDRESS_GRACE,
};

static const struct ck_option options[] = {
	{ "source", 's', "NAME", "xenstore (default: watches + libxl events), poll\n"
				 "(the measured baseline), or sim (a simulated host)" },
	{ "transport", 't', "NAME", "vchan (default on Xen) or unix (default with sim)" },
	{ "poll-interval", 'i', "MS", "rescan period of --source=poll (default 1000)" },
	{ "control", 'c', "PATH", "control socket (default /run/cokeeper/control.sock)" },
	{ "agent-socket", 'a', "PATH", "unix transport socket (default /run/cokeeper/agent.sock)" },
	{ "queue-limit", 'q', "BYTES", "unread bytes per guest before it is resynced\n"
				      "(default 4194304)" },
	{ "max-guests", OPT_MAX_GUESTS, "N", "agent sessions at once; more get a Bye (default 1100,\n"
					     "sized for a 1,024-guest host)" },
	{ "hello-timeout", OPT_HELLO_TIMEOUT, "MS", "a new agent session that sends no valid Hello within\n"
						    "MS of attaching is ended (default 10000)" },
	{ "include-dom0", OPT_INCLUDE_DOM0, NULL, "make dom0 a member too" },
	{ "fastpath-budget", OPT_FASTPATH_BUDGET, "N/S", "fast path set-up messages a guest may have\n"
							 "relayed: N offers and N answers per S seconds\n"
							 "(default 8/2)" },
	{ "fastpath-max-pending", OPT_FASTPATH_MAX_PENDING, "N",
	  "offers one guest may have waiting for an answer\n"
	  "(default 8, the module's max_channels)" },
	{ "fastpath-offer-timeout", OPT_FASTPATH_OFFER_TIMEOUT, "S",
	  "an offer not answered in S seconds is forgotten\n(default 15)" },
	{ "fastpath-policy", OPT_FASTPATH_POLICY, "PATH",
	  "who may pair (fastpath.conf(5); default\n"
	  "/etc/cokeeper/fastpath.conf, built-in rules without it)" },
	{ "learn", OPT_LEARN, "WHAT", "take guests' addresses from their vifs: none (default),\n"
				     "dhcp (leases), arp (ARP and NDP), or dhcp,arp" },
	{ "trust-guest-addresses", OPT_TRUST_GUEST_ADDRESSES, NULL,
	  "use what guests write in attr/vif/N/ipv4|ipv6 (lowest\n"
	  "trust); otherwise it is only shown" },
	{ "address-state", OPT_ADDRESS_STATE, "PATH",
	  "where the orchestrator's addresses are kept, or none\n"
	  "(default $STATE_DIRECTORY/addresses, else\n"
	  "/var/lib/cokeeper/addresses)" },
	{ "address-grace", OPT_ADDRESS_GRACE, "S",
	  "a destroyed domain's addresses are dropped after this\n"
	  "(default 10; 0 at once)" },
	{ "max-control-clients", OPT_MAX_CONTROL_CLIENTS, "N",
	  "control clients at once (default 64; the last\n"
	  "eighth for admins)" },
	{ "max-watchers", OPT_MAX_WATCHERS, "N",
	  "control clients following changes (default 16;\n"
	  "the last eighth for admins)" },
	{ "max-control-clients-per-uid", OPT_MAX_CONTROL_CLIENTS_PER_UID, "N",
	  "control clients of one read-only user (default 16)" },
	{ "max-watchers-per-uid", OPT_MAX_WATCHERS_PER_UID, "N",
	  "watchers of one read-only user (default 4)" },
	{ "control-idle-timeout", OPT_CONTROL_IDLE_TIMEOUT, "S",
	  "close a control client after S seconds without a\n"
	  "request; watchers excepted (default 60)" },
	{ "control-max-age", OPT_CONTROL_MAX_AGE, "S",
	  "close a read-only control client S seconds after it\n"
	  "connected, requests or not; watchers excepted\n"
	  "(default 600)" },
	{ "admin-group", OPT_ADMIN_GROUP, "NAME", "besides root, this group may change state (rescan,\n"
						  "sim-*); others on the control socket read only" },
	{ "verbose", 'v', NULL, "debug messages" },
	{ "version", 'V', NULL, "the version" },
	{ "help", 'h', NULL, "this text" },
	{},
};

/* A source names the transport that goes with it unless --transport says otherwise. */
static const struct source_backend {
	const char *name;
	const struct source_ops *ops;
	const char *default_transport;
} sources[] = {
	{ "xenstore", &source_xenstore_ops, "vchan" },
	{ "poll", &source_poll_ops, "vchan" },
	{ "sim", &source_sim_ops, "unix" },
};

/*
 * Descriptors each guest holds: a vchan server has libxenvchan's grant-sharing and event
 * channel handles, a Unix socket is one.
 */
static const struct transport_backend {
	const char *name;
	const struct transport_ops *ops;
	unsigned int fds_per_guest;
} transports[] = {
	{ "vchan", &transport_vchan_ops, 2 },
	{ "unix", &transport_unix_ops, 1 },
};

/*
 * Descriptors cokeeperd holds besides its guests' and its control clients': stdio, the
 * event loop's (epoll, signals, timers), the two listening sockets and the control socket's
 * reserve, xenstore's and libxl's handles, and short-lived ones: refused peers' until their
 * Bye or refusal is sent (up to a batch of 16 accepted at once), a channel set-up's
 * xenstore connection.
 */
#define DESCRIPTORS_RESERVED 32

struct settings {
	struct daemon_config cfg;
	const char *source, *transport;
	unsigned int fds_per_guest;
	bool verbose;
	bool address_state_set;
	char address_state[4096];
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: " PROG " [OPTIONS]\n"
		   "Tells every guest on this Xen host which other guests live here, as it "
		   "changes.\n\n");
	ck_options_help(f, options, 28);
}

/* A number option in [min, max]: 0, or -EINVAL reported. */
static int number(const char *opt, const char *arg, uint64_t min, uint64_t max,
		  const char *unit, uint64_t *ret)
{
	return ck_option_number(PROG, opt, arg, min, max, unit, ret);
}

static int set_admin_group(struct daemon_config *cfg, const char *name)
{
	/* At start, before any client: a name service lookup may block. */
	const struct group *g = getgrnam(name);

	if (!g) {
		fprintf(stderr, PROG ": --admin-group: no group '%s'\n", name);
		return -EINVAL;
	}
	cfg->admin_group = true;
	cfg->admin_gid = g->gr_gid;
	return 0;
}

/* N/S: N messages of each kind per S seconds. */
static int set_fastpath_budget(struct daemon_config *cfg, const char *arg)
{
	const char *slash = strchr(arg, '/');
	char n[32];
	uint64_t v;
	int r;

	if (!slash || (size_t)(slash - arg) >= sizeof(n)) {
		fprintf(stderr, PROG ": --fastpath-budget: '%s' is not N/SECONDS\n", arg);
		return -EINVAL;
	}
	snprintf(n, sizeof(n), "%.*s", (int)(slash - arg), arg);
	r = number("fastpath-budget", n, 1, 1000000, " messages", &v);
	if (r < 0)
		return r;
	cfg->fastpath.burst = v;
	r = ck_parse_seconds(slash + 1, 1000, 86400 * 1000000ull, &cfg->fastpath.interval_usec);
	if (r < 0)
		fprintf(stderr, PROG ": --fastpath-budget: '%s' is not a number of seconds "
			"from 0.001 to 86400\n", slash + 1);
	return r < 0 ? -EINVAL : 0;
}

/* --learn: none, dhcp, arp, or both separated by a comma. */
static int set_learn(struct settings *s, const char *arg)
{
	char buf[32], *save = NULL;

	s->cfg.learn = 0;
	if (!strcmp(arg, "none"))
		return 0;
	if (strlen(arg) >= sizeof(buf))
		goto bad;
	strcpy(buf, arg);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "dhcp"))
			s->cfg.learn |= DAEMON_LEARN_DHCP;
		else if (!strcmp(tok, "arp"))
			s->cfg.learn |= DAEMON_LEARN_ARP;
		else
			goto bad;
	}
	if (s->cfg.learn)
		return 0;
bad:
	fprintf(stderr, PROG ": --learn: '%s' is not none, dhcp, arp or dhcp,arp\n", arg);
	return -EINVAL;
}

/* One option of the table: 0, or -EINVAL reported. */
static int set_option(struct settings *s, int key, const char *arg)
{
	struct daemon_config *cfg = &s->cfg;
	uint64_t v = 0;
	int r = 0;

	switch (key) {
	case 's':
		s->source = arg;
		break;
	case 't':
		s->transport = arg;
		break;
	case 'i':
		r = number("poll-interval", arg, 10, 3600000, " ms", &v);
		cfg->poll_interval_ms = v;
		break;
	case 'c':
		cfg->control_path = arg;
		break;
	case 'a':
		cfg->agent_socket = arg;
		break;
	case 'q':
		r = number("queue-limit", arg, 65536, 1ul << 30, " bytes", &v);
		cfg->queue_limit = v;
		break;
	case OPT_MAX_GUESTS:
		r = number("max-guests", arg, 1, 65535, "", &v);
		cfg->max_guests = v;
		break;
	case OPT_HELLO_TIMEOUT:
		r = number("hello-timeout", arg, 100, 3600000, " ms", &v);
		cfg->hello_timeout_usec = v * 1000;
		break;
	case OPT_INCLUDE_DOM0:
		cfg->include_dom0 = true;
		break;
	case OPT_FASTPATH_BUDGET:
		r = set_fastpath_budget(cfg, arg);
		break;
	case OPT_FASTPATH_MAX_PENDING:
		r = number("fastpath-max-pending", arg, 1, FASTPATH_RELAY_MAX_PENDING_LIMIT, "", &v);
		cfg->fastpath.max_pending = v;
		break;
	case OPT_FASTPATH_POLICY:
		cfg->fastpath_policy = arg;
		break;
	case OPT_LEARN:
		r = set_learn(s, arg);
		break;
	case OPT_TRUST_GUEST_ADDRESSES:
		cfg->trust_guest_addresses = true;
		break;
	case OPT_ADDRESS_STATE:
		cfg->address_state = strcmp(arg, "none") ? arg : NULL;
		s->address_state_set = true;
		break;
	case OPT_ADDRESS_GRACE:
		r = number("address-grace", arg, 0, 86400, " s", &v);
		/* 0 is the config's "default": one microsecond is "at once" here. */
		cfg->address_grace_usec = v ? v * 1000000 : 1;
		break;
	case OPT_FASTPATH_OFFER_TIMEOUT:
		r = number("fastpath-offer-timeout", arg, 1, 86400, " s", &v);
		cfg->fastpath.offer_timeout_usec = v * 1000000;
		break;
	case OPT_MAX_CONTROL_CLIENTS:
		r = number("max-control-clients", arg, 1, 4096, "", &v);
		cfg->max_control_clients = v;
		break;
	case OPT_MAX_WATCHERS:
		r = number("max-watchers", arg, 1, 4096, "", &v);
		cfg->max_watchers = v;
		break;
	case OPT_MAX_CONTROL_CLIENTS_PER_UID:
		r = number("max-control-clients-per-uid", arg, 1, 4096, "", &v);
		cfg->max_control_clients_per_uid = v;
		break;
	case OPT_MAX_WATCHERS_PER_UID:
		r = number("max-watchers-per-uid", arg, 1, 4096, "", &v);
		cfg->max_watchers_per_uid = v;
		break;
	case OPT_CONTROL_IDLE_TIMEOUT:
		r = number("control-idle-timeout", arg, 1, 86400, " s", &v);
		cfg->control_idle_timeout_sec = v;
		break;
	case OPT_CONTROL_MAX_AGE:
		r = number("control-max-age", arg, 1, 86400, " s", &v);
		cfg->control_max_age_sec = v;
		break;
	case OPT_ADMIN_GROUP:
		r = set_admin_group(cfg, arg);
		break;
	case 'v':
		s->verbose = true;
		break;
	default:
		usage(stderr);
		r = -EINVAL;
	}
	return r;
}

/* The backends by name, and what may go together: 0, or -EINVAL reported. */
static int pick_backends(struct settings *s)
{
	const struct source_backend *source = CK_BACKEND_FIND(sources, s->source);
	const struct transport_backend *transport;
	char names[64];

	if (!source) {
		fprintf(stderr, PROG ": unknown source '%s' (expected %s)\n", s->source,
			CK_BACKEND_NAMES(sources, names));
		return -EINVAL;
	}
	if (!s->transport)
		s->transport = source->default_transport;
	transport = CK_BACKEND_FIND(transports, s->transport);
	if (!transport) {
		fprintf(stderr, PROG ": unknown transport '%s' (expected %s)\n", s->transport,
			CK_BACKEND_NAMES(transports, names));
		return -EINVAL;
	}
	/* A Unix socket cannot tell which domain is at its other end: simulation only. */
	if (transport->ops == &transport_unix_ops && source->ops != &source_sim_ops) {
		fprintf(stderr, PROG ": --transport=unix runs only with --source=sim\n");
		return -EINVAL;
	}
	s->cfg.source = source->ops;
	s->cfg.transport = transport->ops;
	s->fds_per_guest = transport->fds_per_guest;
	return 0;
}

static int parse_option(int key, const char *arg, void *userdata)
{
	return set_option(userdata, key, arg);
}

static void parse_usage(FILE *f, void *userdata)
{
	usage(f);
}

/* The command line into s: 0 to run, 1 when done (--help, --version), or -EINVAL reported. */
static int parse_args(struct settings *s, int argc, char **argv)
{
	const struct ck_option *const tables[] = { options };
	const struct ck_program program = {
		.name = PROG, .version = CK_VERSION, .tables = tables, .n_tables = 1,
		.set = parse_option, .usage = parse_usage,
	};
	int r = ck_options_parse(&program, argc, argv, s);

	if (r != 0)
		return r;
	if (s->cfg.max_watchers > s->cfg.max_control_clients) {
		fprintf(stderr, PROG ": --max-watchers exceeds --max-control-clients\n");
		return -EINVAL;
	}
	if (!s->address_state_set) {
		/* systemd's StateDirectory= says where; elsewhere, the FHS's place. */
		const char *dir = getenv("STATE_DIRECTORY");

		snprintf(s->address_state, sizeof(s->address_state), "%s/addresses",
			 dir && *dir && !strchr(dir, ':') ? dir : "/var/lib/cokeeper");
		s->cfg.address_state = s->address_state;
	}
	return pick_backends(s);
}

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

/*
 * The guests, the control clients and what cokeeperd holds itself must fit under
 * RLIMIT_NOFILE: else the last peer to come finds accept failing (the control socket still
 * answers it "busy", the agent socket makes it wait).  What does not fit is lowered, and
 * said: the control clients to at most a quarter of what is left (the guests are what
 * cokeeperd is for), the guests to the rest.  0, or -EMFILE (reported) when not even one
 * of each fits.
 */
static int fit_descriptors(struct settings *s)
{
	struct daemon_config *cfg = &s->cfg;
	unsigned int was_guests = cfg->max_guests, was_clients = cfg->max_control_clients;
	unsigned int was_watchers = cfg->max_watchers;
	uint64_t limit, avail, guests, clients;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;	/* raise_nofile_limit said so */
	limit = rl.rlim_cur;
	if ((uint64_t)cfg->max_guests * s->fds_per_guest + cfg->max_control_clients +
		    DESCRIPTORS_RESERVED <= limit)
		return 0;
	avail = limit > DESCRIPTORS_RESERVED ? limit - DESCRIPTORS_RESERVED : 0;
	clients = avail / 4 < cfg->max_control_clients ? avail / 4 : cfg->max_control_clients;
	guests = clients < avail ? (avail - clients) / s->fds_per_guest : 0;
	if (clients < 1 || guests < 1) {
		log_error("the descriptor limit (RLIMIT_NOFILE) is %" PRIu64 ": at least %u needed",
			  limit, DESCRIPTORS_RESERVED + 4);
		return -EMFILE;
	}
	if (guests < cfg->max_guests)
		cfg->max_guests = guests;
	cfg->max_control_clients = clients;
	if (cfg->max_watchers > clients)
		cfg->max_watchers = clients;
	log_warning("the descriptor limit (RLIMIT_NOFILE) is %" PRIu64 ": --max-guests lowered "
		    "from %u to %u, --max-control-clients from %u to %u, --max-watchers from %u to "
		    "%u (a guest holds %u descriptors, cokeeperd keeps %u for its own)", limit,
		    was_guests, cfg->max_guests, was_clients, cfg->max_control_clients,
		    was_watchers, cfg->max_watchers, s->fds_per_guest, DESCRIPTORS_RESERVED);
	return 0;
}

int main(int argc, char **argv)
{
	struct settings s = {
		.cfg = {
			.control_path = "/run/cokeeper/control.sock",
			.control_mode = 0660,
			.agent_socket = "/run/cokeeper/agent.sock",
			.poll_interval_ms = 1000,
			.queue_limit = 4u << 20,
			.max_guests = GUESTS_MAX_DEFAULT,
			.hello_timeout_usec = GUESTS_HELLO_TIMEOUT_DEFAULT_USEC,
			.max_control_clients = CONTROL_MAX_CLIENTS_DEFAULT,
			.max_watchers = CONTROL_MAX_WATCHERS_DEFAULT,
			.max_control_clients_per_uid = CONTROL_MAX_CLIENTS_PER_UID_DEFAULT,
			.max_watchers_per_uid = CONTROL_MAX_WATCHERS_PER_UID_DEFAULT,
			.control_idle_timeout_sec = CONTROL_IDLE_TIMEOUT_DEFAULT_SEC,
			.control_max_age_sec = CONTROL_MAX_AGE_DEFAULT_SEC,
		},
		.source = "xenstore",
	};
	struct daemon *d;
	int r = parse_args(&s, argc, argv);

	if (r != 0)
		return r > 0 ? 0 : 2;
	ck_log_setup(PROG, s.verbose);
	raise_nofile_limit();
	if (fit_descriptors(&s) < 0)
		return 1;
	r = daemon_new(&d, &s.cfg);
	if (r < 0) {
		log_error_errno(r, "cannot start (source %s, transport %s)", s.source, s.transport);
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
