/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A listening Unix stream socket that hands each new connection to its owner, and that never
 * spins: when the process (EMFILE) or the system (ENFILE) is out of descriptors, or the kernel
 * out of memory for one, it logs once (rate-limited), stops polling the socket (level-
 * triggered, it would stay readable), and accepts again when its owner says a descriptor
 * was freed (listener_resume) or, as a fallback for descriptors freed elsewhere, after
 * LISTENER_RETRY_USEC.  Both servers on Unix sockets (the control socket, the simulation's
 * agent socket) are one of these.
 *
 * A listener given a busy reply (the control socket's) does better than pause: it keeps one
 * descriptor in reserve, and when accept fails for the lack of one, it closes the reserve,
 * accepts, sends the reply, closes the connection and takes the reserve back.  Its peers are
 * then always answered, if only with "busy", never left waiting in the backlog.
 */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#define LISTENER_RETRY_USEC (250 * 1000)

struct listener;

/*
 * A new connection: fd is connected, non-blocking and close-on-exec, and now the callee's
 * (to close, or to keep).
 */
typedef void (*listener_accept_fn)(int fd, void *userdata);

/*
 * Listens at path (a stale socket there is replaced) with the given mode from the socket's
 * first moment.  what names it in logs ("control socket").
 */
int listener_new(struct listener **ret, sd_event *event, const char *what, const char *path,
		 mode_t mode, int backlog, listener_accept_fn on_accept, void *userdata);
/* Closes and unlinks the socket; NULL is a no-op. */
void listener_free(struct listener *l);

/*
 * Opens the reserve descriptor and keeps line (a whole reply, its '\n' included, copied) for
 * the peers it answers: 0 or -errno.
 */
int listener_set_busy_reply(struct listener *l, const char *line);

/* A descriptor was freed: if accepting was paused for the lack of one, try again now. */
void listener_resume(struct listener *l);
