// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for cokeeperd's control socket: every input is one request line handed to
 * the control server's parsing (control_handle_line) and the daemon's own handler, with the
 * simulated source so the sim verbs run too.  It links no Xen library: the hub and its Xen-free
 * spokes are a library of their own.  Replies must always be JSON objects with an "ok" member
 * and the protocol version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control.h"
#include "daemon.h"
#include "logging.h"

static struct daemon *daemon_instance;
static char dir[] = "/tmp/cokeeper-fuzz-XXXXXX";

/* At libFuzzer's exit: the daemon unlinks its sockets, then the directory goes. */
static void remove_dir(void)
{
	daemon_free(daemon_instance);
	daemon_instance = NULL;
	(void)rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Root: the sim verbs need the admin role, and they are what this target is about. */
	static const struct control_peer admin = { .admin = true };
	struct json_object *reply, *ok, *version;
	bool watch;

	if (!daemon_instance) {
		static char control[64], agent[64];
		struct daemon_config cfg = { .source = &source_sim_ops,
					     .transport = &transport_unix_ops,
					     .control_mode = 0600, .queue_limit = 1 << 20 };

		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir);
		snprintf(control, sizeof(control), "%s/c", dir);
		snprintf(agent, sizeof(agent), "%s/a", dir);
		cfg.control_path = control;
		cfg.agent_socket = agent;
		ck_log_setup("fuzz-control", false);
		ck_log_set_max_priority(LOG_ERR);	/* the sim logs every create */
		if (daemon_new(&daemon_instance, &cfg) < 0)
			abort();
	}
	if (size > CONTROL_LINE_MAX)
		return 0;
	reply = control_handle_line((const char *)data, size, &admin, daemon_handle_request,
				    daemon_instance, &watch);
	if (!reply || !json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, "ok", &ok) ||
	    !json_object_object_get_ex(reply, "protocol", &version) ||
	    json_object_get_int(version) != CONTROL_PROTOCOL_VERSION)
		abort();
	json_object_put(reply);
	return 0;
}
