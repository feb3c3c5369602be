// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics-text.h"

int metrics_format_parse(const char *s, enum metrics_format *ret)
{
	if (!strcmp(s, "openmetrics"))
		*ret = METRICS_FORMAT_OPENMETRICS;
	else if (!strcmp(s, "prometheus"))
		*ret = METRICS_FORMAT_PROMETHEUS;
	else
		return -EINVAL;
	return 0;
}

void metrics_begin(struct metrics_out *m, FILE *out, enum metrics_format format)
{
	memset(m, 0, sizeof(*m));
	m->out = out;
	m->format = format;
}

static const char *type_name(const struct metrics_out *m)
{
	bool om = m->format == METRICS_FORMAT_OPENMETRICS;

	switch (m->type) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_GAUGE:
		return "gauge";
	case METRICS_INFO:
		return om ? "info" : "gauge";
	case METRICS_HISTOGRAM:
		return "histogram";
	default:
		return om ? "unknown" : "untyped";
	}
}

/* The name TYPE and HELP lines give: Prometheus names a counter and an info by the sample. */
static const char *own_suffix(const struct metrics_out *m)
{
	return m->type == METRICS_COUNTER ? "_total" : m->type == METRICS_INFO ? "_info" : "";
}

void metrics_family(struct metrics_out *m, const char *name, enum metrics_type type,
	const char *unit, const char *help)
{
	const char *suffix;

	snprintf(m->family, sizeof(m->family), "%s", name);
	m->type = type;
	suffix = m->format == METRICS_FORMAT_PROMETHEUS ? own_suffix(m) : "";
	fprintf(m->out, "# TYPE %s%s %s\n", name, suffix, type_name(m));
	if (unit && m->format == METRICS_FORMAT_OPENMETRICS)
		fprintf(m->out, "# UNIT %s %s\n", name, unit);
	fprintf(m->out, "# HELP %s%s %s\n", name, suffix, help);
}

/* A label value: '\', '"' and a line end escaped, as both formats want. */
static void put_label_value(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void put_name(struct metrics_out *m, const char *suffix, const char *const *labels)
{
	fprintf(m->out, "%s%s", m->family, suffix ? suffix : own_suffix(m));
	if (!labels || !labels[0])
		return;
	fputc('{', m->out);
	for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
		fprintf(m->out, "%s%s=\"", i ? "," : "", labels[i]);
		put_label_value(m->out, labels[i + 1]);
		fputc('"', m->out);
	}
	fputc('}', m->out);
}

void metrics_u64(
	struct metrics_out *m, const char *suffix, const char *const *labels, uint64_t value)
{
	put_name(m, suffix, labels);
	fprintf(m->out, " %" PRIu64 "\n", value);
}

void metrics_usec(
	struct metrics_out *m, const char *suffix, const char *const *labels, uint64_t usec)
{
	put_name(m, suffix, labels);
	fprintf(m->out, " %" PRIu64 ".%06" PRIu64 "\n", usec / 1000000, usec % 1000000);
}

void metrics_le(char *buf, size_t size, uint64_t usec)
{
	/* OpenMetrics' canonical numbers: a bound that is a whole number of seconds is "1.0". */
	int n = snprintf(buf, size, "%.6g", (double)usec / 1e6);

	if (n > 0 && (size_t)n + 2 < size && !strpbrk(buf, ".e"))
		memcpy(buf + n, ".0", 3);
}

int metrics_end(struct metrics_out *m)
{
	if (m->format == METRICS_FORMAT_OPENMETRICS)
		fputs("# EOF\n", m->out);
	return fflush(m->out) == 0 && !ferror(m->out) ? 0 : -EIO;
}

int metrics_file_open(struct metrics_file *f, const char *path)
{
	int fd, r;

	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path || asprintf(&f->tmp, "%s.XXXXXX", path) < 0) {
		free(f->path);
		return -ENOMEM;
	}
	fd = mkstemp(f->tmp);
	if (fd < 0) {
		r = -errno;
		goto err;
	}
	/* mkstemp's 0600 would keep the collector (user prometheus) out. */
	if (fchmod(fd, 0644) < 0 || !(f->f = fdopen(fd, "w"))) {
		r = -errno;
		close(fd);
		unlink(f->tmp);
		goto err;
	}
	return 0;

err:
	free(f->tmp);
	free(f->path);
	return r;
}

int metrics_file_close(struct metrics_file *f, int r)
{
	if (r >= 0 && fflush(f->f) != 0)
		r = -errno;
	if (fclose(f->f) != 0 && r >= 0)
		r = -errno;
	if (r >= 0 && rename(f->tmp, f->path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(f->tmp);
		unlink(f->path);
	}
	free(f->tmp);
	free(f->path);
	return r;
}
