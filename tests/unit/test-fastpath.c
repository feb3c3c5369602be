// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path's set-up end to end in one process: two agents (session, fastpath.c and the
 * in-memory module) and cokeeperd's sessions (guests.c) over a pair of in-memory streams
 * each.  What one agent's module offers reaches the other's module with the source cokeeperd
 * set, and the accept comes back the same way; a guest without the module refuses an offer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath.h"
#include "guests.h"
#include "helpers.h"
#include "session.h"
#include "sink.h"

#define EPOCH 0x77ull

/* The daemon's end of one agent's connection; the agent's end is its session. */
struct agent {
	struct ck_stream base;	/* what guests.c reads and writes */
	uint8_t *in;		/* what the agent sent, not yet read by the daemon */
	size_t in_len, in_pos;
	bool closed;
	bool stopping;		/* the daemon's Bye at the end is not for the test */
	struct sink *sink;
	struct session *session;
	struct fastpath *fastpath;
};

struct fixture {
	sd_event *event;
	struct ck_membership *m;
	struct convergence conv;
	struct guests *gs;
};

static ssize_t pipe_read(struct ck_stream *s, void *buf, size_t len)
{
	struct agent *a = (struct agent *)s;
	size_t n = a->in_len - a->in_pos;

	if (n == 0)
		return -EAGAIN;
	n = n < len ? n : len;
	memcpy(buf, a->in + a->in_pos, n);
	a->in_pos += n;
	return n;
}

/* The daemon writes: the agent receives at once (its answers wait in `in`). */
static ssize_t pipe_write(struct ck_stream *s, const void *buf, size_t len)
{
	struct agent *a = (struct agent *)s;
	struct ck_error err = { "" };

	if (a->stopping)
		return len;
	ck_assert_msg(session_receive(a->session, buf, len, &err) == 0, "agent: %s", err.msg);
	return len;
}

static void pipe_want_write(struct ck_stream *s, bool on)
{
}

static void pipe_free(struct ck_stream *s)
{
}

static const struct ck_stream_ops pipe_ops = {
	.read = pipe_read, .write = pipe_write, .want_write = pipe_want_write,
	.free = pipe_free,
};

static int agent_send(const uint8_t *frame, size_t len, void *userdata)
{
	struct agent *a = userdata;

	a->in = realloc(a->in, a->in_len + len);
	memcpy(a->in + a->in_len, frame, len);
	a->in_len += len;
	return 0;
}

static void on_acked(const struct guest_ack *ack, void *userdata)
{
}

static void on_closed(struct ck_stream *s, uint16_t domid, void *userdata)
{
	((struct agent *)s)->closed = true;
}

static void setup(struct fixture *f)
{
	static const struct guests_callbacks cb = { .acked = on_acked, .closed = on_closed };
	const struct guests_config cfg = { .queue_limit = 1 << 20 };
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct ck_member mb;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(sd_event_new(&f->event), 0);
	ck_assert_int_eq(ck_membership_new(&f->m, EPOCH, 64), 0);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (uint16_t d = 1; d <= 10; d++) {
		th_member(&mb, d, 0);
		ck_assert_int_eq(ck_memberset_put(set, &mb), 0);
	}
	ck_assert_int_eq(ck_membership_commit(f->m, set, NULL), 0);
	ck_assert_int_eq(guests_new(&f->gs, f->event, f->m, &f->conv, &cfg, &cb, f), 0);
}

static void agent_free(struct agent *a);

static void teardown(struct fixture *f, struct agent **agents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		agents[i]->stopping = true;
	guests_free(f->gs);
	for (size_t i = 0; i < n; i++)
		agent_free(agents[i]);
	ck_membership_free(f->m);
	sd_event_unref(f->event);
}

/* An agent for domid, connected the way vchan connects it: the channel names the domid. */
static struct agent *agent_new(struct fixture *f, uint16_t domid,
			       const struct fastpath_memory_config *module)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct fastpath_port *port;

	ck_assert_ptr_nonnull(a);
	ck_stream_init(&a->base, &pipe_ops, domid);
	snprintf(a->base.label, sizeof(a->base.label), "pipe:%u", domid);
	ck_assert_int_eq(sink_memory_new(&a->sink, NULL), 0);
	ck_assert_int_eq(session_new(&a->session, a->sink, domid, agent_send, a), 0);
	ck_assert_int_eq(fastpath_new(&a->fastpath), 0);
	ck_assert_int_eq(fastpath_memory_new(&port, module, &fastpath_port_callbacks,
					     a->fastpath), 0);
	fastpath_set_port(a->fastpath, port);
	fastpath_attach(a->fastpath, a->session);
	ck_assert_int_eq(guests_attach(f->gs, &a->base), 0);
	ck_assert_int_eq(session_start(a->session), 0);
	return a;
}

