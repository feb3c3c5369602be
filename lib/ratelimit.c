// SPDX-License-Identifier: LGPL-2.1-or-later
#include "ratelimit.h"

bool ck_ratelimit_allow(struct ck_ratelimit *rl, uint64_t now_usec, unsigned int *suppressed)
{
	if (!rl->started || now_usec < rl->begin_usec ||
	    now_usec - rl->begin_usec >= rl->interval_usec) {
		rl->started = true;
		rl->begin_usec = now_usec;
		rl->done = 0;
	}
	if (rl->done >= rl->burst) {
		rl->suppressed++;
		return false;
	}
	rl->done++;
	if (suppressed)
		*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
