/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A framed stream between cokeeperd and one agent, or between cokeeperd and a control
 * client: the same object at both ends and over every channel.  A backend (stream/: a Unix
 * socket, a vchan) supplies the non-blocking byte operations and wakes the owner; this file
 * owns what the two ends used to write twice: the bounded output queue and its flushing.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "outbuf.h"

#define CK_STREAM_DOMID_ANY 0xffff	/* unix: the peer's domid is only what it claims */

struct ck_stream;

struct ck_stream_ops {
	/* > 0 bytes read, 0 at end of stream, -EAGAIN when nothing is there, other -errno. */
	ssize_t (*read)(struct ck_stream *s, void *buf, size_t len);
	/* >= 0 bytes written (maybe fewer than len), -EAGAIN when full, other -errno. */
	ssize_t (*write)(struct ck_stream *s, const void *buf, size_t len);
	/* Ask for (or stop asking for) a wake-up when writing may progress. */
	void (*want_write)(struct ck_stream *s, bool on);
	/* Closes the channel and frees the stream. */
	void (*free)(struct ck_stream *s);
	/*
	 * Optional: false while the channel waits for its peer to attach (a vchan server whose
	 * guest has not started its agent yet); NULL means attached from the start (a socket).
	 */
	bool (*peer_attached)(struct ck_stream *s);
};

typedef void (*ck_stream_io_fn)(struct ck_stream *s, void *userdata);

struct ck_stream {
	const struct ck_stream_ops *ops;
	uint16_t domid;		/* who the channel itself proves is at the other end, or _ANY */
	char label[32];		/* "vchan:7", "unix:3": for logs and the control socket */
	/*
	 * A read that returns less than asked means the channel was empty (a stream socket):
	 * a reader that must read until -EAGAIN may stop there, one system call sooner.
	 */
	bool short_read_drains;
	struct ck_outbuf out;
	ck_stream_io_fn on_io;	/* the owner's: the stream may be read or written */
	void *userdata;
};

/* For backends: the output is unbounded until the owner calls ck_stream_set_output_max. */
void ck_stream_init(struct ck_stream *s, const struct ck_stream_ops *ops, uint16_t domid);
/* For backends: the channel woke up. */
void ck_stream_notify(struct ck_stream *s);

void ck_stream_set_handler(struct ck_stream *s, ck_stream_io_fn on_io, void *userdata);
void ck_stream_set_output_max(struct ck_stream *s, size_t max);

ssize_t ck_stream_read(struct ck_stream *s, void *buf, size_t len);
bool ck_stream_peer_attached(struct ck_stream *s);

/* Queues one message (bounded: -ENOBUFS) without writing: ck_stream_flush sends a batch. */
int ck_stream_queue(struct ck_stream *s, const void *msg, size_t len);
/* Queues msg by reference, shared with every other stream it is queued on (bounded). */
int ck_stream_queue_shared(struct ck_stream *s, struct ck_bytes *msg);
/* The same, then writes what the peer takes now (with nothing queued, straight from msg). */
int ck_stream_send_shared(struct ck_stream *s, struct ck_bytes *msg);
/* Queues one message (bounded: -ENOBUFS), then writes what the peer takes now. */
int ck_stream_send(struct ck_stream *s, const void *msg, size_t len);
int ck_stream_sendv(struct ck_stream *s, const struct iovec *iov, size_t n);
/* Writes what the peer takes now and asks for a wake-up for the rest; -errno if it failed. */
int ck_stream_flush(struct ck_stream *s);
static inline size_t ck_stream_queued(const struct ck_stream *s)
{
	return ck_outbuf_pending(&s->out);
}

/* Closes and frees; NULL is a no-op. */
void ck_stream_free(struct ck_stream *s);
