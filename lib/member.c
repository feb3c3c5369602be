// SPDX-License-Identifier: LGPL-2.1-or-later
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "member.h"

/*
 * The kernel's table takes members as the daemon and the agent hold them: the uapi header
 * states the same limits and states for the kernel's side, and lib/ may not drift from it.
 * Only its #defines and enums are read here; nothing of netlink is.
 */
#include "linux/cokeeper.h"

static_assert(CK_DOMID_LIMIT == COKEEPER_DOMID_LIMIT, "domid limit differs from the uapi's");
static_assert(CK_UUID_LEN == COKEEPER_UUID_LEN, "uuid length differs from the uapi's");
static_assert(CK_NAME_MAX == COKEEPER_NAME_MAX, "name length differs from the uapi's");
static_assert(CK_NICS_MAX == COKEEPER_NICS_MAX, "NICs per member differ from the uapi's");
static_assert(CK_ADDRS_MAX == COKEEPER_ADDRS_MAX, "addresses per NIC differ from the uapi's");
static_assert(CK_MEMBER_RUNNING == (int)COKEEPER_STATE_RUNNING &&
	      CK_MEMBER_MIGRATING_OUT == (int)COKEEPER_STATE_MIGRATING_OUT &&
	      CK_MEMBER_STATE_MAX == (int)COKEEPER_STATE_MAX,
	      "member states differ from the uapi's: the client passes them through as they are");

static_assert(CK_ADDR_TOOLSTACK == (int)COKEEPER_ADDR_TOOLSTACK &&
	      CK_ADDR_ORCHESTRATOR == (int)COKEEPER_ADDR_ORCHESTRATOR &&
	      CK_ADDR_LEARNED == (int)COKEEPER_ADDR_LEARNED &&
	      CK_ADDR_CLAIMED == (int)COKEEPER_ADDR_CLAIMED &&
	      CK_ADDR_SOURCE_MAX == (int)COKEEPER_ADDR_SOURCE_MAX,
	      "address sources differ from the uapi's");

static bool nic_equal(const struct ck_nic *a, const struct ck_nic *b)
{
	return memcmp(a->mac, b->mac, CK_MAC_LEN) == 0 && a->n_ipv4 == b->n_ipv4 &&
	       a->n_ipv6 == b->n_ipv6 &&
	       memcmp(a->ipv4, b->ipv4, a->n_ipv4 * sizeof(a->ipv4[0])) == 0 &&
	       memcmp(a->ipv6, b->ipv6, a->n_ipv6 * sizeof(a->ipv6[0])) == 0 &&
	       memcmp(a->ipv4_source, b->ipv4_source, a->n_ipv4) == 0 &&
	       memcmp(a->ipv6_source, b->ipv6_source, a->n_ipv6) == 0 &&
	       strcmp(a->bridge, b->bridge) == 0 && a->rate_limited == b->rate_limited;
}

bool ck_member_equal(const struct ck_member *a, const struct ck_member *b)
{
	if (a->domid != b->domid || a->state != b->state || a->n_nics != b->n_nics ||
	    memcmp(a->uuid, b->uuid, CK_UUID_LEN) != 0 || strcmp(a->name, b->name) != 0)
		return false;
	for (unsigned int i = 0; i < a->n_nics; i++)
		if (!nic_equal(&a->nics[i], &b->nics[i]))
			return false;
	return true;
}

/*
 * Where an address goes among n: its own slot (found), a free one, or the least trusted
 * slot less trusted than source; -1 when none.
 */
static int add_slot(const uint8_t *sources, unsigned int n, int found, uint8_t source)
{
	int worst = -1;

	if (found >= 0)
		return found;
	if (n < CK_ADDRS_MAX)
		return n;
	for (unsigned int i = 0; i < n; i++)
		if (sources[i] > source && (worst < 0 || sources[i] > sources[worst]))
			worst = i;
	return worst;
}

