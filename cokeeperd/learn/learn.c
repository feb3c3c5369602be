// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet socket of learn.h.  One socket for every interface, not one per vif: vifs come
 * and go with guests, and binding to each would race their creation; the name of the
 * interface a frame was seen on is read per frame instead (frames are few: the filter keeps
 * the rest in the kernel).  Outgoing frames are wanted: a DHCP reply reaches a guest as a
 * frame sent out of its vif (PACKET_OUTGOING).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "clock.h"
#include "learn.h"
#include "learn-filter.h"
#include "logging.h"
#include "ratelimit.h"

/* Room for a few hundred DHCP or ARP frames: a burst from many guests booting at once. */
#define LEARN_RCVBUF (256 * 1024)

/*
 * A DHCP reply that a guest sent (a DHCP server, or a forger, in a guest) reaches its client
 * as a frame sent out of the client's vif, like dom0's server's: the socket sees it come in
 * on the sender's port first (a vif, renamed or not, or the tap of an emulated NIC).  Its
 * client's MAC and transaction id are remembered for ROGUE_WINDOW_USEC, and that reply is
 * not learned when it goes out: a guest must not give another guest an address, nor take
 * one from it.  Keyed by the transaction too, so that forging replies to a MAC does not
 * stop the real server's (a renewal's transaction is unicast: no other guest sees it).
 */
#define ROGUE_SLOTS 64
#define ROGUE_WINDOW_USEC (5 * 1000000ull)

struct rogue {
	uint8_t mac[CK_MAC_LEN];
	uint32_t xid;
	uint64_t until;
};

struct learn {
	unsigned int modes;
	struct learn_callbacks cb;
	void *userdata;
	int fd;			/* -1: no socket (learn_new with no event) */
	sd_event_source *io;
	struct learn_counters counters;
	struct ck_ratelimit rl;	/* what a guest can make us log */
	struct rogue rogues[ROGUE_SLOTS];	/* clients of guests' DHCP replies, lately */
	uint64_t (*now)(void);			/* CLOCK_MONOTONIC usec: ck_now_usec */
	uint8_t frame[LEARN_FRAME_MAX];
};

static int parse_decimal(const char *s, unsigned int max_digits, unsigned long *v,
			 const char **end)
{
	unsigned long x = 0;
	unsigned int n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n == max_digits)
			return -EINVAL;
		x = x * 10 + (unsigned long)(s[n] - '0');
	}
	/* One spelling per number: "vif01.0" is no name xl gives. */
	if (n == 0 || (s[0] == '0' && n > 1))
		return -EINVAL;
	*v = x;
	*end = s + n;
	return 0;
}

int learn_vif_domid(const char *ifname, uint16_t *domid)
{
	unsigned long d, devid;
	const char *p;

	if (strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ || strncmp(ifname, "vif", 3) != 0)
		return -EINVAL;
	if (parse_decimal(ifname + 3, 5, &d, &p) < 0 || d >= CK_DOMID_LIMIT || *p != '.')
		return -EINVAL;
	if (parse_decimal(p + 1, 5, &devid, &p) < 0 || (*p && strcmp(p, "-emu") != 0))
		return -EINVAL;
	*domid = (uint16_t)d;
	return 0;
}

static unsigned int mode_of(uint8_t kind)
{
	return kind == LEARN_ARP || kind == LEARN_NDP_NA ? LEARN_MODE_ARP : LEARN_MODE_DHCP;
}

/* A guest sent a DHCP reply (mac, xid): remembered in the slot that expires first. */
static void rogue_note(struct learn *l, const struct learn_event *ev, uint64_t now)
{
	struct rogue *oldest = &l->rogues[0];

	for (unsigned int i = 0; i < ROGUE_SLOTS; i++) {
		if (!memcmp(l->rogues[i].mac, ev->mac, CK_MAC_LEN) && l->rogues[i].xid == ev->xid) {
			oldest = &l->rogues[i];
			break;
		}
		if (l->rogues[i].until < oldest->until)
			oldest = &l->rogues[i];
	}
	memcpy(oldest->mac, ev->mac, CK_MAC_LEN);
	oldest->xid = ev->xid;
	oldest->until = now + ROGUE_WINDOW_USEC;
}

static bool rogue_recent(const struct learn *l, const struct learn_event *ev, uint64_t now)
{
	for (unsigned int i = 0; i < ROGUE_SLOTS; i++)
		if (l->rogues[i].until > now && l->rogues[i].xid == ev->xid &&
		    !memcmp(l->rogues[i].mac, ev->mac, CK_MAC_LEN))
			return true;
	return false;
}

