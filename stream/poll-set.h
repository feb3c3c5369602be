/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Many streams' descriptors behind one sd-event source: a nested epoll set, so that when a
 * thousand guests ack at once one dispatch serves every ready stream, instead of one loop
 * iteration (and one epoll_wait over every ready descriptor) per stream.  Each pass first
 * gathers what the inner epoll reports, lets each member clear what made it ready (a vchan's
 * event channel), then serves the members one by one; a member may leave the set at any
 * time, even while another is being served.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct poll_set;
struct poll_member;

typedef void (*poll_member_fn)(struct poll_member *m, uint32_t revents);

/* Embedded in what it watches; poll_set_add fills it in. */
struct poll_member {
	struct poll_set *set;
	struct poll_member *prev, *next;	/* in the set's ready list while revents != 0 */
	int fd;
	uint32_t revents;	/* what epoll reported since it was last served */
	/*
	 * Optional, called as epoll reports the descriptor, before any member is served: a
	 * level-triggered source consumes its notification here, so the pass's next
	 * epoll_wait does not report it again.
	 */
	poll_member_fn clear;
	poll_member_fn ready;	/* served: it may read, write, or leave the set */
};

/* What embeds the member m as its field: poll_member_owner(m, struct unix_stream, member). */
#define poll_member_owner(m, type, field) ((type *)((char *)(m) - offsetof(type, field)))

int poll_set_new(struct poll_set **ret, sd_event *event);
/* Every member must have left; NULL is a no-op. */
void poll_set_free(struct poll_set *ps);

/* events: EPOLLIN, EPOLLOUT, EPOLLET as for epoll_ctl. */
int poll_set_add(struct poll_set *ps, struct poll_member *m, int fd, uint32_t events,
		 poll_member_fn clear, poll_member_fn ready);
int poll_set_modify(struct poll_member *m, uint32_t events);
/* Before its descriptor is closed; a member not in a set is a no-op. */
void poll_set_remove(struct poll_member *m);
