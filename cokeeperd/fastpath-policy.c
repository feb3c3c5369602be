// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastpath-policy.h"
#include "member-json.h"

enum rule_kind {
	RULE_UNSPEC = 0,
	RULE_BRIDGE,
	RULE_NAME,
	RULE_UUID,
	__RULE_LAST
};
#define RULE_MAX (__RULE_LAST - 1)

static const char *const kind_names[] = {
	[RULE_BRIDGE] = "bridge",
	[RULE_NAME] = "name",
	[RULE_UUID] = "uuid",
};

struct rule {
	bool allow;
	uint8_t kind;		/* enum rule_kind */
	union {
		char glob[FASTPATH_POLICY_GLOB_MAX + 1];	/* bridge, name */
		uint8_t uuid[CK_UUID_LEN];
	};
};

/*
 * Every rule in place (some 17 KiB at the limit): a policy is built once a reload and never
 * grows, so one allocation that cannot fail half way is worth more than the bytes.
 */
struct fastpath_policy {
	bool default_allow;
	bool rate_limited_allow;
	char *origin;		/* NULL: the built-in policy */
	unsigned int n_rules;
	struct rule rules[FASTPATH_POLICY_RULES_MAX];
};

struct fastpath_policy *fastpath_policy_new(void)
{
	struct fastpath_policy *p = calloc(1, sizeof(*p));

	if (p)
		p->default_allow = true;
	return p;
}

void fastpath_policy_free(struct fastpath_policy *p)
{
	if (!p)
		return;
	free(p->origin);
	free(p);
}

const char *fastpath_policy_origin(const struct fastpath_policy *p)
{
	return p->origin ?: "built-in";
}

static const char *action_name(bool allow)
{
	return allow ? "allow" : "deny";
}

/* The parse of one text: where it is, for the one message an error gets. */
struct parser {
	const char *origin;
	unsigned int line;
	char *err;
	size_t err_size;
};

static int __attribute__((format(printf, 3, 4)))
fail(const struct parser *ps, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->err || !ps->err_size)
		return code;
	n = ps->line ? snprintf(ps->err, ps->err_size, "%s:%u: ", ps->origin, ps->line)
		     : snprintf(ps->err, ps->err_size, "%s: ", ps->origin);
	if (n >= 0 && (size_t)n < ps->err_size) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->err_size - n, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* A system call's failure, as lib/logging.c's ck_log_errno() words one: text and name. */
static int fail_errno(const struct parser *ps, int code, const char *what)
{
	const char *name = strerrorname_np(-code);

	return fail(ps, code, "cannot %s: %s (%s)", what, strerror(-code), name ?: "?");
}

/* One more than any directive takes, so that "too many" can be told from "enough". */
#define WORDS_MAX 4

/* Splits s at blanks in place; returns how many words there are, stores the first WORDS_MAX. */
static unsigned int split(char *s, char *words[WORDS_MAX])
{
	unsigned int n = 0;

	for (;;) {
		s += strspn(s, " \t");
		if (!*s)
			return n;
		if (n < WORDS_MAX)
			words[n] = s;
		n++;
		s += strcspn(s, " \t");
		if (*s)
			*s++ = '\0';
	}
}

static int parse_allow(const struct parser *ps, const char *directive, unsigned int n,
		       char *const *words, bool *allow)
{
	if (n != 2)
		return fail(ps, -EINVAL, "'%s' needs one word: allow or deny", directive);
	if (strcmp(words[1], "allow") && strcmp(words[1], "deny"))
		return fail(ps, -EINVAL, "'%s' takes allow or deny, not '%.64s'", directive,
			    words[1]);
	*allow = strcmp(words[1], "allow") == 0;
	return 0;
}

