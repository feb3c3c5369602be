// SPDX-License-Identifier: GPL-2.0-only
/*
 * genl-probe: checks cokeeper.ko's generic netlink family from userspace with libnl-3, as
 * include/uapi/linux/cokeeper.h describes it.  Prints one "PASS name", "FAIL name: why" or
 * "SKIP name: why" line per check; exits 0 only if none failed.
 *
 * Runs as root on a machine where the module is loaded and the table may be overwritten:
 * the QEMU harness (tests/kmod/run.sh), which puts 10.77.0.1 and fd00:77::1 on lo and, for
 * the mark check, dummy0 (10.78.0.1/24) plus "fwmark 0x77 -> table 77 -> dummy1".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <netlink/genl/ctrl.h>

#include "probe-nl.h"

static int failures;
static struct nl_sock *sk;
static struct member ms[3];	/* the table the checks work on */
static struct reply ev;		/* the last notification */

static void result(const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s", ok ? "PASS" : "FAIL", name);
	if (!ok) {
		failures++;
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
}

static void build_table(void)
{
	struct nic *n;

	/* 10.77.1.1 learned, fd00:77::1 claimed; ms[1] and ms[2] send no SOURCES at all. */
	static const uint8_t web_sources[] = { COKEEPER_ADDR_TOOLSTACK, COKEEPER_ADDR_LEARNED,
					       COKEEPER_ADDR_CLAIMED };

	make_member(&ms[0], 1, "web", COKEEPER_STATE_RUNNING);
	n = add_nic(&ms[0], 1);
	add4(n, "10.77.0.1");
	add4(n, "10.77.1.1");
	add6(n, "fd00:77::1");
	set_sources(n, web_sources, sizeof(web_sources));
	n = add_nic(&ms[0], 2);
	add4(n, "10.78.0.2");
	make_member(&ms[1], 2, "db", COKEEPER_STATE_RUNNING);
	n = add_nic(&ms[1], 1);
	add4(n, "10.77.0.2");
	add6(n, "fd00:77::2");
	add6(n, "fd00:77::22");
	make_member(&ms[2], 3, "leaving", COKEEPER_STATE_MIGRATING_OUT);
}

static int status(void)
{
	return simple(sk, COKEEPER_CMD_STATUS, 0);
}

static void check_eperm(void)
{
	int ws, code;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct nl_sock *u;
		int st, set;

		if (setuid(65534))
			_exit(1);
		u = open_sock();	/* after setuid: the kernel checks the opener too */
		st = simple(u, COKEEPER_CMD_STATUS, 0);
		set = member_set(u, &ms[0], 0, 0);
		_exit(st ? 2 : set == -EPERM ? 0 : 100 + (-set & 0x7f));
	}
	waitpid(pid, &ws, 0);
	code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	result("unprivileged-write-eperm", code == 0,
	       code == 2 ? "STATUS (open) failed for uid 65534" :
	       code >= 100 ? "MEMBER_SET as uid 65534 gave errno %d, not EPERM" : "child status %d",
	       code >= 100 ? code - 100 : code);
}

/* A MEMBER_SET whose member the caller finishes: returns the open member nest. */
static struct nl_msg *raw_set(struct nlattr **nest, uint32_t domid)
{
	struct nl_msg *msg = new_msg(COKEEPER_CMD_MEMBER_SET, 0);

	*nest = nla_nest_start(msg, COKEEPER_A_MEMBER);
	nla_put_u32(msg, COKEEPER_MEMBER_A_DOMID, domid);
	nla_put_u8(msg, COKEEPER_MEMBER_A_STATE, COKEEPER_STATE_RUNNING);
	return msg;
}

/* need_ext: the error must carry an extack message. */
static void expect_error(const char *name, struct nl_msg *msg, int want, int alt, bool need_ext)
{
	int err = request(sk, msg);

	result(name, (err == want || err == alt) && (r.ext[0] || !need_ext),
	       "got %d (%s), extack \"%s\"", err, strerror(-err), r.ext);
	printf("     %s: %s, extack \"%s\"\n", name, strerror(-err), r.ext);
}

