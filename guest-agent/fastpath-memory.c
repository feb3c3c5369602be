// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path without a module: remembers what it is handed and, if asked, accepts every
 * offer the way a module that mapped it would.  With a log path each message handed over is
 * appended as one JSON line for the simulated tests to read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "fastpath-port.h"
#include "logging.h"

struct memory_port {
	struct fastpath_port base;
	struct fastpath_memory_config cfg;
	unsigned int received[CK_MSG_MAX + 1];
	struct ck_msg last[CK_MSG_MAX + 1];
};

static void log_line(const struct memory_port *m, const struct ck_msg *msg)
{
	const struct ck_fastpath_offer *o = &msg->fastpath_offer;
	FILE *f;

	if (!m->cfg.log_path)
		return;
	f = fopen(m->cfg.log_path, "a");
	if (!f) {
		log_warning_errno(-errno, "cannot append to %s", m->cfg.log_path);
		return;
	}
	fprintf(f, "{\"type\":\"%s\",\"peer_domid\":%u,\"channel_id\":%" PRIu64,
		ck_msg_type_name(msg->type), *ck_msg_fastpath_peer((struct ck_msg *)msg),
		ck_msg_fastpath_channel(msg));
	if (msg->type == CK_MSG_FASTPATH_OFFER)
		fprintf(f, ",\"ring_order\":%u,\"evtchn_port\":%u,\"grefs\":%u", o->ring_order,
			o->evtchn_port, o->n_grefs);
	if (msg->type == CK_MSG_FASTPATH_CLOSE)
		fprintf(f, ",\"reason\":%u", msg->fastpath_close.reason);
	fputs("}\n", f);
	if (fclose(f) != 0)
		log_warning_errno(-errno, "cannot append to %s", m->cfg.log_path);
}

static int memory_deliver(struct fastpath_port *p, const struct ck_msg *msg)
{
	struct memory_port *m = (struct memory_port *)p;

	if (m->cfg.absent)
		return -ENOENT;
	m->received[msg->type]++;
	m->last[msg->type] = *msg;
	log_line(m, msg);
	if (m->cfg.accept_offers && msg->type == CK_MSG_FASTPATH_OFFER) {
		struct ck_msg accept = { .type = CK_MSG_FASTPATH_ACCEPT,
			.fastpath_accept = { .peer_domid = msg->fastpath_offer.peer_domid,
					     .channel_id = msg->fastpath_offer.channel_id } };

		fastpath_memory_event(p, &accept);
	}
	return 0;
}

static void memory_free(struct fastpath_port *p)
{
	free(p);
}

static const struct fastpath_port_ops memory_ops = {
	.name = "memory",
	.deliver = memory_deliver,
	.free = memory_free,
};

int fastpath_memory_new(struct fastpath_port **ret, const struct fastpath_memory_config *cfg,
			const struct fastpath_port_callbacks *cb, void *userdata)
{
	struct memory_port *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->base = (struct fastpath_port){ .ops = &memory_ops, .cb = *cb, .userdata = userdata };
	m->cfg = *cfg;
	*ret = &m->base;
	return 0;
}

void fastpath_memory_event(struct fastpath_port *p, const struct ck_msg *msg)
{
	p->cb.event(msg, p->userdata);
}

unsigned int fastpath_memory_received(const struct fastpath_port *p, enum ck_msg_type type,
				      struct ck_msg *last)
{
	const struct memory_port *m = (const struct memory_port *)p;

	if (!ck_msg_is_fastpath(type))
		return 0;
	if (last)
		*last = m->last[type];
	return m->received[type];
}
