// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated hypervisor, for the demo and the tests on machines without Xen.  Domains
 * live in an in-memory xenstore (fakexen.c) that the real scan reads; the control verbs
 * below change it the way the toolstack would and fire the same watches Xen does.
 *   sim-create  {"name":"web","ip":["10.0.0.2"],"mac":"00:16:3e:…","uuid":"…"}  → {"domid":N}
 *               (and "bridge":"xenbr1", "rate":"10Mb/s": the vif's bridge=, rate=)
 *   sim-vif     {"name":"web","bridge":"xenbr1","rate":"10Mb/s"}  its first vif moved to
 *               another bridge, or its rate set (none: taken away), as a toolstack would
 *   sim-claim   {"name":"web","ipv4":["10.0.0.9"],"ipv6":[…]}  what the guest writes in
 *               its own attr/vif/0 (claimed addresses)
 *   sim-destroy {"name":"web"} or {"domid":N}
 *   sim-migrate {"name":"web","pause_ms":50}   localhost live migration: an "--incoming"
 *               twin appears paused, the source suspends (migrating-out), then after
 *               pause_ms the twin takes over and the source is destroyed
 *   sim-fire    {"token":"@releaseDomain"}     a spurious watch fire
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <json-c/json.h>
#include <utlist.h>

#include "reply.h"
#include "conflicts.h"
#include "source.h"
#include "fakexen.h"
#include "logging.h"
#include "member-json.h"

/* A migration's pause is tens of ms: sd-event's default accuracy (250 ms) would swamp it. */
#define SIM_TIMER_ACCURACY_USEC 1000

struct migration {
	struct migration *prev, *next;
	struct sim_source *src;
	uint16_t from, to;
	sd_event_source *timer;
};

struct sim_source {
	struct source base;
	struct fakexen *fx;
	struct migration *migrations;
	unsigned int mac_counter;
	struct scan_cache *cache;
};

static void on_fire(const char *path, void *userdata)
{
	struct sim_source *src = userdata;

	/* As the xenstore source does: the fire says which domain to read again. */
	if (scan_cache_watch_fired(src->cache, path))
		source_changed(&src->base);
}

static int sim_scan(struct source *base, struct ck_memberset *out, struct scan_result *result)
{
	struct sim_source *src = (struct sim_source *)base;
	struct scan_options opts = source_scan_options(base);
	struct host host = fakexen_host(src->fx);

	return scan_host_changes(&host, &opts, src->cache, out, result);
}

static const char *get_str(struct json_object *req, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(req, key, &v) && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : NULL;
}

static struct json_object *ok_domid(int domid)
{
	struct json_object *o = reply_ok();

	if (domid >= 0)
		json_object_object_add(o, "domid", json_object_new_int(domid));
	return o;
}

/* The domain a request names by "domid" or by "name"; -ENOENT if none (dom0 is none). */
static int find_domain(struct sim_source *src, struct json_object *req)
{
	const char *name = get_str(req, "name");
	uint8_t uuid[CK_UUID_LEN];
	char n[CK_NAME_MAX + 1];
	struct json_object *v;
	int64_t domid;

	if (json_object_object_get_ex(req, "domid", &v) && json_object_is_type(v, json_type_int))
		domid = json_object_get_int64(v);
	else if (name)
		domid = fakexen_find_name(src->fx, name);
	else
		return -EINVAL;
	if (domid > 0 && domid < CK_DOMID_LIMIT && fakexen_domain(src->fx, domid, uuid, n) == 0)
		return (int)domid;
	return -ENOENT;
}

/* The vif's bridge= and rate= as the request gives them; an error reply if they are bad. */
static struct json_object *nic_network(struct json_object *req, struct fake_nic *nic)
{
	nic->bridge = get_str(req, "bridge");
	nic->rate = get_str(req, "rate");
	if (nic->bridge && (!*nic->bridge || strlen(nic->bridge) > CK_BRIDGE_MAX ||
			    !ck_printable(nic->bridge, strlen(nic->bridge))))
		return reply_error("\"bridge\" must be 1..%d printable characters", CK_BRIDGE_MAX);
	if (nic->rate && (!*nic->rate || !ck_printable(nic->rate, strlen(nic->rate))))
		return reply_error("\"rate\" must be printable and not empty");
	return NULL;
}

static struct json_object *sim_create(struct sim_source *src, struct json_object *req)
{
	const char *name = get_str(req, "name"), *mac = get_str(req, "mac");
	char ips[CK_ADDRS_MAX * 2 * 48] = "", mac_buf[18];
	struct json_object *ip_arr;
	uint8_t uuid[CK_UUID_LEN], parsed[CK_MAC_LEN];
	struct json_object *bad;
	struct fake_nic nic;
	uint16_t domid;
	int r;

	if (!name || !ck_name_valid(name, strlen(name)) || strstr(name, "--"))
		return reply_error("sim-create needs a \"name\" of 1..%d printable characters", CK_NAME_MAX);
	if (find_domain(src, req) >= 0)
		return reply_error("a domain named '%s' exists", name);
	if (mac && (ck_parse_mac(mac, parsed) < 0 || !ck_mac_valid(parsed)))
		return reply_error("bad mac '%.20s'", mac);
	if (!mac) {
		uint8_t m[CK_MAC_LEN] = { 0x00, 0x16, 0x3e, 0x5f, 0, 0 };

		src->mac_counter++;
		m[4] = src->mac_counter >> 8;
		m[5] = src->mac_counter;
		ck_format_mac(m, mac_buf);
		mac = mac_buf;
	}
	if (json_object_object_get_ex(req, "ip", &ip_arr)) {
		size_t n = json_object_is_type(ip_arr, json_type_array) ?
				   json_object_array_length(ip_arr) : SIZE_MAX;

		if (n > CK_ADDRS_MAX)
			return reply_error("\"ip\" must be an array of at most %d addresses", CK_ADDRS_MAX);
		for (size_t i = 0; i < n; i++) {
			struct json_object *a = json_object_array_get_idx(ip_arr, i);
			const char *s = json_object_is_type(a, json_type_string) ?
						json_object_get_string(a) : "";
			uint32_t v4;
			uint8_t v6[CK_IPV6_LEN];

			if (ck_parse_ipv4(s, &v4) < 0 && ck_parse_ipv6(s, v6) < 0)
				return reply_error("bad address '%.46s'", s);
			if (*ips)
				strcat(ips, " ");
			strncat(ips, s, 46);
		}
	}
	if (get_str(req, "uuid")) {
		/* As xl's uuid=: an orchestrator that re-creates a domain under its identity. */
		if (ck_parse_uuid(get_str(req, "uuid"), uuid) < 0)
			return reply_error("bad uuid '%.40s'", get_str(req, "uuid"));
	} else {
		if (getrandom(uuid, sizeof(uuid), 0) != sizeof(uuid))
			return reply_error("no randomness for a uuid");
		uuid[6] = (uuid[6] & 0x0f) | 0x40;	/* a version 4 uuid, as xl makes */
		uuid[8] = (uuid[8] & 0x3f) | 0x80;
	}
	nic = (struct fake_nic){ .mac = mac, .ip = *ips ? ips : NULL };
	if ((bad = nic_network(req, &nic)))
		return bad;
	r = fakexen_create(src->fx, name, uuid, &nic, 1, false, &domid);
	if (r < 0)
		return reply_error("cannot create: %s", strerror(-r));
	log_info("sim: created %s as domid %u", name, domid);
	return ok_domid(domid);
}

static struct json_object *sim_destroy(struct sim_source *src, struct json_object *req)
{
	int domid = find_domain(src, req);

	if (domid < 0)
		return reply_error("no such domain");
	fakexen_destroy(src->fx, domid);
	log_info("sim: destroyed domid %d", domid);
	return ok_domid(domid);
}

static void migration_free(struct migration *mig)
{
	DL_DELETE(mig->src->migrations, mig);
	sd_event_source_disable_unref(mig->timer);
	free(mig);
}

static int on_handover(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct migration *mig = userdata;

	fakexen_migrate_handover(mig->src->fx, mig->from, mig->to);
	fakexen_destroy(mig->src->fx, mig->from);
	log_info("sim: migration of domid %u done, now domid %u", mig->from, mig->to);
	migration_free(mig);
	return 0;
}

/* The copy of a domain's NICs as its vif backend keys say, for the incoming twin. */
static unsigned int copy_nics(struct sim_source *src, uint16_t domid, struct fake_nic *nics,
			      char bufs[][4][CK_ADDRS_MAX * 48])
{
	struct host host = fakexen_host(src->fx);
	unsigned int n = 0, len;

	for (unsigned int dev = 0; dev < CK_NICS_MAX; dev++) {
		char path[96], *mac, *ip;

		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/mac", domid, dev);
		mac = host.ops->read(host.ctx, path, &len);
		if (!mac)
			break;
		snprintf(bufs[n][0], sizeof(bufs[n][0]), "%s", mac);
		free(mac);
		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/ip", domid, dev);
		ip = host.ops->read(host.ctx, path, &len);
		snprintf(bufs[n][1], sizeof(bufs[n][1]), "%s", ip ? ip : "");
		free(ip);
		nics[n] = (struct fake_nic){ .mac = bufs[n][0], .ip = *bufs[n][1] ? bufs[n][1] : NULL };
		for (unsigned int k = 0; k < 2; k++) {
			const char *leaf = k ? "rate" : "bridge";
			char *v;

			snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/%s", domid,
				 dev, leaf);
			v = host.ops->read(host.ctx, path, &len);
			snprintf(bufs[n][2 + k], sizeof(bufs[n][2 + k]), "%s", v ? v : "");
			free(v);
		}
		nics[n].bridge = *bufs[n][2] ? bufs[n][2] : NULL;
		nics[n].rate = *bufs[n][3] ? bufs[n][3] : NULL;
		n++;
	}
	return n;
}

