/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one gate between bytes from a peer and the rest of the code: every decoded envelope
 * passes here, and only what passes becomes a struct ck_msg.
 */
#pragma once

#include "cokeeper.pb-c.h"
#include "error.h"
#include "message.h"

/*
 * Checks every field of an unpacked envelope against the protocol's rules (types, lengths,
 * counts, ranges, domid uniqueness; member rules of ck_member_check()) and converts it into
 * *out, of which it first zeroes what the message's type uses (ck_msg_zero()).  On
 * failure returns -EBADMSG with the reason in err and leaves all of *out zeroed.
 */
int ck_verify_envelope(const Cokeeper__Envelope *untrusted, struct ck_msg *out,
		       struct ck_error *err);
