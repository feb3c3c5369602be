// SPDX-License-Identifier: GPL-2.0-only
/*
 * lib/hash.h, and every path that inserts into a hash table (the member set, the conflicts
 * index, the scan cache, the simulated host), with each of their allocations failing in
 * turn: -ENOMEM, nothing leaked, the structure as it was and still usable.
 *
 * To add a path (the daemon's guest set, say): write its setup, op, unchanged and done for
 * struct oom_case and hand it to fail_each_allocation().  failalloc.c makes allocation k of
 * the op fail, the op's own callocs and strdups as much as uthash's table and buckets.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflicts.h"
#include "failalloc.h"
#include "fakexen.h"
#include "hash.h"
#include "helpers.h"
#include "scan.h"

/* ---- hash.h itself ---- */

struct item {
	int key;
	UT_hash_handle hh;
};

static struct item *find_item(struct item *head, int key)
{
	struct item *it;

	HASH_FIND_INT(head, &key, it);
	return it;
}

/* The table's first add allocates the table, then its buckets: either failing adds nothing. */
START_TEST(table_allocation_failure_adds_nothing)
{
	struct item *head = NULL, it = { .key = 1 };
	size_t live = th_alloc_live();
	long k;

	for (k = 0;; k++) {
		int r;

		th_alloc_fail_at(k);
		r = CK_HASH_TRY(HASH_ADD_INT(head, key, &it));
		if (th_alloc_count() <= (size_t)k)
			break;
		th_alloc_fail_at(-1);
		ck_assert_int_eq(r, -ENOMEM);
		ck_assert_ptr_null(head);
		ck_assert_uint_eq(th_alloc_live(), live);
	}
	th_alloc_fail_at(-1);
	ck_assert_int_eq(k, 2);
	ck_assert_ptr_eq(find_item(head, 1), &it);
	HASH_CLEAR(hh, head);
	ck_assert_uint_eq(th_alloc_live(), live);
}
END_TEST

/*
 * Adds items[0..] until an add other than the first needs to allocate (the buckets grow),
 * which is made to fail.  Returns that add's index.
 */
static int add_until_expansion_fails(struct item **head, struct item *items, int n)
{
	for (int i = 0; i < n; i++) {
		int r;

		th_alloc_fail_at(i == 0 ? -1 : 0);
		r = CK_HASH_TRY(HASH_ADD_INT(*head, key, &items[i]));
		th_alloc_fail_at(-1);
		if (r < 0) {
			ck_assert_int_eq(r, -ENOMEM);
			return i;
		}
	}
	ck_abort_msg("the buckets never grew");
	return -1;
}

/* uthash takes the element out again when its buckets cannot grow; the table is as before. */
START_TEST(bucket_expansion_failure_adds_nothing)
{
	enum { N = 2000 };
	struct item *head = NULL, *items = calloc(N, sizeof(*items));
	unsigned int buckets;
	size_t live;
	int failed;

	ck_assert_ptr_nonnull(items);
	for (int i = 0; i < N; i++)
		items[i].key = i * 7919;
	live = th_alloc_live();
	failed = add_until_expansion_fails(&head, items, N);
	ck_assert_int_gt(failed, 1);
	ck_assert_uint_eq(HASH_COUNT(head), (unsigned int)failed);
	ck_assert_ptr_null(find_item(head, items[failed].key));
	for (int i = 0; i < failed; i++)
		ck_assert_ptr_eq(find_item(head, items[i].key), &items[i]);
	buckets = head->hh.tbl->num_buckets;
	ck_assert_uint_eq(th_alloc_live(), live + 2);	/* the table and its buckets */

	ck_assert_int_eq(CK_HASH_TRY(HASH_ADD_INT(head, key, &items[failed])), 0);
	ck_assert_uint_eq(head->hh.tbl->num_buckets, 2 * buckets);
	ck_assert_ptr_eq(find_item(head, items[failed].key), &items[failed]);
	ck_assert_uint_eq(HASH_COUNT(head), (unsigned int)failed + 1);
	HASH_CLEAR(hh, head);
	ck_assert_uint_eq(th_alloc_live(), live);
	free(items);
}
END_TEST

/*
 * CK_HASH_REPLACE keeps the old element when the add fails; uthash's HASH_REPLACE would
 * have deleted it first.  The bucket that was about to grow is where a replace fails.
 */
