// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "clock.h"
#include "control.h"
#include "frame.h"
#include "guest.h"
#include "logging.h"

enum guest_state {
	GUEST_AWAIT_HELLO,
	GUEST_ACTIVE,
};

struct frame_buf {
	struct frame_buf *next;
	size_t len, off;
	uint8_t data[];
};

struct guest {
	struct guest *next;
	struct daemon *d;
	struct conn *conn;
	struct ck_frame_decoder *dec;
	enum guest_state state;
	uint16_t domid;
	uint64_t acked_epoch, acked_gen;
	uint64_t measured_from;	/* convergence counts changes after this gen only */
	uint64_t connected_usec;
	uint32_t last_latency_usec;
	bool needs_snapshot;	/* its queue overflowed: resync once it drains */
	bool closing;
	struct frame_buf *head, *tail;
	size_t queued;		/* bytes in the queue */
};

static const char *label(const struct guest *g)
{
	return g->conn->label;
}

static void queue_drop(struct guest *g, bool keep_partial_head)
{
	struct frame_buf *f = g->head, *keep = NULL;

	/* A frame already partly written must finish, or the stream loses its framing. */
	if (keep_partial_head && f && f->off > 0) {
		keep = f;
		f = f->next;
		keep->next = NULL;
	}
	while (f) {
		struct frame_buf *next = f->next;

		free(f);
		f = next;
	}
	g->head = g->tail = keep;
	g->queued = keep ? keep->len - keep->off : 0;
}

