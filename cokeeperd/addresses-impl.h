/* SPDX-License-Identifier: GPL-2.0-only */
/* What addresses-core.c and addresses-control.c share: the hub's address state, and its helpers. */
#pragma once

#include "addresses.h"
#include "ratelimit.h"

struct addresses {
	struct addresses_config cfg;
	struct addresses_callbacks cb;
	void *userdata;
	struct ck_addrbook *book;
	struct addresses_counters counters;
	sd_event_source *expiry;	/* the next learned address to run out */
	sd_event_source *gc;		/* gone domains' entries, grace_usec after they went */
	sd_event_source *saver;		/* the state file, a moment after learned changes */
	struct ck_ratelimit log_limit;
};

/* Whether one of m's NICs has mac. */
bool addresses_has_mac(const struct ck_member *m, const uint8_t mac[CK_MAC_LEN]);

/* Every member with this uuid, or with a NIC with this MAC, merges again. */
void addresses_remerge_where(struct addresses *a, const uint8_t *uuid, const uint8_t *mac);

/* The state file now, if there is one (counted when it fails). */
int addresses_save(struct addresses *a);