START_TEST(replace_failure_keeps_the_old_element)
{
	enum { N = 2000 };
	struct item *head = NULL, *items = calloc(N, sizeof(*items)), dup, *replaced;
	unsigned int mask;
	int failed, r = 0;

	ck_assert_ptr_nonnull(items);
	for (int i = 0; i < N; i++)
		items[i].key = i * 7919;
	failed = add_until_expansion_fails(&head, items, N);
	mask = head->hh.tbl->num_buckets - 1;
	for (int i = 0; i < failed; i++) {
		if ((items[i].hh.hashv & mask) != (items[failed].hh.hashv & mask))
			continue;
		dup = (struct item){ .key = items[i].key };
		th_alloc_fail_at(0);
		r = CK_HASH_REPLACE(hh, head, key, sizeof(int), &dup, replaced);
		th_alloc_fail_at(-1);
		ck_assert_int_eq(r, -ENOMEM);
		ck_assert_ptr_eq(find_item(head, items[i].key), &items[i]);
		ck_assert_uint_eq(HASH_COUNT(head), (unsigned int)failed);

		ck_assert_int_eq(CK_HASH_REPLACE(hh, head, key, sizeof(int), &dup, replaced), 0);
		ck_assert_ptr_eq(replaced, &items[i]);
		ck_assert_ptr_eq(find_item(head, items[i].key), &dup);
		ck_assert_uint_eq(HASH_COUNT(head), (unsigned int)failed);
		break;
	}
	ck_assert_int_eq(r, -ENOMEM);
	HASH_CLEAR(hh, head);
	free(items);
}
END_TEST

static size_t hash_mallocs, hash_frees;

static void *counting_malloc(size_t size)
{
	hash_mallocs++;
	return malloc(size);
}

static void counting_free(void *p)
{
	hash_frees++;
	free(p);
}

/* uthash's allocations go through the allocator set, and each is given back. */
START_TEST(allocator_sees_every_table_allocation)
{
	static const struct ck_hash_allocator counting = {
		.malloc = counting_malloc,
		.free = counting_free,
	};
	_cleanup_memberset_ struct ck_memberset *set = NULL;

	ck_hash_set_allocator(&counting);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (uint16_t d = 1; d <= 500; d++) {
		struct ck_member m;

		th_member(&m, d, 0);
		ck_assert_int_eq(ck_memberset_put(set, &m), 0);
	}
	ck_assert_uint_gt(hash_mallocs, 2);	/* the table, its buckets, their growth */
	ck_memberset_clear(set);
	ck_hash_set_allocator(NULL);
	ck_assert_uint_eq(hash_frees, hash_mallocs);
}
END_TEST

/* ---- every path that inserts, with each allocation failing in turn ---- */

enum { N_UPSERTS = 200, CONFLICT_DOMIDS = 300 };

struct fixture {
	struct ck_memberset *set, *snapshot, *copy, *want;
	struct ck_member *upserts;
	uint16_t removed[40];
	struct conflicts *conflicts;
	struct ck_member *members;	/* conflicts_member() of each domid, as setup left them */
	unsigned int n_conflicts;
	struct fakexen *fx;
	struct scan_cache *cache;
	struct host host;		/* fx's, with reads that allocate past the failures */
	unsigned int listed[4];		/* entries of watched[], as setup left them */
};

struct oom_case {
	void (*setup)(struct fixture *f);
	int (*op)(struct fixture *f);
	/* After op failed: the structure is as setup left it.  NULL: nothing to look at. */
	void (*unchanged)(struct fixture *f);
	/* After op succeeded: it holds what op added, and works. */
	void (*done)(struct fixture *f);
	/* A failed op leaves exactly the blocks setup left (else only teardown is checked). */
	bool exact;
	/* op may succeed though an allocation failed: what failed was a cache or an index. */
	bool tolerant;
};

static void teardown(struct fixture *f)
{
	ck_memberset_free(f->set);
	ck_memberset_free(f->snapshot);
	ck_memberset_free(f->copy);
	ck_memberset_free(f->want);
	free(f->upserts);
	conflicts_free(f->conflicts);
	free(f->members);
	scan_cache_free(f->cache);
	fakexen_free(f->fx);
}

