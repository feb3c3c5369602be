// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenstore_lib.h>

#include "logging.h"
#include "xenhost.h"
#include "xspipe.h"

/* The handle for the next read: the watch connection once, when a barrier is pending. */
static struct xs_handle *read_handle(struct xenhost *xh)
{
	return xh->barrier_pending ? xh->xs : xh->xs_reads;
}

static void after_read(struct xenhost *xh)
{
	int saved = errno;

	if (!xh->barrier_pending)
		return;
	xh->barrier_pending = false;
	xh->on_barrier(xh->barrier_userdata);
	errno = saved;
}

static char *xh_read(void *ctx, const char *path, unsigned int *len)
{
	struct xenhost *xh = ctx;
	char *value = xs_read(read_handle(xh), XBT_NULL, path, len);

	after_read(xh);
	return value;
}

static char **xh_directory(void *ctx, const char *path, unsigned int *num)
{
	struct xenhost *xh = ctx;
	char **entries = xs_directory(read_handle(xh), XBT_NULL, path, num);

	after_read(xh);
	return entries;
}

/*
 * The first read goes on the watch connection when it is the scan's barrier; the rest, or
 * all, in one batch.  A failed batch is reported once and its connection dropped: the caller
 * reads one by one, and so do later scans.
 */
static int xh_read_many(void *ctx, const char *const *paths, size_t n, char **values)
{
	struct xenhost *xh = ctx;
	size_t first = 0;
	unsigned int len;
	int r;

	if (!xh->pipe)
		return -ENOTCONN;
	if (xh->barrier_pending) {
		values[0] = xh_read(xh, paths[0], &len);
		first = 1;
		if (n == 1)
			return 0;
	}
	r = xspipe_read_many(xh->pipe, paths + first, n - first, values + first);
	if (r < 0) {
		log_warning_errno(r, "pipelined xenstore reads (%s...) failed; reading one key at "
				  "a time from now on", paths[first]);
		xspipe_free(xh->pipe);
		xh->pipe = NULL;
		if (first) {
			free(values[0]);
			values[0] = NULL;
		}
	}
	return r;
}

static int xh_list_domains(void *ctx, struct domain_info **ret, size_t *n)
{
	struct xenhost *xh = ctx;
	struct domain_info *v;
	libxl_dominfo *info;
	int nb = 0;

	info = libxl_list_domain(xh->ctx, &nb);
	if (!info)
		return -EIO;
	v = calloc(nb ? nb : 1, sizeof(*v));
	if (!v) {
		libxl_dominfo_list_free(info, nb);
		return -ENOMEM;
	}
	for (int i = 0; i < nb; i++) {
		v[i].domid = info[i].domid;
		v[i].dying = info[i].dying;
		v[i].shutdown = info[i].shutdown;
		v[i].suspended = info[i].shutdown &&
				 info[i].shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND;
		v[i].paused = info[i].paused;
	}
	libxl_dominfo_list_free(info, nb);
	*ret = v;
	*n = nb;
	return 0;
}

static const struct host_ops xenhost_ops = {
	.read = xh_read,
	.directory = xh_directory,
	.read_many = xh_read_many,
	.list_domains = xh_list_domains,
};

struct host xenhost_host(struct xenhost *xh)
{
	return (struct host){ .ops = &xenhost_ops, .ctx = xh };
}

/* A connection of the pipeline's own to xenstored's socket, where it has one. */
static struct xspipe *open_pipe(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = xs_daemon_socket();
	struct xspipe *p = NULL;
	int fd, r;

	if (!path || strlen(path) >= sizeof(addr.sun_path))
		return NULL;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = errno;
		log_info("xenstored has no socket at %s (%s): xenstore reads go one at a time",
			 path, strerror(r));
		close(fd);
		return NULL;
	}
	r = xspipe_new(&p, fd);
	if (r < 0) {
		close(fd);
		return NULL;
	}
	log_info("xenstore reads: batches pipelined on %s", path);
	return p;
}

int xenhost_open(struct xenhost **ret)
{
	struct xenhost *xh = calloc(1, sizeof(*xh));
	int r;

	if (!xh)
		return -ENOMEM;
	xh->xs = xs_open(0);
	xh->xs_reads = xh->xs ? xs_open(0) : NULL;
	if (!xh->xs_reads) {
		r = -errno;
		log_error_errno(r, "cannot connect to xenstored (is this dom0 with xenstored "
				   "running%s?)", geteuid() ? ", and are you root" : "");
		goto err;
	}
	xh->logger = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
	if (!xh->logger) {
		r = -ENOMEM;
		goto err;
	}
	if (libxl_ctx_alloc(&xh->ctx, LIBXL_VERSION, 0, xh->logger) != 0) {
		r = -EIO;
		log_error("cannot open libxl (needs root in dom0 with /dev/xen/privcmd)");
		goto err;
	}
	xh->pipe = open_pipe();
	*ret = xh;
	return 0;
err:
	xenhost_close(xh);
	return r;
}

void xenhost_close(struct xenhost *xh)
{
	if (!xh)
		return;
	if (xh->ctx)
		libxl_ctx_free(xh->ctx);
	if (xh->logger)
		xtl_logger_destroy(xh->logger);
	xspipe_free(xh->pipe);
	if (xh->xs_reads)
		xs_close(xh->xs_reads);
	if (xh->xs)
		xs_close(xh->xs);
	free(xh);
}
