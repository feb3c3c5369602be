// SPDX-License-Identifier: GPL-2.0-only
/*
 * lab-ms: prints CLOCK_MONOTONIC in whole milliseconds.
 *
 * Lab scenarios run in a busybox dom0, whose only shell clock is /proc/uptime with 10 ms
 * steps; convergence times of a few ms need a real clock.  Linked statically so that one
 * call costs a single small exec under TCG.
 */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("lab-ms: clock_gettime");
		return 1;
	}
	printf("%lld\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	return 0;
}