static struct json_object *sim_vif(struct sim_source *src, struct json_object *req)
{
	char bufs[CK_NICS_MAX][4][CK_ADDRS_MAX * 48];
	struct fake_nic nics[CK_NICS_MAX], nic = { 0 };
	int domid = find_domain(src, req);
	struct json_object *bad;
	int r;

	if (domid < 0)
		return reply_error("no such domain");
	if (copy_nics(src, domid, nics, bufs) == 0)
		return reply_error("domid %d has no vif", domid);
	if ((bad = nic_network(req, &nic)))
		return bad;
	if (!nic.bridge)
		nic.bridge = nics[0].bridge ?: "xenbr0";
	r = fakexen_move_vif(src->fx, domid, 0, nic.bridge, nic.rate);
	if (r < 0)
		return reply_error("cannot change the vif: %s", strerror(-r));
	log_info("sim: domid %d's vif on bridge %s, %s", domid, nic.bridge,
		 nic.rate ? "rate-limited" : "no rate limit");
	return ok_domid(domid);
}

/*
 * What a guest agent inside the domain writes about itself (xen-guest-agent's
 * attr/vif/0/ipv4/<n>, ipv6/<n>): the guest's own keys, which cokeeperd only shows unless
 * told to trust them.  Each write fires the member's attr watch, as xenstored would.
 */
