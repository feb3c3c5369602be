/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Gives memory that a burst made us allocate back to the system once it is freed.  glibc
 * returns freed heap to the kernel only from the top of the heap: a queue of a hundred
 * thousand small messages, dropped while anything allocated after it lives on, stays
 * resident for good (a dropped 270 MB queue did, issue 20).  malloc_trim() hands back every
 * free page, wherever it lies; it walks the heap, so it runs once a megabyte has been freed,
 * not on every free.
 */
#pragma once

#include <stddef.h>

/* At least this much freed since the last trim: trim. */
#define CK_MEMORY_RETURN_BYTES (1u << 20)

/* bytes were just freed (dropped from a queue, a peer's buffers released). */
void ck_memory_freed(size_t bytes);
