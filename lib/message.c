// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdlib.h>
#include <string.h>

#include "message.h"

void ck_msg_reset(struct ck_msg *msg)
{
	switch (msg->type) {
	case CK_MSG_SNAPSHOT:
		free(msg->snapshot.members);
		break;
	case CK_MSG_DELTA:
		ck_delta_reset(&msg->delta);
		break;
	default:
		break;
	}
	memset(msg, 0, sizeof(*msg));
}

const char *ck_msg_type_name(enum ck_msg_type type)
{
	static const char *const names[] = {
		[CK_MSG_HELLO] = "hello", [CK_MSG_SNAPSHOT] = "snapshot",
		[CK_MSG_DELTA] = "delta", [CK_MSG_ACK] = "ack", [CK_MSG_BYE] = "bye",
	};

	return type > CK_MSG_UNSPEC && type <= CK_MSG_MAX ? names[type] : "unknown";
}
