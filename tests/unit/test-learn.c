// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperd/learn/: what surrounds the parser.  The BPF program runs in the kernel on a Unix
 * datagram socket (any user may filter one, unlike a packet socket); the vif names are the
 * ones xl gives and near misses; learn_dispatch() takes frames as the packet socket would
 * hand them over, with their interface and packet type, to recording callbacks.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "learn-filter.h"
#include "learn-frames.h"
#include "learn.h"

#define SNAPLEN (LEARN_FRAME_MAX + 1)

/* A Unix datagram pair whose receiving end, sv[1], runs the filter. */
static void filter_pair(int sv[2], bool dhcp, bool arp)
{
	struct sock_filter prog[LEARN_FILTER_MAX];
	struct sock_fprog fprog = { .filter = prog };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	fprog.len = learn_filter_build(prog, dhcp, arp, SNAPLEN);
	ck_assert_uint_le(fprog.len, LEARN_FILTER_MAX);
	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)), 0);
}

/* How many of the frame's bytes the filter keeps: 0 when it drops the frame. */
static size_t kept(int sv[2], const struct lf *f)
{
	uint8_t byte;
	ssize_t n;

	ck_assert_int_eq(send(sv[0], f->b, f->len, 0), (ssize_t)f->len);
	n = recv(sv[1], &byte, 1, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		ck_assert_int_eq(errno, EAGAIN);
		return 0;
	}
	return (size_t)n;
}

