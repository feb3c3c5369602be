// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "stream.h"

void ck_stream_init(struct ck_stream *s, const struct ck_stream_ops *ops, uint16_t domid)
{
	s->ops = ops;
	s->domid = domid;
	s->label[0] = '\0';
	s->short_read_drains = false;
	ck_outbuf_init(&s->out, SIZE_MAX);
	s->on_io = NULL;
	s->userdata = NULL;
}

void ck_stream_notify(struct ck_stream *s)
{
	if (s->on_io)
		s->on_io(s, s->userdata);
}

void ck_stream_set_handler(struct ck_stream *s, ck_stream_io_fn on_io, void *userdata)
{
	s->on_io = on_io;
	s->userdata = userdata;
}

void ck_stream_set_output_max(struct ck_stream *s, size_t max)
{
	s->out.max = max;
}

ssize_t ck_stream_read(struct ck_stream *s, void *buf, size_t len)
{
	return s->ops->read(s, buf, len);
}

bool ck_stream_peer_attached(struct ck_stream *s)
{
	return !s->ops->peer_attached || s->ops->peer_attached(s);
}

int ck_stream_flush(struct ck_stream *s)
{
	while (ck_outbuf_pending(&s->out) > 0) {
		size_t len;
		const void *front = ck_outbuf_front(&s->out, &len);
		ssize_t n = s->ops->write(s, front, len);

		if (n == -EAGAIN || n == 0)
			break;
		if (n < 0)
			return (int)n;
		ck_outbuf_consume(&s->out, (size_t)n);
	}
	s->ops->want_write(s, ck_outbuf_pending(&s->out) > 0);
	return 0;
}

/*
 * Nothing queued: the peer is offered the message straight from where it is, and only what
 * it does not take is queued (as a message begun, so it is never dropped half sent): shared
 * by reference when it is shared, else copied.  An agent's Ack, a control reply or a delta
 * that the guest takes at once costs no allocation and no queueing.
 */
static int send_direct(struct ck_stream *s, const void *msg, size_t len, struct ck_bytes *shared)
{
	ssize_t n;
	int r;

	if (len > s->out.max)
		return -ENOBUFS;
	n = s->ops->write(s, msg, len);
	if (n < 0 && n != -EAGAIN)
		return (int)n;
	if (n == (ssize_t)len)
		return 0;
	r = shared ? ck_outbuf_push_shared(&s->out, shared) : ck_outbuf_push(&s->out, msg, len);
	if (r < 0)
		return r;
	ck_outbuf_consume(&s->out, n > 0 ? (size_t)n : 0);
	s->ops->want_write(s, true);
	return 0;
}

int ck_stream_send_shared(struct ck_stream *s, struct ck_bytes *msg)
{
	int r;

	if (ck_outbuf_pending(&s->out) == 0)
		return send_direct(s, msg->data, msg->len, msg);
	r = ck_outbuf_push_shared(&s->out, msg);
	return r < 0 ? r : ck_stream_flush(s);
}

int ck_stream_sendv(struct ck_stream *s, const struct iovec *iov, size_t n)
{
	int r;

	if (n == 1 && ck_outbuf_pending(&s->out) == 0)
		return send_direct(s, iov[0].iov_base, iov[0].iov_len, NULL);
	r = ck_outbuf_pushv(&s->out, iov, n);
	return r < 0 ? r : ck_stream_flush(s);
}

int ck_stream_queue(struct ck_stream *s, const void *msg, size_t len)
{
	return ck_outbuf_push(&s->out, msg, len);
}

int ck_stream_queue_shared(struct ck_stream *s, struct ck_bytes *msg)
{
	return ck_outbuf_push_shared(&s->out, msg);
}

int ck_stream_send(struct ck_stream *s, const void *msg, size_t len)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };

	return ck_stream_sendv(s, &iov, 1);
}

void ck_stream_free(struct ck_stream *s)
{
	if (!s)
		return;
	ck_outbuf_release(&s->out);
	s->ops->free(s);
}
