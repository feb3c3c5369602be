// SPDX-License-Identifier: LGPL-2.1-or-later
/* A guest application's view: the public header alone, the installed .pc, the shared library. */
#include <cokeeper-client.h>
#include <stddef.h>

int main(void)
{
	struct ck_client_peer peer = { .domid = 0 };

	ck_client_close(NULL);	/* a no-op: the program only proves it links and loads */
	return peer.domid;
}