/* Runs c with allocation k of its op failing, k = 0, 1, … until the op allocates fewer. */
static void fail_each_allocation(const struct oom_case *c)
{
	for (long k = 0;; k++) {
		struct fixture f = { 0 };
		size_t base = th_alloc_live(), before;
		bool injected;
		int r;

		c->setup(&f);
		before = th_alloc_live();
		th_alloc_fail_at(k);
		r = c->op(&f);
		injected = th_alloc_count() > (size_t)k;
		th_alloc_fail_at(-1);
		if (!injected) {
			ck_assert_msg(r == 0, "no allocation failed, yet %d", r);
			ck_assert_msg(k > 0, "the op allocates nothing");
			c->done(&f);
			teardown(&f);
			ck_assert_uint_eq(th_alloc_live(), base);
			return;
		}
		if (r < 0) {
			ck_assert_msg(r == -ENOMEM, "allocation %ld failed: %d", k, r);
			if (c->unchanged)
				c->unchanged(&f);
			ck_assert_msg(!c->exact || th_alloc_live() == before,
				      "allocation %ld failed: %zu blocks before, %zu after", k,
				      before, th_alloc_live());
			ck_assert_msg((r = c->op(&f)) == 0, "allocation %ld: the retry gave %d", k, r);
		} else {
			ck_assert_msg(c->tolerant, "allocation %ld failed, yet 0", k);
		}
		c->done(&f);
		teardown(&f);
		ck_assert_msg(th_alloc_live() == base, "allocation %ld failed: %zu blocks leaked", k,
			      th_alloc_live() - base);
	}
}

/* The member set: a put into an empty set makes the table. */
static void put_setup(struct fixture *f)
{
	ck_assert_int_eq(ck_memberset_new(&f->set), 0);
}

static int put_op(struct fixture *f)
{
	struct ck_member m;

	th_member(&m, 7, 0);
	return ck_memberset_put(f->set, &m);
}

static void put_unchanged(struct fixture *f)
{
	ck_assert_uint_eq(ck_memberset_count(f->set), 0);
	ck_assert_ptr_null(ck_memberset_find(f->set, 7));
}

static void put_done(struct fixture *f)
{
	struct ck_member m;

	th_member(&m, 7, 0);
	ck_assert_uint_eq(ck_memberset_count(f->set), 1);
	ck_assert(ck_member_equal(ck_memberset_find(f->set, 7), &m));
}

START_TEST(memberset_put_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ put_setup, put_op, put_unchanged, put_done,
						 .exact = true });
}
END_TEST

/*
 * An apply that adds enough new domids for the buckets to grow, overwrites some and removes
 * some, against a naive model (removals first, then puts).
 */
static void apply_setup(struct fixture *f)
{
	ck_assert_int_eq(ck_memberset_new(&f->set), 0);
	for (uint16_t d = 1; d <= 150; d++) {
		struct ck_member m;

		th_member(&m, d, 0);
		ck_assert_int_eq(ck_memberset_put(f->set, &m), 0);
	}
	ck_assert_int_eq(ck_memberset_copy(f->set, &f->snapshot), 0);
	f->upserts = calloc(N_UPSERTS, sizeof(*f->upserts));
	ck_assert_ptr_nonnull(f->upserts);
	for (unsigned int i = 0; i < N_UPSERTS; i++)	/* 101..300: 50 overwritten, 150 new */
		th_member(&f->upserts[i], 101 + i, 1);
	for (unsigned int i = 0; i < 40; i++)		/* 1..40 go, 141..180 are upserted too */
		f->removed[i] = i < 20 ? 1 + i : 141 + i;
	ck_assert_int_eq(ck_memberset_copy(f->set, &f->want), 0);
	for (unsigned int i = 0; i < 40; i++)
		ck_memberset_remove(f->want, f->removed[i]);
	for (unsigned int i = 0; i < N_UPSERTS; i++)
		ck_assert_int_eq(ck_memberset_put(f->want, &f->upserts[i]), 0);
}

static int apply_op(struct fixture *f)
{
	return ck_memberset_apply(f->set, f->upserts, N_UPSERTS, f->removed, 40);
}

static void set_unchanged(struct fixture *f)
{
	ck_assert(ck_memberset_equal(f->set, f->snapshot));
}

static void apply_done(struct fixture *f)
{
	ck_assert(ck_memberset_equal(f->set, f->want));
}

START_TEST(memberset_apply_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ apply_setup, apply_op, set_unchanged, apply_done,
						 .exact = true });
}
END_TEST

