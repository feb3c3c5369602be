/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The only place ckfp-ring.{h,c} and ckfp-lru.{h,c} meet their environment.  That code is
 * compiled twice: into cokeeper-fp.ko (__KERNEL__: the kernel's types, READ_ONCE, virt_*
 * barriers and time_before) and into userspace for the unit tests and the fuzzer (<stdint.h>,
 * volatile accesses, __atomic fences, errno values from <errno.h>).  Both builds get the same
 * names, so that code has no #ifdef of its own apart from the definition of the test hook.
 */
#ifndef _CKFP_COMPAT_H
#define _CKFP_COMPAT_H

#ifdef __KERNEL__

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/string.h>
#include <linux/types.h>
#include <asm/barrier.h>
#include <asm/byteorder.h>

/* A shared load in the kernel is a plain READ_ONCE: nothing can run between two of them. */
#define CKFP_LOAD(x) READ_ONCE(x)

#else /* userspace */

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint16_t __le16;
typedef uint32_t __le32;

#define le16_to_cpu(x) le16toh(x)
#define le32_to_cpu(x) le32toh(x)
#define cpu_to_le16(x) htole16(x)
#define cpu_to_le32(x) htole32(x)

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val) (*(volatile __typeof__(x) *)&(x) = (val))

/* Between guests the kernel's virt_* barriers are the SMP ones; in one process, fences. */
#define virt_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define virt_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define virt_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* The kernel's, without its typecheck: true when jiffies a is before b, across a wrap. */
#define time_before(a, b) ((long)((a) - (b)) < 0)

/*
 * Called before every shared load with the address about to be read, so a test can play the
 * peer and rewrite shared memory *between* two loads of one operation, as a peer on another
 * CPU can.  NULL outside tests.
 */
extern void (*ckfp_load_hook)(const void *addr, size_t size);

#define CKFP_LOAD(x) \
	(ckfp_load_hook ? ckfp_load_hook((const void *)&(x), sizeof(x)) : (void)0, READ_ONCE(x))

#endif /* __KERNEL__ */

#endif /* _CKFP_COMPAT_H */
