/* SPDX-License-Identifier: GPL-2.0-only */
/* kshim (types.h): cokeeper.h only passes notifier blocks by pointer. */
#ifndef _KSHIM_LINUX_NOTIFIER_H
#define _KSHIM_LINUX_NOTIFIER_H

struct notifier_block;

#endif
