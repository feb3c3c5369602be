// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-query metrics: the guest's view for a monitoring system (metrics-text.c): the
 * kernel table's epoch, generation and size, the packets and bytes the kernel counted to
 * each peer, and cokeeper-fp.ko's per peer when it is loaded.  Peers are gathered first: a
 * family's samples must be written together, and each peer is in several families.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "query-fastpath.h"
#include "query-print.h"

struct peer_sample {
	char domid[8];
	char name[CK_CLIENT_NAME_MAX + 1];
	uint64_t tx_packets, tx_bytes;
};

struct peers {
	struct peer_sample *v;
	size_t n, cap;
};

static int collect(const struct ck_client_peer *p, void *userdata)
{
	struct peers *ps = userdata;
	struct peer_sample *s;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 64;
		struct peer_sample *v = reallocarray(ps->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		ps->v = v;
		ps->cap = cap;
	}
	s = &ps->v[ps->n++];
	snprintf(s->domid, sizeof(s->domid), "%u", p->domid);
	snprintf(s->name, sizeof(s->name), "%s", p->name);
	s->tx_packets = p->tx_packets;
	s->tx_bytes = p->tx_bytes;
	return 0;
}

/* bytes: the peers' tx_bytes, else their tx_packets. */
static void put_peers(struct metrics_out *m, const struct peers *ps, bool bytes)
{
	if (bytes)
		metrics_family(m, "cokeeper_peer_tx_bytes", METRICS_COUNTER, "bytes",
			"Bytes sent to the co-resident peer, as the kernel counted");
	else
		metrics_family(m, "cokeeper_peer_tx_packets", METRICS_COUNTER, NULL,
			"Packets sent to the co-resident peer, as the kernel counted");
	for (size_t i = 0; i < ps->n; i++)
		metrics_u64(m, NULL,
			(const char *const[]){"domid", ps->v[i].domid, "name", ps->v[i].name, NULL},
			bytes ? ps->v[i].tx_bytes : ps->v[i].tx_packets);
}

static void put_fastpath(struct metrics_out *m, const struct fastpath_view *fp)
{
	char domid[12];

	metrics_family(m, "cokeeper_fastpath_peer_tx_packets", METRICS_COUNTER, NULL,
		"Packets cokeeper-fp.ko sent to the peer over its channel");
	for (size_t i = 0; i < fp->n; i++) {
		snprintf(domid, sizeof(domid), "%" PRIu32, fp->peers[i].domid);
		metrics_u64(m, NULL, (const char *const[]){"domid", domid, NULL},
			fp->peers[i].tx_packets);
	}
	metrics_family(m, "cokeeper_fastpath_peer_rx_packets", METRICS_COUNTER, NULL,
		"Packets cokeeper-fp.ko received from the peer over its channel");
	for (size_t i = 0; i < fp->n; i++) {
		snprintf(domid, sizeof(domid), "%" PRIu32, fp->peers[i].domid);
		metrics_u64(m, NULL, (const char *const[]){"domid", domid, NULL},
			fp->peers[i].rx_packets);
	}
}

int query_metrics(
	struct ck_client *c, const struct fastpath_view *fp, enum metrics_format format, FILE *out)
{
	struct peers ps = {};
	struct metrics_out m;
	uint64_t epoch, gen;
	uint32_t count, max;
	char hex[17];
	int r;

	r = ck_client_status(c, &epoch, &gen, &count, &max);
	if (r == 0)
		r = ck_client_foreach(c, collect, &ps);
	if (r < 0) {
		free(ps.v);
		return r;
	}
	/* 64 bits do not survive a float sample: the epoch is a label, as in status --json. */
	snprintf(hex, sizeof(hex), "%016" PRIx64, epoch);
	metrics_begin(&m, out, format);
	metrics_family(&m, "cokeeper_table", METRICS_INFO, NULL,
		"The kernel table's epoch (0000000000000000: never written by an agent)");
	metrics_u64(&m, NULL, (const char *const[]){"epoch", hex, NULL}, 1);
	metrics_family(&m, "cokeeper_table_generation", METRICS_GAUGE, NULL,
		"The kernel table's generation (within its epoch)");
	metrics_u64(&m, NULL, NULL, gen);
	metrics_family(&m, "cokeeper_table_members", METRICS_GAUGE, NULL,
		"Co-resident domains in the kernel table");
	metrics_u64(&m, NULL, NULL, count);
	metrics_family(&m, "cokeeper_table_max_entries", METRICS_GAUGE, NULL,
		"The most entries the kernel table holds");
	metrics_u64(&m, NULL, NULL, max);
	put_peers(&m, &ps, false);
	put_peers(&m, &ps, true);
	if (fp)
		put_fastpath(&m, fp);
	free(ps.v);
	return metrics_end(&m);
}
