/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Chunking: a snapshot or delta too large for one frame leaves as numbered chunks and is put
 * back together by the receiver, which applies it only once every chunk has arrived.
 */
#pragma once

#include "frame.h"
#include "membership.h"

/*
 * Calls emit once per chunk of a snapshot of m (members in domid order).  The message and its
 * arrays are valid only during the call.  An empty membership is one chunk with no members.
 */
int ck_chunk_snapshot(const struct ck_membership *m, ck_frame_handler_t emit, void *userdata);

/* The same for a delta, which may be empty (base_gen == new_gen: "you are up to date"). */
int ck_chunk_delta(const struct ck_delta *d, ck_frame_handler_t emit, void *userdata);

/*
 * A message's chunks encoded once, as consecutive frames: what every guest that needs the
 * same snapshot or delta is sent, byte for byte, without encoding it again per guest.
 */
struct ck_frames {
	uint8_t *data;
	size_t len;
	size_t *ends;		/* frame i is data[ends[i - 1], ends[i]), ends[-1] being 0 */
	size_t n;
};

/*
 * Encodes every chunk of a snapshot of m, or of d, into out (reset first), each announcing
 * fastpath_version (the sender's CK_FASTPATH_VERSION, or 0 as a daemon without the relay).
 */
int ck_chunk_encode_snapshot(const struct ck_membership *m, uint32_t fastpath_version,
			     struct ck_frames *out);
int ck_chunk_encode_delta(const struct ck_delta *d, uint32_t fastpath_version,
			  struct ck_frames *out);
/* Frees and zeroes; safe on a zeroed one. */
void ck_frames_reset(struct ck_frames *f);

static inline const uint8_t *ck_frames_at(const struct ck_frames *f, size_t i, size_t *len)
{
	size_t start = i ? f->ends[i - 1] : 0;

	*len = f->ends[i] - start;
	return f->data + start;
}

struct ck_assembler;

int ck_assembler_new(struct ck_assembler **ret);
void ck_assembler_free(struct ck_assembler *a);
/* Drops a partly collected message (the connection was lost). */
void ck_assembler_reset(struct ck_assembler *a);

/*
 * Takes a verified message, moving its contents out (*msg is zeroed).  A snapshot or delta
 * chunk is collected; when its last chunk arrives the whole message is moved into *complete
 * (as chunk 0 of 1, with the first chunk's fastpath_version), which the caller then owns and
 * releases with ck_msg_reset().  Until then complete->type is CK_MSG_UNSPEC.  Any other
 * message passes straight into *complete.
 * -EPROTO for a chunk that does not continue the message being collected (wrong number,
 * epoch, generations or count, or a domid already named by an earlier chunk); the partial
 * message is dropped.
 */
int ck_assembler_push(struct ck_assembler *a, struct ck_msg *msg, struct ck_msg *complete);
