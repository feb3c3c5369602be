// SPDX-License-Identifier: GPL-2.0-only
/*
 * ck-evil: a misbehaving guest, for the lab (runs in a domU).  Each mode prints one line and
 * exits 0 when CoKeeper defended itself as it should:
 *   vchan-garbage      connect to cokeeperd's channel (the agent must be stopped) and send
 *                      bytes that are not a frame: cokeeperd must close the channel
 *   hello-flood [S]    connect to cokeeperd's channel (the agent must be stopped) and send
 *                      valid Hellos (our own domid, no table) as fast as the ring takes them,
 *                      never reading, for S seconds (default 60) or until SIGTERM or until
 *                      cokeeperd closes the channel.  Either is a defence (disconnected, or
 *                      throttled: the ring stays full); dom0 judges the rest (scenario-smoke)
 *   netlink-unpriv     as uid 65534, try to write the kernel table: -EPERM
 *   netlink-malformed  as root, an unknown flag bit: -EINVAL, and a 5-byte MAC: -ERANGE,
 *                      each with the kernel's extended-ACK message
 *   fastpath-garbage PEER [KIND]
 *                      play a hostile fast path offerer to PEER (a higher domid whose
 *                      cokeeper-fp.ko and agent run; ours must be stopped and unloaded):
 *                      say Hello on cokeeperd's channel, grant 1 + 2 * 64 pages and an unbound
 *                      port to PEER from userspace (gntalloc, evtchn), write the control page
 *                      honestly and send a FastpathOffer; once PEER accepts, break our ring as
 *                      KIND says (prod: tx_prod far past the ring; len: a record of length
 *                      0xFFFFFFF0; flags: a record with an unknown flag bit; default prod)
 *                      and kick PEER.  PEER's module must close the channel with
 *                      CKFP_CLOSE_BROKEN, relayed back by cokeeperd (30 s for each step);
 *                      exit 2 when the channel could not be set up
 *   fastpath-stall PEER [S]
 *                      set a channel up to PEER as fastpath-garbage does, then never read
 *                      what PEER sends in it (our consumer index stays at 0) and keep it
 *                      mapped for S seconds (default 60), until SIGTERM, or until PEER
 *                      closes it.  PEER's module must close it with CKFP_CLOSE_TIMEOUT once
 *                      it has left data unread for its stall_timeout_ms (so something on
 *                      PEER must send to us: ping our address); exit 1 when it closed for
 *                      another reason or S passed with data unread, 2 when the channel could
 *                      not be set up or PEER sent nothing
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <libxenvchan.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "clock.h"
#include "evil-fastpath.h"
#include "frame.h"
#include "genl.h"
#include "linux/cokeeper.h"
#include "number.h"

/* Our domid and a client end of cokeeperd's channel for it, or NULL (and a line printed). */
static struct libxenvchan *channel_open(const char *mode, struct xs_handle **xsp,
					unsigned int *domidp)
{
	struct xs_handle *xs = xs_open(0);
	struct libxenvchan *ctrl;
	unsigned int len;
	char *domid = NULL, path[64];
	uint64_t v;

	if (!xs || !(domid = xs_read(xs, XBT_NULL, "domid", &len)) ||
	    ck_parse_uint(domid, 0, CK_DOMID_LIMIT - 1, &v) < 0) {
		printf("EVIL %s: cannot read our domid\n", mode);
		free(domid);
		if (xs)
			xs_close(xs);
		return NULL;
	}
	*domidp = (unsigned int)v;
	snprintf(path, sizeof(path), "/local/domain/%s/data/cokeeper-vchan", domid);
	free(domid);
	ctrl = libxenvchan_client_init(NULL, 0, path);
	if (!ctrl) {
		printf("EVIL %s: cannot connect to %s: %s\n", mode, path, strerror(errno));
		xs_close(xs);
		return NULL;
	}
	*xsp = xs;
	return ctrl;
}

