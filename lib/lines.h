/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Splits bytes as they arrive on a connection into '\n'-terminated lines of bounded length:
 * the control socket's request framing, kept pure so the fuzzer and the unit tests run the
 * very code the server does.  A line longer than the bound ends the framing for good: what
 * follows is that line's tail, and a tail is never a line of its own.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A complete line, without its '\n'; a negative errno stops the feed and is returned. */
typedef int (*ck_lines_fn)(const char *line, size_t len, void *userdata);

struct ck_lines {
	char *buf;		/* the caller's, max bytes: the line being assembled */
	size_t max;		/* the longest line, its '\n' not counted */
	size_t len;
	bool overlong;		/* a line passed max: everything from here on is dropped */
};

void ck_lines_init(struct ck_lines *l, char *buf, size_t max);

/*
 * Hands each line completed by data to fn, in order.  Returns 0, fn's error, or -EMSGSIZE
 * (once, when a line passes max; the lines before it were handed over).  Once overlong, every
 * later feed drops its bytes and returns 0.
 */
int ck_lines_feed(struct ck_lines *l, const char *data, size_t n, ck_lines_fn fn,
		  void *userdata);
