/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uthash, configured once for all of CoKeeper: every file that keeps a hash table includes
 * this header and never <uthash.h> (tests/layering/uthash-include.py holds it to that).
 *
 * Out of memory.  By default uthash calls exit(-1) when it cannot allocate its table or
 * grow its buckets: a daemon that dies below main, with no message.  Here a failed
 * allocation fails the one add instead, and CK_HASH_TRY() turns that into -ENOMEM:
 *
 *	e = calloc(1, sizeof(*e));
 *	...
 *	r = CK_HASH_TRY(HASH_ADD(hh, head, key, sizeof(e->key), e));
 *	if (r < 0) {
 *		free(e);	(uthash holds no pointer to it)
 *		return r;
 *	}
 *
 * What uthash 2.3 does on each failure, with HASH_NONFATAL_OOM (read from uthash.h, relied
 * on above): if the table's first allocation (the table, its buckets) fails, head stays NULL
 * and nothing was allocated; if growing the buckets fails, the element is unlinked again and
 * the count put back, the table keeps its old buckets.  Either way the table is as before.
 *
 * HASH_REPLACE deletes the old element before it adds the new one, so a failed add leaves
 * neither in the table (and deleting the last element frees the table, which the add then
 * has to allocate again).  Use CK_HASH_REPLACE(), which adds first and deletes after.
 *
 * The flag is per thread, so two threads' tables do not see each other's failures.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

/* Where uthash's own allocations (its table, its buckets) go; a test can make them fail. */
struct ck_hash_allocator {
	void *(*malloc)(size_t size);
	void (*free)(void *p);
};

/* NULL: back to malloc() and free().  Swap only while no table exists. */
void ck_hash_set_allocator(const struct ck_hash_allocator *a);
void *ck_hash_malloc(size_t size);
void ck_hash_free(void *p);

/* Set by uthash when an add failed for memory; CK_HASH_TRY() clears and reads it. */
extern __thread bool ck_hash_oom;

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) (ck_hash_oom = true)
#define uthash_malloc(sz) ck_hash_malloc(sz)
#define uthash_free(ptr, sz) ck_hash_free(ptr)

#include <uthash.h>

/* Runs one HASH_ADD*(): 0, or -ENOMEM with the element in no table and the table as before. */
#define CK_HASH_TRY(add)                                                                          \
	({                                                                                        \
		ck_hash_oom = false;                                                              \
		add;                                                                              \
		ck_hash_oom ? -ENOMEM : 0;                                                        \
	})

/*
 * HASH_REPLACE, all or nothing: *replaced (NULL: there was none) is out of the table only
 * if 0 is returned; on -ENOMEM the table is as it was.  uthash lets two elements share a key
 * for the moment between the add and the delete, and a delete never allocates.
 */
#define CK_HASH_REPLACE(hh, head, fieldname, keylen, add, replaced)                               \
	({                                                                                        \
		int r_;                                                                           \
		HASH_FIND(hh, head, &((add)->fieldname), keylen, replaced);                       \
		r_ = CK_HASH_TRY(HASH_ADD(hh, head, fieldname, keylen, add));                     \
		if (r_ == 0 && (replaced))                                                        \
			HASH_DELETE(hh, head, replaced);                                          \
		r_;                                                                               \
	})