static int vchan_garbage(void)
{
	static const unsigned char junk[] = { 0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff };
	struct xs_handle *xs;
	struct libxenvchan *ctrl;
	unsigned int domid;
	uint64_t deadline;

	ctrl = channel_open("vchan-garbage", &xs, &domid);
	if (!ctrl)
		return 2;
	if (libxenvchan_send(ctrl, junk, sizeof(junk)) < 0) {
		printf("EVIL vchan-garbage: send failed\n");
		return 2;
	}
	ctrl->blocking = 0;
	deadline = ck_now_usec() + 10000000;
	while (libxenvchan_is_open(ctrl) && ck_now_usec() < deadline) {
		char buf[256];

		while (libxenvchan_data_ready(ctrl) > 0 && libxenvchan_read(ctrl, buf, sizeof(buf)) > 0)
			;	/* cokeeperd's Bye */
		usleep(20000);
	}
	if (libxenvchan_is_open(ctrl)) {
		printf("EVIL vchan-garbage: FAIL, cokeeperd kept the channel open\n");
		return 1;
	}
	printf("EVIL vchan-garbage: disconnected by cokeeperd\n");
	libxenvchan_close(ctrl);
	xs_close(xs);
	return 0;
}

static volatile sig_atomic_t stop_flood;

static void on_term(int sig)
{
	(void)sig;
	stop_flood = 1;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n] = v & 0x7f;
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/*
 * One framed Envelope{hello: Hello{domid, protocol_version 1}}, encoded by hand
 * (proto/cokeeper.proto): a length, then field 1 (hello, length-delimited) holding field 1
 * (domid, varint) and field 4 (protocol_version, varint).  Returns its length.
 */
static size_t hello_frame(uint8_t *out, unsigned int domid)
{
	uint8_t body[16], env[24];
	size_t b = 0, e = 0;

	body[b++] = 0x08;
	b += put_varint(body + b, domid);
	body[b++] = 0x20;
	body[b++] = 1;
	env[e++] = 0x0a;
	env[e++] = (uint8_t)b;
	memcpy(env + e, body, b);
	e += b;
	out[0] = 0;
	out[1] = 0;
	out[2] = 0;
	out[3] = (uint8_t)e;
	memcpy(out + 4, env, e);
	return 4 + e;
}

/*
 * Valid Hellos, as fast as the ring takes them, never reading what cokeeperd answers.  The
 * verdict is dom0's (its memory, its log, the other guests' convergence); this only says what
 * happened to the channel.
 */
static int hello_flood(unsigned int seconds)
{
	static uint8_t batch[64 * 1024];
	struct libxenvchan *ctrl;
	struct xs_handle *xs;
	uint64_t deadline, t0, hellos = 0, full = 0;
	size_t one, n = 0, off = 0;
	unsigned int domid;
	int w;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	ctrl = channel_open("hello-flood", &xs, &domid);
	if (!ctrl)
		return 2;
	one = hello_frame(batch, domid);
	while (n + one <= sizeof(batch))
		n += hello_frame(batch + n, domid);
	ctrl->blocking = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);	/* dom0 reads this line while we flood */
	printf("EVIL hello-flood: flooding as domid %u for at most %u s\n", domid, seconds);
	t0 = ck_now_usec();
	deadline = t0 + (uint64_t)seconds * 1000000;
	while (!stop_flood && ck_now_usec() < deadline && libxenvchan_is_open(ctrl)) {
		w = libxenvchan_write(ctrl, batch + off, n - off);
		if (w < 0)
			break;
		if (w == 0) {
			full++;		/* the ring is full: cokeeperd is not reading us now */
			usleep(1000);
			continue;
		}
		off += (size_t)w;
		hellos += (uint64_t)w / one;
		if (off == n)
			off = 0;
	}
	if (!libxenvchan_is_open(ctrl))
		printf("EVIL hello-flood: disconnected by cokeeperd after %llu Hellos in %.1f s\n",
		       (unsigned long long)hellos, (ck_now_usec() - t0) / 1e6);
	else
		printf("EVIL hello-flood: %llu Hellos in %.1f s as domid %u, channel still open, "
		       "ring full %llu times (throttled)\n", (unsigned long long)hellos,
		       (ck_now_usec() - t0) / 1e6, domid, (unsigned long long)full);
	libxenvchan_close(ctrl);
	xs_close(xs);
	return 0;
}

