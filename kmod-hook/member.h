/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A member as a request describes it: plain, fixed-size, not linked anywhere.  netlink.c
 * fills one from verified attributes, the self-test from its random model; table.c turns it
 * into a table entry.  The limits are the uapi's.
 */
#ifndef _CK_MEMBER_H
#define _CK_MEMBER_H

#include <linux/etherdevice.h>
#include <linux/in6.h>
#include <linux/string.h>
#include <linux/types.h>

#include <uapi/linux/cokeeper.h>

struct ck_nic {
	u8 mac[ETH_ALEN];
	u8 n_ip4;
	u8 n_ip6;
	__be32 ip4[COKEEPER_ADDRS_MAX];
	struct in6_addr ip6[COKEEPER_ADDRS_MAX];
	u8 ip4_source[COKEEPER_ADDRS_MAX];	/* enum cokeeper_addr_source of ip4[i] */
	u8 ip6_source[COKEEPER_ADDRS_MAX];
};

struct ck_member {
	u32 domid;
	u8 state;		/* enum cokeeper_member_state */
	u8 n_nics;
	u8 uuid[COKEEPER_UUID_LEN];
	char name[COKEEPER_NAME_MAX + 1];	/* NUL-terminated */
	struct ck_nic nics[COKEEPER_NICS_MAX];
};

/* The same rules as lib/member.c, so the kernel never refuses what the daemon accepted. */
static inline bool ck_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > COKEEPER_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return true;
}

/* A vif's MAC is a unicast station address: group bit clear and not all-zero. */
static inline bool ck_mac_valid(const u8 *mac)
{
	return is_valid_ether_addr(mac);
}

#endif /* _CK_MEMBER_H */
