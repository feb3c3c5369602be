// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "memberset.h"

/* What ck_memberset_apply() knows of an entry while it runs; MARK_NONE at any other time. */
enum mark {
	MARK_NONE,
	MARK_UPSERTED,	/* was in the set, is upserted: no removal may take it */
	MARK_NEW,	/* added for an upsert: taken out again if the apply fails */
};

struct entry {
	struct ck_member m;
	UT_hash_handle hh;
	enum mark mark;
};

struct ck_memberset {
	struct entry *head;
};

int ck_memberset_new(struct ck_memberset **ret)
{
	struct ck_memberset *set = calloc(1, sizeof(*set));

	if (!set)
		return -ENOMEM;
	*ret = set;
	return 0;
}

void ck_memberset_clear(struct ck_memberset *set)
{
	struct entry *e, *tmp;

	HASH_ITER(hh, set->head, e, tmp) {
		HASH_DEL(set->head, e);
		free(e);
	}
}

void ck_memberset_swap(struct ck_memberset *a, struct ck_memberset *b)
{
	struct entry *head = a->head;

	a->head = b->head;
	b->head = head;
}

void ck_memberset_free(struct ck_memberset *set)
{
	if (!set)
		return;
	ck_memberset_clear(set);
	free(set);
}

void ck_memberset_freep(struct ck_memberset **set)
{
	ck_memberset_free(*set);
}

void ck_memberset_foreach(const struct ck_memberset *set,
			  void (*fn)(const struct ck_member *m, void *userdata), void *userdata)
{
	const struct entry *e, *tmp;

	HASH_ITER(hh, set->head, e, tmp)
		fn(&e->m, userdata);
}

static struct entry *find(const struct ck_memberset *set, uint16_t domid)
{
	struct entry *e;

	HASH_FIND(hh, set->head, &domid, sizeof(domid), e);
	return e;
}

/* Adds m, whose domid is not in the set: a failure leaves the set as it was. */
static int insert(struct ck_memberset *set, const struct ck_member *m, struct entry **ret)
{
	struct entry *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->m = *m;
	r = CK_HASH_TRY(HASH_ADD(hh, set->head, m.domid, sizeof(e->m.domid), e));
	if (r < 0) {
		free(e);
		return r;
	}
	if (ret)
		*ret = e;
	return 0;
}

int ck_memberset_put(struct ck_memberset *set, const struct ck_member *m)
{
	struct entry *e;

	if (ck_member_check(m) < 0)
		return -EINVAL;
	e = find(set, m->domid);
	if (e) {
		e->m = *m;
		return 0;
	}
	return insert(set, m, NULL);
}

/* Undoes the marking pass of ck_memberset_apply() over its first n upserts. */
static void unmark(struct ck_memberset *set, const struct ck_member *upserts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct entry *e = find(set, upserts[i].domid);

		if (!e)
			continue;	/* a second upsert of a domid already taken out */
		if (e->mark == MARK_NEW) {
			HASH_DEL(set->head, e);
			free(e);
		} else {
			e->mark = MARK_NONE;
		}
	}
}

int ck_memberset_apply(struct ck_memberset *set, const struct ck_member *upserts,
		       size_t n_upserts, const uint16_t *removed, size_t n_removed)
{
	int r;

	for (size_t i = 0; i < n_upserts; i++)
		if (ck_member_check(&upserts[i]) < 0)
			return -EINVAL;

	/*
	 * In place, so a change costs what it names and not the set's size.  The only things
	 * that can fail are the allocations for domids new to the set (their entries and the
	 * table growing to hold them), so they come first, and a failure takes them out again.
	 * Marking every upserted domid also tells the removals which ones to leave: removing
	 * then upserting a domid is the same as overwriting it.
	 */
	for (size_t i = 0; i < n_upserts; i++) {
		struct entry *e = find(set, upserts[i].domid);

		if (e) {
			if (e->mark == MARK_NONE)
				e->mark = MARK_UPSERTED;
			continue;
		}
		r = insert(set, &upserts[i], &e);
		if (r < 0) {
			unmark(set, upserts, i);
			return r;
		}
		e->mark = MARK_NEW;
	}

	/* Nothing below can fail. */
	for (size_t i = 0; i < n_removed; i++) {
		struct entry *e = find(set, removed[i]);

		if (e && e->mark == MARK_NONE) {
			HASH_DEL(set->head, e);
			free(e);
		}
	}
	for (size_t i = 0; i < n_upserts; i++) {
		struct entry *e = find(set, upserts[i].domid);

		e->m = upserts[i];
		e->mark = MARK_NONE;
	}
	return 0;
}

int ck_memberset_remove(struct ck_memberset *set, uint16_t domid)
{
	struct entry *e = find(set, domid);

	if (!e)
		return -ENOENT;
	HASH_DEL(set->head, e);
	free(e);
	return 0;
}

const struct ck_member *ck_memberset_find(const struct ck_memberset *set, uint16_t domid)
{
	struct entry *e = find(set, domid);

	return e ? &e->m : NULL;
}

size_t ck_memberset_count(const struct ck_memberset *set)
{
	return HASH_COUNT(set->head);
}

bool ck_memberset_equal(const struct ck_memberset *a, const struct ck_memberset *b)
{
	struct entry *e, *tmp;

	if (HASH_COUNT(a->head) != HASH_COUNT(b->head))
		return false;
	HASH_ITER(hh, a->head, e, tmp) {
		const struct entry *other = find(b, e->m.domid);

		if (!other || !ck_member_equal(&e->m, &other->m))
			return false;
	}
	return true;
}

int ck_memberset_copy(const struct ck_memberset *set, struct ck_memberset **ret)
{
	_cleanup_memberset_ struct ck_memberset *copy = NULL;
	struct entry *e, *tmp;
	int r;

	r = ck_memberset_new(&copy);
	if (r < 0)
		return r;
	HASH_ITER(hh, set->head, e, tmp) {
		r = ck_memberset_put(copy, &e->m);
		if (r < 0)
			return r;
	}
	*ret = copy;
	copy = NULL;
	return 0;
}

static int by_domid(const void *a, const void *b)
{
	const struct ck_member *const *x = a, *const *y = b;

	return (int)(*x)->domid - (int)(*y)->domid;
}

int ck_memberset_sorted(const struct ck_memberset *set, const struct ck_member ***ret, size_t *n)
{
	size_t count = HASH_COUNT(set->head), i = 0;
	const struct ck_member **v;
	struct entry *e, *tmp;

	if (count == 0) {
		*ret = NULL;
		*n = 0;
		return 0;
	}
	v = calloc(count, sizeof(*v));
	if (!v)
		return -ENOMEM;
	HASH_ITER(hh, set->head, e, tmp)
		v[i++] = &e->m;
	qsort(v, count, sizeof(*v), by_domid);
	*ret = v;
	*n = count;
	return 0;
}