/* A MEMBER_SET with the given MAC length; returns the kernel's answer. */
static int member_set(struct ck_genl *g, int mac_len)
{
	static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x66, 0x66, 0x66 };
	static const uint8_t uuid[16] = { 0x66 };
	struct nl_msg *msg = ck_genl_msg(g, COKEEPER_CMD_MEMBER_SET, 0, 0);
	struct nlattr *member, *nic;

	if (!msg)
		return -ENOMEM;
	member = nla_nest_start(msg, COKEEPER_A_MEMBER);
	nla_put_u32(msg, COKEEPER_MEMBER_A_DOMID, 4242);
	nla_put(msg, COKEEPER_MEMBER_A_UUID, 16, uuid);
	nla_put_string(msg, COKEEPER_MEMBER_A_NAME, "evil");
	nla_put_u8(msg, COKEEPER_MEMBER_A_STATE, COKEEPER_STATE_RUNNING);
	nic = nla_nest_start(msg, COKEEPER_MEMBER_A_NIC);
	nla_put(msg, COKEEPER_NIC_A_MAC, mac_len, mac);
	nla_nest_end(msg, nic);
	nla_nest_end(msg, member);
	return ck_genl_request(g, msg, NULL, NULL);
}

static int netlink_unpriv(void)
{
	struct ck_genl *g;
	int r;

	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
		printf("EVIL netlink-unpriv: cannot drop privileges: %s\n", strerror(errno));
		return 2;
	}
	r = ck_genl_open(&g);
	if (r < 0) {
		printf("EVIL netlink-unpriv: cannot open the family: %s\n", strerror(-r));
		return 2;
	}
	r = member_set(g, 6);
	ck_genl_close(g);
	printf("EVIL netlink-unpriv: write as uid 65534: %s\n", strerror(-r));
	return r == -EPERM ? 0 : 1;
}

static int netlink_malformed(void)
{
	struct nl_msg *msg;
	struct ck_genl *g;
	int r = ck_genl_open(&g), flags_r, mac_r;

	if (r < 0) {
		printf("EVIL netlink-malformed: cannot open the family: %s\n", strerror(-r));
		return 2;
	}
	/* A flag bit nobody defined: -EINVAL, and the kernel says which attribute. */
	msg = ck_genl_msg(g, COKEEPER_CMD_FLUSH, 0, 0);
	if (!msg || nla_put_u32(msg, COKEEPER_A_FLAGS, 0x80000000u) < 0)
		return 2;
	flags_r = ck_genl_request(g, msg, NULL, NULL);
	printf("EVIL netlink-malformed: unknown flag: %s, extack \"%s\"; ", strerror(-flags_r),
	       g->errmsg);
	r = flags_r == -EINVAL && g->errmsg[0] ? 0 : 1;
	/* A MAC of 5 bytes: the length policy answers -ERANGE, also with a message. */
	mac_r = member_set(g, 5);
	printf("5-byte MAC: %s, extack \"%s\"\n", strerror(-mac_r), g->errmsg);
	if (!((mac_r == -EINVAL || mac_r == -ERANGE) && g->errmsg[0]))
		r = 1;
	ck_genl_close(g);
	return r;
}

/* One session with cokeeperd, as much of an agent's as the fastpath modes need. */
struct fp_session {
	const char *mode;
	struct libxenvchan *ctrl;
	struct ck_frame_decoder *dec;
	uint16_t peer;
	uint64_t channel_id;
	bool accepted;
	bool closed;
	uint32_t close_reason;
	bool bye;
	char bye_reason[CK_BYE_REASON_MAX + 1];
};

