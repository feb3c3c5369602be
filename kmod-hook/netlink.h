/* SPDX-License-Identifier: GPL-2.0-only */
/* The generic netlink family "cokeeper" over one store. */
#ifndef _CK_NETLINK_H
#define _CK_NETLINK_H

#include "table.h"

int ck_netlink_init(struct ck_store *s);
void ck_netlink_exit(void);

#endif /* _CK_NETLINK_H */
