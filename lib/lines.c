// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <string.h>

#include "lines.h"

void ck_lines_init(struct ck_lines *l, char *buf, size_t max)
{
	*l = (struct ck_lines){ .buf = buf, .max = max };
}

int ck_lines_feed(struct ck_lines *l, const char *data, size_t n, ck_lines_fn fn,
		  void *userdata)
{
	while (n > 0 && !l->overlong) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		int r;

		if (take > l->max - l->len) {
			/* Its head alone is too long: its tail must never be parsed as a line. */
			l->overlong = true;
			l->len = 0;
			return -EMSGSIZE;
		}
		memcpy(l->buf + l->len, data, take);
		l->len += take;
		if (!nl)
			return 0;
		data += take + 1;
		n -= take + 1;
		take = l->len;
		l->len = 0;
		r = fn(l->buf, take, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}