/* One whole frame from lib's encoder, or -errno. */
static int fp_send(struct fp_session *s, const struct ck_msg *msg)
{
	uint8_t *buf;
	size_t len;
	int r = ck_frame_encode(msg, &buf, &len);

	if (r < 0)
		return r;
	/* Blocking for the write only: cokeeperd drains our ring from its event loop. */
	s->ctrl->blocking = 1;
	r = libxenvchan_send(s->ctrl, buf, len) == (int)len ? 0 : -EIO;
	s->ctrl->blocking = 0;
	free(buf);
	return r;
}

static int fp_on_msg(struct ck_msg *msg, void *userdata)
{
	struct fp_session *s = userdata;
	struct ck_msg ack = { .type = CK_MSG_ACK };

	switch (msg->type) {
	case CK_MSG_SNAPSHOT:
	case CK_MSG_DELTA:
		/* Acked as an agent would, once whole, so cokeeperd sees a healthy member. */
		if (msg->chunk + 1 < msg->chunks)
			return 0;
		if (msg->type == CK_MSG_SNAPSHOT)
			ack.ack = (struct ck_ack){ msg->snapshot.epoch, msg->snapshot.gen };
		else
			ack.ack = (struct ck_ack){ msg->delta.epoch, msg->delta.new_gen };
		return fp_send(s, &ack);
	case CK_MSG_FASTPATH_ACCEPT:
		if (msg->fastpath_accept.peer_domid == s->peer &&
		    msg->fastpath_accept.channel_id == s->channel_id)
			s->accepted = true;
		return 0;
	case CK_MSG_FASTPATH_CLOSE:
		/* Ours, or id 0: "whatever channel exists" between the peer and us. */
		if (msg->fastpath_close.peer_domid == s->peer &&
		    (msg->fastpath_close.channel_id == s->channel_id ||
		     !msg->fastpath_close.channel_id)) {
			s->closed = true;
			s->close_reason = msg->fastpath_close.reason;
		}
		return 0;
	case CK_MSG_BYE:
		s->bye = true;
		snprintf(s->bye_reason, sizeof(s->bye_reason), "%s", msg->bye.reason);
		return -ECONNRESET;
	default:
		/*
		 * Offers from lower domids go unanswered: their modules time out and back off,
		 * as they do with any guest that runs no fast path module.
		 */
		return 0;
	}
}

/*
 * Reads and handles what cokeeperd sends until done(s) or deadline: 0 when done(s), -ETIMEDOUT,
 * -EINTR after SIGTERM or SIGINT (when the mode catches them), or a negative errno when the
 * session ended.
 */
static int fp_pump(struct fp_session *s, uint64_t deadline, bool (*done)(const struct fp_session *))
{
	struct pollfd pfd = { .fd = libxenvchan_fd_for_select(s->ctrl), .events = POLLIN };
	struct ck_error err = { 0 };
	uint8_t buf[4096];
	int r, n;

	for (;;) {
		while (libxenvchan_data_ready(s->ctrl) > 0) {
			n = libxenvchan_read(s->ctrl, buf, sizeof(buf));
			if (n <= 0)
				break;
			r = ck_frame_decoder_feed(s->dec, buf, (size_t)n, fp_on_msg, s, &err);
			if (r < 0)
				return r;
		}
		if (done(s))
			return 0;
		if (!libxenvchan_is_open(s->ctrl))
			return -ECONNRESET;
		if (stop_flood)
			return -EINTR;
		if (ck_now_usec() >= deadline)
			return -ETIMEDOUT;
		/* At most 100 ms, so a lost event costs a little time, never the verdict. */
		if (poll(&pfd, 1, 100) > 0)
			libxenvchan_wait(s->ctrl);
	}
}

static bool fp_accepted_or_closed(const struct fp_session *s)
{
	return s->accepted || s->closed;
}

static bool fp_closed(const struct fp_session *s)
{
	return s->closed;
}

static void fp_session_error(const struct fp_session *s, const char *what, int r)
{
	if (s->bye)
		printf("EVIL %s: cokeeperd said bye while %s: %s\n", s->mode, what, s->bye_reason);
	else
		printf("EVIL %s: %s: %s\n", s->mode, what, strerror(-r));
}