/*
 * A port a guest sends through: a vif however it is named (xen-netback's driver is "vif"),
 * or the tap of an emulated NIC ("tun").  Asked only of ports a DHCP reply came in on.
 */
static bool guest_port(const struct learn *l, const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { .ifr_data = (void *)&info };

	if (l->fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(l->fd, SIOCETHTOOL, &ifr) < 0)
		return false;
	return !strcmp(info.driver, "vif") || !strcmp(info.driver, "tun");
}

static bool is_reply(const struct learn_event *ev)
{
	return ev->kind == LEARN_DHCP_LEASE || ev->kind == LEARN_DHCP_NAK;
}

/* learn_dispatch() less the count of frames, which the socket's reader keeps itself. */
static int dispatch(struct learn *l, const uint8_t *frame, size_t len, const char *ifname,
		    int pkttype, unsigned int flags)
{
	enum learn_dir dir = pkttype == PACKET_OUTGOING ? LEARN_DIR_TO_GUEST : LEARN_DIR_FROM_GUEST;
	struct learn_event ev;
	const char *why;
	uint16_t domid;
	int r;

	bool vif = learn_vif_domid(ifname, &domid) == 0;

	/* A DHCP reply coming in from a guest's port: what it says is not learned. */
	if (dir == LEARN_DIR_FROM_GUEST &&
	    learn_parse(frame, len, LEARN_DIR_TO_GUEST, flags, &ev, &why) == 0 && is_reply(&ev) &&
	    (vif || guest_port(l, ifname))) {
		l->counters.rogue_replies++;
		rogue_note(l, &ev, l->now());
		ck_log_limited(&l->rl, LOG_WARNING, 0, "learn: %s sends DHCP replies (a DHCP server "
			       "or a forger in a guest): what they say is not learned", ifname);
		return -EPERM;
	}
	if (!vif) {
		l->counters.not_vif++;
		return -ENODEV;
	}
	r = learn_parse(frame, len, dir, flags, &ev, &why);
	if (r == 0 && is_reply(&ev) && rogue_recent(l, &ev, l->now())) {
		l->counters.rogue_replies++;
		return -EPERM;
	}
	if (r == -ENOENT || (r == 0 && !(l->modes & mode_of(ev.kind)))) {
		l->counters.ignored++;
		return -ENOENT;
	}
	if (r < 0) {
		if (r == -EBADMSG)
			l->counters.malformed++;
		else
			l->counters.refused++;
		ck_log_limited(&l->rl, LOG_NOTICE, 0, "learn: %s (domid %u): %s frame %s: %s",
			       ifname, domid, dir == LEARN_DIR_TO_GUEST ? "outgoing" : "incoming",
			       r == -EBADMSG ? "malformed" : "refused", why);
		return r;
	}
	switch (ev.kind) {
	case LEARN_DHCP_LEASE:
		l->cb.lease(l->userdata, domid, ev.mac, ev.ipv4, ev.lease_s, ev.server_id);
		break;
	case LEARN_DHCP_NAK:
		l->cb.nak(l->userdata, domid, ev.mac);
		break;
	case LEARN_DHCP_RELEASE:
		l->cb.release(l->userdata, domid, ev.mac, ev.ipv4);
		break;
	case LEARN_ARP:
		l->cb.arp(l->userdata, domid, ev.mac, ev.ipv4);
		break;
	case LEARN_NDP_NA:
		l->cb.na(l->userdata, domid, ev.mac, ev.ipv6);
		break;
	}
	l->counters.events++;
	return 0;
}

void learn_set_clock(struct learn *l, uint64_t (*now)(void))
{
	l->now = now;
}

int learn_dispatch(struct learn *l, const uint8_t *frame, size_t len, const char *ifname,
		   int pkttype, unsigned int flags)
{
	l->counters.frames++;
	return dispatch(l, frame, len, ifname, pkttype, flags);
}

/* The kernel's name for ifindex now: an interface renamed since the frame is rare, and harmless. */
static int ifname_of(int fd, int ifindex, char name[IFNAMSIZ])
{
	struct ifreq ifr = { .ifr_ifindex = ifindex };

	if (ioctl(fd, SIOCGIFNAME, &ifr) < 0)
		return -errno;
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	return 0;
}