static int parse_rule(const struct parser *ps, struct fastpath_policy *p, unsigned int n,
		      char *const *words)
{
	struct rule r = { .allow = strcmp(words[0], "allow") == 0 };
	size_t len;

	if (n < 2)
		return fail(ps, -EINVAL, "'%s' needs what it matches: bridge, name or uuid",
			    words[0]);
	for (unsigned int k = RULE_UNSPEC + 1; k <= RULE_MAX; k++)
		if (strcmp(words[1], kind_names[k]) == 0)
			r.kind = k;
	if (r.kind == RULE_UNSPEC)
		return fail(ps, -EINVAL, "'%s' matches bridge, name or uuid, not '%.64s'",
			    words[0], words[1]);
	if (n != 3)
		return fail(ps, -EINVAL, "'%s %s' needs one %s", words[0], words[1],
			    r.kind == RULE_UUID ? "uuid" : "glob");
	if (r.kind == RULE_UUID) {
		if (ck_parse_uuid(words[2], r.uuid) < 0)
			return fail(ps, -EINVAL, "bad uuid '%.64s' (8-4-4-4-12 hex digits)",
				    words[2]);
	} else {
		/* Never empty (a word is not), and fnmatch() takes any other pattern. */
		len = strlen(words[2]);
		if (len > FASTPATH_POLICY_GLOB_MAX)
			return fail(ps, -EINVAL, "a glob of %zu bytes: at most %d", len,
				    FASTPATH_POLICY_GLOB_MAX);
		memcpy(r.glob, words[2], len + 1);
	}
	if (p->n_rules == FASTPATH_POLICY_RULES_MAX)
		return fail(ps, -E2BIG, "too many rules (at most %d)", FASTPATH_POLICY_RULES_MAX);
	p->rules[p->n_rules++] = r;
	return 0;
}

