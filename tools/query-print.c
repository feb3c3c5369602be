// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/ether.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "member-json.h"
#include "number.h"
#include "peer.h"
#include "query-fastpath.h"
#include "query-print.h"

/* Xen's first reserved domid (DOMID_FIRST_RESERVED): every guest's domid is below it. */
#define DOMID_LIMIT 0x7ff0

static int put_json(struct json_object *o, FILE *out)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	int r = s ? (fprintf(out, "%s\n", s) < 0 ? -EIO : 0) : -ENOMEM;

	json_object_put(o);
	return r;
}

struct collect {
	struct ck_memberset *set;
	bool json;
	const struct fastpath_view *fp;
	FILE *out;
};

/*
 * The text form's columns stay where scripts read them (the lab reads NAME and TX_PKTS by
 * position, and FASTPATH as the last): SOURCE, where ADDRESS came from, follows TX_BYTES and
 * comes before the fast path's columns.
 */
static int collect_peer(const struct ck_client_peer *p, void *userdata)
{
	struct collect *c = userdata;
	char mac[18] = "-", addr[INET6_ADDRSTRLEN] = "-";
	const char *source = "-";
	struct ck_member m;
	int r;

	if (c->json) {
		ck_peer_to_member(p, &m);
		r = ck_memberset_put(c->set, &m);
		return r < 0 ? r : 0;
	}
	if (p->n_nics) {
		ck_format_mac(p->nics[0].mac, mac);
		if (p->nics[0].n_ipv4) {
			inet_ntop(AF_INET, &p->nics[0].ipv4[0], addr, sizeof(addr));
			source = ck_addr_source_name(p->ipv4_source[0][0]);
		} else if (p->nics[0].n_ipv6) {
			inet_ntop(AF_INET6, &p->nics[0].ipv6[0], addr, sizeof(addr));
			source = ck_addr_source_name(p->ipv6_source[0][0]);
		}
	}
	/* Padded only when columns follow. */
	fprintf(c->out, "%-6u %-20.20s %-14s %-17s %-18s %10" PRIu64 " %12" PRIu64 " %-*s",
		p->domid, p->name, ck_member_state_name(p->state), mac, addr, p->tx_packets,
		p->tx_bytes, c->fp ? 12 : 0, source);
	if (c->fp) {
		const struct fastpath_peer *fp = fastpath_view_find(c->fp, p->domid);

		if (fp)
			fprintf(c->out, " %10" PRIu64 " %10" PRIu64 " %-8s", fp->tx_packets,
				fp->rx_packets, fastpath_state_name(fp->state));
		else
			fprintf(c->out, " %10s %10s %-8s", "-", "-", "-");
	}
	fputc('\n', c->out);
	return 0;
}

int query_members(struct ck_client *c, bool json, const struct fastpath_view *fp, FILE *out)
{
	struct collect col = {.json = json, .fp = fp, .out = out};
	struct json_object *arr;
	int r;

	if (!json) {
		fprintf(out, "%-6s %-20s %-14s %-17s %-18s %10s %12s %-*s%s\n", "DOMID", "NAME",
			"STATE", "MAC", "ADDRESS", "TX_PKTS", "TX_BYTES", fp ? 12 : 0, "SOURCE",
			fp ? " FP_TX_PKTS FP_RX_PKTS FASTPATH" : "");
		return ck_client_foreach(c, collect_peer, &col);
	}
	/* Through a memberset: the canonical form, sorted as cokeeperctl prints it. */
	r = ck_memberset_new(&col.set);
	if (r < 0)
		return r;
	r = ck_client_foreach(c, collect_peer, &col);
	if (r == 0)
		r = ck_members_to_json(col.set, &arr);
	if (r == 0)
		r = put_json(arr, out);
	ck_memberset_free(col.set);
	return r;
}

/* source: the looked-up address's (a name), or NULL for a MAC or domid: no "source" then. */
static struct json_object *peer_json(const struct ck_client_peer *p, const char *source)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "co_resident", json_object_new_boolean(true));
	json_object_object_add(o, "domid", json_object_new_int(p->domid));
	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "state", json_object_new_string(ck_member_state_name(p->state)));
	if (source)
		json_object_object_add(o, "source", json_object_new_string(source));
	return o;
}

