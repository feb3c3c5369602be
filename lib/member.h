/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One member of a host's membership: a running (or migrating-out) domain with the identity
 * the toolstack gave it.  Fixed-size so members can be copied and compared without
 * allocation; the limits below are also the wire protocol's limits.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CK_DOMID_LIMIT 0x7FF0u	/* DOMID_FIRST_RESERVED: domids at or above are not guests */
#define CK_UUID_LEN 16
#define CK_NAME_MAX 64
#define CK_MAC_LEN 6
#define CK_IPV6_LEN 16
#define CK_NICS_MAX 8
#define CK_ADDRS_MAX 8		/* per address family, per NIC */
#define CK_BRIDGE_MAX 63	/* a vif backend's "bridge": a longer one is kept as none */

enum ck_member_state {
	CK_MEMBER_UNSPEC = 0,
	CK_MEMBER_RUNNING,
	CK_MEMBER_MIGRATING_OUT,
	__CK_MEMBER_LAST
};
#define CK_MEMBER_STATE_MAX (__CK_MEMBER_LAST - 1)

/*
 * Where an address came from, in falling trust: the lower the value, the more it is
 * believed when two members hold one address (cokeeperd's sources/conflicts.c).  The values
 * are the wire's (proto/cokeeper.proto's Nic.sources) and the uapi's.
 */
enum ck_addr_source {
	CK_ADDR_TOOLSTACK = 0,	/* the vif backend's "ip" (xl's ip=) */
	CK_ADDR_ORCHESTRATOR,	/* an admin client's `addresses` request to cokeeperd */
	CK_ADDR_LEARNED,	/* dom0 saw it on the guest's vif: a DHCP lease, ARP, NDP */
	CK_ADDR_CLAIMED,	/* the guest's own attr/vif/N/ipv4|ipv6: the guest's word */
	__CK_ADDR_LAST
};
#define CK_ADDR_SOURCE_MAX (__CK_ADDR_LAST - 1)

struct ck_nic {
	uint8_t mac[CK_MAC_LEN];
	uint8_t n_ipv4;
	uint8_t n_ipv6;
	uint32_t ipv4[CK_ADDRS_MAX];	/* as numbers: 10.0.0.1 is 0x0A000001 */
	uint8_t ipv6[CK_ADDRS_MAX][CK_IPV6_LEN];
	uint8_t ipv4_source[CK_ADDRS_MAX];	/* enum ck_addr_source, one per address */
	uint8_t ipv6_source[CK_ADDRS_MAX];
	/*
	 * Where dom0 plugged the vif in, for its fast path pairing decision (cokeeperd's
	 * fastpath-policy.c).  dom0's own: never on the wire, so a guest's copy has them empty.
	 */
	char bridge[CK_BRIDGE_MAX + 1];	/* "" when the backend names none (vif-route) */
	bool rate_limited;		/* the backend has a "rate" (xl's rate=) */
};

struct ck_member {
	uint16_t domid;
	uint8_t state;		/* enum ck_member_state */
	uint8_t n_nics;
	uint8_t uuid[CK_UUID_LEN];
	char name[CK_NAME_MAX + 1];	/* NUL-terminated */
	struct ck_nic nics[CK_NICS_MAX];
};

/*
 * Adds an address with its source to nic.  One already there keeps the more trusted of its
 * two sources; when the family is full, the new one replaces the least trusted address if
 * that is less trusted than it (so a guest's claims never crowd out dom0's addresses).
 * Returns 0, or -ENOSPC when it was not added.
 */
int ck_nic_add_ipv4(struct ck_nic *nic, uint32_t addr, uint8_t source);
int ck_nic_add_ipv6(struct ck_nic *nic, const uint8_t addr[CK_IPV6_LEN], uint8_t source);

/* Compares what is meaningful: entries past n_nics, n_ipv4 or n_ipv6 are ignored. */
bool ck_member_equal(const struct ck_member *a, const struct ck_member *b);

/* True if all len bytes are printable ASCII (0x20..0x7e): safe to log and to show. */
bool ck_printable(const char *s, size_t len);

/* True for a name the protocol accepts: 1..CK_NAME_MAX bytes of printable ASCII. */
bool ck_name_valid(const char *name, size_t len);

/* True for a unicast, non-zero MAC address. */
bool ck_mac_valid(const uint8_t mac[CK_MAC_LEN]);

/*
 * The protocol's rules for one member, applied to members built locally (from xenstore) and,
 * through ck_verify_envelope(), to every member read from the wire: domid below
 * CK_DOMID_LIMIT, a known state, a valid name, valid MACs, non-zero IPv4 addresses.
 * Returns 0 or -EINVAL.
 */
int ck_member_check(const struct ck_member *m);

const char *ck_member_state_name(uint8_t state);

/* "toolstack", "orchestrator", "learned", "claimed"; "unknown" past CK_ADDR_SOURCE_MAX. */
const char *ck_addr_source_name(uint8_t source);

/* The source named s (as ck_addr_source_name() writes it), or -EINVAL. */
int ck_addr_source_parse(const char *s);
