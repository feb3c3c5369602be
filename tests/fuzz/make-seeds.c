// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Writes a seed corpus for fuzz-frame into the directory given: one valid stream per message
 * type, plus a chunked snapshot, each prefixed with the piece-size byte the target expects.
 * With a second argument, also fuzz-guest's seed of one domain's sessions (F_SESSIONS in
 * fuzz-guest.c) into that file: three sessions of domid 5, each a Hello and a burst of fast
 * path messages to its peers (offers to 19, closes, an accept to 2), more than its budgets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

static const char *dir;
static int seq;

static int write_seed(const uint8_t *buf, size_t len, uint8_t piece)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%02d", dir, seq++);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	fputc(piece, f);
	fwrite(buf, 1, len, f);
	return fclose(f) ? -errno : 0;
}

static int emit(struct ck_msg *msg, void *userdata)
{
	uint8_t *buf;
	size_t len;
	int r;

	r = ck_frame_encode(msg, &buf, &len);
	if (r < 0)
		return r;
	r = write_seed(buf, len, seq % 7);
	free(buf);
	return r;
}

static void member(struct ck_member *m, uint16_t domid)
{
	memset(m, 0, sizeof(*m));
	m->domid = domid;
	m->state = domid % 3 ? CK_MEMBER_RUNNING : CK_MEMBER_MIGRATING_OUT;
	snprintf(m->name, sizeof(m->name), "guest-%u", domid);
	m->uuid[0] = domid;
	m->n_nics = 1;
	m->nics[0].mac[1] = 0x16;
	m->nics[0].mac[5] = domid;
	m->nics[0].n_ipv4 = 1;
	m->nics[0].ipv4[0] = 0x0a630000u | domid;
	m->nics[0].n_ipv6 = 1;
	m->nics[0].ipv6[0][0] = 0xfd;
	m->nics[0].ipv6[0][15] = domid;
}

/* Appends msg, framed, to f. */
static int put(FILE *f, const struct ck_msg *msg)
{
	uint8_t *buf;
	size_t len;
	int r = ck_frame_encode(msg, &buf, &len);

	if (r < 0)
		return r;
	fwrite(buf, 1, len, f);
	free(buf);
	return 0;
}

static int guest_sessions_seed(const char *path)
{
	const struct ck_msg hello = { .type = CK_MSG_HELLO,
		.hello = { .domid = 5, .version = CK_PROTOCOL_VERSION, .fastpath_version = 1 } };
	struct ck_msg offer = { .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = 19, .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN, .evtchn_port = 17,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };
	struct ck_msg close = { .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .peer_domid = 19, .reason = CKFP_CLOSE_SHUTDOWN } };
	const struct ck_msg accept = { .type = CK_MSG_FASTPATH_ACCEPT,
		.fastpath_accept = { .peer_domid = 2, .channel_id = 7 } };
	FILE *f = fopen(path, "wb");
	int r = 0;

	if (!f)
		return -errno;
	for (unsigned int i = 0; i < offer.fastpath_offer.n_grefs; i++)
		offer.fastpath_offer.grefs[i] = 8 + i;
	fputc(0, f);				/* reads whatever is there */
	fputc((1 << 5) | (1 << 6), f);		/* F_SESSIONS | F_PEER_STUCK */
	for (unsigned int s = 0; r == 0 && s < 3; s++) {
		if (s)
			fputs("\xffNEW", f);
		r = put(f, &hello);
		for (unsigned int i = 1; r == 0 && i <= 6; i++) {
			offer.fastpath_offer.channel_id = s * 100 + i;
			close.fastpath_close.channel_id = s * 100 + i;
			r = put(f, &offer);
			r = r ?: put(f, &offer);	/* again: the same offer */
			r = r ?: put(f, &close);
			r = r ?: put(f, &accept);
		}
	}
	if (fclose(f) && r == 0)
		r = -errno;
	return r;
}

int main(int argc, char **argv)
{
	struct ck_member ms[3];
	uint16_t removed[] = { 4, 5 };
	struct ck_membership *m;
	struct ck_memberset *set;
	struct ck_msg msg;
	int r;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s DIR [GUEST-SESSIONS-SEED]\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	if (argc == 3) {
		r = guest_sessions_seed(argv[2]);
		if (r < 0) {
			fprintf(stderr, "make-seeds: %s: %s\n", argv[2], strerror(-r));
			return 1;
		}
	}
	for (int i = 0; i < 3; i++)
		member(&ms[i], i + 1);

	msg = (struct ck_msg){ .type = CK_MSG_HELLO,
		.hello = { .domid = 3, .version = CK_PROTOCOL_VERSION, .epoch = 9, .gen = 4 } };
	r = emit(&msg, NULL);
	msg = (struct ck_msg){ .type = CK_MSG_ACK, .ack = { .epoch = 9, .gen = 4 } };
	r = r ?: emit(&msg, NULL);
	msg = (struct ck_msg){ .type = CK_MSG_BYE, .bye = { .code = CK_BYE_SHUTDOWN,
							     .reason = "stopping" } };
	r = r ?: emit(&msg, NULL);
	msg = (struct ck_msg){ .type = CK_MSG_DELTA, .chunks = 1,
		.delta = { .epoch = 9, .base_gen = 4, .new_gen = 9, .upserts = ms, .n_upserts = 3,
			   .removed = removed, .n_removed = 2 } };
	r = r ?: emit(&msg, NULL);
	msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_OFFER,
		.fastpath_offer = { .peer_domid = 5, .channel_id = 0x1122334455667788ull,
				    .ring_version = CKFP_RING_VERSION,
				    .ring_order = CKFP_RING_ORDER_MIN, .evtchn_port = 17,
				    .n_grefs = CKFP_GREFS(CKFP_RING_ORDER_MIN) } };
	for (unsigned int i = 0; i < msg.fastpath_offer.n_grefs; i++)
		msg.fastpath_offer.grefs[i] = 8 + i;
	r = r ?: emit(&msg, NULL);
	msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_ACCEPT,
		.fastpath_accept = { .peer_domid = 2, .channel_id = 0x1122334455667788ull } };
	r = r ?: emit(&msg, NULL);
	msg = (struct ck_msg){ .type = CK_MSG_FASTPATH_CLOSE,
		.fastpath_close = { .peer_domid = 5, .channel_id = 0x1122334455667788ull,
				    .reason = CKFP_CLOSE_PEER_GONE } };
	r = r ?: emit(&msg, NULL);

	/* A snapshot of 130 members: three chunks in one stream. */
	r = r ?: ck_membership_new(&m, 9, 16);
	r = r ?: ck_memberset_new(&set);
	for (int i = 1; r == 0 && i <= 130; i++) {
		struct ck_member x;

		member(&x, i);
		r = ck_memberset_put(set, &x);
	}
	r = r ?: ck_membership_commit(m, set, NULL);
	r = r ?: ck_chunk_snapshot(m, emit, NULL);
	if (r < 0) {
		fprintf(stderr, "make-seeds: %s\n", strerror(-r));
		return 1;
	}
	ck_memberset_free(set);
	ck_membership_free(m);
	return 0;
}
