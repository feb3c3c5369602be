// SPDX-License-Identifier: GPL-2.0-only
/*
 * tools/control-client.c's line reader: cokeeperd's replies are untrusted, so a line longer
 * than the cap must be refused before the buffer grows past the cap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control-client.h"
#include "helpers.h"

static void write_all(int fd, const char *s, size_t len)
{
	ck_assert_int_eq(write(fd, s, len), (ssize_t)len);
}

START_TEST(lines_split_across_reads)
{
	struct line_reader r;
	int p[2];
	char *line;
	size_t len;

	ck_assert_int_eq(pipe(p), 0);
	line_reader_init(&r, 1024);
	write_all(p[1], "{\"a\":1}\n{\"b\"", 12);
	ck_assert_int_eq(line_reader_getline(&r, p[0], &line, &len), 0);
	ck_assert_str_eq(line, "{\"a\":1}");
	ck_assert_uint_eq(len, 7);
	ck_assert_int_eq(line_reader_next(&r, &line, &len), -EAGAIN);
	write_all(p[1], ":2}\n\n", 5);
	ck_assert_int_eq(line_reader_getline(&r, p[0], &line, &len), 0);
	ck_assert_str_eq(line, "{\"b\":2}");
	/* An empty line is a line. */
	ck_assert_int_eq(line_reader_getline(&r, p[0], &line, &len), 0);
	ck_assert_uint_eq(len, 0);
	close(p[1]);
	ck_assert_int_eq(line_reader_getline(&r, p[0], &line, &len), -ECONNRESET);
	line_reader_release(&r);
	close(p[0]);
}
END_TEST

START_TEST(a_line_over_the_cap_is_refused_before_growing)
{
	enum { MAX = 10000 };
	struct line_reader r;
	char chunk[4096];
	int p[2], got;
	char *line;
	size_t len;

	ck_assert_int_eq(pipe(p), 0);
	line_reader_init(&r, MAX);
	memset(chunk, 'x', sizeof(chunk));
	/* 12 KiB without a newline: more than the cap, less than the pipe holds. */
	for (int i = 0; i < 3; i++)
		write_all(p[1], chunk, sizeof(chunk));
	do
		got = line_reader_getline(&r, p[0], &line, &len);
	while (got == 0);
	ck_assert_int_eq(got, -EMSGSIZE);
	ck_assert_uint_le(r.cap, MAX + 1);
	ck_assert_uint_le(r.len, MAX);
	line_reader_release(&r);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(a_line_of_exactly_the_cap_fits)
{
	enum { MAX = 5000 };
	struct line_reader r;
	char *buf = malloc(MAX + 1), *line;
	size_t len;
	int p[2];

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pipe(p), 0);
	line_reader_init(&r, MAX);
	memset(buf, 'y', MAX - 1);
	buf[MAX - 1] = '\n';
	write_all(p[1], buf, MAX);
	ck_assert_int_eq(line_reader_getline(&r, p[0], &line, &len), 0);
	ck_assert_uint_eq(len, MAX - 1);
	line_reader_release(&r);
	free(buf);
	close(p[0]);
	close(p[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("line-reader");

	th_add(s, lines_split_across_reads);
	th_add(s, a_line_over_the_cap_is_refused_before_growing);
	th_add(s, a_line_of_exactly_the_cap_fits);
	return th_run(s);
}
