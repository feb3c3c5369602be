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
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxenvchan.h>
#include <xenstore.h>

#include "clock.h"
#include "genl.h"
#include "linux/cokeeper.h"

/* Our domid and a client end of cokeeperd's channel for it, or NULL (and a line printed). */
static struct libxenvchan *channel_open(const char *mode, struct xs_handle **xsp,
					unsigned int *domidp)
{
	struct xs_handle *xs = xs_open(0);
	struct libxenvchan *ctrl;
	unsigned int len;
	char *domid, path[64];

	if (!xs || !(domid = xs_read(xs, XBT_NULL, "domid", &len))) {
		printf("EVIL %s: cannot read our domid\n", mode);
		if (xs)
			xs_close(xs);
		return NULL;
	}
	*domidp = (unsigned int)strtoul(domid, NULL, 10);
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

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "vchan-garbage"))
		return vchan_garbage();
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "hello-flood"))
		return hello_flood(argc == 3 ? (unsigned int)strtoul(argv[2], NULL, 10) : 60);
	if (argc == 2 && !strcmp(argv[1], "netlink-unpriv"))
		return netlink_unpriv();
	if (argc == 2 && !strcmp(argv[1], "netlink-malformed"))
		return netlink_malformed();
	fprintf(stderr, "usage: ck-evil vchan-garbage|hello-flood [SECONDS]|netlink-unpriv|"
		"netlink-malformed\n");
	return 2;
}
