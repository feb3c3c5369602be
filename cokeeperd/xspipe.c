// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "xspipe.h"

struct xspipe {
	int fd;
	uint32_t next_id;	/* req_ids are never reused, so a late reply cannot pass */
};

/* Replies are read into a buffer that holds at least one whole message of the largest size. */
#define HDR_LEN sizeof(struct xsd_sockmsg)
#define RBUF_LEN (2 * (HDR_LEN + XENSTORE_PAYLOAD_MAX))

int xspipe_new(struct xspipe **ret, int fd)
{
	struct xspipe *p;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = fd;
	*ret = p;
	return 0;
}

void xspipe_free(struct xspipe *p)
{
	if (!p)
		return;
	close(p->fd);
	free(p);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every request of the batch in one buffer, so that one write() can carry them all. */
static int build_requests(const char *const *paths, size_t n, uint32_t first_id, char **ret,
			  size_t *len)
{
	size_t total = 0, off = 0;
	char *buf;

	for (size_t i = 0; i < n; i++) {
		size_t plen = strlen(paths[i]) + 1;

		if (plen > XENSTORE_ABS_PATH_MAX)
			return -ENAMETOOLONG;
		total += HDR_LEN + plen;
	}
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct xsd_sockmsg hdr = {
			.type = XS_READ,
			.req_id = first_id + (uint32_t)i,
			.tx_id = 0,
			.len = (uint32_t)strlen(paths[i]) + 1,
		};

		memcpy(buf + off, &hdr, HDR_LEN);
		memcpy(buf + off + HDR_LEN, paths[i], hdr.len);
		off += HDR_LEN + hdr.len;
	}
	*ret = buf;
	*len = total;
	return 0;
}

/*
 * One reply at the front of buf (have bytes): 0 and *used = 0 while it is incomplete, else
 * its length in *used.  Untrusted in the sense that nothing about it is assumed: a length
 * over the protocol's maximum, a req_id not of this batch or answered twice, a transaction
 * or a type other than a read's reply or an error is -EPROTO.
 */
static int take_reply(const char *buf, size_t have, uint32_t first_id, size_t n, char **values,
		      bool *answered, size_t *used)
{
	struct xsd_sockmsg hdr;
	uint32_t id;

	*used = 0;
	if (have < HDR_LEN)
		return 0;
	memcpy(&hdr, buf, HDR_LEN);
	if (hdr.len > XENSTORE_PAYLOAD_MAX || hdr.tx_id != 0)
		return -EPROTO;
	if (have < HDR_LEN + hdr.len)
		return 0;
	id = hdr.req_id - first_id;
	if (id >= n || answered[id])
		return -EPROTO;
	switch (hdr.type) {
	case XS_READ:
		values[id] = malloc(hdr.len + 1);
		if (!values[id])
			return -ENOMEM;
		memcpy(values[id], buf + HDR_LEN, hdr.len);
		values[id][hdr.len] = '\0';
		break;
	case XS_ERROR:		/* "ENOENT", "EACCES"...: no value, as xs_read() says */
		break;
	default:
		return -EPROTO;
	}
	answered[id] = true;
	*used = HDR_LEN + hdr.len;
	return 0;
}

int xspipe_read_many(struct xspipe *p, const char *const *paths, size_t n, char **values)
{
	bool answered[XSPIPE_BATCH_MAX] = { false };
	size_t req_len = 0, written = 0, have = 0, n_answered = 0;
	uint32_t first_id = p->next_id;
	int64_t deadline = now_ms() + XSPIPE_TIMEOUT_MS;
	char *req = NULL, *rbuf = NULL;
	int r;

	if (n == 0 || n > XSPIPE_BATCH_MAX)
		return -EINVAL;
	memset(values, 0, n * sizeof(*values));
	p->next_id += (uint32_t)n;
	r = build_requests(paths, n, first_id, &req, &req_len);
	if (r < 0)
		return r;
	rbuf = malloc(RBUF_LEN);
	if (!rbuf) {
		r = -ENOMEM;
		goto out;
	}
	while (n_answered < n) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t k;

		if (written < req_len)
			pfd.events |= POLLOUT;
		if (left <= 0) {
			r = -ETIMEDOUT;
			goto out;
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if ((pfd.revents & POLLOUT) && written < req_len) {
			k = write(p->fd, req + written, req_len - written);
			if (k < 0 && errno != EAGAIN && errno != EINTR) {
				r = -errno;
				goto out;
			}
			written += k > 0 ? (size_t)k : 0;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		k = read(p->fd, rbuf + have, RBUF_LEN - have);
		if (k < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (k == 0) {
			r = -ECONNRESET;
			goto out;
		}
		have += (size_t)k;
		for (;;) {
			size_t used;

			r = take_reply(rbuf, have, first_id, n, values, answered, &used);
			if (r < 0)
				goto out;
			if (!used)
				break;
			memmove(rbuf, rbuf + used, have - used);
			have -= used;
			n_answered++;
		}
	}
	/* A reply beyond the batch's is not one of its own. */
	r = have ? -EPROTO : 0;
out:
	if (r < 0)
		for (size_t i = 0; i < n; i++) {
			free(values[i]);
			values[i] = NULL;
		}
	free(rbuf);
	free(req);
	return r;
}
