// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addresses.h"
#include "clock.h"
#include "logging.h"
#include "member-json.h"
#include "ratelimit.h"
#include "reply.h"

#define DEFAULT_GRACE_USEC (10 * 1000000ull)
/* Learned changes are written at most this often: leases renew all the time. */
#define SAVE_DELAY_USEC (1000000ull)
#define STATE_LINE_MAX 1024

struct addresses {
	struct addresses_config cfg;
	struct addresses_callbacks cb;
	void *userdata;
	struct ck_addrbook *book;
	struct addresses_counters counters;
	sd_event_source *expiry;	/* the next learned address to run out */
	sd_event_source *gc;		/* gone domains' entries, grace_usec after they went */
	sd_event_source *saver;		/* the state file, a moment after learned changes */
	struct ck_ratelimit log_limit;
};

static void arm_expiry(struct addresses *a);

/* Members, found by what they hold. */
struct finder {
	const uint8_t *uuid;
	const uint8_t *mac;
	struct addresses *a;
};

static bool has_mac(const struct ck_member *m, const uint8_t mac[CK_MAC_LEN])
{
	for (unsigned int k = 0; k < m->n_nics; k++)
		if (!memcmp(m->nics[k].mac, mac, CK_MAC_LEN))
			return true;
	return false;
}

static void remerge_matching(const struct ck_member *m, void *userdata)
{
	struct finder *f = userdata;

	if ((f->uuid && !memcmp(m->uuid, f->uuid, CK_UUID_LEN)) || (f->mac && has_mac(m, f->mac)))
		f->a->cb.remerge(m->domid, f->a->userdata);
}

/* Every member with this uuid or a NIC with this MAC merges again (a change in the book). */
static void remerge_where(struct addresses *a, const uint8_t *uuid, const uint8_t *mac)
{
	struct finder f = { .uuid = uuid, .mac = mac, .a = a };

	ck_memberset_foreach(a->cfg.membership->members, remerge_matching, &f);
}

