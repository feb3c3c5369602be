// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <search.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long fail_at = -1;
static size_t count;
static bool paused;

/*
 * The blocks handed out, in libc's tsearch tree: libc allocates its nodes itself, past the
 * wrapping, so keeping the books allocates nothing that is counted.
 */
static void *live_tree;
static size_t live;

void th_alloc_fail_at(long n)
{
	fail_at = n;
	count = 0;
}

void th_alloc_pause(bool pause)
{
	paused = pause;
}

size_t th_alloc_count(void)
{
	return count;
}

size_t th_alloc_live(void)
{
	return live;
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	return (x > y) - (x < y);
}

static void *track(void *p)
{
	if (p) {
		/* Books that cannot be kept would make every count below a lie. */
		if (!tsearch(p, &live_tree, by_address))
			abort();
		live++;
	}
	return p;
}

/* Whether p was handed out here; it is not any more. */
static bool untrack(void *p)
{
	if (!p || !tdelete(p, &live_tree, by_address))
		return false;
	live--;
	return true;
}

/* As malloc() fails: errno says why, for callers that pass it on. */
static bool fails(void)
{
	if (paused || fail_at < 0 || count++ != (size_t)fail_at)
		return false;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t size)
{
	if (fails())
		return NULL;
	return track(__real_malloc(size));
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fails())
		return NULL;
	return track(__real_calloc(n, size));
}

void *__wrap_realloc(void *p, size_t size)
{
	void *q;

	if (fails())
		return NULL;
	q = __real_realloc(p, size);
	if (q || size == 0) {
		/* p is gone (moved, or freed by a zero size). */
		untrack(p);
		track(q);
	}
	return q;
}

void __wrap_free(void *p)
{
	untrack(p);
	__real_free(p);
}

char *__wrap_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = __wrap_malloc(len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *__wrap_strdup(const char *s)
{
	return __wrap_strndup(s, SIZE_MAX);
}
