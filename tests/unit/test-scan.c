// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scan against an in-memory host laid out like a real Xen 4.17 dom0's xenstore, through
 * the membership commit, as cokeeperd runs it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakexen.h"
#include "hash.h"
#include "helpers.h"
#include "member-json.h"
#include "scan.h"

struct host_fixture {
	struct fakexen *fx;
	struct ck_membership *m;
	struct scan_cache *cache;
	unsigned int fires;
	struct scan_options opts;
	struct scan_result last;	/* of the cached scan */
};

/* As the xenstore source does with what xs_check_watch reports. */
static void on_fire(const char *path, void *userdata)
{
	struct host_fixture *h = userdata;

	h->fires++;
	scan_cache_watch_fired(h->cache, path);
}

static void setup(struct host_fixture *h)
{
	memset(h, 0, sizeof(*h));
	ck_assert_int_eq(fakexen_new(&h->fx, on_fire, h), 0);
	ck_assert_int_eq(ck_membership_new(&h->m, 42, 256), 0);
	ck_assert_int_eq(scan_cache_new(&h->cache), 0);
}

static void teardown(struct host_fixture *h)
{
	fakexen_free(h->fx);
	ck_membership_free(h->m);
	scan_cache_free(h->cache);
}

/*
 * Scans and commits, as the event-driven source does (with the cache the fires updated);
 * every time, a scan that reads everything must find the very same members.  Returns how
 * many member-level changes the scan produced.
 */
static size_t rescan(struct host_fixture *h)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL, *full = NULL;
	struct host host = fakexen_host(h->fx);
	struct scan_result res;
	struct ck_delta d;
	size_t changes;

	ck_assert_int_eq(ck_memberset_new(&set), 0);
	ck_assert_int_eq(ck_memberset_new(&full), 0);
	ck_assert_int_eq(scan_host(&host, &h->opts, h->cache, set, &h->last), 0);
	ck_assert_int_eq(scan_host(&host, &h->opts, NULL, full, &res), 0);
	ck_assert_msg(ck_memberset_equal(set, full), "the cached scan differs from a full scan");
	ck_assert_int_eq(ck_membership_commit(h->m, set, &d), 0);
	changes = ck_delta_changes(&d);
	ck_delta_reset(&d);
	return changes;
}

/*
 * uthash's allocator (hash.h) for the out-of-memory test: refuses the next hash_refusals
 * allocations of any table.  One, armed before a scan, is the scan cache's table: the cache's
 * first insert comes before the conflicts index's and the member set's.
 */
static unsigned int hash_refusals, hash_mallocs_refused;

static void *refusing_malloc(size_t size)
{
	if (hash_refusals > 0) {
		hash_refusals--;
		hash_mallocs_refused++;
		return NULL;
	}
	return malloc(size);
}

static const struct ck_hash_allocator refusing = { .malloc = refusing_malloc, .free = free };

static uint16_t create(struct host_fixture *h, const char *name, const char *mac, const char *ip)
{
	struct fake_nic nic = { .mac = mac, .ip = ip };
	uint8_t uuid[CK_UUID_LEN];
	uint16_t domid;

	memset(uuid, 0, sizeof(uuid));
	memcpy(uuid, name, strnlen(name, sizeof(uuid)));
	ck_assert_int_eq(fakexen_create(h->fx, name, uuid, &nic, 1, false, &domid), 0);
	return domid;
}

static const struct ck_member *member(struct host_fixture *h, uint16_t domid)
{
	return ck_memberset_find(h->m->members, domid);
}

START_TEST(create_reads_toolstack_identity)
{
	struct host_fixture h;
	const struct ck_member *m;
	uint32_t ip;
	uint16_t domid;

	setup(&h);
	domid = create(&h, "web", "00:16:3e:00:00:01", "10.99.0.1 fd00::1");
	ck_assert_uint_eq(h.fires, 4);	/* the vif's bridge, mac and ip, @introduceDomain */
	ck_assert_uint_eq(rescan(&h), 1);
	m = member(&h, domid);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->name, "web");
	ck_assert_int_eq(m->state, CK_MEMBER_RUNNING);
	ck_assert_int_eq(memcmp(m->uuid, "web", 3), 0);
	ck_assert_uint_eq(m->n_nics, 1);
	ck_assert_uint_eq(m->nics[0].mac[5], 1);
	ck_assert_int_eq(ck_parse_ipv4("10.99.0.1", &ip), 0);
	ck_assert_uint_eq(m->nics[0].n_ipv4, 1);
	ck_assert_uint_eq(m->nics[0].ipv4[0], ip);
	ck_assert_uint_eq(m->nics[0].n_ipv6, 1);
	ck_assert_uint_eq(m->nics[0].ipv6[0][15], 1);
	ck_assert_ptr_null(member(&h, 0));	/* dom0 is not a member by default */
	teardown(&h);
}
END_TEST

START_TEST(dom0_only_when_asked)
{
	struct host_fixture h;

	setup(&h);
	h.opts.include_dom0 = true;
	rescan(&h);
	ck_assert_ptr_nonnull(member(&h, 0));
	teardown(&h);
}
END_TEST

