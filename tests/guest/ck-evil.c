// SPDX-License-Identifier: GPL-2.0-only
/*
 * ck-evil: a misbehaving guest, for the lab (runs in a domU).  Each mode prints one line and
 * exits 0 when CoKeeper defended itself as it should:
 *   vchan-garbage      connect to cokeeperd's channel (the agent must be stopped) and send
 *                      bytes that are not a frame: cokeeperd must close the channel
 *   netlink-unpriv     as uid 65534, try to write the kernel table: -EPERM
 *   netlink-malformed  as root, an unknown flag bit: -EINVAL, and a 5-byte MAC: -ERANGE,
 *                      each with the kernel's extended-ACK message
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxenvchan.h>
#include <xenstore.h>

#include "clock.h"
#include "genl.h"
#include "linux/cokeeper.h"

static int vchan_garbage(void)
{
	static const unsigned char junk[] = { 0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff };
	struct xs_handle *xs = xs_open(0);
	struct libxenvchan *ctrl;
	unsigned int len;
	char *domid, path[64];
	uint64_t deadline;

	if (!xs || !(domid = xs_read(xs, XBT_NULL, "domid", &len))) {
		printf("EVIL vchan-garbage: cannot read our domid\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/local/domain/%s/data/cokeeper-vchan", domid);
	free(domid);
	ctrl = libxenvchan_client_init(NULL, 0, path);
	if (!ctrl) {
		printf("EVIL vchan-garbage: cannot connect to %s: %s\n", path, strerror(errno));
		return 2;
	}
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
	if (argc == 2 && !strcmp(argv[1], "netlink-unpriv"))
		return netlink_unpriv();
	if (argc == 2 && !strcmp(argv[1], "netlink-malformed"))
		return netlink_malformed();
	fprintf(stderr, "usage: ck-evil vchan-garbage|netlink-unpriv|netlink-malformed\n");
	return 2;
}
