// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hub's address book (addresses.h): the learning spoke's findings, expiry, the entries
 * of gone domains, the state file's timing; addresses-control.c answers the control socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address-file.h"
#include "addresses-impl.h"
#include "clock.h"
#include "logging.h"
#include "member-json.h"
#include "ratelimit.h"
#include "reply.h"

#define DEFAULT_GRACE_USEC (10 * 1000000ull)
/*
 * An address learned from ARP or NDP lasts this long after the guest last answered for it:
 * a guest that moved on, or stopped answering, loses it, and may learn another.
 */
#define NEIGHBOUR_TTL_USEC (600 * 1000000ull)
/* Learned changes are written at most this often: leases renew all the time. */
#define SAVE_DELAY_USEC (1000000ull)


static void arm_expiry(struct addresses *a);

/* Members, found by what they hold. */
struct finder {
	const uint8_t *uuid;
	const uint8_t *mac;
	struct addresses *a;
};

bool addresses_has_mac(const struct ck_member *m, const uint8_t mac[CK_MAC_LEN])
{
	for (unsigned int k = 0; k < m->n_nics; k++)
		if (!memcmp(m->nics[k].mac, mac, CK_MAC_LEN))
			return true;
	return false;
}

static void remerge_matching(const struct ck_member *m, void *userdata)
{
	struct finder *f = userdata;

	if ((f->uuid && !memcmp(m->uuid, f->uuid, CK_UUID_LEN)) || (f->mac && addresses_has_mac(m, f->mac)))
		f->a->cb.remerge(m->domid, f->a->userdata);
}

/* Every member with this uuid or a NIC with this MAC merges again (a change in the book). */
void addresses_remerge_where(struct addresses *a, const uint8_t *uuid, const uint8_t *mac)
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

/* The state file, if there is one; a failure is counted (and the caller says it). */
int addresses_save(struct addresses *a)
{
	int r;

	if (!a->cfg.state_path)
		return 0;
	r = address_file_save(a->cfg.state_path, a->book);
	if (r < 0)
		a->counters.save_failures++;
	return r;
}

