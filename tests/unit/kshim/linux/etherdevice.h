/* SPDX-License-Identifier: GPL-2.0-only */
/* kshim (types.h): the one test of an Ethernet address that accept.c makes. */
#ifndef _KSHIM_LINUX_ETHERDEVICE_H
#define _KSHIM_LINUX_ETHERDEVICE_H

#include <linux/if_ether.h>
#include <linux/types.h>

static inline bool is_unicast_ether_addr(const u8 *addr)
{
	return !(addr[0] & 1);
}

#endif
