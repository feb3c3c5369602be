/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one reader of numbers a person types (command-line options, a subcommand's domid): the
 * whole string, decimal digits only.  strtoul alone takes " 12", "+12" and "-1" (as a huge
 * value), and each main used to patch that differently.
 */
#pragma once

#include <stdint.h>

/*
 * s as a decimal in [min, max]: 0, -EINVAL when it is not one (empty, a sign, a space,
 * anything after the digits), or -ERANGE when it is one outside the range.  *ret is set
 * only on success.
 */
int ck_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/*
 * Seconds with up to six decimals ("30", "0.25") as microseconds in [min_usec, max_usec];
 * errors as ck_parse_uint's.
 */
int ck_parse_seconds(const char *s, uint64_t min_usec, uint64_t max_usec, uint64_t *ret_usec);
