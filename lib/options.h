/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program's command line as one table: each entry gives getopt_long its long and short
 * option and --help its line, so the two cannot drift apart (as wireguard-tools' subcommands[]
 * gives its dispatch and its usage).
 */
#pragma once

#include <getopt.h>
#include <stdint.h>
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

/* A program whose whole command line is its option tables (a daemon's). */
struct ck_program {
	const char *name;	/* for messages */
	const char *version;
	const struct ck_option *const *tables;
	size_t n_tables;
	/* One option of the tables: 0, or a negative errno it reported. */
	int (*set)(int key, const char *arg, void *userdata);
	void (*usage)(FILE *f, void *userdata);
};

/*
 * Reads argv: each option goes to p->set, except -h (p->usage to stdout) and -V (the
 * version line); an argument that is no option is refused.  0 to run, 1 when done (help,
 * version), or a negative errno, reported.
 */
int ck_options_parse(const struct ck_program *p, int argc, char **argv, void *userdata);

/*
 * A number option's argument in [min, max] (unit, such as " ms", goes after the range in the
 * message): 0, or -EINVAL reported as "PROG: --OPT takes MIN..MAX UNIT, not 'ARG'".
 */
int ck_option_number(const char *prog, const char *opt, const char *arg, uint64_t min,
		     uint64_t max, const char *unit, uint64_t *ret);
