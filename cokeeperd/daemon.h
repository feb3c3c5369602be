/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeperd's hub: the authoritative membership and the only place that ties the spokes.  A
 * source says something changed; the coalesced rescan asks it for the member set; the commit
 * (one generation per member change) goes to the guests, the control socket's watchers, and
 * back to the source and the transport, which follow the members.  The transport's streams
 * go to the guests, and the guests' ended sessions back to the transport.  The control
 * socket's commands are answered here, from what each spoke reports of itself.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "source.h"
#include "fastpath-relay.h"
#include "transport.h"

struct daemon;
struct control_peer;

#define DAEMON_LEARN_DHCP 0x1		/* DHCP leases to guests, and their releases */
#define DAEMON_LEARN_ARP 0x2		/* ARP and Neighbour Advertisements from guests */

struct daemon_config {
	const struct source_ops *source;
	const struct transport_ops *transport;
	const char *control_path;
	mode_t control_mode;
	unsigned int max_control_clients;	/* 0 here and below: control.h's default */
	unsigned int max_watchers;
	unsigned int max_control_clients_per_uid;	/* read-only uids */
	unsigned int max_watchers_per_uid;
	unsigned int control_idle_timeout_sec;
	unsigned int control_max_age_sec;		/* read-only clients */
	bool admin_group;			/* false: only root may change state */
	gid_t admin_gid;
	const char *agent_socket;	/* unix transport */
	unsigned int poll_interval_ms;
	size_t queue_limit;		/* bytes queued per guest before it is resynced */
	unsigned int max_guests;	/* agent sessions at once; 0: guests.h's default */
	uint64_t hello_timeout_usec;	/* a new session's deadline for its Hello; 0: default */
	struct fastpath_relay_config fastpath;	/* zeros: fastpath-relay.h's defaults */
	const char *fastpath_policy;	/* NULL: FASTPATH_POLICY_PATH, or the defaults without it */
	bool include_dom0;
	unsigned int learn;		/* DAEMON_LEARN_*: what the vifs teach; 0: nothing */
	bool trust_guest_addresses;	/* a guest's attr/vif claims are used (lowest trust) */
	const char *address_state;	/* the orchestrator's addresses; NULL: not kept */
	uint64_t address_grace_usec;	/* a gone domain's addresses wait this long; 0: 10 s */
};

int daemon_new(struct daemon **ret, const struct daemon_config *cfg);
void daemon_free(struct daemon *d);
int daemon_run(struct daemon *d);

/*
 * One control request, as the control socket hands it over (also for the fuzzer): the
 * reply, never NULL; *watch when the client is to follow changes.
 */
struct json_object *daemon_handle_request(const char *cmd, struct json_object *request,
					  const struct control_peer *peer, bool *watch,
					  void *userdata);
