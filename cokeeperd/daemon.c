// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control protocol (JSON lines on the control socket, control.c; for its users,
 * cokeeper-control(7)): each request is one line of at most 4096 bytes holding one object
 * with a "cmd" key; each reply is one object with "ok".  Every line cokeeperd writes, events
 * and errors too, also has "protocol":1 (CONTROL_PROTOCOL_VERSION, added by control.c),
 * not shown below.  Who may ask what: members, guests, stats, watch and addresses are
 * read-only and open to every client the socket's mode lets in; the verbs marked admin change
 * state (or read the policy) and need the admin role (root, or a member of --admin-group).
 *   members   {"ok":true,"epoch":"…","gen":N,"members":[…]}
 *   guests    {"ok":true,"epoch":"…","gen":N,"guests":[…]}   one entry per agent session
 *   stats     {"ok":true,"counters":{…},"convergence":{"count":N,"p50_us":…,"sum_us":N,
 *             "buckets":[{"le_us":N,"count":N},…]}}  buckets: cumulative, at fixed bounds
 *   watch     {"ok":true,…members reply…} then one line per event:
 *             {"event":"delta","gen":N,"base_gen":N,"upserts":[…],"removed":[…]}
 *             {"event":"ack","channel":"vchan:7","domid":N,"gen":N,"latency_us":N}
 *             {"event":"guest-closed","channel":"vchan:7","domid":N}
 *   rescan    {"ok":true}                                     admin
 *   addresses {"domain":…} (optional) → {"ok":true,"addresses":[{"domid","name","mac",
 *             "address","source","used",("how","expires_s")},…]}: each member's used
 *             addresses with the source that won, and the orchestrator's and learned ones
 *             it does not use (another member holds them at a higher trust, or a tie),
 *             and what the guest claims in its attr/vif and does not get
 *   addresses-set {"op":"set|add|clear","domain":DOMID|NAME|UUID,("mac":…),
 *             "addresses":[…]} → {"ok":true,"domid","name","orchestrator":[…]}  admin: the
 *             orchestrator's addresses of its first NIC (or the one with mac), kept in the
 *             state file until the domain is destroyed
 *   policy    {"ok":true,"policy":{…},"text":"…"}             admin: the fast path policy
 *             (fastpath.conf(5)) as JSON and in the file's syntax
 *   policy-set {"text":"…"} → as policy                      admin: replaces it until the
 *             next reload; a text that does not parse changes nothing
 *   reload    → as policy                                     admin: the policy file read
 *             again (as SIGHUP) and a full rescan
 *   sim-*     verbs of the simulated source (source-sim.c)    admin
 * Failures: {"ok":false,"error":"…"}, for instance "'rescan' needs the admin role".  The
 * server's own limits answer the same way: "too many control clients…" (then it closes: all
 * slots taken, the read-only share taken, or the uid's), "too many watchers…" (the same
 * three), "request longer than 4096 bytes: closing" (nothing after an over-long line is read
 * as a request), "busy: out of descriptors" (then it closes).  Requests are answered in
 * order, the next read once the reply before it is sent.  A client that is not watching is
 * closed after --control-idle-timeout seconds without a request, and a read-only one
 * --control-max-age seconds after it connected; a client that does not read its replies (a
 * watcher its events) is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <systemd/sd-daemon.h>

#include "addresses.h"
#include "clock.h"
#include "control.h"
#include "convergence.h"
#include "daemon.h"
#include "event.h"
#include "fastpath-relay.h"
#include "guests.h"
#include "learn.h"
#include "logging.h"
#include "member-json.h"
#include "rescan.h"
#include "reply.h"

#define LOG_CAPACITY 4096	/* changes a reconnecting agent can catch up on without a snapshot */

struct daemon_counters {
	uint64_t scans_failed;
	uint64_t commits;		/* commits that changed something */
	uint64_t changes;		/* member-level changes */
};

