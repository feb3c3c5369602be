// SPDX-License-Identifier: GPL-2.0-only
/*
 * What one guest sees of its host (cokeeperd/guests/view.c): the filtered deltas, applied to
 * the guest's replica, keep it equal to the members its policy lets it see, change after
 * change, whether members come, go, or move between bridges, the viewer included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "view.h"

#define EPOCH 0x5eedull
#define BRIDGES 3

/* The policy of these tests: a guest sees the members on its own bridge. */
static bool same_bridge(uint16_t viewer, const struct ck_member *m, void *userdata)
{
	const struct ck_membership *auth = userdata;
	const struct ck_member *v = ck_memberset_find(auth->members, viewer);

	return v && v->n_nics && m->n_nics && !strcmp(v->nics[0].bridge, m->nics[0].bridge);
}

static void member_on(struct ck_member *m, uint16_t domid, unsigned int variant,
		      unsigned int bridge)
{
	th_member(m, domid, variant * 2);	/* th_member's variants 2k and 2k + 1 are alike */
	snprintf(m->nics[0].bridge, sizeof(m->nics[0].bridge), "br%u", bridge);
}

/* Commits set as the authority's next generation; *d gets the delta. */
static void commit(struct ck_membership *auth, struct ck_memberset *set, struct ck_delta *d)
{
	ck_assert_int_eq(ck_membership_commit(auth, set, d), 0);
}

struct expect {
	struct ck_memberset *set;
	uint16_t viewer;
	const struct view_filter *f;
};

static void add_expected(const struct ck_member *m, void *userdata)
{
	struct expect *e = userdata;

	if (m->domid == e->viewer || e->f->sees(e->viewer, m, e->f->userdata))
		ck_assert_int_eq(ck_memberset_put(e->set, m), 0);
}

/* The replica holds exactly what the viewer sees of the authority now. */
static void assert_view(const struct ck_membership *auth, const struct ck_membership *replica,
			uint16_t viewer, const struct view_filter *f)
{
	_cleanup_memberset_ struct ck_memberset *want = NULL;
	struct expect e = { .viewer = viewer, .f = f };

	ck_assert_int_eq(ck_memberset_new(&want), 0);
	e.set = want;
	ck_memberset_foreach(auth->members, add_expected, &e);
	ck_assert_uint_eq(replica->gen, auth->gen);
	ck_assert_msg(ck_memberset_equal(want, replica->members),
		      "viewer %u holds %zu members, sees %zu", viewer,
		      ck_memberset_count(replica->members), ck_memberset_count(want));
}

struct replica_copy {
	const struct guest_view *v;
	struct ck_memberset *set;
};

static void copy_held(const struct ck_member *m, void *userdata)
{
	struct replica_copy *c = userdata;

	if (view_has(c->v, m->domid))
		ck_assert_int_eq(ck_memberset_put(c->set, m), 0);
}

/* What a snapshot of the viewer's view gives its replica. */
static void snapshot_into(struct guest_view *v, uint16_t viewer, const struct view_filter *f,
			  const struct ck_membership *auth, struct ck_membership *replica)
{
	struct replica_copy c = { .v = v };
	bool all;

	ck_assert_int_eq(view_snapshot(v, viewer, f, auth, &all), 0);
	ck_assert_int_eq(ck_memberset_new(&c.set), 0);
	ck_memberset_foreach(auth->members, copy_held, &c);
	ck_assert(all == (ck_memberset_count(c.set) == ck_memberset_count(auth->members)));
	ck_assert_int_eq(ck_membership_replace(replica, auth->epoch, auth->gen, c.set), 0);
}

/* Sends d to the replica as the session would: filtered, or a snapshot. */
static enum view_result deliver(struct guest_view *v, uint16_t viewer, const struct view_filter *f,
				const struct ck_membership *auth, const struct ck_delta *d,
				struct ck_membership *replica)
{
	struct ck_delta out = { 0 };
	int r = view_filter_delta(v, viewer, f, auth, d, &out);

