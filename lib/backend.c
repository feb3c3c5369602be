// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <string.h>

#include "backend.h"

/* An entry's first member is its name: a pointer to it is a pointer to that (C11 6.7.2.1). */
static const char *name_of(const void *table, size_t size, size_t i)
{
	return *(const char *const *)((const char *)table + i * size);
}

const void *ck_backend_find(const void *table, size_t n, size_t size, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name_of(table, size, i), name))
			return (const char *)table + i * size;
	return NULL;
}

const char *ck_backend_names(const void *table, size_t n, size_t size, char *buf,
			     size_t buf_size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < buf_size; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		int w = snprintf(buf + len, buf_size - len, "%s%s", sep, name_of(table, size, i));

		if (w < 0)
			break;
		len += (size_t)w;
	}
	return buf;
}