struct daemon {
	sd_event *event;
	struct daemon_config cfg;
	struct ck_membership *membership;
	struct rescan *rescan;
	struct source *source;
	struct transport *transport;
	struct guests *guests;
	struct control *control;
	struct convergence convergence;
	struct fastpath_relay relay;
	struct fastpath_policy *policy;	/* the relay holds pairs to it */
	struct addresses *addresses;	/* the orchestrator's and the learned ones */
	struct learn *learn;		/* --learn: what guests' vifs show; NULL without */
	struct daemon_counters counters;
	bool ready;			/* the first full scan is committed */
	unsigned int last_conflicts;	/* duplicate uuids, MACs and addresses at the last scan */
};

static struct json_object *delta_event(const struct ck_delta *delta)
{
	struct json_object *o = json_object_new_object(), *ups = json_object_new_array(),
			   *rm = json_object_new_array();

	json_object_object_add(o, "event", json_object_new_string("delta"));
	json_object_object_add(o, "base_gen", json_object_new_int64(delta->base_gen));
	json_object_object_add(o, "gen", json_object_new_int64(delta->new_gen));
	for (size_t i = 0; i < delta->n_upserts; i++)
		json_object_array_add(ups, ck_member_to_json(&delta->upserts[i]));
	for (size_t i = 0; i < delta->n_removed; i++)
		json_object_array_add(rm, json_object_new_int(delta->removed[i]));
	json_object_object_add(o, "upserts", ups);
	json_object_object_add(o, "removed", rm);
	return o;
}

static void broadcast(struct daemon *d, struct json_object *event)
{
	control_broadcast(d->control, event);
	json_object_put(event);
}

static void on_scan(uint64_t noticed_usec, void *userdata)
{
	struct daemon *d = userdata;
	struct ck_memberset *set = NULL;
	struct scan_result result;
	struct ck_delta delta;
	int r;

	r = ck_memberset_new(&set);
	if (r == 0)
		r = d->source->ops->scan(d->source, set, &result);
	if (r < 0) {
		d->counters.scans_failed++;
		log_error_errno(r, "scan failed; membership unchanged");
		ck_memberset_free(set);
		return;
	}
	if (result.conflicts != d->last_conflicts && result.conflicts == 0)
		log_info("no conflicts any more");
	else if (result.conflicts != d->last_conflicts)
		log_warning("%u conflict%s: duplicate uuids, MACs or addresses (each address "
			    "held at one trust by two members is nobody's; `cokeeperctl addresses`)",
			    result.conflicts, result.conflicts == 1 ? "" : "s");
	d->last_conflicts = result.conflicts;
	if (result.partial)
		r = ck_membership_commit_domids(d->membership, set, result.changed,
						result.n_changed, &delta);
	else
		r = ck_membership_commit(d->membership, set, &delta);
	ck_memberset_free(set);
	if (r < 0) {
		log_error_errno(r, "cannot commit the scan");
		/* What the scan handed out is lost: the next one reads and gives everything. */
		if (d->source->ops->forget)
			d->source->ops->forget(d->source);
		return;
	}
	if (ck_delta_changes(&delta) > 0) {
		uint64_t now = ck_now_usec();

		d->counters.commits++;
		d->counters.changes += ck_delta_changes(&delta);
		log_info("gen %" PRIu64 ": %zu up, %zu gone, %zu members (%u domains, %u skipped)",
			 delta.new_gen, delta.n_upserts, delta.n_removed,
			 ck_memberset_count(d->membership->members), result.domains,
			 result.skipped);
		log_debug("gen %" PRIu64 " committed at %" PRIu64 " us, %" PRIu64
			  " us after the change was noticed (%u domains read)", delta.new_gen, now,
			  now - noticed_usec, result.read);
		convergence_commit(&d->convergence, delta.new_gen, noticed_usec);
		/*
		 * The guests first: following the members (libxl death events, name watches,
		 * vchan servers) costs xenstore round trips, which the change need not wait for.
		 */
		guests_broadcast(d->guests, &delta);
		if (control_has_watchers(d->control))
			broadcast(d, delta_event(&delta));
		for (size_t i = 0; i < delta.n_removed; i++) {
			guests_detach_domid(d->guests, delta.removed[i]);
			fastpath_relay_forget(&d->relay, delta.removed[i]);
		}
		/* A vif moved to another bridge, a rate set, a rename: its pairs again. */
		for (size_t i = 0; i < delta.n_upserts; i++)
			fastpath_relay_reauthorize(&d->relay, d->guests, delta.upserts[i].domid);
		if (d->source->ops->members_changed)
			d->source->ops->members_changed(d->source, &delta);
		if (d->transport->ops->members_changed)
			d->transport->ops->members_changed(d->transport, &delta);
	}
	/* Addresses of domains that went start their grace; the first commit shows which did. */
	addresses_committed(d->addresses, delta.n_removed > 0 || !d->ready);
	ck_delta_reset(&delta);

	if (!d->ready) {
		d->ready = true;
		log_info("ready: %zu members, epoch %016" PRIx64,
			 ck_memberset_count(d->membership->members), d->membership->epoch);
		sd_notify(0, "READY=1\nSTATUS=Serving membership");
	}
}

