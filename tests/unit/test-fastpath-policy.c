// SPDX-License-Identifier: GPL-2.0-only
/*
 * dom0's authorization of fast path pairs (cokeeperd/fastpath-policy.c): the file's syntax,
 * every kind of bad line refused with a message that names it and nothing applied, the
 * bounds, the decision over every NIC pair with its reasons, the same answer both ways
 * round, the text form parsed back to the same decisions, the read of the file, and the
 * files that show the syntax to people (the example the packages install, the man page's
 * examples) against the parser.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failalloc.h"
#include "fastpath-policy.h"
#include "helpers.h"
#include "member-json.h"

#define UUID_A "c0ffee00-1234-5678-9abc-def012345678"

/* A sentinel *ret must still hold after a refusal. */
static struct fastpath_policy *const untouched = (struct fastpath_policy *)&untouched;

static struct fastpath_policy *parsed(const char *text)
{
	struct fastpath_policy *p = NULL;
	char err[256] = "";
	int r;

	r = fastpath_policy_parse(text, strlen(text), "fastpath.conf", &p, err, sizeof(err));
	ck_assert_msg(r == 0, "'%s' refused (%d): %s", text, r, err);
	ck_assert_ptr_nonnull(p);
	return p;
}

/*
 * text (len bytes) is refused with code, *ret untouched, and a message holding each of the
 * NULL-ended strings that follow (the line's "fastpath.conf:N:", the word at fault).
 */
static void refused(const char *text, size_t len, int code, ...)
{
	struct fastpath_policy *p = untouched;
	char err[256] = "";
	const char *want;
	va_list ap;
	int r;

	r = fastpath_policy_parse(text, len, "fastpath.conf", &p, err, sizeof(err));
	ck_assert_msg(r == code, "'%.*s' gave %d, not %d (%s)", (int)len, text, r, code, err);
	ck_assert_ptr_eq(p, untouched);
	va_start(ap, code);
	while ((want = va_arg(ap, const char *)))
		ck_assert_msg(strstr(err, want), "'%.*s': '%s' is not in \"%s\"", (int)len, text,
			      want, err);
	va_end(ap);
}

#define REFUSED(text, code, ...) refused(text, strlen(text), code, __VA_ARGS__, NULL)

static void formats_as(const struct fastpath_policy *p, const char *want)
{
	char *s = fastpath_policy_format(p);

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, want);
	free(s);
}

static void json_is(const struct fastpath_policy *p, const char *want)
{
	struct json_object *o = fastpath_policy_to_json(p);

	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), want);
	json_object_put(o);
}

/*
 * A member named name with one NIC per bridge after it (up to NULL): "" is a vif on no
 * bridge, a leading '%' a rate-limited vif.
 */
static void guest(struct ck_member *m, uint16_t domid, const char *name, ...)
{
	const char *bridge;
	va_list ap;

	th_member(m, domid, 0);
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->n_nics = 0;
	va_start(ap, name);
	while ((bridge = va_arg(ap, const char *))) {
		struct ck_nic *nic = &m->nics[m->n_nics++];

		nic->mac[0] = 0x00;
		nic->mac[1] = 0x16;
		nic->mac[2] = 0x3e;
		nic->mac[3] = m->n_nics;
		nic->mac[5] = domid;
		nic->rate_limited = bridge[0] == '%';
		snprintf(nic->bridge, sizeof(nic->bridge), "%s", bridge + nic->rate_limited);
	}
	va_end(ap);
	ck_assert_int_eq(ck_member_check(m), 0);
}

/* The verdict on (a, b), checked to be the one on (b, a); rule (may be NULL) gets its rule. */
static enum fastpath_denial decide(const struct fastpath_policy *p, const struct ck_member *a,
				   const struct ck_member *b, int *rule)
{
	struct fastpath_verdict ab = { .reason = __FASTPATH_DENIAL_LAST, .rule = 99 };
	struct fastpath_verdict ba = { .reason = __FASTPATH_DENIAL_LAST, .rule = 99 };
	bool ok = fastpath_policy_pair(p, a, b, &ab);

	ck_assert(fastpath_policy_pair(p, b, a, &ba) == ok);
	ck_assert(fastpath_policy_pair(p, a, b, NULL) == ok);
	ck_assert_int_eq(ab.reason, ba.reason);
	ck_assert_int_eq(ab.rule, ba.rule);
	ck_assert(ok == (ab.reason == FASTPATH_DENIAL_NONE));
	ck_assert(ab.reason == FASTPATH_DENIAL_RULE ? ab.rule >= 0 : ab.rule == -1);
	if (rule)
		*rule = ab.rule;
	return ab.reason;
}

