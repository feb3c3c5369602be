// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control-client.h"
#include "member.h"
#include "member-json.h"
#include "number.h"
#include "watch-follow.h"

/* Xen's first reserved domid (DOMID_FIRST_RESERVED): anything at or above it is no guest. */
#define DOMID_LIMIT 0x7ff0

struct follow {
	int fd;
	struct line_reader reader;
	struct follow_key key;
	bool absent;
	uint64_t after;
	bool have_members, have_guests;
	uint64_t gen;
	/* The key held at the last look: a target is set only when that turns true. */
	bool satisfied;
	bool has_target;
	uint64_t target, target_usec; /* target_usec: when its delta was read */
	/* cokeeperd's membership, kept from the deltas: member objects by decimal domid. */
	struct json_object *members;
	struct follow_guest *guests;
	size_t n_guests, cap_guests;
	/* Why the stream ended, from cokeeperd's side (follow_error). */
	char error[256];
};

/*
 * What no member can have, by the rules cokeeperd applies to every member (lib/member.c):
 * a wait for it would only time out.
 */
int follow_key_parse(struct follow_key *k, const char *s)
{
	static const uint8_t zero[4];
	struct ether_addr mac;
	uint64_t v;

	if (strspn(s, "0123456789") == strlen(s) && *s) {
		*k = (struct follow_key){.type = FOLLOW_KEY_DOMID};
		if (ck_parse_uint(s, 0, DOMID_LIMIT - 1, &v) < 0)
			return -EINVAL;
		k->domid = v;
	} else if (inet_pton(AF_INET, s, &k->ipv4) == 1) {
		k->type = FOLLOW_KEY_IPV4;
		if (!memcmp(&k->ipv4, zero, sizeof(zero)))
			return -EINVAL;
	} else if (inet_pton(AF_INET6, s, &k->ipv6) == 1) {
		k->type = FOLLOW_KEY_IPV6;
	} else if (ck_parse_uuid(s, k->uuid) == 0) {
		k->type = FOLLOW_KEY_UUID;
	} else if (strchr(s, ':') && ether_aton_r(s, &mac)) {
		k->type = FOLLOW_KEY_MAC;
		memcpy(k->mac, mac.ether_addr_octet, sizeof(k->mac));
		if (!ck_mac_valid(k->mac))
			return -EINVAL;
	} else {
		*k = (struct follow_key){.type = FOLLOW_KEY_NAME, .name = s};
		if (!ck_name_valid(s, strlen(s)))
			return -EINVAL;
	}
	return 0;
}

const char *follow_key_rule(enum follow_key_type type)
{
	switch (type) {
	case FOLLOW_KEY_DOMID:
		return "a guest's domid is below 32752";
	case FOLLOW_KEY_IPV4:
		return "a member's IPv4 address is not 0.0.0.0";
	case FOLLOW_KEY_MAC:
		return "a member's MAC is unicast and not all zeros";
	case FOLLOW_KEY_NAME:
		return "a member's name is 1 to 64 printable ASCII characters";
	default:
		return "no member can have it";
	}
}

const char *follow_key_noun(enum follow_key_type type)
{
	switch (type) {
	case FOLLOW_KEY_DOMID:
		return "with domid";
	case FOLLOW_KEY_NAME:
		return "named";
	case FOLLOW_KEY_UUID:
		return "with uuid";
	case FOLLOW_KEY_IPV4:
	case FOLLOW_KEY_IPV6:
		return "with address";
	case FOLLOW_KEY_MAC:
		return "with MAC";
	default:
		return "matching";
	}
}

static struct json_object *get(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* Does any address in the nic's list of this family equal the key? */
static bool nic_has_addr(struct json_object *nic, const struct follow_key *k)
{
	bool v4 = k->type == FOLLOW_KEY_IPV4;
	struct json_object *addrs = get(nic, v4 ? "ipv4" : "ipv6", json_type_array);
	unsigned char buf[sizeof(struct in6_addr)];

	for (size_t i = 0; addrs && i < json_object_array_length(addrs); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(addrs, i));

		if (s && inet_pton(v4 ? AF_INET : AF_INET6, s, buf) == 1 &&
			!memcmp(buf, v4 ? (const void *)&k->ipv4 : (const void *)&k->ipv6,
				v4 ? sizeof(k->ipv4) : sizeof(k->ipv6)))
			return true;
	}
	return false;
}