START_TEST(destroy_removes_at_first_release)
{
	struct host_fixture h;
	uint16_t a, b;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	b = create(&h, "b", "00:16:3e:00:00:02", "10.99.0.2");
	rescan(&h);
	h.fires = 0;
	/* First @releaseDomain: the domain is dying but still in xenstore. */
	ck_assert_int_eq(fakexen_set_dying(h.fx, a), 0);
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_ptr_null(member(&h, a));
	/* Second @releaseDomain once it is gone: nothing more to change. */
	ck_assert_int_eq(fakexen_destroy(h.fx, a), 0);
	ck_assert_uint_ge(h.fires, 2);
	ck_assert_uint_eq(rescan(&h), 0);
	ck_assert_ptr_nonnull(member(&h, b));
	teardown(&h);
}
END_TEST

START_TEST(spurious_and_duplicate_fires_change_nothing)
{
	struct host_fixture h;
	uint64_t gen;

	setup(&h);
	create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	rescan(&h);
	gen = h.m->gen;
	for (int i = 0; i < 5; i++) {
		fakexen_fire(h.fx, "@releaseDomain");
		ck_assert_uint_eq(rescan(&h), 0);
	}
	ck_assert_uint_eq(h.m->gen, gen);
	teardown(&h);
}
END_TEST

START_TEST(poweroff_shutdown_is_not_a_member)
{
	struct host_fixture h;
	uint16_t a;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	rescan(&h);
	ck_assert_int_eq(fakexen_shutdown(h.fx, a, false), 0);
	rescan(&h);
	ck_assert_ptr_null(member(&h, a));
	teardown(&h);
}
END_TEST

START_TEST(localhost_migration_ends_with_new_domid)
{
	struct host_fixture h;
	struct fake_nic nic = { .mac = "00:16:3e:00:00:01", .ip = "10.99.0.1" };
	uint8_t uuid[CK_UUID_LEN];
	char name[CK_NAME_MAX + 1];
	uint16_t src, dst;

	setup(&h);
	src = create(&h, "mig", nic.mac, nic.ip);
	rescan(&h);
	ck_assert_int_eq(fakexen_domain(h.fx, src, uuid, name), 0);

	/* The receiver's paused "--incoming" twin, same uuid and vif, is not a member. */
	ck_assert_int_eq(fakexen_create(h.fx, "mig", uuid, &nic, 1, true, &dst), 0);
	ck_assert_uint_eq(rescan(&h), 0);
	ck_assert_ptr_null(member(&h, dst));

	/* The sender suspends the guest: migrating-out, at once. */
	ck_assert_int_eq(fakexen_shutdown(h.fx, src, true), 0);
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_int_eq(member(&h, src)->state, CK_MEMBER_MIGRATING_OUT);

	/* Handover: both halves exist with one uuid and one MAC; only the new one is a member. */
	ck_assert_int_eq(fakexen_migrate_handover(h.fx, src, dst), 0);
	rescan(&h);
	ck_assert_ptr_null(member(&h, src));
	ck_assert_ptr_nonnull(member(&h, dst));
	ck_assert_str_eq(member(&h, dst)->name, "mig");
	ck_assert_uint_eq(member(&h, dst)->n_nics, 1);

	ck_assert_int_eq(fakexen_destroy(h.fx, src), 0);
	ck_assert_uint_eq(rescan(&h), 0);
	ck_assert_uint_eq(ck_memberset_count(h.m->members), 1);
	teardown(&h);
}
END_TEST

START_TEST(two_halves_with_one_uuid_keep_the_running_one)
{
	struct host_fixture h;
	struct fake_nic nic = { .mac = "00:16:3e:00:00:01", .ip = "10.99.0.1" };
	uint8_t uuid[CK_UUID_LEN] = { 1 };
	uint16_t a, b;

	setup(&h);
	ck_assert_int_eq(fakexen_create(h.fx, "x", uuid, &nic, 1, false, &a), 0);
	ck_assert_int_eq(fakexen_create(h.fx, "x", uuid, &nic, 1, false, &b), 0);
	ck_assert_int_eq(fakexen_shutdown(h.fx, b, true), 0);
	rescan(&h);
	ck_assert_ptr_nonnull(member(&h, a));
	ck_assert_ptr_null(member(&h, b));
	teardown(&h);
}
END_TEST

START_TEST(vif_change_updates_member)
{
	struct host_fixture h;
	uint32_t ip;
	uint16_t a;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	rescan(&h);
	ck_assert_int_eq(fakexen_set_vif(h.fx, a, 0, "00:16:3e:00:00:09", "10.99.0.9"), 0);
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_uint_eq(member(&h, a)->nics[0].mac[5], 9);
	ck_assert_int_eq(ck_parse_ipv4("10.99.0.9", &ip), 0);
	ck_assert_uint_eq(member(&h, a)->nics[0].ipv4[0], ip);
	/* A second vif. */
	ck_assert_int_eq(fakexen_set_vif(h.fx, a, 1, "00:16:3e:00:01:01", NULL), 0);
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_uint_eq(member(&h, a)->n_nics, 2);
	teardown(&h);
}
END_TEST

