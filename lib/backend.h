/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program's choice among the backends of one kind (sources, transports, sinks, fast path
 * ports) by the name given on its command line.  Each kind is a table of its own type whose
 * entries begin with `const char *name` ({name, new} or {name, ops}); one lookup serves them
 * all, and an unknown name is answered with the names there are.
 */
#pragma once

#include <stddef.h>

/* The entry called name in table (n entries of size bytes), or NULL. */
const void *ck_backend_find(const void *table, size_t n, size_t size, const char *name);
/* "xenstore, poll or sim" into buf, for the message about an unknown name. */
const char *ck_backend_names(const void *table, size_t n, size_t size, char *buf,
			     size_t buf_size);

#define CK_BACKEND_FIND(table, name) \
	ck_backend_find((table), sizeof(table) / sizeof((table)[0]), sizeof((table)[0]), (name))
#define CK_BACKEND_NAMES(table, buf)                                                         \
	ck_backend_names((table), sizeof(table) / sizeof((table)[0]), sizeof((table)[0]), (buf), \
			 sizeof(buf))