/* The member's fields as lib/member-json.c writes them: domid, name, nics[{mac, ipv4, ipv6}]. */
static bool member_matches(struct json_object *m, const struct follow_key *k)
{
	struct json_object *v, *nics;

	switch (k->type) {
	case FOLLOW_KEY_DOMID:
		v = get(m, "domid", json_type_int);
		return v && json_object_get_int(v) == k->domid;
	case FOLLOW_KEY_NAME:
		v = get(m, "name", json_type_string);
		return v && !strcmp(json_object_get_string(v), k->name);
	case FOLLOW_KEY_UUID: {
		uint8_t uuid[CK_UUID_LEN];

		v = get(m, "uuid", json_type_string);
		return v && ck_parse_uuid(json_object_get_string(v), uuid) == 0 &&
		       !memcmp(uuid, k->uuid, sizeof(uuid));
	}
	case FOLLOW_KEY_IPV4:
	case FOLLOW_KEY_IPV6:
	case FOLLOW_KEY_MAC:
		nics = get(m, "nics", json_type_array);
		for (size_t i = 0; nics && i < json_object_array_length(nics); i++) {
			struct json_object *nic = json_object_array_get_idx(nics, i);
			struct ether_addr mac;

			if (k->type != FOLLOW_KEY_MAC) {
				if (nic_has_addr(nic, k))
					return true;
			} else if ((v = get(nic, "mac", json_type_string)) &&
				ether_aton_r(json_object_get_string(v), &mac) &&
				!memcmp(mac.ether_addr_octet, k->mac, sizeof(k->mac))) {
				return true;
			}
		}
		return false;
	default:
		return false;
	}
}

static bool membership_satisfies(const struct follow *f)
{
	bool found = false;

	if (f->key.type == FOLLOW_KEY_GEN)
		return f->gen >= f->key.gen;
	json_object_object_foreach(f->members, domid, m)
	{
		(void)domid;
		if (member_matches(m, &f->key)) {
			found = true;
			break;
		}
	}
	return found != f->absent;
}

static bool guest_acked(const struct follow *f, const struct follow_guest *g)
{
	return f->has_target && g->acked_gen >= 0 && (uint64_t)g->acked_gen >= f->target;
}

static void set_target(struct follow *f, bool has, uint64_t target, uint64_t now_usec)
{
	f->has_target = has;
	f->target = has ? target : 0;
	f->target_usec = has ? now_usec : 0;
	/* Guests that hold it already (a wait for what is there) count as acked now. */
	for (size_t i = 0; i < f->n_guests; i++) {
		struct follow_guest *g = &f->guests[i];

		g->acked_usec = guest_acked(f, g) ? now_usec : 0;
		g->latency_us = -1;
	}
}

/*
 * After the membership changed.  The target is the generation at which the key became
 * true after the "after" generation: a change unrelated to the key, while the key holds,
 * does not move it, and the key turning false again drops it.
 */
static void update_target(struct follow *f, uint64_t now_usec)
{
	bool sat = membership_satisfies(f);

	if (!sat && f->has_target)
		set_target(f, false, 0, now_usec);
	else if (sat && !f->satisfied && !f->has_target && (f->gen > f->after || !f->after))
		/* For a generation key, the first one at or after it: the key itself. */
		set_target(f, true, f->key.type == FOLLOW_KEY_GEN ? f->key.gen : f->gen, now_usec);
	f->satisfied = sat;
}

static int set_members(struct follow *f, struct json_object *members)
{
	struct json_object *map = json_object_new_object();

	if (!map)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(members); i++) {
		struct json_object *m = json_object_array_get_idx(members, i), *d;
		char key[16];

		if (!json_object_is_type(m, json_type_object) ||
			!(d = get(m, "domid", json_type_int))) {
			json_object_put(map);
			return -EBADMSG;
		}
		snprintf(key, sizeof(key), "%d", json_object_get_int(d));
		json_object_object_add(map, key, json_object_get(m));
	}
	json_object_put(f->members);
	f->members = map;
	return 0;
}

static struct follow_guest *guest_find(struct follow *f, const char *channel)
{
	for (size_t i = 0; i < f->n_guests; i++)
		if (!strcmp(f->guests[i].channel, channel))
			return &f->guests[i];
	return NULL;
}

static int guest_add(struct follow *f, const char *channel, int domid, struct follow_guest **ret)
{
	struct follow_guest *g;

	if (f->n_guests == f->cap_guests) {
		size_t cap = f->cap_guests ? f->cap_guests * 2 : 8;

		g = reallocarray(f->guests, cap, sizeof(*g));
		if (!g)
			return -ENOMEM;
		f->guests = g;
		f->cap_guests = cap;
	}
	g = &f->guests[f->n_guests];
	*g = (struct follow_guest){.domid = domid, .acked_gen = -1, .latency_us = -1};
	g->channel = strdup(channel);
	if (!g->channel)
		return -ENOMEM;
	f->n_guests++;
	*ret = g;
	return 0;
}

