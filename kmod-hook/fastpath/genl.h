/* SPDX-License-Identifier: GPL-2.0-only */
/* The genl family "cokeeper_fp" (uapi/linux/cokeeper_fp.h): set-up relay and counters. */
#ifndef _CKFP_GENL_H
#define _CKFP_GENL_H

#include <linux/types.h>

struct ckfp_tell_ops;

int ckfp_genl_init(void);
void ckfp_genl_exit(void);

/* Multicasts on "events" for cokeeper-agent to relay to the peer: chan.c's ckfp_tell_ops. */
extern const struct ckfp_tell_ops ckfp_genl_tell;

#endif /* _CKFP_GENL_H */
