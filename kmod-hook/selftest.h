/* SPDX-License-Identifier: GPL-2.0-only */
/* The load-time self-test (module parameter selftest=1). */
#ifndef _CK_SELFTEST_H
#define _CK_SELFTEST_H

/* 0 if the table behaved like its model; -ENOTRECOVERABLE (or -ENOMEM) otherwise. */
int ck_selftest(void);

#endif /* _CK_SELFTEST_H */