/* A copy puts every member into a new set: a failure frees the part made. */
static void copy_setup(struct fixture *f)
{
	f->set = th_random_set(&(uint32_t){ 0xc0b1 }, 300, 1000);
	ck_assert_int_eq(ck_memberset_copy(f->set, &f->snapshot), 0);
}

static int copy_op(struct fixture *f)
{
	return ck_memberset_copy(f->set, &f->copy);
}

static void copy_done(struct fixture *f)
{
	ck_assert(ck_memberset_equal(f->copy, f->snapshot));
}

START_TEST(memberset_copy_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ copy_setup, copy_op, set_unchanged, copy_done,
						 .exact = true });
}
END_TEST

/*
 * The conflicts index: 120 members (every tenth sharing the uuid of the one before, every
 * seventh an address of domid 1), then one with every NIC and address there is, whose
 * keys, uuid group and record are all new but one address.
 */
static void conflicts_fill(struct conflicts *c)
{
	const uint16_t *touched;
	size_t n;

	for (uint16_t d = 1; d <= 120; d++) {
		struct ck_member m;

		th_member(&m, d, 0);
		if (d % 10 == 0) {
			struct ck_member prev;

			th_member(&prev, d - 1, 0);
			memcpy(m.uuid, prev.uuid, CK_UUID_LEN);
		}
		if (d % 7 == 0)
			m.nics[0].ipv4[0] = 0x0a000001;
		ck_assert_int_eq(conflicts_set(c, d, &m), 0);
	}
	conflicts_resolve(c, &touched, &n);
}

static int conflicts_op(struct fixture *f)
{
	struct ck_member m;

	th_max_member(&m, 200);
	m.nics[3].ipv4[0] = 0x0a000001;
	return conflicts_set(f->conflicts, 200, &m);
}

/* Every domid's resolved member, as conflicts_member() gives it (domid 0: none). */
static struct ck_member *resolved(const struct conflicts *c)
{
	struct ck_member *v = calloc(CONFLICT_DOMIDS, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	for (uint16_t d = 0; d < CONFLICT_DOMIDS; d++)
		if (conflicts_member(c, d, &v[d]) < 0)
			v[d].domid = 0;
	return v;
}

static void check_resolved(struct conflicts *c, const struct ck_member *want, unsigned int count)
{
	struct ck_member *got;
	const uint16_t *touched;
	size_t n;

	conflicts_resolve(c, &touched, &n);
	got = resolved(c);
	for (uint16_t d = 0; d < CONFLICT_DOMIDS; d++)
		ck_assert_msg(got[d].domid == want[d].domid &&
				      (!got[d].domid || ck_member_equal(&got[d], &want[d])),
			      "domid %u resolves differently", d);
	free(got);
	ck_assert_uint_eq(conflicts_count(c), count);
}

static void conflicts_setup(struct fixture *f)
{
	ck_assert_int_eq(conflicts_new(&f->conflicts, false), 0);
	conflicts_fill(f->conflicts);
	f->members = resolved(f->conflicts);
	f->n_conflicts = conflicts_count(f->conflicts);
}

/* Resolving frees the keys and groups a failed set made and left unused. */
static void conflicts_unchanged(struct fixture *f)
{
	check_resolved(f->conflicts, f->members, f->n_conflicts);
}

/* As an index that never saw a failure resolves the same members. */
static void conflicts_done(struct fixture *f)
{
	struct conflicts *ref;
	struct ck_member *want;
	const uint16_t *touched;
	size_t n;

	ck_assert_int_eq(conflicts_new(&ref, false), 0);
	conflicts_fill(ref);
	ck_assert_int_eq(conflicts_op(&(struct fixture){ .conflicts = ref }), 0);
	conflicts_resolve(ref, &touched, &n);
	want = resolved(ref);
	ck_assert_uint_ne(want[200].domid, 0);
	check_resolved(f->conflicts, want, conflicts_count(ref));
	free(want);
	conflicts_free(ref);
}

START_TEST(conflicts_set_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ conflicts_setup, conflicts_op,
						 conflicts_unchanged, conflicts_done,
						 .exact = true });
}
END_TEST

/*
 * The scan, through the scan cache and the conflicts index into a member set.  The host's
 * reads allocate past the failures: a read that fails is taken as a key that is not there
 * (scan-read.c), which is another matter than the tables this is about.
 */
static char *paused_read(void *ctx, const char *path, unsigned int *len)
{
	struct host fake = fakexen_host(((struct fixture *)ctx)->fx);
	char *v;

	th_alloc_pause(true);
	v = fake.ops->read(fake.ctx, path, len);
	th_alloc_pause(false);
	return v;
}

