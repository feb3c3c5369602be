/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeperd's set of guests (guests/) with the hub's fast path relay, over fake streams that
 * a test fills and drains by hand: what test-guests and test-relay share.  The event loop
 * runs only when a test says so, and the relay's clock is the fixture's, so no verdict waits
 * on a clock.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "fastpath-relay.h"
#include "frame.h"
#include "guests.h"

#define EPOCH 0xabcdull
#define SLICE_BYTES (64u * 1024)	/* guests.c's bound on one wake-up */

struct fake {
	struct ck_stream base;
	struct fixture *f;
	uint8_t *in;
	size_t in_len, in_pos;
	bool eof, blocked;	/* blocked: writes return -EAGAIN */
	bool closed;		/* handed back by guests */
	bool unattached;	/* like a vchan server whose agent has not attached yet */
	struct ck_frame_decoder *dec;	/* what the daemon wrote */
	unsigned int got[CK_MSG_MAX + 1];
	uint32_t bye_code;
	uint64_t delta_base, delta_new;	/* of the last delta written */
	uint32_t announced;		/* fastpath_version of the last snapshot or delta */
	struct ck_msg fastpath;		/* the last fast path message written */
	uint8_t *out;			/* every byte written */
	size_t out_len;
	size_t served_others_at;	/* in_pos when another source got its turn */
};

struct fixture {
	sd_event *event;
	struct ck_membership *m;
	struct fastpath_relay relay;	/* the hub's part */
	struct fastpath_policy *policy;	/* the built-in one: every member is on xenbr0 */
	uint64_t now_usec;		/* the relay's clock: the test moves it */
	struct guests *gs;
	unsigned int closed;
};

/* 100 RUNNING members on xenbr0, domids 1..100; relay_cfg NULL: the relay's defaults. */
void setup_relay(struct fixture *f, const struct guests_config *cfg,
		 const struct fastpath_relay_config *relay_cfg);
void setup(struct fixture *f, const struct guests_config *cfg);
void teardown(struct fixture *f);

struct fake *fake_new(struct fixture *f);
void fake_destroy(struct fake *k);
/* Appends one framed message to what the peer will have sent. */
void peer_sends(struct fake *k, const struct ck_msg *msg);
void peer_hellos(struct fake *k, unsigned int n, uint64_t epoch, uint64_t gen);
/* Runs the loop's ready work (defer sources) until the fake's input is consumed. */
void run_until_read(struct fixture *f, struct fake *k);

/* A guest whose agent said Hello as domid announcing fastpath_version (its snapshot taken). */
struct fake *joined_with(struct fixture *f, uint16_t domid, uint32_t fastpath_version);
struct fake *joined_as(struct fixture *f, uint16_t domid);
/* The peer sends an Offer (a valid one, of the smallest ring) and the daemon reads it. */
void send_offer(struct fake *k, uint16_t to, uint64_t channel);
/* The same for an Accept or a Close (reason SHUTDOWN). */
void send_small(struct fake *k, enum ck_msg_type type, uint16_t to, uint64_t channel);
