// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The canonical text forms every tool prints and the parsers that read xenstore's and the
 * command line's: exact bytes out, and only the canonical shape in.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "member-json.h"

START_TEST(mac_round_trip_is_zero_padded_lowercase)
{
	uint8_t mac[CK_MAC_LEN];
	char s[18];

	ck_assert_int_eq(ck_parse_mac("00:16:3e:00:00:03", mac), 0);
	ck_assert_mem_eq(mac, "\x00\x16\x3e\x00\x00\x03", CK_MAC_LEN);
	ck_format_mac(mac, s);
	ck_assert_str_eq(s, "00:16:3e:00:00:03");
	ck_assert_int_eq(ck_parse_mac("0A:0b:FF:fe:00:01", mac), 0);
	ck_format_mac(mac, s);
	ck_assert_str_eq(s, "0a:0b:ff:fe:00:01");
}
END_TEST

START_TEST(mac_rejects_other_shapes)
{
	static const char *const bad[] = {
		"",
		"00:16:3e:00:00",		/* five bytes */
		"00:16:3e:00:00:03:04",		/* seven */
		"zz:16:3e:00:00:03",
		"00:16:3e:00:00:0g",
		"0:16:3e:00:00:03",		/* ether_aton_r's unpadded form */
		"0:16:3e:0:0:3",
		"00:16:3e:00:00:030",		/* trailing digit */
		"00:16:3e:00:00:03 ",		/* trailing space */
		"00:16:3e:00:00:0 ",
		" 0:16:3e:00:00:03",
		"+0:16:3e:00:00:03",
		"00-16-3e-00-00-03",
		"0016.3e00.0003",
		"00:16:3e:00:00:3x",
		"00:16:3e:00:00:03x",
	};
	uint8_t mac[CK_MAC_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ck_parse_mac(bad[i], mac) == -EINVAL, "'%s' was taken", bad[i]);
}
END_TEST

START_TEST(uuid_round_trip_is_lowercase)
{
	uint8_t uuid[CK_UUID_LEN];
	char s[37];

	ck_assert_int_eq(ck_parse_uuid("c0ffee00-1234-5678-9abc-def012345678", uuid), 0);
	ck_assert_mem_eq(uuid, "\xc0\xff\xee\x00\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78",
			 CK_UUID_LEN);
	ck_format_uuid(uuid, s);
	ck_assert_str_eq(s, "c0ffee00-1234-5678-9abc-def012345678");
	ck_assert_int_eq(ck_parse_uuid("C0FFEE00-1234-5678-9ABC-DEF012345678", uuid), 0);
	ck_format_uuid(uuid, s);
	ck_assert_str_eq(s, "c0ffee00-1234-5678-9abc-def012345678");
	memset(uuid, 0, sizeof(uuid));
	ck_format_uuid(uuid, s);
	ck_assert_str_eq(s, "00000000-0000-0000-0000-000000000000");
}
END_TEST

START_TEST(uuid_rejects_other_shapes)
{
	static const char *const bad[] = {
		"",
		"c0ffee00-1234-5678-9abc-def01234567",		/* 35 characters */
		"c0ffee00-1234-5678-9abc-def0123456789",	/* 37 */
		"c0ffee00-1234-5678-9abc-def012345678 ",
		"c0ffee0012345678-9abcdef012345678",
		"c0ffee0012345678" "9abcdef012345678",		/* no hyphens */
		"c0ffee001-234-5678-9abc-def012345678",		/* hyphen moved */
		"c0ffee00-1234-5678-9abc_def012345678",
		"g0ffee00-1234-5678-9abc-def012345678",
		"{c0ffee00-1234-5678-9abc-def0123456}",
	};
	uint8_t uuid[CK_UUID_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ck_parse_uuid(bad[i], uuid) == -EINVAL, "'%s' was taken", bad[i]);
}
END_TEST

START_TEST(ip_text_forms)
{
	static const uint8_t v6[CK_IPV6_LEN] = { 0xfd, [15] = 1 };
	uint8_t a6[CK_IPV6_LEN];
	uint32_t a4;
	char s[46];

	ck_format_ipv4(0x0A630003, s);
	ck_assert_str_eq(s, "10.99.0.3");
	ck_format_ipv4(0, s);
	ck_assert_str_eq(s, "0.0.0.0");
	ck_format_ipv4(0xFFFFFFFF, s);
	ck_assert_str_eq(s, "255.255.255.255");
	ck_assert_int_eq(ck_parse_ipv4("10.99.0.3", &a4), 0);
	ck_assert_uint_eq(a4, 0x0A630003);
	ck_assert_int_eq(ck_parse_ipv4("10.99.0", &a4), -EINVAL);
	ck_assert_int_eq(ck_parse_ipv4("10.99.0.256", &a4), -EINVAL);
	ck_assert_int_eq(ck_parse_ipv4("10.99.0.3 ", &a4), -EINVAL);
	ck_assert_int_eq(ck_parse_ipv4("fd00::1", &a4), -EINVAL);

	ck_format_ipv6(v6, s);
	ck_assert_str_eq(s, "fd00::1");
	ck_assert_int_eq(ck_parse_ipv6("fd00::1", a6), 0);
	ck_assert_mem_eq(a6, v6, CK_IPV6_LEN);
	ck_assert_int_eq(ck_parse_ipv6("fd00:::1", a6), -EINVAL);
	ck_assert_int_eq(ck_parse_ipv6("10.99.0.3", a6), -EINVAL);
}
END_TEST

/* The form cokeeperctl and cokeeper-query print, byte for byte. */
START_TEST(member_json_golden)
{
	struct ck_member m = {
		.domid = 3, .state = CK_MEMBER_RUNNING, .n_nics = 1, .name = "web",
		.uuid = { 0xc0, 0xff, 0xee, [15] = 0x03 },
		.nics = { { .mac = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x03 },
			    .n_ipv4 = 2, .ipv4 = { 0x0A630003, 0xC0A80001 },
			    .ipv4_source = { CK_ADDR_TOOLSTACK, CK_ADDR_LEARNED },
			    .n_ipv6 = 1, .ipv6 = { { 0xfd, [15] = 3 } } } },
	};
	struct json_object *o = ck_member_to_json(&m);

	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			 "{\"domid\":3,\"uuid\":\"c0ffee00-0000-0000-0000-000000000003\","
			 "\"name\":\"web\",\"state\":\"running\",\"nics\":[{\"mac\":"
			 "\"00:16:3e:00:00:03\",\"ipv4\":[\"10.99.0.3\",\"192.168.0.1\"],"
			 "\"ipv6\":[\"fd00::3\"],\"ipv4_source\":[\"toolstack\",\"learned\"],"
			 "\"ipv6_source\":[\"toolstack\"]}]}");
	json_object_put(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("member-json");

	th_add(s, mac_round_trip_is_zero_padded_lowercase);
	th_add(s, mac_rejects_other_shapes);
	th_add(s, uuid_round_trip_is_lowercase);
	th_add(s, uuid_rejects_other_shapes);
	th_add(s, ip_text_forms);
	th_add(s, member_json_golden);
	return th_run(s);
}
