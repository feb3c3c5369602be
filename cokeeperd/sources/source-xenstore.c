// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event-driven Xen source.  Two kinds of events ask for a rescan:
 *  - xenstore watches on @introduceDomain, @releaseDomain, the vif backends and each member's
 *    name, drained from xs_fileno() in the event loop;
 *  - libxl domain-death events for every member, whose DOMAIN_SHUTDOWN (reason suspend)
 *    arrives the moment a migration suspends the guest.
 * The scan cache (scan.h) turns a fire that names a domain into the reads of that domain
 * alone: under load, a whole-host scan per event costs more than the event saves.
 * libxl's fds and timeouts live in this process's sd-event loop through
 * libxl_osevent_register_hooks(), so nothing blocks and no thread is needed.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <utlist.h>

#include "clock.h"
#include "conflicts.h"
#include "source.h"
#include "logging.h"
#include "xenhost.h"

static const char *const watches[] = {
	"@introduceDomain",
	"@releaseDomain",
	"/local/domain/0/backend/vif",
};

/* What follows one member: its libxl death events and a watch on its name. */
struct member_watch {
	struct member_watch *prev, *next;
	uint16_t domid;
	libxl_evgen_domain_death *evgen;
	char name_path[40];	/* "" when the watch could not be set */
	bool name_fired;	/* the fire every new watch sends at once has come */
	char attr_path[48];	/* the guest's own attr/vif: its claimed addresses */
	bool attr_fired;
	bool attr_pending;	/* a fire held back: it is read at attr_next */
	uint64_t attr_next;	/* the guest's next fire read before this: one a second */
};

/*
 * A guest writes its attr/vif as often as it likes: each member's fires there are read at
 * most once this often (the last one held back until then), so a guest's write loop costs
 * one read of its vifs a second, not a rescan per write.
 */
#define ATTR_INTERVAL_USEC 1000000ull

struct xenstore_source {
	struct source base;
	struct xenhost *xh;
	sd_event_source *xs_io;
	sd_event_source *attr_timer;	/* the held-back attr fires, at the earliest attr_next */
	struct member_watch *followed;
	struct scan_cache *cache;
};

/* libxl's registrations in the loop. */
struct os_reg {
	struct xenstore_source *src;
	sd_event_source *source;
	void *for_libxl;
	short events;
};

static uint32_t to_epoll(short events)
{
	return (events & POLLIN ? EPOLLIN : 0) | (events & POLLOUT ? EPOLLOUT : 0) |
	       (events & POLLPRI ? EPOLLPRI : 0);
}

static short to_poll(uint32_t revents)
{
	return (revents & EPOLLIN ? POLLIN : 0) | (revents & EPOLLOUT ? POLLOUT : 0) |
	       (revents & EPOLLPRI ? POLLPRI : 0) | (revents & EPOLLERR ? POLLERR : 0) |
	       (revents & EPOLLHUP ? POLLHUP : 0);
}

static int on_libxl_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct os_reg *reg = userdata;

	libxl_osevent_occurred_fd(reg->src->xh->ctx, reg->for_libxl, fd, reg->events,
				  to_poll(revents));
	return 0;
}

static int fd_register(void *user, int fd, void **reg_out, short events, void *for_libxl)
{
	struct xenstore_source *src = user;
	struct os_reg *reg = calloc(1, sizeof(*reg));
	int r;

	if (!reg)
		return ERROR_NOMEM;
	reg->src = src;
	reg->for_libxl = for_libxl;
	reg->events = events;
	r = sd_event_add_io(src->base.cfg.event, &reg->source, fd, to_epoll(events),
			    on_libxl_fd, reg);
	if (r < 0) {
		free(reg);
		return ERROR_FAIL;
	}
	*reg_out = reg;
	return 0;
}

static int fd_modify(void *user, int fd, void **reg_update, short events)
{
	struct os_reg *reg = *reg_update;

	reg->events = events;
	return sd_event_source_set_io_events(reg->source, to_epoll(events)) < 0 ? ERROR_FAIL : 0;
}

static void fd_deregister(void *user, int fd, void *for_app)
{
	struct os_reg *reg = for_app;

	sd_event_source_disable_unref(reg->source);
	free(reg);
}

static int on_libxl_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct os_reg *reg = userdata;
	struct xenstore_source *src = reg->src;
	void *for_libxl = reg->for_libxl;

	/* A timeout that fired is deregistered as far as libxl is concerned. */
	sd_event_source_disable_unref(reg->source);
	free(reg);
	libxl_osevent_occurred_timeout(src->xh->ctx, for_libxl);
	return 0;
}