static struct json_object *sim_claim(struct sim_source *src, struct json_object *req)
{
	static const char *const families[] = { "ipv4", "ipv6" };
	int domid = find_domain(src, req);
	char path[96];

	if (domid < 0)
		return reply_error("no such domain");
	for (unsigned int f = 0; f < 2; f++) {
		struct json_object *list;

		if (!json_object_object_get_ex(req, families[f], &list))
			continue;
		if (!json_object_is_type(list, json_type_array) ||
		    json_object_array_length(list) > CK_ADDRS_MAX)
			return reply_error("\"%s\" must be an array of at most %d strings",
					   families[f], CK_ADDRS_MAX);
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *a = json_object_array_get_idx(list, i);

			if (!json_object_is_type(a, json_type_string))
				return reply_error("\"%s\" must hold strings", families[f]);
			/* Written as given: a guest may write anything there. */
			snprintf(path, sizeof(path), "/local/domain/%d/attr/vif/0/%s/%zu", domid,
				 families[f], i);
			if (fakexen_write(src->fx, path, json_object_get_string(a)) < 0)
				return reply_error("cannot write %s", path);
			fakexen_fire(src->fx, path);
		}
	}
	return ok_domid(domid);
}

static struct json_object *sim_migrate(struct sim_source *src, struct json_object *req)
{
	char bufs[CK_NICS_MAX][4][CK_ADDRS_MAX * 48];
	struct fake_nic nics[CK_NICS_MAX];
	uint8_t uuid[CK_UUID_LEN];
	char name[CK_NAME_MAX + 1];
	struct migration *mig;
	struct json_object *v;
	int64_t pause_ms = 50;
	int domid = find_domain(src, req);
	uint64_t now;
	unsigned int n;
	int r;