/*
 * The guest an event names.  A daemon older than the "channel" field names only the domid:
 * then the live session of that domid, as "domid:N" when none is known.
 */
static int guest_of_event(struct follow *f, struct json_object *ev, struct follow_guest **ret)
{
	struct json_object *ch = get(ev, "channel", json_type_string);
	struct json_object *d = get(ev, "domid", json_type_int);
	char fallback[24];
	const char *channel;

	if (!d)
		return -EBADMSG;
	if (ch) {
		channel = json_object_get_string(ch);
	} else {
		for (size_t i = 0; i < f->n_guests; i++)
			if (!f->guests[i].closed && f->guests[i].domid == json_object_get_int(d)) {
				*ret = &f->guests[i];
				return 0;
			}
		snprintf(fallback, sizeof(fallback), "domid:%d", json_object_get_int(d));
		channel = fallback;
	}
	*ret = guest_find(f, channel);
	return *ret ? 0 : guest_add(f, channel, json_object_get_int(d), ret);
}

static int on_delta(struct follow *f, struct json_object *ev, uint64_t now_usec)
{
	struct json_object *gen = get(ev, "gen", json_type_int);
	struct json_object *ups = get(ev, "upserts", json_type_array);
	struct json_object *rm = get(ev, "removed", json_type_array);

	if (!gen || !ups || !rm)
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(ups); i++) {
		struct json_object *m = json_object_array_get_idx(ups, i), *d;
		char key[16];

		if (!json_object_is_type(m, json_type_object) ||
			!(d = get(m, "domid", json_type_int)))
			return -EBADMSG;
		snprintf(key, sizeof(key), "%d", json_object_get_int(d));
		json_object_object_add(f->members, key, json_object_get(m));
	}
	for (size_t i = 0; i < json_object_array_length(rm); i++) {
		char key[16];

		snprintf(key, sizeof(key), "%d",
			json_object_get_int(json_object_array_get_idx(rm, i)));
		json_object_object_del(f->members, key);
	}
	f->gen = json_object_get_int64(gen);
	update_target(f, now_usec);
	return 0;
}

static int on_ack(struct follow *f, struct json_object *ev, uint64_t now_usec)
{
	struct json_object *gen = get(ev, "gen", json_type_int);
	struct json_object *lat = get(ev, "latency_us", json_type_int);
	struct follow_guest *g;
	int r;

	if (!gen)
		return -EBADMSG;
	r = guest_of_event(f, ev, &g);
	if (r < 0)
		return r;
	if (json_object_get_int64(gen) > g->acked_gen)
		g->acked_gen = json_object_get_int64(gen);
	if (!g->acked_usec && guest_acked(f, g)) {
		g->acked_usec = now_usec;
		g->latency_us = lat ? json_object_get_int64(lat) : -1;
	}
	return 0;
}

static int on_guest_closed(struct follow *f, struct json_object *ev)
{
	struct follow_guest *g;
	int r = guest_of_event(f, ev, &g);

	if (r < 0)
		return r;
	g->closed = true;
	return 0;
}

/* The guests reply: every session that has joined, with what it acked before now. */
static int on_guests(struct follow *f, struct json_object *guests, uint64_t now_usec)
{
	for (size_t i = 0; i < json_object_array_length(guests); i++) {
		struct json_object *o = json_object_array_get_idx(guests, i);
		struct json_object *ch = get(o, "channel", json_type_string);
		struct json_object *d = get(o, "domid", json_type_int);
		struct json_object *st = get(o, "state", json_type_string);
		struct json_object *acked = get(o, "acked_gen", json_type_int);
		struct follow_guest *g;
		int r;

		if (!ch || !d || !st || !acked)
			return -EBADMSG;
		/* Not joined yet: it will be sent a snapshot and ack it, as an ack event. */
		if (!strcmp(json_object_get_string(st), "await-hello"))
			continue;
		g = guest_find(f, json_object_get_string(ch));
		if (!g) {
			r = guest_add(f, json_object_get_string(ch), json_object_get_int(d), &g);
			if (r < 0)
				return r;
		}
		/* An ack event read before this reply may be newer than the reply's figure. */
		if (json_object_get_int64(acked) > g->acked_gen)
			g->acked_gen = json_object_get_int64(acked);
		if (!g->acked_usec && guest_acked(f, g))
			g->acked_usec = now_usec;
	}
	f->have_guests = true;
	return 0;
}