static uint64_t timeval_usec(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int timeout_register(void *user, void **reg_out, struct timeval abs, void *for_libxl)
{
	struct xenstore_source *src = user;
	struct os_reg *reg = calloc(1, sizeof(*reg));
	int r;

	if (!reg)
		return ERROR_NOMEM;
	reg->src = src;
	reg->for_libxl = for_libxl;
	/* libxl's deadlines are wall-clock times (gettimeofday). */
	r = sd_event_add_time(src->base.cfg.event, &reg->source, CLOCK_REALTIME,
			      timeval_usec(abs), 1000, on_libxl_timeout, reg);
	if (r < 0) {
		free(reg);
		return ERROR_FAIL;
	}
	*reg_out = reg;
	return 0;
}

static int timeout_modify(void *user, void **reg_update, struct timeval abs)
{
	struct os_reg *reg = *reg_update;

	/* Only ever {0,0}: "as soon as possible". */
	return sd_event_source_set_time(reg->source, timeval_usec(abs)) < 0 ? ERROR_FAIL : 0;
}

static void timeout_deregister(void *user, void *for_app)
{
	struct os_reg *reg = for_app;

	sd_event_source_disable_unref(reg->source);
	free(reg);
}

static const libxl_osevent_hooks os_hooks = {
	.fd_register = fd_register,
	.fd_modify = fd_modify,
	.fd_deregister = fd_deregister,
	.timeout_register = timeout_register,
	.timeout_modify = timeout_modify,
	.timeout_deregister = timeout_deregister,
};

static void on_libxl_event(void *user, libxl_event *ev)
{
	struct xenstore_source *src = user;

	switch (ev->type) {
	case LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN:
		log_debug("libxl: domid %u shut down (reason %d)", ev->domid,
			  ev->u.domain_shutdown.shutdown_reason);
		/* The next scan lists the domains, and re-reads one whose run state changed. */
		scan_cache_domains_changed(src->cache);
		source_changed(&src->base);
		break;
	case LIBXL_EVENT_TYPE_DOMAIN_DEATH:
		log_debug("libxl: domid %u died", ev->domid);
		scan_cache_domains_changed(src->cache);
		source_changed(&src->base);
		break;
	default:
		break;
	}
	libxl_event_free(src->xh->ctx, ev);
}

static void on_libxl_disaster(void *user, libxl_event_type type, const char *msg, int errnoval)
{
	struct xenstore_source *src = user;

	log_error("libxl event disaster (%s, errno %d): rescanning", msg, errnoval);
	scan_cache_forget(src->cache);
	source_changed(&src->base);
}

static const libxl_event_hooks event_hooks = {
	.event_occurs_mask = (1UL << LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN) |
			     (1UL << LIBXL_EVENT_TYPE_DOMAIN_DEATH),
	.event_occurs = on_libxl_event,
	.disaster = on_libxl_disaster,
};

/*
 * A new name watch fires at once, right after the commit that made the domain a member and
 * while the guests apply it; a scan then would only compete with them.  That first fire is
 * news only if the name is no longer the one the member has.
 */
static bool name_fire_is_news(struct xenstore_source *src, const char *path)
{
	const struct ck_member *m;
	struct member_watch *w;
	unsigned int len;
	bool news;
	char *name;

	DL_FOREACH(src->followed, w)
		if (!strcmp(w->name_path, path))
			break;
	if (!w || w->name_fired)
		return true;
	w->name_fired = true;
	m = ck_memberset_find(src->base.cfg.membership->members, w->domid);
	name = xs_read(src->xh->xs_reads, XBT_NULL, path, &len);
	news = !m || !name || strcmp(m->name, name) != 0;
	free(name);
	return news;
}

/*
 * The first fire of a new attr watch: the member was read (its claims too) just before it
 * was set, so a guest that writes its claims at boot, long after that, is what fires next.
 */
static void arm_attr_timer(struct xenstore_source *src, uint64_t at)
{
	uint64_t cur = UINT64_MAX;
	int enabled = SD_EVENT_OFF;

	sd_event_source_get_enabled(src->attr_timer, &enabled);
	if (enabled != SD_EVENT_OFF)
		sd_event_source_get_time(src->attr_timer, &cur);
	if (enabled != SD_EVENT_OFF && cur <= at)
		return;
	sd_event_source_set_time(src->attr_timer, at);
	sd_event_source_set_enabled(src->attr_timer, SD_EVENT_ONESHOT);
}

static bool attr_fire_is_news(struct xenstore_source *src, const char *path)
{
	uint64_t now = ck_now_usec();
	struct member_watch *w;

	DL_FOREACH(src->followed, w)
		if (!strncmp(w->attr_path, path, strlen(w->attr_path)) && w->attr_path[0])
			break;
	if (!w)
		return true;
	if (!w->attr_fired) {
		w->attr_fired = true;
		return false;
	}
	if (now >= w->attr_next) {
		w->attr_next = now + ATTR_INTERVAL_USEC;
		return true;
	}
	w->attr_pending = true;
	arm_attr_timer(src, w->attr_next);
	return false;
}

/* The held-back attr fires whose second has come: their guests' vifs are read again. */
static int on_attr_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct xenstore_source *src = userdata;
	uint64_t now = ck_now_usec(), next = UINT64_MAX;
	struct member_watch *w;
	unsigned int n = 0;

	DL_FOREACH(src->followed, w) {
		if (!w->attr_pending)
			continue;
		if (w->attr_next > now) {
			next = w->attr_next < next ? w->attr_next : next;
			continue;
		}
		w->attr_pending = false;
		w->attr_next = now + ATTR_INTERVAL_USEC;
		n += scan_cache_watch_fired(src->cache, w->attr_path);
	}
	if (next != UINT64_MAX)
		arm_attr_timer(src, next);
	if (n)
		source_changed(&src->base);
	return 0;
}