/* SOURCES: one known source per address, or the member is refused. */
static void check_bad_sources(void)
{
	static const uint8_t two[] = { COKEEPER_ADDR_LEARNED, COKEEPER_ADDR_CLAIMED };
	static const uint8_t unknown[] = { COKEEPER_ADDR_LEARNED, COKEEPER_ADDR_SOURCE_MAX + 1,
					   COKEEPER_ADDR_TOOLSTACK };
	struct member m = ms[0];
	struct nl_msg *msg;

	set_sources(&m.nics[0], two, sizeof(two));	/* three addresses */
	msg = new_msg(COKEEPER_CMD_MEMBER_SET, 0);
	put_member(msg, COKEEPER_A_MEMBER, &m, 6);
	expect_error("sources-fewer-than-addresses", msg, -EINVAL, -EINVAL, true);

	set_sources(&m.nics[1], two, sizeof(two));	/* one address */
	m.nics[0] = ms[0].nics[0];
	msg = new_msg(COKEEPER_CMD_MEMBER_SET, 0);
	put_member(msg, COKEEPER_A_MEMBER, &m, 6);
	expect_error("sources-more-than-addresses", msg, -EINVAL, -EINVAL, true);

	m.nics[1] = ms[0].nics[1];
	set_sources(&m.nics[0], unknown, sizeof(unknown));
	msg = new_msg(COKEEPER_CMD_MEMBER_SET, 0);
	put_member(msg, COKEEPER_A_MEMBER, &m, 6);
	expect_error("sources-unknown-value", msg, -EINVAL, -EINVAL, true);

	/* In a replace, the whole table is refused. */
	msg = new_msg(COKEEPER_CMD_TABLE_REPLACE, 0);
	put_gen(msg, EPOCH, 9);
	{
		struct nlattr *members = nla_nest_start(msg, COKEEPER_A_MEMBERS);

		put_member(msg, COKEEPER_A_MEMBER, &ms[1], 6);
		put_member(msg, COKEEPER_A_MEMBER, &m, 6);
		nla_nest_end(msg, members);
	}
	expect_error("replace-with-bad-sources", msg, -EINVAL, -EINVAL, true);
}

static void check_malformed(void)
{
	static const uint8_t uuid[16] = { 1 };
	struct nl_msg *msg;
	struct nlattr *nest;

	/* The uapi: a wrong length is -EINVAL, or -ERANGE from an exact-length policy. */
	msg = new_msg(COKEEPER_CMD_MEMBER_SET, 0);
	put_member(msg, COKEEPER_A_MEMBER, &ms[0], 5);
	expect_error("malformed-mac-5-bytes", msg, -EINVAL, -ERANGE, true);

	msg = new_msg(COKEEPER_CMD_MEMBER_SET, 0);
	put_member(msg, COKEEPER_A_MEMBER, &ms[0], 6);
	nla_put_u32(msg, COKEEPER_A_FLAGS, 1U << 7);
	expect_error("unknown-flags-bit", msg, -EINVAL, -EINVAL, true);

	msg = new_msg(COKEEPER_CMD_STATUS, 0);
	nla_put_u32(msg, COKEEPER_A_DOMID, 1);
	expect_error("attribute-the-command-does-not-take", msg, -EINVAL, -EINVAL, true);

	/* Linux 6.1's genetlink gives a dump's start callback no extack to write to. */
	msg = new_msg(COKEEPER_CMD_GET, NLM_F_DUMP);
	nla_put_u32(msg, COKEEPER_A_DOMID, 1);
	expect_error("dump-takes-no-attributes", msg, -EINVAL, -EINVAL, false);

	msg = raw_set(&nest, 0x7ff0);
	nla_put(msg, COKEEPER_MEMBER_A_UUID, 16, uuid);
	nla_put_string(msg, COKEEPER_MEMBER_A_NAME, "x");
	nla_nest_end(msg, nest);
	expect_error("domid-out-of-range", msg, -ERANGE, -EINVAL, true);

	msg = raw_set(&nest, 9);
	nla_put(msg, COKEEPER_MEMBER_A_UUID, 16, uuid);
	nla_put_string(msg, COKEEPER_MEMBER_A_NAME, "bad\tname");
	nla_nest_end(msg, nest);
	expect_error("unprintable-name", msg, -EINVAL, -EINVAL, true);

	msg = raw_set(&nest, 9);
	nla_put_string(msg, COKEEPER_MEMBER_A_NAME, "no-uuid");
	nla_nest_end(msg, nest);
	expect_error("missing-uuid", msg, -EINVAL, -EINVAL, true);

	msg = raw_set(&nest, 9);
	nla_put(msg, COKEEPER_MEMBER_A_UUID, 16, uuid);
	nla_put_string(msg, COKEEPER_MEMBER_A_NAME, "x");
	nla_put_u64(msg, COKEEPER_MEMBER_A_TX_PACKETS, 1);
	nla_nest_end(msg, nest);
	expect_error("kernel-only-attribute", msg, -EINVAL, -EINVAL, true);

	check_bad_sources();
}

