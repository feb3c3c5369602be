/* SPDX-License-Identifier: GPL-2.0-only */
/* The LOCAL_OUT netfilter hooks: per-peer transmit counters and the optional skb->mark. */
#ifndef _CK_HOOK_H
#define _CK_HOOK_H

#include "table.h"

int ck_hook_init(struct ck_store *s);
void ck_hook_exit(void);

#endif /* _CK_HOOK_H */
