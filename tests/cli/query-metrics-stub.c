// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-query metrics (tools/query-metrics.c) over a stub of libcokeeper-client and a
 * made-up fast path view, printed for tests/cli/query-metrics.py to parse: the kernel
 * module need not be loaded.  Two peers, one with a name that needs escaping.
 *
 * Usage: query-metrics-stub openmetrics|prometheus
 */
#include <stdio.h>
#include <string.h>

#include "query-fastpath.h"
#include "query-print.h"

int ck_client_status(
	struct ck_client *c, uint64_t *epoch, uint64_t *gen, uint32_t *count, uint32_t *max_entries)
{
	*epoch = 0xfedcba9876543210ULL;
	*gen = 42;
	*count = 2;
	*max_entries = 4096;
	return 0;
}

int ck_client_foreach(struct ck_client *c,
	int (*fn)(const struct ck_client_peer *peer, void *userdata), void *userdata)
{
	static const char *const names[] = {"web", "a\"b\\c"};
	struct ck_client_peer p;
	int r = 0;

	for (unsigned int i = 0; i < 2 && r == 0; i++) {
		memset(&p, 0, sizeof(p));
		p.domid = 7 + i;
		p.state = CK_CLIENT_STATE_RUNNING;
		strcpy(p.name, names[i]);
		p.tx_packets = 100 + i;
		p.tx_bytes = 150000 + i;
		r = fn(&p, userdata);
	}
	return r;
}

int main(int argc, char **argv)
{
	struct fastpath_peer peers[] = {{.domid = 7, .tx_packets = 5, .rx_packets = 6}};
	struct fastpath_view fp = {.peers = peers, .n = 1};
	enum metrics_format format;

	if (argc != 2 || metrics_format_parse(argv[1], &format) < 0) {
		fprintf(stderr, "usage: %s openmetrics|prometheus\n", argv[0]);
		return 2;
	}
	return query_metrics(NULL, &fp, format, stdout) < 0;
}