static const struct member *find(const struct reply *rp, uint32_t domid)
{
	for (int i = 0; i < rp->n; i++)
		if (rp->m[i].domid == domid)
			return &rp->m[i];
	return NULL;
}

static void check_replace_dump_status(void)
{
	const struct member *m;
	int err, i, ok;

	err = replace(sk, ms, 3, 10);
	result("table-replace", err == 0, "%s: %s", strerror(-err), r.ext);
	err = simple(sk, COKEEPER_CMD_GET, NLM_F_DUMP);
	ok = !err && r.n == 3 && r.have_gen && r.epoch == EPOCH && r.gen == 10 && !r.intr;
	for (i = 0; ok && i < 3; i++)
		ok = (m = find(&r, ms[i].domid)) && same(m, &ms[i]);
	result("dump-equals-replace", ok, "err %d, %d members, gen %d (%llu, %llu), intr %d", err,
	       r.n, r.have_gen, (unsigned long long)r.epoch, (unsigned long long)r.gen, r.intr);
	err = status();
	result("status", !err && r.epoch == EPOCH && r.gen == 10 && r.count == 3 &&
	       r.max_entries >= 3, "err %d, (%llu, %llu), count %u, max_entries %u", err,
	       (unsigned long long)r.epoch, (unsigned long long)r.gen, r.count, r.max_entries);
}

static void check_estale(void)
{
	struct nl_msg *msg;
	int e1, e2, e3, e4;

	e1 = member_set(sk, &ms[1], EPOCH + 1, 11);
	msg = new_msg(COKEEPER_CMD_MEMBER_DEL, 0);
	nla_put_u32(msg, COKEEPER_A_DOMID, 2);
	put_gen(msg, EPOCH + 1, 11);
	e2 = request(sk, msg);
	result("foreign-epoch-estale", e1 == -ESTALE && e2 == -ESTALE, "set %d, del %d", e1, e2);

	e3 = member_set(sk, &ms[1], EPOCH, 11);
	e4 = status();
	result("own-epoch-sets-gen", !e3 && !e4 && r.gen == 11 && r.count == 3,
	       "set %d, gen %llu", e3, (unsigned long long)r.gen);

	/* Deleting an absent domid is an idempotent delta: fine, and it moves gen. */
	msg = new_msg(COKEEPER_CMD_MEMBER_DEL, 0);
	nla_put_u32(msg, COKEEPER_A_DOMID, 99);
	put_gen(msg, EPOCH, 12);
	e3 = request(sk, msg);
	e4 = status();
	result("delete-absent-is-ok", !e3 && !e4 && r.gen == 12, "del %d, gen %llu", e3,
	       (unsigned long long)r.gen);
}

