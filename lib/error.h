/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A human-readable reason that travels with a negative errno from the place that knows what
 * went wrong (a verifier, a decoder) to the one place that reports it with its own context.
 */
#pragma once

#define CK_ERROR_MSG_MAX 160

struct ck_error {
	char msg[CK_ERROR_MSG_MAX];
};

/* Records the reason (if err is not NULL) and returns code, which must be a negative errno. */
int ck_error_set(struct ck_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
