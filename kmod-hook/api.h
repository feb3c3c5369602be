/* SPDX-License-Identifier: GPL-2.0-only */
/* The exported fast-path API (include/cokeeper.h): which store it answers from. */
#ifndef _CK_API_H
#define _CK_API_H

#include "table.h"

void ck_api_init(struct ck_store *s);

#endif /* _CK_API_H */