	ck_assert_int_ge(r, 0);
	if (r == VIEW_SNAPSHOT)
		snapshot_into(v, viewer, f, auth, replica);
	else
		ck_assert_int_eq(ck_membership_apply(replica, r == VIEW_SAME ? d : &out), 0);
	/* A filtered delta still fits its generations: the agent verifies that. */
	if (r == VIEW_FILTERED)
		ck_assert_uint_le(out.n_upserts + out.n_removed, d->new_gen - d->base_gen);
	ck_delta_reset(&out);
	return r;
}

struct world {
	struct ck_membership *auth, *replica;
	struct ck_memberset *set;
	struct view_filter f;
	struct guest_view v;
};

static void world_init(struct world *w, unsigned int n, uint16_t viewer)
{
	struct ck_member m;

	memset(w, 0, sizeof(*w));
	ck_assert_int_eq(ck_membership_new(&w->auth, EPOCH, 64), 0);
	ck_assert_int_eq(ck_membership_new(&w->replica, 0, 0), 0);
	ck_assert_int_eq(ck_memberset_new(&w->set), 0);
	for (uint16_t d = 1; d <= n; d++) {
		member_on(&m, d, 0, d % 2);
		ck_assert_int_eq(ck_memberset_put(w->set, &m), 0);
	}
	commit(w->auth, w->set, NULL);
	w->f = (struct view_filter){ .sees = same_bridge, .userdata = w->auth };
	snapshot_into(&w->v, viewer, &w->f, w->auth, w->replica);
}

static void world_free(struct world *w)
{
	view_forget(&w->v);
	ck_memberset_free(w->set);
	ck_membership_free(w->auth);
	ck_membership_free(w->replica);
}

/* Puts member domid on bridge (variant v) and delivers the change to viewer. */
static enum view_result move(struct world *w, uint16_t viewer, uint16_t domid,
			     unsigned int variant, unsigned int bridge)
{
	struct ck_delta d;
	struct ck_member m;
	enum view_result r;

	member_on(&m, domid, variant, bridge);
	ck_assert_int_eq(ck_memberset_put(w->set, &m), 0);
	commit(w->auth, w->set, &d);
	r = deliver(&w->v, viewer, &w->f, w->auth, &d, w->replica);
	ck_delta_reset(&d);
	assert_view(w->auth, w->replica, viewer, &w->f);
	return r;
}

START_TEST(snapshot_holds_only_the_viewers_bridge)
{
	struct world w;

	world_init(&w, 10, 4);	/* even domids on br0 */
	assert_view(w.auth, w.replica, 4, &w.f);
	ck_assert_uint_eq(ck_memberset_count(w.replica->members), 5);
	ck_assert(view_has(&w.v, 4));
	ck_assert(!view_has(&w.v, 3));
	world_free(&w);
}
END_TEST

