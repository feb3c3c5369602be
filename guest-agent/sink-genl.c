// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel sink: the cokeeper module's co-resident table over generic netlink.  A snapshot
 * is one TABLE_REPLACE (built aside and swapped under RCU by the kernel, so a new epoch never
 * shows a stale entry); a delta is MEMBER_DEL then MEMBER_SET requests, the last one carrying
 * the new generation.  Kernel errors come back with their extended-ACK message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "genl.h"
#include "linux/cokeeper.h"
#include "logging.h"
#include "sink.h"

struct genl_sink {
	struct sink base;
	struct ck_genl *g;
	uint64_t epoch;
};

static int report(struct genl_sink *s, int r, const char *what)
{
	if (s->g->errmsg[0])
		log_warning("kernel: %s: %s", what, s->g->errmsg);
	return r;
}

/* A message with room for the n members of v, and a page for the rest. */
static size_t size_for(const struct ck_member **v, size_t n)
{
	size_t size = 4096;

	for (size_t i = 0; i < n; i++)
		size += ck_genl_member_size(v[i]);
	return size;
}

static int put_generation(struct nl_msg *msg, uint64_t epoch, uint64_t gen)
{
	return nla_put_u64(msg, COKEEPER_A_EPOCH, epoch) < 0 ||
			       nla_put_u64(msg, COKEEPER_A_GEN, gen) < 0 ?
		       -EMSGSIZE :
		       0;
}

static int genl_replace(struct sink *base, uint64_t epoch, uint64_t gen,
			const struct ck_memberset *members)
{
	struct genl_sink *s = (struct genl_sink *)base;
	const struct ck_member **v;
	struct nl_msg *msg;
	struct nlattr *nest;
	size_t n;
	int r;

	r = ck_memberset_sorted(members, &v, &n);
	if (r < 0)
		return r;
	msg = ck_genl_msg(s->g, COKEEPER_CMD_TABLE_REPLACE, 0, size_for(v, n));
	r = msg ? put_generation(msg, epoch, gen) : -ENOMEM;
	if (r == 0) {
		nest = nla_nest_start(msg, COKEEPER_A_MEMBERS);
		r = nest ? 0 : -EMSGSIZE;
		for (size_t i = 0; r == 0 && i < n; i++)
			r = ck_genl_put_member_for(msg, COKEEPER_A_MEMBER, v[i], s->g->version);
		if (r == 0)
			nla_nest_end(msg, nest);
	}
	free(v);
	if (r < 0) {
		nlmsg_free(msg);
		return r;
	}
	r = ck_genl_request(s->g, msg, NULL, NULL);
	if (r < 0)
		return report(s, r, "table replace");
	s->epoch = epoch;
	log_debug("kernel table replaced: %zu members, gen %" PRIu64, n, gen);
	return 0;
}

static int genl_apply(struct sink *base, const struct ck_delta *d)
{
	struct genl_sink *s = (struct genl_sink *)base;
	size_t ops = ck_delta_changes(d);
	int r = 0;

	if (d->epoch != s->epoch)
		return -ESTALE;
	for (size_t i = 0; r == 0 && i < ops; i++) {
		bool del = i < d->n_removed, last = i + 1 == ops;
		struct nl_msg *msg = ck_genl_msg(s->g, del ? COKEEPER_CMD_MEMBER_DEL :
							    COKEEPER_CMD_MEMBER_SET, 0, 0);

		if (!msg)
			return -ENOMEM;
		r = del ? (nla_put_u32(msg, COKEEPER_A_DOMID, d->removed[i]) < 0 ? -EMSGSIZE : 0) :
			  ck_genl_put_member_for(msg, COKEEPER_A_MEMBER, &d->upserts[i - d->n_removed],
						 s->g->version);
		/* The new generation goes with the last change, once the table holds all. */
		if (r == 0 && last)
			r = put_generation(msg, d->epoch, d->new_gen);
		if (r < 0) {
			nlmsg_free(msg);
			return r;
		}
		r = ck_genl_request(s->g, msg, NULL, NULL);
		if (r < 0)
			return report(s, r, del ? "member delete" : "member set");
	}
	return 0;
}

static void genl_free(struct sink *base)
{
	struct genl_sink *s = (struct genl_sink *)base;

	ck_genl_close(s->g);
	free(s);
}

static const struct sink_ops genl_ops = {
	.name = "kernel",
	.replace = genl_replace,
	.apply = genl_apply,
	.free = genl_free,
};

int sink_genl_new(struct sink **ret)
{
	struct genl_sink *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->base.ops = &genl_ops;
	r = ck_genl_open(&s->g);
	if (r == 0 && s->g->version < 2)
		log_warning("cokeeper.ko is older than this agent (family version %u): the table "
			    "gets no address sources and no guest's claimed address; reload the "
			    "module (modprobe -r cokeeper-fp cokeeper; modprobe cokeeper)",
			    s->g->version);
	if (r < 0) {
		free(s);
		return log_error_errno(r, "cannot reach the kernel's \"%s\" netlink family "
					  "(is cokeeper.ko loaded? modprobe cokeeper)",
				       COKEEPER_GENL_NAME);
	}
	*ret = &s->base;
	return 0;
}