/* The frame's checksum flags, from the PACKET_AUXDATA the socket asked for. */
static unsigned int aux_flags(struct msghdr *mh)
{
	struct tpacket_auxdata aux;
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
		    c->cmsg_len < CMSG_LEN(sizeof(aux)))
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		return aux.tp_status & TP_STATUS_CSUMNOTREADY ? LEARN_F_CSUM_PARTIAL : 0;
	}
	return 0;
}

/* One frame: 1 read, 0 none left, or a negative errno. */
static int read_one(struct learn *l)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} ctl;
	struct sockaddr_ll sll = { 0 };
	struct iovec iov = { .iov_base = l->frame, .iov_len = sizeof(l->frame) };
	struct msghdr mh = {
		.msg_name = &sll,
		.msg_namelen = sizeof(sll),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	char name[IFNAMSIZ];
	ssize_t n;

	/* MSG_TRUNC: the frame's length, even when it is longer than what was read. */
	n = recvmsg(l->fd, &mh, MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	l->counters.frames++;
	if ((size_t)n > sizeof(l->frame)) {
		l->counters.truncated++;
		return 1;
	}
	/* Older kernels give less than sizeof(sll): what is read is before sll_addr. */
	if (mh.msg_namelen < offsetof(struct sockaddr_ll, sll_addr) ||
	    ifname_of(l->fd, sll.sll_ifindex, name) < 0) {
		l->counters.not_vif++;	/* gone since */
		return 1;
	}
	(void)dispatch(l, l->frame, (size_t)n, name, sll.sll_pkttype, aux_flags(&mh));
	return 1;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct learn *l = userdata;
	int r = 0;

	/* Level-triggered: what is left after a burst wakes the loop again. */
	for (unsigned int i = 0; i < LEARN_BURST; i++) {
		r = read_one(l);
		if (r <= 0)
			break;
	}
	if (r < 0 && r != -EINTR)
		ck_log_limited(&l->rl, LOG_WARNING, r, "learn: reading the packet socket");
	return 0;
}

static int open_socket(struct learn *l, sd_event *event)
{
	struct sock_filter prog[LEARN_FILTER_MAX];
	struct sock_fprog fprog = { .filter = prog };
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = 0,	/* every interface */
	};
	int fd, r, one = 1, rcvbuf = LEARN_RCVBUF;
	const char *step;

	/* Protocol 0 receives nothing until bind(): no frame is queued before the filter. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "learn: cannot open a packet socket");
	fprog.len = learn_filter_build(prog, l->modes & LEARN_MODE_DHCP, l->modes & LEARN_MODE_ARP,
				       LEARN_FRAME_MAX + 1);
	step = "attaching its filter";
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0)
		goto err_errno;
	step = "setting its receive buffer";
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		goto err_errno;
	step = "asking for PACKET_AUXDATA";
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0)
		goto err_errno;
	step = "binding it";
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto err_errno;
	step = "adding it to the event loop";
	r = sd_event_add_io(event, &l->io, fd, EPOLLIN, on_readable, l);
	if (r < 0)
		goto err;
	l->fd = fd;
	return 0;

err_errno:
	r = -errno;
err:
	log_error_errno(r, "learn: packet socket: %s", step);
	close(fd);
	return r;
}

int learn_new(struct learn **ret, sd_event *event, unsigned int modes,
	      const struct learn_callbacks *cb, void *userdata)
{
	struct learn *l;
	int r;

	if (!modes || (modes & ~LEARN_MODE_F_ALL) ||
	    ((modes & LEARN_MODE_DHCP) && (!cb->lease || !cb->nak || !cb->release)) ||
	    ((modes & LEARN_MODE_ARP) && (!cb->arp || !cb->na))) {
		log_error("learn: modes %#x unknown, none, or missing a callback", modes);
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->modes = modes;
	l->cb = *cb;
	l->userdata = userdata;
	l->fd = -1;
	l->now = ck_now_usec;
	l->rl = (struct ck_ratelimit)CK_RATELIMIT_INIT(10 * 1000000ull, 5);
	if (event) {
		r = open_socket(l, event);
		if (r < 0) {
			free(l);
			return r;
		}
	}
	*ret = l;
	return 0;
}

void learn_free(struct learn *l)
{
	if (!l)
		return;
	sd_event_source_disable_unref(l->io);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

void learn_get_counters(struct learn *l, struct learn_counters *out)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	/* Reading them resets the kernel's counts: they add up here. */
	if (l->fd >= 0 && getsockopt(l->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		l->counters.dropped_by_kernel += st.tp_drops;
	*out = l->counters;
}
