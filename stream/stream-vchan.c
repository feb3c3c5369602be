// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libxenvchan.h>

#include "stream-vchan.h"

struct vchan_stream {
	struct ck_stream base;
	struct libxenvchan *ctrl;
	sd_event_source *io;	/* its own source, or NULL in a poll set */
	struct poll_member member;
};

static ssize_t vchan_read(struct ck_stream *s, void *buf, size_t len)
{
	struct vchan_stream *v = (struct vchan_stream *)s;
	int n;

	if (libxenvchan_data_ready(v->ctrl) == 0)
		return libxenvchan_is_open(v->ctrl) == 0 ? 0 : -EAGAIN;
	n = libxenvchan_read(v->ctrl, buf, len);
	return n < 0 ? -EIO : n == 0 ? -EAGAIN : n;
}

static ssize_t vchan_write(struct ck_stream *s, const void *buf, size_t len)
{
	struct vchan_stream *v = (struct vchan_stream *)s;
	int n;

	if (libxenvchan_is_open(v->ctrl) == 0)
		return -EPIPE;
	n = libxenvchan_write(v->ctrl, buf, len);
	return n < 0 ? -EIO : n == 0 ? -EAGAIN : n;
}

/* The event channel wakes us for both directions: nothing to change. */
static void vchan_want_write(struct ck_stream *s, bool on)
{
}

struct libxenvchan *stream_vchan_release(struct ck_stream *s)
{
	struct vchan_stream *v = (struct vchan_stream *)s;
	struct libxenvchan *ctrl = v->ctrl;

	ck_outbuf_release(&s->out);
	sd_event_source_disable_unref(v->io);
	poll_set_remove(&v->member);
	free(v);
	return ctrl;
}

static void vchan_free(struct ck_stream *s)
{
	struct vchan_stream *v = (struct vchan_stream *)s;

	sd_event_source_disable_unref(v->io);
	poll_set_remove(&v->member);
	libxenvchan_close(v->ctrl);
	free(v);
}

/* A server's ring says 2 until the client maps it; the client's attach notifies us. */
static bool vchan_peer_attached(struct ck_stream *s)
{
	struct vchan_stream *v = (struct vchan_stream *)s;

	return libxenvchan_is_open(v->ctrl) != 2;
}

static const struct ck_stream_ops vchan_stream_ops = {
	.read = vchan_read,
	.write = vchan_write,
	.want_write = vchan_want_write,
	.free = vchan_free,
	.peer_attached = vchan_peer_attached,
};

static int on_event(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	struct vchan_stream *v = userdata;

	/* Acknowledge the notification first so none that arrives meanwhile is lost. */
	libxenvchan_wait(v->ctrl);
	ck_stream_notify(&v->base);
	return 0;
}

/*
 * In a poll set the notification is acknowledged as epoll reports it, before any stream is
 * served: the event channel's descriptor, level-triggered, is then no longer readable, so
 * however many channels fire at once each is reported once, and one arriving while the
 * stream waits to be served makes it readable again without being lost.
 */
static void on_member_event(struct poll_member *m, uint32_t revents)
{
	libxenvchan_wait(poll_member_owner(m, struct vchan_stream, member)->ctrl);
}

static void on_member_ready(struct poll_member *m, uint32_t revents)
{
	ck_stream_notify(&poll_member_owner(m, struct vchan_stream, member)->base);
}

/* Exactly one of event and set. */
static int vchan_new(struct ck_stream **ret, sd_event *event, struct poll_set *set,
		     struct libxenvchan *ctrl, uint16_t domid)
{
	struct vchan_stream *v = calloc(1, sizeof(*v));
	int fd = libxenvchan_fd_for_select(ctrl);
	int r;

	if (!v)
		return -ENOMEM;
	ck_stream_init(&v->base, &vchan_stream_ops, domid);
	snprintf(v->base.label, sizeof(v->base.label), "vchan:%u", domid);
	ctrl->blocking = 0;
	v->ctrl = ctrl;
	/*
	 * Level-triggered, unlike the unix streams: with EPOLLET on the event channel's
	 * descriptor the lab's agents stopped hearing cokeeperd after their snapshot (run
	 * 20261130-072356-6648: gen 7 sent to all three, none read it; level-triggered, the
	 * same scenario passes).  With a source of its own, N channels firing at once cost
	 * sd-event O(N²) returned events (each loop iteration's epoll_wait returns every one
	 * not yet dispatched); in a poll set, O(N) (on_member_event; bench/RESULTS.md, "Issue
	 * 19: vchan fan-in").
	 */
	if (set)
		r = poll_set_add(set, &v->member, fd, EPOLLIN, on_member_event, on_member_ready);
	else
		r = sd_event_add_io(event, &v->io, fd, EPOLLIN, on_event, v);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = &v->base;
	return 0;
}

int stream_vchan_new(struct ck_stream **ret, sd_event *event, struct libxenvchan *ctrl,
		     uint16_t domid)
{
	return vchan_new(ret, event, NULL, ctrl, domid);
}

int stream_vchan_new_in(struct ck_stream **ret, struct poll_set *set, struct libxenvchan *ctrl,
			uint16_t domid)
{
	return vchan_new(ret, NULL, set, ctrl, domid);
}
