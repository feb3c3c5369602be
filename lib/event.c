// SPDX-License-Identifier: LGPL-2.1-or-later
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "event.h"
#include "logging.h"

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	log_info("signal %u: stopping", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int ck_event_new(sd_event **ret, const struct ck_event_signal *extra, size_t n_extra,
		 void *userdata)
{
	sd_event *e = NULL;
	sigset_t mask;
	int r;

	/* Blocked before the loop's signalfd exists, so none is delivered the default way. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	for (size_t i = 0; i < n_extra; i++)
		sigaddset(&mask, extra[i].signo);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&e);
	if (r < 0)
		return r;
	(void)sd_event_set_watchdog(e, true);
	r = sd_event_add_signal(e, NULL, SIGTERM, on_stop, NULL);
	r = r < 0 ? r : sd_event_add_signal(e, NULL, SIGINT, on_stop, NULL);
	for (size_t i = 0; r >= 0 && i < n_extra; i++)
		r = sd_event_add_signal(e, NULL, extra[i].signo, extra[i].handler, userdata);
	if (r < 0) {
		sd_event_unref(e);
		return r;
	}
	*ret = e;
	return 0;
}
