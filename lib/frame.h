/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Framing on a byte stream: a big-endian u32 length, then that many bytes of one Envelope.
 * The decoder takes the stream in pieces of any size (vchan delivers partial frames) and
 * checks each length against CK_FRAME_MAX_LEN before it allocates anything for the frame.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "message.h"

#define CK_FRAME_HEADER_LEN 4
/*
 * The largest envelope: a frame of CK_FRAME_MAX_MEMBERS members at every per-member limit
 * packs to about 110 KiB (tests/unit/test-frame.c checks the margin).
 */
#define CK_FRAME_MAX_LEN (128u * 1024)

/* A whole frame, header included, in a new buffer; errors as ck_codec_encode(). */
int ck_frame_encode(const struct ck_msg *msg, uint8_t **ret, size_t *len);

/*
 * Called once per decoded message.  The message belongs to the decoder and is reset after
 * the handler returns; a handler that keeps it moves it out (copy, then zero *msg).  A
 * negative return stops decoding and is passed back from ck_frame_decoder_feed().
 */
typedef int (*ck_frame_handler_t)(struct ck_msg *msg, void *userdata);

struct ck_frame_decoder;

int ck_frame_decoder_new(struct ck_frame_decoder **ret);
void ck_frame_decoder_free(struct ck_frame_decoder *dec);

/*
 * Consumes len untrusted bytes, calling handler for each complete message.  Errors:
 * -EMSGSIZE (a length over the cap, or zero), -EBADMSG (a frame that does not decode or
 * verify; reason in err), or the handler's.  After any error the stream has lost its framing:
 * the decoder refuses further input with -EPIPE and the peer should be disconnected.
 */
int ck_frame_decoder_feed(struct ck_frame_decoder *dec, const void *untrusted, size_t len,
			  ck_frame_handler_t handler, void *userdata, struct ck_error *err);

/* Bytes of a partial frame held, waiting for the rest (0 between frames). */
size_t ck_frame_decoder_pending(const struct ck_frame_decoder *dec);
/* Bytes allocated for it: at most twice what arrived (or 1 KiB), never the declared length. */
size_t ck_frame_decoder_allocated(const struct ck_frame_decoder *dec);
