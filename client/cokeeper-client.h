/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libcokeeper-client: ask this guest's kernel which peers share its physical host.
 *
 *   struct ck_client *c;
 *   struct ck_client_peer peer;
 *   if (ck_client_open(&c) == 0 &&
 *       ck_client_lookup_ipv4(c, &addr, &peer) == 0)
 *           use_fast_path(peer.domid);    // co-resident: talk through shared memory
 *
 * Lookups, the member list and the table status need no privilege.  Functions return 0 or
 * a negative errno: -ENOENT from a lookup means "not co-resident"; from ck_client_open it
 * means the cokeeper module is not loaded.  A client is not thread-safe; use one per thread.
 *
 * ABI.  The soname stays libcokeeper-client.so.0 and every field keeps its offset: fields are
 * only added at the end of a struct.  Callers allocate struct ck_client_peer, so when it grows
 * the functions that fill a caller's peer get a new symbol version: 0.2.0 added the address
 * sources at the end of the peer, and the four lookups of COKEEPER_CLIENT_0.1 fill the whole
 * of it.  A program built against 0.1.0's header binds to the COKEEPER_CLIENT_0 lookups,
 * which write only the fields that header had.  The peers the library passes to callbacks
 * (ck_client_foreach, ck_client_notify_dispatch) are its own: an older callback reads their
 * beginning, as it always did.
 */
#ifndef COKEEPER_CLIENT_H
#define COKEEPER_CLIENT_H

#include <netinet/in.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CK_CLIENT_NAME_MAX 64
#define CK_CLIENT_NICS_MAX 8
#define CK_CLIENT_ADDRS_MAX 8

enum ck_client_state {
	CK_CLIENT_STATE_RUNNING = 1,
	CK_CLIENT_STATE_MIGRATING_OUT = 2,	/* leaving: tear fast-path channels down */
};

/*
 * Where dom0 took an address from, in falling trust (the uapi's enum cokeeper_addr_source):
 * the toolstack's configuration (xl's ip=), dom0's orchestrator, what dom0 saw the guest use
 * on its vif (DHCP, ARP, NDP), or only the guest's own word.  A fast path should carry
 * traffic only to TOOLSTACK, ORCHESTRATOR and LEARNED addresses, as cokeeper-fp.ko does.
 */
enum ck_client_addr_source {
	CK_CLIENT_ADDR_TOOLSTACK = 0,
	CK_CLIENT_ADDR_ORCHESTRATOR = 1,
	CK_CLIENT_ADDR_LEARNED = 2,
	CK_CLIENT_ADDR_CLAIMED = 3,
};

struct ck_client_nic {
	uint8_t mac[6];
	uint8_t n_ipv4, n_ipv6;
	struct in_addr ipv4[CK_CLIENT_ADDRS_MAX];
	struct in6_addr ipv6[CK_CLIENT_ADDRS_MAX];
};

struct ck_client_peer {
	uint16_t domid;
	uint8_t state;		/* enum ck_client_state */
	uint8_t n_nics;
	uint8_t uuid[16];
	char name[CK_CLIENT_NAME_MAX + 1];
	struct ck_client_nic nics[CK_CLIENT_NICS_MAX];
	uint64_t tx_packets, tx_bytes;	/* sent to this peer, as the kernel counted */
	/*
	 * Since 0.2.0 (COKEEPER_CLIENT_0.1): each address's enum ck_client_addr_source,
	 * ipv4_source[i][a] for nics[i].ipv4[a].  Here, not in struct ck_client_nic, so that
	 * nothing before moves (ABI, above).
	 */
	uint8_t ipv4_source[CK_CLIENT_NICS_MAX][CK_CLIENT_ADDRS_MAX];
	uint8_t ipv6_source[CK_CLIENT_NICS_MAX][CK_CLIENT_ADDRS_MAX];
};

struct ck_client;

int ck_client_open(struct ck_client **ret);
void ck_client_close(struct ck_client *c);

int ck_client_lookup_ipv4(struct ck_client *c, const struct in_addr *addr,
			  struct ck_client_peer *peer);
int ck_client_lookup_ipv6(struct ck_client *c, const struct in6_addr *addr,
			  struct ck_client_peer *peer);
int ck_client_lookup_mac(struct ck_client *c, const uint8_t mac[6], struct ck_client_peer *peer);
int ck_client_lookup_domid(struct ck_client *c, uint16_t domid, struct ck_client_peer *peer);

/*
 * The source (enum ck_client_addr_source) of one of peer's addresses: family AF_INET with a
 * struct in_addr, or AF_INET6 with a struct in6_addr; the most trusted of its sources if peer
 * lists it more than once, as the kernel's lookups say.  -ENOENT when peer has no such
 * address, -EAFNOSUPPORT for another family.  Since 0.2.0.
 */
int ck_client_peer_source(const struct ck_client_peer *peer, int family, const void *addr);

/* The table's generation: epoch 0 means no agent has written it yet. */
int ck_client_status(struct ck_client *c, uint64_t *epoch, uint64_t *gen, uint32_t *count,
		     uint32_t *max_entries);

/*
 * Calls fn for every member, from one consistent view of the table (a dump interrupted by a
 * change is restarted).  A negative return from fn stops the walk and is returned.
 */
int ck_client_foreach(struct ck_client *c,
		      int (*fn)(const struct ck_client_peer *peer, void *userdata), void *userdata);

enum ck_client_event {
	CK_CLIENT_EVENT_SET = 1,	/* peer added or changed (peer is valid) */
	CK_CLIENT_EVENT_DEL,		/* peer removed (only peer->domid is valid) */
	CK_CLIENT_EVENT_REPLACE,	/* the whole table was replaced (peer is NULL) */
	CK_CLIENT_EVENT_FLUSH,		/* the table was emptied (peer is NULL) */
};

/*
 * Change notifications for an event loop: a file descriptor that becomes readable when
 * notifications wait, and a call that delivers them (without blocking) to fn.
 */
int ck_client_notify_fd(struct ck_client *c);
int ck_client_notify_dispatch(struct ck_client *c,
			      void (*fn)(enum ck_client_event event,
					 const struct ck_client_peer *peer, uint64_t gen,
					 void *userdata),
			      void *userdata);

/* The kernel's message for the last failed call, or "". */
const char *ck_client_error_message(const struct ck_client *c);

#ifdef __cplusplus
}
#endif

#endif