	if (domid < 0)
		return reply_error("no such domain");
	DL_FOREACH(src->migrations, mig)
		if (mig->from == domid)
			return reply_error("domid %d is migrating already", domid);
	if (json_object_object_get_ex(req, "pause_ms", &v)) {
		pause_ms = json_object_get_int64(v);
		if (pause_ms < 0 || pause_ms > 60000)
			return reply_error("pause_ms must be 0..60000");
	}
	r = fakexen_domain(src->fx, domid, uuid, name);
	if (r < 0)
		return reply_error("cannot read domid %d", domid);
	mig = calloc(1, sizeof(*mig));
	if (!mig)
		return reply_error("out of memory");
	mig->src = src;
	mig->from = domid;

	/* The receiver's twin appears first, paused; then the sender suspends the guest. */
	n = copy_nics(src, domid, nics, bufs);
	r = fakexen_create(src->fx, name, uuid, nics, n, true, &mig->to);
	if (r == 0)
		r = fakexen_shutdown(src->fx, domid, true);
	sd_event_now(src->base.cfg.event, CLOCK_MONOTONIC, &now);
	if (r == 0)
		r = sd_event_add_time(src->base.cfg.event, &mig->timer, CLOCK_MONOTONIC,
				      now + pause_ms * 1000, SIM_TIMER_ACCURACY_USEC, on_handover,
				      mig);
	if (r < 0) {
		free(mig);
		return reply_error("cannot migrate: %s", strerror(-r));
	}
	DL_PREPEND(src->migrations, mig);
	log_info("sim: migrating %s (domid %d) to domid %u", name, domid, mig->to);
	return ok_domid(mig->to);
}

static int sim_control(struct source *base, const char *cmd, struct json_object *req,
		       struct json_object **reply)
{
	struct sim_source *src = (struct sim_source *)base;

	if (!strcmp(cmd, "sim-create"))
		*reply = sim_create(src, req);
	else if (!strcmp(cmd, "sim-vif"))
		*reply = sim_vif(src, req);
	else if (!strcmp(cmd, "sim-claim"))
		*reply = sim_claim(src, req);
	else if (!strcmp(cmd, "sim-destroy"))
		*reply = sim_destroy(src, req);
	else if (!strcmp(cmd, "sim-migrate"))
		*reply = sim_migrate(src, req);
	else if (!strcmp(cmd, "sim-fire")) {
		const char *token = get_str(req, "token");

		fakexen_fire(src->fx, token ? token : "@releaseDomain");
		*reply = ok_domid(-1);
	} else
		*reply = NULL;
	return 0;
}

static void sim_free(struct source *base)
{
	struct sim_source *src = (struct sim_source *)base;

	while (src->migrations)
		migration_free(src->migrations);
	fakexen_free(src->fx);
	scan_cache_free(src->cache);
	free(src);
}

static void sim_remerge(struct source *base, uint16_t domid)
{
	struct sim_source *src = (struct sim_source *)base;

	scan_cache_remerge(src->cache, domid);
	source_changed(base);
}

static int sim_member_as_read(struct source *base, uint16_t domid, struct ck_member *out)
{
	struct sim_source *src = (struct sim_source *)base;

	return conflicts_member_as_read(scan_cache_conflicts(src->cache), domid, out);
}

static void sim_forget(struct source *base)
{
	struct sim_source *src = (struct sim_source *)base;

	scan_cache_forget(src->cache);
}

static int sim_new(struct source **ret, const struct source_config *cfg,
		   const struct source_callbacks *cb, void *userdata)
{
	struct sim_source *src = calloc(1, sizeof(*src));
	int r;

	if (!src)
		return -ENOMEM;
	source_init(&src->base, &source_sim_ops, cfg, cb, userdata);
	r = scan_cache_new(&src->cache);
	if (r < 0) {
		free(src);
		return r;
	}
	r = fakexen_new(&src->fx, on_fire, src);
	if (r < 0) {
		scan_cache_free(src->cache);
		free(src);
		return r;
	}
	log_info("sim source: a simulated host; drive it with `cokeeperctl sim …`");
	*ret = &src->base;
	return 0;
}

const struct source_ops source_sim_ops = {
	.name = "sim",
	.new = sim_new,
	.scan = sim_scan,
	.forget = sim_forget,
	.member_as_read = sim_member_as_read,
	.remerge = sim_remerge,
	.control = sim_control,
	.free = sim_free,
};
