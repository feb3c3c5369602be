// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "logging.h"
#include "xenhost.h"

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
	.list_domains = xh_list_domains,
};

struct host xenhost_host(struct xenhost *xh)
{
	return (struct host){ .ops = &xenhost_ops, .ctx = xh };
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
	if (xh->xs_reads)
		xs_close(xh->xs_reads);
	if (xh->xs)
		xs_close(xh->xs);
	free(xh);
}
