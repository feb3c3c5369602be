// SPDX-License-Identifier: GPL-2.0-only
/* Placeholder until the netlink writer lands: the kernel sink reports itself unavailable. */
#include <errno.h>

#include "logging.h"
#include "sink.h"

int sink_genl_new(struct sink **ret)
{
	return log_error_errno(-ENOSYS, "the kernel sink is not built yet; use --sink=memory");
}
