// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperctl metrics: cokeeperd's stats reply as a monitoring system scrapes it (the text,
 * metrics-text.c).  Every counter of the reply is written, one family each: those this
 * table knows with their type and help, one it does not (a newer cokeeperd's) as unknown,
 * so that nothing cokeeperd counts is left out and nothing is given a type it may not have.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cokeeperctl.h"
#include "metrics-text.h"

#define PREFIX "cokeeper_"

/* What stats' "counters" hold: most only rise (counters); a few are what is now (gauges). */
static const struct {
	const char *key;
	enum metrics_type type;
	const char *help;
} known[] = {
	{"members", METRICS_GAUGE, "Members of the host's membership now"},
	{"rescan_requests", METRICS_COUNTER, "Full rescans asked for (rescan, reload, SIGHUP)"},
	{"scans", METRICS_COUNTER, "Scans of the source"},
	{"scans_failed", METRICS_COUNTER, "Scans of the source that failed"},
	{"commits", METRICS_COUNTER, "Commits that changed the membership"},
	{"changes", METRICS_COUNTER, "Member-level changes committed"},
	{"conflicts", METRICS_GAUGE, "Duplicate uuids, MACs and addresses at the last scan"},
	{"watchers", METRICS_GAUGE, "Control socket watch streams open now"},
	{"guests", METRICS_GAUGE, "Agent sessions now"},
	{"guests_connected", METRICS_COUNTER, "Agent sessions ever started"},
	{"guests_rejected", METRICS_COUNTER,
		"Agent sessions ended for a protocol error, a bad Hello or none in time"},
	{"guests_refused", METRICS_COUNTER, "Agent connections refused over the session limit"},
	{"hello_timeouts", METRICS_COUNTER, "Agent sessions rejected for no Hello in time"},
	{"hellos_coalesced", METRICS_COUNTER, "Resync Hellos folded into one already pending"},
	{"queue_overflows", METRICS_COUNTER, "Agent queues that overflowed (a snapshot follows)"},
	{"lagging", METRICS_COUNTER, "Times an agent was found not taking its queue"},
	{"catchups_sent", METRICS_COUNTER, "Merged deltas sent to lagging agents"},
	{"snapshots_sent", METRICS_COUNTER, "Snapshots sent to agents"},
	{"deltas_sent", METRICS_COUNTER, "Deltas sent to agents"},
	{"fastpath_relayed", METRICS_COUNTER, "Fast path messages relayed"},
	{"fastpath_unreachable", METRICS_COUNTER,
		"Fast path messages not delivered: no running member with a session there"},
	{"fastpath_no_fastpath", METRICS_COUNTER,
		"Fast path messages not delivered: the destination announced no fast path"},
	{"fastpath_rate_limited", METRICS_COUNTER,
		"Fast path messages not delivered: over the sender's budget"},
	{"fastpath_pending_limited", METRICS_COUNTER, "Fast path offers refused: too many wait"},
	{"fastpath_unsolicited", METRICS_COUNTER, "Fast path accepts refused: no such offer waits"},
	{"fastpath_queue_full", METRICS_COUNTER,
		"Fast path messages not delivered: the destination's queue was full"},
	{"fastpath_refused", METRICS_COUNTER,
		"Fast path messages refused: wrong direction or to itself"},
	{"fastpath_pending", METRICS_GAUGE, "Fast path offers waiting for an accept now"},
	{"fastpath_not_authorized", METRICS_COUNTER,
		"Fast path offers and accepts between a pair the policy keeps apart"},
	{"fastpath_revoked", METRICS_COUNTER, "Fast path channels closed: the policy revoked them"},
	{"fastpath_channels", METRICS_GAUGE, "Fast path channels open now"},
	{"learn_frames", METRICS_COUNTER, "Frames read by address learning"},
	{"learn_events", METRICS_COUNTER, "Address learning events delivered"},
	{"learn_not_vif", METRICS_COUNTER, "Learned frames on an interface that is no vif"},
	{"learn_ignored", METRICS_COUNTER, "Learned frames on a vif with nothing to learn"},
	{"learn_malformed", METRICS_COUNTER, "Learned frames that do not parse"},
	{"learn_refused", METRICS_COUNTER, "Learned frames that parse but cannot be so"},
	{"learn_truncated", METRICS_COUNTER, "Learned frames too long to parse"},
	{"learn_dropped_by_kernel", METRICS_COUNTER,
		"Frames the kernel dropped: learning's receive buffer was full"},
	{"learn_rogue_replies", METRICS_COUNTER, "DHCP replies a guest sent, and replies to them"},
	{"addresses_leases", METRICS_COUNTER, "DHCP leases that changed a MAC's address"},
	{"addresses_renewals", METRICS_COUNTER, "DHCP leases that only moved an expiry"},
	{"addresses_releases", METRICS_COUNTER, "DHCP releases that dropped an address"},
	{"addresses_naks", METRICS_COUNTER, "DHCP NAKs that voided a lease"},
	{"addresses_expired", METRICS_COUNTER, "Learned addresses whose lease ran out"},
	{"addresses_arp_learned", METRICS_COUNTER, "First addresses learned from ARP or NDP"},
	{"addresses_arp_taken", METRICS_COUNTER,
		"ARP or NDP for an address another MAC learned first"},
	{"addresses_not_member", METRICS_COUNTER,
		"Learned events for a MAC that is not that vif's member"},
	{"addresses_orchestrator_sets", METRICS_COUNTER,
		"Orchestrator requests that changed an address"},
	{"addresses_dropped", METRICS_COUNTER, "Address entries of domains that went"},
	{"addresses_save_failures", METRICS_COUNTER, "State file writes that failed"},
};

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

/* A count from the reply: negative or not a number is 0 (the reply is cokeeperd's, trusted). */
static uint64_t get_u64(struct json_object *o, const char *key)
{
	int64_t v = json_object_get_int64(get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* Whether an unknown counter KEY would name, or end like, a family this tool writes. */
static bool clashes(const char *key)
{
	static const char *const taken[] = {"daemon", "generation", "convergence_seconds",
		"convergence_max_seconds"};
	static const char *const suffixes[] = {"_total", "_count", "_sum", "_bucket", "_info",
		"_created"};
	size_t n = strlen(key);

	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (!strncmp(key, taken[i], strlen(taken[i])))
			return true;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t s = strlen(suffixes[i]);

		if (n >= s && !strcmp(key + n - s, suffixes[i]))
			return true;
	}
	return false;
}

static void put_counters(struct metrics_out *m, struct json_object *counters)
{
	char name[128], help[160];

	json_object_object_foreach(counters, key, val)
	{
		enum metrics_type type = METRICS_UNKNOWN;
		const char *h = NULL;
		int64_t v = json_object_get_int64(val);

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			if (!strcmp(key, known[i].key)) {
				type = known[i].type;
				h = known[i].help;
			}
		}
		/* A key that is no metric name (a newer cokeeperd's, and bad) is left out, and so
		 * is an unknown one whose family would clash with another's: one clash makes a
		 * scraper refuse the whole text. */
		if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(key))
			continue;
		if (type == METRICS_UNKNOWN && clashes(key))
			continue;
		if (!h) {
			snprintf(help, sizeof(help),
				"cokeeperd's %s (not known to this cokeeperctl)", key);
			h = help;
		}
		snprintf(name, sizeof(name), PREFIX "%s", key);
		metrics_family(m, name, type, NULL, h);
		metrics_u64(m, NULL, NULL, v > 0 ? (uint64_t)v : 0);
	}
}

