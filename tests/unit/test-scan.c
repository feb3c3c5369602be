// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scan against an in-memory host laid out like a real Xen 4.17 dom0's xenstore, through
 * the membership commit, as cokeeperd runs it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fakexen.h"
#include "helpers.h"
#include "member-json.h"
#include "scan.h"

struct host_fixture {
	struct fakexen *fx;
	struct ck_membership *m;
	unsigned int fires;
	struct scan_options opts;
};

static void count_fire(const char *token, void *userdata)
{
	struct host_fixture *h = userdata;

	h->fires++;
}

static void setup(struct host_fixture *h)
{
	memset(h, 0, sizeof(*h));
	ck_assert_int_eq(fakexen_new(&h->fx, count_fire, h), 0);
	ck_assert_int_eq(ck_membership_new(&h->m, 42, 256), 0);
}

static void teardown(struct host_fixture *h)
{
	fakexen_free(h->fx);
	ck_membership_free(h->m);
}

/* Scans and commits; returns how many member-level changes the scan produced. */
static size_t rescan(struct host_fixture *h)
{
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct host host = fakexen_host(h->fx);
	struct scan_result res;
	struct ck_delta d;
	size_t changes;

	ck_assert_int_eq(ck_memberset_new(&set), 0);
	ck_assert_int_eq(scan_host(&host, &h->opts, set, &res), 0);
	ck_assert_int_eq(ck_membership_commit(h->m, set, &d), 0);
	changes = ck_delta_changes(&d);
	ck_delta_reset(&d);
	return changes;
}

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
	ck_assert_uint_eq(h.fires, 1);	/* @introduceDomain */
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

START_TEST(shared_address_stays_with_lower_domid)
{
	struct host_fixture h;
	uint16_t a, b;

	setup(&h);
	a = create(&h, "a", "00:16:3e:00:00:01", "10.99.0.1");
	b = create(&h, "b", "00:16:3e:00:00:02", "10.99.0.1 10.99.0.2");
	rescan(&h);
	ck_assert_uint_eq(member(&h, a)->nics[0].n_ipv4, 1);
	ck_assert_uint_eq(member(&h, b)->nics[0].n_ipv4, 1);
	ck_assert_uint_ne(member(&h, b)->nics[0].ipv4[0], member(&h, a)->nics[0].ipv4[0]);
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
	rescan(&h);
	ck_assert_str_eq(member(&h, a)->name, "we_[2Jb");
	teardown(&h);
}
END_TEST

START_TEST(only_identity_writes_need_a_scan)
{
	ck_assert(scan_watch_relevant("@introduceDomain"));
	ck_assert(scan_watch_relevant("@releaseDomain"));
	ck_assert(scan_watch_relevant("/local/domain/0/backend/vif"));
	ck_assert(scan_watch_relevant("/local/domain/0/backend/vif/7"));
	ck_assert(scan_watch_relevant("/local/domain/0/backend/vif/7/0"));
	ck_assert(scan_watch_relevant("/local/domain/0/backend/vif/7/0/mac"));
	ck_assert(scan_watch_relevant("/local/domain/0/backend/vif/7/0/ip"));
	ck_assert(!scan_watch_relevant("/local/domain/0/backend/vif/7/0/state"));
	ck_assert(!scan_watch_relevant("/local/domain/0/backend/vif/7/0/hotplug-status"));
	ck_assert(!scan_watch_relevant("/local/domain/0/backend/vif/7/0/feature-sg"));
	ck_assert(!scan_watch_relevant("/local/domain/0/backend/vif/7/0/ip/extra"));
	/* Anything outside the vif tree that we watch is taken as relevant. */
	ck_assert(scan_watch_relevant("/local/domain/3/data/cokeeper-vchan"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scan");

	th_add(s, only_identity_writes_need_a_scan);
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
	th_add(s, shared_address_stays_with_lower_domid);
	th_add(s, unprintable_names_are_sanitised);
	return th_run(s);
}
