/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The text a monitoring system scrapes, for cokeeperctl metrics and cokeeper-query metrics:
 * OpenMetrics 1.0, or the Prometheus text format 0.0.4 that node_exporter's textfile
 * collector parses.  The two differ in a counter's family name (OpenMetrics: "x", its sample
 * "x_total"; Prometheus: "x_total" for both), in info (a gauge x_info for Prometheus), in
 * # UNIT and # EOF (OpenMetrics only) and in what a HELP text escapes.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

enum metrics_format {
	METRICS_FORMAT_UNSPEC,
	METRICS_FORMAT_OPENMETRICS,
	METRICS_FORMAT_PROMETHEUS,
	__METRICS_FORMAT_LAST
};
#define METRICS_FORMAT_MAX (__METRICS_FORMAT_LAST - 1)

enum metrics_type {
	METRICS_TYPE_UNSPEC,
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_INFO, /* one sample, value 1: what it says is in its labels */
	METRICS_HISTOGRAM,
	METRICS_UNKNOWN, /* a value whose kind this version does not know */
	__METRICS_TYPE_LAST
};
#define METRICS_TYPE_MAX (__METRICS_TYPE_LAST - 1)

/* The family being written, and where. */
struct metrics_out {
	FILE *out;
	enum metrics_format format;
	char family[128];
	enum metrics_type type;
};

/* "openmetrics" or "prometheus": 0, or -EINVAL. */
int metrics_format_parse(const char *s, enum metrics_format *ret);

void metrics_begin(struct metrics_out *m, FILE *out, enum metrics_format format);

/*
 * Opens a family: name without a counter's _total or an info's _info; unit (or NULL) is
 * the suffix name ends with ("seconds", "bytes"); help is a constant without '\' or '"'.
 */
void metrics_family(struct metrics_out *m, const char *name, enum metrics_type type,
	const char *unit, const char *help);

/*
 * One sample of the open family.  suffix: "_bucket", "_count" or "_sum" for a histogram's,
 * NULL for the type's own (a counter's _total, an info's _info).  labels: name, value, ...,
 * NULL (or NULL for none); the values are escaped here.
 */
void metrics_u64(
	struct metrics_out *m, const char *suffix, const char *const *labels, uint64_t value);
/* A value in microseconds, written in seconds (exactly: six decimals). */
void metrics_usec(
	struct metrics_out *m, const char *suffix, const char *const *labels, uint64_t usec);

/* "0.0005", "1", "2.5": a bound in microseconds as a le label's seconds. */
void metrics_le(char *buf, size_t size, uint64_t usec);

/* Ends the exposition (# EOF in OpenMetrics): 0, or -EIO if anything failed to write. */
int metrics_end(struct metrics_out *m);

/*
 * A file a collector reads whole or not at all (node_exporter's textfile directory): the
 * text goes to a temporary sibling (PATH.XXXXXX, which a collector of *.prom skips), mode
 * 0644, renamed over PATH once complete.
 */
struct metrics_file {
	char *path, *tmp;
	FILE *f;
};

/* 0 and f->f to write to, or -errno. */
int metrics_file_open(struct metrics_file *f, const char *path);
/*
 * r >= 0: the text is complete, rename it over the path (0, or -errno).  r < 0: nothing
 * could be said, so PATH goes too, stale numbers being worse than none; returns r.
 */
int metrics_file_close(struct metrics_file *f, int r);
