// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdbool.h>
#include <stdlib.h>

#include "failalloc.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static long fail_at = -1;
static size_t count;

void th_alloc_fail_at(long n)
{
	fail_at = n;
	count = 0;
}

size_t th_alloc_count(void)
{
	return count;
}

static bool fails(void)
{
	return fail_at >= 0 && count++ == (size_t)fail_at;
}

void *__wrap_malloc(size_t size)
{
	if (fails())
		return NULL;
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fails())
		return NULL;
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	if (fails())
		return NULL;
	return __real_realloc(p, size);
}