/* An address from elsewhere changed for domid: merged again by the next scan, asked for now. */
static void on_remerge(uint16_t domid, void *userdata)
{
	struct daemon *d = userdata;

	if (d->source->ops->remerge)
		d->source->ops->remerge(d->source, domid);
	else
		rescan_request(d->rescan);
}

/* The learning spoke's findings go to the address book. */
static void on_lease(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		     uint32_t ipv4, uint32_t lease_s, uint32_t server_id)
{
	struct daemon *d = userdata;

	addresses_lease(d->addresses, domid, mac, ipv4, lease_s);
}

static void on_nak(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN])
{
	struct daemon *d = userdata;

	addresses_nak(d->addresses, domid, mac);
}

static void on_release(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		       uint32_t ipv4)
{
	struct daemon *d = userdata;

	addresses_release(d->addresses, domid, mac, ipv4);
}

static void on_arp(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN], uint32_t ipv4)
{
	struct daemon *d = userdata;
	struct ck_addr a = ck_addr_from_ipv4(ipv4);

	addresses_neighbour(d->addresses, domid, mac, &a);
}

static void on_na(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		  const uint8_t ipv6[CK_IPV6_LEN])
{
	struct daemon *d = userdata;
	struct ck_addr a = { .v6 = 1 };

	memcpy(a.bytes, ipv6, CK_IPV6_LEN);
	addresses_neighbour(d->addresses, domid, mac, &a);
}

static int on_as_read(uint16_t domid, struct ck_member *out, void *userdata)
{
	struct daemon *d = userdata;

	if (!d->source->ops->member_as_read)
		return -EOPNOTSUPP;
	return d->source->ops->member_as_read(d->source, domid, out);
}

static void on_source_changed(void *userdata)
{
	struct daemon *d = userdata;

	rescan_request(d->rescan);
}

static int on_connected(struct ck_stream *s, void *userdata)
{
	struct daemon *d = userdata;

	return guests_attach(d->guests, s);
}

static uint32_t on_acked(const struct guest_ack *ack, void *userdata)
{
	struct daemon *d = userdata;
	uint64_t now = ck_now_usec();
	uint32_t latency = convergence_ack(&d->convergence, ack->from, ack->gen, now);
	struct json_object *o;

	log_debug("%s: gen %" PRIu64 " acked at %" PRIu64 " us, %" PRIu32 " us after noticed",
		  ack->channel, ack->gen, now, latency);
	if (!control_has_watchers(d->control))
		return latency;
	o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string("ack"));
	json_object_object_add(o, "channel", json_object_new_string(ack->channel));
	json_object_object_add(o, "domid", json_object_new_int(ack->domid));
	json_object_object_add(o, "gen", json_object_new_int64(ack->gen));
	json_object_object_add(o, "latency_us", json_object_new_int64(latency));
	broadcast(d, o);
	return latency;
}

/* A guest's fast path set-up message: the relay decides, the hub sends. */
static int on_fastpath(struct guest_fastpath *fp, void *userdata)
{
	struct daemon *d = userdata;

	return fastpath_relay_handle(&d->relay, d->guests, fp);
}