static void close_pair(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* What the filter sees of each kind of frame, in each mode. */
struct filter_case {
	const char *name;
	struct lf f;
	bool dhcp;	/* kept with dhcp on */
	bool arp;	/* kept with arp on */
};

static struct lf *add(struct filter_case *c, size_t *n, const char *name, bool dhcp, bool arp)
{
	c[*n] = (struct filter_case){ .name = name, .dhcp = dhcp, .arp = arp };
	return &c[(*n)++].f;
}

static void ack_with_ipv4_options(struct lf *f, uint16_t vlan, size_t options)
{
	uint8_t msg = 5;

	lf_eth(f, lf_guest_mac, lf_server_mac, vlan, 0x0800);
	lf_ipv4(f, LF_SERVER_IP, LF_GUEST_IP, 17);
	f->b[f->l3] = 0x45 + options / 4;
	lf_zeros(f, options);
	lf_udp(f, 67, 68);
	lf_bootp(f, 2, lf_guest_mac, 0, LF_GUEST_IP);
	lf_option(f, 53, &msg, 1);
	lf_dhcp_end(f);
}

static size_t filter_cases(struct filter_case *c)
{
	size_t n = 0;
	struct lf *f;

	lf_dhcp_ack(add(c, &n, "ack", true, false), 0);
	lf_dhcp_ack(add(c, &n, "tagged ack", true, false), LF_VLAN);
	lf_dhcp_nak(add(c, &n, "nak", true, false));
	lf_dhcp_release(add(c, &n, "release", true, false));
	/* IPv4 options move UDP: the ports are found after them, tagged or not. */
	ack_with_ipv4_options(add(c, &n, "ack behind IPv4 options", true, false), 0, 8);
	ack_with_ipv4_options(add(c, &n, "tagged ack behind IPv4 options", true, false),
			      LF_VLAN, 4);

	f = add(c, &n, "more fragments", false, false);
	lf_dhcp_ack(f, 0);
	lf_set16(f, f->l3 + 6, 0x2000);
	f = add(c, &n, "fragment offset", false, false);
	lf_dhcp_ack(f, 0);
	lf_set16(f, f->l3 + 6, 0x0001);
	f = add(c, &n, "don't fragment", true, false);
	lf_dhcp_ack(f, 0);
	lf_set16(f, f->l3 + 6, 0x4000);
	f = add(c, &n, "TCP", false, false);
	lf_dhcp_ack(f, 0);
	f->b[f->l3 + 9] = 6;
	f = add(c, &n, "67 to 67", false, false);
	lf_dhcp_ack(f, 0);
	lf_set16(f, f->l4 + 2, 67);
	f = add(c, &n, "68 to 68", false, false);
	lf_dhcp_release(f);
	lf_set16(f, f->l4 + 2, 68);
	f = add(c, &n, "DNS to 68", false, false);
	lf_dhcp_ack(f, 0);
	lf_set16(f, f->l4, 53);
	f = add(c, &n, "67 to DNS", false, false);
	lf_dhcp_ack(f, 0);
	lf_set16(f, f->l4 + 2, 53);

	lf_arp_reply(add(c, &n, "ARP", false, true));
	f = add(c, &n, "tagged ARP", false, true);
	lf_eth(f, lf_broadcast, lf_guest_mac, LF_VLAN, 0x0806);
	lf_arp(f, 1, lf_guest_mac, LF_GUEST_IP, lf_broadcast, LF_SERVER_IP);
	lf_na(add(c, &n, "NA", false, true));
	f = add(c, &n, "tagged NA", false, true);
	lf_eth(f, lf_server_mac, lf_guest_mac, LF_VLAN, 0x86dd);
	lf_ipv6(f, lf_guest_ipv6, lf_all_nodes, 58, 255);
	lf_na_header(f, lf_guest_ipv6);
	lf_finish(f);
	f = add(c, &n, "NS", false, false);
	lf_na(f);
	f->b[f->l4] = 135;
	f = add(c, &n, "NA behind a hop-by-hop header", false, false);
	lf_na(f);
	f->b[f->l3 + 6] = 0;
	f = add(c, &n, "UDP over IPv6", false, false);
	lf_na(f);
	f->b[f->l3 + 6] = 17;

	f = add(c, &n, "LLDP", false, false);
	lf_eth(f, lf_broadcast, lf_guest_mac, 0, 0x88cc);
	lf_zeros(f, 46);
	f = add(c, &n, "two tags", false, false);
	lf_eth(f, lf_broadcast, lf_guest_mac, LF_VLAN, 0x8100);
	lf_u16(f, LF_VLAN);
	lf_u16(f, 0x0806);
	lf_arp(f, 1, lf_guest_mac, LF_GUEST_IP, lf_broadcast, LF_SERVER_IP);
	f = add(c, &n, "IPv4 header cut off", false, false);
	lf_eth(f, lf_broadcast, lf_guest_mac, 0, 0x0800);
	lf_zeros(f, 10);
	return n;
}

START_TEST(filter_keeps_what_the_modes_learn_from)
{
	static struct filter_case c[40];
	const bool modes[3][2] = { { true, true }, { true, false }, { false, true } };
	size_t n = filter_cases(c);
	int sv[2];

	ck_assert_uint_le(n, sizeof(c) / sizeof(c[0]));
	for (size_t m = 0; m < 3; m++) {
		filter_pair(sv, modes[m][0], modes[m][1]);
		for (size_t i = 0; i < n; i++) {
			bool want = (modes[m][0] && c[i].dhcp) || (modes[m][1] && c[i].arp);
			size_t got = kept(sv, &c[i].f);

			ck_assert_msg(got == (want ? c[i].f.len : 0),
				      "%s, dhcp %d arp %d: kept %zu of %zu bytes", c[i].name,
				      modes[m][0], modes[m][1], got, c[i].f.len);
		}
		close_pair(sv);
	}
}
END_TEST

/* A jumbo frame is cut to one byte more than the reader's buffer: it shows as truncated. */
START_TEST(filter_cuts_long_frames)
{
	struct lf f;
	int sv[2];

	filter_pair(sv, true, false);
	lf_dhcp_ack(&f, 0);
	lf_zeros(&f, 3000 - f.len);
	ck_assert_uint_eq(kept(sv, &f), SNAPLEN);
	f.len = SNAPLEN - 1;
	ck_assert_uint_eq(kept(sv, &f), SNAPLEN - 1);
	close_pair(sv);
}
END_TEST

START_TEST(vif_names)
{
	static const struct {
		const char *name;
		uint16_t domid;
	} vifs[] = {
		{ "vif1.0", 1 },
		{ "vif0.0", 0 },
		{ "vif12.3", 12 },
		{ "vif5.12-emu", 5 },
		{ "vif32751.0", CK_DOMID_LIMIT - 1 },
		{ "vif32751.99-emu", CK_DOMID_LIMIT - 1 },
		{ "vif7.65535", 7 },
	};
	static const char *const others[] = {
		"", "vif", "vif1", "vif1.", "vif.0", "vifx.0", "vif1.x", "vif-1.0", "vif+1.0",
		"vif 1.0", "Vif1.0", "tap1.0", "xenbr0", "eth0",
		"vif99999.0", "vif32752.0", "vif65536.0", "vif123456.0",
		"vif01.0", "vif00.0", "vif1.01", "vif1.123456",
		"vif1.0x", "vif1.0-", "vif1.0-em", "vif1.0-emux", "vif1.0-emu-emu", "vif1.-emu",
		"vif1.0.1", "vif1.0 ",
		"vif1.0123456789",	/* longer than an interface name can be */
	};
	uint16_t domid;

	for (size_t i = 0; i < sizeof(vifs) / sizeof(vifs[0]); i++) {
		domid = 0xffff;
		ck_assert_msg(learn_vif_domid(vifs[i].name, &domid) == 0, "%s", vifs[i].name);
		ck_assert_uint_eq(domid, vifs[i].domid);
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		domid = 0xffff;
		ck_assert_msg(learn_vif_domid(others[i], &domid) == -EINVAL, "%s", others[i]);
		ck_assert_uint_eq(domid, 0xffff);
	}
}
END_TEST

/* What the callbacks were told, last call only. */
struct heard {
	unsigned int calls;
	const char *what;
	uint16_t domid;
	uint8_t mac[CK_MAC_LEN];
	uint32_t ipv4, lease_s, server_id;
	uint8_t ipv6[CK_IPV6_LEN];
};

static void heard(void *userdata, const char *what, uint16_t domid, const uint8_t *mac)
{
	struct heard *h = userdata;

	h->calls++;
	h->what = what;
	h->domid = domid;
	memcpy(h->mac, mac, CK_MAC_LEN);
}

static void on_lease(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		     uint32_t ipv4, uint32_t lease_s, uint32_t server_id)
{
	struct heard *h = userdata;

	heard(h, "lease", domid, mac);
	h->ipv4 = ipv4;
	h->lease_s = lease_s;
	h->server_id = server_id;
}

static void on_nak(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN])
{
	heard(userdata, "nak", domid, mac);
}

