/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Messages to and from one packed protobuf Envelope (proto/cokeeper.proto).
 */
#pragma once

#include <stdint.h>

#include "error.h"
#include "message.h"

/*
 * Packs msg into a new buffer of headroom + packed-size bytes, the envelope after the
 * headroom.  -EINVAL for a malformed message (unknown type, missing epoch, bad chunk
 * numbering, more changes than generations, a member that fails ck_member_check()),
 * -EMSGSIZE if it holds more than one frame may (it must be chunked, see chunk.h).
 */
int ck_codec_encode(const struct ck_msg *msg, size_t headroom, uint8_t **ret, size_t *len);

/*
 * Unpacks and verifies len untrusted bytes into *out, which the caller releases with
 * ck_msg_reset().  -EBADMSG, with the reason in err, for anything malformed.  A small
 * envelope (an Ack, a Hello, a delta of a few members) costs no heap allocation beyond the
 * arrays *out owns; nothing in *out points into the bytes or the unpacked envelope.
 */
int ck_codec_decode(const uint8_t *untrusted, size_t len, struct ck_msg *out,
		    struct ck_error *err);
