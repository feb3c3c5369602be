// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket's "addresses" and "addresses-set" (addresses.h): what each member
 * uses and from where, and the orchestrator's requests, checked here before the book sees
 * them.
 */
#include <errno.h>
#include <string.h>

#include "addresses-impl.h"
#include "clock.h"
#include "logging.h"
#include "member-json.h"
#include "reply.h"

struct domain_query {
	const char *text;
	long domid;
	bool by_uuid;
	uint8_t uuid[CK_UUID_LEN];
	const struct ck_member *found;
};

static void match_domain(const struct ck_member *m, void *userdata)
{
	struct domain_query *q = userdata;

	if (q->found)
		return;
	if ((q->domid >= 0 && m->domid == q->domid) ||
	    (q->by_uuid && !memcmp(m->uuid, q->uuid, CK_UUID_LEN)) ||
	    (q->domid < 0 && !q->by_uuid && !strcmp(m->name, q->text)))
		q->found = m;
}

/* A member by domid, uuid or name; NULL if none. */
static const struct ck_member *find_domain(const struct addresses *a, const char *text)
{
	struct domain_query q = { .text = text, .domid = -1 };
	char *end;

	if (text[0] >= '0' && text[0] <= '9' && strlen(text) <= 5) {
		q.domid = strtol(text, &end, 10);
		if (*end)
			q.domid = -1;
	}
	q.by_uuid = q.domid < 0 && ck_parse_uuid(text, q.uuid) == 0;
	ck_memberset_foreach(a->cfg.membership->members, match_domain, &q);
	return q.found;
}

static bool nic_uses(const struct ck_member *m, const struct ck_addr *addr)
{
	for (unsigned int k = 0; k < m->n_nics; k++) {
		const struct ck_nic *nic = &m->nics[k];

		for (unsigned int i = 0; !addr->v6 && i < nic->n_ipv4; i++)
			if (nic->ipv4[i] == ck_addr_ipv4(addr))
				return true;
		for (unsigned int i = 0; addr->v6 && i < nic->n_ipv6; i++)
			if (!memcmp(nic->ipv6[i], addr->bytes, CK_IPV6_LEN))
				return true;
	}
	return false;
}

static struct json_object *entry(const struct ck_member *m, const uint8_t *mac,
				 const struct ck_addr *addr, const char *source, bool used)
{
	struct json_object *o = json_object_new_object();
	char s[46];

	json_object_object_add(o, "domid", json_object_new_int(m->domid));
	json_object_object_add(o, "name", json_object_new_string(m->name));
	if (mac) {
		ck_format_mac(mac, s);
		json_object_object_add(o, "mac", json_object_new_string(s));
	}
	ck_addr_format(addr, s);
	json_object_object_add(o, "address", json_object_new_string(s));
	json_object_object_add(o, "source", json_object_new_string(source));
	json_object_object_add(o, "used", json_object_new_boolean(used));
	return o;
}

struct show {
	struct addresses *a;
	const struct ck_member *only;
	struct json_object *arr;
	uint64_t now;
};

static void show_learned(const uint8_t mac[CK_MAC_LEN], const struct ck_addr *addr,
			 enum ck_learned_how how, uint64_t expires, void *userdata)
{
	struct show *s = userdata;
	const struct ck_member *m = s->only;
	struct json_object *o;

	/* One it uses is listed already, with the source that won. */
	if (!addresses_has_mac(m, mac) || nic_uses(m, addr))
		return;
	o = entry(m, mac, addr, "learned", false);
	json_object_object_add(o, "how", json_object_new_string(ck_learned_how_name(how)));
	if (expires != UINT64_MAX)
		json_object_object_add(o, "expires_s", json_object_new_int64(
			expires > s->now ? (expires - s->now) / 1000000 : 0));
	json_object_array_add(s->arr, o);
}

