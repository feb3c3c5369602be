// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeperd/learn/learn.c's packet socket against the kernel, in a network namespace of its
 * own: a veth pair stands in for a guest's vif ("vif5.0") and the guest's end ("g5").  What
 * only a real socket shows: the filter attached before bind(), frames sent out of the vif
 * seen as PACKET_OUTGOING, the interface's name read per frame, a jumbo frame cut short, and
 * a DHCP reply from a UDP socket in dom0, whose checksum the kernel has not filled in yet
 * (veth offloads it): PACKET_AUXDATA must say so or the reply reads as malformed.
 * Needs root (CAP_NET_ADMIN, CAP_NET_RAW) and ip(8): exits 77 (skipped) without them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "learn-frames.h"
#include "learn.h"

#define SKIP 77

struct heard {
	unsigned int leases, naks, releases, arps, nas;
	uint32_t last_lease;
};

static void on_lease(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		     uint32_t ipv4, uint32_t lease_s, uint32_t server_id)
{
	struct heard *h = userdata;

	ck_assert_uint_eq(domid, 5);
	ck_assert_mem_eq(mac, lf_guest_mac, 6);
	h->leases++;
	h->last_lease = ipv4;
}

static void on_nak(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN])
{
	((struct heard *)userdata)->naks++;
}

static void on_release(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		       uint32_t ipv4)
{
	((struct heard *)userdata)->releases++;
}

static void on_arp(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN], uint32_t ipv4)
{
	ck_assert_uint_eq(domid, 5);
	((struct heard *)userdata)->arps++;
}

static void on_na(void *userdata, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		  const uint8_t ipv6[CK_IPV6_LEN])
{
	ck_assert_uint_eq(domid, 5);
	((struct heard *)userdata)->nas++;
}

static void send_on(const char *ifname, const struct lf *f)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = (int)if_nametoindex(ifname),
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sendto(fd, f->b, f->len, 0, (struct sockaddr *)&sll, sizeof(sll)),
			 (ssize_t)f->len);
	close(fd);
}

/* A DHCPACK of yiaddr from dom0's own UDP socket, as a DHCP server there sends one. */
static void send_from_udp(uint32_t yiaddr)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(67),
				   .sin_addr.s_addr = htonl(LF_SERVER_IP) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(68),
				   .sin_addr.s_addr = htonl(LF_GUEST_IP) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct lf f;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	lf_dhcp_ack(&f, 0);
	lf_set32(&f, f.bootp + 16, yiaddr);
	ck_assert_int_eq(sendto(fd, f.b + f.bootp, f.len - f.bootp, 0, (struct sockaddr *)&dst,
				sizeof(dst)),
			 (ssize_t)(f.len - f.bootp));
	close(fd);
}

/* Reads until cond holds: meson's timeout guards against a hang. */
#define RUN_UNTIL(cond)                                                        \
	do {                                                                   \
		learn_get_counters(l, &c);                                     \
		while (!(cond)) {                                              \
			ck_assert_int_ge(sd_event_run(event, UINT64_MAX), 0);   \
			learn_get_counters(l, &c);                             \
		}                                                              \
	} while (0)

START_TEST(frames_on_a_vif)
{
	const struct learn_callbacks cb = {
		.lease = on_lease, .nak = on_nak, .release = on_release, .arp = on_arp,
		.na = on_na,
	};
	struct learn_counters c;
	struct heard h = { 0 };
	struct learn *l;
	sd_event *event;
	struct lf f;

	ck_assert_int_ge(sd_event_new(&event), 0);
	ck_assert_int_eq(learn_new(&l, event, LEARN_MODE_F_ALL, &cb, &h), 0);

	/*
	 * A reply to the guest is seen twice: leaving vif5.0 (learned), arriving at g5 (no
	 * vif).  What the guest sends is seen once, arriving at vif5.0: its copy leaving g5 is
	 * an outgoing one, which the filter keeps in the kernel (a guest's broadcast flooded out
	 * of every other vif would wake cokeeperd once per guest).
	 */
	lf_dhcp_ack(&f, 0);
	send_on("vif5.0", &f);		/* out of the vif: to the guest */
	lf_dhcp_ack(&f, LF_VLAN);
	send_on("vif5.0", &f);
	lf_dhcp_nak(&f);
	send_on("vif5.0", &f);
	lf_dhcp_release(&f);
	send_on("g5", &f);		/* by the guest: into the vif */
	lf_arp_reply(&f);
	send_on("g5", &f);
	lf_na(&f);
	send_on("g5", &f);
	RUN_UNTIL(c.events == 6 && c.not_vif >= 3);
	ck_assert_uint_eq(c.not_vif, 3);
	ck_assert_uint_eq(h.leases, 2);
	ck_assert_uint_eq(h.naks, 1);
	ck_assert_uint_eq(h.releases, 1);
	ck_assert_uint_eq(h.arps, 1);
	ck_assert_uint_eq(h.nas, 1);

	lf_dhcp_ack(&f, 0);
	f.b[f.bootp + 4] ^= 1;
	send_on("vif5.0", &f);
	RUN_UNTIL(c.malformed == 1);
	lf_dhcp_ack(&f, 0);
	lf_zeros(&f, 3000 - f.len);
	send_on("vif5.0", &f);
	RUN_UNTIL(c.truncated == 2);

	send_from_udp(LF_GUEST_IP + 1);
	RUN_UNTIL(c.events == 7 || c.malformed > 1);
	ck_assert_uint_eq(c.malformed, 1);
	ck_assert_uint_eq(h.leases, 3);
	ck_assert_uint_eq(h.last_lease, LF_GUEST_IP + 1);
	ck_assert_uint_eq(c.refused + c.dropped_by_kernel, 0);

	learn_free(l);
	sd_event_unref(event);
}
END_TEST

/* A namespace of our own with the pair in it, or false to skip. */
static bool setup(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return false;
	/* vif5.0 is dom0's end, with a static neighbour for the guest, so that a UDP reply
	 * leaves at once; a 9000-byte MTU lets a jumbo frame through.  No IPv6 of the
	 * namespace's own: the test's frames are the only ones. */
	return system("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 &&"
		      " ip link add vif5.0 mtu 9000 type veth peer name g5 mtu 9000 &&"
		      " ip link set vif5.0 up && ip link set g5 up &&"
		      " ip addr add 10.0.0.254/24 dev vif5.0 &&"
		      " ip neigh add 10.0.0.5 lladdr 00:16:3e:00:00:05 dev vif5.0") == 0;
}

int main(void)
{
	Suite *s = suite_create("learn-socket");

	if (!setup()) {
		fprintf(stderr, "needs root, a network namespace and ip(8): skipped\n");
		return SKIP;
	}
	th_add(s, frames_on_a_vif);
	return th_run(s);
}