static void agent_free(struct agent *a)
{
	fastpath_free(a->fastpath);
	session_free(a->session);
	a->sink->ops->free(a->sink);
	ck_outbuf_release(&a->base.out);
	free(a->in);
	free(a);
}

/* Lets the daemon read what every agent sent until nobody has anything left. */
static void pump(struct agent **agents, size_t n)
{
	for (bool busy = true; busy;) {
		busy = false;
		for (size_t i = 0; i < n; i++) {
			if (agents[i]->closed || agents[i]->in_pos == agents[i]->in_len)
				continue;
			busy = true;
			ck_stream_notify(&agents[i]->base);
		}
	}
}

static struct fastpath_port *module(struct agent *a)
{
	return fastpath_port(a->fastpath);
}

START_TEST(offer_travels_with_the_source_rewritten_and_accept_comes_back)
{
	const struct fastpath_memory_config accepting = { .accept_offers = true };
	const struct fastpath_memory_config passive = { 0 };
	struct ck_msg offer = { .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = 6, .channel_id = 0xabc,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN, .evtchn_port = 33,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };
	struct agent *agents[2];
	struct fixture f;
	struct ck_msg got;

	setup(&f);
	agents[0] = agent_new(&f, 2, &passive);
	agents[1] = agent_new(&f, 6, &accepting);
	pump(agents, 2);
	ck_assert(session_synced(agents[0]->session) && session_synced(agents[1]->session));

	for (unsigned int i = 0; i < offer.fastpath_offer.n_grefs; i++)
		offer.fastpath_offer.grefs[i] = 0x100 + i;
	fastpath_memory_event(module(agents[0]), &offer);	/* module 2 offers to 6 */
	pump(agents, 2);

	/* Module 6 was handed the offer as "from 2", grants and port intact. */
	ck_assert_uint_eq(fastpath_memory_received(module(agents[1]), CK_MSG_FASTPATH_OFFER, &got), 1);
	ck_assert_uint_eq(got.fastpath_offer.peer_domid, 2);
	ck_assert_uint_eq(got.fastpath_offer.channel_id, 0xabc);
	ck_assert_uint_eq(got.fastpath_offer.evtchn_port, 33);
	ck_assert_uint_eq(got.fastpath_offer.n_grefs, CKFP_GREFS(CKFP_RING_ORDER_MIN));
	ck_assert_mem_eq(got.fastpath_offer.grefs, offer.fastpath_offer.grefs,
			 got.fastpath_offer.n_grefs * sizeof(uint32_t));
	/* Its accept reached module 2 as "from 6". */
	ck_assert_uint_eq(fastpath_memory_received(module(agents[0]), CK_MSG_FASTPATH_ACCEPT, &got), 1);
	ck_assert_uint_eq(got.fastpath_accept.peer_domid, 6);
	ck_assert_uint_eq(got.fastpath_accept.channel_id, 0xabc);
	ck_assert_uint_eq(fastpath_stats(agents[0]->fastpath)->to_daemon, 1);
	ck_assert_uint_eq(fastpath_stats(agents[1]->fastpath)->to_daemon, 1);
	ck_assert_uint_eq(guests_fastpath_counters(f.gs)->relayed, 2);
	ck_assert(!agents[0]->closed && !agents[1]->closed);
	teardown(&f, agents, 2);
}
END_TEST

/* A guest without the module answers at once; the offerer's module hears why. */
START_TEST(offer_to_a_guest_without_the_module_is_closed)
{
	const struct fastpath_memory_config passive = { 0 }, absent = { .absent = true };
	const struct ck_msg offer = { .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = 9, .channel_id = 5,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };
	struct agent *agents[2];
	struct fixture f;
	struct ck_msg got;

	setup(&f);
	agents[0] = agent_new(&f, 4, &passive);
	agents[1] = agent_new(&f, 9, &absent);
	pump(agents, 2);
	fastpath_memory_event(module(agents[0]), &offer);
	pump(agents, 2);
	ck_assert_uint_eq(fastpath_memory_received(module(agents[0]), CK_MSG_FASTPATH_CLOSE, &got), 1);
	ck_assert_uint_eq(got.fastpath_close.peer_domid, 9);
	ck_assert_uint_eq(got.fastpath_close.channel_id, 5);
	ck_assert_uint_eq(got.fastpath_close.reason, CKFP_CLOSE_NO_FASTPATH);
	ck_assert_uint_eq(fastpath_stats(agents[1]->fastpath)->no_module, 1);
	teardown(&f, agents, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fastpath");

	th_add(s, offer_travels_with_the_source_rewritten_and_accept_comes_back);
	th_add(s, offer_to_a_guest_without_the_module_is_closed);
	return th_run(s);
}