static void rate_limited_warning(struct addresses *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rate_limited_warning(struct addresses *a, const char *fmt, ...)
{
	unsigned int suppressed;
	char msg[256];
	va_list ap;

	if (!ck_ratelimit_allow(&a->log_limit, ck_now_usec(), &suppressed))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (suppressed)
		log_warning("%s (%u such messages suppressed)", msg, suppressed);
	else
		log_warning("%s", msg);
}

/*
 * The state file, written whole: a line per orchestrator entry, "UUID MAC|- ADDR...", and
 * one per learned address, "learned MAC ADDR dhcp|arp|ndp EXPIRY" (EXPIRY: the lease's end
 * in seconds since the epoch, or "never"), so that a restarted cokeeperd knows its guests'
 * leases before they renew (a day's lease renews after twelve hours).
 */

struct saver {
	FILE *f;
	uint64_t mono, wall;	/* now, on both clocks: leases are saved in wall-clock time */
};

static void save_one(const uint8_t uuid[CK_UUID_LEN], const uint8_t *mac,
		     const struct ck_addr *v, size_t n, void *userdata)
{
	struct saver *s = userdata;
	char u[37], m[18] = "-", addr[46];

	ck_format_uuid(uuid, u);
	if (mac)
		ck_format_mac(mac, m);
	fprintf(s->f, "%s %s", u, m);
	for (size_t i = 0; i < n; i++) {
		ck_addr_format(&v[i], addr);
		fprintf(s->f, " %s", addr);
	}
	fputc('\n', s->f);
}

static uint64_t wall_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void save_learned(const uint8_t mac[CK_MAC_LEN], const struct ck_addr *addr,
			 enum ck_learned_how how, uint64_t expires, void *userdata)
{
	struct saver *s = userdata;
	char m[18], text[46];

	ck_format_mac(mac, m);
	ck_addr_format(addr, text);
	if (expires == UINT64_MAX)
		fprintf(s->f, "learned %s %s %s never\n", m, text, ck_learned_how_name(how));
	else
		fprintf(s->f, "learned %s %s %s %" PRIu64 "\n", m, text, ck_learned_how_name(how),
			(s->wall + (expires > s->mono ? expires - s->mono : 0)) / 1000000);
}

/* Writes the whole file anew and renames it over the old: never half a file. */
static int save(struct addresses *a)
{
	char tmp[4096];
	struct saver s;
	int fd, r = 0;

	if (!a->cfg.state_path)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.new", a->cfg.state_path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	s.f = fdopen(fd, "w");
	if (!s.f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	fputs("# cokeeperd: the orchestrator's addresses (cokeeperctl addresses), "
	      "UUID MAC|- ADDRESS...,\n# and the learned ones, learned MAC ADDRESS HOW "
	      "EXPIRY (seconds since the epoch, or never)\n", s.f);
	s.mono = ck_now_usec();
	s.wall = wall_usec();
	ck_addrbook_foreach_set(a->book, save_one, &s);
	ck_addrbook_foreach_learned(a->book, save_learned, &s);
	if (fflush(s.f) != 0 || fsync(fd) < 0)
		r = -errno;
	if (fclose(s.f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, a->cfg.state_path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		a->counters.save_failures++;
	}
	return r;
}

/* "learned MAC ADDR HOW EXPIRY" after its first word; one that has run out is dropped. */
static int load_learned(struct addresses *a, char *save)
{
	char *mac_s = strtok_r(NULL, " \t\n", &save), *addr_s = strtok_r(NULL, " \t\n", &save),
	     *how_s = strtok_r(NULL, " \t\n", &save), *exp_s = strtok_r(NULL, " \t\n", &save);
	uint8_t mac[CK_MAC_LEN], lost[CK_MAC_LEN];
	uint64_t expires = UINT64_MAX, wall, secs;
	struct ck_addr addr;
	unsigned int how;
	char *end;
	int r;

	if (!exp_s || strtok_r(NULL, " \t\n", &save) || ck_parse_mac(mac_s, mac) < 0 ||
	    !ck_mac_valid(mac) || ck_addr_parse(addr_s, &addr) < 0)
		return -EINVAL;
	for (how = 0; how < __CK_LEARNED_LAST && strcmp(how_s, ck_learned_how_name(how)); how++)
		;
	if (how == __CK_LEARNED_LAST)
		return -EINVAL;
	if (strcmp(exp_s, "never")) {
		errno = 0;
		secs = strtoull(exp_s, &end, 10);
		if (errno || *end || end == exp_s || secs > UINT64_MAX / 2000000)
			return -EINVAL;
		wall = wall_usec();
		if (secs * 1000000 <= wall)
			return 0;	/* ran out while cokeeperd was down */
		expires = ck_now_usec() + (secs * 1000000 - wall);
	}
	r = ck_addrbook_learn(a->book, mac, &addr, how, expires, lost);
	return r < 0 ? r : 0;
}

static int on_save(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct addresses *a = userdata;
	int r = save(a);

	if (r < 0)
		log_error_errno(r, "cannot write %s (learned addresses)", a->cfg.state_path);
	return 0;
}

/* The learned addresses changed: the file follows within SAVE_DELAY_USEC. */
static void save_soon(struct addresses *a)
{
	int enabled = SD_EVENT_OFF;

	if (!a->cfg.state_path)
		return;
	sd_event_source_get_enabled(a->saver, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;
	sd_event_source_set_time(a->saver, ck_now_usec() + SAVE_DELAY_USEC);
	sd_event_source_set_enabled(a->saver, SD_EVENT_ONESHOT);
}

/* One line of the state file; a bad one is skipped, named, and the rest still read. */
static int load_line(struct addresses *a, char *line)
{
	struct ck_addr v[2 * CK_ADDRS_MAX];
	uint8_t uuid[CK_UUID_LEN], mac[CK_MAC_LEN];
	char *save = NULL, *tok;
	bool have_mac = false;
	size_t n = 0;

	tok = strtok_r(line, " \t\n", &save);
	if (!tok || tok[0] == '#')
		return 0;
	if (!strcmp(tok, "learned"))
		return load_learned(a, save);
	if (ck_parse_uuid(tok, uuid) < 0)
		return -EINVAL;
	tok = strtok_r(NULL, " \t\n", &save);
	if (!tok)
		return -EINVAL;
	if (strcmp(tok, "-")) {
		if (ck_parse_mac(tok, mac) < 0 || !ck_mac_valid(mac))
			return -EINVAL;
		have_mac = true;
	}
	while ((tok = strtok_r(NULL, " \t\n", &save))) {
		if (n == 2 * CK_ADDRS_MAX || ck_addr_parse(tok, &v[n]) < 0)
			return -EINVAL;
		n++;
	}
	return ck_addrbook_set(a->book, uuid, have_mac ? mac : NULL, v, n);
}

static int load(struct addresses *a)
{
	char line[STATE_LINE_MAX];
	unsigned int lineno = 0;
	FILE *f;

	if (!a->cfg.state_path)
		return 0;
	f = fopen(a->cfg.state_path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return log_error_errno(-errno, "cannot read %s", a->cfg.state_path);
	}
	while (fgets(line, sizeof(line), f)) {
		int r;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			log_warning("%s:%u: longer than %d bytes: the rest of the file is skipped",
				    a->cfg.state_path, lineno, STATE_LINE_MAX - 1);
			break;
		}
		r = load_line(a, line);
		if (r == -ENOMEM) {
			fclose(f);
			return r;
		}
		if (r < 0)
			log_warning("%s:%u: not an entry (UUID MAC|- ADDRESS...): skipped",
				    a->cfg.state_path, lineno);
	}
	fclose(f);
	log_info("%s: the orchestrator's and learned addresses read", a->cfg.state_path);
	arm_expiry(a);
	return 0;
}

/* Expiry. */

static void on_mac_expired(const uint8_t mac[CK_MAC_LEN], void *userdata)
{
	struct addresses *a = userdata;
	char m[18];

	ck_format_mac(mac, m);
	log_info("%s: its learned address expired", m);
	a->counters.expired++;
	remerge_where(a, NULL, mac);
}

static int on_expiry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct addresses *a = userdata;

	ck_addrbook_expire(a->book, ck_now_usec(), on_mac_expired, a);
	arm_expiry(a);
	save_soon(a);
	return 0;
}

static void arm_expiry(struct addresses *a)
{
	uint64_t next = ck_addrbook_next_expiry(a->book);

	if (next == UINT64_MAX) {
		sd_event_source_set_enabled(a->expiry, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(a->expiry, next);
	sd_event_source_set_enabled(a->expiry, SD_EVENT_ONESHOT);
}

/* Entries of domains that went (checked grace_usec after a removal). */

struct lookup {
	const uint8_t *uuid, *mac;
	bool found;
};

static void lookup_one(const struct ck_member *m, void *userdata)
{
	struct lookup *l = userdata;

	if (l->found)
		return;
	l->found = (l->uuid && !memcmp(m->uuid, l->uuid, CK_UUID_LEN)) ||
		   (l->mac && has_mac(m, l->mac));
}

/* O(members) each: run once per grace period after removals, over the book's few entries. */
static bool member_has_uuid(const uint8_t uuid[CK_UUID_LEN], void *userdata)
{
	struct addresses *a = userdata;
	struct lookup l = { .uuid = uuid };

	ck_memberset_foreach(a->cfg.membership->members, lookup_one, &l);
	return l.found;
}

static bool member_has_mac(const uint8_t mac[CK_MAC_LEN], void *userdata)
{
	struct addresses *a = userdata;
	struct lookup l = { .mac = mac };

	ck_memberset_foreach(a->cfg.membership->members, lookup_one, &l);
	return l.found;
}

static int on_gc(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct addresses *a = userdata;
	size_t dropped = ck_addrbook_retain(a->book, member_has_uuid, member_has_mac, a);
	int r;

	arm_expiry(a);
	save_soon(a);	/* learned addresses of gone MACs may have gone too */
	if (!dropped)
		return 0;
	a->counters.dropped += dropped;
	log_info("the orchestrator's addresses of %zu gone domain%s dropped", dropped,
		 dropped == 1 ? "" : "s");
	r = save(a);
	if (r < 0)
		log_error_errno(r, "cannot write %s", a->cfg.state_path);
	return 0;
}

void addresses_committed(struct addresses *a, bool removed_any)
{
	int enabled = SD_EVENT_OFF;

	if (!removed_any)
		return;
	sd_event_source_get_enabled(a->gc, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;		/* one pass a grace period: it sees every removal before it */
	sd_event_source_set_time(a->gc, ck_now_usec() + a->cfg.grace_usec);
	sd_event_source_set_enabled(a->gc, SD_EVENT_ONESHOT);
}

int addresses_new(struct addresses **ret, const struct addresses_config *cfg,
		  const struct addresses_callbacks *cb, void *userdata)
{
	struct addresses *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	if (!a->cfg.grace_usec)
		a->cfg.grace_usec = DEFAULT_GRACE_USEC;
	a->cb = *cb;
	a->userdata = userdata;
	a->log_limit = (struct ck_ratelimit)CK_RATELIMIT_INIT(10 * 1000000ull, 10);
	r = ck_addrbook_new(&a->book);
	if (r == 0)
		r = sd_event_add_time(cfg->event, &a->expiry, CLOCK_MONOTONIC, UINT64_MAX, 0,
				      on_expiry, a);
	if (r == 0)
		r = sd_event_add_time(cfg->event, &a->gc, CLOCK_MONOTONIC, UINT64_MAX, 0, on_gc, a);
	if (r == 0)
		r = sd_event_add_time(cfg->event, &a->saver, CLOCK_MONOTONIC, UINT64_MAX, 0,
				      on_save, a);
	if (r == 0) {
		sd_event_source_set_enabled(a->expiry, SD_EVENT_OFF);
		sd_event_source_set_enabled(a->saver, SD_EVENT_OFF);
		/* What the state file names is checked against the first scan, a grace later. */
		sd_event_source_set_time(a->gc, ck_now_usec() + a->cfg.grace_usec);
		sd_event_source_set_enabled(a->gc, SD_EVENT_ONESHOT);
		r = load(a);
	}
	if (r < 0) {
		addresses_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

void addresses_free(struct addresses *a)
{
	int pending = SD_EVENT_OFF;

	if (!a)
		return;
	/* A learned change not written yet: written now, or a restart would not know it. */
	if (a->saver && sd_event_source_get_enabled(a->saver, &pending) >= 0 &&
	    pending != SD_EVENT_OFF)
		on_save(a->saver, 0, a);
	sd_event_source_disable_unref(a->expiry);
	sd_event_source_disable_unref(a->gc);
	sd_event_source_disable_unref(a->saver);
	ck_addrbook_free(a->book);
	free(a);
}

void addresses_merge(void *data, struct ck_member *m)
{
	struct addresses *a = data;

	ck_addrbook_merge(a->book, m);
}

const struct addresses_counters *addresses_counters(const struct addresses *a)
{
	return &a->counters;
}

/* Learning: an event counts only for a MAC of the member the vif belongs to. */

/*
 * to_guest: a DHCP server's reply, which a broadcast sends out of every vif on the bridge:
 * one for another MAC is expected there, and only counted.  What comes from a guest with
 * another guest's MAC is the guest's doing, and said (rate-limited).
 */
static bool vif_owns(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		     const char *what, bool to_guest)
{
	const struct ck_member *m = ck_memberset_find(a->cfg.membership->members, domid);
	char s[18];

	if (m && has_mac(m, mac))
		return true;
	a->counters.not_member++;
	ck_format_mac(mac, s);
	if (to_guest)
		log_debug("vif of domid %u: %s for %s, not that domain's MAC", domid, what, s);
	else
		rate_limited_warning(a, "vif of domid %u: %s from %s, not that domain's MAC: "
				     "ignored", domid, what, s);
	return false;
}

static void learned(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		    const struct ck_addr *addr, enum ck_learned_how how, uint64_t expires)
{
	uint8_t lost[CK_MAC_LEN] = { 0 };
	static const uint8_t none[CK_MAC_LEN];
	char s[46];
	int r;

	r = ck_addrbook_learn(a->book, mac, addr, how, expires, lost);
	ck_addr_format(addr, s);
	switch (r) {
	case CK_LEARN_CHANGED:
		if (how == CK_LEARNED_DHCP)
			a->counters.leases++;
		else
			a->counters.arp_learned++;
		log_info("domid %u: %s learned (%s)", domid, s, ck_learned_how_name(how));
		a->cb.remerge(domid, a->userdata);
		if (memcmp(lost, none, CK_MAC_LEN))
			remerge_where(a, NULL, lost);
		save_soon(a);
		break;
	case CK_LEARN_SAME:
		a->counters.renewals += how == CK_LEARNED_DHCP;
		if (how == CK_LEARNED_DHCP)
			save_soon(a);	/* its new expiry */
		break;
	case CK_LEARN_TAKEN:
		a->counters.arp_taken++;
		rate_limited_warning(a, "domid %u answered for %s, which another guest holds: "
				     "ignored", domid, s);
		break;
	case CK_LEARN_HAS_ONE:
		break;
	default:
		log_error_errno(r, "domid %u: cannot keep learned %s", domid, s);
		break;
	}
	arm_expiry(a);
}

void addresses_lease(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		     uint32_t ipv4, uint32_t lease_s)
{
	struct ck_addr addr = ck_addr_from_ipv4(ipv4);

	if (!vif_owns(a, domid, mac, "a DHCP lease", true))
		return;
	learned(a, domid, mac, &addr, CK_LEARNED_DHCP,
		lease_s == UINT32_MAX ? UINT64_MAX : ck_now_usec() + lease_s * 1000000ull);
}

void addresses_nak(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN])
{
	if (!vif_owns(a, domid, mac, "a DHCP NAK", true))
		return;
	if (!ck_addrbook_unlearn_how(a->book, mac, CK_LEARNED_DHCP))
		return;
	a->counters.naks++;
	log_info("domid %u: its lease was refused (DHCPNAK)", domid);
	a->cb.remerge(domid, a->userdata);
	arm_expiry(a);
	save_soon(a);
}

void addresses_release(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		       uint32_t ipv4)
{
	struct ck_addr addr = ck_addr_from_ipv4(ipv4);

	if (!vif_owns(a, domid, mac, "a DHCP release", false))
		return;
	if (!ck_addrbook_unlearn(a->book, mac, &addr))
		return;
	a->counters.releases++;
	log_info("domid %u: released its lease", domid);
	a->cb.remerge(domid, a->userdata);
	arm_expiry(a);
	save_soon(a);
}

void addresses_neighbour(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
			 const struct ck_addr *addr)
{
	if (!vif_owns(a, domid, mac, addr->v6 ? "a neighbour advertisement" : "an ARP", false))
		return;
	learned(a, domid, mac, addr, addr->v6 ? CK_LEARNED_NDP : CK_LEARNED_ARP, UINT64_MAX);
}

/* Control. */

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
	if (!has_mac(m, mac) || nic_uses(m, addr))
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
	if (mac_arg) {
		if (!json_object_is_type(mac_arg, json_type_string) ||
		    ck_parse_mac(json_object_get_string(mac_arg), mac) < 0 ||
		    !has_mac(m, mac))
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
	r = save(a);
	if (r < 0) {
		log_error_errno(r, "cannot write %s", a->cfg.state_path);
		ck_addrbook_set(a->book, uuid, macp, old, n_old);	/* fits: it did */
		return reply_error("cannot write %s: %s; nothing changed", a->cfg.state_path,
				   strerror(-r));
	}
	a->counters.orchestrator_sets++;
	log_info("%s (domid %u): the orchestrator's addresses %s (%zu now)", m->name, m->domid,
		 ops, n_next);
	remerge_where(a, uuid, NULL);
	return change_reply(m, next, n_next);
}
