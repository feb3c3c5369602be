// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-query's output (tools/query-print.c) against a stub of libcokeeper-client: what
 * --json prints must be JSON, whatever a member's name holds.  ck_name_valid and the
 * kernel's policy both allow '"' and '\' in a name, and a printf("\"%s\"") of one is not
 * JSON: these cases fail on such code.
 *
 * And cokeeper-query fastpath's line for one of cokeeper-fp.ko's GET replies
 * (tools/query-fastpath.c), built here as the module builds it: WHY is the last column and the
 * "why" key, and the columns before it stay where scripts read them.
 *
 * And where an address came from: lookup's trailing source= word and "source" key (for an
 * address, not a MAC or a domid), and members' SOURCE column, after TX_BYTES and before the
 * fast path's columns, so that TX_PKTS stays the 6th and FASTPATH the last.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <linux/cokeeper_fp.h>
#include <netlink/genl/genl.h>

#include "helpers.h"
#include "query-fastpath.h"
#include "query-print.h"

#define NASTY_NAME "a\"b\\c"
#define PEER_IP "10.0.0.7"
#define PEER_IP_2 "10.0.0.77"
#define PEER_IP6 "fd00::7"

/* The stub client's one peer: its addresses learned, toolstack's and claimed. */
static void stub_peer(struct ck_client_peer *p)
{
	memset(p, 0, sizeof(*p));
	p->domid = 7;
	p->state = CK_CLIENT_STATE_RUNNING;
	p->n_nics = 1;
	p->uuid[15] = 7;
	strcpy(p->name, NASTY_NAME);
	memcpy(p->nics[0].mac, "\x00\x16\x3e\x00\x00\x07", 6);
	p->nics[0].n_ipv4 = 2;
	inet_pton(AF_INET, PEER_IP, &p->nics[0].ipv4[0]);
	inet_pton(AF_INET, PEER_IP_2, &p->nics[0].ipv4[1]);
	p->ipv4_source[0][0] = CK_CLIENT_ADDR_LEARNED;
	p->ipv4_source[0][1] = CK_CLIENT_ADDR_TOOLSTACK;
	p->nics[0].n_ipv6 = 1;
	inet_pton(AF_INET6, PEER_IP6, &p->nics[0].ipv6[0]);
	p->ipv6_source[0][0] = CK_CLIENT_ADDR_CLAIMED;
}

int ck_client_foreach(struct ck_client *c,
	int (*fn)(const struct ck_client_peer *peer, void *userdata), void *userdata)
{
	struct ck_client_peer p;

	stub_peer(&p);
	return fn(&p, userdata);
}

int ck_client_lookup_ipv4(
	struct ck_client *c, const struct in_addr *addr, struct ck_client_peer *peer)
{
	stub_peer(peer);
	return addr->s_addr == peer->nics[0].ipv4[0].s_addr ||
			addr->s_addr == peer->nics[0].ipv4[1].s_addr
		? 0
		: -ENOENT;
}

int ck_client_lookup_ipv6(
	struct ck_client *c, const struct in6_addr *addr, struct ck_client_peer *peer)
{
	stub_peer(peer);
	return memcmp(addr, &peer->nics[0].ipv6[0], sizeof(*addr)) ? -ENOENT : 0;
}

int ck_client_lookup_mac(struct ck_client *c, const uint8_t mac[6], struct ck_client_peer *peer)
{
	stub_peer(peer);
	return memcmp(mac, peer->nics[0].mac, 6) ? -ENOENT : 0;
}

int ck_client_lookup_domid(struct ck_client *c, uint16_t domid, struct ck_client_peer *peer)
{
	stub_peer(peer);
	return domid == peer->domid ? 0 : -ENOENT;
}

int ck_client_status(
	struct ck_client *c, uint64_t *epoch, uint64_t *gen, uint32_t *count, uint32_t *max_entries)
{
	*epoch = 0xfedcba9876543210ULL;
	*gen = 42;
	*count = 1;
	*max_entries = 4096;
	return 0;
}

/*
 * Runs one printing function into a buffer and parses all of it as one JSON value, strictly:
 * a single line, nothing after the value.
 */
static struct json_object *run_json(
	int (*fn)(FILE *out, const char *arg), const char *arg, int want)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(fn(out, arg), want);
	ck_assert_int_eq(fclose(out), 0);
	ck_assert_uint_gt(len, 1);
	ck_assert_msg(buf[len - 1] == '\n' && !memchr(buf, '\n', len - 1), "not one line: %s", buf);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len - 1);
	ck_assert_msg(o && json_tokener_get_error(tok) == json_tokener_success &&
			json_tokener_get_parse_end(tok) == len - 1,
		"not JSON: %s", buf);
	json_tokener_free(tok);
	free(buf);
	return o;
}

