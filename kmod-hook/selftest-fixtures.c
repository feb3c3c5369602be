// SPDX-License-Identifier: GPL-2.0-only
/* What both parts of the self-test build on (selftest.h): test keys and whole-table swaps. */
#include <linux/string.h>

#include "selftest.h"

void ck_selftest_key(enum ck_key_type type, unsigned int i, union ck_addr *a)
{
	memset(a, 0, sizeof(*a));
	switch (type) {
	case CK_KEY_MAC:
		a->mac[0] = 0x02;	/* locally administered unicast */
		a->mac[4] = i >> 8;
		a->mac[5] = i;
		break;
	case CK_KEY_IP4:
		a->ip4 = htonl(0x0a000001 + i);
		break;
	default:
		a->ip6.s6_addr32[0] = htonl(0xfd000000);
		a->ip6.s6_addr32[3] = htonl(i + 1);
		break;
	}
}

/* Replaces the table with the n members of list, or leaves it as it was. */
int ck_selftest_replace(struct ck_store *s, u64 epoch, u64 gen, const struct ck_member *list,
			unsigned int n)
{
	struct ck_table *t;
	unsigned int i;
	int err;

	err = ck_store_replace_begin(s, &t, epoch, gen);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		err = ck_store_replace_add(s, t, &list[i], NULL);
		if (err) {
			ck_store_replace_abort(t);
			return err;
		}
	}
	ck_store_replace_commit(s, t);
	return 0;
}