static void check_get(void)
{
	struct in_addr v4;
	struct in6_addr v6;
	uint32_t domid = 3;
	int err;

	inet_pton(AF_INET, "10.77.1.1", &v4);
	err = get_by(sk, COKEEPER_A_IPV4, &v4, 4);
	result("get-by-ipv4", !err && r.n == 1 && same(&r.m[0], &ms[0]), "err %d (%s)", err,
	       r.ext);
	/* As written: web's SOURCES back, none for db's NIC nor for web's second. */
	result("get-keeps-sources", !err && r.n == 1 && r.m[0].nics[0].n_src == 3 &&
	       r.m[0].nics[0].src[1] == COKEEPER_ADDR_LEARNED &&
	       r.m[0].nics[0].src[2] == COKEEPER_ADDR_CLAIMED && r.m[0].nics[1].n_src == 0,
	       "err %d, SOURCES of %d and %d bytes", err, r.m[0].nics[0].n_src,
	       r.m[0].nics[1].n_src);
	inet_pton(AF_INET6, "fd00:77::22", &v6);
	err = get_by(sk, COKEEPER_A_IPV6, &v6, 16);
	result("get-by-ipv6", !err && r.n == 1 && same(&r.m[0], &ms[1]), "err %d (%s)", err,
	       r.ext);
	err = get_by(sk, COKEEPER_A_MAC, ms[0].nics[1].mac, 6);
	result("get-by-mac", !err && r.n == 1 && same(&r.m[0], &ms[0]), "err %d (%s)", err,
	       r.ext);
	err = get_by(sk, COKEEPER_A_DOMID, &domid, 4);
	result("get-by-domid", !err && r.n == 1 && same(&r.m[0], &ms[2]), "err %d (%s)", err,
	       r.ext);
	inet_pton(AF_INET, "192.0.2.99", &v4);
	err = get_by(sk, COKEEPER_A_IPV4, &v4, 4);
	result("get-unknown-enoent", err == -ENOENT, "err %d", err);
}

static void check_eexist(void)
{
	struct member m;
	int err;

	make_member(&m, 50, "thief", COKEEPER_STATE_RUNNING);
	add4(add_nic(&m, 9), "10.77.0.2");
	err = member_set(sk, &m, 0, 0);
	result("address-of-another-member-eexist", err == -EEXIST, "err %d (%s)", err, r.ext);
}

/* Subscribes l to "events" and checks a set, a delete and a replace are announced. */
static void check_events(struct nl_sock *l, int grp)
{
	struct member m = ms[1];
	struct nl_msg *msg;
	int err;

	nl_socket_disable_seq_check(l);
	err = nl_socket_add_membership(l, grp);
	result("events-subscribe", !err, "%s", nl_geterror(err));

	snprintf(m.name, sizeof(m.name), "db-renamed");
	err = member_set(sk, &m, EPOCH, 13);
	receive_event(l, &ev, 2000);
	result("event-member-set", !err && ev.cmd == COKEEPER_CMD_MEMBER_SET && ev.n == 1 &&
	       same(&ev.m[0], &m) && ev.have_gen && ev.gen == 13,
	       "set %d; event cmd %u, %d members, gen %llu", err, ev.cmd, ev.n,
	       (unsigned long long)ev.gen);

	msg = new_msg(COKEEPER_CMD_MEMBER_DEL, 0);
	nla_put_u32(msg, COKEEPER_A_DOMID, 3);
	err = request(sk, msg);
	receive_event(l, &ev, 2000);
	result("event-member-del", !err && ev.cmd == COKEEPER_CMD_MEMBER_DEL && ev.domid == 3,
	       "del %d; event cmd %u domid %u", err, ev.cmd, ev.domid);

	/* The fast path's early warning: running -> migrating-out. */
	m = ms[0];
	m.state = COKEEPER_STATE_MIGRATING_OUT;
	err = member_set(sk, &m, 0, 0);
	receive_event(l, &ev, 2000);
	/* web's whole member, its SOURCES included: notifications carry them too. */
	result("event-migrating-out", !err && ev.cmd == COKEEPER_CMD_MEMBER_SET && ev.n == 1 &&
	       same(&ev.m[0], &m) && ev.m[0].nics[0].n_src == 3,
	       "set %d; event cmd %u, %d members", err, ev.cmd, ev.n);

	err = replace(sk, ms, 3, 14);
	receive_event(l, &ev, 2000);
	result("event-table-replace", !err && ev.cmd == COKEEPER_CMD_TABLE_REPLACE &&
	       ev.gen == 14 && ev.count == 3, "replace %d; event cmd %u gen %llu count %u", err,
	       ev.cmd, (unsigned long long)ev.gen, ev.count);
}

