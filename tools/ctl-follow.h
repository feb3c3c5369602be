/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What cokeeperctl wait and latency share (ctl-follow.c): following cokeeperd's watch stream
 * until a condition holds, and reporting per guest.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "watch-follow.h"

#define DEFAULT_TIMEOUT_S 30.0

extern const char *ctl_prog;

int ctl_usage_error(const char *cmd, const char *what, const char *arg);
int ctl_parse_key(const char *cmd, const char *s, struct follow_key *k);
int ctl_parse_timeout(const char *s, uint64_t *usec);
const char *ctl_strerror_follow(struct follow *f, int r);
int ctl_run_until(struct follow *f, uint64_t deadline, bool (*done)(struct follow *f, void *),
	void *data, pid_t *child, int *status, int pidfd);
bool ctl_ready(struct follow *f, void *data);
bool ctl_converged(struct follow *f, void *data);
int ctl_live_guests(struct follow *f);
struct json_object *ctl_guests_json(struct follow *f, uint64_t origin, bool print);
int64_t ctl_max_latency(struct follow *f);
uint64_t ctl_converged_after(struct follow *f, uint64_t origin);
void ctl_print_json(struct json_object *o);
int ctl_open_follow(
	struct follow **f, const char *cmd, const struct follow_key *key, bool absent);