/* Whom a guest's table holds: the policy's (by default, those it may pair with). */
static bool on_sees(uint16_t viewer, const struct ck_member *m, void *userdata)
{
	struct daemon *d = userdata;
	const struct ck_member *v = ck_memberset_find(d->membership->members, viewer);

	return v && d->policy && fastpath_policy_pair(d->policy, v, m, NULL);
}

static void on_guest_closed(struct ck_stream *s, uint16_t domid, void *userdata)
{
	struct daemon *d = userdata;

	if (control_has_watchers(d->control)) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string("guest-closed"));
		json_object_object_add(o, "channel", json_object_new_string(s->label));
		json_object_object_add(o, "domid", json_object_new_int(domid));
		broadcast(d, o);
	}
	d->transport->ops->stream_closed(d->transport, s);
}

/* The control socket's commands, each answered from what it reads. */

static void add_generation(struct json_object *o, const struct ck_membership *m)
{
	char epoch[17];

	/* 64-bit epochs do not survive JSON numbers in every reader: a hex string. */
	snprintf(epoch, sizeof(epoch), "%016" PRIx64, m->epoch);
	json_object_object_add(o, "epoch", json_object_new_string(epoch));
	json_object_object_add(o, "gen", json_object_new_int64(m->gen));
}

static struct json_object *cmd_members(struct daemon *d, struct json_object *req, bool *watch)
{
	struct json_object *o = reply_ok(), *members;

	add_generation(o, d->membership);
	if (ck_members_to_json(d->membership->members, &members) < 0) {
		json_object_put(o);
		return reply_error("out of memory");
	}
	json_object_object_add(o, "members", members);
	return o;
}

static struct json_object *cmd_watch(struct daemon *d, struct json_object *req, bool *watch)
{
	*watch = true;
	return cmd_members(d, req, watch);
}

struct guests_view {
	struct json_object *arr;
	const struct ck_membership *m;
	uint64_t now;
};

static void add_session(const struct guest_session *s, void *userdata)
{
	struct guests_view *v = userdata;
	struct json_object *o = json_object_new_object();
	bool current = s->acked_epoch == v->m->epoch;
	uint64_t gen = v->m->gen;

#define FIELD(name, value) json_object_object_add(o, name, value)
	FIELD("channel", json_object_new_string(s->stream->label));
	FIELD("domid", json_object_new_int(s->domid));
	FIELD("state", json_object_new_string(guest_session_state_name(s)));
	FIELD("acked_gen", json_object_new_int64(current ? (int64_t)s->acked_gen : -1));
	FIELD("lag", json_object_new_int64(current ? (int64_t)(gen - s->acked_gen) : (int64_t)gen));
	FIELD("queued_bytes", json_object_new_int64(ck_stream_queued(s->stream)));
	FIELD("acks", json_object_new_int64(s->acks));
	FIELD("last_latency_us", json_object_new_int64(s->last_latency_usec));
	FIELD("max_latency_us", json_object_new_int64(s->max_latency_usec));
	FIELD("mean_latency_us", json_object_new_int64(s->measured_acks ?
						       s->latency_sum_usec / s->measured_acks : 0));
	FIELD("connected_s", json_object_new_double((v->now - s->connected_usec) / 1e6));
#undef FIELD
	json_object_array_add(v->arr, o);
}

static struct json_object *cmd_guests(struct daemon *d, struct json_object *req, bool *watch)
{
	struct json_object *o = reply_ok();
	struct guests_view v = {
		.arr = json_object_new_array(), .m = d->membership, .now = ck_now_usec(),
	};

	add_generation(o, d->membership);
	guests_foreach(d->guests, add_session, &v);
	json_object_object_add(o, "guests", v.arr);
	return o;
}

static struct json_object *cmd_stats(struct daemon *d, struct json_object *req, bool *watch)
{
	const struct guests_counters *g = guests_counters(d->guests);
	const struct fastpath_relay_counters *fp = &d->relay.counters;
	struct json_object *o = reply_ok(), *c = json_object_new_object(),
			   *conv = json_object_new_object(), *buckets = json_object_new_array();
	struct convergence_summary s;