START_TEST(guest_written_keys_are_ignored)
{
	struct host_fixture h;
	uint64_t gen;
	uint16_t a;
	char path[96];

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	rescan(&h);
	gen = h.m->gen;
	/* What a guest may write about itself: none of it becomes identity. */
	snprintf(path, sizeof(path), "/local/domain/%u/attr/vif/0/ipv4/0", a);
	ck_assert_int_eq(fakexen_write(h.fx, path, "10.66.66.66"), 0);
	snprintf(path, sizeof(path), "/local/domain/%u/data/name", a);
	ck_assert_int_eq(fakexen_write(h.fx, path, "evil"), 0);
	fakexen_fire(h.fx, "/local/domain/0/backend/vif");
	ck_assert_uint_eq(rescan(&h), 0);
	ck_assert_uint_eq(h.m->gen, gen);
	ck_assert_uint_eq(member(&h, a)->nics[0].n_ipv4, 1);
	ck_assert_str_eq(member(&h, a)->name, "a");
	teardown(&h);
}
END_TEST

START_TEST(building_and_malformed_domains_are_skipped)
{
	struct host_fixture h;
	uint16_t a, b;
	char path[96];

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	b = create(&h, "b", "01:00:5e:00:00:01", "not-an-ip 10.99.0.2");
	/* A domain being built has no name yet. */
	snprintf(path, sizeof(path), "/local/domain/%u/name", a);
	fakexen_rm(h.fx, path);
	rescan(&h);
	ck_assert_ptr_null(member(&h, a));
	/* A multicast MAC is not a vif's: that NIC is dropped, the member stays. */
	ck_assert_ptr_nonnull(member(&h, b));
	ck_assert_uint_eq(member(&h, b)->n_nics, 0);
	teardown(&h);
}
END_TEST

/* Two members naming one address at one trust: a conflict, neither keeps it. */
START_TEST(shared_address_is_nobodys)
{
	struct host_fixture h;
	uint16_t a, b;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	b = create(&h, "b", "00:16:3e:00:00:02", "10.99.0.1 10.99.0.2");
	rescan(&h);
	ck_assert_uint_eq(member(&h, a)->nics[0].n_ipv4, 0);
	ck_assert_uint_eq(member(&h, b)->nics[0].n_ipv4, 1);
	ck_assert_uint_eq(member(&h, b)->nics[0].ipv4[0], 0x0a630002);
	ck_assert_uint_eq(h.last.conflicts, 2);
	teardown(&h);
}
END_TEST

static void claim(struct host_fixture *h, uint16_t domid, const char *family, unsigned int n,
		  const char *addr)
{
	char path[96];

	snprintf(path, sizeof(path), "/local/domain/%u/attr/vif/0/%s/%u", domid, family, n);
	ck_assert_int_eq(fakexen_write(h->fx, path, addr), 0);
	fakexen_fire(h->fx, path);	/* the xenstore source's watch on each member's attr/vif */
}

/*
 * A guest's own attr/vif addresses: read, but in no member unless the operator trusts them;
 * trusted, they still never take an address another member holds from dom0.
 */
START_TEST(claimed_addresses_need_trust)
{
	struct host_fixture h;
	uint16_t a, b;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "");
	b = create(&h, "b", "00:16:3e:00:00:02", "10.99.0.2");
	rescan(&h);
	claim(&h, a, "ipv4", 0, "10.99.0.1");
	claim(&h, a, "ipv4", 1, "10.99.0.2");		/* b's */
	claim(&h, a, "ipv6", 0, "fd00::1");
	claim(&h, a, "ipv6", 1, "10.99.0.9");		/* not under ipv6 */
	claim(&h, a, "ipv4", 2, "garbage");
	ck_assert_uint_eq(rescan(&h), 0);		/* nothing used: no change */
	ck_assert_uint_eq(member(&h, a)->nics[0].n_ipv4, 0);
	ck_assert_uint_eq(member(&h, a)->nics[0].n_ipv6, 0);

	h.opts.trust_claimed = true;
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_uint_eq(member(&h, a)->nics[0].n_ipv4, 1);
	ck_assert_uint_eq(member(&h, a)->nics[0].ipv4[0], 0x0a630001);
	ck_assert_uint_eq(member(&h, a)->nics[0].ipv4_source[0], CK_ADDR_CLAIMED);
	ck_assert_uint_eq(member(&h, a)->nics[0].n_ipv6, 1);
	ck_assert_uint_eq(member(&h, a)->nics[0].ipv6_source[0], CK_ADDR_CLAIMED);
	ck_assert_uint_eq(member(&h, b)->nics[0].n_ipv4, 1);
	ck_assert_uint_eq(member(&h, b)->nics[0].ipv4_source[0], CK_ADDR_TOOLSTACK);
	/* A new claim is a watch fire like any other. */
	claim(&h, a, "ipv4", 0, "10.99.0.7");
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_uint_eq(member(&h, a)->nics[0].ipv4[0], 0x0a630007);
	teardown(&h);
}
END_TEST