/* Takes every fire that has arrived into the scan cache; returns how many need a scan. */
static unsigned int take_fires(struct xenstore_source *src)
{
	unsigned int n = 0;
	char **ev;

	while ((ev = xs_check_watch(src->xh->xs))) {
		const char *path = ev[XS_WATCH_PATH];

		bool news = !strcmp(ev[XS_WATCH_TOKEN], "name") ? name_fire_is_news(src, path) :
			    !strcmp(ev[XS_WATCH_TOKEN], "attr") ? attr_fire_is_news(src, path) : true;

		if (news) {
			if (scan_cache_watch_fired(src->cache, path)) {
				log_debug("watch %s fired", path);
				n++;
			}
		}
		free(ev);
	}
	if (errno != EAGAIN)
		log_warning_errno(-errno, "xenstore watch");
	return n;
}

static int on_xs(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct xenstore_source *src = userdata;

	/* Every relevant fire means "rescan"; the rescan coalesces the burst. */
	if (take_fires(src))
		source_changed(&src->base);
	return 0;
}

static void member_watch_drop(struct xenstore_source *src, struct member_watch *w)
{
	DL_DELETE(src->followed, w);
	if (w->evgen)
		libxl_evdisable_domain_death(src->xh->ctx, w->evgen);
	if (w->name_path[0])
		xs_unwatch(src->xh->xs, w->name_path, "name");
	if (w->attr_path[0])
		xs_unwatch(src->xh->xs, w->attr_path, "attr");
	free(w);
}

static void xs_members_changed(struct source *base, const struct ck_delta *delta)
{
	struct xenstore_source *src = (struct xenstore_source *)base;

	struct member_watch *w;

	for (size_t i = 0; i < delta->n_removed; i++) {
		DL_SEARCH_SCALAR(src->followed, w, domid, delta->removed[i]);
		if (w)
			member_watch_drop(src, w);
	}
	for (size_t i = 0; i < delta->n_upserts; i++) {
		uint16_t domid = delta->upserts[i].domid;

		DL_SEARCH_SCALAR(src->followed, w, domid, domid);
		if (w)
			continue;
		w = calloc(1, sizeof(*w));
		if (!w) {
			/* The watches on @releaseDomain and the vifs still see it leave. */
			log_error_errno(-ENOMEM, "domid %u: cannot follow its death events and name",
					domid);
			continue;
		}
		w->domid = domid;
		if (libxl_evenable_domain_death(src->xh->ctx, domid, 0, &w->evgen) != 0) {
			log_warning("libxl: cannot follow domid %u's death; xenstore watches remain",
				    domid);
			w->evgen = NULL;
		}
		/* A rename (xl rename, a migration's handover) fires nothing else we watch. */
		snprintf(w->name_path, sizeof(w->name_path), "/local/domain/%u/name", domid);
		if (!xs_watch(src->xh->xs, w->name_path, "name")) {
			log_warning_errno(-errno, "xenstore: cannot watch %s; a rename shows at the "
					  "next change", w->name_path);
			w->name_path[0] = '\0';
		}
		/* What the guest says its addresses are (scan-read.c reads them with its vifs). */
		snprintf(w->attr_path, sizeof(w->attr_path), "/local/domain/%u/attr/vif", domid);
		if (!xs_watch(src->xh->xs, w->attr_path, "attr")) {
			log_warning_errno(-errno, "xenstore: cannot watch %s; a guest's claimed "
					  "address shows at its next change", w->attr_path);
			w->attr_path[0] = '\0';
		}
		DL_PREPEND(src->followed, w);
	}
}

