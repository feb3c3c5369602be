/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unix stream sockets: a ck_stream over a connected socket (an agent's in the simulation, a
 * control client's), and the listening socket both servers open the same way.
 */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "poll-set.h"
#include "stream.h"

/*
 * Takes over fd (non-blocking, connected) on success; label "unix:<fd>".  Watched by an
 * sd-event source of its own, or, _in, as a member of a poll set (many peers, one server).
 */
int stream_unix_new(struct ck_stream **ret, sd_event *event, int fd, uint16_t domid);
int stream_unix_new_in(struct ck_stream **ret, struct poll_set *set, int fd, uint16_t domid);

/*
 * Wakes the owner only when the socket becomes readable or writable, not while it stays so:
 * one epoll_wait no longer returns every guest that has unread input, which with a thousand
 * guests made each of the loop's iterations cost a thousand events.  The owner must then read
 * until -EAGAIN, or come back by itself for what it leaves (guests.c does both).
 */
int stream_unix_set_edge_triggered(struct ck_stream *s);

/*
 * A non-blocking listening socket at path with the given mode, which it has from its first
 * moment (the umask is set around bind), replacing a stale socket file.  Returns the fd.
 */
int unix_listen(const char *path, mode_t mode, int backlog);

/* Connects (blocking: a local socket answers at once) and returns a non-blocking fd. */
int unix_connect(const char *path);
