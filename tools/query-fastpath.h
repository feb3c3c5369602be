/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Prints cokeeper-fp.ko's per-peer state and counters; -ENOENT if the module is not loaded. */
int query_fastpath(bool json, FILE *out);

struct nl_msg;

/*
 * One of the module's GET replies as query_fastpath prints it, the n-th of the dump (0: with
 * the text form's header; JSON: without the comma), for the unit test.  -EBADMSG if invalid.
 */
int query_fastpath_print(struct nl_msg *msg, bool json, unsigned int n, FILE *out);

/* The module's peers, for cokeeper-query members: state and packet counters by domid. */
struct fastpath_peer {
	uint32_t domid;
	uint8_t state;		/* enum ckfp_state */
	uint64_t tx_packets;
	uint64_t rx_packets;
};

struct fastpath_view {
	struct fastpath_peer *peers;	/* in the order of the module's dump: by domid */
	size_t n;
};

/* Fills *v (free with fastpath_view_free); -ENOENT if the module is not loaded. */
int query_fastpath_view(struct fastpath_view *v);
void fastpath_view_free(struct fastpath_view *v);

/* The module's entry for domid, or NULL. */
const struct fastpath_peer *fastpath_view_find(const struct fastpath_view *v, uint32_t domid);

/* "up", "idle", ... */
const char *fastpath_state_name(uint8_t state);
