// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "lines.h"

struct seen {
	char lines[8][16];
	size_t n;
	int fail_at;		/* fn fails on this line (1-based), 0: never */
};

static int collect(const char *line, size_t len, void *userdata)
{
	struct seen *s = userdata;

	ck_assert_uint_lt(s->n, 8);
	ck_assert_uint_lt(len, 16);
	memcpy(s->lines[s->n], line, len);
	s->lines[s->n][len] = '\0';
	s->n++;
	return (int)s->n == s->fail_at ? -EPIPE : 0;
}

START_TEST(lines_split_across_feeds)
{
	char buf[8];
	struct ck_lines l;
	struct seen s = { 0 };

	ck_lines_init(&l, buf, sizeof(buf));
	ck_assert_int_eq(ck_lines_feed(&l, "ab", 2, collect, &s), 0);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_int_eq(ck_lines_feed(&l, "c\n\nde\nf", 7, collect, &s), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_str_eq(s.lines[0], "abc");
	ck_assert_str_eq(s.lines[1], "");
	ck_assert_str_eq(s.lines[2], "de");
	ck_assert_int_eq(ck_lines_feed(&l, "\n", 1, collect, &s), 0);
	ck_assert_str_eq(s.lines[3], "f");
}
END_TEST

START_TEST(a_line_of_exactly_max_bytes_passes)
{
	char buf[4];
	struct ck_lines l;
	struct seen s = { 0 };

	ck_lines_init(&l, buf, sizeof(buf));
	ck_assert_int_eq(ck_lines_feed(&l, "wxyz\n", 5, collect, &s), 0);
	ck_assert_str_eq(s.lines[0], "wxyz");
	ck_assert_int_eq(ck_lines_feed(&l, "wx", 2, collect, &s), 0);
	ck_assert_int_eq(ck_lines_feed(&l, "yz\n", 3, collect, &s), 0);
	ck_assert_str_eq(s.lines[1], "wxyz");
}
END_TEST

/* The smuggling attack: the tail of an over-long line must never run as a request. */
START_TEST(an_overlong_line_ends_the_framing)
{
	char buf[4];
	struct ck_lines l;
	struct seen s = { 0 };

	ck_lines_init(&l, buf, sizeof(buf));
	ck_assert_int_eq(ck_lines_feed(&l, "ok\nxxxx", 7, collect, &s), 0);
	ck_assert_int_eq(ck_lines_feed(&l, "xrun\n", 5, collect, &s), -EMSGSIZE);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.lines[0], "ok");
	ck_assert_int_eq(ck_lines_feed(&l, "run\nrun\n", 8, collect, &s), 0);
	ck_assert_uint_eq(s.n, 1);
}
END_TEST

START_TEST(the_handlers_error_stops_the_feed)
{
	char buf[8];
	struct ck_lines l;
	struct seen s = { .fail_at = 1 };

	ck_lines_init(&l, buf, sizeof(buf));
	ck_assert_int_eq(ck_lines_feed(&l, "a\nb\n", 4, collect, &s), -EPIPE);
	ck_assert_uint_eq(s.n, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lines");

	th_add(s, lines_split_across_feeds);
	th_add(s, a_line_of_exactly_max_bytes_passes);
	th_add(s, an_overlong_line_ends_the_framing);
	th_add(s, the_handlers_error_stops_the_feed);
	return th_run(s);
}
