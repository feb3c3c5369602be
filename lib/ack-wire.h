/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An Ack's one wire form, read without protobuf-c.  Every guest answers every change with
 * an Ack, so at a thousand guests decoding them is most of what a change costs cokeeperd;
 * protobuf-c's generic unpacker spends some thousand instructions on nineteen bytes.  This
 * recognizes exactly what an encoder writes for an Envelope holding an Ack and nothing else
 * (field 4, then its fields 1 and 2, each at most once and in order, shortest varints); any
 * other bytes, valid or not, are left to protobuf-c.  What it reads still goes through
 * ck_verify_envelope(), the one gate (lib/codec.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if untrusted[0..len) is that form; then *epoch and *gen are its fields (0 if absent). */
bool ck_ack_wire_read(const uint8_t *untrusted, size_t len, uint64_t *epoch, uint64_t *gen);