/* An address book's addresses (scan_options.addresses) join the member as read. */
static void add_orchestrated(void *data, struct ck_member *m)
{
	const uint32_t *addr = data;

	if (m->n_nics && *addr && !strcmp(m->name, "a"))
		ck_nic_add_ipv4(&m->nics[0], *addr, CK_ADDR_ORCHESTRATOR);
}

START_TEST(added_addresses_are_merged)
{
	struct host_fixture h;
	uint32_t addr = 0;
	uint16_t a, b;

	setup(&h);
	h.opts.addresses = add_orchestrated;
	h.opts.addresses_data = &addr;
	a = create(&h, "a", "00:16:3e:00:00:01", "");
	b = create(&h, "b", "00:16:3e:00:00:02", "");
	rescan(&h);
	ck_assert_uint_eq(member(&h, a)->nics[0].n_ipv4, 0);
	addr = 0x0a630005;
	scan_cache_remerge(h.cache, a);
	ck_assert_uint_eq(rescan(&h), 1);		/* a only: b was not re-merged */
	ck_assert_uint_eq(member(&h, a)->nics[0].ipv4[0], 0x0a630005);
	ck_assert_uint_eq(member(&h, a)->nics[0].ipv4_source[0], CK_ADDR_ORCHESTRATOR);
	ck_assert_uint_eq(member(&h, b)->nics[0].n_ipv4, 0);
	teardown(&h);
}
END_TEST

START_TEST(unprintable_names_are_sanitised)
{
	struct host_fixture h;
	char path[96];
	uint16_t a;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", NULL);
	snprintf(path, sizeof(path), "/local/domain/%u/name", a);
	ck_assert_int_eq(fakexen_write(h.fx, path, "we\x1b[2Jb"), 0);
	fakexen_fire(h.fx, path);	/* cokeeperd watches its members' names */
	rescan(&h);
	ck_assert_str_eq(member(&h, a)->name, "we_[2Jb");
	teardown(&h);
}
END_TEST

