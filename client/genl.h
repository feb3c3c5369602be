/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "cokeeper" generic netlink family from userspace (libnl-3): one request/reply helper
 * that returns the kernel's errno and keeps its extended-ACK message, and the encoding of a
 * member as the attributes include/uapi/linux/cokeeper.h describes.  Shared by the agent's
 * kernel sink (writes) and libcokeeper-client (reads).
 */
#pragma once

#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "member.h"

struct ck_genl {
	struct nl_sock *sk;
	int family;
	unsigned int version;	/* the module's family version: 1 takes no address sources */
	char errmsg[256];	/* the kernel's extack message of the last failed request */
};

/* Resolves the family (which loads the module through its alias, where allowed). */
int ck_genl_open(struct ck_genl **ret);
void ck_genl_close(struct ck_genl *g);

/* A request of command cmd (flags: NLM_F_DUMP or 0); NULL on allocation failure. */
struct nl_msg *ck_genl_msg(struct ck_genl *g, uint8_t cmd, int flags, size_t size);

/*
 * Sends msg (consumed) and receives until the kernel's ACK or the end of a dump, calling
 * on_reply for each reply message.  Returns 0 or the kernel's -errno (with g->errmsg), or
 * -EAGAIN when a dump was interrupted by a concurrent change (NLM_F_DUMP_INTR).
 */
int ck_genl_request(struct ck_genl *g, struct nl_msg *msg,
		    int (*on_reply)(struct nl_msg *reply, void *arg), void *arg);

/* Puts m as a nested attribute of type attrtype; -EMSGSIZE when msg is full. */
int ck_genl_put_member(struct nl_msg *msg, int attrtype, const struct ck_member *m);
/*
 * As ck_genl_put_member, for a module of family version version: below 2 (no address
 * sources) without COKEEPER_NIC_A_SOURCES, which it would refuse, and without the guest's
 * claimed addresses, which it would take for the toolstack's.
 */
int ck_genl_put_member_for(struct nl_msg *msg, int attrtype, const struct ck_member *m,
			   unsigned int version);
/* The bytes ck_genl_put_member() adds for m, to size a message of many. */
size_t ck_genl_member_size(const struct ck_member *m);

/* Parses a member nest (untrusted kernel output is still checked); counters may be NULL. */
int ck_genl_parse_member(struct nlattr *nest, struct ck_member *m, uint64_t *tx_packets,
			 uint64_t *tx_bytes);
