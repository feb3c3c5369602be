/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dom0's authorization of fast path pairs: which two co-resident members may set up a
 * shared-memory channel (cokeeper-fp) that bypasses dom0's bridge, and with it whatever dom0
 * does to their traffic there (firewall rules, security groups, shaping).  The decision
 * rests on what the toolstack wrote for each vif (struct ck_nic's bridge and rate_limited,
 * which only dom0 can write) and on the operator's policy, /etc/cokeeper/fastpath.conf
 * (fastpath.conf(5)).  Pure: no I/O but fastpath_policy_load()'s read of one file; the hub
 * (daemon.c) owns the policy in force, its reloads and who is told what.
 *
 * The file, one directive a line:
 *
 *   # a comment runs from '#' to the end of the line; blank lines are ignored;
 *   # words are separated by blanks (spaces and tabs)
 *   default allow|deny          a pair that passes the network checks and matches no rule
 *                               (default: allow)
 *   rate-limited allow|deny     may a vif with a rate= limit pair at all (default: deny)
 *   allow|deny bridge GLOB      fnmatch(3) glob on the name of the bridge both vifs share
 *   allow|deny name GLOB        fnmatch(3) glob on a domain's name: either member's
 *   allow|deny uuid UUID        a domain's uuid (8-4-4-4-12 hex digits): either member's
 *
 * A repeated default or rate-limited: the last one counts.  Rules keep the file's order.
 * Everything in it is untrusted (an admin's file, or text sent on the control socket) and
 * bounded: at most FASTPATH_POLICY_FILE_MAX bytes, FASTPATH_POLICY_LINE_MAX bytes a line,
 * FASTPATH_POLICY_RULES_MAX rules, FASTPATH_POLICY_GLOB_MAX bytes a glob, printable ASCII,
 * blanks and newlines only (a glob cannot hold a blank or a '#').
 *
 * The decision for two members: every pair of their NICs (one of each) plugged into the same
 * bridge (the same non-empty name; Open vSwitch writes a VLAN into it as "br.VLAN", so the
 * same name is also the same VLAN) is a way they could talk through dom0.  Such a NIC pair
 * with a rate-limited vif on either side is denied unless `rate-limited allow`; otherwise the
 * first rule that matches it decides (a bridge rule the shared bridge, a name or uuid rule
 * either member), and `default` when none does.  The members may pair if they share a
 * bridge, neither has a vif on no bridge (routed, or a bridge name the scan could not keep:
 * what dom0 does to that vif's traffic is unknown), and every such NIC pair is allowed:
 * a channel joins two domains, not two NICs
 * (cokeeper-fp admits a frame by the peer's MACs and addresses, whichever vif they belong
 * to), so one denied bridge they share denies the pair, or the ring would carry what that
 * bridge filters.  The decision and its reason are symmetric in the two members.  It also
 * decides what each guest's table holds (the hub's views): a guest sees the members it may
 * pair with, so a deny rule naming a guest hides its neighbours from it, and it from them.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "member.h"

#define FASTPATH_POLICY_PATH "/etc/cokeeper/fastpath.conf"
#define FASTPATH_POLICY_FILE_MAX (64 * 1024)
#define FASTPATH_POLICY_LINE_MAX 512	/* bytes, its newline not counted */
#define FASTPATH_POLICY_RULES_MAX 256
#define FASTPATH_POLICY_GLOB_MAX 64

/*
 * Why a pair is refused, ordered from the least specific to the most: when no NIC pair is
 * allowed, the verdict names the most specific reason any of them met.
 */
enum fastpath_denial {
	FASTPATH_DENIAL_NONE = 0,		/* authorized */
	FASTPATH_DENIAL_NO_SHARED_BRIDGE,	/* no NIC of one is on a bridge of the other */
	FASTPATH_DENIAL_UNBRIDGED_VIF,		/* a vif on no bridge dom0 could name */
	FASTPATH_DENIAL_RATE_LIMITED,		/* each shared bridge: a rate-limited vif */
	FASTPATH_DENIAL_DEFAULT,		/* no rule matched, and `default deny` */
	FASTPATH_DENIAL_RULE,			/* a deny rule matched first */
	__FASTPATH_DENIAL_LAST
};
#define FASTPATH_DENIAL_MAX (__FASTPATH_DENIAL_LAST - 1)

struct fastpath_verdict {
	enum fastpath_denial reason;
	/*
	 * With FASTPATH_DENIAL_RULE, the rule's index in file order (from 0); the first in the
	 * file when NIC pairs met different deny rules.  -1 otherwise.
	 */
	int rule;
};

struct fastpath_policy;

/* The built-in policy: default allow, rate-limited deny, no rules.  NULL on ENOMEM. */
struct fastpath_policy *fastpath_policy_new(void);
void fastpath_policy_free(struct fastpath_policy *p);

/*
 * Parses len bytes of text (NUL-terminated or not); origin names it in messages and in
 * fastpath_policy_to_json() (the file's path, say).  0 with *ret set, or -EINVAL for a bad
 * line, -E2BIG for too many rules, -EFBIG for text over FASTPATH_POLICY_FILE_MAX, -ENOMEM;
 * then *ret is untouched and err (when not NULL) holds one message, "ORIGIN:LINE: WHAT" for
 * a line, such as "fastpath.conf:3: unknown directive 'alow' (allow, deny, default,
 * rate-limited)".
 */
int fastpath_policy_parse(const char *text, size_t len, const char *origin,
			  struct fastpath_policy **ret, char *err, size_t err_size);

/*
 * Reads the file at path and parses it, origin the path.  As fastpath_policy_parse(), and
 * -EFBIG for a file over FASTPATH_POLICY_FILE_MAX, -EINVAL for anything but a regular file
 * (a FIFO is not waited on), or a negative errno of open(2), fstat(2) or read(2) (-ENOENT:
 * there is none, which the caller may take as the built-in policy); each with a message
 * that starts with path.
 */
int fastpath_policy_load(const char *path, struct fastpath_policy **ret, char *err,
			 size_t err_size);

/*
 * May a and b pair?  why (when not NULL) gets the reason: FASTPATH_DENIAL_NONE when they
 * may.  The same answer and reason for (b, a).
 */
bool fastpath_policy_pair(const struct fastpath_policy *p, const struct ck_member *a,
			  const struct ck_member *b, struct fastpath_verdict *why);

/*
 * "authorized", "no-shared-bridge", "vif-without-bridge", "rate-limited", "policy-rule",
 * "policy-default".
 */
const char *fastpath_denial_name(enum fastpath_denial reason);

/* What the policy was parsed from, or "built-in". */
const char *fastpath_policy_origin(const struct fastpath_policy *p);

/*
 * The policy in the file's syntax, `default` and `rate-limited` first, then the rules, one a
 * line: parsed again, it gives the same policy and the same text.  malloc()ed; NULL on
 * ENOMEM.
 */
char *fastpath_policy_format(const struct fastpath_policy *p);

/*
 * For the control socket:
 *   {"default":"allow","rate_limited":"deny",
 *    "rules":[{"action":"deny","bridge":"xenbr1"},{"action":"allow","name":"web-*"}],
 *    "origin":"/etc/cokeeper/fastpath.conf"}
 * a rule's index in "rules" is the one fastpath_verdict names.
 */
struct json_object *fastpath_policy_to_json(const struct fastpath_policy *p);