static void on_release(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		       uint32_t ipv4)
{
	struct heard *h = userdata;

	heard(h, "release", domid, mac);
	h->ipv4 = ipv4;
}

static void on_arp(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN], uint32_t ipv4)
{
	struct heard *h = userdata;

	heard(h, "arp", domid, mac);
	h->ipv4 = ipv4;
}

static void on_na(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		  const uint8_t ipv6[CK_IPV6_LEN])
{
	struct heard *h = userdata;

	heard(h, "na", domid, mac);
	memcpy(h->ipv6, ipv6, CK_IPV6_LEN);
}

static const struct learn_callbacks all_callbacks = {
	.lease = on_lease,
	.nak = on_nak,
	.release = on_release,
	.arp = on_arp,
	.na = on_na,
};

static int dispatch(struct learn *l, const struct lf *f, const char *ifname, int pkttype)
{
	return learn_dispatch(l, f->b, f->len, ifname, pkttype, 0);
}

START_TEST(dispatch_to_callbacks)
{
	struct learn_counters c;
	struct heard h = { 0 };
	struct learn *l;
	struct lf f;

	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_F_ALL, &all_callbacks, &h), 0);

	/* A DHCP reply reaches the guest as a frame sent out of its vif. */
	lf_dhcp_ack(&f, 0);
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_OUTGOING), 0);
	ck_assert_str_eq(h.what, "lease");
	ck_assert_uint_eq(h.domid, 7);
	ck_assert_mem_eq(h.mac, lf_guest_mac, 6);
	ck_assert_uint_eq(h.ipv4, LF_GUEST_IP);
	ck_assert_uint_eq(h.lease_s, LF_LEASE_S);
	ck_assert_uint_eq(h.server_id, LF_SERVER_IP);
	ck_assert_int_eq(dispatch(l, &f, "vif32751.1-emu", PACKET_OUTGOING), 0);
	ck_assert_uint_eq(h.domid, CK_DOMID_LIMIT - 1);
	/* Seen on the bridge or a NIC (a guest's own: guest_dhcp_replies_teach_nothing). */
	ck_assert_int_eq(dispatch(l, &f, "xenbr0", PACKET_OUTGOING), -ENODEV);
	ck_assert_int_eq(dispatch(l, &f, "eth0", PACKET_HOST), -ENODEV);
	ck_assert_uint_eq(h.calls, 2);

	lf_dhcp_nak(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif8.0", PACKET_OUTGOING), 0);
	ck_assert_str_eq(h.what, "nak");
	ck_assert_uint_eq(h.domid, 8);
	lf_dhcp_release(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif9.2", PACKET_HOST), 0);
	ck_assert_str_eq(h.what, "release");
	ck_assert_uint_eq(h.domid, 9);
	ck_assert_uint_eq(h.ipv4, LF_GUEST_IP);

	/* From the guest, whatever the frame's destination made of it on the vif. */
	lf_arp_reply(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif10.0", PACKET_OTHERHOST), 0);
	ck_assert_str_eq(h.what, "arp");
	ck_assert_uint_eq(h.domid, 10);
	ck_assert_uint_eq(h.ipv4, LF_GUEST_IP);
	ck_assert_int_eq(dispatch(l, &f, "vif10.0", PACKET_BROADCAST), 0);
	/* Another guest's ARP, going out of this vif. */
	ck_assert_int_eq(dispatch(l, &f, "vif11.0", PACKET_OUTGOING), -ENOENT);
	lf_na(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif12.0", PACKET_MULTICAST), 0);
	ck_assert_str_eq(h.what, "na");
	ck_assert_uint_eq(h.domid, 12);
	ck_assert_mem_eq(h.ipv6, lf_guest_ipv6, 16);
	ck_assert_uint_eq(h.calls, 7);

	learn_get_counters(l, &c);
	ck_assert_uint_eq(c.frames, 10);
	ck_assert_uint_eq(c.events, 7);
	ck_assert_uint_eq(c.not_vif, 2);
	ck_assert_uint_eq(c.ignored, 1);
	ck_assert_uint_eq(c.malformed + c.refused + c.truncated + c.dropped_by_kernel, 0);
	learn_free(l);
}
END_TEST

START_TEST(dispatch_counts_rejections)
{
	struct learn_counters c;
	struct heard h = { 0 };
	struct learn *l;
	struct lf f;

	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_F_ALL, &all_callbacks, &h), 0);
	lf_dhcp_ack(&f, 0);
	f.b[f.bootp + 4] ^= 1;
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_OUTGOING), -EBADMSG);
	/* The checksum the kernel says it has not filled in yet is not checked. */
	ck_assert_int_eq(learn_dispatch(l, f.b, f.len, "vif7.0", PACKET_OUTGOING,
					LEARN_F_CSUM_PARTIAL), 0);
	lf_dhcp_ack(&f, 0);
	memcpy(f.b, lf_server_mac, 6);
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_OUTGOING), -EINVAL);
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_OUTGOING), -EINVAL);
	ck_assert_uint_eq(h.calls, 1);
	learn_get_counters(l, &c);
	ck_assert_uint_eq(c.frames, 4);
	ck_assert_uint_eq(c.events, 1);
	ck_assert_uint_eq(c.malformed, 1);
	ck_assert_uint_eq(c.refused, 2);
	ck_assert_uint_eq(c.ignored + c.not_vif, 0);
	learn_free(l);
}
END_TEST

