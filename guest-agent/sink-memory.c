// SPDX-License-Identifier: GPL-2.0-only
/*
 * The table without a kernel: a member set in memory, optionally written out as canonical
 * JSON (atomically, by rename) after every change so tests and the demo can read it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "member-json.h"
#include "sink.h"

struct memory_sink {
	struct sink base;
	struct ck_memberset *members;
	uint64_t epoch, gen;
	char *dump_path;
};

static int dump(struct memory_sink *m)
{
	struct json_object *o, *members;
	char tmp[4096], epoch[17];
	FILE *f;
	int r;

	if (!m->dump_path)
		return 0;
	r = ck_members_to_json(m->members, &members);
	if (r < 0)
		return r;
	o = json_object_new_object();
	snprintf(epoch, sizeof(epoch), "%016llx", (unsigned long long)m->epoch);
	json_object_object_add(o, "epoch", json_object_new_string(epoch));
	json_object_object_add(o, "gen", json_object_new_int64(m->gen));
	json_object_object_add(o, "members", members);
	snprintf(tmp, sizeof(tmp), "%s.tmp", m->dump_path);
	f = fopen(tmp, "w");
	if (!f) {
		json_object_put(o);
		return -errno;
	}
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (fclose(f) != 0 || rename(tmp, m->dump_path) != 0)
		return -errno;
	return 0;
}

static int memory_replace(struct sink *base, uint64_t epoch, uint64_t gen,
			  const struct ck_memberset *members)
{
	struct memory_sink *m = (struct memory_sink *)base;
	struct ck_memberset *copy;
	int r;

	r = ck_memberset_copy(members, &copy);
	if (r < 0)
		return r;
	ck_memberset_free(m->members);
	m->members = copy;
	m->epoch = epoch;
	m->gen = gen;
	return dump(m);
}

static int memory_apply(struct sink *base, const struct ck_delta *d)
{
	struct memory_sink *m = (struct memory_sink *)base;
	int r;

	if (d->epoch != m->epoch)
		return -ESTALE;
	r = ck_delta_apply(m->members, d);
	if (r < 0)
		return r;
	m->gen = d->new_gen;
	return dump(m);
}

static void memory_free(struct sink *base)
{
	struct memory_sink *m = (struct memory_sink *)base;

	ck_memberset_free(m->members);
	free(m->dump_path);
	free(m);
}

static const struct sink_ops memory_ops = {
	.name = "memory",
	.replace = memory_replace,
	.apply = memory_apply,
	.free = memory_free,
};

int sink_memory_new(struct sink **ret, const char *dump_path)
{
	struct memory_sink *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->base.ops = &memory_ops;
	if (ck_memberset_new(&m->members) < 0 ||
	    (dump_path && !(m->dump_path = strdup(dump_path)))) {
		memory_free(&m->base);
		return -ENOMEM;
	}
	*ret = &m->base;
	return dump(m);
}