/* One member's: what it uses (with sources), and what the book has that it does not use. */
static void show_member(const struct ck_member *m, void *userdata)
{
	struct show *s = userdata;
	struct ck_addr got[2 * CK_ADDRS_MAX];
	struct show one = *s;
	struct ck_member read;

	if (s->only && s->only != m)
		return;
	for (unsigned int k = 0; k < m->n_nics; k++) {
		const struct ck_nic *nic = &m->nics[k];

		for (unsigned int i = 0; i < nic->n_ipv4; i++) {
			struct ck_addr addr = ck_addr_from_ipv4(nic->ipv4[i]);

			json_object_array_add(s->arr, entry(m, nic->mac, &addr,
				ck_addr_source_name(nic->ipv4_source[i]), true));
		}
		for (unsigned int i = 0; i < nic->n_ipv6; i++) {
			struct ck_addr addr = { .v6 = 1 };

			memcpy(addr.bytes, nic->ipv6[i], CK_IPV6_LEN);
			json_object_array_add(s->arr, entry(m, nic->mac, &addr,
				ck_addr_source_name(nic->ipv6_source[i]), true));
		}
	}
	/* The orchestrator's and the learned ones it does not use (held higher elsewhere, a tie). */
	for (int k = -1; k < (int)m->n_nics; k++) {
		size_t n = ck_addrbook_get(s->a->book, m->uuid, k < 0 ? NULL : m->nics[k].mac, got);

		for (size_t i = 0; i < n; i++)
			if (!nic_uses(m, &got[i]))
				json_object_array_add(s->arr, entry(m, k < 0 ? NULL : m->nics[k].mac,
								    &got[i], "orchestrator", false));
	}
	one.only = m;
	ck_addrbook_foreach_learned(s->a->book, show_learned, &one);
	/* What the guest claims and does not get: shown, for the operator to judge. */
	if (s->a->cb.as_read && s->a->cb.as_read(m->domid, &read, s->a->userdata) == 0)
		for (unsigned int k = 0; k < read.n_nics; k++) {
			const struct ck_nic *nic = &read.nics[k];

			for (unsigned int i = 0; i < nic->n_ipv4 + nic->n_ipv6; i++) {
				bool v6 = i >= nic->n_ipv4;
				unsigned int j = v6 ? i - nic->n_ipv4 : i;
				struct ck_addr addr = v6 ? (struct ck_addr){ .v6 = 1 }
							 : ck_addr_from_ipv4(nic->ipv4[j]);

				if ((v6 ? nic->ipv6_source[j] : nic->ipv4_source[j]) != CK_ADDR_CLAIMED)
					continue;
				if (v6)
					memcpy(addr.bytes, nic->ipv6[j], CK_IPV6_LEN);
				if (!nic_uses(m, &addr))
					json_object_array_add(s->arr, entry(m, nic->mac, &addr,
									    "claimed", false));
			}
		}
}

struct json_object *addresses_show(struct addresses *a, struct json_object *req)
{
	struct json_object *domain = json_object_object_get(req, "domain"), *o;
	struct show s = { .a = a, .arr = json_object_new_array(), .now = ck_now_usec() };

	if (domain) {
		if (!json_object_is_type(domain, json_type_string) ||
		    !(s.only = find_domain(a, json_object_get_string(domain)))) {
			json_object_put(s.arr);
			return reply_error("no member '%.64s' (a domid, name or uuid)",
					   json_object_get_string(domain));
		}
	}
	ck_memberset_foreach(a->cfg.membership->members, show_member, &s);
	o = reply_ok();
	json_object_object_add(o, "addresses", s.arr);
	return o;
}

/* The request's addresses: strings, each an address a NIC may hold. */
static struct json_object *parse_addresses(struct json_object *list, struct ck_addr *v,
					   size_t *n)
{
	size_t len;

	*n = 0;
	if (!list)
		return NULL;
	if (!json_object_is_type(list, json_type_array))
		return reply_error("\"addresses\" must be a list of addresses");
	len = json_object_array_length(list);
	if (len > 2 * CK_ADDRS_MAX)
		return reply_error("at most %u addresses of each family per NIC", CK_ADDRS_MAX);
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (!json_object_is_type(e, json_type_string) ||
		    ck_addr_parse(json_object_get_string(e), &v[i]) < 0)
			return reply_error("'%.64s' is not an address a NIC may hold",
					   json_object_get_string(e));
	}
	*n = len;
	return NULL;
}

/* What the domain's NIC now has from the orchestrator; the commit that uses it follows. */
static struct json_object *change_reply(const struct ck_member *m, const struct ck_addr *v,
					size_t n)
{
	struct json_object *o = reply_ok(), *list = json_object_new_array();
	char s[46];

	json_object_object_add(o, "domid", json_object_new_int(m->domid));
	json_object_object_add(o, "name", json_object_new_string(m->name));
	for (size_t i = 0; i < n; i++) {
		ck_addr_format(&v[i], s);
		json_object_array_add(list, json_object_new_string(s));
	}
	json_object_object_add(o, "orchestrator", list);
	return o;
}

