/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What cokeeperctl's subcommands share: the global options, parsed in main before the
 * subcommand's own.  A subcommand handler gets its own argv (argv[0] is its name) and
 * returns the exit status: 0, 1 for a failure or timeout, 2 for a usage error.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "metrics-text.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2

struct ctl_options {
	const char *control_path;
	bool json;
};

extern struct ctl_options ctl;

/* Resets getopt for a subcommand's own options, which start at its argv[1]. */
void ctl_getopt_reset(void);

int ctl_wait(int argc, char **argv);
int ctl_latency(int argc, char **argv);

/* stats' reply as metrics (ctl-metrics.c): 0, or -EIO if out could not take it. */
int ctl_metrics_print(struct json_object *stats, enum metrics_format format, FILE *out);
