// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Xen channel: a libxenvchan client to dom0 at our own data/cokeeper-vchan, where
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

#include "agent.h"
#include "logging.h"

#define VCHAN_PATH "data/cokeeper-vchan"

struct vchan_channel {
	struct channel base;
	struct xs_handle *xs;
	xentoollog_logger *logger;
	struct libxenvchan *ctrl;
	struct libxenvchan **abandoned;	/* channels a migration killed: see vchan_abandon() */
	size_t n_abandoned;
	sd_event_source *xs_io;
	sd_event_source *io;
};

static int read_domid(struct xs_handle *xs)
{
	unsigned int len;
	char *value = xs_read(xs, XBT_NULL, "domid", &len);
	int domid = value ? atoi(value) : -1;

	free(value);
	return domid;
}

/*
 * The watch fires when cokeeperd sets our channel up, and again after a live migration (the
 * kernel re-registers watches in the new domain).  A migrated guest has a new domid and the
 * old channel's grants and event channel are gone without its ring ever saying so, which is
 * why the domid is checked on every fire.
 */
static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vchan_channel *v = userdata;
	struct agent *a = v->base.agent;
	bool fired = false;
	char **ev;
	int domid;

	while ((ev = xs_check_watch(v->xs))) {
		free(ev);
		fired = true;
	}
	if (!fired)
		return 0;
	domid = read_domid(v->xs);
	if (domid > 0 && domid != a->cfg.domid)
		agent_domid_changed(a, domid);
	else
		agent_kick(a);
	return 0;
}

static int on_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vchan_channel *v = userdata;

	libxenvchan_wait(v->ctrl);
	agent_on_io(v->base.agent);
	return 0;
}

static int vchan_connect(struct channel *c)
{
	struct vchan_channel *v = (struct vchan_channel *)c;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/local/domain/%d/" VCHAN_PATH, c->agent->cfg.domid);
	errno = 0;
	v->ctrl = libxenvchan_client_init(v->logger, 0, path);
	if (!v->ctrl)
		return errno == ENOENT || errno == 0 ? -EAGAIN : -errno;
	v->ctrl->blocking = 0;
	r = sd_event_add_io(c->agent->event, &v->io, libxenvchan_fd_for_select(v->ctrl), EPOLLIN,
			    on_event, v);
	if (r < 0) {
		libxenvchan_close(v->ctrl);
		v->ctrl = NULL;
	}
	return r;
}

static ssize_t vchan_read(struct channel *c, void *buf, size_t len)
{
	struct vchan_channel *v = (struct vchan_channel *)c;
	int n;

	if (libxenvchan_data_ready(v->ctrl) == 0)
		return libxenvchan_is_open(v->ctrl) ? -EAGAIN : 0;
	n = libxenvchan_read(v->ctrl, buf, len);
	return n < 0 ? -EIO : n == 0 ? -EAGAIN : n;
}

static ssize_t vchan_write(struct channel *c, const void *buf, size_t len)
{
	struct vchan_channel *v = (struct vchan_channel *)c;
	int n;

	if (!libxenvchan_is_open(v->ctrl))
		return -EPIPE;
	n = libxenvchan_write(v->ctrl, buf, len);
	return n < 0 ? -EIO : n == 0 ? -EAGAIN : n;
}

static void vchan_want_write(struct channel *c, bool on)
{
}

static void vchan_close(struct channel *c)
{
	struct vchan_channel *v = (struct vchan_channel *)c;

	v->io = sd_event_source_disable_unref(v->io);
	if (v->ctrl)
		libxenvchan_close(v->ctrl);
	v->ctrl = NULL;
}

/*
 * After a live migration the old channel's event channel no longer exists, and Linux 6.1's
 * evtchn driver hits BUG_ON(irq < 0) (drivers/xen/evtchn.c) when such a port is unbound,
 * killing the agent.  So a migrated guest's old channel is never closed: its handle is kept
 * (a few pages and one fd per migration) for the life of the process.
 */
static void vchan_abandon(struct channel *c)
{
	struct vchan_channel *v = (struct vchan_channel *)c;
	struct libxenvchan **grown;

	v->io = sd_event_source_disable_unref(v->io);
	grown = realloc(v->abandoned, (v->n_abandoned + 1) * sizeof(*grown));
	if (grown) {
		v->abandoned = grown;
		v->abandoned[v->n_abandoned++] = v->ctrl;
	}
	v->ctrl = NULL;
}

static void vchan_free(struct channel *c)
{
	struct vchan_channel *v = (struct vchan_channel *)c;

	sd_event_source_disable_unref(v->xs_io);
	if (v->xs)
		xs_close(v->xs);
	if (v->logger)
		xtl_logger_destroy(v->logger);
	free(v);
}

static int vchan_new(struct channel **ret, struct agent *a)
{
	struct vchan_channel *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	v->base.ops = &channel_vchan_ops;
	v->base.agent = a;
	v->logger = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
	v->xs = xs_open(0);
	if (!v->xs) {
		r = log_error_errno(-errno, "cannot open xenstore (is this a Xen guest with "
					    "xen-evtchn and xen-gntdev loaded?)");
		goto err;
	}
	a->cfg.domid = read_domid(v->xs);
	if (a->cfg.domid <= 0) {
		r = log_error_errno(-EIO, "cannot read our own domid from xenstore");
		goto err;
	}
	/* Relative paths are under our /local/domain/<domid>; the daemon writes this node. */
	if (!xs_watch(v->xs, VCHAN_PATH, "vchan")) {
		r = log_error_errno(-errno, "cannot watch %s", VCHAN_PATH);
		goto err;
	}
	r = sd_event_add_io(a->event, &v->xs_io, xs_fileno(v->xs), EPOLLIN, on_watch, v);
	if (r < 0)
		goto err;
	log_info("vchan channel: domid %d, waiting for cokeeperd at %s", a->cfg.domid, VCHAN_PATH);
	*ret = &v->base;
	return 0;
err:
	vchan_free(&v->base);
	return r;
}

const struct channel_ops channel_vchan_ops = {
	.name = "vchan",
	.new = vchan_new,
	.connect = vchan_connect,
	.read = vchan_read,
	.write = vchan_write,
	.want_write = vchan_want_write,
	.close = vchan_close,
	.abandon = vchan_abandon,
	.free = vchan_free,
};
