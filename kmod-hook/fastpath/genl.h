/* SPDX-License-Identifier: GPL-2.0-only */
/* The genl family "cokeeper_fp" (uapi/linux/cokeeper_fp.h): set-up relay and counters. */
#ifndef _CKFP_GENL_H
#define _CKFP_GENL_H

#include <linux/types.h>

struct ckfp_chan;

int ckfp_genl_init(void);
void ckfp_genl_exit(void);

/* Multicasts on "events" for cokeeper-agent to relay to the peer; failures are counted only. */
void ckfp_genl_offer(u32 peer, const struct ckfp_chan *c);
void ckfp_genl_accept(u32 peer, u64 id);
void ckfp_genl_close(u32 peer, u64 id, u32 reason);

#endif /* _CKFP_GENL_H */
