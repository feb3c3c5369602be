/* SPDX-License-Identifier: GPL-2.0-only */
/* The control protocol's two reply shapes, for the daemon's commands and the sources' own. */
#pragma once

#include <json-c/json.h>

/* {"ok":true} */
struct json_object *reply_ok(void);
/* {"ok":false,"error":"…"} */
struct json_object *reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
