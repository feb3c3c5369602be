/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _CKFP_SELFTEST_H
#define _CKFP_SELFTEST_H

/*
 * A channel from this guest to itself: grants, maps, binds and tears down through the same
 * code as a channel to a peer, and moves records both ways across the ring's wrap.  Logs one
 * "selftest: loopback PASS" or "FAIL" line; returns 0 or the first error.
 */
int ckfp_selftest_loopback(void);

#endif /* _CKFP_SELFTEST_H */
