/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program's command line as one table: each entry gives getopt_long its long and short
 * option and --help its line, so the two cannot drift apart (as wireguard-tools' subcommands[]
 * gives its dispatch and its usage).
 */
#pragma once

#include <getopt.h>
#include <stdio.h>

/* A key at or past this has no short option (getopt_long returns it for the long one). */
#define CK_OPTION_LONG_ONLY 0x100

struct ck_option {
	const char *name;	/* the long option, without "--"; NULL ends a table */
	int key;		/* the short option's letter, or CK_OPTION_LONG_ONLY + n */
	const char *arg;	/* the argument's name in --help ("NAME"); NULL: takes none */
	const char *help;	/* what it does; each '\n' starts an indented line */
};

struct ck_getopt {
	struct option *longopts;
	char *shortopts;
};

/*
 * Builds getopt_long's arguments from the tables (up to `n`, each ended by an entry without
 * a name; NULL tables are skipped).  mode prefixes the short options ("+": stop at the first
 * argument that is not an option).  0 or -ENOMEM.
 */
int ck_getopt_init(struct ck_getopt *g, const struct ck_option *const *tables, size_t n,
		   const char *mode);
/* getopt_long over what ck_getopt_init built. */
int ck_getopt_next(const struct ck_getopt *g, int argc, char **argv);
void ck_getopt_done(struct ck_getopt *g);

/* One line an option ("  -s, --source=NAME", its help from column `width`), in table order. */
void ck_options_help(FILE *f, const struct ck_option *table, int width);
