/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a scan needs from a Xen host, behind ops so the one scan runs against the real
 * xenstore and libxl, or against the in-memory host of the simulation and the unit tests.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct domain_info {
	uint16_t domid;
	bool dying;
	bool shutdown;
	bool suspended;		/* shut down for a save or migration: the source of a migration */
	bool paused;
};

struct host_ops {
	/* A xenstore value, NUL-terminated, in one malloc()ed block; NULL with errno set. */
	char *(*read)(void *ctx, const char *path, unsigned int *len);
	/* A xenstore directory's entries, one malloc()ed block freed with free(); NULL + errno. */
	char **(*directory)(void *ctx, const char *path, unsigned int *num);
	/* Every domain the hypervisor knows, with its run state: a malloc()ed array. */
	int (*list_domains)(void *ctx, struct domain_info **ret, size_t *n);
};

struct host {
	const struct host_ops *ops;
	void *ctx;
};
