/* SPDX-License-Identifier: GPL-2.0-only */
/* kshim (types.h): the uapi's <linux/in.h> and the kernel's IPv4 address classes. */
#ifndef _KSHIM_LINUX_IN_H
#define _KSHIM_LINUX_IN_H

#include_next <linux/in.h>
#include <endian.h>
#include <stdbool.h>

#include <linux/types.h>

static inline bool ipv4_is_multicast(__be32 addr)
{
	return (addr & htobe32(0xf0000000)) == htobe32(0xe0000000);
}

static inline bool ipv4_is_lbcast(__be32 addr)
{
	return addr == htobe32(0xffffffff);
}

#endif