START_TEST(each_kind_of_change)
{
	struct world w;
	struct ck_delta d;

	world_init(&w, 10, 4);
	/* A change of a member it sees: as it is. */
	ck_assert_int_eq(move(&w, 4, 6, 1, 0), VIEW_SAME);
	/* Of one it never saw: an empty delta, so it still acks the generation. */
	ck_assert_int_eq(move(&w, 4, 3, 1, 1), VIEW_FILTERED);
	/* One it saw moves away: its removal. */
	ck_assert_int_eq(move(&w, 4, 8, 1, 1), VIEW_FILTERED);
	ck_assert(!view_has(&w.v, 8));
	/* And back: its upsert, the delta as it is. */
	ck_assert_int_eq(move(&w, 4, 8, 2, 0), VIEW_SAME);
	ck_assert(view_has(&w.v, 8));
	/* Its own address changes: whom it sees does not, the delta goes as it is. */
	ck_assert_int_eq(move(&w, 4, 4, 7, 0), VIEW_SAME);
	/* Its own vif moves: a snapshot of the other bridge. */
	ck_assert_int_eq(move(&w, 4, 4, 8, 1), VIEW_SNAPSHOT);
	ck_assert(view_has(&w.v, 3));
	ck_assert(!view_has(&w.v, 6));

	/* A removal of one it does not hold is not passed on; of one it holds, is. */
	ck_assert_int_eq(ck_memberset_remove(w.set, 6), 0);
	commit(w.auth, w.set, &d);
	ck_assert_int_eq(deliver(&w.v, 4, &w.f, w.auth, &d, w.replica), VIEW_FILTERED);
	ck_delta_reset(&d);
	assert_view(w.auth, w.replica, 4, &w.f);
	ck_assert_int_eq(ck_memberset_remove(w.set, 5), 0);
	commit(w.auth, w.set, &d);
	ck_assert_int_eq(deliver(&w.v, 4, &w.f, w.auth, &d, w.replica), VIEW_SAME);
	ck_delta_reset(&d);
	assert_view(w.auth, w.replica, 4, &w.f);
	world_free(&w);
}
END_TEST

START_TEST(unknown_view_needs_a_snapshot)
{
	struct world w;
	struct ck_delta d, out;
	struct ck_member m;

	world_init(&w, 4, 2);
	view_forget(&w.v);
	member_on(&m, 3, 1, 1);
	ck_assert_int_eq(ck_memberset_put(w.set, &m), 0);
	commit(w.auth, w.set, &d);
	ck_assert_int_eq(view_filter_delta(&w.v, 2, &w.f, w.auth, &d, &out), VIEW_SNAPSHOT);
	ck_delta_reset(&d);
	world_free(&w);
}
END_TEST

/* Random churn: the viewer's replica, fed only what the filter passes, equals its view. */
START_TEST(random_churn_keeps_the_replica_equal_to_the_view)
{
	uint32_t rng = 0x7ea5u + (uint32_t)_i;
	unsigned int snapshots = 0, filtered = 0, same = 0;
	uint16_t viewer = 1 + th_below(&rng, 20);
	struct world w;

	world_init(&w, 20, viewer);
	for (unsigned int step = 0; step < 400; step++) {
		uint16_t domid = 1 + th_below(&rng, 24);
		struct ck_delta d;
		struct ck_member m;
		int r;

		if (domid != viewer && th_below(&rng, 4) == 0) {
			ck_memberset_remove(w.set, domid);
		} else {
			member_on(&m, domid, th_rand(&rng), th_below(&rng, BRIDGES));
			ck_assert_int_eq(ck_memberset_put(w.set, &m), 0);
		}
		commit(w.auth, w.set, &d);
		if (d.new_gen == d.base_gen) {
			ck_delta_reset(&d);
			continue;
		}
		r = deliver(&w.v, viewer, &w.f, w.auth, &d, w.replica);
		snapshots += r == VIEW_SNAPSHOT;
		filtered += r == VIEW_FILTERED;
		same += r == VIEW_SAME;
		ck_delta_reset(&d);
		assert_view(w.auth, w.replica, viewer, &w.f);
	}
	/* Every path was taken. */
	ck_assert_uint_gt(snapshots, 0);
	ck_assert_uint_gt(filtered, 0);
	ck_assert_uint_gt(same, 0);
	world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("random_churn_keeps_the_replica_equal_to_the_view");

	th_add(s, snapshot_holds_only_the_viewers_bridge);
	th_add(s, each_kind_of_change);
	th_add(s, unknown_view_needs_a_snapshot);
	/* No per-test clock, as th_add. */
	tcase_set_timeout(tc, 0);
	tcase_add_loop_test(tc, random_churn_keeps_the_replica_equal_to_the_view, 0, 8);
	suite_add_tcase(s, tc);
	return th_run(s);
}