static const char *get_s(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\"", key);
	ck_assert(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

/* The text form's fields, split on blanks: at most max, their count returned. */
static int fields(char *line, char **f, int max)
{
	int n = 0;

	for (char *t = strtok(line, " \n"); t && n < max; t = strtok(NULL, " \n"))
		f[n++] = t;
	return n;
}

static int members(FILE *out, const char *arg)
{
	return query_members(NULL, true, NULL, out);
}

static int lookup(FILE *out, const char *key)
{
	return query_lookup(NULL, key, true, out);
}

static int status(FILE *out, const char *arg)
{
	return query_status(NULL, true, out);
}

START_TEST(members_json_keeps_quote_and_backslash)
{
	struct json_object *arr = run_json(members, NULL, 0), *m;

	ck_assert(json_object_is_type(arr, json_type_array));
	ck_assert_uint_eq(json_object_array_length(arr), 1);
	m = json_object_array_get_idx(arr, 0);
	ck_assert_str_eq(get_s(m, "name"), NASTY_NAME);
	json_object_put(arr);
}
END_TEST

START_TEST(lookup_json_keeps_quote_and_backslash)
{
	/* By address, MAC and domid: each path prints the peer the same way. */
	static const char *const keys[] = {PEER_IP, "00:16:3e:00:00:07", "7"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct json_object *o = run_json(lookup, keys[i], 0), *v;

		ck_assert_str_eq(get_s(o, "name"), NASTY_NAME);
		ck_assert(json_object_object_get_ex(o, "co_resident", &v));
		ck_assert(json_object_get_boolean(v));
		ck_assert(json_object_object_get_ex(o, "domid", &v));
		ck_assert_int_eq(json_object_get_int(v), 7);
		json_object_put(o);
	}
}
END_TEST

START_TEST(lookup_json_not_co_resident)
{
	struct json_object *o = run_json(lookup, "10.0.0.8", -ENOENT), *v;

	ck_assert(json_object_object_get_ex(o, "co_resident", &v));
	ck_assert(!json_object_get_boolean(v));
	json_object_put(o);
}
END_TEST

START_TEST(lookup_rejects_what_is_no_key)
{
	FILE *out = fopen("/dev/null", "w");

	ck_assert_int_eq(query_lookup(NULL, "web1", true, out), -EINVAL);
	ck_assert_int_eq(query_lookup(NULL, "7x", true, out), -EINVAL);
	ck_assert_int_eq(query_lookup(NULL, "99999", true, out), -EINVAL);
	fclose(out);
}
END_TEST

static int lookup_text(FILE *out, const char *key)
{
	return query_lookup(NULL, key, false, out);
}

/* What fn printed, whole. */
static char *run_text(int (*fn)(FILE *out, const char *arg), const char *arg, int want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(fn(out, arg), want);
	ck_assert_int_eq(fclose(out), 0);
	return buf;
}

START_TEST(lookup_says_the_address_source)
{
	static const struct {
		const char *key, *source;
	} cases[] = {
		{PEER_IP, "learned"},
		{PEER_IP_2, "toolstack"},
		{PEER_IP6, "claimed"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = run_json(lookup, cases[i].key, 0);
		char *text = run_text(lookup_text, cases[i].key, 0), *want;

		ck_assert_str_eq(get_s(o, "source"), cases[i].source);
		ck_assert_str_eq(get_s(o, "name"), NASTY_NAME);
		/* The words before as they were; the source is one more, last. */
		ck_assert_int_ge(asprintf(&want, "%s: co-resident, domid 7 (%s, running) source=%s\n",
				     cases[i].key, NASTY_NAME, cases[i].source), 0);
		ck_assert_str_eq(text, want);
		free(want);
		free(text);
		json_object_put(o);
	}
}
END_TEST

START_TEST(lookup_by_mac_or_domid_has_no_source)
{
	static const char *const keys[] = {"00:16:3e:00:00:07", "7"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct json_object *o = run_json(lookup, keys[i], 0);
		char *text = run_text(lookup_text, keys[i], 0), *want;

		ck_assert(!json_object_object_get_ex(o, "source", NULL));
		ck_assert_int_ge(asprintf(&want, "%s: co-resident, domid 7 (%s, running)\n", keys[i],
				     NASTY_NAME), 0);
		ck_assert_str_eq(text, want);
		free(want);
		free(text);
		json_object_put(o);
	}
}
END_TEST

START_TEST(members_json_has_sources)
{
	struct json_object *arr = run_json(members, NULL, 0), *nics, *src;

	ck_assert(json_object_object_get_ex(json_object_array_get_idx(arr, 0), "nics", &nics));
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(nics, 0), "ipv4_source",
					    &src));
	ck_assert_uint_eq(json_object_array_length(src), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(src, 0)), "learned");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(src, 1)), "toolstack");
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(nics, 0), "ipv6_source",
					    &src));
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(src, 0)), "claimed");
	json_object_put(arr);
}
END_TEST

