/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client end of cokeeperd's control socket (cokeeperd/control/control.h), shared by cokeeperctl
 * and bench/ck-latency: connect, send a request line, and read reply lines with a bound.
 * Replies are untrusted: a line longer than its reader's cap is refused before the buffer
 * grows past the cap, not after.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define CONTROL_DEFAULT_PATH "/run/cokeeper/control.sock"
/* A members reply of a large host fits; a stream that never ends a line does not. */
#define CONTROL_REPLY_MAX ((size_t)64 << 20)

/*
 * The control protocol's major version this client understands (cokeeperd's
 * CONTROL_PROTOCOL_VERSION when they were built together).  A reply without "protocol" is
 * from a daemon older than the field, which spoke version 1.
 */
#define CONTROL_PROTOCOL_KNOWN 1

/*
 * Whether this client can read a reply or event: 0, -EPROTONOSUPPORT for a newer major
 * version (*version set: the caller says which), or -EBADMSG for a "protocol" that is no
 * positive integer.
 */
int control_check_protocol(struct json_object *untrusted, int64_t *version);

/* Returns a connected socket (blocking, close-on-exec) or -errno. */
int control_connect(const char *path);

/* Writes the whole line (which ends in '\n'): 0 or -errno. */
int control_send(int fd, const char *line, size_t len);

struct line_reader {
	char *buf;
	size_t start; /* where the first line not yet handed out begins */
	size_t len, cap, max;
};

void line_reader_init(struct line_reader *r, size_t max);
void line_reader_release(struct line_reader *r);

/*
 * One read(2) into the buffer: the number of bytes read, -ECONNRESET at end of stream,
 * -EMSGSIZE when the buffer holds max bytes and no line end, or -errno.
 */
int line_reader_fill(struct line_reader *r, int fd);

/*
 * The next complete line in the buffer, NUL-terminated in place without its '\n': 0 and
 * *line, or -EAGAIN when no complete line is buffered.  *line stays valid until the next
 * line_reader_fill.
 */
int line_reader_next(struct line_reader *r, char **line, size_t *len);

/* Blocks until a whole line is read: line_reader_next after as many fills as it takes. */
int line_reader_getline(struct line_reader *r, int fd, char **line, size_t *len);
