// SPDX-License-Identifier: LGPL-2.1-or-later
/* uthash's allocator and its out-of-memory flag (hash.h). */
#include <stdlib.h>

#include "hash.h"

__thread bool ck_hash_oom;

static const struct ck_hash_allocator standard = { .malloc = malloc, .free = free };
static const struct ck_hash_allocator *allocator = &standard;

void ck_hash_set_allocator(const struct ck_hash_allocator *a)
{
	allocator = a ?: &standard;
}

void *ck_hash_malloc(size_t size)
{
	return allocator->malloc(size);
}

void ck_hash_free(void *p)
{
	allocator->free(p);
}