START_TEST(only_identity_writes_need_a_scan)
{
	struct scan_cache *c;

	ck_assert_int_eq(scan_cache_new(&c), 0);
	ck_assert(scan_cache_watch_fired(c, "@introduceDomain"));
	ck_assert(scan_cache_watch_fired(c, "@releaseDomain"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0/mac"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0/ip"));
	/* A vif moved to another bridge, or shaped: its fast path pairs change. */
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0/bridge"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0/rate"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/7/name"));
	ck_assert(!scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0/state"));
	ck_assert(!scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0/hotplug-status"));
	ck_assert(!scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0/feature-sg"));
	ck_assert(!scan_cache_watch_fired(c, "/local/domain/0/backend/vif/7/0/ip/extra"));
	/* Anything else that fires is taken as relevant, malformed domids included. */
	ck_assert(scan_cache_watch_fired(c, "/local/domain/3/data/cokeeper-vchan"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif/x7/0/mac"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vif/99999999999999999999"));
	ck_assert(scan_cache_watch_fired(c, "/local/domain/0/backend/vifs"));
	ck_assert(scan_cache_watch_fired(c, ""));
	scan_cache_free(c);
}
END_TEST

START_TEST(a_fire_costs_the_reads_of_the_domain_it_names)
{
	struct host_fixture h;
	char path[96];
	uint16_t a, b;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	b = create(&h, "b", "00:16:3e:00:00:02", "10.99.0.2");
	create(&h, "c", "00:16:3e:00:00:03", "10.99.0.3");
	ck_assert_uint_eq(rescan(&h), 3);
	ck_assert_uint_eq(h.last.read, 3);

	ck_assert_int_eq(fakexen_set_vif(h.fx, b, 0, "00:16:3e:00:00:02", "10.99.0.22"), 0);
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_uint_eq(h.last.read, 1);

	fakexen_fire(h.fx, "@releaseDomain");		/* spurious: nothing to read */
	ck_assert_uint_eq(rescan(&h), 0);
	ck_assert_uint_eq(h.last.read, 0);

	ck_assert_int_eq(fakexen_shutdown(h.fx, a, true), 0);	/* its run state changed */
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_uint_eq(h.last.read, 1);
	ck_assert_int_eq(member(&h, a)->state, CK_MEMBER_MIGRATING_OUT);

	/* What no watch reports stays unseen until the cache is forgotten (SIGHUP). */
	snprintf(path, sizeof(path), "/local/domain/%u/name", b);
	ck_assert_int_eq(fakexen_write(h.fx, path, "renamed"), 0);
	ck_assert_int_eq(fakexen_destroy(h.fx, a), 0);
	scan_cache_forget(h.cache);
	ck_assert_uint_eq(rescan(&h), 2);
	ck_assert_uint_eq(h.last.read, 2);
	ck_assert_str_eq(member(&h, b)->name, "renamed");
	teardown(&h);
}
END_TEST

/*
 * uthash failing to allocate its table fails the one cache insert: the daemon does not
 * exit, the scan still serves the member, and the next scan reads it again.
 */
START_TEST(cache_insert_out_of_memory_serves_uncached)
{
	struct host_fixture h;
	uint16_t a;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	ck_hash_set_allocator(&refusing);
	hash_refusals = 1;
	ck_assert_uint_eq(rescan(&h), 1);
	ck_assert_uint_eq(hash_mallocs_refused, 1);
	ck_assert_ptr_nonnull(member(&h, a));
	ck_assert_uint_eq(h.last.read, 1);
	hash_refusals = 1;
	ck_assert_uint_eq(rescan(&h), 0);
	ck_assert_uint_eq(hash_mallocs_refused, 2);
	ck_assert_uint_eq(h.last.read, 1);	/* not cached: read again */

	ck_assert_uint_eq(rescan(&h), 0);
	ck_assert_uint_eq(h.last.read, 1);
	ck_assert_uint_eq(rescan(&h), 0);
	ck_assert_uint_eq(h.last.read, 0);	/* cached at last */
	ck_assert_ptr_nonnull(member(&h, a));
	teardown(&h);
	ck_hash_set_allocator(NULL);
}
END_TEST

/*
 * A host whose first read of a scan runs a hook first: a write committed just before the
 * xenstore source's barrier (the scan's first read, on the watch connection), whose fire
 * the source takes when that read returns.  The fake delivers fires synchronously, so
 * writing in the hook is both.
 */
struct barrier_host {
	struct host inner;
	struct host_fixture *h;
	int reads;
	void (*hook)(struct host_fixture *h, uint16_t domid, const char *what);
	uint16_t domid;
	const char *what;
};

static void barrier_hook(struct barrier_host *b)
{
	if (b->reads++ == 0 && b->hook)
		b->hook(b->h, b->domid, b->what);
}

static char *barrier_read(void *ctx, const char *path, unsigned int *len)
{
	struct barrier_host *b = ctx;

	barrier_hook(b);
	return b->inner.ops->read(b->inner.ctx, path, len);
}

static char **barrier_directory(void *ctx, const char *path, unsigned int *num)
{
	struct barrier_host *b = ctx;

	barrier_hook(b);
	return b->inner.ops->directory(b->inner.ctx, path, num);
}

static int barrier_list(void *ctx, struct domain_info **ret, size_t *n)
{
	struct barrier_host *b = ctx;

	return b->inner.ops->list_domains(b->inner.ctx, ret, n);
}

static const struct host_ops barrier_ops = {
	.read = barrier_read, .directory = barrier_directory, .list_domains = barrier_list,
};

static void write_during_barrier(struct host_fixture *h, uint16_t domid, const char *what)
{
	char path[96];

	if (!strcmp(what, "ip")) {
		ck_assert_int_eq(fakexen_set_vif(h->fx, domid, 0, "00:16:3e:00:00:0f", "10.99.0.77"),
				 0);
		return;
	}
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	ck_assert_int_eq(fakexen_write(h->fx, path, "renamed"), 0);
	fakexen_fire(h->fx, path);
}

/*
 * One scan with a write at its barrier, then as many scans as scan_cache_stale() asks for
 * (the source requests them): the end must equal a full scan.  Returns the scans it took.
 */
static int scan_with_barrier_write(struct host_fixture *h, uint16_t trigger, uint16_t domid,
				   const char *what)
{
	struct barrier_host b = { .inner = fakexen_host(h->fx), .h = h,
				  .hook = write_during_barrier, .domid = domid, .what = what };
	struct host host = { .ops = &barrier_ops, .ctx = &b };
	int scans = 0;

	/* What asks for the scan: a vif write on trigger's domain. */
	ck_assert_int_eq(fakexen_set_vif(h->fx, trigger, 0, "00:16:3e:00:00:0e", "10.99.0.66"), 0);
	do {
		_cleanup_memberset_ struct ck_memberset *set = NULL;
		struct scan_result res;
		struct ck_delta d;

		ck_assert_int_eq(ck_memberset_new(&set), 0);
		ck_assert_int_eq(scan_host(&host, &h->opts, h->cache, set, &res), 0);
		ck_assert_int_eq(ck_membership_commit(h->m, set, &d), 0);
		ck_delta_reset(&d);
		b.hook = NULL;
		scans++;
	} while (scan_cache_stale(h->cache) && scans < 5);
	ck_assert(!scan_cache_stale(h->cache));
	rescan(h);	/* asserts the cached view equals a full scan */
	return scans;
}

START_TEST(fires_taken_at_the_barrier_are_served)
{
	struct host_fixture h;
	uint16_t a, b, c;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	b = create(&h, "b", "00:16:3e:00:00:02", "10.99.0.2");
	c = create(&h, "c", "00:16:3e:00:00:03", "10.99.0.3");
	rescan(&h);
	/* The domain being read, or one read after it: the same scan serves the write. */
	ck_assert_int_eq(scan_with_barrier_write(&h, b, b, "ip"), 1);
	ck_assert_int_eq(scan_with_barrier_write(&h, b, c, "ip"), 1);
	/* One the scan had passed over, or a rename while only vifs were read: one more. */
	ck_assert_int_eq(scan_with_barrier_write(&h, b, a, "ip"), 2);
	ck_assert_int_eq(scan_with_barrier_write(&h, b, b, "name"), 2);
	ck_assert_str_eq(member(&h, b)->name, "renamed");
	teardown(&h);
}
END_TEST

/* Random toolstack operations; rescan() checks the cached scan against a full one each time. */
START_TEST(cached_scan_equals_full_scan_through_random_changes)
{
	struct host_fixture h;
	uint16_t live[16];
	unsigned int n_live = 0, seed = 20261122;

	setup(&h);
	for (int step = 0; step < 400; step++) {
		unsigned int op = rand_r(&seed) % 6, i = n_live ? rand_r(&seed) % n_live : 0;
		char mac[18], ip[16], name[16], path[64];
		uint8_t uuid[CK_UUID_LEN] = { 0 };

		snprintf(mac, sizeof(mac), "00:16:3e:00:%02x:%02x", rand_r(&seed) % 4,
			 rand_r(&seed) % 8);
		snprintf(ip, sizeof(ip), "10.99.%u.%u", rand_r(&seed) % 2, rand_r(&seed) % 8);
		if (op == 0 || n_live == 0) {
			struct fake_nic nic = { .mac = mac, .ip = ip };
			uint16_t d;

			if (n_live == sizeof(live) / sizeof(live[0]))
				continue;
			snprintf(name, sizeof(name), "g%d", step);
			uuid[0] = rand_r(&seed) % 8;	/* sometimes two domains share one */
			ck_assert_int_eq(fakexen_create(h.fx, name, uuid, &nic, 1,
							rand_r(&seed) % 4 == 0, &d), 0);
			live[n_live++] = d;
		} else if (op == 1) {
			ck_assert_int_eq(fakexen_destroy(h.fx, live[i]), 0);
			live[i] = live[--n_live];
		} else if (op == 2) {
			ck_assert_int_eq(fakexen_set_vif(h.fx, live[i], rand_r(&seed) % 2, mac, ip),
					 0);
		} else if (op == 3) {
			ck_assert_int_eq(fakexen_shutdown(h.fx, live[i], rand_r(&seed) % 2), 0);
		} else if (op == 4 && n_live > 1) {
			unsigned int j = (i + 1) % n_live;

			ck_assert_int_eq(fakexen_migrate_handover(h.fx, live[i], live[j]), 0);
		} else {
			snprintf(path, sizeof(path), "/local/domain/%u/name", live[i]);
			snprintf(name, sizeof(name), "r%d", step);
			ck_assert_int_eq(fakexen_write(h.fx, path, name), 0);
			fakexen_fire(h.fx, path);
		}
		if (rand_r(&seed) % 3 == 0)
			rescan(&h);
	}
	rescan(&h);
	teardown(&h);
}
END_TEST

static bool deltas_equal(const struct ck_delta *a, const struct ck_delta *b)
{
	if (a->base_gen != b->base_gen || a->new_gen != b->new_gen ||
	    a->n_upserts != b->n_upserts || a->n_removed != b->n_removed)
		return false;
	for (size_t i = 0; i < a->n_upserts; i++)
		if (!ck_member_equal(&a->upserts[i], &b->upserts[i]))
			return false;
	return !a->n_removed || !memcmp(a->removed, b->removed, a->n_removed * sizeof(*a->removed));
}

/*
 * The daemon's way (scan_host_changes() with the cache the fires kept, then a commit of the
 * changed domids only) against the simplest: a scan that reads everything and a commit of
 * the whole set.  Both must give the same members and the same delta.
 */
static void commit_both(struct host_fixture *h, struct ck_membership *full_m)
{
	_cleanup_memberset_ struct ck_memberset *part = NULL, *full = NULL;
	struct host host = fakexen_host(h->fx);
	struct scan_result res, full_res;
	struct ck_delta d = { 0 }, full_d = { 0 };

	ck_assert_int_eq(ck_memberset_new(&part), 0);
	ck_assert_int_eq(ck_memberset_new(&full), 0);
	ck_assert_int_eq(scan_host_changes(&host, &h->opts, h->cache, part, &res), 0);
	if (res.partial)
		ck_assert_int_eq(ck_membership_commit_domids(h->m, part, res.changed,
							     res.n_changed, &d), 0);
	else
		ck_assert_int_eq(ck_membership_commit(h->m, part, &d), 0);
	ck_assert_int_eq(scan_host(&host, &h->opts, NULL, full, &full_res), 0);
	ck_assert_int_eq(ck_membership_commit(full_m, full, &full_d), 0);
	ck_assert_msg(ck_memberset_equal(h->m->members, full_m->members),
		      "the partial commit's members differ from a full scan's");
	ck_assert_msg(deltas_equal(&d, &full_d),
		      "the partial commit's delta differs from a full scan's (%zu+%zu, %zu+%zu)",
		      d.n_upserts, d.n_removed, full_d.n_upserts, full_d.n_removed);
	ck_delta_reset(&d);
	ck_delta_reset(&full_d);
}

/* Random toolstack operations, each followed by a partial scan and commit (see commit_both). */
static void random_changes(unsigned int seed)
{
	struct host_fixture h;
	struct ck_membership *full_m;
	uint16_t live[24];
	unsigned int n_live = 0;

	setup(&h);
	ck_assert_int_eq(ck_membership_new(&full_m, 42, 256), 0);
	for (int step = 0; step < 600; step++) {
		unsigned int op = rand_r(&seed) % 9, i = n_live ? rand_r(&seed) % n_live : 0;
		char mac[18], ip[16], name[16], path[64];
		uint8_t uuid[CK_UUID_LEN] = { 0 };

		snprintf(mac, sizeof(mac), "00:16:3e:00:%02x:%02x", rand_r(&seed) % 4,
			 rand_r(&seed) % 8);
		snprintf(ip, sizeof(ip), "10.98.%u.%u", rand_r(&seed) % 2, rand_r(&seed) % 8);
		if (op == 0 || n_live < 2) {
			struct fake_nic nic = { .mac = mac, .ip = ip };
			uint16_t d;

			if (n_live == sizeof(live) / sizeof(live[0]))
				continue;
			snprintf(name, sizeof(name), "g%d", step);
			uuid[0] = rand_r(&seed) % 8;	/* sometimes two domains share one */
			ck_assert_int_eq(fakexen_create(h.fx, name, uuid, &nic, 1, false, &d), 0);
			live[n_live++] = d;
		} else if (op == 1) {
			ck_assert_int_eq(fakexen_destroy(h.fx, live[i]), 0);
			live[i] = live[--n_live];
		} else if (op == 2) {
			/* A NIC's mac or addresses rewritten, or a second NIC. */
			ck_assert_int_eq(fakexen_set_vif(h.fx, live[i], rand_r(&seed) % 2, mac, ip),
					 0);
		} else if (op == 3) {
			snprintf(path, sizeof(path), "/local/domain/%u/name", live[i]);
			snprintf(name, sizeof(name), "r%d", step);
			ck_assert_int_eq(fakexen_write(h.fx, path, name), 0);
			fakexen_fire(h.fx, path);
		} else if (op == 4 && n_live < sizeof(live) / sizeof(live[0])) {
			/* A migration: the twin, the suspend, the handover, the source gone. */
			struct fake_nic nic = { .mac = mac, .ip = ip };
			uint8_t u[CK_UUID_LEN];
			char n[CK_NAME_MAX + 1];
			uint16_t to;

			ck_assert_int_eq(fakexen_domain(h.fx, live[i], u, n), 0);
			if (strstr(n, "--"))
				continue;
			ck_assert_int_eq(fakexen_create(h.fx, n, u, &nic, 1, true, &to), 0);
			live[n_live++] = to;
			commit_both(&h, full_m);
			ck_assert_int_eq(fakexen_shutdown(h.fx, live[i], true), 0);
			commit_both(&h, full_m);
			ck_assert_int_eq(fakexen_migrate_handover(h.fx, live[i], to), 0);
			commit_both(&h, full_m);
			ck_assert_int_eq(fakexen_destroy(h.fx, live[i]), 0);
			live[i] = live[--n_live];
		} else if (op == 5) {
			ck_assert_int_eq(fakexen_shutdown(h.fx, live[i], rand_r(&seed) % 2), 0);
		} else if (op == 6) {
			/* Half a destroy: dying, still in xenstore. */
			ck_assert_int_eq(fakexen_set_dying(h.fx, live[i]), 0);
		} else if (op == 7) {
			/* SIGHUP. */
			scan_cache_forget(h.cache);
		} else {
			/* Two changes in one scan. */
			ck_assert_int_eq(fakexen_set_vif(h.fx, live[i], 0, mac, NULL), 0);
			snprintf(path, sizeof(path), "/local/domain/%u/name", live[(i + 1) % n_live]);
			snprintf(name, sizeof(name), "s%d", step);
			ck_assert_int_eq(fakexen_write(h.fx, path, name), 0);
			fakexen_fire(h.fx, path);
		}
		commit_both(&h, full_m);
	}
	ck_membership_free(full_m);
	teardown(&h);
}

START_TEST(partial_commit_equals_full_commit_through_random_changes)
{
	for (unsigned int seed = 20261123; seed < 20261127; seed++)
		random_changes(seed);
}
END_TEST

/* The scale and more: domids past 1,023, listed and read like the first. */
START_TEST(fakexen_holds_4096_domains)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct host_fixture h;
	struct host host;
	struct scan_result res;
	uint16_t domid = 0;

	setup(&h);
	host = fakexen_host(h.fx);
	for (unsigned int i = 0; i < 4096; i++) {
		char name[16], mac[18], ip[16];

		snprintf(name, sizeof(name), "big%u", i);
		snprintf(mac, sizeof(mac), "00:16:3e:01:%02x:%02x", i >> 8, i & 0xff);
		snprintf(ip, sizeof(ip), "10.%u.%u.1", 100 + (i >> 8), i & 0xff);
		domid = create(&h, name, mac, ip);
		ck_assert_uint_eq(domid, i + 1);
	}
	ck_assert_int_eq(fakexen_find_name(h.fx, "big4095"), 4096);
	ck_assert_int_eq(fakexen_destroy(h.fx, 2000), 0);
	ck_assert_int_eq(fakexen_find_name(h.fx, "big1999"), -ENOENT);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	ck_assert_int_eq(scan_host(&host, &h.opts, NULL, set, &res), 0);
	ck_assert_uint_eq(ck_memberset_count(set), 4095);
	ck_assert_uint_eq(res.domains, 4096);	/* with dom0 */
	ck_assert_str_eq(ck_memberset_find(set, 4096)->name, "big4095");
	ck_assert_ptr_null(ck_memberset_find(set, 2000));
	teardown(&h);
}
END_TEST

/* Domids go upwards to the last below CK_DOMID_LIMIT, then wrap to the lowest free one. */
START_TEST(fakexen_domids_wrap_below_the_limit)
{
	struct host_fixture h;
	uint16_t first, d = 0;

	setup(&h);
	first = create(&h, "first", "00:16:3e:00:00:01", NULL);
	for (unsigned int i = 1; i < CK_DOMID_LIMIT - 2; i++) {
		struct fake_nic nic = { .mac = "00:16:3e:00:00:02" };
		uint8_t uuid[CK_UUID_LEN] = { 1 };

		ck_assert_int_eq(fakexen_create(h.fx, "x", uuid, &nic, 1, false, &d), 0);
		/* Keep the store small: only the domain list must fill up. */
		ck_assert_int_eq(fakexen_destroy(h.fx, d), 0);
	}
	ck_assert_uint_eq(d, CK_DOMID_LIMIT - 2);
	d = create(&h, "last", "00:16:3e:00:00:03", NULL);
	ck_assert_uint_eq(d, CK_DOMID_LIMIT - 1);
	d = create(&h, "wrapped", "00:16:3e:00:00:04", NULL);
	ck_assert_uint_eq(first, 1);
	ck_assert_uint_eq(d, 2);	/* 1 is taken */
	ck_assert_int_eq(fakexen_find_name(h.fx, "last"), CK_DOMID_LIMIT - 1);
	teardown(&h);
}
END_TEST

/* Directories list children only; a removal takes the subtree and the emptied parents. */
START_TEST(fakexen_directory_and_rm)
{
	struct host_fixture h;
	struct host host;
	unsigned int num = 99, len;
	char **dirs;

	setup(&h);
	host = fakexen_host(h.fx);
	ck_assert_int_eq(fakexen_write(h.fx, "/a/b/c", "1"), 0);
	ck_assert_int_eq(fakexen_write(h.fx, "/a/b/d/e", "2"), 0);
	ck_assert_int_eq(fakexen_write(h.fx, "/a/bb", "3"), 0);
	dirs = host.ops->directory(host.ctx, "/a/b", &num);
	ck_assert_ptr_nonnull(dirs);
	ck_assert_uint_eq(num, 2);
	ck_assert_str_eq(dirs[0], "c");
	ck_assert_str_eq(dirs[1], "d");
	free(dirs);
	ck_assert_ptr_null(host.ops->read(host.ctx, "/a/b", &len));	/* implied: no value */
	fakexen_rm(h.fx, "/a/b/d/e");
	dirs = host.ops->directory(host.ctx, "/a/b", &num);
	ck_assert_uint_eq(num, 1);
	free(dirs);
	fakexen_rm(h.fx, "/a/b");
	ck_assert_ptr_null(host.ops->read(host.ctx, "/a/b/c", &len));
	dirs = host.ops->directory(host.ctx, "/a", &num);
	ck_assert_uint_eq(num, 1);
	ck_assert_str_eq(dirs[0], "bb");
	free(dirs);
	fakexen_rm(h.fx, "/a/bb");
	ck_assert_ptr_null(host.ops->directory(host.ctx, "/a", &num));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(fakexen_write(h.fx, "/a//b", "x"), -EINVAL);
	ck_assert_int_eq(fakexen_write(h.fx, "a/b", "x"), -EINVAL);
	ck_assert_int_eq(fakexen_write(h.fx, "/a/", "x"), -EINVAL);
	teardown(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scan");

	th_add(s, only_identity_writes_need_a_scan);
	th_add(s, a_fire_costs_the_reads_of_the_domain_it_names);
	th_add(s, cache_insert_out_of_memory_serves_uncached);
	th_add(s, cached_scan_equals_full_scan_through_random_changes);
	th_add(s, fires_taken_at_the_barrier_are_served);
	th_add(s, create_reads_toolstack_identity);
	th_add(s, dom0_only_when_asked);
	th_add(s, destroy_removes_at_first_release);
	th_add(s, spurious_and_duplicate_fires_change_nothing);
	th_add(s, poweroff_shutdown_is_not_a_member);
	th_add(s, localhost_migration_ends_with_new_domid);
	th_add(s, two_halves_with_one_uuid_keep_the_running_one);
	th_add(s, vif_change_updates_member);
	th_add(s, guest_written_keys_are_ignored);
	th_add(s, building_and_malformed_domains_are_skipped);
	th_add(s, shared_address_is_nobodys);
	th_add(s, claimed_addresses_need_trust);
	th_add(s, added_addresses_are_merged);
	th_add(s, unprintable_names_are_sanitised);
	th_add(s, partial_commit_equals_full_commit_through_random_changes);
	th_add(s, fakexen_holds_4096_domains);
	th_add(s, fakexen_domids_wrap_below_the_limit);
	th_add(s, fakexen_directory_and_rm);
	return th_run(s);
}