	add_generation(o, d->membership);
#define COUNTER(name, value) json_object_object_add(c, name, json_object_new_int64(value))
	COUNTER("members", ck_memberset_count(d->membership->members));
	COUNTER("rescan_requests", rescan_requests(d->rescan));
	COUNTER("scans", rescan_scans(d->rescan));
	COUNTER("scans_failed", d->counters.scans_failed);
	COUNTER("commits", d->counters.commits);
	COUNTER("changes", d->counters.changes);
	COUNTER("conflicts", d->last_conflicts);
	COUNTER("watchers", control_watchers(d->control));
	COUNTER("guests", guests_count(d->guests));
	COUNTER("guests_connected", g->connected);
	COUNTER("guests_rejected", g->rejected);
	COUNTER("guests_refused", g->refused);
	COUNTER("hello_timeouts", g->hello_timeouts);
	COUNTER("hellos_coalesced", g->session.hellos_coalesced);
	COUNTER("queue_overflows", g->session.queue_overflows);
	COUNTER("lagging", g->session.lagging);
	COUNTER("catchups_sent", g->session.catchups_sent);
	COUNTER("snapshots_sent", g->session.snapshots_sent);
	COUNTER("deltas_sent", g->session.deltas_sent);
	COUNTER("fastpath_relayed", fp->relayed);
	COUNTER("fastpath_unreachable", fp->unreachable);
	COUNTER("fastpath_no_fastpath", fp->no_fastpath);
	COUNTER("fastpath_rate_limited", fp->rate_limited);
	COUNTER("fastpath_pending_limited", fp->pending_limited);
	COUNTER("fastpath_unsolicited", fp->unsolicited);
	COUNTER("fastpath_queue_full", fp->queue_full);
	COUNTER("fastpath_refused", fp->refused);
	COUNTER("fastpath_pending", fastpath_relay_pending(&d->relay, ck_now_usec()));
	COUNTER("fastpath_not_authorized", fp->not_authorized);
	COUNTER("fastpath_revoked", fp->revoked);
	COUNTER("fastpath_channels", fastpath_relay_channels(&d->relay));
	if (d->learn) {
		struct learn_counters l;

		learn_get_counters(d->learn, &l);
		COUNTER("learn_frames", l.frames);
		COUNTER("learn_events", l.events);
		COUNTER("learn_not_vif", l.not_vif);
		COUNTER("learn_ignored", l.ignored);
		COUNTER("learn_malformed", l.malformed);
		COUNTER("learn_refused", l.refused);
		COUNTER("learn_truncated", l.truncated);
		COUNTER("learn_dropped_by_kernel", l.dropped_by_kernel);
		COUNTER("learn_rogue_replies", l.rogue_replies);
	}
	{
		const struct addresses_counters *a = addresses_counters(d->addresses);

		COUNTER("addresses_leases", a->leases);
		COUNTER("addresses_renewals", a->renewals);
		COUNTER("addresses_releases", a->releases);
		COUNTER("addresses_naks", a->naks);
		COUNTER("addresses_expired", a->expired);
		COUNTER("addresses_arp_learned", a->arp_learned);
		COUNTER("addresses_arp_taken", a->arp_taken);
		COUNTER("addresses_not_member", a->not_member);
		COUNTER("addresses_orchestrator_sets", a->orchestrator_sets);
		COUNTER("addresses_dropped", a->dropped);
		COUNTER("addresses_save_failures", a->save_failures);
	}
#undef COUNTER
	json_object_object_add(o, "source", json_object_new_string(d->source->ops->name));
	json_object_object_add(o, "counters", c);
	convergence_summarize(&d->convergence, &s);
	json_object_object_add(conv, "count", json_object_new_int64(s.count));
	json_object_object_add(conv, "p50_us", json_object_new_int64(s.p50_usec));
	json_object_object_add(conv, "p90_us", json_object_new_int64(s.p90_usec));
	json_object_object_add(conv, "p99_us", json_object_new_int64(s.p99_usec));
	json_object_object_add(conv, "max_us", json_object_new_int64(s.max_usec));
	json_object_object_add(conv, "sum_us", json_object_new_int64((int64_t)s.sum_usec));
	for (unsigned int i = 0; i < CONVERGENCE_LE_N; i++) {
		struct json_object *b = json_object_new_object();

		json_object_object_add(b, "le_us", json_object_new_int64(s.le_usec[i]));
		json_object_object_add(b, "count", json_object_new_int64((int64_t)s.le_count[i]));
		json_object_array_add(buckets, b);
	}
	json_object_object_add(conv, "buckets", buckets);
	json_object_object_add(o, "convergence", conv);
	return o;
}

