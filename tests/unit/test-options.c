// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "options.h"

enum { OPT_LONG = CK_OPTION_LONG_ONLY, OPT_MORE };

static const struct ck_option table[] = {
	{ "source", 's', "NAME", "where from" },
	{ "include-dom0", OPT_LONG, NULL, "dom0 too" },
	{ "very-long-option-name", OPT_MORE, "N", "first\nsecond" },
	{ "verbose", 'v', NULL, "more" },
	{},
};
static const struct ck_option extra[] = {
	{ "extra", 'x', NULL, "from a second table" },
	{},
};

START_TEST(getopt_gets_both_tables)
{
	const struct ck_option *const tables[] = { table, NULL, extra };
	struct ck_getopt g;

	ck_assert_int_eq(ck_getopt_init(&g, tables, 3, "+"), 0);
	ck_assert_str_eq(g.shortopts, "+s:vx");
	ck_assert_str_eq(g.longopts[0].name, "source");
	ck_assert_int_eq(g.longopts[0].has_arg, required_argument);
	ck_assert_int_eq(g.longopts[1].val, OPT_LONG);
	ck_assert_int_eq(g.longopts[1].has_arg, no_argument);
	ck_assert_str_eq(g.longopts[4].name, "extra");
	ck_assert_ptr_null(g.longopts[5].name);
	ck_getopt_done(&g);
	ck_assert_ptr_null(g.longopts);
}
END_TEST

START_TEST(getopt_parses_what_help_lists)
{
	const struct ck_option *const tables[] = { table };
	char *argv[] = { "prog", "-s", "sim", "--include-dom0", "--very-long-option-name=3", NULL };
	struct ck_getopt g;

	ck_assert_int_eq(ck_getopt_init(&g, tables, 1, ""), 0);
	optind = 0;
	ck_assert_int_eq(ck_getopt_next(&g, 5, argv), 's');
	ck_assert_str_eq(optarg, "sim");
	ck_assert_int_eq(ck_getopt_next(&g, 5, argv), OPT_LONG);
	ck_assert_int_eq(ck_getopt_next(&g, 5, argv), OPT_MORE);
	ck_assert_str_eq(optarg, "3");
	ck_assert_int_eq(ck_getopt_next(&g, 5, argv), -1);
	ck_getopt_done(&g);
}
END_TEST

START_TEST(help_aligns_and_wraps)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_options_help(f, table, 20);
	fclose(f);
	ck_assert(strstr(buf, "  -s, --source=NAME\n                    where from\n"));
	ck_assert(strstr(buf, "      --include-dom0\n                    dom0 too\n"));
	ck_assert(strstr(buf, "      --very-long-option-name=N\n                    first\n"
			      "                    second\n"));
	ck_assert(strstr(buf, "  -v, --verbose     more\n"));
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("options");

	th_add(s, getopt_gets_both_tables);
	th_add(s, getopt_parses_what_help_lists);
	th_add(s, help_aligns_and_wraps);
	return th_run(s);
}
