// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "logging.h"

static const char *prog = "cokeeper";
int ck_log_max_priority = LOG_INFO;
static bool journal;	/* stderr goes to journald: use <N> prefixes */

void ck_log_setup(const char *program, bool verbose)
{
	prog = program;
	ck_log_max_priority = verbose ? LOG_DEBUG : LOG_INFO;
	journal = getenv("JOURNAL_STREAM") != NULL || !isatty(STDERR_FILENO);
}

static void vlog(int priority, const char *suffix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vlog(int priority, const char *suffix, const char *fmt, va_list ap)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error",
					     "warning", "notice", "info", "debug" };
	char line[1024];
	int n;

	if (priority > ck_log_max_priority)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (journal)
		fprintf(stderr, "<%d>%s%s\n", priority, line, suffix);
	else
		fprintf(stderr, "%s: %s%s%s%s\n", prog,
			priority <= LOG_WARNING ? names[priority & 7] : "",
			priority <= LOG_WARNING ? ": " : "", line, suffix);
}

void ck_log_set_max_priority(int priority)
{
	ck_log_max_priority = priority;
}

void ck_logf(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(priority, "", fmt, ap);
	va_end(ap);
}

int ck_log_errno(int priority, int r, const char *fmt, ...)
{
	int e = r < 0 ? -r : r;
	const char *name = strerrorname_np(e);
	char suffix[128];
	va_list ap;

	/* The name too: "ENOBUFS" finds the code that returned it, the text does not. */
	snprintf(suffix, sizeof(suffix), ": %s (%s)", strerror(e), name ? name : "?");
	va_start(ap, fmt);
	vlog(priority, suffix, fmt, ap);
	va_end(ap);
	return r;
}

bool ck_log_limited(struct ck_ratelimit *rl, int priority, int r, const char *fmt, ...)
{
	unsigned int suppressed;
	char line[256], more[48] = "";
	va_list ap;

	if (!ck_ratelimit_allow(rl, ck_now_usec(), &suppressed))
		return false;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (suppressed)
		snprintf(more, sizeof(more), " (%u similar suppressed)", suppressed);
	if (r < 0)
		(void)ck_log_errno(priority, r, "%s%s", line, more);
	else
		ck_logf(priority, "%s%s", line, more);
	return true;
}
