/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Chunking: a snapshot or delta too large for one frame leaves as numbered chunks and is put
 * back together by the receiver, which applies it only once every chunk has arrived.
 */
#pragma once

#include "frame.h"
#include "membership.h"
#include "outbuf.h"

/*
 * Calls emit once per chunk of a snapshot of m (members in domid order).  The message and its
 * arrays are valid only during the call.  An empty membership is one chunk with no members.
 */
int ck_chunk_snapshot(const struct ck_membership *m, ck_frame_handler_t emit, void *userdata);

/* The same for a delta, which may be empty (base_gen == new_gen: "you are up to date"). */
int ck_chunk_delta(const struct ck_delta *d, ck_frame_handler_t emit, void *userdata);

/*
 * Encodes every chunk of a snapshot of m, or of d, as consecutive frames in new bytes
 * (*ret, one reference), each announcing fastpath_version (the sender's CK_FASTPATH_VERSION,
 * or 0 as a daemon without the relay): what every guest that needs the same snapshot or delta
 * is queued, byte for byte, without encoding or copying it again per guest.
 */
int ck_chunk_encode_snapshot(const struct ck_membership *m, uint32_t fastpath_version,
			     struct ck_bytes **ret);
int ck_chunk_encode_delta(const struct ck_delta *d, uint32_t fastpath_version,
			  struct ck_bytes **ret);

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