/*
 * A DHCP reply a guest sends (a server, or a forger, in a guest) is seen coming in on its
 * vif before it goes out of its client's: neither copy teaches anything, nor do replies to
 * that client for a while, so no guest gives or takes another's address.
 */
static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

START_TEST(guest_dhcp_replies_teach_nothing)
{
	struct learn_counters c;
	struct heard h = { 0 };
	struct learn *l;
	struct lf f;

	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_F_ALL, &all_callbacks, &h), 0);
	learn_set_clock(l, fake_clock);
	fake_now = 1000;
	lf_dhcp_ack(&f, 0);
	ck_assert_int_eq(dispatch(l, &f, "vif3.0", PACKET_HOST), -EPERM);	/* from guest 3 */
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_OUTGOING), -EPERM);	/* to its client */
	lf_dhcp_nak(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_OUTGOING), -EPERM);
	ck_assert_uint_eq(h.calls, 0);
	/* The real server's reply, in another transaction: learned, forgeries or not. */
	lf_dhcp_ack(&f, 0);
	f.b[f.bootp + 4] ^= 0x5a;	/* xid */
	lf_checksums(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_OUTGOING), 0);
	ck_assert_uint_eq(h.calls, 1);
	/* Another guest's lease, and what the client itself sends, still count. */
	lf_dhcp_release(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_HOST), 0);
	/* 5 s later, dom0's server's reply counts again. */
	fake_now += 5 * 1000000;
	lf_dhcp_ack(&f, 0);
	ck_assert_int_eq(dispatch(l, &f, "vif7.0", PACKET_OUTGOING), 0);
	ck_assert_str_eq(h.what, "lease");
	learn_get_counters(l, &c);
	ck_assert_uint_eq(c.rogue_replies, 3);
	ck_assert_uint_eq(c.events, 3);
	learn_free(l);
}
END_TEST

