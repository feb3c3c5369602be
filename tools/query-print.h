/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What cokeeper-query prints: the kernel table through libcokeeper-client, as a table for
 * people or as JSON built with json-c (a member's name may hold '"' and '\').  Apart from
 * cokeeper-query.c so that tests/unit/test-query-json.c can link it with a stub client.
 * Each function writes to out and returns 0 or -errno (a lookup: -ENOENT when the key is
 * not co-resident); errors are for the caller to report.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "cokeeper-client.h"
#include "metrics-text.h"

struct fastpath_view;

/* fp: the fast path's channels, shown in the text form's FASTPATH column; NULL: no column. */
int query_members(struct ck_client *c, bool json, const struct fastpath_view *fp, FILE *out);
int query_lookup(struct ck_client *c, const char *key, bool json, FILE *out);
int query_status(struct ck_client *c, bool json, FILE *out);
/* The table and its peers' counters as metrics (query-metrics.c); fp as for query_members. */
int query_metrics(struct ck_client *c, const struct fastpath_view *fp,
		  enum metrics_format format, FILE *out);
void query_event(enum ck_client_event ev, const struct ck_client_peer *p, uint64_t gen, bool json,
	FILE *out);