static char **paused_directory(void *ctx, const char *path, unsigned int *num)
{
	struct host fake = fakexen_host(((struct fixture *)ctx)->fx);
	char **v;

	th_alloc_pause(true);
	v = fake.ops->directory(fake.ctx, path, num);
	th_alloc_pause(false);
	return v;
}

static int listed_domains(void *ctx, struct domain_info **ret, size_t *n)
{
	struct host fake = fakexen_host(((struct fixture *)ctx)->fx);

	return fake.ops->list_domains(fake.ctx, ret, n);
}

static const struct host_ops paused_ops = {
	.read = paused_read,
	.directory = paused_directory,
	.list_domains = listed_domains,
};

static void on_fire(const char *path, void *userdata)
{
	struct fixture *f = userdata;

	if (f->cache)
		scan_cache_watch_fired(f->cache, path);
}

static void create(struct fixture *f, const char *name, const char *mac, const char *ip)
{
	struct fake_nic nic = { .mac = mac, .ip = ip };
	uint8_t uuid[CK_UUID_LEN] = { 0 };
	uint16_t domid;

	memcpy(uuid, name, strnlen(name, sizeof(uuid)));
	ck_assert_int_eq(fakexen_create(f->fx, name, uuid, &nic, 1, false, &domid), 0);
}

static int scan_op(struct fixture *f)
{
	struct scan_result res;

	ck_memberset_clear(f->set);
	return scan_host(&f->host, &(struct scan_options){ 0 }, f->cache, f->set, &res);
}

static void scan_setup(struct fixture *f)
{
	ck_assert_int_eq(fakexen_new(&f->fx, on_fire, f), 0);
	f->host = (struct host){ .ops = &paused_ops, .ctx = f };
	ck_assert_int_eq(scan_cache_new(&f->cache), 0);
	ck_assert_int_eq(ck_memberset_new(&f->set), 0);
	create(f, "a", "00:16:3e:00:00:01", "10.99.0.1");
	create(f, "b", "00:16:3e:00:00:02", "10.99.0.2 10.99.0.1");
	create(f, "c", "00:16:3e:00:00:01", "10.99.0.3");
}

/* After a first scan, domains come and a vif changes: the cache has entries to keep. */
static void scan_again_setup(struct fixture *f)
{
	scan_setup(f);
	ck_assert_int_eq(scan_op(f), 0);
	create(f, "d", "00:16:3e:00:00:04", "10.99.0.4");
	create(f, "e", "00:16:3e:00:00:05", NULL);
	ck_assert_int_eq(fakexen_set_vif(f->fx, 1, 0, "00:16:3e:00:00:11", "10.99.0.11"), 0);
}

/* The scan gives what one that reads everything gives, and so does the next. */
static void scan_done(struct fixture *f)
{
	struct scan_result res;

	ck_assert_int_eq(ck_memberset_new(&f->want), 0);
	ck_assert_int_eq(scan_host(&f->host, &(struct scan_options){ 0 }, NULL, f->want, &res), 0);
	ck_assert_uint_ge(ck_memberset_count(f->want), 3);
	ck_assert(ck_memberset_equal(f->set, f->want));
	ck_assert_int_eq(scan_op(f), 0);
	ck_assert(ck_memberset_equal(f->set, f->want));
}

START_TEST(scan_first_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ scan_setup, scan_op, NULL, scan_done,
						 .tolerant = true });
}
END_TEST

START_TEST(scan_again_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ scan_again_setup, scan_op, NULL, scan_done,
						 .tolerant = true });
}
END_TEST

/* The simulated host (cokeeperd -s sim): its path index, children and name index. */
static unsigned int entries(struct fakexen *fx, const char *path)
{
	struct host fake = fakexen_host(fx);
	unsigned int num = 0;
	char **v = fake.ops->directory(fake.ctx, path, &num);

	free(v);
	return v ? num : 0;
}

/* The directories fakexen's ops write in, whose listings a failed op must leave as they were. */
static const char *const watched[] = {
	"/local/domain", "/local/domain/1", "/local/domain/0/backend/vif", "/vm",
};
#define N_WATCHED (sizeof(watched) / sizeof(*watched))

