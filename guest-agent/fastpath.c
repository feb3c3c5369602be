// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "clock.h"
#include "fastpath.h"
#include "logging.h"
#include "ratelimit.h"

struct fastpath {
	struct fastpath_port *port;
	struct session *session;
	struct fastpath_stats stats;
	struct ck_ratelimit rl;		/* what a chatty peer or module makes us log */
};

static void to_daemon(struct fastpath *fp, const struct ck_msg *msg)
{
	int r = fp->session ? session_send(fp->session, msg) : -ENOTCONN;

	if (r < 0) {
		fp->stats.dropped++;
		ck_log_limited(&fp->rl, LOG_NOTICE, r, "fast path: cannot send a %s for domid %u to "
			       "cokeeperd", ck_msg_type_name(msg->type),
			       *ck_msg_fastpath_peer((struct ck_msg *)msg));
		return;
	}
	fp->stats.to_daemon++;
}

/* The module's own offer refused on the peer's behalf: nobody can deliver it. */
static void refuse_offer(struct fastpath *fp, const struct ck_msg *offer)
{
	const struct ck_msg close = { .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .peer_domid = offer->fastpath_offer.peer_domid,
				    .channel_id = offer->fastpath_offer.channel_id,
				    .reason = CKFP_CLOSE_NO_FASTPATH } };
	int r = fp->port ? fp->port->ops->deliver(fp->port, &close) : -ENOENT;

	if (r < 0)
		ck_log_limited(&fp->rl, LOG_NOTICE, r, "fast path: cannot refuse the module's "
			       "offer to domid %u", close.fastpath_close.peer_domid);
}

static void on_module_event(const struct ck_msg *msg, void *userdata)
{
	struct fastpath *fp = userdata;

	if (fp->session && session_daemon_fastpath(fp->session) >= 1) {
		to_daemon(fp, msg);
		return;
	}
	fp->stats.no_relay++;
	ck_log_limited(&fp->rl, LOG_INFO, 0, "fast path: cokeeperd has not announced that it "
		       "relays set-up; %s for domid %u kept back", ck_msg_type_name(msg->type),
		       *ck_msg_fastpath_peer((struct ck_msg *)msg));
	if (msg->type == CK_MSG_FASTPATH_OFFER)
		refuse_offer(fp, msg);
}

const struct fastpath_port_callbacks fastpath_port_callbacks = { .event = on_module_event };

static void on_relayed(const struct ck_msg *msg, void *userdata)
{
	struct fastpath *fp = userdata;
	uint16_t source = *ck_msg_fastpath_peer((struct ck_msg *)msg);
	int r = fp->port ? fp->port->ops->deliver(fp->port, msg) : -ENOENT;

	if (r == 0) {
		fp->stats.to_module++;
		return;
	}
	if (r == -ENOENT && msg->type == CK_MSG_FASTPATH_OFFER) {
		struct ck_msg close = { .type = CK_MSG_FASTPATH_CLOSE,
			.fastpath_close = { .peer_domid = source,
					    .channel_id = msg->fastpath_offer.channel_id,
					    .reason = CKFP_CLOSE_NO_FASTPATH } };

		fp->stats.no_module++;
		ck_log_limited(&fp->rl, LOG_INFO, 0, "fast path: domid %u offers a channel, and "
			       "this guest has no fast path module", source);
		to_daemon(fp, &close);
		return;
	}
	/* A channel the module has already closed: both ends closing at once is normal. */
	if (r == -ESTALE && msg->type != CK_MSG_FASTPATH_OFFER) {
		fp->stats.to_module++;
		return;
	}
	/* The module answers what it cannot take with its own Close; nothing to add here. */
	fp->stats.dropped++;
	ck_log_limited(&fp->rl, LOG_NOTICE, r, "fast path: the %s module did not take a %s "
		       "from domid %u", fp->port ? fp->port->ops->name : "no", ck_msg_type_name(msg->type), source);
}

int fastpath_new(struct fastpath **ret)
{
	struct fastpath *fp = calloc(1, sizeof(*fp));

	if (!fp)
		return -ENOMEM;
	fp->rl = (struct ck_ratelimit)CK_RATELIMIT_INIT(10 * 1000000ull, 5);
	*ret = fp;
	return 0;
}

void fastpath_set_port(struct fastpath *fp, struct fastpath_port *port)
{
	if (fp->port)
		fp->port->ops->free(fp->port);
	fp->port = port;
}

void fastpath_free(struct fastpath *fp)
{
	if (!fp)
		return;
	if (fp->session)
		session_set_fastpath(fp->session, NULL, NULL);
	fastpath_set_port(fp, NULL);
	free(fp);
}

void fastpath_attach(struct fastpath *fp, struct session *s)
{
	fp->session = s;
	session_set_fastpath(s, on_relayed, fp);
}

const struct fastpath_stats *fastpath_stats(const struct fastpath *fp)
{
	return &fp->stats;
}

struct fastpath_port *fastpath_port(struct fastpath *fp)
{
	return fp->port;
}
