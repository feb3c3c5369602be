// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for cokeeperd's control socket: every input is one request line handed to
 * the daemon's own handler (control_handle), with the simulated source so the sim verbs run
 * too.  Replies must always be JSON objects with an "ok" member.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control.h"
#include "logging.h"

static struct daemon *daemon_instance;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *reply, *ok;
	bool watch;

	if (!daemon_instance) {
		static char dir[] = "/tmp/cokeeper-fuzz-XXXXXX";
		static char control[64], agent[64];
		struct daemon_config cfg = { .source = "sim", .transport = "unix",
					     .queue_limit = 1 << 20 };

		if (!mkdtemp(dir))
			abort();
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
	reply = control_handle(daemon_instance, (const char *)data, size, &watch);
	if (!reply || !json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, "ok", &ok))
		abort();
	json_object_put(reply);
	return 0;
}