/* A hostile offerer's hold on its channel: what an honest cokeeper-fp.ko offerer holds. */
struct fp_offerer {
	struct fp_session s;
	struct xs_handle *xs;
	xengntshr_handle *xgs;
	xenevtchn_handle *xce;
	xenevtchn_port_or_error_t port;
	uint32_t grefs[EVIL_FP_PAGES];
	uint8_t *mem;			/* the control page, then both rings */
	void *ring[EVIL_FP_RING_PAGES];	/* the offerer -> acceptor ring's pages */
};

static struct ckfp_ctrl *fp_ctrl(const struct fp_offerer *o)
{
	return (struct ckfp_ctrl *)o->mem;
}

/* Gives everything back; the grants outlive the channel if the peer still maps them. */
static void fp_offerer_close(struct fp_offerer *o)
{
	if (o->port >= 0)
		xenevtchn_unbind(o->xce, (evtchn_port_t)o->port);
	if (o->xce)
		xenevtchn_close(o->xce);
	if (o->mem)
		xengntshr_unshare(o->xgs, o->mem, EVIL_FP_PAGES);
	if (o->xgs)
		xengntshr_close(o->xgs);
	ck_frame_decoder_free(o->s.dec);
	if (o->s.ctrl)
		libxenvchan_close(o->s.ctrl);
	if (o->xs)
		xs_close(o->xs);
}

/*
 * Everything an honest cokeeper-fp.ko offerer does, from userspace: a Hello on cokeeperd's
 * channel that announces the fast path, grants of 1 + 2 * 64 pages and an unbound port to the
 * peer (as ckfp_shm_offer), the control page written honestly, and a FastpathOffer; then waits
 * up to 30 s for the peer's answer.  0 once the peer accepted; otherwise ck-evil's exit status
 * (1: the peer closed the channel before accepting it, 2: no channel could be set up), a line
 * printed, and fp_offerer_close() still to be called.
 */
