// SPDX-License-Identifier: LGPL-2.1-or-later
#include <malloc.h>

#include "memory-return.h"

/* One event loop per process: no lock. */
static size_t freed_since_trim;

void ck_memory_freed(size_t bytes)
{
	freed_since_trim += bytes;
	if (freed_since_trim < CK_MEMORY_RETURN_BYTES)
		return;
	freed_since_trim = 0;
	(void)malloc_trim(0);
}