/* The name of where the looked-up address came from; NULL if it is no address of p's. */
static const char *source_name(const struct ck_client_peer *p, int family, const void *addr)
{
	int source = ck_client_peer_source(p, family, addr);

	return source < 0 ? NULL : ck_addr_source_name(source);
}

int query_lookup(struct ck_client *c, const char *key, bool json, FILE *out)
{
	struct ck_client_peer peer;
	struct ether_addr mac;
	struct in_addr a4;
	struct in6_addr a6;
	const char *source = NULL;
	uint64_t domid;
	int r;

	if (inet_pton(AF_INET, key, &a4) == 1) {
		r = ck_client_lookup_ipv4(c, &a4, &peer);
		if (r == 0)
			source = source_name(&peer, AF_INET, &a4);
	} else if (inet_pton(AF_INET6, key, &a6) == 1) {
		r = ck_client_lookup_ipv6(c, &a6, &peer);
		if (r == 0)
			source = source_name(&peer, AF_INET6, &a6);
	} else if (strchr(key, ':') && ether_aton_r(key, &mac)) {
		r = ck_client_lookup_mac(c, mac.ether_addr_octet, &peer);
	} else {
		if (ck_parse_uint(key, 0, DOMID_LIMIT - 1, &domid) < 0)
			return -EINVAL;
		r = ck_client_lookup_domid(c, domid, &peer);
	}
	if (r == -ENOENT) {
		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "co_resident", json_object_new_boolean(false));
			r = put_json(o, out);
		} else {
			fprintf(out, "%s: not co-resident\n", key);
			r = 0;
		}
		return r < 0 ? r : -ENOENT;
	}
	if (r < 0)
		return r;
	if (json)
		return put_json(peer_json(&peer, source), out);
	/* The source last, as a word of its own: readers of the words before see them as before. */
	fprintf(out, "%s: co-resident, domid %u (%s, %s)%s%s\n", key, peer.domid, peer.name,
		ck_member_state_name(peer.state), source ? " source=" : "", source ? source : "");
	return 0;
}

int query_status(struct ck_client *c, bool json, FILE *out)
{
	uint64_t epoch, gen;
	uint32_t count, max;
	char hex[17];
	struct json_object *o;
	int r = ck_client_status(c, &epoch, &gen, &count, &max);

	if (r < 0)
		return r;
	/* 64-bit epochs do not survive JSON numbers in every reader: a hex string. */
	snprintf(hex, sizeof(hex), "%016" PRIx64, epoch);
	if (!json) {
		fprintf(out, "epoch %s gen %" PRIu64 ", %u of at most %u entries%s\n", hex, gen,
			count, max, epoch ? "" : " (never written by an agent)");
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "epoch", json_object_new_string(hex));
	json_object_object_add(o, "gen", json_object_new_uint64(gen));
	json_object_object_add(o, "count", json_object_new_int64(count));
	json_object_object_add(o, "max_entries", json_object_new_int64(max));
	return put_json(o, out);
}

void query_event(
	enum ck_client_event ev, const struct ck_client_peer *p, uint64_t gen, bool json, FILE *out)
{
	static const char *const names[] = {[CK_CLIENT_EVENT_SET] = "set",
		[CK_CLIENT_EVENT_DEL] = "del",
		[CK_CLIENT_EVENT_REPLACE] = "replace",
		[CK_CLIENT_EVENT_FLUSH] = "flush"};
	const char *name = (unsigned int)ev < sizeof(names) / sizeof(names[0]) && names[ev]
		? names[ev]
		: "unknown";

	if (json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string(name));
		json_object_object_add(o, "gen", json_object_new_uint64(gen));
		json_object_object_add(o, "domid", json_object_new_int(p ? p->domid : -1));
		json_object_object_add(o, "state",
			json_object_new_string(p ? ck_member_state_name(p->state) : ""));
		put_json(o, out);
	} else if (p) {
		fprintf(out, "%-8s gen %-6" PRIu64 " domid %-5u %s %s\n", name, gen, p->domid,
			ev == CK_CLIENT_EVENT_SET ? p->name : "",
			ev == CK_CLIENT_EVENT_SET ? ck_member_state_name(p->state) : "");
	} else {
		fprintf(out, "%-8s gen %" PRIu64 "\n", name, gen);
	}
	fflush(out);
}