static const struct fastpath_view *members_fp;

static int members_text(FILE *out, const char *arg)
{
	return query_members(NULL, false, members_fp, out);
}

/* The text form's header and one line, split into fields. */
static void members_fields(const struct fastpath_view *fp, char **buf, char **head, int *nh,
			   char **line, int *nf)
{
	char *nl;

	members_fp = fp;
	*buf = run_text(members_text, NULL, 0);
	nl = strchr(*buf, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	*nh = fields(*buf, head, 32);
	*nf = fields(nl + 1, line, 32);
}

START_TEST(members_text_source_column)
{
	static const char *const want_head[] = {"DOMID", "NAME", "STATE", "MAC", "ADDRESS",
						"TX_PKTS", "TX_BYTES", "SOURCE"};
	struct fastpath_peer up = {.domid = 7, .state = CKFP_STATE_UP, .tx_packets = 11,
				   .rx_packets = 12};
	struct fastpath_view fp = {.peers = &up, .n = 1};
	char *buf, *head[32], *line[32];
	int nh, nf;

	members_fields(NULL, &buf, head, &nh, line, &nf);
	ck_assert_int_eq(nh, 8);
	ck_assert_int_eq(nf, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_str_eq(head[i], want_head[i]);
	/* The lab reads NAME ($2) and TX_PKTS ($6) by position. */
	ck_assert_str_eq(line[1], NASTY_NAME);
	ck_assert_str_eq(line[4], PEER_IP);
	ck_assert_str_eq(line[5], "0");
	ck_assert_str_eq(line[7], "learned");
	free(buf);

	/* With the fast path's columns, FASTPATH stays the last ($NF). */
	members_fields(&fp, &buf, head, &nh, line, &nf);
	ck_assert_int_eq(nh, 11);
	ck_assert_int_eq(nf, 11);
	ck_assert_str_eq(head[7], "SOURCE");
	ck_assert_str_eq(head[10], "FASTPATH");
	ck_assert_str_eq(line[7], "learned");
	ck_assert_str_eq(line[8], "11");
	ck_assert_str_eq(line[10], "up");
	free(buf);
}
END_TEST

START_TEST(status_json)
{
	struct json_object *o = run_json(status, NULL, 0), *v;

	/* The epoch as a hex string: a 64-bit number is not safe in every JSON reader. */
	ck_assert_str_eq(get_s(o, "epoch"), "fedcba9876543210");
	ck_assert(json_object_object_get_ex(o, "gen", &v));
	ck_assert_int_eq(json_object_get_int64(v), 42);
	json_object_put(o);
}
END_TEST

/* Each counter's value in the replies below: its attribute number times 1000, plus 7. */
#define STAT_VALUE(i) ((uint64_t)(i) * 1000 + 7)
#define NO_WHY (-1)

/* A GET reply for domid in state, with every counter and, unless NO_WHY, why. */
static struct nl_msg *fp_reply(uint32_t domid, uint8_t state, int why)
{
	struct nl_msg *m = nlmsg_alloc();
	struct nlattr *nest;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, 0x20, 0, NLM_F_MULTI,
					  CKFP_CMD_GET, CKFP_GENL_VERSION));
	ck_assert_int_eq(nla_put_u32(m, CKFP_A_PEER_DOMID, domid), 0);
	ck_assert_int_eq(nla_put_u8(m, CKFP_A_STATE, state), 0);
	ck_assert_int_eq(nla_put_u64(m, CKFP_A_CHANNEL_ID, 0), 0);
	nest = nla_nest_start(m, CKFP_A_STATS);
	ck_assert_ptr_nonnull(nest);
	for (int i = CKFP_STAT_A_TX_PACKETS; i <= CKFP_STAT_A_EVICTIONS; i++)
		ck_assert_int_eq(nla_put_u64(m, i, STAT_VALUE(i)), 0);
	nla_nest_end(m, nest);
	if (why != NO_WHY)
		ck_assert_int_eq(nla_put_u8(m, CKFP_A_WHY, (uint8_t)why), 0);
	return m;
}

/* What cokeeper-query fastpath prints for that one reply, as the first of the dump. */
static char *fp_print(uint32_t domid, uint8_t state, int why, bool json)
{
	struct nl_msg *m = fp_reply(domid, state, why);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(query_fastpath_print(m, json, 0, out), 0);
	ck_assert_int_eq(fclose(out), 0);
	nlmsg_free(m);
	return buf;
}

/* The JSON form's one object, with the dump's brackets around it. */
static struct json_object *fp_json(uint32_t domid, uint8_t state, int why)
{
	char *buf = fp_print(domid, state, why, true), *whole;
	struct json_object *a, *o;