/* What a mode that is off would learn is ignored, and needs no callback. */
START_TEST(dispatch_by_mode)
{
	struct learn_callbacks dhcp_only = { .lease = on_lease, .nak = on_nak,
					     .release = on_release };
	struct learn_callbacks arp_only = { .arp = on_arp, .na = on_na };
	struct learn_counters c;
	struct heard h = { 0 };
	struct learn *l;
	struct lf f;

	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_DHCP, &dhcp_only, &h), 0);
	lf_arp_reply(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif3.0", PACKET_HOST), -ENOENT);
	lf_na(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif3.0", PACKET_HOST), -ENOENT);
	lf_dhcp_ack(&f, 0);
	ck_assert_int_eq(dispatch(l, &f, "vif3.0", PACKET_OUTGOING), 0);
	learn_get_counters(l, &c);
	ck_assert_uint_eq(c.ignored, 2);
	ck_assert_uint_eq(c.events, 1);
	learn_free(l);

	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_ARP, &arp_only, &h), 0);
	lf_dhcp_ack(&f, 0);
	ck_assert_int_eq(dispatch(l, &f, "vif3.0", PACKET_OUTGOING), -ENOENT);
	lf_dhcp_release(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif3.0", PACKET_HOST), -ENOENT);
	lf_arp_reply(&f);
	ck_assert_int_eq(dispatch(l, &f, "vif3.0", PACKET_HOST), 0);
	ck_assert_uint_eq(h.calls, 2);
	learn_free(l);
}
END_TEST

START_TEST(new_checks_modes_and_callbacks)
{
	struct learn_callbacks cb = all_callbacks;
	struct learn *l = (struct learn *)&cb;

	ck_assert_int_eq(learn_new(&l, NULL, 0, &cb, NULL), -EINVAL);
	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_F_ALL + 1, &cb, NULL), -EINVAL);
	ck_assert_int_eq(learn_new(&l, NULL, 1U << 5, &cb, NULL), -EINVAL);
	cb.nak = NULL;
	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_DHCP, &cb, NULL), -EINVAL);
	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_F_ALL, &cb, NULL), -EINVAL);
	cb = all_callbacks;
	cb.na = NULL;
	ck_assert_int_eq(learn_new(&l, NULL, LEARN_MODE_ARP, &cb, NULL), -EINVAL);
	/* *ret is set only on success. */
	ck_assert_ptr_eq(l, (struct learn *)&cb);
	learn_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("learn");

	th_add(s, filter_keeps_what_the_modes_learn_from);
	th_add(s, filter_cuts_long_frames);
	th_add(s, vif_names);
	th_add(s, dispatch_to_callbacks);
	th_add(s, dispatch_counts_rejections);
	th_add(s, dispatch_by_mode);
	th_add(s, guest_dhcp_replies_teach_nothing);
	th_add(s, new_checks_modes_and_callbacks);
	return th_run(s);
}