static void guest_free(struct guest *g)
{
	struct guest **p;

	for (p = &g->d->guests; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	queue_drop(g, false);
	ck_frame_decoder_free(g->dec);
	g->d->transport->ops->conn_closed(g->d->transport, g->conn);
	free(g);
}

static int enqueue(struct ck_msg *msg, void *userdata)
{
	struct guest *g = userdata;
	struct frame_buf *f;
	uint8_t *buf;
	size_t len;
	int r;

	r = ck_frame_encode(msg, &buf, &len);
	if (r < 0)
		return log_error_errno(r, "%s: cannot encode %s", label(g), ck_msg_type_name(msg->type));
	f = malloc(sizeof(*f) + len);
	if (!f) {
		free(buf);
		return -ENOMEM;
	}
	memcpy(f->data, buf, len);
	free(buf);
	f->len = len;
	f->off = 0;
	f->next = NULL;
	if (g->tail)
		g->tail->next = f;
	else
		g->head = f;
	g->tail = f;
	g->queued += len;
	return 0;
}

static int flush(struct guest *g)
{
	while (g->head) {
		struct frame_buf *f = g->head;
		ssize_t n = g->conn->ops->write(g->conn, f->data + f->off, f->len - f->off);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		f->off += n;
		g->queued -= n;
		if (f->off < f->len)
			continue;
		g->head = f->next;
		if (!g->head)
			g->tail = NULL;
		free(f);
	}
	g->conn->ops->want_write(g->conn, g->head != NULL);
	return 0;
}

static int send_snapshot(struct guest *g)
{
	int r = ck_chunk_snapshot(g->d->membership, enqueue, g);

	if (r == 0)
		g->d->stats.snapshots_sent++;
	return r;
}

static int send_delta(struct guest *g, const struct ck_delta *delta)
{
	int r = ck_chunk_delta(delta, enqueue, g);

	if (r == 0)
		g->d->stats.deltas_sent++;
	return r;
}

static void send_bye(struct guest *g, enum ck_bye_code code, const char *reason)
{
	struct ck_msg bye = { .type = CK_MSG_BYE, .bye = { .code = code } };

	snprintf(bye.bye.reason, sizeof(bye.bye.reason), "%s", reason);
	if (enqueue(&bye, g) == 0)
		(void)flush(g);
}

static int on_hello(struct guest *g, const struct ck_hello *hello)
{
	struct ck_membership *m = g->d->membership;
	struct ck_delta delta;
	int r;

	if (hello->version != CK_PROTOCOL_VERSION) {
		send_bye(g, CK_BYE_VERSION, "protocol version mismatch");
		return -EPROTONOSUPPORT;
	}
	/* Over vchan the channel itself says who the peer is; its claim must agree. */
	if (g->conn->domid != CONN_DOMID_ANY && hello->domid != g->conn->domid) {
		send_bye(g, CK_BYE_PROTOCOL_ERROR, "domid does not match the channel");
		return -EPERM;
	}
	g->domid = hello->domid;
	g->state = GUEST_ACTIVE;
	/*
	 * A guest that (re)joins catches up on changes made before it was there; those acks
	 * measure its boot, not propagation, so convergence starts from here.
	 */
	g->measured_from = m->gen;

	r = ck_membership_delta_since(m, hello->epoch, hello->gen, &delta);
	if (r == 0) {
		/* Everything up to its generation it holds already: no convergence to measure. */
		g->acked_epoch = m->epoch;
		g->acked_gen = hello->gen;
		log_info("%s: domid %u resumes at gen %" PRIu64 ", %zu changes behind", label(g),
			 g->domid, hello->gen, ck_delta_changes(&delta));
		r = send_delta(g, &delta);
		ck_delta_reset(&delta);
		return r;
	}
	log_info("%s: domid %u joins (had epoch %" PRIx64 "), sending a snapshot of gen %" PRIu64,
		 label(g), g->domid, hello->epoch, m->gen);
	return send_snapshot(g);
}

static int on_ack(struct guest *g, const struct ck_ack *ack)
{
	struct ck_membership *m = g->d->membership;
	uint32_t latency;
	uint64_t from;

	if (ack->epoch != m->epoch)
		return 0;	/* an ack of a previous epoch's message, still in flight */
	if (ack->gen > m->gen)
		return -EPROTO;
	if (g->acked_epoch == m->epoch && ack->gen <= g->acked_gen)
		return 0;
	from = g->acked_epoch == m->epoch ? g->acked_gen : 0;
	latency = convergence_ack(&g->d->convergence,
				  from > g->measured_from ? from : g->measured_from, ack->gen,
				  ck_now_usec());
	if (latency)
		g->last_latency_usec = latency;
	g->acked_epoch = ack->epoch;
	g->acked_gen = ack->gen;
	log_debug("%s: gen %" PRIu64 " acked at %" PRIu64 " us, %" PRIu32 " us after noticed",
		  label(g), ack->gen, ck_now_usec(), latency);
	control_notify_ack(g->d->control, g->domid, ack->gen, latency);
	return 0;
}

static int on_msg(struct ck_msg *msg, void *userdata)
{
	struct guest *g = userdata;

	switch (msg->type) {
	case CK_MSG_HELLO:
		/* A second Hello is an agent asking for a resync from the generation it names. */
		return on_hello(g, &msg->hello);
	case CK_MSG_ACK:
		if (g->state != GUEST_ACTIVE)
			break;
		return on_ack(g, &msg->ack);
	case CK_MSG_BYE:
		log_info("%s: agent said bye: %s", label(g), msg->bye.reason);
		return -ECONNRESET;
	default:
		break;
	}
	log_warning("%s: unexpected %s", label(g), ck_msg_type_name(msg->type));
	return -EPROTO;
}

static void end_session(struct guest *g, int r, const char *why)
{
	if (r != -ECONNRESET && r != 0) {
		g->d->stats.guests_rejected++;
		log_warning("%s: disconnecting: %s (%s)", label(g), why, strerror(-r));
		send_bye(g, CK_BYE_PROTOCOL_ERROR, why);
	} else {
		log_info("%s: disconnected", label(g));
	}
	guest_free(g);
}

static void on_io(struct conn *c, void *userdata)
{
	struct guest *g = userdata;
	uint8_t buf[16384];
	struct ck_error err = { "" };
	int r;

	for (;;) {
		ssize_t n = c->ops->read(c, buf, sizeof(buf));

		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			end_session(g, n == 0 ? -ECONNRESET : (int)n, "read failed");
			return;
		}
		r = ck_frame_decoder_feed(g->dec, buf, n, on_msg, g, &err);
		if (r < 0) {
			end_session(g, r, err.msg[0] ? err.msg : "protocol error");
			return;
		}
	}
	r = flush(g);
	if (r < 0) {
		end_session(g, -ECONNRESET, "write failed");
		return;
	}
	if (g->needs_snapshot && !g->head) {
		g->needs_snapshot = false;
		log_info("%s: drained, resyncing with a snapshot", label(g));
		if (send_snapshot(g) < 0 || flush(g) < 0)
			end_session(g, -ENOMEM, "cannot queue a snapshot");
	}
}

