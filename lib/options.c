// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"
#include "options.h"

static size_t count(const struct ck_option *table)
{
	size_t n = 0;

	while (table && table[n].name)
		n++;
	return n;
}

static void add(struct ck_getopt *g, size_t *n_long, size_t *n_short, const struct ck_option *o)
{
	int has_arg = o->arg ? required_argument : no_argument;

	g->longopts[(*n_long)++] = (struct option){ o->name, has_arg, NULL, o->key };
	if (o->key >= CK_OPTION_LONG_ONLY)
		return;
	g->shortopts[(*n_short)++] = (char)o->key;
	if (o->arg)
		g->shortopts[(*n_short)++] = ':';
}

int ck_getopt_init(struct ck_getopt *g, const struct ck_option *const *tables, size_t n,
		   const char *mode)
{
	size_t total = 0, n_long = 0, n_short = strlen(mode);

	for (size_t t = 0; t < n; t++)
		total += count(tables[t]);
	/* The end entry; two characters at most an option, after the mode. */
	g->longopts = calloc(total + 1, sizeof(*g->longopts));
	g->shortopts = calloc(strlen(mode) + 2 * total + 1, 1);
	if (!g->longopts || !g->shortopts) {
		ck_getopt_done(g);
		return -ENOMEM;
	}
	memcpy(g->shortopts, mode, n_short);
	for (size_t t = 0; t < n; t++)
		for (size_t i = 0; i < count(tables[t]); i++)
			add(g, &n_long, &n_short, &tables[t][i]);
	return 0;
}

int ck_getopt_next(const struct ck_getopt *g, int argc, char **argv)
{
	return getopt_long(argc, argv, g->shortopts, g->longopts, NULL);
}

void ck_getopt_done(struct ck_getopt *g)
{
	free(g->longopts);
	free(g->shortopts);
	g->longopts = NULL;
	g->shortopts = NULL;
}

void ck_options_help(FILE *f, const struct ck_option *table, int width)
{
	for (size_t i = 0; i < count(table); i++) {
		const struct ck_option *o = &table[i];
		const char *help = o->help, *nl;
		int len;

		if (o->key < CK_OPTION_LONG_ONLY)
			len = fprintf(f, "  -%c, --%s", o->key, o->name);
		else
			len = fprintf(f, "      --%s", o->name);
		if (o->arg)
			len += fprintf(f, "=%s", o->arg);
		/* A term too long for its column has its help start on the next line. */
		if (len + 2 > width) {
			fputc('\n', f);
			len = 0;
		}
		for (; (nl = strchr(help, '\n')); help = nl + 1, len = 0)
			fprintf(f, "%*s%.*s\n", width - len, "", (int)(nl - help), help);
		fprintf(f, "%*s%s\n", width - len, "", help);
	}
}

int ck_options_parse(const struct ck_program *p, int argc, char **argv, void *userdata)
{
	struct ck_getopt g;
	int c, r = ck_getopt_init(&g, p->tables, p->n_tables, "");

	if (r < 0) {
		fprintf(stderr, "%s: %s\n", p->name, strerror(-r));
		return r;
	}
	while (r == 0 && (c = ck_getopt_next(&g, argc, argv)) != -1) {
		if (c == 'h') {
			p->usage(stdout, userdata);
			r = 1;
		} else if (c == 'V') {
			printf("%s %s\n", p->name, p->version);
			r = 1;
		} else {
			r = p->set(c, optarg, userdata);
		}
	}
	ck_getopt_done(&g);
	if (r == 0 && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", p->name, argv[optind]);
		r = -EINVAL;
	}
	return r;
}

int ck_option_number(const char *prog, const char *opt, const char *arg, uint64_t min,
		     uint64_t max, const char *unit, uint64_t *ret)
{
	int r = ck_parse_uint(arg, min, max, ret);

	if (r < 0)
		fprintf(stderr, "%s: --%s takes %" PRIu64 "..%" PRIu64 "%s, not '%s'\n", prog, opt,
			min, max, unit, arg);
	return r < 0 ? -EINVAL : 0;
}