	ck_assert_int_ge(asprintf(&whole, "[%s\n]", buf), 0);
	a = json_tokener_parse(whole);
	ck_assert_msg(a && json_object_is_type(a, json_type_array) &&
			json_object_array_length(a) == 1, "not one JSON object: %s", buf);
	o = json_object_get(json_object_array_get_idx(a, 0));
	json_object_put(a);
	free(whole);
	free(buf);
	return o;
}

START_TEST(fastpath_text_why_is_the_last_column)
{
	char *buf = fp_print(12, CKFP_STATE_IDLE, CKFP_WHY_NO_SLOT, false);
	char *nl = strchr(buf, '\n'), *head[32], *line[32];
	int nh, nf;

	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	nh = fields(buf, head, 32);
	nf = fields(nl + 1, line, 32);
	ck_assert_int_eq(nh, 19);
	ck_assert_int_eq(nf, 19);
	ck_assert_str_eq(head[0], "DOMID");
	ck_assert_str_eq(head[1], "STATE");
	ck_assert_str_eq(head[17], "EVICTED");
	ck_assert_str_eq(head[18], "WHY");
	/* Columns 1..18 as before (the lab reads 2, 3, 5, 7, 9..12, 17, 18 by position). */
	ck_assert_str_eq(line[0], "12");
	ck_assert_str_eq(line[1], "idle");
	for (int i = CKFP_STAT_A_TX_PACKETS; i <= CKFP_STAT_A_EVICTIONS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "%" PRIu64, STAT_VALUE(i));
		ck_assert_str_eq(line[2 + i - CKFP_STAT_A_TX_PACKETS], want);
	}
	ck_assert_str_eq(line[18], "no-slot");
	free(buf);
}
END_TEST

START_TEST(fastpath_why_words)
{
	static const char *const want[] = {
		[CKFP_WHY_IDLE] = "idle",
		[CKFP_WHY_UP] = "up",
		[CKFP_WHY_OFF] = "off",
		[CKFP_WHY_NOT_AUTHORIZED] = "not-authorized",
		[CKFP_WHY_NO_SLOT] = "no-slot",
		[CKFP_WHY_BACKOFF] = "backoff",
		[CKFP_WHY_WAITING] = "waiting",
		[CKFP_WHY_GONE] = "gone",
	};

	ck_assert_uint_eq(sizeof(want) / sizeof(want[0]), CKFP_WHY_MAX + 1);
	for (int w = 0; w <= CKFP_WHY_MAX; w++) {
		struct json_object *o = fp_json(3, CKFP_STATE_IDLE, w);
		char *buf = fp_print(3, CKFP_STATE_IDLE, w, false), *f[32];
		int n = fields(strchr(buf, '\n') + 1, f, 32);

		ck_assert_str_eq(get_s(o, "why"), want[w]);
		ck_assert_str_eq(get_s(o, "state"), "idle");
		ck_assert_int_eq(n, 19);
		ck_assert_str_eq(f[18], want[w]);
		json_object_put(o);
		free(buf);
	}
}
END_TEST

/* A module older than CKFP_A_WHY: "-", the line otherwise the same; a newer value: unknown. */
START_TEST(fastpath_why_missing_or_unknown)
{
	struct json_object *o = fp_json(4, CKFP_STATE_UP, NO_WHY), *v;
	char *buf = fp_print(4, CKFP_STATE_UP, NO_WHY, false), *f[32];
	int n = fields(strchr(buf, '\n') + 1, f, 32);

	ck_assert_str_eq(get_s(o, "why"), "-");
	ck_assert(json_object_object_get_ex(o, "evictions", &v));
	ck_assert_int_eq(json_object_get_int64(v), (int64_t)STAT_VALUE(CKFP_STAT_A_EVICTIONS));
	ck_assert_int_eq(n, 19);
	ck_assert_str_eq(f[1], "up");
	ck_assert_str_eq(f[18], "-");
	json_object_put(o);
	free(buf);

	o = fp_json(4, CKFP_STATE_UP, CKFP_WHY_MAX + 1);
	ck_assert_str_eq(get_s(o, "why"), "unknown");
	json_object_put(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("query-json");

	th_add(s, members_json_keeps_quote_and_backslash);
	th_add(s, lookup_json_keeps_quote_and_backslash);
	th_add(s, lookup_json_not_co_resident);
	th_add(s, lookup_rejects_what_is_no_key);
	th_add(s, status_json);
	th_add(s, lookup_says_the_address_source);
	th_add(s, lookup_by_mac_or_domid_has_no_source);
	th_add(s, members_json_has_sources);
	th_add(s, members_text_source_column);
	th_add(s, fastpath_text_why_is_the_last_column);
	th_add(s, fastpath_why_words);
	th_add(s, fastpath_why_missing_or_unknown);
	return th_run(s);
}
