/* SPDX-License-Identifier: GPL-2.0-only */
/* The load-time self-test (module parameter selftest=1). */
#ifndef _CK_SELFTEST_H
#define _CK_SELFTEST_H

#include "table.h"

/* 0 if the table passed; -ENOTRECOVERABLE otherwise (the reason is in the log). */
int ck_selftest(void);

/* The self-test's parts; each adds the operations it ran to *ops. */
int ck_selftest_model(unsigned long *ops);

/* Key i of the test pools: distinct i, distinct keys, all valid. */
void ck_selftest_key(enum ck_key_type type, unsigned int i, union ck_addr *a);
/* Replaces s's table (lock held) with list's n members, or leaves it as it was. */
int ck_selftest_replace(struct ck_store *s, u64 epoch, u64 gen, const struct ck_member *list,
			unsigned int n);

#endif /* _CK_SELFTEST_H */
