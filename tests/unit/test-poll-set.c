// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "poll-set.h"

/* More than one epoll_wait's batch, so that a pass has to ask again. */
#define MANY 300

struct member {
	struct poll_member m;
	int fd;
	unsigned int served;
	uint32_t revents;
	struct member *evict;	/* leaves the set (and is freed) when this one is served */
};

static struct member *last_served;
static unsigned int evictions;

static struct member *owner(struct poll_member *m)
{
	return poll_member_owner(m, struct member, m);
}

/* As a vchan's event channel: consumed as it is reported. */
static void consume(struct poll_member *m, uint32_t revents)
{
	uint64_t count;

	ck_assert_int_eq(read(owner(m)->fd, &count, sizeof(count)), sizeof(count));
}

static void drop(struct member *x)
{
	poll_set_remove(&x->m);
	close(x->fd);
	free(x);
}

static void served(struct poll_member *m, uint32_t revents)
{
	struct member *x = owner(m);

	x->served++;
	x->revents = revents;
	last_served = x;
	if (x->evict) {
		drop(x->evict);
		x->evict = NULL;
		evictions++;
	}
}

static struct member *add_eventfd(struct poll_set *ps, poll_member_fn clear)
{
	struct member *x = calloc(1, sizeof(*x));

	ck_assert_ptr_nonnull(x);
	x->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(x->fd, 0);
	ck_assert_int_eq(poll_set_add(ps, &x->m, x->fd, EPOLLIN, clear, served), 0);
	return x;
}

static void signal_member(struct member *x)
{
	uint64_t one = 1;

	ck_assert_int_eq(write(x->fd, &one, sizeof(one)), sizeof(one));
}

START_TEST(every_ready_member_in_one_dispatch)
{
	struct member *x[MANY];
	struct poll_set *ps;
	sd_event *e;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(poll_set_new(&ps, e), 0);
	for (int i = 0; i < MANY; i++)
		x[i] = add_eventfd(ps, consume);
	for (int i = 0; i < MANY; i++)
		signal_member(x[i]);
	ck_assert_int_gt(sd_event_run(e, 0), 0);
	for (int i = 0; i < MANY; i++) {
		ck_assert_uint_eq(x[i]->served, 1);
		ck_assert_uint_eq(x[i]->revents, EPOLLIN);
	}
	/* Each was consumed as it was reported: nothing is left for another pass. */
	ck_assert_int_eq(sd_event_run(e, 0), 0);
	for (int i = 0; i < MANY; i++)
		drop(x[i]);
	poll_set_free(ps);
	sd_event_unref(e);
}
END_TEST

START_TEST(level_triggered_unconsumed_is_served_once_per_pass)
{
	struct member *x[MANY];
	struct poll_set *ps;
	sd_event *e;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(poll_set_new(&ps, e), 0);
	for (int i = 0; i < MANY; i++) {
		x[i] = add_eventfd(ps, NULL);
		signal_member(x[i]);
	}
	/* Still readable after each pass: served once a pass, and the pass ends. */
	for (unsigned int pass = 1; pass <= 2; pass++) {
		ck_assert_int_gt(sd_event_run(e, 0), 0);
		for (int i = 0; i < MANY; i++)
			ck_assert_uint_eq(x[i]->served, pass);
	}
	for (int i = 0; i < MANY; i++)
		drop(x[i]);
	poll_set_free(ps);
	sd_event_unref(e);
}
END_TEST

START_TEST(a_member_that_leaves_mid_pass_is_not_served)
{
	struct member *a, *b;
	struct poll_set *ps;
	sd_event *e;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(poll_set_new(&ps, e), 0);
	a = add_eventfd(ps, consume);
	b = add_eventfd(ps, consume);
	/* Whichever is served first frees the other, which was gathered too. */
	a->evict = b;
	b->evict = a;
	signal_member(a);
	signal_member(b);
	evictions = 0;
	ck_assert_int_gt(sd_event_run(e, 0), 0);
	ck_assert_uint_eq(evictions, 1);
	ck_assert_uint_eq(last_served->served, 1);
	drop(last_served);
	ck_assert_int_eq(sd_event_run(e, 0), 0);
	poll_set_free(ps);
	sd_event_unref(e);
}
END_TEST

START_TEST(write_readiness_is_asked_for)
{
	struct member x = { .fd = -1 };
	struct poll_set *ps;
	sd_event *e;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(poll_set_new(&ps, e), 0);
	ck_assert_int_eq(poll_set_add(ps, &x.m, sv[0], EPOLLIN | EPOLLET, NULL, served), 0);
	ck_assert_int_eq(sd_event_run(e, 0), 0);
	ck_assert_int_eq(poll_set_modify(&x.m, EPOLLIN | EPOLLOUT | EPOLLET), 0);
	ck_assert_int_gt(sd_event_run(e, 0), 0);
	ck_assert_uint_eq(x.served, 1);
	ck_assert_uint_eq(x.revents, EPOLLOUT);
	/* Edge-triggered: writable still, but no new edge. */
	ck_assert_int_eq(sd_event_run(e, 0), 0);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_gt(sd_event_run(e, 0), 0);
	ck_assert_uint_eq(x.served, 2);
	ck_assert_uint_ne(x.revents & EPOLLIN, 0);
	poll_set_remove(&x.m);
	poll_set_remove(&x.m);	/* a second time: a no-op */
	ck_assert_int_eq(poll_set_modify(&x.m, EPOLLIN), -EINVAL);
	poll_set_free(ps);
	sd_event_unref(e);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("poll-set");

	th_add(s, every_ready_member_in_one_dispatch);
	th_add(s, level_triggered_unconsumed_is_served_once_per_pass);
	th_add(s, a_member_that_leaves_mid_pass_is_not_served);
	th_add(s, write_readiness_is_asked_for);
	return th_run(s);
}
