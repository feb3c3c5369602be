/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allocation failures on demand, for the all-or-nothing tests.  A test that links
 * failalloc.c with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc gets every allocation of
 * its own code and of libcokeeper (uthash's included) through here.
 */
#pragma once

#include <stddef.h>

/*
 * From now, allocation number n (0 is the next one) fails, and only it; LONG_MAX only
 * counts, n < 0 stops counting.
 */
void th_alloc_fail_at(long n);
/* Allocations since the last th_alloc_fail_at(), the failed one included. */
size_t th_alloc_count(void);
