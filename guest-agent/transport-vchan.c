// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Xen transport: a libxenvchan client to dom0 at our own data/cokeeper-vchan, where
 * cokeeperd serves one channel per member.  Until the daemon has set it up the agent waits on
 * a xenstore watch of that node (no busy loop); a closed channel is reopened the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxenvchan.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "logging.h"
#include "number.h"
#include "stream-vchan.h"
#include "transport.h"

#define VCHAN_PATH "data/cokeeper-vchan"
/* Xen's first reserved domid (DOMID_FIRST_RESERVED): every guest's is below it. */
#define DOMID_MAX 0x7FEF

struct vchan_transport {
	struct transport base;
	sd_event *event;
	struct transport_callbacks cb;
	void *userdata;
	struct xs_handle *xs;
	xentoollog_logger *logger;
	int domid;
	struct libxenvchan **abandoned;	/* channels a migration killed: see vchan_release() */
	size_t n_abandoned;
	sd_event_source *xs_io;
};

static int read_domid(struct xs_handle *xs)
{
	unsigned int len;
	char *untrusted_value = xs_read(xs, XBT_NULL, "domid", &len);
	uint64_t domid;
	int r = untrusted_value ? ck_parse_uint(untrusted_value, 0, DOMID_MAX, &domid) : -ENOENT;

	free(untrusted_value);
	return r < 0 ? -1 : (int)domid;
}

/*
 * The watch fires when cokeeperd sets our channel up, and again after a live migration (the
 * kernel re-registers watches in the new domain).  A migrated guest has a new domid and the
 * old channel's grants and event channel are gone without its ring ever saying so, which is
 * why the domid is checked on every fire.
 */
static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vchan_transport *t = userdata;
	bool fired = false;
	char **ev;
	int domid;

	while ((ev = xs_check_watch(t->xs))) {
		free(ev);
		fired = true;
	}
	if (!fired)
		return 0;
	domid = read_domid(t->xs);
	if (domid > 0 && domid != t->domid) {
		t->domid = domid;
		t->cb.domid_changed(domid, t->userdata);
	} else {
		t->cb.kick(t->userdata);
	}
	return 0;
}

static int vchan_connect(struct transport *base, int domid, struct ck_stream **ret)
{
	struct vchan_transport *t = (struct vchan_transport *)base;
	struct libxenvchan *ctrl;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/local/domain/%d/" VCHAN_PATH, domid);
	errno = 0;
	ctrl = libxenvchan_client_init(t->logger, 0, path);
	if (!ctrl)
		return errno == ENOENT || errno == 0 ? -EAGAIN : -errno;
	r = stream_vchan_new(ret, t->event, ctrl, 0);
	if (r < 0)
		libxenvchan_close(ctrl);
	return r;
}

/*
 * After a live migration the old channel's event channel no longer exists, and Linux 6.1's
 * evtchn driver hits BUG_ON(irq < 0) (drivers/xen/evtchn.c) when such a port is unbound,
 * killing the agent.  So a migrated guest's old channel is never closed: its handle is kept
 * (a few pages and one fd per migration) for the life of the process.
 */
static void vchan_release(struct transport *base, struct ck_stream *s, bool dead)
{
	struct vchan_transport *t = (struct vchan_transport *)base;
	struct libxenvchan **grown;

	if (!dead) {
		ck_stream_free(s);
		return;
	}
	grown = realloc(t->abandoned, (t->n_abandoned + 1) * sizeof(*grown));
	if (!grown) {
		/* Losing the handle leaks it, which is what keeping it would do anyway. */
		(void)stream_vchan_release(s);
		return;
	}
	t->abandoned = grown;
	t->abandoned[t->n_abandoned++] = stream_vchan_release(s);
}

static void vchan_free(struct transport *base)
{
	struct vchan_transport *t = (struct vchan_transport *)base;

	sd_event_source_disable_unref(t->xs_io);
	if (t->xs)
		xs_close(t->xs);
	if (t->logger)
		xtl_logger_destroy(t->logger);
	free(t->abandoned);
	free(t);
}

static int vchan_new(struct transport **ret, const struct transport_config *cfg, int *domid,
		     const struct transport_callbacks *cb, void *userdata)
{
	struct vchan_transport *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->base.ops = &transport_vchan_ops;
	t->event = cfg->event;
	t->cb = *cb;
	t->userdata = userdata;
	t->logger = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
	t->xs = xs_open(0);
	if (!t->xs) {
		r = log_error_errno(-errno, "cannot open xenstore (is this a Xen guest with "
					    "xen-evtchn and xen-gntdev loaded?)");
		goto err;
	}
	t->domid = read_domid(t->xs);
	if (t->domid <= 0) {
		r = log_error_errno(-EIO, "cannot read our own domid from xenstore");
		goto err;
	}
	/* Relative paths are under our /local/domain/<domid>; the daemon writes this node. */
	if (!xs_watch(t->xs, VCHAN_PATH, "vchan")) {
		r = log_error_errno(-errno, "cannot watch %s", VCHAN_PATH);
		goto err;
	}
	r = sd_event_add_io(cfg->event, &t->xs_io, xs_fileno(t->xs), EPOLLIN, on_watch, t);
	if (r < 0)
		goto err;
	log_info("vchan transport: domid %d, waiting for cokeeperd at %s", t->domid, VCHAN_PATH);
	*domid = t->domid;
	*ret = &t->base;
	return 0;
err:
	vchan_free(&t->base);
	return r;
}

const struct transport_ops transport_vchan_ops = {
	.name = "vchan",
	.new = vchan_new,
	.connect = vchan_connect,
	.release = vchan_release,
	.free = vchan_free,
};
