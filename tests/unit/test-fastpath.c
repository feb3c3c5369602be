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

#include "chunk.h"
#include "fastpath-relay.h"
#include "fastpath.h"
#include "frame.h"
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
	struct fastpath_relay relay;	/* the hub's part */
	struct fastpath_policy *policy;
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

static uint32_t on_acked(const struct guest_ack *ack, void *userdata)
{
	return 0;
}

static int on_fastpath(struct guest_fastpath *fp, void *userdata)
{
	struct fixture *f = userdata;

	return fastpath_relay_handle(&f->relay, f->gs, fp);
}

static void on_closed(struct ck_stream *s, uint16_t domid, void *userdata)
{
	((struct agent *)s)->closed = true;
}

static void setup(struct fixture *f)
{
	static const struct guests_callbacks cb = {
		.acked = on_acked, .fastpath = on_fastpath, .closed = on_closed,
	};
	struct guests_config cfg = { .queue_limit = 1 << 20 };
	_cleanup_memberset_ struct ck_memberset *set = NULL;
	struct ck_member mb;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(sd_event_new(&f->event), 0);
	ck_assert_int_eq(ck_membership_new(&f->m, EPOCH, 64), 0);
	ck_assert_int_eq(ck_memberset_new(&set), 0);
	for (uint16_t d = 1; d <= 10; d++) {
		th_member(&mb, d, 0);
		strcpy(mb.nics[0].bridge, "xenbr0");
		ck_assert_int_eq(ck_memberset_put(set, &mb), 0);
	}
	ck_assert_int_eq(ck_membership_commit(f->m, set, NULL), 0);
	fastpath_relay_init(&f->relay, f->m, NULL);
	f->policy = fastpath_policy_new();
	ck_assert_ptr_nonnull(f->policy);
	fastpath_relay_set_policy(&f->relay, NULL, f->policy);
	ck_assert_int_eq(guests_new(&f->gs, f->event, f->m, &cfg, &cb, f), 0);
}

static void agent_free(struct agent *a);