static int tx_of(const char *v4, uint64_t *packets, uint64_t *bytes)
{
	struct in_addr a;
	int err;

	inet_pton(AF_INET, v4, &a);
	err = get_by(sk, COKEEPER_A_IPV4, &a, 4);
	if (!err && r.n == 1) {
		*packets = r.m[0].tx_packets;
		*bytes = r.m[0].tx_bytes;
	}
	return err;
}

static void check_ping(const char *name, const char *cmd)
{
	uint64_t p0 = 0, b0 = 0, p1 = 0, b1 = 0;
	int e0, e1, ping;

	e0 = tx_of("10.77.0.1", &p0, &b0);
	ping = system(cmd);
	e1 = tx_of("10.77.0.1", &p1, &b1);
	result(name, !e0 && !e1 && ping == 0 && p1 >= p0 + 3 && b1 > b0,
	       "ping %d; TX_PACKETS %llu -> %llu, TX_BYTES %llu -> %llu", ping,
	       (unsigned long long)p0, (unsigned long long)p1, (unsigned long long)b0,
	       (unsigned long long)b1);
}

static long long read_counter(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* With mark=0x77, 10.78.0.2 (routed to dummy0) must leave through dummy1 (table 77). */
static void check_mark(void)
{
	static const char *d0 = "/sys/class/net/dummy0/statistics/tx_packets";
	static const char *d1 = "/sys/class/net/dummy1/statistics/tx_packets";
	long long mark = read_counter("/sys/module/cokeeper/parameters/mark");
	long long a0 = read_counter(d0), a1 = read_counter(d1), z0, z1;

	if (mark <= 0 || a0 < 0 || a1 < 0) {
		printf("SKIP mark-steering: needs mark=0x77 and dummy0/dummy1\n");
		return;
	}
	/* Nobody answers on a dummy link: ping fails, what counts is what it sent. */
	(void)!system("ping -c 3 -i 0.2 -W 1 10.78.0.2 >/dev/null 2>&1");
	z0 = read_counter(d0);
	z1 = read_counter(d1);
	result("mark-steering", z1 >= a1 + 3 && z0 < a0 + 3,
	       "dummy0 tx %lld -> %lld, dummy1 tx %lld -> %lld", a0, z0, a1, z1);
}

/*
 * Dumps with recv() into 4 KiB, so the kernel pages the dump into several skbs.  With
 * change set, a member is rewritten after the first read: later pages must say so.
 */
static void raw_dump(const struct member *change, int *members, int *intr, int *reads)
{
	struct nl_sock *d = open_sock(), *w = change ? open_sock() : NULL;
	struct nl_msg *msg = new_msg(COKEEPER_CMD_GET, NLM_F_DUMP);
	static char buf[4096];
	bool done = false;
	int len;

	*members = *intr = *reads = 0;
	nl_socket_disable_auto_ack(d);
	nl_send_auto(d, msg);
	nlmsg_free(msg);
	while (!done && (len = recv(nl_socket_get_fd(d), buf, sizeof(buf), 0)) > 0) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

		for (; nlmsg_ok(nlh, len); nlh = nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				(*intr)++;
			if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			(*members)++;
		}
		if ((*reads)++ == 0 && w)
			member_set(w, change, 0, 0);
	}
	nl_socket_free(d);
	if (w)
		nl_socket_free(w);
}