int guest_attach(struct daemon *d, struct conn *conn)
{
	struct guest *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	r = ck_frame_decoder_new(&g->dec);
	if (r < 0) {
		free(g);
		return r;
	}
	g->d = d;
	g->conn = conn;
	g->domid = conn->domid;
	g->connected_usec = ck_now_usec();
	conn->on_io = on_io;
	conn->userdata = g;
	g->next = d->guests;
	d->guests = g;
	d->stats.guests_connected++;
	return 0;
}

void guest_detach_domid(struct daemon *d, uint16_t domid)
{
	struct guest *g = d->guests, *next;

	for (; g; g = next) {
		next = g->next;
		if (g->conn->domid == domid)
			guest_free(g);
	}
}

bool guest_has_domid(struct daemon *d, uint16_t domid)
{
	for (struct guest *g = d->guests; g; g = g->next)
		if (g->conn->domid == domid)
			return true;
	return false;
}

void guest_detach_all(struct daemon *d)
{
	while (d->guests) {
		send_bye(d->guests, CK_BYE_SHUTDOWN, "cokeeperd is stopping");
		guest_free(d->guests);
	}
}

void guests_broadcast(struct daemon *d, const struct ck_delta *delta)
{
	for (struct guest *g = d->guests, *next; g; g = next) {
		next = g->next;
		if (g->state != GUEST_ACTIVE || g->needs_snapshot)
			continue;
		if (g->queued > d->cfg.queue_limit) {
			/* It stopped reading: drop what waits, resync it when it drains. */
			d->stats.queue_overflows++;
			log_warning("%s: %zu bytes unread, dropping its queue", label(g), g->queued);
			queue_drop(g, true);
			g->needs_snapshot = true;
			g->conn->ops->want_write(g->conn, true);
			continue;
		}
		if (send_delta(g, delta) < 0 || flush(g) < 0) {
			end_session(g, -EIO, "cannot send");
			continue;
		}
		log_debug("%s: gen %" PRIu64 " sent at %" PRIu64 " us%s", label(g), delta->new_gen,
			  ck_now_usec(), g->head ? " (partly queued)" : "");
	}
}

unsigned int guests_count(struct daemon *d)
{
	unsigned int n = 0;

	for (struct guest *g = d->guests; g; g = g->next)
		n++;
	return n;
}

struct json_object *guests_to_json(struct daemon *d)
{
	struct json_object *arr = json_object_new_array();
	uint64_t now = ck_now_usec(), epoch = d->membership->epoch, gen = d->membership->gen;

	for (struct guest *g = d->guests; g; g = g->next) {
		struct json_object *o = json_object_new_object();
		bool current = g->acked_epoch == epoch;

		json_object_object_add(o, "channel", json_object_new_string(label(g)));
		json_object_object_add(o, "domid", json_object_new_int(g->domid));
		json_object_object_add(o, "state", json_object_new_string(
			g->state == GUEST_ACTIVE ? (g->needs_snapshot ? "resync" : "active") :
						   "await-hello"));
		json_object_object_add(o, "acked_gen",
				       json_object_new_int64(current ? (int64_t)g->acked_gen : -1));
		json_object_object_add(o, "lag",
				       json_object_new_int64(current ? (int64_t)(gen - g->acked_gen) :
								       (int64_t)gen));
		json_object_object_add(o, "queued_bytes", json_object_new_int64(g->queued));
		json_object_object_add(o, "last_latency_us",
				       json_object_new_int64(g->last_latency_usec));
		json_object_object_add(o, "connected_s",
				       json_object_new_double((now - g->connected_usec) / 1e6));
		json_object_array_add(arr, o);
	}
	return arr;
}