static int fp_offer(struct fp_offerer *o, const char *mode, const char *peer_arg)
{
	struct fp_session *s = &o->s;
	unsigned int domid;
	struct ck_msg msg;
	uint64_t peer;
	int r;

	o->s.mode = mode;
	o->port = -1;
	if (ck_parse_uint(peer_arg, 1, CK_DOMID_LIMIT - 1, &peer) < 0) {
		fprintf(stderr, "ck-evil %s: PEER_DOMID must be 1..%u\n", mode, CK_DOMID_LIMIT - 1);
		return 2;
	}
	s->peer = (uint16_t)peer;
	s->ctrl = channel_open(mode, &o->xs, &domid);
	if (!s->ctrl)
		return 2;
	s->ctrl->blocking = 0;
	/* cokeeperd relays an Offer only from the lower domid to the higher. */
	if (domid >= peer) {
		printf("EVIL %s: our domid %u is not lower than the peer's %" PRIu64
		       ": only the lower domid offers\n", mode, domid, peer);
		return 2;
	}
	r = ck_frame_decoder_new(&s->dec);
	if (r < 0) {
		printf("EVIL %s: no decoder: %s\n", mode, strerror(-r));
		return 2;
	}
	/* Announces the fast path as an honest agent does: cokeeperd relays only then. */
	msg = (struct ck_msg){ .type = CK_MSG_HELLO,
		.hello = { .domid = (uint16_t)domid, .version = CK_PROTOCOL_VERSION,
			   .fastpath_version = CK_FASTPATH_VERSION } };
	r = fp_send(s, &msg);
	if (r < 0) {
		printf("EVIL %s: cannot send our Hello: %s\n", mode, strerror(-r));
		return 2;
	}

	o->xgs = xengntshr_open(NULL, 0);
	if (!o->xgs) {
		printf("EVIL %s: cannot open gntalloc: %s\n", mode, strerror(errno));
		return 2;
	}
	o->mem = xengntshr_share_pages(o->xgs, s->peer, EVIL_FP_PAGES, o->grefs, 1);
	if (!o->mem) {
		printf("EVIL %s: cannot grant %u pages to domid %u: %s\n", mode, EVIL_FP_PAGES,
		       s->peer, strerror(errno));
		return 2;
	}
	evil_fp_ctrl_init(fp_ctrl(o));
	for (unsigned int i = 0; i < EVIL_FP_RING_PAGES; i++)
		o->ring[i] = o->mem + (size_t)(1 + i) * CKFP_PAGE_SIZE;
	o->xce = xenevtchn_open(NULL, 0);
	if (!o->xce) {
		printf("EVIL %s: cannot open evtchn: %s\n", mode, strerror(errno));
		return 2;
	}
	o->port = xenevtchn_bind_unbound_port(o->xce, s->peer);
	if (o->port < 0) {
		printf("EVIL %s: cannot allocate a port for domid %u: %s\n", mode, s->peer,
		       strerror(errno));
		return 2;
	}

	do {
		if (getrandom(&s->channel_id, sizeof(s->channel_id), 0) != sizeof(s->channel_id)) {
			printf("EVIL %s: getrandom: %s\n", mode, strerror(errno));
			return 2;
		}
	} while (!s->channel_id);	/* 0 is a Close's "whatever channel" */
	evil_fp_offer(&msg, s->peer, s->channel_id, (uint32_t)o->port, o->grefs);
	r = fp_send(s, &msg);
	if (r < 0) {
		printf("EVIL %s: cannot send the offer: %s\n", mode, strerror(-r));
		return 2;
	}
	r = fp_pump(s, ck_now_usec() + 30000000, fp_accepted_or_closed);
	if (r < 0) {
		fp_session_error(s, "waiting for the accept", r);
		return 2;
	}
	if (s->closed) {
		printf("EVIL %s: FAIL, domid %u closed channel %" PRIx64 " before accepting it, "
		       "reason %u\n", mode, s->peer, s->channel_id, s->close_reason);
		return 1;
	}
	return 0;
}

/* An offerer that breaks its own ring once the peer has mapped it. */
static int fastpath_garbage(const char *peer_arg, const char *kind_arg)
{
	struct fp_offerer o = { 0 };
	struct fp_session *s = &o.s;
	enum evil_fp_kind kind;
	int r, ret;

	if (evil_fp_kind_parse(kind_arg, &kind) < 0) {
		fprintf(stderr, "usage: ck-evil fastpath-garbage PEER_DOMID [prod|len|flags]\n");
		return 2;
	}
	ret = fp_offer(&o, "fastpath-garbage", peer_arg);
	if (ret)
		goto out;
	ret = 2;
	evil_fp_break(fp_ctrl(&o), o.ring, kind);
	if (xenevtchn_notify(o.xce, (evtchn_port_t)o.port) < 0) {
		printf("EVIL fastpath-garbage: cannot notify domid %u: %s\n", s->peer,
		       strerror(errno));
		goto out;
	}
	r = fp_pump(s, ck_now_usec() + 30000000, fp_closed);
	if (r == -ETIMEDOUT) {
		printf("EVIL fastpath-garbage: FAIL, channel %" PRIx64 " to domid %u still open "
		       "30 s after the garbage (%s in band)\n", s->channel_id, s->peer,
		       le32_to_cpu(READ_ONCE(fp_ctrl(&o)->by_acceptor.closing)) ?
		       "closing" : "not closing");
		ret = 1;
		goto out;
	}
	if (r < 0) {
		fp_session_error(s, "waiting for the close", r);
		goto out;
	}
	if (s->close_reason == CKFP_CLOSE_BROKEN) {
		printf("EVIL fastpath-garbage: channel %" PRIx64 " to domid %u closed by the peer, "
		       "reason %u\n", s->channel_id, s->peer, s->close_reason);
		ret = 0;
	} else {
		printf("EVIL fastpath-garbage: FAIL, channel %" PRIx64 " to domid %u closed by the "
		       "peer, reason %u, not %u (broken)\n", s->channel_id, s->peer, s->close_reason,
		       CKFP_CLOSE_BROKEN);
		ret = 1;
	}
out:
	fp_offerer_close(&o);
	return ret;
}

