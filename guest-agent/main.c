// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-agent: runs in each domU, keeps the kernel's co-resident table equal to what
 * cokeeperd in dom0 says lives on this host.  No test driver: that is the simulation's own
 * program (tests/sim/agent-driver.c).
 */
#include "cli.h"

int main(int argc, char **argv)
{
	return agent_main(argc, argv, NULL);
}
