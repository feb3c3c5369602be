// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the control socket's line handling: the bytes a client sends, as they
 * arrive in reads of a size the input picks, go through the server's own framing
 * (lib/lines.c, with the server's CONTROL_LINE_MAX buffer), each line through
 * control_handle_line and the daemon's handler (the simulated source, so the sim verbs run),
 * with the role the input picks.  What it checks besides the sanitizers: no line is longer
 * than CONTROL_LINE_MAX or holds a '\n', nothing after an over-long line reaches the handler
 * (the smuggling of issue 11), a read-only peer never gets a state-changing verb through, and
 * every reply is a JSON object with "ok" and this "protocol".
 *
 * Input: byte 0 is bit 0 admin, bits 1-4 the read size (1 << n, at most CONTROL_LINE_MAX,
 * as the server reads); the rest is the client's byte stream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control.h"
#include "daemon.h"
#include "lines.h"
#include "logging.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daemon *daemon_instance;
static char dir[] = "/tmp/cokeeper-fuzz-lines-XXXXXX";

/* At libFuzzer's exit: the daemon unlinks its sockets, then the directory goes. */
static void remove_dir(void)
{
	daemon_free(daemon_instance);
	daemon_instance = NULL;
	(void)rmdir(dir);
}

struct feed {
	struct control_peer peer;
	bool overlong;		/* the framing has ended: the handler must not run again */
};

/* The commands a read-only peer may get an ok for (cokeeper-control(7), PERMISSIONS). */
static bool reads_only(const char *line, size_t len)
{
	static const char *const reads[] = { "members", "guests", "stats", "watch", "addresses" };
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req, *cmd;
	bool yes = false;

	if (!tok)
		abort();
	req = json_tokener_parse_ex(tok, line, (int)len);
	if (req && json_object_object_get_ex(req, "cmd", &cmd))
		for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
			yes |= !strcmp(json_object_get_string(cmd), reads[i]);
	json_object_put(req);
	json_tokener_free(tok);
	return yes;
}

static int on_line(const char *line, size_t len, void *userdata)
{
	struct feed *f = userdata;
	struct json_object *reply, *ok, *version;
	bool watch;

	if (f->overlong || len > CONTROL_LINE_MAX || memchr(line, '\n', len))
		abort();
	reply = control_handle_line(line, len, &f->peer, daemon_handle_request, daemon_instance,
				    &watch);
	if (!reply || !json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, "ok", &ok) ||
	    !json_object_object_get_ex(reply, "protocol", &version) ||
	    json_object_get_int(version) != CONTROL_PROTOCOL_VERSION)
		abort();
	if (!f->peer.admin && json_object_get_boolean(ok) && !reads_only(line, len))
		abort();
	json_object_put(reply);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[CONTROL_LINE_MAX];
	static unsigned long runs;
	struct ck_lines lines;
	struct feed f = { 0 };
	size_t chunk;

	/*
	 * A fresh simulated host now and then: every sim-create stays, and a host grown to
	 * tens of thousands of domains would make each run slower than the last.
	 */
	if (++runs % 64 == 0) {
		daemon_free(daemon_instance);
		daemon_instance = NULL;
	}
	if (!daemon_instance) {
		static char control[64], agent[64];
		struct daemon_config cfg = { .source = &source_sim_ops,
					     .transport = &transport_unix_ops,
					     .control_mode = 0600, .queue_limit = 1 << 20 };

		if (!control[0]) {
			if (!mkdtemp(dir))
				abort();
			atexit(remove_dir);
			snprintf(control, sizeof(control), "%s/c", dir);
			snprintf(agent, sizeof(agent), "%s/a", dir);
			ck_log_setup("fuzz-control-lines", false);
			ck_log_set_max_priority(LOG_ERR);	/* the sim logs every create */
		}
		cfg.control_path = control;
		cfg.agent_socket = agent;
		if (daemon_new(&daemon_instance, &cfg) < 0)
			abort();
	}
	if (size < 1)
		return 0;
	f.peer.admin = data[0] & 1;
	f.peer.uid = f.peer.admin ? 0 : 1000;
	chunk = (size_t)1 << ((data[0] >> 1) & 0x0f);
	if (chunk > CONTROL_LINE_MAX)
		chunk = CONTROL_LINE_MAX;
	data++;
	size--;
	ck_lines_init(&lines, buf, sizeof(buf));
	while (size > 0) {
		size_t n = size < chunk ? size : chunk;
		int r = ck_lines_feed(&lines, (const char *)data, n, on_line, &f);

		if (r == -EMSGSIZE) {
			if (f.overlong)
				abort();	/* -EMSGSIZE comes once */
			f.overlong = true;	/* the server replies and closes; keep feeding */
		} else if (r != 0) {
			abort();
		}
		data += n;
		size -= n;
	}
	return 0;
}