static void teardown(struct fixture *f, struct agent **agents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		agents[i]->stopping = true;
	guests_free(f->gs);
	fastpath_relay_release(&f->relay);
	fastpath_policy_free(f->policy);
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
	ck_assert_uint_eq(f.relay.counters.relayed, 2);
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

/* An agent's connection to a cokeeperd built before the fast path, counting what it sends. */
struct old_daemon {
	struct ck_frame_decoder *dec;
	unsigned int got[CK_MSG_MAX + 1];
};

static int old_daemon_got(struct ck_msg *msg, void *userdata)
{
	((struct old_daemon *)userdata)->got[msg->type]++;
	return 0;
}

static int old_daemon_read(const uint8_t *frame, size_t len, void *userdata)
{
	struct old_daemon *d = userdata;

	return ck_frame_decoder_feed(d->dec, frame, len, old_daemon_got, d, NULL);
}

static int answer_hello(struct ck_msg *msg, void *userdata)
{
	struct session *s = userdata;
	uint8_t *buf;
	size_t len;
	int r;

	ck_assert_int_eq(ck_frame_encode(msg, &buf, &len), 0);
	r = session_receive(s, buf, len, NULL);
	free(buf);
	return r;
}

static int announce_and_answer(struct ck_msg *msg, void *userdata)
{
	msg->fastpath_version = CK_FASTPATH_VERSION;
	return answer_hello(msg, userdata);
}

/*
 * A cokeeperd that never announced that it relays is sent no Fastpath* message, which would
 * end the session: the module's offer is refused on the spot (NO_FASTPATH), its accept and
 * close go nowhere.  An answer that announces it lets them through.
 */
START_TEST(nothing_goes_to_a_cokeeperd_that_did_not_announce_the_relay)
{
	const struct fastpath_memory_config passive = { 0 };
	const struct ck_msg offer = { .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = 9, .channel_id = 5,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };
	const struct ck_msg accept = { .type = CK_MSG_FASTPATH_ACCEPT,
		.fastpath_accept = { .peer_domid = 2, .channel_id = 6 } };
	const struct ck_msg close = { .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .peer_domid = 9, .channel_id = 5 } };
	struct ck_membership *table;
	struct old_daemon d = { 0 };
	struct fastpath_port *port;
	struct fastpath *fp;
	struct session *s;
	struct sink *sink;
	struct ck_msg got;

	ck_assert_int_eq(ck_frame_decoder_new(&d.dec), 0);
	ck_assert_int_eq(ck_membership_new(&table, EPOCH, 16), 0);
	ck_assert_int_eq(sink_memory_new(&sink, NULL), 0);
	ck_assert_int_eq(session_new(&s, sink, 4, old_daemon_read, &d), 0);
	ck_assert_int_eq(fastpath_new(&fp), 0);
	ck_assert_int_eq(fastpath_memory_new(&port, &passive, &fastpath_port_callbacks, fp), 0);
	fastpath_set_port(fp, port);
	fastpath_attach(fp, s);

	/* Connected, the Hello not yet answered: even a new cokeeperd has not said so yet. */
	ck_assert_int_eq(session_start(s), 0);
	fastpath_memory_event(port, &offer);
	/* Answered without the field, by an old one. */
	ck_assert_int_eq(ck_chunk_snapshot(table, answer_hello, s), 0);
	ck_assert(session_synced(s));
	fastpath_memory_event(port, &offer);
	fastpath_memory_event(port, &accept);
	fastpath_memory_event(port, &close);
	ck_assert_uint_eq(d.got[CK_MSG_HELLO], 1);
	ck_assert_uint_eq(d.got[CK_MSG_ACK], 1);
	for (int t = CK_MSG_FASTPATH_OFFER; t <= CK_MSG_FASTPATH_CLOSE; t++)
		ck_assert_uint_eq(d.got[t], 0);
	ck_assert_uint_eq(fastpath_memory_received(port, CK_MSG_FASTPATH_CLOSE, &got), 2);
	ck_assert_uint_eq(got.fastpath_close.peer_domid, 9);
	ck_assert_uint_eq(got.fastpath_close.channel_id, 5);
	ck_assert_uint_eq(got.fastpath_close.reason, CKFP_CLOSE_NO_FASTPATH);
	ck_assert_uint_eq(fastpath_stats(fp)->no_relay, 4);
	ck_assert_uint_eq(fastpath_stats(fp)->to_daemon, 0);

	/* Reconnected to one that announces it: from its answer on, they go through. */
	ck_assert_int_eq(session_start(s), 0);
	fastpath_memory_event(port, &offer);
	ck_assert_uint_eq(d.got[CK_MSG_FASTPATH_OFFER], 0);
	ck_assert_int_eq(ck_chunk_snapshot(table, announce_and_answer, s), 0);
	fastpath_memory_event(port, &offer);
	fastpath_memory_event(port, &close);
	ck_assert_uint_eq(d.got[CK_MSG_FASTPATH_OFFER], 1);
	ck_assert_uint_eq(d.got[CK_MSG_FASTPATH_CLOSE], 1);
	ck_assert_uint_eq(fastpath_stats(fp)->to_daemon, 2);
	ck_assert_uint_eq(fastpath_stats(fp)->no_relay, 5);

	fastpath_free(fp);
	session_free(s);
	sink->ops->free(sink);
	ck_membership_free(table);
	ck_frame_decoder_free(d.dec);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fastpath");

	th_add(s, offer_travels_with_the_source_rewritten_and_accept_comes_back);
	th_add(s, offer_to_a_guest_without_the_module_is_closed);
	th_add(s, nothing_goes_to_a_cokeeperd_that_did_not_announce_the_relay);
	return th_run(s);
}
