/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A JSON-lines server on a Unix stream socket: cokeeperd's control socket for orchestrators
 * and cokeeperctl.  It owns its clients and their buffers, turns each request line into one
 * object with a "cmd" string, hands it to the handler it was created with, and writes the
 * reply; clients that asked to watch also get every event it is handed to broadcast.  What
 * the commands mean it does not know (daemon.c does; the protocol is written out there).
 *
 * Requests are untrusted: a line is at most CONTROL_LINE_MAX bytes, a client whose replies
 * pile up unread past CONTROL_OUTPUT_MAX is disconnected.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include <json-c/json.h>

#define CONTROL_LINE_MAX 4096
#define CONTROL_OUTPUT_MAX (4u << 20)

struct control;

/*
 * One request: returns the reply (owned by the caller), never NULL.  Setting *watch makes
 * the client a watcher from the reply on.
 */
typedef struct json_object *(*control_handler_fn)(const char *cmd, struct json_object *request,
						  bool *watch, void *userdata);

int control_new(struct control **ret, sd_event *event, const char *path, mode_t mode,
		control_handler_fn handler, void *userdata);
void control_free(struct control *c);

bool control_has_watchers(const struct control *c);
/* Sends o to every watcher; one that does not read is dropped. */
void control_broadcast(struct control *c, struct json_object *o);

/* One request line through the handler (for the server, and for the fuzzer). */
struct json_object *control_handle_line(const char *untrusted_line, size_t len,
					control_handler_fn handler, void *userdata, bool *watch);
