/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A libxenvchan without Xen, for benchmarks of the stream layer: each channel's ring is in
 * memory and its event channel is an eventfd (libxenvchan_fd_for_select), level-triggered
 * and consumed by libxenvchan_wait as a real one is.  The peer's side is fake_vchan_put.
 */
#pragma once

#include <stddef.h>

struct libxenvchan;

/* A channel whose peer is attached; NULL out of memory or descriptors. */
struct libxenvchan *fake_vchan_new(void);
/* The peer writes len bytes into our read ring (-ENOBUFS if they do not fit) and notifies. */
int fake_vchan_put(struct libxenvchan *ctrl, const void *data, size_t len);