static int xs_scan(struct source *base, struct ck_memberset *out, struct scan_result *result)
{
	struct xenstore_source *src = (struct xenstore_source *)base;
	struct scan_options opts = source_scan_options(base);
	struct host host = xenhost_host(src->xh);
	int r;

	/*
	 * A write fires its watches one by one (a vif's transaction: the device directory, mac,
	 * ip, …), and the scan that the first fire asked for reads them all; the rest would
	 * each ask for another scan, which then holds up the guests' acks.  xenstored sends a
	 * connection's messages in order, so once the scan's first read, made on the watch
	 * connection, has its reply, every fire of a write committed before that read is here,
	 * and every read of the scan sees that write.  Taken then, those fires are served by
	 * this scan.  Fires of later writes arrive after it and ask for the next one; so does
	 * a fire taken for a domain the scan had already passed over.
	 */
	src->xh->barrier_pending = true;
	r = scan_host_changes(&host, &opts, src->cache, out, result);
	src->xh->barrier_pending = false;
	if (r == 0 && scan_cache_stale(src->cache))
		source_changed(&src->base);
	return r;
}

static void on_barrier(void *userdata)
{
	take_fires(userdata);
}

static void xs_remerge(struct source *base, uint16_t domid)
{
	struct xenstore_source *src = (struct xenstore_source *)base;

	scan_cache_remerge(src->cache, domid);
	source_changed(base);
}

static int xs_member_as_read(struct source *base, uint16_t domid, struct ck_member *out)
{
	struct xenstore_source *src = (struct xenstore_source *)base;

	return conflicts_member_as_read(scan_cache_conflicts(src->cache), domid, out);
}

static void xs_forget(struct source *base)
{
	struct xenstore_source *src = (struct xenstore_source *)base;

	scan_cache_forget(src->cache);
}

static void xs_free(struct source *base)
{
	struct xenstore_source *src = (struct xenstore_source *)base;

	while (src->followed)
		member_watch_drop(src, src->followed);
	sd_event_source_disable_unref(src->xs_io);
	sd_event_source_disable_unref(src->attr_timer);
	xenhost_close(src->xh);
	scan_cache_free(src->cache);
	free(src);
}

static int xs_new(struct source **ret, const struct source_config *cfg,
		   const struct source_callbacks *cb, void *userdata)
{
	struct xenstore_source *src = calloc(1, sizeof(*src));
	int r;

	if (!src)
		return -ENOMEM;
	source_init(&src->base, &source_xenstore_ops, cfg, cb, userdata);
	r = scan_cache_new(&src->cache);
	if (r < 0) {
		free(src);
		return r;
	}
	r = xenhost_open(&src->xh);
	if (r < 0) {
		scan_cache_free(src->cache);
		free(src);
		return r;
	}
	src->xh->on_barrier = on_barrier;
	src->xh->barrier_userdata = src;
	libxl_osevent_register_hooks(src->xh->ctx, &os_hooks, src);
	libxl_event_register_callbacks(src->xh->ctx, &event_hooks, src);
	for (size_t i = 0; i < sizeof(watches) / sizeof(watches[0]); i++)
		if (!xs_watch(src->xh->xs, watches[i], watches[i])) {
			r = log_error_errno(-errno, "xenstore: cannot watch %s", watches[i]);
			goto err;
		}
	r = sd_event_add_io(cfg->event, &src->xs_io, xs_fileno(src->xh->xs), EPOLLIN, on_xs, src);
	if (r >= 0)
		r = sd_event_add_time(cfg->event, &src->attr_timer, CLOCK_MONOTONIC, UINT64_MAX, 0,
				      on_attr_timer, src);
	if (r >= 0)
		r = sd_event_source_set_enabled(src->attr_timer, SD_EVENT_OFF);
	if (r < 0)
		goto err;
	log_info("xenstore source: watching %s, %s, %s; per member its name, its attr/vif "
		 "and libxl death events",
		 watches[0], watches[1], watches[2]);
	*ret = &src->base;
	return 0;
err:
	xs_free(&src->base);
	return r;
}

const struct source_ops source_xenstore_ops = {
	.name = "xenstore",
	.new = xs_new,
	.scan = xs_scan,
	.forget = xs_forget,
	.member_as_read = xs_member_as_read,
	.remerge = xs_remerge,
	.members_changed = xs_members_changed,
	.free = xs_free,
};
