/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging for the daemons and tools: one line per message on stderr, prefixed with the
 * sd-daemon priority ("<3>") when journald reads it, or a readable level on a terminal.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "ratelimit.h"

void ck_log_setup(const char *program, bool verbose);
/* Messages less urgent than priority are dropped (LOG_INFO by default). */
void ck_log_set_max_priority(int priority);
void ck_logf(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs with strerror(-r) appended and returns r (a negative errno), for `return log_error_errno(r, ...)`. */
int ck_log_errno(int priority, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * For what a peer can make us log: through rl, with strerror(-r) appended when r < 0; the
 * next line that gets through says how many were held back.  True if it was logged.
 */
bool ck_log_limited(struct ck_ratelimit *rl, int priority, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Messages less urgent than this are dropped: ck_log_set_max_priority() sets it. */
extern int ck_log_max_priority;

/* Its arguments are not even computed unless --verbose: it sits on per-guest paths. */
#define log_debug(...)                                                                   \
	do {                                                                             \
		if (ck_log_max_priority >= LOG_DEBUG)                                    \
			ck_logf(LOG_DEBUG, __VA_ARGS__);                                 \
	} while (0)
#define log_info(...) ck_logf(LOG_INFO, __VA_ARGS__)
#define log_notice(...) ck_logf(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) ck_logf(LOG_WARNING, __VA_ARGS__)
#define log_error(...) ck_logf(LOG_ERR, __VA_ARGS__)
#define log_error_errno(r, ...) ck_log_errno(LOG_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) ck_log_errno(LOG_WARNING, (r), __VA_ARGS__)
#define log_notice_errno(r, ...) ck_log_errno(LOG_NOTICE, (r), __VA_ARGS__)