static struct json_object *cmd_addresses(struct daemon *d, struct json_object *req,
					 bool *watch)
{
	return addresses_show(d->addresses, req);
}

static struct json_object *cmd_addresses_set(struct daemon *d, struct json_object *req,
					     bool *watch)
{
	return addresses_change(d->addresses, req);
}

static struct json_object *cmd_rescan(struct daemon *d, struct json_object *req, bool *watch)
{
	rescan_request(d->rescan);
	return reply_ok();
}

/* The policy the relay holds pairs to from now on; what it no longer allows is closed. */
static void policy_install(struct daemon *d, struct fastpath_policy *policy, const char *why)
{
	struct fastpath_policy *old = d->policy;
	char *was = old ? fastpath_policy_format(old) : NULL, *is = fastpath_policy_format(policy);
	bool same = was && is && !strcmp(was, is);

	free(was);
	free(is);
	d->policy = policy;
	log_info("fast path policy: %s (%s)%s", fastpath_policy_origin(policy), why,
		 same ? ", the same rules" : "");
	/* The same rules (a reload of the same file) change no view and no pair. */
	if (!same) {
		/* Views first: what the relay's Closes flush goes out under the new policy. */
		guests_views_changed(d->guests);
		fastpath_relay_set_policy(&d->relay, d->guests, policy);
	} else {
		fastpath_relay_set_policy(&d->relay, NULL, policy);
	}
	fastpath_policy_free(old);
}

/*
 * The policy file, read again: a file that does not parse changes nothing (its error is
 * returned, once, for the caller to report).  A missing file is the built-in policy, unless
 * it was named on the command line.
 */
static int policy_reload(struct daemon *d, const char *why, char *err, size_t err_size)
{
	const char *path = d->cfg.fastpath_policy ?: FASTPATH_POLICY_PATH;
	struct fastpath_policy *p = NULL;
	int r;

	r = fastpath_policy_load(path, &p, err, err_size);
	if (r == -ENOENT && !d->cfg.fastpath_policy) {
		p = fastpath_policy_new();
		r = p ? 0 : -ENOMEM;
		if (!p)
			snprintf(err, err_size, "no memory for the fast path policy");
	}
	if (r < 0)
		return r;
	policy_install(d, p, why);
	return 0;
}

static struct json_object *policy_reply(const struct daemon *d)
{
	struct json_object *o = reply_ok();
	char *text = fastpath_policy_format(d->policy);

	json_object_object_add(o, "policy", fastpath_policy_to_json(d->policy));
	json_object_object_add(o, "text", text ? json_object_new_string(text) : NULL);
	free(text);
	return o;
}

static struct json_object *cmd_policy(struct daemon *d, struct json_object *req, bool *watch)
{
	return policy_reply(d);
}

/* {"text": "..."}: the whole policy, in the file's syntax, until the next reload. */
static struct json_object *cmd_policy_set(struct daemon *d, struct json_object *req,
					  bool *watch)
{
	struct fastpath_policy *p = NULL;
	struct json_object *text;
	char err[256];

	if (!json_object_object_get_ex(req, "text", &text) ||
	    !json_object_is_type(text, json_type_string))
		return reply_error("policy-set needs a \"text\": the policy in fastpath.conf's syntax");
	if (fastpath_policy_parse(json_object_get_string(text), json_object_get_string_len(text),
				  "policy-set", &p, err, sizeof(err)) < 0)
		return reply_error("%s (the policy is unchanged)", err);
	policy_install(d, p, "policy-set");
	return policy_reply(d);
}