static int on_line(struct follow *f, const char *line, size_t len, uint64_t now_usec)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *ok, *ev, *v;
	int64_t version;
	int r = -EBADMSG;

	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
		json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))
		goto out;
	r = control_check_protocol(o, &version);
	if (r == -EPROTONOSUPPORT)
		snprintf(f->error, sizeof(f->error), "cokeeperd speaks control protocol %" PRId64
			 ", this tool knows up to %d: upgrade it", version, CONTROL_PROTOCOL_KNOWN);
	if (r < 0)
		goto out;
	r = -EBADMSG;
	if ((ok = get(o, "ok", json_type_boolean)) && !json_object_get_boolean(ok)) {
		/* A refusal (too many watchers …): said as cokeeperd put it, not as a bad line. */
		v = get(o, "error", json_type_string);
		snprintf(f->error, sizeof(f->error), "cokeeperd: %.200s",
			 v ? json_object_get_string(v) : "an error without a message");
		r = -EREMOTEIO;
		goto out;
	}
	if ((ev = get(o, "event", json_type_string))) {
		const char *type = json_object_get_string(ev);

		if (!f->have_members)
			goto out;
		if (!strcmp(type, "delta"))
			r = on_delta(f, o, now_usec);
		else if (!strcmp(type, "ack"))
			r = on_ack(f, o, now_usec);
		else if (!strcmp(type, "guest-closed"))
			r = on_guest_closed(f, o);
		else
			r = 0; /* an event this tool does not know: not its business */
	} else if ((ok = get(o, "ok", json_type_boolean)) && json_object_get_boolean(ok)) {
		/* The replies come in the order asked: watch's members first, then guests. */
		if (!f->have_members) {
			struct json_object *gen = get(o, "gen", json_type_int);

			if (!gen || !(v = get(o, "members", json_type_array)))
				goto out;
			r = set_members(f, v);
			if (r == 0) {
				f->have_members = true;
				f->gen = json_object_get_int64(gen);
				update_target(f, now_usec);
			}
		} else if (!f->have_guests && (v = get(o, "guests", json_type_array))) {
			r = on_guests(f, v, now_usec);
		}
	}
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

int follow_read(struct follow *f, uint64_t now_usec)
{
	char *line;
	size_t len;
	int r = line_reader_fill(&f->reader, f->fd);

	if (r < 0)
		return r;
	while (line_reader_next(&f->reader, &line, &len) == 0) {
		r = on_line(f, line, len, now_usec);
		if (r < 0)
			return r;
	}
	return 0;
}

int follow_new(struct follow **ret, const char *path, const struct follow_key *key, bool absent)
{
	static const char req[] = "{\"cmd\":\"watch\"}\n{\"cmd\":\"guests\"}\n";
	struct follow *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->key = *key;
	f->absent = absent;
	line_reader_init(&f->reader, CONTROL_REPLY_MAX);
	f->members = json_object_new_object();
	if (!f->members) {
		r = -ENOMEM;
		goto err;
	}
	f->fd = control_connect(path);
	if (f->fd < 0) {
		r = f->fd;
		goto err_members;
	}
	r = control_send(f->fd, req, sizeof(req) - 1);
	if (r < 0)
		goto err_fd;
	*ret = f;
	return 0;

err_fd:
	close(f->fd);
err_members:
	json_object_put(f->members);
err:
	free(f);
	return r;
}

void follow_free(struct follow *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_guests; i++)
		free(f->guests[i].channel);
	free(f->guests);
	json_object_put(f->members);
	line_reader_release(&f->reader);
	close(f->fd);
	free(f);
}

int follow_fd(const struct follow *f)
{
	return f->fd;
}

const char *follow_error(const struct follow *f)
{
	return f->error[0] ? f->error : NULL;
}

bool follow_ready(const struct follow *f)
{
	return f->have_members && f->have_guests;
}

void follow_set_after(struct follow *f, uint64_t gen)
{
	f->after = gen;
	if (f->has_target && f->target <= gen)
		set_target(f, false, 0, 0);
}

void follow_set_gen(struct follow *f, uint64_t gen, uint64_t now_usec)
{
	f->key = (struct follow_key){.type = FOLLOW_KEY_GEN, .gen = gen};
	f->absent = false;
	f->satisfied = false;
	set_target(f, false, 0, now_usec);
	update_target(f, now_usec);
}

uint64_t follow_gen(const struct follow *f)
{
	return f->gen;
}

bool follow_target(const struct follow *f, uint64_t *gen, uint64_t *usec)
{
	*gen = f->target;
	if (usec)
		*usec = f->target_usec;
	return f->has_target;
}

bool follow_converged(const struct follow *f)
{
	if (!follow_ready(f) || !f->has_target)
		return false;
	for (size_t i = 0; i < f->n_guests; i++)
		if (!f->guests[i].closed && !guest_acked(f, &f->guests[i]))
			return false;
	return true;
}

const struct follow_guest *follow_guests(const struct follow *f, size_t *n)
{
	*n = f->n_guests;
	return f->guests;
}
