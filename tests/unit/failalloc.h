/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allocation failures on demand, for the all-or-nothing tests.  A test that links
 * failalloc.c with failalloc's link_args in tests/unit/meson.build (-Wl,--wrap= of malloc,
 * calloc, realloc, strdup, strndup and free) gets every allocation of its own code and of the
 * static libraries linked into it (libcokeeper, the daemon's cores, uthash's tables through
 * lib/hash.c's default allocator) through here.  Shared libraries' allocations are not seen:
 * a pointer this never handed out is freed without being counted.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * From now, allocation number n (0 is the next one) fails, and only it; LONG_MAX only
 * counts, n < 0 stops counting.
 */
void th_alloc_fail_at(long n);
/*
 * While paused, allocations neither count nor fail: for code the test is not about, run by
 * the code it is about (a host's reads under the scan, say).
 */
void th_alloc_pause(bool paused);
/* Allocations since the last th_alloc_fail_at(), the failed one included. */
size_t th_alloc_count(void);
/*
 * Blocks handed out through here and not freed yet, counted always (whatever
 * th_alloc_fail_at() says): the same before and after an operation that failed means it
 * leaked nothing.
 */
size_t th_alloc_live(void);