static struct json_object *cmd_reload(struct daemon *d, struct json_object *req, bool *watch)
{
	char err[256];

	if (policy_reload(d, "reload", err, sizeof(err)) < 0) {
		log_error("reload: %s; the fast path policy is unchanged", err);
		return reply_error("%s (the policy is unchanged)", err);
	}
	if (d->source->ops->forget)
		d->source->ops->forget(d->source);
	rescan_request(d->rescan);
	return policy_reply(d);
}

/* write: the command changes state and needs the admin role. */
static const struct {
	const char *name;
	struct json_object *(*handle)(struct daemon *d, struct json_object *req, bool *watch);
	bool write;
} commands[] = {
	{ "members", cmd_members, false },
	{ "watch", cmd_watch, false },
	{ "guests", cmd_guests, false },
	{ "stats", cmd_stats, false },
	{ "rescan", cmd_rescan, true },
	{ "addresses", cmd_addresses, false },
	{ "addresses-set", cmd_addresses_set, true },
	/* Which tenants dom0 keeps apart is the operator's business: even reading it. */
	{ "policy", cmd_policy, true },
	{ "policy-set", cmd_policy_set, true },
	{ "reload", cmd_reload, true },
};

static struct json_object *needs_admin(const char *cmd)
{
	return reply_error("'%.32s' needs the admin role", cmd);
}

struct json_object *daemon_handle_request(const char *cmd, struct json_object *request,
					  const struct control_peer *peer, bool *watch,
					  void *userdata)
{
	struct daemon *d = userdata;
	struct json_object *reply = NULL;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd))
			continue;
		if (commands[i].write && !peer->admin)
			return needs_admin(cmd);
		return commands[i].handle(d, request, watch);
	}
	/*
	 * Every verb of the source changes state (sim-create …).  Which verbs it has only it
	 * knows, so a read-only client is not asked to tell a typo from a refusal.
	 */
	if (d->source->ops->control && !peer->admin)
		return needs_admin(cmd);
	if (d->source->ops->control) {
		int r = d->source->ops->control(d->source, cmd, request, &reply);

		if (r < 0 && !reply)
			reply = reply_error("%s: %s", cmd, strerror(-r));
	}
	return reply ? reply : reply_error("unknown command '%.32s'", cmd);
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	char err[256];

	log_info("SIGHUP: the fast path policy read again, and a full rescan");
	if (policy_reload(d, "SIGHUP", err, sizeof(err)) < 0)
		log_error("SIGHUP: %s; the fast path policy is unchanged", err);
	if (d->source->ops->forget)
		d->source->ops->forget(d->source);
	rescan_request(d->rescan);
	return 0;
}

static uint64_t random_epoch(void)
{
	uint64_t epoch = 0;

	/* Never 0: that is what an agent without a table sends. */
	while (epoch == 0)
		if (getrandom(&epoch, sizeof(epoch), 0) != sizeof(epoch))
			epoch = (uint64_t)ck_now_usec() * 0x9e3779b97f4a7c15ull;
	return epoch;
}

static int setup_event(struct daemon *d)
{
	static const struct ck_event_signal hup = { SIGHUP, on_hup };

	return ck_event_new(&d->event, &hup, 1, d);
}

