/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * probe-nl: the libnl-3 plumbing of genl-probe: one request at a time, its reply (or error
 * and extack message) collected into r, and members to and from attributes.
 */
#ifndef PROBE_NL_H
#define PROBE_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/cokeeper.h>

#define EPOCH 0x1234abcdULL
#define MAXM 80

struct nic {
	uint8_t mac[6];
	int n4, n6;
	uint32_t ip4[COKEEPER_ADDRS_MAX];	/* network order */
	struct in6_addr ip6[COKEEPER_ADDRS_MAX];
	int n_src;				/* COKEEPER_NIC_A_SOURCES' length; 0: absent */
	uint8_t src[2 * COKEEPER_ADDRS_MAX + 1];	/* as sent or received, even if malformed */
};

struct member {
	uint32_t domid;
	uint8_t state;
	uint8_t uuid[16];
	char name[COKEEPER_NAME_MAX + 1];
	int n_nics;
	struct nic nics[COKEEPER_NICS_MAX];
	uint64_t tx_packets;
	uint64_t tx_bytes;
};

/* What one request brought back. */
struct reply {
	bool done;
	int err;			/* the kernel's errno, negative; 0 on success */
	char ext[256];			/* its extack message */
	uint8_t cmd;
	struct member m[MAXM];
	int n;
	bool have_gen;
	uint64_t epoch, gen;
	uint32_t count, max_entries, domid;
	int intr;			/* messages flagged NLM_F_DUMP_INTR */
};

extern int family;		/* the resolved id of "cokeeper" */
extern struct reply r;		/* the last request's reply */

struct nl_sock *open_sock(void);
/* Sends msg (and frees it), collects everything up to the ACK, error or end of dump. */
int request(struct nl_sock *sk, struct nl_msg *msg);
struct nl_msg *new_msg(uint8_t cmd, int flags);
/* mac_len lets a test send a malformed MAC. */
void put_member(struct nl_msg *msg, int type, const struct member *m, int mac_len);
void put_gen(struct nl_msg *msg, uint64_t epoch, uint64_t gen);
int member_set(struct nl_sock *sk, const struct member *m, uint64_t epoch, uint64_t gen);
int replace(struct nl_sock *sk, const struct member *m, int n, uint64_t gen);
int simple(struct nl_sock *sk, uint8_t cmd, int flags);
int get_by(struct nl_sock *sk, int attr, const void *key, int len);
void parse_member(struct nlattr *nest, struct member *m);

/* The next notification on a listening socket into *out; -ETIMEDOUT if none came. */
int receive_event(struct nl_sock *l, struct reply *out, int timeout_ms);

void make_member(struct member *m, uint32_t domid, const char *name, uint8_t state);
struct nic *add_nic(struct member *m, uint8_t last);
void add4(struct nic *n, const char *s);
void add6(struct nic *n, const char *s);
/* The NIC's SOURCES: one byte per address (IPv4s', then IPv6s'), or any n for a bad one. */
void set_sources(struct nic *n, const uint8_t *src, int len);
/* Equal but for the counters. */
bool same(const struct member *a, const struct member *b);

#endif