static void fakexen_setup(struct fixture *f)
{
	ck_assert_int_eq(fakexen_new(&f->fx, NULL, NULL), 0);
	create(f, "a", "00:16:3e:00:00:01", "10.99.0.1");
	for (unsigned int i = 0; i < N_WATCHED; i++)
		f->listed[i] = entries(f->fx, watched[i]);
}

static void fakexen_unchanged(struct fixture *f)
{
	struct host fake = fakexen_host(f->fx);
	struct domain_info *doms;
	size_t n;

	for (unsigned int i = 0; i < N_WATCHED; i++)
		ck_assert_msg(entries(f->fx, watched[i]) == f->listed[i], "%s: %u entries, not %u",
			      watched[i], entries(f->fx, watched[i]), f->listed[i]);
	ck_assert_uint_eq(entries(f->fx, "/local/domain/1/data"), 0);
	ck_assert_int_eq(fake.ops->list_domains(fake.ctx, &doms, &n), 0);
	free(doms);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(fakexen_find_name(f->fx, "new"), -ENOENT);
}

/* A write three directories deep, all new. */
static int write_op(struct fixture *f)
{
	return fakexen_write(f->fx, "/local/domain/1/data/x/y", "v");
}

static void write_done(struct fixture *f)
{
	struct host fake = fakexen_host(f->fx);
	unsigned int len;
	char *v = fake.ops->read(fake.ctx, "/local/domain/1/data/x/y", &len);

	ck_assert_str_eq(v, "v");
	free(v);
	ck_assert_uint_eq(entries(f->fx, "/local/domain/1/data"), 1);
}

START_TEST(fakexen_write_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ fakexen_setup, write_op, fakexen_unchanged,
						 write_done, .exact = true });
}
END_TEST

static int create_op(struct fixture *f)
{
	struct fake_nic nics[2] = {
		{ .mac = "00:16:3e:00:00:21", .ip = "10.99.0.21" },
		{ .mac = "00:16:3e:00:00:22", .ip = NULL },
	};
	uint8_t uuid[CK_UUID_LEN] = { 0x42 };
	uint16_t domid;

	return fakexen_create(f->fx, "new", uuid, nics, 2, false, &domid);
}

/* The name index may have missed "new" (that write stands): the lookup still finds it. */
static void create_done(struct fixture *f)
{
	uint8_t uuid[CK_UUID_LEN] = { 0x42 }, got[CK_UUID_LEN];
	char name[CK_NAME_MAX + 1], path[64];
	int domid = fakexen_find_name(f->fx, "new");

	ck_assert_int_gt(domid, 1);
	ck_assert_int_eq(fakexen_domain(f->fx, domid, got, name), 0);
	ck_assert_str_eq(name, "new");
	ck_assert_mem_eq(got, uuid, CK_UUID_LEN);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%d", domid);
	ck_assert_uint_eq(entries(f->fx, path), 2);
	ck_assert_uint_eq(entries(f->fx, "/local/domain"), f->listed[0] + 1);
}

START_TEST(fakexen_create_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ fakexen_setup, create_op, fakexen_unchanged,
						 create_done, .exact = true, .tolerant = true });
}
END_TEST

static void nothing(struct fixture *f)
{
}

static int new_op(struct fixture *f)
{
	return fakexen_new(&f->fx, NULL, NULL);
}

static void new_unchanged(struct fixture *f)
{
	ck_assert_ptr_null(f->fx);
}

static void new_done(struct fixture *f)
{
	ck_assert_int_eq(fakexen_find_name(f->fx, "Domain-0"), 0);
}

START_TEST(fakexen_new_out_of_memory)
{
	fail_each_allocation(&(struct oom_case){ nothing, new_op, new_unchanged, new_done,
						 .exact = true, .tolerant = true });
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hash");

	th_add(s, table_allocation_failure_adds_nothing);
	th_add(s, bucket_expansion_failure_adds_nothing);
	th_add(s, replace_failure_keeps_the_old_element);
	th_add(s, allocator_sees_every_table_allocation);
	th_add(s, memberset_put_out_of_memory);
	th_add(s, memberset_apply_out_of_memory);
	th_add(s, memberset_copy_out_of_memory);
	th_add(s, conflicts_set_out_of_memory);
	th_add(s, scan_first_out_of_memory);
	th_add(s, scan_again_out_of_memory);
	th_add(s, fakexen_new_out_of_memory);
	th_add(s, fakexen_write_out_of_memory);
	th_add(s, fakexen_create_out_of_memory);
	return th_run(s);
}