int daemon_new(struct daemon **ret, const struct daemon_config *cfg)
{
	static const struct source_callbacks source_cb = { .changed = on_source_changed };
	static const struct transport_callbacks transport_cb = { .connected = on_connected };
	static const struct guests_callbacks guests_cb = {
		.acked = on_acked,
		.fastpath = on_fastpath,
		.closed = on_guest_closed,
		.sees = on_sees,
	};
	static const struct addresses_callbacks addresses_cb = {
		.remerge = on_remerge,
		.as_read = on_as_read,
	};
	struct source_config source_cfg = {
		.include_dom0 = cfg->include_dom0,
		.poll_interval_ms = cfg->poll_interval_ms,
		.trust_claimed = cfg->trust_guest_addresses,
		.addresses = addresses_merge,
	};
	struct transport_config transport_cfg = { .agent_socket = cfg->agent_socket };
	struct control_config control_cfg = {
		.path = cfg->control_path,
		.mode = cfg->control_mode,
		.max_clients = cfg->max_control_clients,
		.max_watchers = cfg->max_watchers,
		.max_clients_per_uid = cfg->max_control_clients_per_uid,
		.max_watchers_per_uid = cfg->max_watchers_per_uid,
		.idle_timeout_sec = cfg->control_idle_timeout_sec,
		.max_age_sec = cfg->control_max_age_sec,
		.admin_group = cfg->admin_group,
		.admin_gid = cfg->admin_gid,
	};
	struct guests_config guests_cfg = {
		.queue_limit = cfg->queue_limit,
		.max_guests = cfg->max_guests,
		.hello_timeout_usec = cfg->hello_timeout_usec,
	};
	struct daemon *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	r = setup_event(d);
	if (r < 0)
		goto err;
	r = ck_membership_new(&d->membership, random_epoch(), LOG_CAPACITY);
	if (r < 0)
		goto err;
	r = rescan_new(&d->rescan, d->event, on_scan, d);
	if (r < 0)
		goto err;
	fastpath_relay_init(&d->relay, d->membership, &cfg->fastpath);
	r = addresses_new(&d->addresses, &(struct addresses_config){
				.event = d->event,
				.membership = d->membership,
				.state_path = cfg->address_state,
				.grace_usec = cfg->address_grace_usec,
			  }, &addresses_cb, d);
	if (r < 0)
		goto err;
	r = guests_new(&d->guests, d->event, d->membership, &guests_cfg, &guests_cb, d);
	if (r < 0)
		goto err;
	{
		char err[256];

		r = policy_reload(d, "start", err, sizeof(err));
		if (r < 0) {
			log_error("%s", err);
			goto err;
		}
	}
	r = control_new(&d->control, d->event, &control_cfg, daemon_handle_request, d);
	if (r < 0)
		goto err;
	transport_cfg.event = d->event;
	transport_cfg.membership = d->membership;
	r = cfg->transport->new(&d->transport, &transport_cfg, &transport_cb, d);
	if (r < 0)
		goto err;
	if (cfg->learn) {
		static const struct learn_callbacks learn_cb = {
			.lease = on_lease, .nak = on_nak, .release = on_release,
			.arp = on_arp, .na = on_na,
		};
		unsigned int modes = (cfg->learn & DAEMON_LEARN_DHCP ? LEARN_MODE_DHCP : 0) |
				     (cfg->learn & DAEMON_LEARN_ARP ? LEARN_MODE_ARP : 0);

		r = learn_new(&d->learn, d->event, modes, &learn_cb, d);
		if (r < 0)
			goto err;	/* learn_new said which step failed */
	}
	source_cfg.event = d->event;
	source_cfg.membership = d->membership;
	source_cfg.addresses_data = d->addresses;
	r = cfg->source->new(&d->source, &source_cfg, &source_cb, d);
	if (r < 0)
		goto err;
	/* The first scan runs as soon as the loop starts; READY=1 follows its commit. */
	rescan_request(d->rescan);
	*ret = d;
	return 0;
err:
	daemon_free(d);
	return r;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	/* The guests hand their streams back to the transport as they go (none without one). */
	guests_free(d->guests);
	fastpath_relay_release(&d->relay);
	fastpath_policy_free(d->policy);
	if (d->source)
		d->source->ops->free(d->source);
	learn_free(d->learn);
	addresses_free(d->addresses);
	if (d->transport)
		d->transport->ops->free(d->transport);
	control_free(d->control);
	rescan_free(d->rescan);
	ck_membership_free(d->membership);
	sd_event_unref(d->event);
	free(d);
}

int daemon_run(struct daemon *d)
{
	return sd_event_loop(d->event);
}