static void check_paged_dump(int n)
{
	struct member *big = calloc(n, sizeof(*big));
	int i, err, members, intr, reads;
	char name[16];

	for (i = 0; i < n; i++) {
		struct nic *nic;

		snprintf(name, sizeof(name), "vm%d", i);
		make_member(&big[i], 100 + i, name, COKEEPER_STATE_RUNNING);
		nic = add_nic(&big[i], 7);
		nic->ip4[nic->n4++] = htonl(0x0a500000 + i);
		inet_pton(AF_INET6, "fd00:80::", &nic->ip6[nic->n6]);
		nic->ip6[nic->n6++].s6_addr[15] = (uint8_t)i;
	}
	err = replace(sk, big, n, 20);
	result("replace-max-entries", !err, "%d members: %s (%s)", n, strerror(-err), r.ext);

	raw_dump(NULL, &members, &intr, &reads);
	result("paged-dump-complete", members == n && !intr && reads > 1,
	       "%d of %d members in %d reads, %d flagged", members, n, reads, intr);
	snprintf(big[0].name, sizeof(big[0].name), "changed");
	raw_dump(&big[0], &members, &intr, &reads);
	result("dump-intr-on-change", intr > 0, "%d reads, %d members, none flagged", reads,
	       members);

	big[0].domid = 99;	/* a new domid, with keys of its own */
	big[0].nics[0].mac[5] = 8;
	big[0].nics[0].ip4[0] = htonl(0x0a510000);
	big[0].nics[0].ip6[0].s6_addr[14] = 1;
	err = member_set(sk, &big[0], 0, 0);
	result("member-set-beyond-max-enospc", err == -ENOSPC && r.ext[0], "err %d (%s)", err,
	       r.ext);
	free(big);
}

static void check_replace_too_many(int max)
{
	struct member *big = calloc(max + 1, sizeof(*big));
	int i, err;

	for (i = 0; i <= max; i++)
		make_member(&big[i], 200 + i, "many", COKEEPER_STATE_RUNNING);
	err = replace(sk, big, max + 1, 30);
	i = status();
	result("replace-beyond-max-enospc", err == -ENOSPC && !i && r.count == (uint32_t)max &&
	       r.gen == 20, "err %d; after it count %u gen %llu", err, r.count,
	       (unsigned long long)r.gen);
	free(big);
}

static void check_flush(struct nl_sock *l)
{
	int err = simple(sk, COKEEPER_CMD_FLUSH, 0), st = status();
	bool seen = false;

	result("flush", !err && !st && r.epoch == 0 && r.gen == 0 && r.count == 0,
	       "flush %d, (%llu, %llu) count %u", err, (unsigned long long)r.epoch,
	       (unsigned long long)r.gen, r.count);
	while (!seen && receive_event(l, &ev, 2000) == 0)
		seen = ev.cmd == COKEEPER_CMD_FLUSH;
	result("event-flush", seen, "no FLUSH notification");
}

int main(void)
{
	struct nl_sock *listener;
	int grp, max;

	sk = open_sock();
	family = genl_ctrl_resolve(sk, COKEEPER_GENL_NAME);
	result("resolve-family", family > 0, "%s", nl_geterror(family));
	grp = genl_ctrl_resolve_grp(sk, COKEEPER_GENL_NAME, COKEEPER_GENL_MCGRP_EVENTS);
	result("resolve-events-group", grp > 0, "%s", nl_geterror(grp));
	if (family <= 0 || grp <= 0)
		return 1;
	result("initial-flush", simple(sk, COKEEPER_CMD_FLUSH, 0) == 0, "%s", r.ext);
	build_table();

	check_eperm();
	check_malformed();
	check_replace_dump_status();
	check_estale();
	check_get();
	check_eexist();
	listener = open_sock();
	check_events(listener, grp);
	check_ping("ping-ipv4-tx-counters", "ping -c 3 -i 0.2 -W 2 10.77.0.1 >/dev/null 2>&1");
	check_ping("ping-ipv6-tx-counters", "ping -6 -c 3 -i 0.2 -W 2 fd00:77::1 >/dev/null 2>&1");
	check_mark();

	max = status() ? 0 : (int)r.max_entries;
	if (max > 0 && max <= MAXM) {
		check_paged_dump(max);
		check_replace_too_many(max);
	} else {
		result("max-entries-checks", false, "max_entries %d: load with max_entries <= %d",
		       max, MAXM);
	}
	check_flush(listener);

	nl_socket_free(listener);
	nl_socket_free(sk);
	printf("genl-probe: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
