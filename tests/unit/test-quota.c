// SPDX-License-Identifier: GPL-2.0-only
/* What the control socket's clients may hold per uid and role (cokeeperd/control/quota.c). */
#include <errno.h>

#include "helpers.h"
#include "quota.h"

#define RO 1000		/* a read-only user */
#define RO2 1001
#define ADMIN 0

static const struct quota_limits limits = {
	.max_clients = 16,
	.max_watchers = 8,
	.clients_per_uid = 6,
	.watchers_per_uid = 2,
	.unread_per_uid = 1000,
};

START_TEST(the_admin_share_is_an_eighth_never_all)
{
	ck_assert_uint_eq(quota_admin_share(0), 0);
	ck_assert_uint_eq(quota_admin_share(1), 0);
	ck_assert_uint_eq(quota_admin_share(2), 1);
	ck_assert_uint_eq(quota_admin_share(8), 1);
	ck_assert_uint_eq(quota_admin_share(9), 2);
	ck_assert_uint_eq(quota_admin_share(16), 2);
	ck_assert_uint_eq(quota_admin_share(64), 8);
}
END_TEST

START_TEST(a_read_only_uid_holds_its_share_admins_the_rest)
{
	struct quota q;
	struct quota_hold h[16];
	char why[128];
	int n = 0;

	quota_init(&q, &limits);
	for (; n < 6; n++)
		ck_assert_int_eq(quota_join(&q, &h[n], RO, false, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_join(&q, &h[n], RO, false, why, sizeof(why)), -EUSERS);
	ck_assert_str_eq(why, "too many control clients for uid 1000 (at most 6)");
	/* Two other read-only users take what is left of the read-only share: 16 - 2 - 6. */
	for (; n < 14; n++)
		ck_assert_int_eq(quota_join(&q, &h[n], RO2 + n % 2, false, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_join(&q, &h[n], RO2 + 2, false, why, sizeof(why)), -EUSERS);
	ck_assert_str_eq(why, "too many control clients (the last 2 are kept for admins)");
	/* The last two are root's, and then there is none. */
	for (; n < 16; n++)
		ck_assert_int_eq(quota_join(&q, &h[n], ADMIN, true, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_join(&q, &h[0], ADMIN, true, why, sizeof(why)), -EUSERS);
	ck_assert_str_eq(why, "too many control clients");
	ck_assert_uint_eq(q.clients, 16);
	/* A read-only client leaving frees a read-only slot. */
	quota_leave(&q, &h[0]);
	ck_assert_int_eq(quota_join(&q, &h[0], RO, false, why, sizeof(why)), 0);
	while (n > 0)
		quota_leave(&q, &h[--n]);
	ck_assert_uint_eq(q.clients, 0);
	ck_assert_uint_eq(q.ro_clients, 0);
	ck_assert_ptr_null(q.uids);
	quota_release(&q);
}
END_TEST

START_TEST(watchers_per_uid_and_the_admin_share)
{
	struct quota q;
	struct quota_hold h[10];
	char why[128];

	quota_init(&q, &limits);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(quota_join(&q, &h[i], i < 3 ? RO : i < 8 ? RO2 + i : ADMIN,
					    i >= 8, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_watch(&q, &h[0], why, sizeof(why)), 0);
	ck_assert_int_eq(quota_watch(&q, &h[0], why, sizeof(why)), 0);	/* already */
	ck_assert_int_eq(quota_watch(&q, &h[1], why, sizeof(why)), 0);
	ck_assert_int_eq(quota_watch(&q, &h[2], why, sizeof(why)), -EUSERS);
	ck_assert_str_eq(why, "too many watchers for uid 1000 (at most 2)");
	/* Read-only watchers stop at 8 - 1 (one is kept for admins). */
	for (int i = 3; i < 8; i++)
		ck_assert_int_eq(quota_watch(&q, &h[i], why, sizeof(why)), 0);
	ck_assert_uint_eq(q.ro_watchers, 7);
	ck_assert_int_eq(quota_watch(&q, &h[2], why, sizeof(why)), -EUSERS);
	ck_assert_int_eq(quota_watch(&q, &h[8], why, sizeof(why)), 0);
	ck_assert_int_eq(quota_watch(&q, &h[9], why, sizeof(why)), -EUSERS);
	ck_assert_str_eq(why, "too many watchers (at most 8)");
	for (int i = 0; i < 10; i++)
		quota_leave(&q, &h[i]);
	ck_assert_uint_eq(q.watchers, 0);
	ck_assert_uint_eq(q.ro_watchers, 0);
	quota_release(&q);
}
END_TEST

START_TEST(unread_bytes_count_per_uid_over_its_connections)
{
	struct quota q;
	struct quota_hold a, b, c, root;
	char why[128];

	quota_init(&q, &limits);
	ck_assert_int_eq(quota_join(&q, &a, RO, false, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_join(&q, &b, RO, false, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_join(&q, &c, RO2, false, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_join(&q, &root, ADMIN, true, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_set_unread(&q, &a, 600), 0);
	ck_assert_int_eq(quota_set_unread(&q, &c, 900), 0);	/* another uid's own */
	ck_assert_int_eq(quota_set_unread(&q, &b, 401), -ENOBUFS);
	ck_assert_int_eq(quota_set_unread(&q, &b, 400), 0);
	ck_assert_int_eq(quota_set_unread(&q, &root, 1 << 20), 0);	/* admins: no cap */
	/* What a leaving client held is given back. */
	quota_leave(&q, &a);
	ck_assert_int_eq(quota_set_unread(&q, &b, 1000), 0);
	quota_leave(&q, &b);
	quota_leave(&q, &c);
	quota_leave(&q, &root);
	ck_assert_ptr_null(q.uids);
	quota_release(&q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("quota");

	th_add(s, the_admin_share_is_an_eighth_never_all);
	th_add(s, a_read_only_uid_holds_its_share_admins_the_rest);
	th_add(s, watchers_per_uid_and_the_admin_share);
	th_add(s, unread_bytes_count_per_uid_over_its_connections);
	return th_run(s);
}
