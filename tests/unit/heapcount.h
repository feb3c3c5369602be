/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Counts every heap allocation the process makes, shared libraries' included.  failalloc's
 * -Wl,--wrap only reaches the objects linked into the test, not libprotobuf-c.so, whose
 * malloc calls are the ones issue 19 is about; a test linking heapcount.c defines malloc,
 * calloc, realloc and free itself, so the dynamic linker binds every library's calls here.
 */
#pragma once

#include <stddef.h>

/* Starts counting from zero. */
void th_heap_count_start(void);
/* malloc, calloc and realloc calls since th_heap_count_start(). */
size_t th_heap_count(void);
