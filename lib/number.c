// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdbool.h>

#include "number.h"

/*
 * Reads the digits at *s into *v, stopping at the first non-digit; *overflow when the
 * value passed UINT64_MAX.  How many digits there were.
 */
static unsigned int digits(const char **s, uint64_t *v, bool *overflow)
{
	unsigned int n = 0;

	for (; **s >= '0' && **s <= '9'; (*s)++, n++) {
		unsigned int d = **s - '0';

		if (*v > (UINT64_MAX - d) / 10)
			*overflow = true;
		else
			*v = *v * 10 + d;
	}
	return n;
}

int ck_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	bool overflow = false;
	uint64_t v = 0;

	if (!digits(&s, &v, &overflow) || *s)
		return -EINVAL;
	if (overflow || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int ck_parse_seconds(const char *s, uint64_t min_usec, uint64_t max_usec, uint64_t *ret_usec)
{
	bool overflow = false;
	uint64_t sec = 0, frac = 0;
	unsigned int n_frac = 0;

	if (!digits(&s, &sec, &overflow))
		return -EINVAL;
	if (*s == '.') {
		s++;
		n_frac = digits(&s, &frac, &overflow);
		/* "1." is not a number; a seventh decimal is finer than we keep. */
		if (!n_frac || n_frac > 6)
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	for (; n_frac < 6; n_frac++)
		frac *= 10;
	if (overflow || sec > (UINT64_MAX - frac) / 1000000)
		return -ERANGE;
	sec = sec * 1000000 + frac;
	if (sec < min_usec || sec > max_usec)
		return -ERANGE;
	*ret_usec = sec;
	return 0;
}