int ck_nic_add_ipv4(struct ck_nic *nic, uint32_t addr, uint8_t source)
{
	int found = -1, slot;

	for (unsigned int i = 0; i < nic->n_ipv4 && found < 0; i++)
		if (nic->ipv4[i] == addr)
			found = i;
	slot = add_slot(nic->ipv4_source, nic->n_ipv4, found, source);
	if (slot < 0)
		return -ENOSPC;
	if (slot == nic->n_ipv4)
		nic->n_ipv4++;
	else if (found >= 0 && nic->ipv4_source[slot] <= source)
		return 0;
	nic->ipv4[slot] = addr;
	nic->ipv4_source[slot] = source;
	return 0;
}

int ck_nic_add_ipv6(struct ck_nic *nic, const uint8_t addr[CK_IPV6_LEN], uint8_t source)
{
	int found = -1, slot;

	for (unsigned int i = 0; i < nic->n_ipv6 && found < 0; i++)
		if (memcmp(nic->ipv6[i], addr, CK_IPV6_LEN) == 0)
			found = i;
	slot = add_slot(nic->ipv6_source, nic->n_ipv6, found, source);
	if (slot < 0)
		return -ENOSPC;
	if (slot == nic->n_ipv6)
		nic->n_ipv6++;
	else if (found >= 0 && nic->ipv6_source[slot] <= source)
		return 0;
	memcpy(nic->ipv6[slot], addr, CK_IPV6_LEN);
	nic->ipv6_source[slot] = source;
	return 0;
}

bool ck_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

bool ck_name_valid(const char *name, size_t len)
{
	return len > 0 && len <= CK_NAME_MAX && ck_printable(name, len);
}

bool ck_mac_valid(const uint8_t mac[CK_MAC_LEN])
{
	static const uint8_t zero[CK_MAC_LEN];

	/* A vif's MAC is a unicast station address; group bit set or all-zero is not one. */
	return !(mac[0] & 0x01) && memcmp(mac, zero, CK_MAC_LEN) != 0;
}

int ck_member_check(const struct ck_member *m)
{
	if (m->domid >= CK_DOMID_LIMIT || m->state == CK_MEMBER_UNSPEC ||
	    m->state > CK_MEMBER_STATE_MAX || m->n_nics > CK_NICS_MAX)
		return -EINVAL;
	if (!ck_name_valid(m->name, strnlen(m->name, sizeof(m->name))))
		return -EINVAL;
	for (unsigned int i = 0; i < m->n_nics; i++) {
		const struct ck_nic *nic = &m->nics[i];

		if (!ck_mac_valid(nic->mac) || nic->n_ipv4 > CK_ADDRS_MAX ||
		    nic->n_ipv6 > CK_ADDRS_MAX ||
		    !ck_printable(nic->bridge, strnlen(nic->bridge, sizeof(nic->bridge))))
			return -EINVAL;
		for (unsigned int j = 0; j < nic->n_ipv4; j++)
			if (nic->ipv4[j] == 0 || nic->ipv4_source[j] > CK_ADDR_SOURCE_MAX)
				return -EINVAL;
		for (unsigned int j = 0; j < nic->n_ipv6; j++)
			if (nic->ipv6_source[j] > CK_ADDR_SOURCE_MAX)
				return -EINVAL;
	}
	return 0;
}

const char *ck_member_state_name(uint8_t state)
{
	switch (state) {
	case CK_MEMBER_RUNNING:
		return "running";
	case CK_MEMBER_MIGRATING_OUT:
		return "migrating-out";
	default:
		return "unknown";
	}
}

static const char *const addr_source_names[] = {
	[CK_ADDR_TOOLSTACK] = "toolstack",
	[CK_ADDR_ORCHESTRATOR] = "orchestrator",
	[CK_ADDR_LEARNED] = "learned",
	[CK_ADDR_CLAIMED] = "claimed",
};

const char *ck_addr_source_name(uint8_t source)
{
	return source <= CK_ADDR_SOURCE_MAX ? addr_source_names[source] : "unknown";
}

int ck_addr_source_parse(const char *s)
{
	for (unsigned int i = 0; i <= CK_ADDR_SOURCE_MAX; i++)
		if (strcmp(s, addr_source_names[i]) == 0)
			return i;
	return -EINVAL;
}