static int on_save(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct addresses *a = userdata;
	int r = addresses_save(a);

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

/* Expiry. */

static void on_mac_expired(const uint8_t mac[CK_MAC_LEN], void *userdata)
{
	struct addresses *a = userdata;
	char m[18];

	ck_format_mac(mac, m);
	log_info("%s: its learned address expired", m);
	a->counters.expired++;
	addresses_remerge_where(a, NULL, mac);
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

/*
 * Entries of domains that went: a pass after each commit that removed a member (and after
 * the first, for what the state file names), then again when the first missing entry's
 * grace ends.  Membership is read into sorted arrays once a pass: O(members log members).
 */
struct present {
	uint8_t (*uuids)[CK_UUID_LEN];
	uint8_t (*macs)[CK_MAC_LEN];
	size_t n_uuids, n_macs;
};

static void collect(const struct ck_member *m, void *userdata)
{
	struct present *p = userdata;

	memcpy(p->uuids[p->n_uuids++], m->uuid, CK_UUID_LEN);
	for (unsigned int k = 0; k < m->n_nics; k++)
		memcpy(p->macs[p->n_macs++], m->nics[k].mac, CK_MAC_LEN);
}

static int cmp_uuid(const void *a, const void *b)
{
	return memcmp(a, b, CK_UUID_LEN);
}

static int cmp_mac(const void *a, const void *b)
{
	return memcmp(a, b, CK_MAC_LEN);
}

static bool member_has_uuid(const uint8_t uuid[CK_UUID_LEN], void *userdata)
{
	struct present *p = userdata;

	return bsearch(uuid, p->uuids, p->n_uuids, CK_UUID_LEN, cmp_uuid) != NULL;
}

static bool member_has_mac(const uint8_t mac[CK_MAC_LEN], void *userdata)
{
	struct present *p = userdata;

	return bsearch(mac, p->macs, p->n_macs, CK_MAC_LEN, cmp_mac) != NULL;
}

static void gc_pass(struct addresses *a)
{
	size_t n = ck_memberset_count(a->cfg.membership->members), dropped;
	struct present p = {
		.uuids = calloc(n ? n : 1, CK_UUID_LEN),
		.macs = calloc(n ? n * CK_NICS_MAX : 1, CK_MAC_LEN),
	};
	size_t learned_dropped;
	uint64_t next;
	int r;

	if (!p.uuids || !p.macs) {
		/* Nothing is dropped without knowing: the next pass tries again. */
		free(p.uuids);
		free(p.macs);
		log_error_errno(-ENOMEM, "addresses of gone domains: checked later");
		sd_event_source_set_time(a->gc, ck_now_usec() + a->cfg.grace_usec);
		sd_event_source_set_enabled(a->gc, SD_EVENT_ONESHOT);
		return;
	}
	ck_memberset_foreach(a->cfg.membership->members, collect, &p);
	qsort(p.uuids, p.n_uuids, CK_UUID_LEN, cmp_uuid);
	qsort(p.macs, p.n_macs, CK_MAC_LEN, cmp_mac);
	dropped = ck_addrbook_retain(a->book, member_has_uuid, member_has_mac, &p, ck_now_usec(),
				     a->cfg.grace_usec, &next, &learned_dropped);
	free(p.uuids);
	free(p.macs);
	if (next == UINT64_MAX) {
		sd_event_source_set_enabled(a->gc, SD_EVENT_OFF);
	} else {
		sd_event_source_set_time(a->gc, next);
		sd_event_source_set_enabled(a->gc, SD_EVENT_ONESHOT);
	}
	arm_expiry(a);
	/* Written only when something went: a daemon that never had an address writes nothing. */
	if (learned_dropped)
		save_soon(a);
	if (!dropped)
		return;
	a->counters.dropped += dropped;
	log_info("the orchestrator's addresses of %zu gone domain%s dropped", dropped,
		 dropped == 1 ? "" : "s");
	r = addresses_save(a);
	if (r < 0)
		log_error_errno(r, "cannot write %s", a->cfg.state_path);
}

static int on_gc(sd_event_source *s, uint64_t usec, void *userdata)
{
	gc_pass(userdata);
	return 0;
}

void addresses_committed(struct addresses *a, bool check)
{
	if (check)
		gc_pass(a);
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
		/* What the state file names is checked after the first commit (the hub's call). */
		sd_event_source_set_enabled(a->gc, SD_EVENT_OFF);
		r = a->cfg.state_path ? address_file_load(a->cfg.state_path, a->book) : 0;
		if (r < 0 && r != -ENOMEM) {
			/*
			 * Unreadable (not ours to read: a test or a package build as another
			 * user): nothing is kept, and the file is never written over.
			 */
			log_warning_errno(r, "%s: the orchestrator's and learned addresses are "
					  "not kept (--address-state)", a->cfg.state_path);
			a->cfg.state_path = NULL;
			r = 0;
		}
		arm_expiry(a);
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

	if (m && addresses_has_mac(m, mac))
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
			addresses_remerge_where(a, NULL, lost);
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

struct elsewhere {
	uint16_t domid;
	const struct ck_addr *addr;
	bool found;
};

static void held_by_other(const struct ck_member *m, void *userdata)
{
	struct elsewhere *e = userdata;

	for (unsigned int k = 0; !e->found && m->domid != e->domid && k < m->n_nics; k++) {
		const struct ck_nic *nic = &m->nics[k];

		for (unsigned int i = 0; !e->addr->v6 && i < nic->n_ipv4; i++)
			e->found |= nic->ipv4[i] == ck_addr_ipv4(e->addr);
		for (unsigned int i = 0; e->addr->v6 && i < nic->n_ipv6; i++)
			e->found |= !memcmp(nic->ipv6[i], e->addr->bytes, CK_IPV6_LEN);
	}
}

/*
 * A neighbour-learned address another member uses (at a higher trust: a lease would have
 * taken it from this MAC in the book) is dropped, not kept unused for as long as the guest
 * answers for it.  O(members): asked when its expiry is half gone, not per ARP.
 */
static bool shadowed(struct addresses *a, uint16_t domid, const struct ck_addr *addr)
{
	struct elsewhere e = { .domid = domid, .addr = addr };

	ck_memberset_foreach(a->cfg.membership->members, held_by_other, &e);
	return e.found;
}

void addresses_neighbour(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
			 const struct ck_addr *addr)
{
	enum ck_learned_how how = addr->v6 ? CK_LEARNED_NDP : CK_LEARNED_ARP;
	uint64_t now = ck_now_usec(), expires = UINT64_MAX;

	if (!vif_owns(a, domid, mac, addr->v6 ? "a neighbour advertisement" : "an ARP", false))
		return;
	if (ck_addrbook_learned_expiry(a->book, mac, how, addr, &expires) &&
	    expires - now > NEIGHBOUR_TTL_USEC / 2) {
		/* Its own, heard lately: nothing to do, and nothing that costs more. */
		return;
	}
	if (expires != UINT64_MAX && shadowed(a, domid, addr)) {
		char s[46];

		ck_addrbook_unlearn_how(a->book, mac, how);
		a->counters.arp_taken++;
		ck_addr_format(addr, s);
		log_info("domid %u: %s, learned from %s, is another member's: dropped", domid, s,
			 ck_learned_how_name(how));
		a->cb.remerge(domid, a->userdata);
		arm_expiry(a);
		save_soon(a);
		return;
	}
	learned(a, domid, mac, addr, how, now + NEIGHBOUR_TTL_USEC);
}