/* The convergence histogram: its buckets are cumulative already, +Inf is the count. */
static void put_convergence(struct metrics_out *m, struct json_object *conv)
{
	struct json_object *buckets = get(conv, "buckets");
	char le[32];

	metrics_family(m, PREFIX "convergence_seconds", METRICS_HISTOGRAM, "seconds",
		"From cokeeperd noticing a membership change to each guest's Ack of it");
	for (size_t i = 0; buckets && i < json_object_array_length(buckets); i++) {
		struct json_object *b = json_object_array_get_idx(buckets, i);

		metrics_le(le, sizeof(le), get_u64(b, "le_us"));
		metrics_u64(
			m, "_bucket", (const char *const[]){"le", le, NULL}, get_u64(b, "count"));
	}
	metrics_u64(
		m, "_bucket", (const char *const[]){"le", "+Inf", NULL}, get_u64(conv, "count"));
	metrics_u64(m, "_count", NULL, get_u64(conv, "count"));
	metrics_usec(m, "_sum", NULL, get_u64(conv, "sum_us"));
	metrics_family(m, PREFIX "convergence_max_seconds", METRICS_GAUGE, "seconds",
		"The slowest guest Ack since cokeeperd started");
	metrics_usec(m, NULL, NULL, get_u64(conv, "max_us"));
}

int ctl_metrics_print(struct json_object *stats, enum metrics_format format, FILE *out)
{
	struct json_object *counters = get(stats, "counters"), *conv = get(stats, "convergence");
	struct metrics_out m;
	const char *src = json_object_get_string(get(stats, "source"));
	const char *epoch = json_object_get_string(get(stats, "epoch"));

	metrics_begin(&m, out, format);
	metrics_family(&m, PREFIX "daemon", METRICS_INFO, NULL,
		"cokeeperd's source and membership epoch (new at each start)");
	metrics_u64(&m, NULL,
		(const char *const[]){"source", src ? src : "", "epoch", epoch ? epoch : "", NULL},
		1);
	metrics_family(&m, PREFIX "generation", METRICS_GAUGE, NULL,
		"The membership's generation (within its epoch)");
	metrics_u64(&m, NULL, NULL, get_u64(stats, "gen"));
	if (counters && json_object_is_type(counters, json_type_object))
		put_counters(&m, counters);
	if (conv && json_object_is_type(conv, json_type_object))
		put_convergence(&m, conv);
	return metrics_end(&m);
}
