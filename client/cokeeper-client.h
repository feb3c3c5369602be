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
