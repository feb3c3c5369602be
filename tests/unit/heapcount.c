// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dlfcn.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "heapcount.h"

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);

/*
 * The next definitions in the lookup order: libc's, or the sanitizer runtime's under ASan,
 * which comes before libc.  dlsym() may allocate while it finds them; those few requests are
 * served from a static buffer that is never freed.
 */
static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static bool resolving;
static alignas(max_align_t) uint8_t boot[4096];
static size_t boot_used;
static size_t count;

void th_heap_count_start(void)
{
	count = 0;
}

size_t th_heap_count(void)
{
	return count;
}

static void resolve(void)
{
	if (next_free || resolving)
		return;
	resolving = true;
	next_malloc = dlsym(RTLD_NEXT, "malloc");
	next_calloc = dlsym(RTLD_NEXT, "calloc");
	next_realloc = dlsym(RTLD_NEXT, "realloc");
	next_free = dlsym(RTLD_NEXT, "free");
	resolving = false;
}

static void *boot_alloc(size_t size)
{
	size_t at = (boot_used + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);

	if (at > sizeof(boot) || size > sizeof(boot) - at)
		return NULL;
	boot_used = at + size;
	return memset(boot + at, 0, size);
}

static bool from_boot(const void *p)
{
	return (uintptr_t)p >= (uintptr_t)boot && (uintptr_t)p < (uintptr_t)(boot + sizeof(boot));
}

void *malloc(size_t size)
{
	resolve();
	if (!next_malloc)
		return boot_alloc(size);
	count++;
	return next_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	resolve();
	if (!next_calloc)
		return size && n > SIZE_MAX / size ? NULL : boot_alloc(n * size);
	count++;
	return next_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	void *moved;

	resolve();
	if (!next_realloc)
		return NULL;	/* nothing reallocates while dlsym() runs */
	count++;
	if (!from_boot(p))
		return next_realloc(p, size);
	/* Its size is unknown: copy what it may hold, up to the buffer's end. */
	moved = next_malloc(size);
	if (moved) {
		size_t left = (size_t)(boot + sizeof(boot) - (uint8_t *)p);

		memcpy(moved, p, size < left ? size : left);
	}
	return moved;
}

void free(void *p)
{
	if (!p || from_boot(p))
		return;
	resolve();
	next_free(p);
}
