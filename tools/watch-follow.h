/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Following cokeeperd's watch stream until every guest has acknowledged a change: the one
 * implementation behind `cokeeperctl wait`, `cokeeperctl latency` and bench/ck-latency.
 *
 * One control connection asks {"cmd":"watch"} (the members reply, then delta, ack and
 * guest-closed events, in order) and then {"cmd":"guests"} (each session's acked_gen).  The
 * follower keeps cokeeperd's membership up to date from the deltas, and notes the first
 * generation at which the membership holds a member matching the key (or, for an absent
 * key, lacks every such member).  It has converged once every guest session that had joined
 * (not "await-hello") and has not closed since has acknowledged that generation: an agent
 * acks a generation once its kernel table holds it, and a table holding generation N holds
 * every change up to N.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

enum follow_key_type {
	FOLLOW_KEY_UNSPEC = 0,
	FOLLOW_KEY_DOMID,
	FOLLOW_KEY_NAME,
	FOLLOW_KEY_UUID,
	FOLLOW_KEY_IPV4,
	FOLLOW_KEY_IPV6,
	FOLLOW_KEY_MAC,
	FOLLOW_KEY_GEN, /* the membership has reached this generation */
	__FOLLOW_KEY_LAST
};
#define FOLLOW_KEY_MAX (__FOLLOW_KEY_LAST - 1)

struct follow_key {
	enum follow_key_type type;
	union {
		uint16_t domid;
		const char *name; /* borrowed: lives as long as the follower */
		uint8_t uuid[16];
		struct in_addr ipv4;
		struct in6_addr ipv6;
		uint8_t mac[6];
		uint64_t gen;
	};
};

/*
 * A domid (digits), an IPv4 or IPv6 address, a uuid (either case), a MAC, or else a domain
 * name, read as cokeeperd reads a DOMAIN (addresses): 0, or -EINVAL for a key no member can
 * ever have (k->type then says what s was read as, for follow_key_rule).  The name is
 * borrowed from s.
 */
int follow_key_parse(struct follow_key *k, const char *s);

/* What a member's key of this type must be, for the message that rejects one. */
const char *follow_key_rule(enum follow_key_type type);

/* How a key of this type names a member, after "no member ": "named", "with MAC" … */
const char *follow_key_noun(enum follow_key_type type);

struct follow_guest {
	char *channel; /* unique per session ("vchan:7", "unix:12") */
	int domid;
	int64_t acked_gen; /* -1: nothing of this epoch */
	bool closed;
	/* Once the target is known: when this guest's ack of it was read (the caller's clock). */
	uint64_t acked_usec;
	/* cokeeperd's own measure for that ack, from its source's notice; -1 when unknown. */
	int64_t latency_us;
};

struct follow;

/*
 * Connects to the control socket at path and asks for the watch stream and the guests.
 * absent: wait for the key to be gone rather than present.  Returns 0 or -errno.
 */
int follow_new(struct follow **ret, const char *path, const struct follow_key *key, bool absent);
void follow_free(struct follow *f);

int follow_fd(const struct follow *f);

/*
 * Reads what the socket has and applies every complete line, timing acks with now_usec:
 * 0, -ECONNRESET when cokeeperd closed the connection, -EREMOTEIO when it refused a request
 * (an error reply), -EPROTONOSUPPORT for a newer protocol version than this tool knows,
 * -EBADMSG for a line that is not what the protocol promises, -EMSGSIZE for one over the
 * cap, or -errno.
 */
int follow_read(struct follow *f, uint64_t now_usec);

/* After -EREMOTEIO or -EPROTONOSUPPORT: what to tell the user; NULL otherwise. */
const char *follow_error(const struct follow *f);

/* Both replies are in: the generation and the guests are known. */
bool follow_ready(const struct follow *f);

/* Only a change after generation gen counts (a command's own change, not the state before). */
void follow_set_after(struct follow *f, uint64_t gen);

/* Waits for generation gen instead of the key given at creation (re-evaluated now). */
void follow_set_gen(struct follow *f, uint64_t gen, uint64_t now_usec);

/* cokeeperd's current generation (valid once ready). */
uint64_t follow_gen(const struct follow *f);

/* The generation that satisfies the key, when there is one, and when it was read (or NULL). */
bool follow_target(const struct follow *f, uint64_t *gen, uint64_t *usec);

/* Ready, a target, and every live guest has acked it. */
bool follow_converged(const struct follow *f);

/* Every guest session seen (closed ones too, marked): valid until follow_free. */
const struct follow_guest *follow_guests(const struct follow *f, size_t *n);