START_TEST(policy_builtin_allows_by_default_and_denies_rate_limited)
{
	struct fastpath_policy *p = fastpath_policy_new();
	struct ck_member a, b;

	ck_assert_ptr_nonnull(p);
	formats_as(p, "default allow\nrate-limited deny\n");
	json_is(p, "{\"default\":\"allow\",\"rate_limited\":\"deny\",\"rules\":[],"
		   "\"origin\":\"built-in\"}");
	ck_assert_str_eq(fastpath_policy_origin(p), "built-in");
	guest(&a, 3, "web-1", "xenbr0", NULL);
	guest(&b, 4, "web-2", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	guest(&b, 4, "web-2", "%xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_RATE_LIMITED);
	fastpath_policy_free(p);
	fastpath_policy_free(NULL);

	/* Empty text and text of comments only are the built-in policy too. */
	p = parsed("");
	formats_as(p, "default allow\nrate-limited deny\n");
	fastpath_policy_free(p);
	p = parsed("# nothing\n\n   \n\t\n");
	formats_as(p, "default allow\nrate-limited deny\n");
	fastpath_policy_free(p);
}
END_TEST

START_TEST(parse_takes_every_directive)
{
	struct fastpath_policy *p = parsed("default deny\n"
					   "rate-limited allow\n"
					   "deny bridge xenbr1\n"
					   "allow bridge br.*\n"
					   "deny name tenant-[ab]-*\n"
					   "allow name web-?\n"
					   "deny uuid C0FFEE00-1234-5678-9ABC-DEF012345678\n"
					   "allow uuid " UUID_A "\n");

	/* Uuids come back in lowercase, everything else as written, in the file's order. */
	formats_as(p, "default deny\n"
		      "rate-limited allow\n"
		      "deny bridge xenbr1\n"
		      "allow bridge br.*\n"
		      "deny name tenant-[ab]-*\n"
		      "allow name web-?\n"
		      "deny uuid " UUID_A "\n"
		      "allow uuid " UUID_A "\n");
	json_is(p, "{\"default\":\"deny\",\"rate_limited\":\"allow\",\"rules\":["
		   "{\"action\":\"deny\",\"bridge\":\"xenbr1\"},"
		   "{\"action\":\"allow\",\"bridge\":\"br.*\"},"
		   "{\"action\":\"deny\",\"name\":\"tenant-[ab]-*\"},"
		   "{\"action\":\"allow\",\"name\":\"web-?\"},"
		   "{\"action\":\"deny\",\"uuid\":\"" UUID_A "\"},"
		   "{\"action\":\"allow\",\"uuid\":\"" UUID_A "\"}],"
		   "\"origin\":\"fastpath.conf\"}");
	ck_assert_str_eq(fastpath_policy_origin(p), "fastpath.conf");
	fastpath_policy_free(p);
}
END_TEST

START_TEST(parse_skips_comments_blanks_and_tabs)
{
	struct fastpath_policy *p = parsed("# fastpath.conf\n"
					   "\n"
					   "   \t  \n"
					   "\tdefault\t\tdeny   # trailing comment\n"
					   "deny   bridge\txenbr9#no blank before it\n"
					   "  # indented comment: deny bridge x\n"
					   "allow name web-*");	/* no final newline */

	formats_as(p, "default deny\nrate-limited deny\ndeny bridge xenbr9\nallow name web-*\n");
	fastpath_policy_free(p);

	/* len bounds the text: what follows it is not read, a NUL or not. */
	const char text[] = "deny bridge xenbr0deny name x";
	struct fastpath_policy *q = NULL;

	ck_assert_int_eq(fastpath_policy_parse(text, strlen("deny bridge xenbr0"), "t", &q, NULL,
					       0), 0);
	formats_as(q, "default allow\nrate-limited deny\ndeny bridge xenbr0\n");
	fastpath_policy_free(q);
}
END_TEST

START_TEST(parse_last_default_and_rate_limited_win)
{
	struct fastpath_policy *p;

	p = parsed("default deny\nrate-limited allow\ndefault allow\nrate-limited deny\n");
	formats_as(p, "default allow\nrate-limited deny\n");
	fastpath_policy_free(p);
	p = parsed("default allow\nrate-limited deny\ndefault deny\nrate-limited allow\n");
	formats_as(p, "default deny\nrate-limited allow\n");
	fastpath_policy_free(p);
}
END_TEST

START_TEST(parse_refuses_bad_lines_naming_them)
{
	char err[256];
	struct fastpath_policy *p = untouched;

	/* The message as a whole, once. */
	ck_assert_int_eq(fastpath_policy_parse("default deny\n# ok\nalow bridge x\n", 32,
					       "fastpath.conf", &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "fastpath.conf:3: unknown directive 'alow' (allow, deny, default, "
			      "rate-limited)");
	ck_assert_ptr_eq(p, untouched);

	REFUSED("Allow bridge x", -EINVAL, "fastpath.conf:1:", "'Allow'");
	REFUSED("\n\ndefault", -EINVAL, "fastpath.conf:3:", "'default' needs one word");
	REFUSED("default allow deny", -EINVAL, ":1:", "'default' needs one word");
	REFUSED("default maybe", -EINVAL, ":1:", "'maybe'", "allow or deny");
	REFUSED("default ALLOW", -EINVAL, ":1:", "'ALLOW'");
	REFUSED("rate-limited", -EINVAL, ":1:", "'rate-limited' needs one word");
	REFUSED("rate-limited yes", -EINVAL, ":1:", "'rate-limited' takes", "'yes'");
	REFUSED("rate-limited allow # fine\nrate-limited allow deny", -EINVAL, ":2:",
		"'rate-limited' needs one word");
	REFUSED("deny", -EINVAL, ":1:", "'deny' needs what it matches");
	REFUSED("allow # bridge x", -EINVAL, ":1:", "'allow' needs what it matches");
	REFUSED("deny brige xenbr0", -EINVAL, ":1:", "'brige'", "bridge, name or uuid");
	REFUSED("deny bridge", -EINVAL, ":1:", "'deny bridge' needs one glob");
	REFUSED("allow name", -EINVAL, ":1:", "'allow name' needs one glob");
	REFUSED("deny bridge xenbr0 xenbr1", -EINVAL, ":1:", "'deny bridge' needs one glob");
	REFUSED("deny name a b c d e", -EINVAL, ":1:", "'deny name' needs one glob");
	REFUSED("deny uuid", -EINVAL, ":1:", "'deny uuid' needs one uuid");
	REFUSED("deny uuid " UUID_A " " UUID_A, -EINVAL, ":1:", "'deny uuid' needs one uuid");
	REFUSED("# a\n# b\n# c\ndeny uuid web-1", -EINVAL, "fastpath.conf:4:", "bad uuid 'web-1'");
	REFUSED("deny uuid c0ffee00-1234-5678-9abc-def01234567", -EINVAL, "bad uuid");
	REFUSED("deny uuid c0ffee00-1234-5678-9abc-def0123456789", -EINVAL, "bad uuid");
	REFUSED("deny uuid c0ffee0012345678-9abc-def012345678-", -EINVAL, "bad uuid");
	REFUSED("deny uuid g0ffee00-1234-5678-9abc-def012345678", -EINVAL, "bad uuid");
	REFUSED("deny uuid c0ffee00123456789abcdef012345678", -EINVAL, "bad uuid");
	/* A line cut at its '#' is not a directive cut in half that passes. */
	REFUSED("deny bridge #xenbr0", -EINVAL, "'deny bridge' needs one glob");
}
END_TEST

/* Bytes that are not printable ASCII, a blank or a newline, comments included. */
START_TEST(parse_refuses_nul_and_control_bytes)
{
	static const char nul[] = "default deny\ndeny bridge xen\0br0\n";
	static const char *const bad[] = {
		"deny bridge xen\001br0",
		"deny bridge xenbr0\r",
		"deny bridge xenbr0 # caf\xc3\xa9",
		"deny name web\x7f",
		"deny name web\x1b[2J",
		"\v",
		"\f",
	};

	refused(nul, sizeof(nul) - 1, -EINVAL, "fastpath.conf:2:", "0x00", NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[64], hex[8];
		size_t k = strcspn(bad[i], "\001\r\xc3\x7f\x1b\v\f");

		snprintf(hex, sizeof(hex), "0x%02x", (unsigned char)bad[i][k]);
		snprintf(text, sizeof(text), "# one\n%s\n", bad[i]);
		refused(text, strlen(text), -EINVAL, "fastpath.conf:2:", hex, NULL);
	}
}
END_TEST

START_TEST(parse_bounds_lines_globs_and_rules)
{
	char line[FASTPATH_POLICY_LINE_MAX + 2], glob[FASTPATH_POLICY_GLOB_MAX + 2], *text;
	size_t size = (FASTPATH_POLICY_RULES_MAX + 1) * 32, n = 0;
	struct fastpath_policy *p;
	char err[256];

	/* A line of 512 bytes is taken, comment or directive; 513 is not, even a comment. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "default deny", 12);
	line[FASTPATH_POLICY_LINE_MAX] = '\0';
	p = parsed(line);
	formats_as(p, "default deny\nrate-limited deny\n");
	fastpath_policy_free(p);
	line[0] = '#';
	line[FASTPATH_POLICY_LINE_MAX] = 'x';
	line[FASTPATH_POLICY_LINE_MAX + 1] = '\0';
	REFUSED(line, -EINVAL, "fastpath.conf:1:", "longer than 512 bytes");
	/* Its newline does not count. */
	line[FASTPATH_POLICY_LINE_MAX] = '\n';
	p = parsed(line);
	fastpath_policy_free(p);

	/* A glob of 64 bytes is taken, 65 are not. */
	memset(glob, 'b', sizeof(glob));
	glob[FASTPATH_POLICY_GLOB_MAX] = '\0';
	snprintf(line, sizeof(line), "deny bridge %s", glob);
	p = parsed(line);
	fastpath_policy_free(p);
	snprintf(line, sizeof(line), "# x\nallow name %s", glob);
	p = parsed(line);
	fastpath_policy_free(p);
	glob[FASTPATH_POLICY_GLOB_MAX] = 'b';
	glob[FASTPATH_POLICY_GLOB_MAX + 1] = '\0';
	snprintf(line, sizeof(line), "# x\nallow name %s", glob);
	REFUSED(line, -EINVAL, "fastpath.conf:2:", "glob of 65 bytes", "at most 64");

	/* 256 rules are taken; the 257th is refused on its own line. */
	text = malloc(size);
	ck_assert_ptr_nonnull(text);
	n += snprintf(text + n, size - n, "default deny\n");
	for (unsigned int i = 0; i < FASTPATH_POLICY_RULES_MAX; i++)
		n += snprintf(text + n, size - n, "deny name guest-%u\n", i);
	p = parsed(text);
	fastpath_policy_free(p);
	n += snprintf(text + n, size - n, "allow bridge xenbr0\n");
	p = untouched;
	ck_assert_int_eq(fastpath_policy_parse(text, n, "fastpath.conf", &p, err, sizeof(err)),
			 -E2BIG);
	ck_assert_str_eq(err, "fastpath.conf:258: too many rules (at most 256)");
	ck_assert_ptr_eq(p, untouched);
	free(text);

	/* The text as a whole is bounded as a file is. */
	text = calloc(1, FASTPATH_POLICY_FILE_MAX + 1);
	ck_assert_ptr_nonnull(text);
	memset(text, '\n', FASTPATH_POLICY_FILE_MAX + 1);
	p = untouched;
	ck_assert_int_eq(fastpath_policy_parse(text, FASTPATH_POLICY_FILE_MAX + 1, "control", &p,
					       err, sizeof(err)), -EFBIG);
	ck_assert_str_eq(err, "control: longer than 65536 bytes");
	ck_assert_ptr_eq(p, untouched);
	ck_assert_int_eq(fastpath_policy_parse(text, FASTPATH_POLICY_FILE_MAX, "control", &p,
					       err, sizeof(err)), 0);
	fastpath_policy_free(p);
	free(text);
}
END_TEST

/* A message cut to a short buffer is still a string; no buffer at all is fine. */
START_TEST(parse_message_fits_its_buffer)
{
	struct fastpath_policy *p = untouched;
	char err[12];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(fastpath_policy_parse("bogus", 5, "/etc/cokeeper/fastpath.conf", &p, err,
					       sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "/etc/cokeep");
	ck_assert_int_eq(fastpath_policy_parse("bogus", 5, "o", &p, err, 4), -EINVAL);
	ck_assert_str_eq(err, "o:1");
	ck_assert_int_eq(fastpath_policy_parse("bogus", 5, "o", &p, NULL, 0), -EINVAL);
	ck_assert_int_eq(fastpath_policy_parse("bogus", 5, "o", &p, err, 0), -EINVAL);
	ck_assert_ptr_eq(p, untouched);
}
END_TEST

/* Each allocation fails in turn: -ENOMEM, nothing set, nothing leaked. */
START_TEST(parse_out_of_memory_applies_nothing)
{
	static const char text[] = "default deny\nallow bridge xenbr0\n";
	struct fastpath_policy *p;
	size_t live = th_alloc_live();
	char err[128];
	long k;
	int r;

	/* Bounded, so that a parse that never succeeds fails here rather than hangs. */
	for (k = 0; k < 16; k++) {
		p = untouched;
		th_alloc_fail_at(k);
		r = fastpath_policy_parse(text, sizeof(text) - 1, "o", &p, err, sizeof(err));
		th_alloc_fail_at(-1);
		if (r == 0)
			break;
		ck_assert_int_eq(r, -ENOMEM);
		ck_assert_str_eq(err, "o: out of memory");
		ck_assert_ptr_eq(p, untouched);
		ck_assert_uint_eq(th_alloc_live(), live);
	}
	ck_assert_int_eq(k, 2);		/* the policy and its origin */
	fastpath_policy_free(p);
	ck_assert_uint_eq(th_alloc_live(), live);

	th_alloc_fail_at(0);
	ck_assert_ptr_null(fastpath_policy_new());
	th_alloc_fail_at(-1);
	p = fastpath_policy_new();
	th_alloc_fail_at(0);
	ck_assert_ptr_null(fastpath_policy_format(p));
	th_alloc_fail_at(-1);
	fastpath_policy_free(p);
	ck_assert_uint_eq(th_alloc_live(), live);
}
END_TEST

START_TEST(pair_on_the_same_bridge_is_allowed)
{
	struct fastpath_policy *p = fastpath_policy_new();
	struct ck_member a, b;

	guest(&a, 3, "web-1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	/* An Open vSwitch VLAN is part of the name. */
	guest(&a, 3, "web-1", "ovsbr0.10", NULL);
	guest(&b, 4, "db-1", "ovsbr0.10", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	fastpath_policy_free(p);
}
END_TEST

START_TEST(pair_without_a_shared_bridge_is_denied)
{
	struct fastpath_policy *p = fastpath_policy_new();
	struct ck_member a, b;

	guest(&a, 3, "web-1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr1", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NO_SHARED_BRIDGE);
	/* Another VLAN on the same switch is another bridge. */
	guest(&a, 3, "web-1", "ovsbr0.10", NULL);
	guest(&b, 4, "db-1", "ovsbr0.20", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NO_SHARED_BRIDGE);
	guest(&b, 4, "db-1", "ovsbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NO_SHARED_BRIDGE);
	/* Two vifs on no bridge (vif-route) share nothing, equal as "" is to "": worse, what
	 * dom0 does to a routed vif's traffic is unknown, so neither pairs with anyone. */
	guest(&a, 3, "web-1", "", NULL);
	guest(&b, 4, "db-1", "", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_UNBRIDGED_VIF);
	/* Nor does a member without NICs, with anyone. */
	guest(&a, 3, "web-1", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NO_SHARED_BRIDGE);
	ck_assert_int_eq(decide(p, &a, &a, NULL), FASTPATH_DENIAL_NO_SHARED_BRIDGE);
	/* Even a policy that allows everything does not make a bridge shared. */
	fastpath_policy_free(p);
	p = parsed("rate-limited allow\nallow bridge *\nallow name *\n");
	guest(&a, 3, "web-1", "xenbr0", "xenbr2", NULL);
	guest(&b, 4, "db-1", "xenbr1", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NO_SHARED_BRIDGE);
	/* ...nor make a routed vif's traffic dom0's to leave. */
	guest(&a, 3, "web-1", "xenbr0", "", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_UNBRIDGED_VIF);
	/* A bridge that fills its array without a NUL is none: no pair. */
	guest(&a, 3, "web-1", "xenbr0", NULL);
	memset(a.nics[0].bridge, 'x', sizeof(a.nics[0].bridge));
	memcpy(&b, &a, sizeof(b));
	b.domid = 4;
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_UNBRIDGED_VIF);
	fastpath_policy_free(p);
}
END_TEST

START_TEST(pair_any_nic_pair_on_a_shared_bridge_suffices)
{
	struct fastpath_policy *p = fastpath_policy_new();
	struct ck_member a, b;

	guest(&a, 3, "web-1", "xenbr3", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr9", "xenbr8", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	/* But a vif on no bridge, on either side, keeps them apart. */
	guest(&b, 4, "db-1", "xenbr9", "", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_UNBRIDGED_VIF);
	/* The last NIC of each. */
	guest(&a, 3, "web-1", "a", "b", "c", "d", "e", "f", "g", "xenbr7", NULL);
	guest(&b, 4, "db-1", "h", "i", "j", "k", "l", "m", "n", "xenbr7", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	/* n_nics bounds what is looked at. */
	a.n_nics--;
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NO_SHARED_BRIDGE);
	fastpath_policy_free(p);
}
END_TEST

START_TEST(pair_rate_limited_vif_on_either_side)
{
	struct fastpath_policy *deny = fastpath_policy_new(), *allow;
	struct ck_member a, b;

	allow = parsed("rate-limited allow\n");
	guest(&a, 3, "web-1", "%xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(deny, &a, &b, NULL), FASTPATH_DENIAL_RATE_LIMITED);
	ck_assert_int_eq(decide(allow, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	guest(&a, 3, "web-1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "%xenbr0", NULL);
	ck_assert_int_eq(decide(deny, &a, &b, NULL), FASTPATH_DENIAL_RATE_LIMITED);
	ck_assert_int_eq(decide(allow, &a, &b, NULL), FASTPATH_DENIAL_NONE);

	/* A limit on a vif of another bridge does not matter... */
	guest(&a, 3, "web-1", "%xenbr1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(deny, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	/* ...but one on a bridge they share does, whatever their other bridges allow: the
	 * channel would carry what that vif sends too, unshaped. */
	guest(&a, 3, "web-1", "%xenbr0", "xenbr1", NULL);
	guest(&b, 4, "db-1", "xenbr0", "xenbr1", NULL);
	ck_assert_int_eq(decide(deny, &a, &b, NULL), FASTPATH_DENIAL_RATE_LIMITED);

	/* No rule lifts the limit: it is checked first. */
	fastpath_policy_free(deny);
	deny = parsed("allow bridge xenbr0\nallow name web-1\n");
	guest(&a, 3, "web-1", "%xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(deny, &a, &b, NULL), FASTPATH_DENIAL_RATE_LIMITED);
	fastpath_policy_free(deny);
	fastpath_policy_free(allow);
}
END_TEST

START_TEST(pair_deny_bridge_glob)
{
	struct fastpath_policy *p = parsed("deny bridge xenbr1*\ndeny bridge ovs?.[0-9]\n");
	struct ck_member a, b;
	int rule;

	guest(&a, 3, "web-1", "xenbr1", NULL);
	guest(&b, 4, "db-1", "xenbr1", NULL);
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 0);
	guest(&a, 3, "web-1", "xenbr10", NULL);
	guest(&b, 4, "db-1", "xenbr10", NULL);
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 0);
	guest(&a, 3, "web-1", "ovs0.7", NULL);
	guest(&b, 4, "db-1", "ovs0.7", NULL);
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 1);
	/* Globs match the whole name, case and all. */
	guest(&a, 3, "web-1", "ovs0.70", NULL);
	guest(&b, 4, "db-1", "ovs0.70", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	guest(&a, 3, "web-1", "XENBR1", NULL);
	guest(&b, 4, "db-1", "XENBR1", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	guest(&a, 3, "web-1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	/* Denied on one bridge, allowed on another they share too: denied (a channel joins
	 * domains, and would carry past the denied bridge). */
	guest(&a, 3, "web-1", "xenbr1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr1", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_RULE);
	fastpath_policy_free(p);
}
END_TEST

START_TEST(pair_deny_name_glob_matches_either_member)
{
	struct fastpath_policy *p = parsed("deny name tenant-b-*\n");
	struct ck_member a, b;
	int rule;

	guest(&a, 3, "tenant-b-web", "xenbr0", NULL);
	guest(&b, 4, "tenant-a-db", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 0);
	guest(&a, 3, "tenant-a-web", "xenbr0", NULL);
	guest(&b, 4, "tenant-b-db", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	guest(&a, 3, "tenant-b-web", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	guest(&a, 3, "tenant-a-web", "xenbr0", NULL);
	guest(&b, 4, "tenant-a-db", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	guest(&b, 4, "xtenant-b-db", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	fastpath_policy_free(p);

	/* A name as long as the protocol allows is matched whole. */
	p = parsed("deny name *z\n");
	memset(a.name, 'a', CK_NAME_MAX);
	a.name[CK_NAME_MAX - 1] = 'z';
	a.name[CK_NAME_MAX] = '\0';
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_RULE);
	fastpath_policy_free(p);
}
END_TEST

START_TEST(pair_deny_uuid_matches_either_member)
{
	struct fastpath_policy *p = parsed("allow bridge xenbr9\ndeny uuid " UUID_A "\n");
	struct ck_member a, b, c;
	int rule;

	guest(&a, 3, "web-1", "xenbr0", "xenbr9", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	guest(&c, 5, "db-2", "xenbr0", NULL);
	ck_assert_int_eq(ck_parse_uuid(UUID_A, a.uuid), 0);
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 1);
	ck_assert_int_eq(decide(p, &b, &c, NULL), FASTPATH_DENIAL_NONE);
	/* One byte off is another domain. */
	a.uuid[CK_UUID_LEN - 1] ^= 1;
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	a.uuid[CK_UUID_LEN - 1] ^= 1;
	/* The rule before it still allows them where they share xenbr9. */
	guest(&b, 4, "db-1", "xenbr9", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	fastpath_policy_free(p);
}
END_TEST

/* The first rule that matches decides: the order of two rules that both match is the answer. */
START_TEST(pair_first_matching_rule_decides)
{
	struct fastpath_policy *allow_first = parsed("allow name web-*\ndeny bridge xenbr1\n");
	struct fastpath_policy *deny_first = parsed("deny bridge xenbr1\nallow name web-*\n");
	struct ck_member web, db, db2;
	int rule;

	guest(&web, 3, "web-1", "xenbr1", NULL);
	guest(&db, 4, "db-1", "xenbr1", NULL);
	guest(&db2, 5, "db-2", "xenbr1", NULL);
	ck_assert_int_eq(decide(allow_first, &web, &db, NULL), FASTPATH_DENIAL_NONE);
	ck_assert_int_eq(decide(allow_first, &db, &db2, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 1);
	ck_assert_int_eq(decide(deny_first, &web, &db, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 0);
	ck_assert_int_eq(decide(deny_first, &db, &db2, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 0);
	fastpath_policy_free(allow_first);
	fastpath_policy_free(deny_first);

	/* Two deny rules: the first one is named. */
	deny_first = parsed("deny name db-*\ndeny bridge xenbr1\n");
	ck_assert_int_eq(decide(deny_first, &db, &db2, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 0);
	fastpath_policy_free(deny_first);
}
END_TEST

START_TEST(pair_default_deny_with_allowed_bridges)
{
	struct fastpath_policy *p = parsed("default deny\nallow bridge xenbr0\n");
	struct ck_member a, b;

	guest(&a, 3, "web-1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	guest(&a, 3, "web-1", "xenbr1", NULL);
	guest(&b, 4, "db-1", "xenbr1", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_DEFAULT);
	guest(&a, 3, "web-1", "xenbr1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr0", "xenbr1", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_DEFAULT);
	/* A bridge only one of them is on is no way between them: it does not count. */
	guest(&a, 3, "web-1", "xenbr1", "xenbr0", NULL);
	guest(&b, 4, "db-1", "xenbr0", NULL);
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	fastpath_policy_free(p);
}
END_TEST

/*
 * Denied on NIC pairs for different reasons: the verdict names the most specific, rule
 * before default before rate limit, and of two deny rules the first in the file.
 */
START_TEST(pair_denial_names_the_most_specific_reason)
{
	struct fastpath_policy *p = parsed("default deny\n"
					   "deny bridge xenbr3\n"
					   "deny bridge xenbr2\n"
					   "allow bridge xenbr9\n");
	struct ck_member a, b;
	int rule;

	guest(&a, 3, "web-1", "%xenbr0", "xenbr1", "xenbr2", "xenbr3", "xenbr4", NULL);
	guest(&b, 4, "db-1", "xenbr0", "xenbr1", "xenbr2", "xenbr3", "xenbr5", NULL);
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 0);
	/* Without xenbr3, xenbr2's rule. */
	snprintf(a.nics[3].bridge, sizeof(a.nics[3].bridge), "a-only-3");
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 1);
	/* Without the rules' bridges, the default. */
	snprintf(a.nics[2].bridge, sizeof(a.nics[2].bridge), "a-only-2");
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_DEFAULT);
	/* With only the rate-limited one, the limit. */
	snprintf(a.nics[1].bridge, sizeof(a.nics[1].bridge), "a-only-1");
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_RATE_LIMITED);
	snprintf(a.nics[0].bridge, sizeof(a.nics[0].bridge), "a-only-0");
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NO_SHARED_BRIDGE);
	/* One allowed NIC pair does not outweigh a denied one; alone, it is enough. */
	snprintf(a.nics[4].bridge, sizeof(a.nics[4].bridge), "xenbr9");
	snprintf(b.nics[4].bridge, sizeof(b.nics[4].bridge), "xenbr9");
	snprintf(a.nics[3].bridge, sizeof(a.nics[3].bridge), "xenbr3");
	ck_assert_int_eq(decide(p, &a, &b, &rule), FASTPATH_DENIAL_RULE);
	ck_assert_int_eq(rule, 0);
	snprintf(a.nics[3].bridge, sizeof(a.nics[3].bridge), "a-only-3");
	ck_assert_int_eq(decide(p, &a, &b, NULL), FASTPATH_DENIAL_NONE);
	fastpath_policy_free(p);
}
END_TEST

START_TEST(denial_names_are_stable)
{
	ck_assert_str_eq(fastpath_denial_name(FASTPATH_DENIAL_NONE), "authorized");
	ck_assert_str_eq(fastpath_denial_name(FASTPATH_DENIAL_NO_SHARED_BRIDGE),
			 "no-shared-bridge");
	ck_assert_str_eq(fastpath_denial_name(FASTPATH_DENIAL_RATE_LIMITED), "rate-limited");
	ck_assert_str_eq(fastpath_denial_name(FASTPATH_DENIAL_DEFAULT), "policy-default");
	ck_assert_str_eq(fastpath_denial_name(FASTPATH_DENIAL_RULE), "policy-rule");
	ck_assert_str_eq(fastpath_denial_name(__FASTPATH_DENIAL_LAST), "unknown");
}
END_TEST

static const char *const bridges[] = { "", "xenbr0", "xenbr1", "ovsbr0.10", "ovsbr0.20" };
static const char *const names[] = { "web-1", "web-2", "db-1", "tenant-a-x", "tenant-b-y" };
static const char *const globs[] = { "xenbr*", "xenbr0", "ovsbr0.?0", "*.10", "web-*",
				     "tenant-[ab]-*", "db-1", "*", "[!x]*" };

#define N(v) (sizeof(v) / sizeof((v)[0]))

static void random_guest(struct ck_member *m, uint16_t domid, uint32_t *rng)
{
	th_member(m, domid, 0);
	/* Three uuids in all, so that uuid rules match. */
	memset(m->uuid, 0x11, CK_UUID_LEN);
	m->uuid[0] = th_below(rng, 3);
	snprintf(m->name, sizeof(m->name), "%s", names[th_below(rng, N(names))]);
	m->n_nics = th_below(rng, 4);
	for (unsigned int i = 0; i < m->n_nics; i++) {
		/* A vif on no bridge one time in twenty: it decides the pair alone. */
		snprintf(m->nics[i].bridge, sizeof(m->nics[i].bridge), "%s",
			 th_below(rng, 20) ? bridges[1 + th_below(rng, N(bridges) - 1)] : "");
		m->nics[i].rate_limited = th_below(rng, 4) == 0;
	}
}

static char *random_policy_text(uint32_t *rng)
{
	static const char *const kinds[] = { "bridge", "name", "uuid" };
	size_t size = 64 + 16 * 80, n = 0;
	char *text = malloc(size), uuid[37];
	uint8_t bytes[CK_UUID_LEN];

	ck_assert_ptr_nonnull(text);
	n += snprintf(text + n, size - n, "default %s\n", th_below(rng, 2) ? "allow" : "deny");
	if (th_below(rng, 2))
		n += snprintf(text + n, size - n, "rate-limited %s\n",
			      th_below(rng, 2) ? "allow" : "deny");
	for (unsigned int i = th_below(rng, 16); i > 0; i--) {
		const char *kind = kinds[th_below(rng, N(kinds))], *what;

		if (strcmp(kind, "uuid") == 0) {
			memset(bytes, 0x11, CK_UUID_LEN);
			bytes[0] = th_below(rng, 3);
			ck_format_uuid(bytes, uuid);
			what = uuid;
		} else {
			what = globs[th_below(rng, N(globs))];
		}
		n += snprintf(text + n, size - n, "%s %s %s\n", th_below(rng, 2) ? "allow" : "deny",
			      kind, what);
	}
	return text;
}

/*
 * Random policies over random members: the decision is the same both ways round (decide()),
 * and format() gives text that parses to the same decisions and formats to the same text.
 */
START_TEST(format_parses_back_to_the_same_policy)
{
	uint32_t rng = 0xc0fe;
	unsigned int allowed = 0, reasons[__FASTPATH_DENIAL_LAST] = { 0 };

	for (unsigned int round = 0; round < 300; round++) {
		char *text = random_policy_text(&rng), *once, *twice;
		struct fastpath_policy *p = parsed(text), *q;
		struct ck_member a, b;
		int rule_p, rule_q;

		once = fastpath_policy_format(p);
		ck_assert_ptr_nonnull(once);
		q = parsed(once);
		twice = fastpath_policy_format(q);
		ck_assert_str_eq(once, twice);
		for (unsigned int i = 0; i < 40; i++) {
			enum fastpath_denial d;

			random_guest(&a, 3, &rng);
			random_guest(&b, 4, &rng);
			d = decide(p, &a, &b, &rule_p);
			ck_assert_int_eq(decide(q, &a, &b, &rule_q), d);
			ck_assert_int_eq(rule_p, rule_q);
			reasons[d]++;
			allowed += d == FASTPATH_DENIAL_NONE;
		}
		fastpath_policy_free(p);
		fastpath_policy_free(q);
		free(text);
		free(once);
		free(twice);
	}
	/* The cases cover every answer. */
	for (unsigned int d = 0; d < __FASTPATH_DENIAL_LAST; d++)
		ck_assert_msg(reasons[d] > 100, "%s only %u times", fastpath_denial_name(d),
			      reasons[d]);
}
END_TEST

#define PATH_SIZE 512

/*
 * A file of its own holding text, its name in path: under the suite's TMPDIR, where
 * tests/leftovers.py looks for what a test left.
 */
static void temp_file(char path[PATH_SIZE], const char *text, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(path, PATH_SIZE, "%s/cokeeper-test-fastpath-policy-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

START_TEST(load_reads_a_file)
{
	static const char text[] = "# test\ndefault deny\nallow bridge xenbr0\n";
	struct fastpath_policy *p = NULL;
	char path[PATH_SIZE], err[PATH_SIZE + 64] = "";

	temp_file(path, text, sizeof(text) - 1);
	ck_assert_int_eq(fastpath_policy_load(path, &p, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	formats_as(p, "default deny\nrate-limited deny\nallow bridge xenbr0\n");
	ck_assert_str_eq(fastpath_policy_origin(p), path);
	fastpath_policy_free(p);
	unlink(path);

	/* A bad line is named with the file's path. */
	temp_file(path, "default deny\nallow bridge\n", 26);
	p = untouched;
	ck_assert_int_eq(fastpath_policy_load(path, &p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_eq(p, untouched);
	ck_assert_ptr_eq(strstr(err, path), err);
	ck_assert_str_eq(err + strlen(path), ":2: 'allow bridge' needs one glob");
	unlink(path);
}
END_TEST

START_TEST(load_missing_file_is_enoent)
{
	struct fastpath_policy *p = untouched;
	char err[256] = "";

	ck_assert_int_eq(fastpath_policy_load("/nonexistent/cokeeper/fastpath.conf", &p, err,
					      sizeof(err)), -ENOENT);
	ck_assert_ptr_eq(p, untouched);
	ck_assert_str_eq(err, "/nonexistent/cokeeper/fastpath.conf: cannot open: "
			      "No such file or directory (ENOENT)");
	ck_assert_int_eq(fastpath_policy_load("", &p, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, ": cannot open: No such file or directory (ENOENT)");
	ck_assert_ptr_eq(p, untouched);
}
END_TEST

/* Only a regular file is read: a directory is not, and a FIFO does not block (nor a read). */
START_TEST(load_refuses_what_is_not_a_file)
{
	const char *tmp = getenv("TMPDIR");
	struct fastpath_policy *p = untouched;
	char dir[PATH_SIZE], fifo[PATH_SIZE + 8], err[2 * PATH_SIZE];

	ck_assert_int_eq(fastpath_policy_load("/", &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "/: not a regular file");
	ck_assert_ptr_eq(p, untouched);

	snprintf(dir, sizeof(dir), "%s/cokeeper-test-fastpath-policy-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(fastpath_policy_load(fifo, &p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_eq(p, untouched);
	ck_assert_ptr_eq(strstr(err, fifo), err);
	ck_assert_str_eq(err + strlen(fifo), ": not a regular file");
	ck_assert_int_eq(unlink(fifo), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(load_refuses_a_file_over_64_kib)
{
	char *text = malloc(FASTPATH_POLICY_FILE_MAX + 1), path[PATH_SIZE];
	char err[PATH_SIZE + 64] = "";
	struct fastpath_policy *p = NULL;

	ck_assert_ptr_nonnull(text);
	/* Exactly at the limit: lines of 63 '#' and a newline, the last one a directive. */
	for (size_t i = 0; i < FASTPATH_POLICY_FILE_MAX; i++)
		text[i] = i % 64 == 63 ? '\n' : '#';
	memcpy(text + FASTPATH_POLICY_FILE_MAX - 64, "default deny ", 13);
	temp_file(path, text, FASTPATH_POLICY_FILE_MAX);
	ck_assert_int_eq(fastpath_policy_load(path, &p, err, sizeof(err)), 0);
	formats_as(p, "default deny\nrate-limited deny\n");
	fastpath_policy_free(p);
	unlink(path);

	/* One byte more. */
	text[FASTPATH_POLICY_FILE_MAX] = '\n';
	temp_file(path, text, FASTPATH_POLICY_FILE_MAX + 1);
	p = untouched;
	ck_assert_int_eq(fastpath_policy_load(path, &p, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_eq(p, untouched);
	ck_assert_ptr_eq(strstr(err, path), err);
	ck_assert_str_eq(err + strlen(path), ": larger than 65536 bytes");
	unlink(path);
	free(text);
}
END_TEST

/* The path of a file of the source tree, which meson test names in CK_SOURCE_ROOT. */
static void source_path(char path[PATH_SIZE], const char *name)
{
	const char *root = getenv("CK_SOURCE_ROOT");

	ck_assert_msg(root && *root, "CK_SOURCE_ROOT is not set: run through meson test");
	snprintf(path, PATH_SIZE, "%s/%s", root, name);
}

/* The text fastpath_policy_format() gives the built-in policy. */
static char *builtin_text(void)
{
	struct fastpath_policy *p = fastpath_policy_new();
	char *s = fastpath_policy_format(p);

	ck_assert_ptr_nonnull(s);
	fastpath_policy_free(p);
	return s;
}

/* The file the packages install says what cokeeperd does without one. */
START_TEST(shipped_file_is_the_builtin_policy)
{
	char path[PATH_SIZE], err[PATH_SIZE + 64] = "", *want = builtin_text();
	struct fastpath_policy *p = NULL;

	source_path(path, "packaging/fastpath.conf");
	ck_assert_msg(fastpath_policy_load(path, &p, err, sizeof(err)) == 0, "%s", err);
	formats_as(p, want);
	fastpath_policy_free(p);
	free(want);
}
END_TEST

/*
 * fastpath.conf(5)'s examples, the literal blocks under DEFAULTS and EXAMPLES, parse; the
 * one under DEFAULTS is the built-in policy.
 */
START_TEST(man_page_examples_parse)
{
	char path[PATH_SIZE], line[256], block[2048] = "", *want = builtin_text();
	bool in_block = false, example = false;
	unsigned int blocks = 0;
	size_t n = 0;
	FILE *f;

	source_path(path, "man/fastpath.conf.5.scd");
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (!in_block && strncmp(line, "# ", 2) == 0)
			example = strcmp(line, "# DEFAULTS\n") == 0 ||
				  strcmp(line, "# EXAMPLES\n") == 0;
		if (strncmp(line, "```", 3) != 0) {
			if (in_block) {
				ck_assert_uint_lt(n + strlen(line), sizeof(block));
				n += snprintf(block + n, sizeof(block) - n, "%s", line);
			}
			continue;
		}
		if (in_block && example) {
			struct fastpath_policy *p = parsed(block);

			if (blocks++ == 0)
				formats_as(p, want);
			fastpath_policy_free(p);
		}
		in_block = !in_block;
		block[0] = '\0';
		n = 0;
	}
	fclose(f);
	ck_assert(!in_block);
	ck_assert_uint_eq(blocks, 4);
	free(want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fastpath-policy");

	th_add(s, policy_builtin_allows_by_default_and_denies_rate_limited);
	th_add(s, parse_takes_every_directive);
	th_add(s, parse_skips_comments_blanks_and_tabs);
	th_add(s, parse_last_default_and_rate_limited_win);
	th_add(s, parse_refuses_bad_lines_naming_them);
	th_add(s, parse_refuses_nul_and_control_bytes);
	th_add(s, parse_bounds_lines_globs_and_rules);
	th_add(s, parse_message_fits_its_buffer);
	th_add(s, parse_out_of_memory_applies_nothing);
	th_add(s, pair_on_the_same_bridge_is_allowed);
	th_add(s, pair_without_a_shared_bridge_is_denied);
	th_add(s, pair_any_nic_pair_on_a_shared_bridge_suffices);
	th_add(s, pair_rate_limited_vif_on_either_side);
	th_add(s, pair_deny_bridge_glob);
	th_add(s, pair_deny_name_glob_matches_either_member);
	th_add(s, pair_deny_uuid_matches_either_member);
	th_add(s, pair_first_matching_rule_decides);
	th_add(s, pair_default_deny_with_allowed_bridges);
	th_add(s, pair_denial_names_the_most_specific_reason);
	th_add(s, denial_names_are_stable);
	th_add(s, format_parses_back_to_the_same_policy);
	th_add(s, load_reads_a_file);
	th_add(s, load_missing_file_is_enoent);
	th_add(s, load_refuses_what_is_not_a_file);
	th_add(s, load_refuses_a_file_over_64_kib);
	th_add(s, shipped_file_is_the_builtin_policy);
	th_add(s, man_page_examples_parse);
	return th_run(s);
}