struct json_object *addresses_change(struct addresses *a, struct json_object *req)
{
	struct json_object *op = json_object_object_get(req, "op"),
			   *domain = json_object_object_get(req, "domain"),
			   *mac_arg = json_object_object_get(req, "mac"), *err;
	struct ck_addr v[2 * CK_ADDRS_MAX], old[2 * CK_ADDRS_MAX], next[2 * CK_ADDRS_MAX];
	size_t n, n_old, n_next;
	const struct ck_member *m;
	uint8_t mac[CK_MAC_LEN], uuid[CK_UUID_LEN];
	const uint8_t *macp = NULL;
	const char *ops;
	int r;

	if (!op || !json_object_is_type(op, json_type_string))
		return reply_error("addresses-set needs an \"op\": set, add or clear");
	ops = json_object_get_string(op);
	if (strcmp(ops, "set") && strcmp(ops, "add") && strcmp(ops, "clear"))
		return reply_error("unknown op '%.16s': set, add or clear", ops);
	if (!domain || !json_object_is_type(domain, json_type_string))
		return reply_error("addresses-set needs a \"domain\": a domid, name or uuid");
	m = find_domain(a, json_object_get_string(domain));
	if (!m)
		return reply_error("no member '%.64s' (a domid, name or uuid)",
				   json_object_get_string(domain));
	if (!m->n_nics)
		return reply_error("%s has no vif: an address belongs to one", m->name);
	if (mac_arg) {
		if (!json_object_is_type(mac_arg, json_type_string) ||
		    ck_parse_mac(json_object_get_string(mac_arg), mac) < 0 ||
		    !addresses_has_mac(m, mac))
			return reply_error("'%.32s' is not a MAC of %s's NICs",
					   json_object_get_string(mac_arg), m->name);
		macp = mac;
	}
	err = parse_addresses(json_object_object_get(req, "addresses"), v, &n);
	if (err)
		return err;
	if (strcmp(ops, "clear") && n == 0)
		return reply_error("'%s' needs \"addresses\"", ops);

	memcpy(uuid, m->uuid, CK_UUID_LEN);
	if (!strcmp(ops, "clear") && !macp) {
		/* Every NIC's, the first's and those set by MAC alike. */
		if (!ck_addrbook_clear(a->book, uuid))
			return change_reply(m, NULL, 0);
		a->counters.orchestrator_sets++;
		log_info("%s (domid %u): the orchestrator's addresses cleared", m->name, m->domid);
		addresses_remerge_where(a, uuid, NULL);
		r = addresses_save(a);
		if (r < 0) {
			log_error_errno(r, "cannot write %s", a->cfg.state_path);
			return reply_error("cleared, but cannot write %s: %s; a restart would bring "
					   "them back", a->cfg.state_path, strerror(-r));
		}
		return change_reply(m, NULL, 0);
	}
	n_old = ck_addrbook_get(a->book, uuid, macp, old);
	n_next = 0;
	if (!strcmp(ops, "add")) {
		memcpy(next, old, n_old * sizeof(*old));
		n_next = n_old;
	}
	for (size_t i = 0; strcmp(ops, "clear") && i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < n_next && !dup; j++)
			dup = !memcmp(&next[j], &v[i], sizeof(v[i]));
		if (dup)
			continue;
		if (n_next == 2 * CK_ADDRS_MAX)
			return reply_error("at most %u addresses of each family per NIC",
					   CK_ADDRS_MAX);
		next[n_next++] = v[i];
	}
	r = ck_addrbook_set(a->book, uuid, macp, next, n_next);
	if (r == -E2BIG)
		return reply_error("at most %u addresses of each family per NIC", CK_ADDRS_MAX);
	if (r < 0)
		return reply_error("out of memory");
	r = addresses_save(a);
	if (r < 0) {
		log_error_errno(r, "cannot write %s", a->cfg.state_path);
		ck_addrbook_set(a->book, uuid, macp, old, n_old);	/* fits: it did */
		return reply_error("cannot write %s: %s; nothing changed", a->cfg.state_path,
				   strerror(-r));
	}
	a->counters.orchestrator_sets++;
	log_info("%s (domid %u): the orchestrator's addresses %s (%zu now)", m->name, m->domid,
		 ops, n_next);
	addresses_remerge_where(a, uuid, NULL);
	return change_reply(m, next, n_next);
}
