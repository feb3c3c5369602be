/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Between the public struct ck_client_peer (network-order addresses, no lib/ types) and the
 * project's struct ck_member, for the tools and tests that compare the two.  (peer.c also
 * holds the public ck_client_peer_source(), which reads a peer as these do.)
 */
#pragma once

#include "cokeeper-client.h"
#include "member.h"

void ck_peer_from_member(const struct ck_member *m, uint64_t tx_packets, uint64_t tx_bytes,
			 struct ck_client_peer *p);
void ck_peer_to_member(const struct ck_client_peer *p, struct ck_member *m);