static int parse_line(const struct parser *ps, struct fastpath_policy *p, const char *untrusted,
		      size_t len)
{
	char buf[FASTPATH_POLICY_LINE_MAX + 1], *words[WORDS_MAX], *hash;
	unsigned int n;

	if (len > FASTPATH_POLICY_LINE_MAX)
		return fail(ps, -EINVAL, "line longer than %d bytes", FASTPATH_POLICY_LINE_MAX);
	/* Comments too: whatever is in the file may end up in a log or on a terminal. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = untrusted[i];

		if ((c < 0x20 || c > 0x7e) && c != '\t')
			return fail(ps, -EINVAL,
				    "byte 0x%02x: only printable ASCII, spaces and tabs", c);
	}
	memcpy(buf, untrusted, len);
	buf[len] = '\0';
	hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	n = split(buf, words);
	if (n == 0)
		return 0;
	if (strcmp(words[0], "allow") == 0 || strcmp(words[0], "deny") == 0)
		return parse_rule(ps, p, n, words);
	if (strcmp(words[0], "default") == 0)
		return parse_allow(ps, words[0], n, words, &p->default_allow);
	if (strcmp(words[0], "rate-limited") == 0)
		return parse_allow(ps, words[0], n, words, &p->rate_limited_allow);
	return fail(ps, -EINVAL, "unknown directive '%.64s' (allow, deny, default, rate-limited)",
		    words[0]);
}

int fastpath_policy_parse(const char *text, size_t len, const char *origin,
			  struct fastpath_policy **ret, char *err, size_t err_size)
{
	struct parser ps = { .origin = origin ?: "policy", .err = err, .err_size = err_size };
	const char *line = text, *end = text + len, *nl;
	struct fastpath_policy *p;
	int r;

	if (len > FASTPATH_POLICY_FILE_MAX)
		return fail(&ps, -EFBIG, "longer than %d bytes", FASTPATH_POLICY_FILE_MAX);
	p = fastpath_policy_new();
	if (!p)
		return fail(&ps, -ENOMEM, "out of memory");
	while (line < end) {
		nl = memchr(line, '\n', end - line);
		ps.line++;
		r = parse_line(&ps, p, line, (nl ?: end) - line);
		if (r < 0)
			goto err_free;
		line = nl ? nl + 1 : end;
	}
	ps.line = 0;
	p->origin = strdup(ps.origin);
	if (!p->origin) {
		r = fail(&ps, -ENOMEM, "out of memory");
		goto err_free;
	}
	*ret = p;
	return 0;

err_free:
	fastpath_policy_free(p);
	return r;
}

int fastpath_policy_load(const char *path, struct fastpath_policy **ret, char *err,
			 size_t err_size)
{
	struct parser ps = { .origin = path, .err = err, .err_size = err_size };
	size_t len = 0;
	struct stat st;
	ssize_t n;
	char *buf;
	int fd, r;

	/* One byte past the limit tells a file at the limit from a larger one. */
	buf = malloc(FASTPATH_POLICY_FILE_MAX + 1);
	if (!buf)
		return fail(&ps, -ENOMEM, "out of memory");
	/* Non-blocking, so that a FIFO put there cannot hold the event loop in open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = fail_errno(&ps, -errno, "open");
		goto err_free;
	}
	if (fstat(fd, &st) < 0) {
		r = fail_errno(&ps, -errno, "stat");
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = fail(&ps, -EINVAL, "not a regular file");
		goto err_close;
	}
	while (len <= FASTPATH_POLICY_FILE_MAX) {
		n = read(fd, buf + len, FASTPATH_POLICY_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail_errno(&ps, -errno, "read");
			goto err_close;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (len > FASTPATH_POLICY_FILE_MAX) {
		r = fail(&ps, -EFBIG, "larger than %d bytes", FASTPATH_POLICY_FILE_MAX);
		goto err_close;
	}
	r = fastpath_policy_parse(buf, len, path, ret, err, err_size);

err_close:
	close(fd);
err_free:
	free(buf);
	return r;
}

const char *fastpath_denial_name(enum fastpath_denial reason)
{
	switch (reason) {
	case FASTPATH_DENIAL_NONE:
		return "authorized";
	case FASTPATH_DENIAL_NO_SHARED_BRIDGE:
		return "no-shared-bridge";
	case FASTPATH_DENIAL_UNBRIDGED_VIF:
		return "vif-without-bridge";
	case FASTPATH_DENIAL_RATE_LIMITED:
		return "rate-limited";
	case FASTPATH_DENIAL_DEFAULT:
		return "policy-default";
	case FASTPATH_DENIAL_RULE:
		return "policy-rule";
	default:
		return "unknown";
	}
}

/*
 * Members come from dom0's own scan (ck_member_check()ed), but a name or bridge that fills
 * its array without a NUL must still not send fnmatch() past it: a name is cut (so a glob on
 * its start still matches), a bridge is none.
 */
static void terminated(char *out, const char *in, size_t size)
{
	memcpy(out, in, size - 1);
	out[size - 1] = '\0';
}

static const char *bridge_of(const struct ck_nic *nic)
{
	if (!nic->bridge[0] || !memchr(nic->bridge, '\0', sizeof(nic->bridge)))
		return NULL;
	return nic->bridge;
}

static bool matches(const struct rule *r, const char *bridge, const struct ck_member *a,
		    const char *a_name, const struct ck_member *b, const char *b_name)
{
	switch (r->kind) {
	case RULE_BRIDGE:
		return fnmatch(r->glob, bridge, 0) == 0;
	case RULE_NAME:
		return fnmatch(r->glob, a_name, 0) == 0 || fnmatch(r->glob, b_name, 0) == 0;
	case RULE_UUID:
		return memcmp(r->uuid, a->uuid, CK_UUID_LEN) == 0 ||
		       memcmp(r->uuid, b->uuid, CK_UUID_LEN) == 0;
	default:
		return false;
	}
}

/* One NIC of a and one of b on the bridge they share: FASTPATH_DENIAL_NONE if allowed. */
static enum fastpath_denial nic_pair(const struct fastpath_policy *p, const char *bridge,
				     bool rate_limited, const struct ck_member *a,
				     const char *a_name, const struct ck_member *b,
				     const char *b_name, int *rule)
{
	*rule = -1;
	if (rate_limited && !p->rate_limited_allow)
		return FASTPATH_DENIAL_RATE_LIMITED;
	for (unsigned int k = 0; k < p->n_rules; k++) {
		const struct rule *r = &p->rules[k];

		if (!matches(r, bridge, a, a_name, b, b_name))
			continue;
		if (r->allow)
			return FASTPATH_DENIAL_NONE;
		*rule = k;
		return FASTPATH_DENIAL_RULE;
	}
	return p->default_allow ? FASTPATH_DENIAL_NONE : FASTPATH_DENIAL_DEFAULT;
}

bool fastpath_policy_pair(const struct fastpath_policy *p, const struct ck_member *a,
			  const struct ck_member *b, struct fastpath_verdict *why)
{
	struct fastpath_verdict v = { .reason = FASTPATH_DENIAL_NONE, .rule = -1 };
	char a_name[CK_NAME_MAX + 1], b_name[CK_NAME_MAX + 1];
	unsigned int na = a->n_nics < CK_NICS_MAX ? a->n_nics : CK_NICS_MAX;
	unsigned int nb = b->n_nics < CK_NICS_MAX ? b->n_nics : CK_NICS_MAX;
	unsigned int shared = 0;
	enum fastpath_denial d;
	int rule;

	terminated(a_name, a->name, sizeof(a_name));
	terminated(b_name, b->name, sizeof(b_name));
	/*
	 * A vif on no bridge cokeeperd knows (vif-route, whose traffic dom0 routes and may
	 * filter, or a bridge name the scan could not keep) would be carried by the channel
	 * too, past whatever dom0 does there: fail closed.
	 */
	for (unsigned int i = 0; i < na + nb; i++)
		if (!bridge_of(i < na ? &a->nics[i] : &b->nics[i - na])) {
			v.reason = FASTPATH_DENIAL_UNBRIDGED_VIF;
			goto out;
		}
	/*
	 * A channel joins two domains, not two vifs: it carries whatever either sends to any
	 * address of the other.  So every bridge they share must allow them; one that does not
	 * (its vifs filtered or shaped) denies the pair, or the ring would carry past it.
	 */
	for (unsigned int i = 0; i < na; i++) {
		const struct ck_nic *x = &a->nics[i];
		const char *bridge = bridge_of(x);

		if (!bridge)
			continue;
		for (unsigned int j = 0; j < nb; j++) {
			const struct ck_nic *y = &b->nics[j];

			if (!bridge_of(y) || strcmp(bridge, y->bridge) != 0)
				continue;
			shared++;
			d = nic_pair(p, bridge, x->rate_limited || y->rate_limited, a, a_name,
				     b, b_name, &rule);
			/*
			 * The most specific reason, and of deny rules the first in the file:
			 * neither depends on which member's NICs are walked first.
			 */
			if (d > v.reason || (d == v.reason && d == FASTPATH_DENIAL_RULE &&
					     rule < v.rule)) {
				v.reason = d;
				v.rule = rule;
			}
		}
	}
	if (!shared)
		v = (struct fastpath_verdict){ .reason = FASTPATH_DENIAL_NO_SHARED_BRIDGE,
					       .rule = -1 };
out:
	if (why)
		*why = v;
	return v.reason == FASTPATH_DENIAL_NONE;
}

/* The longest line format() writes: "allow bridge " and a glob, or a uuid, and "\n". */
#define FORMAT_LINE_MAX (sizeof("allow bridge ") + FASTPATH_POLICY_GLOB_MAX + 1)

char *fastpath_policy_format(const struct fastpath_policy *p)
{
	size_t size = 2 * FORMAT_LINE_MAX + p->n_rules * FORMAT_LINE_MAX + 1, n;
	char *s = malloc(size), uuid[37];

	if (!s)
		return NULL;
	n = snprintf(s, size, "default %s\nrate-limited %s\n", action_name(p->default_allow),
		     action_name(p->rate_limited_allow));
	for (unsigned int k = 0; k < p->n_rules; k++) {
		const struct rule *r = &p->rules[k];

		if (r->kind == RULE_UUID)
			ck_format_uuid(r->uuid, uuid);
		n += snprintf(s + n, size - n, "%s %s %s\n", action_name(r->allow),
			      kind_names[r->kind], r->kind == RULE_UUID ? uuid : r->glob);
	}
	return s;
}

struct json_object *fastpath_policy_to_json(const struct fastpath_policy *p)
{
	struct json_object *o = json_object_new_object(), *rules = json_object_new_array();
	char uuid[37];

	json_object_object_add(o, "default", json_object_new_string(action_name(p->default_allow)));
	json_object_object_add(o, "rate_limited",
			       json_object_new_string(action_name(p->rate_limited_allow)));
	for (unsigned int k = 0; k < p->n_rules; k++) {
		const struct rule *r = &p->rules[k];
		struct json_object *j = json_object_new_object();
		const char *what;

		json_object_object_add(j, "action", json_object_new_string(action_name(r->allow)));
		if (r->kind == RULE_UUID)
			ck_format_uuid(r->uuid, uuid);
		what = r->kind == RULE_UUID ? uuid : r->glob;
		json_object_object_add(j, kind_names[r->kind], json_object_new_string(what));
		json_object_array_add(rules, j);
	}
	json_object_object_add(o, "rules", rules);
	json_object_object_add(o, "origin", json_object_new_string(fastpath_policy_origin(p)));
	return o;
}
