/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kshim: just enough of the kernel's headers for tests/unit/test-ckfp-accept.c to compile
 * kmod-hook/fastpath/accept.c as userspace code: the uapi's own header, plus the kernel's
 * short integer types.
 */
#ifndef _KSHIM_LINUX_TYPES_H
#define _KSHIM_LINUX_TYPES_H

#include_next <linux/types.h>
#include <stdbool.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#endif
