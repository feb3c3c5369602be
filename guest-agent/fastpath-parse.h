/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one gate for what cokeeper-fp.ko multicasts on its "events" group
 * (include/uapi/linux/cokeeper_fp.h): one netlink message's bytes in, a struct ck_msg that
 * keeps every rule of the protocol out.  Pure: no socket, no allocation, no state, so the
 * unit test and the fuzzer (tests/fuzz/fuzz-fastpath-parse.c) drive exactly what the agent
 * runs.  Which family the message belongs to is the caller's check (its id is dynamic).
 */
#pragma once

#include <stddef.h>

#include "message.h"

/*
 * untrusted: len bytes holding one netlink message (header, genl header, attributes),
 * aligned as netlink messages are (4 bytes).  NULL and *out filled, or why it is refused.
 */
const char *fastpath_parse_event(const void *untrusted, size_t len, struct ck_msg *out);
