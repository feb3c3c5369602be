/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <stdint.h>

/* Prints cokeeper-fp.ko's per-peer state and counters; -ENOENT if the module is not loaded. */
int query_fastpath(bool json, FILE *out);

/* Each peer's channel state by domid, for cokeeper-query members. */
struct fastpath_view {
	uint8_t state[0x7FF0];	/* enum ckfp_state + 1; 0: the module knows no such peer */
};

/* Fills *v; -ENOENT if the module is not loaded (then members shows no fast path). */
int query_fastpath_view(struct fastpath_view *v);

/* "up", "idle", ... for a view's entry; NULL for 0. */
const char *fastpath_state_name(uint8_t entry);
