// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for cokeeperd's fast path policy (cokeeperd/fastpath-policy.c): the input
 * is the text of a fastpath.conf, as an admin writes it or the control socket hands it over,
 * copied to a buffer of exactly its size (no NUL after it) so that a read past the end is a
 * finding.
 *
 * Invariants beyond "no crash, no out-of-bounds read":
 *  - a refusal sets nothing and says why in a message that starts with the origin;
 *  - what is taken formats to text that parses to the same text again, and decides every
 *    pair of a few fixed members as the original does;
 *  - every decision is the same both ways round, reason and rule included.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath-policy.h"

#define want(cond)                   \
	do {                         \
		if (!(cond))         \
			abort();     \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Members on bridges a fuzzer's globs can hit, one rate-limited vif, one without a bridge. */
static void members(struct ck_member m[4])
{
	static const char *const bridges[4][2] = {
		{ "xenbr0", "ovsbr0.10" }, { "xenbr0", "" }, { "ovsbr0.10", "xenbr1" },
		{ "xenbr1", "xenbr0" },
	};

	memset(m, 0, 4 * sizeof(*m));
	for (unsigned int i = 0; i < 4; i++) {
		m[i].domid = i + 1;
		m[i].state = CK_MEMBER_RUNNING;
		memset(m[i].uuid, 0x11 * (i + 1), CK_UUID_LEN);
		snprintf(m[i].name, sizeof(m[i].name), i < 2 ? "web-%u" : "db-%u", i);
		m[i].n_nics = 2;
		for (unsigned int j = 0; j < 2; j++)
			snprintf(m[i].nics[j].bridge, sizeof(m[i].nics[j].bridge), "%s",
				 bridges[i][j]);
	}
	m[3].nics[1].rate_limited = true;
}

static bool same(const struct fastpath_verdict *x, const struct fastpath_verdict *y)
{
	return x->reason == y->reason && x->rule == y->rule;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fastpath_policy *const untouched = (struct fastpath_policy *)&untouched;
	struct fastpath_policy *p = untouched, *q = untouched;
	char *buf = malloc(size ? size : 1), *once, *twice, err[256] = "";
	struct fastpath_verdict ab, ba, again;
	struct ck_member m[4];
	int r;

	want(buf);
	memcpy(buf, data, size);
	r = fastpath_policy_parse(buf, size, "fuzz", &p, err, sizeof(err));
	if (r < 0) {
		want(p == untouched && strncmp(err, "fuzz", 4) == 0);
		free(buf);
		return 0;
	}
	once = fastpath_policy_format(p);
	want(once);
	want(fastpath_policy_parse(once, strlen(once), "again", &q, NULL, 0) == 0);
	twice = fastpath_policy_format(q);
	want(twice && strcmp(once, twice) == 0);
	json_object_put(fastpath_policy_to_json(p));
	members(m);
	for (unsigned int i = 0; i < 4; i++)
		for (unsigned int j = 0; j < 4; j++) {
			bool ok = fastpath_policy_pair(p, &m[i], &m[j], &ab);

			want(fastpath_policy_pair(p, &m[j], &m[i], &ba) == ok && same(&ab, &ba));
			want(fastpath_policy_pair(q, &m[i], &m[j], &again) == ok &&
			     same(&ab, &again));
			want(ok == (ab.reason == FASTPATH_DENIAL_NONE));
		}
	fastpath_policy_free(p);
	fastpath_policy_free(q);
	free(once);
	free(twice);
	free(buf);
	return 0;
}
