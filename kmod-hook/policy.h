/* SPDX-License-Identifier: GPL-2.0-only */
/* The family's attribute policies, one per command, and the member verifier. */
#ifndef _CK_POLICY_H
#define _CK_POLICY_H

#include <net/netlink.h>

#include "member.h"

extern const struct nla_policy ck_set_policy[COKEEPER_A_MAX + 1];
extern const struct nla_policy ck_del_policy[COKEEPER_A_MAX + 1];
extern const struct nla_policy ck_replace_policy[COKEEPER_A_MAX + 1];
extern const struct nla_policy ck_flush_policy[COKEEPER_A_MAX + 1];
extern const struct nla_policy ck_get_policy[COKEEPER_A_MAX + 1];
extern const struct nla_policy ck_status_policy[COKEEPER_A_MAX + 1];

/*
 * Verifies one untrusted COKEEPER_A_MEMBER nest into *m: 0, or -EINVAL/-ERANGE with an
 * extack message naming the attribute.
 */
int ck_member_parse(const struct nlattr *nest, struct ck_member *m,
		    struct netlink_ext_ack *extack);

#endif /* _CK_POLICY_H */
