// SPDX-License-Identifier: GPL-2.0-only
/*
 * The libxenvchan calls stream/stream-vchan.c makes, over an in-memory ring and an eventfd:
 * what the benchmark measures is the daemon's side, so the peer's side is as cheap as it can
 * be and nothing here is a system call but the event channel's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "fake-vchan.h"

#define RING_BYTES 4096

struct fake_vchan {
	struct libxenvchan ctrl;	/* first: what the stream holds */
	int evtchn;
	size_t head, tail;		/* read ring: [head, tail) unread */
	uint8_t ring[RING_BYTES];
};

static struct fake_vchan *fake(struct libxenvchan *ctrl)
{
	return (struct fake_vchan *)ctrl;
}

struct libxenvchan *fake_vchan_new(void)
{
	struct fake_vchan *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->evtchn = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->evtchn < 0) {
		free(f);
		return NULL;
	}
	return &f->ctrl;
}

int fake_vchan_put(struct libxenvchan *ctrl, const void *data, size_t len)
{
	struct fake_vchan *f = fake(ctrl);
	uint64_t one = 1;

	if (f->head == f->tail)
		f->head = f->tail = 0;
	if (len > RING_BYTES - f->tail)
		return -ENOBUFS;
	memcpy(f->ring + f->tail, data, len);
	f->tail += len;
	return write(f->evtchn, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

int libxenvchan_fd_for_select(struct libxenvchan *ctrl)
{
	return fake(ctrl)->evtchn;
}

/* As xenevtchn_pending + unmask: the notification is consumed, the descriptor quiet again. */
int libxenvchan_wait(struct libxenvchan *ctrl)
{
	uint64_t count;

	return read(fake(ctrl)->evtchn, &count, sizeof(count)) == sizeof(count) ? 0 : -1;
}

int libxenvchan_is_open(struct libxenvchan *ctrl)
{
	return 1;
}

int libxenvchan_data_ready(struct libxenvchan *ctrl)
{
	return (int)(fake(ctrl)->tail - fake(ctrl)->head);
}

int libxenvchan_read(struct libxenvchan *ctrl, void *data, size_t size)
{
	struct fake_vchan *f = fake(ctrl);
	size_t n = f->tail - f->head < size ? f->tail - f->head : size;

	memcpy(data, f->ring + f->head, n);
	f->head += n;
	return (int)n;
}

/* The peer always has room: what the daemon writes is dropped. */
int libxenvchan_write(struct libxenvchan *ctrl, const void *data, size_t size)
{
	return (int)size;
}

void libxenvchan_close(struct libxenvchan *ctrl)
{
	struct fake_vchan *f = fake(ctrl);

	close(f->evtchn);
	free(f);
}