/*
 * An offerer that never reads what the peer sends it: its consumer index stays where it
 * began, and the peer's must see that and close the channel (CKFP_CLOSE_TIMEOUT) once it has
 * left data unread for its stall_timeout_ms.  The mapping stays until then, SECONDS, or a
 * SIGTERM: the peer's traffic to us is what stalls, so someone must send it some.
 */
static int fastpath_stall(const char *peer_arg, unsigned int seconds)
{
	struct fp_offerer o = { 0 };
	struct fp_session *s = &o.s;
	uint64_t t0;
	uint32_t unread;
	int r, ret;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* the lab reads the first line while we wait */
	ret = fp_offer(&o, "fastpath-stall", peer_arg);
	if (ret)
		goto out;
	printf("EVIL fastpath-stall: channel %" PRIx64 " to domid %u accepted, not reading it "
	       "for at most %u s\n", s->channel_id, s->peer, seconds);
	t0 = ck_now_usec();
	r = fp_pump(s, t0 + (uint64_t)seconds * 1000000, fp_closed);
	unread = evil_fp_unread(fp_ctrl(&o));
	if (r == 0 && s->close_reason == CKFP_CLOSE_TIMEOUT) {
		printf("EVIL fastpath-stall: channel %" PRIx64 " to domid %u closed by the peer "
		       "after %.1f s, reason %u (timeout), %" PRIu32 " bytes left unread\n",
		       s->channel_id, s->peer, (ck_now_usec() - t0) / 1e6, s->close_reason, unread);
		ret = 0;
	} else if (r == 0) {
		printf("EVIL fastpath-stall: FAIL, channel %" PRIx64 " to domid %u closed by the "
		       "peer, reason %u, not %u (timeout), %" PRIu32 " bytes left unread\n",
		       s->channel_id, s->peer, s->close_reason, CKFP_CLOSE_TIMEOUT, unread);
		ret = 1;
	} else if (r == -ETIMEDOUT || r == -EINTR) {
		/* Only a peer that sent us something has anything to notice. */
		printf("EVIL fastpath-stall: %schannel %" PRIx64 " to domid %u still open after "
		       "%.1f s, %" PRIu32 " bytes left unread\n", unread ? "FAIL, " : "",
		       s->channel_id, s->peer, (ck_now_usec() - t0) / 1e6, unread);
		ret = unread ? 1 : 2;
	} else {
		fp_session_error(s, "waiting for the close", r);
		ret = 2;
	}
out:
	fp_offerer_close(&o);
	return ret;
}

int main(int argc, char **argv)
{
	uint64_t seconds = 60;

	if (argc == 2 && !strcmp(argv[1], "vchan-garbage"))
		return vchan_garbage();
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "hello-flood") &&
	    (argc == 2 || ck_parse_uint(argv[2], 0, UINT_MAX, &seconds) == 0))
		return hello_flood((unsigned int)seconds);
	if (argc == 2 && !strcmp(argv[1], "netlink-unpriv"))
		return netlink_unpriv();
	if (argc == 2 && !strcmp(argv[1], "netlink-malformed"))
		return netlink_malformed();
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "fastpath-garbage"))
		return fastpath_garbage(argv[2], argc == 4 ? argv[3] : NULL);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "fastpath-stall") &&
	    (argc == 3 || ck_parse_uint(argv[3], 1, UINT_MAX, &seconds) == 0))
		return fastpath_stall(argv[2], (unsigned int)seconds);
	fprintf(stderr, "usage: ck-evil vchan-garbage|hello-flood [SECONDS]|netlink-unpriv|"
		"netlink-malformed|fastpath-garbage PEER_DOMID [prod|len|flags]|"
		"fastpath-stall PEER_DOMID [SECONDS]\n");
	return 2;
}
