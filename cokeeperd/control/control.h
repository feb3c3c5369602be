/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A JSON-lines server on a Unix stream socket: cokeeperd's control socket for orchestrators
 * and cokeeperctl.  It owns its clients and their buffers, turns each request line into one
 * object with a "cmd" string, hands it to the handler it was created with along with who
 * asked (the peer's credentials and role), and writes the reply; clients that asked to watch
 * also get every event it is handed to broadcast.  What the commands mean, and which of them
 * need the admin role, it does not know (daemon.c does; the protocol is written out there).
 *
 * Clients are untrusted and what they may hold is bounded:
 *   - at most max_clients at once (one more is told so and closed), at most max_watchers of
 *     them watching, and of each the last eighth is kept for admins, while one read-only uid
 *     holds at most max_clients_per_uid and max_watchers_per_uid of them (quota.h);
 *   - requests are read one at a time: the next line is not read while the reply to the
 *     last is unsent, so a client that pipelines requests and never reads holds one reply,
 *     and the rest wait in its own socket's buffer, not in cokeeperd's memory;
 *   - a client whose unread output passes CONTROL_OUTPUT_MAX (CONTROL_WATCHER_OUTPUT_MAX for
 *     a watcher) is disconnected, and so is a read-only client whose uid's unread output,
 *     over all its connections, passes CONTROL_UNREAD_PER_UID_MAX;
 *   - a client that sends no request for idle_timeout_sec is closed (watchers excepted), and
 *     a read-only one is closed max_age_sec after it connected however many it sends: one
 *     clock that a trickle of requests cannot keep resetting;
 *   - a line is at most CONTROL_LINE_MAX bytes (a longer one closes the connection and
 *     nothing after it is read as a request);
 *   - out of descriptors, a new client is answered "busy: out of descriptors" and closed
 *     (the listener keeps one in reserve for it), never left waiting in the backlog.
 *
 * Roles come from SO_PEERCRED and SO_PEERGROUPS at accept: root, and a peer whose primary or
 * supplementary groups include admin_gid, are admins; every other peer the socket's mode
 * lets in is read-only.
 *
 * Every object written carries "protocol": CONTROL_PROTOCOL_VERSION, added here, so that no
 * handler can forget it.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include <json-c/json.h>

/*
 * The protocol's major version, in every line cokeeperd writes ("protocol":1): replies,
 * errors, the server's own refusals and watch events.  Adding a verb, a field or an event is
 * no new version (clients ignore what they do not know); changing or removing one is.
 */
#define CONTROL_PROTOCOL_VERSION 1

#define CONTROL_LINE_MAX 4096
#define CONTROL_OUTPUT_MAX (4u << 20)
/*
 * A watcher's replies are the members (about 300 bytes each: 300 KiB for 1,024 guests) and
 * then events; 1 MiB leaves room for a burst, and max_watchers non-reading watchers hold at
 * most max_watchers MiB.
 */
#define CONTROL_WATCHER_OUTPUT_MAX (1u << 20)

/*
 * One uid's replies and events left unread, over all its connections (read-only uids): a
 * members reply of a 1,024-guest host (300 KiB) on each of its connections, or its watchers
 * at their own cap, with room to spare; what one read-only user can make cokeeperd hold.
 */
#define CONTROL_UNREAD_PER_UID_MAX (8u << 20)

/* Sized for a 1,024-guest host: orchestrators and cokeeperctl, not one client per guest. */
#define CONTROL_MAX_CLIENTS_DEFAULT 64
#define CONTROL_MAX_WATCHERS_DEFAULT 16
/* A quarter of each, so that one read-only user leaves room for others. */
#define CONTROL_MAX_CLIENTS_PER_UID_DEFAULT 16
#define CONTROL_MAX_WATCHERS_PER_UID_DEFAULT 4
#define CONTROL_IDLE_TIMEOUT_DEFAULT_SEC 60
/*
 * Far past any one command's session (cokeeperctl's, an orchestrator's): what stays longer
 * is a client holding a slot, which watches (capped per uid) or reconnects.
 */
#define CONTROL_MAX_AGE_DEFAULT_SEC 600

struct control;

struct control_config {
	const char *path;
	mode_t mode;
	unsigned int max_clients;	/* 0: CONTROL_MAX_CLIENTS_DEFAULT */
	unsigned int max_watchers;	/* 0: CONTROL_MAX_WATCHERS_DEFAULT */
	unsigned int max_clients_per_uid;	/* read-only uids; 0: the default */
	unsigned int max_watchers_per_uid;	/* read-only uids; 0: the default */
	unsigned int idle_timeout_sec;	/* 0: CONTROL_IDLE_TIMEOUT_DEFAULT_SEC */
	unsigned int max_age_sec;	/* read-only clients; 0: CONTROL_MAX_AGE_DEFAULT_SEC */
	bool admin_group;		/* false: only root is an admin */
	gid_t admin_gid;
};

/* Who sent a request, as the kernel told at connect time. */
struct control_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool admin;		/* may run commands that change state */
};

/*
 * One request: returns the reply (owned by the caller), never NULL.  Setting *watch makes
 * the client a watcher from the reply on (unless it may not watch: it gets an error instead).
 */
typedef struct json_object *(*control_handler_fn)(const char *cmd, struct json_object *request,
						  const struct control_peer *peer, bool *watch,
						  void *userdata);

int control_new(struct control **ret, sd_event *event, const struct control_config *cfg,
		control_handler_fn handler, void *userdata);
void control_free(struct control *c);

bool control_has_watchers(const struct control *c);
/* The watch streams open now (a client knows its wait is registered once it counts). */
unsigned int control_watchers(const struct control *c);
/* Sends o to every watcher; one that does not read is dropped. */
void control_broadcast(struct control *c, struct json_object *o);

/* One request line through the handler (for the server, and for the fuzzers): the reply, versioned. */
struct json_object *control_handle_line(const char *untrusted_line, size_t len,
					const struct control_peer *peer,
					control_handler_fn handler, void *userdata, bool *watch);
