// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the replies of xenstored that cokeeperd's pipelined reads take in
 * (cokeeperd/xspipe.c): each input is what "xenstored" writes on the connection, after which
 * it stops writing.  The batch asks for three keys.  Invariants beyond "no crash, no leak, no
 * hang": a failed batch sets no value; a successful one answered every key at most once.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xspipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"/local/domain/0/backend/vif/1/0/mac",
		"/local/domain/0/backend/vif/1/0/ip",
		"/local/domain/1/name",
	};
	char *values[3];
	struct xspipe *p;
	int sv[2], r;

	/* More than a socket buffer holds would block the writer: the parser sees it all anyway. */
	if (size > 65536)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR);
	if (xspipe_new(&p, sv[0]) < 0)
		abort();
	r = xspipe_read_many(p, paths, 3, values);
	for (int i = 0; i < 3; i++) {
		if (r < 0 && values[i])
			abort();
		free(values[i]);
	}
	xspipe_free(p);
	close(sv[1]);
	return 0;
}
