/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where the hub keeps what it knows of guests' addresses besides the toolstack's (issue 22):
 * the orchestrator's (control requests, kept across restarts in a state file) and the learned
 * ones (what the learning spoke saw on a vif), in one address book (lib/addrbook.h) that
 * every scan merges into its members.  When an entry changes, the domains it names are
 * merged again (the remerge callback: the source's cached member plus the book, no xenstore
 * read) and the usual commit sends the change on.  Entries leave with their domain: a uuid
 * or MAC no member has had, at every check, for grace_usec.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include <json-c/json.h>

#include "addrbook.h"
#include "membership.h"

struct addresses;

struct addresses_config {
	sd_event *event;
	const struct ck_membership *membership;	/* read only: the last commit */
	const char *state_path;		/* the orchestrator's addresses; NULL: not kept */
	uint64_t grace_usec;		/* how long a gone domain's entries wait; 0: 10 s */
};

struct addresses_callbacks {
	/* domid's member must be merged with the book again, and committed if it changed. */
	void (*remerge)(uint16_t domid, void *userdata);
	/* Optional: domid's member as read, every address given (the guest's claims too). */
	int (*as_read)(uint16_t domid, struct ck_member *out, void *userdata);
};

struct addresses_counters {
	uint64_t leases;		/* DHCP leases that changed a MAC's address */
	uint64_t renewals;		/* leases that only moved an expiry */
	uint64_t releases;		/* DHCPRELEASEs that dropped one */
	uint64_t naks;			/* DHCPNAKs that voided a lease */
	uint64_t expired;		/* learned addresses whose lease ran out */
	uint64_t arp_learned;		/* first addresses learned from ARP or NDP */
	uint64_t arp_taken;		/* ARP/NDP for an address another MAC learned first */
	uint64_t not_member;		/* learned events for a MAC that is not that vif's member */
	uint64_t orchestrator_sets;	/* control requests that changed an entry */
	uint64_t dropped;		/* entries of domains that went */
	uint64_t save_failures;		/* state file writes that failed */
};

int addresses_new(struct addresses **ret, const struct addresses_config *cfg,
		  const struct addresses_callbacks *cb, void *userdata);
void addresses_free(struct addresses *a);

/* scan_options.addresses: adds the book's addresses to a member as read. */
void addresses_merge(void *data, struct ck_member *m);

/*
 * After a commit: check true after one that removed a member, and after the first (which
 * shows what the state file named): entries of what no member holds start their grace.
 */
void addresses_committed(struct addresses *a, bool check);

/* What the learning spoke saw on domid's vif, for mac. */
void addresses_lease(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		     uint32_t ipv4, uint32_t lease_s);
void addresses_nak(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN]);
void addresses_release(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
		       uint32_t ipv4);
void addresses_neighbour(struct addresses *a, uint16_t domid, const uint8_t mac[CK_MAC_LEN],
			 const struct ck_addr *addr);

/*
 * Control: "addresses" lists every address the hub knows of each member and whether it is
 * used; "addresses-set" ({"op":"set|add|clear","domain":…,"mac":…,"addresses":[…]}) changes
 * the orchestrator's.  Both return the reply.
 */
struct json_object *addresses_show(struct addresses *a, struct json_object *req);
struct json_object *addresses_change(struct addresses *a, struct json_object *req);

const struct addresses_counters *addresses_counters(const struct addresses *a);
