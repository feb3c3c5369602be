/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The address book: the addresses dom0 has for its guests besides the toolstack's, kept
 * where a scan cannot see them and merged into each member as read (cokeeperd's scan
 * options), before sources/conflicts.c decides who keeps what.
 *
 * - The orchestrator's: set by an admin over the control socket, by domain uuid (so they
 *   follow a localhost migration) and NIC (a MAC, or the domain's first NIC).
 * - The learned ones: what dom0 saw on a guest's vif, by MAC.  A DHCP lease (one IPv4 per
 *   MAC, replaced by the next, gone at its expiry or release) is the DHCP server's word and
 *   takes its address from any other MAC that learned it; ARP and NDP give a MAC the first
 *   address it answers for that no other MAC has learned, and nothing after.  So a learned
 *   address belongs to one MAC at most, and a guest can never take one from another guest by
 *   answering for it first.  Against the toolstack's and the orchestrator's, trust decides.
 *
 * Bounded by its user: cokeeperd keeps entries only for members (ck_addrbook_retain()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "member.h"

/* One address, either family: v4's number big-endian in bytes[0..3], the rest zero. */
struct ck_addr {
	uint8_t v6;
	uint8_t bytes[CK_IPV6_LEN];
};

struct ck_addr ck_addr_from_ipv4(uint32_t ipv4);
uint32_t ck_addr_ipv4(const struct ck_addr *a);
/* "10.0.0.5" or "fd00::5": an address a NIC may hold (not 0.0.0.0, ::, multicast). */
int ck_addr_parse(const char *s, struct ck_addr *out);
void ck_addr_format(const struct ck_addr *a, char out[46]);
/* Adds a to nic from source (ck_nic_add_ipv4/6). */
int ck_nic_add(struct ck_nic *nic, const struct ck_addr *a, uint8_t source);

enum ck_learned_how {
	CK_LEARNED_DHCP,	/* a DHCPACK to the guest's MAC: yiaddr, until the lease ends */
	CK_LEARNED_ARP,		/* the first IPv4 address the guest's vif answered ARP for */
	CK_LEARNED_NDP,		/* the first IPv6 address it sent a Neighbour Advertisement for */
	__CK_LEARNED_LAST
};

const char *ck_learned_how_name(unsigned int how);

enum ck_learn_result {
	CK_LEARN_CHANGED,	/* the MAC holds it now */
	CK_LEARN_SAME,		/* it did already (its expiry moved; a lease's only by a lease) */
	CK_LEARN_TAKEN,		/* ARP/NDP: another MAC learned it first */
	CK_LEARN_HAS_ONE,	/* ARP/NDP: this MAC has its first address already */
};

struct ck_addrbook;

int ck_addrbook_new(struct ck_addrbook **ret);
void ck_addrbook_free(struct ck_addrbook *b);

/*
 * The orchestrator's addresses of uuid's NIC mac (NULL: its first NIC), replaced by the n in
 * v; n == 0 drops them.  -E2BIG: more than CK_ADDRS_MAX of a family; -ENOMEM.  Either way
 * nothing changed.
 */
int ck_addrbook_set(struct ck_addrbook *b, const uint8_t uuid[CK_UUID_LEN],
		    const uint8_t *mac, const struct ck_addr *v, size_t n);
/* Fills out (room for 2 * CK_ADDRS_MAX) with uuid's NIC mac's; returns how many. */
size_t ck_addrbook_get(const struct ck_addrbook *b, const uint8_t uuid[CK_UUID_LEN],
		       const uint8_t *mac, struct ck_addr *out);
/* Drops every orchestrator address of uuid; whether there was one. */
bool ck_addrbook_clear(struct ck_addrbook *b, const uint8_t uuid[CK_UUID_LEN]);
/* Every orchestrator entry (mac NULL: the first NIC's), in no order. */
void ck_addrbook_foreach_set(const struct ck_addrbook *b,
			     void (*fn)(const uint8_t uuid[CK_UUID_LEN], const uint8_t *mac,
					const struct ck_addr *v, size_t n, void *userdata),
			     void *userdata);

/*
 * What dom0 saw: a on mac's vif, how, until expires (CLOCK_MONOTONIC usec; UINT64_MAX:
 * never).  A DHCP lease replaces the MAC's lease and takes a from any other MAC (*lost gets
 * that MAC, else stays untouched).  Returns an enum ck_learn_result, or -ENOMEM.
 */
int ck_addrbook_learn(struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN],
		      const struct ck_addr *a, enum ck_learned_how how, uint64_t expires,
		      uint8_t lost[CK_MAC_LEN]);
/* Drops mac's learned a (NULL: all of mac's); whether it had it. */
bool ck_addrbook_unlearn(struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN],
			 const struct ck_addr *a);
/* Whether mac learned a how; *expires gets when it runs out. */
bool ck_addrbook_learned_expiry(const struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN],
				enum ck_learned_how how, const struct ck_addr *a, uint64_t *expires);

/* Drops what mac learned how (a DHCPNAK voids its lease); whether it had one. */
bool ck_addrbook_unlearn_how(struct ck_addrbook *b, const uint8_t mac[CK_MAC_LEN],
			     enum ck_learned_how how);
/* The earliest expiry of a learned address; UINT64_MAX if none expires. */
uint64_t ck_addrbook_next_expiry(const struct ck_addrbook *b);
/* Drops what expired at now, calling fn once for each MAC that lost an address. */
void ck_addrbook_expire(struct ck_addrbook *b, uint64_t now,
			void (*fn)(const uint8_t mac[CK_MAC_LEN], void *userdata), void *userdata);
/* Every learned address, in no order. */
void ck_addrbook_foreach_learned(const struct ck_addrbook *b,
				 void (*fn)(const uint8_t mac[CK_MAC_LEN], const struct ck_addr *a,
					    enum ck_learned_how how, uint64_t expires,
					    void *userdata),
				 void *userdata);

/*
 * Drops the orchestrator entries whose uuid, and the learned ones whose MAC, the callbacks
 * have said no member holds at every pass for grace usec (a domain destroyed takes its
 * addresses along; one that is briefly no member, a localhost migration's handover, keeps
 * them).  An entry found again is no longer missing.  *next: when the next pass is due
 * (UINT64_MAX: nothing is missing).  Returns how many orchestrator entries went, and
 * *learned_dropped how many MACs' learned addresses.
 */
size_t ck_addrbook_retain(struct ck_addrbook *b,
			  bool (*has_uuid)(const uint8_t uuid[CK_UUID_LEN], void *userdata),
			  bool (*has_mac)(const uint8_t mac[CK_MAC_LEN], void *userdata),
			  void *userdata, uint64_t now, uint64_t grace, uint64_t *next,
			  size_t *learned_dropped);

/* Adds to m (as a scan read it) its orchestrator addresses and its NICs' learned ones. */
void ck_addrbook_merge(const struct ck_addrbook *b, struct ck_member *m);
