/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cokeeperd's address state file (--address-state): the orchestrator's addresses, a line per
 * entry, "UUID MAC|- ADDRESS...", and the learned ones, "learned MAC ADDRESS dhcp|arp|ndp
 * EXPIRY" (the lease's end in seconds since the epoch, or "never"), so that a restarted
 * cokeeperd has both before any guest renews.  dom0's own file: a line that does not parse
 * is named and skipped, the rest still read.
 */
#pragma once

#include "addrbook.h"

/* Writes the whole book to path.new, then renames it over path: never half a file. */
int address_file_save(const char *path, const struct ck_addrbook *book);

/* Adds what path holds to book (a lease that ran out meanwhile is dropped); 0 if absent. */
int address_file_load(const char *path, struct ck_addrbook *book);
