/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/* Prints cokeeper-fp.ko's per-peer state and counters; -ENOENT if the module is not loaded. */
int query_fastpath(bool json, FILE *out);
