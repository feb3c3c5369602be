/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event loop as both cokeeperd and cokeeper-agent run it under systemd: sd-event's
 * default loop, the watchdog pinged from the loop itself when WATCHDOG_USEC is set, SIGTERM
 * and SIGINT ending it (STOPPING=1, exit 0), SIGPIPE ignored (a peer's closed socket is an
 * error returned, not a death).  Built apart from libcokeeper, which knows no systemd.
 */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

struct ck_event_signal {
	int signo;
	sd_event_signal_handler_t handler;
};

/*
 * The loop, with the stopping signals and `extra` (SIGHUP for cokeeperd; handlers get
 * userdata) blocked and handled in it.  0 or a negative errno; *ret only on success.
 */
int ck_event_new(sd_event **ret, const struct ck_event_signal *extra, size_t n_extra,
		 void *userdata);
