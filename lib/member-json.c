// SPDX-License-Identifier: LGPL-2.1-or-later
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "member-json.h"

/*
 * Zero-padded lowercase, two digits a byte, as xl and xenstore write a vif's mac: not
 * ether_ntoa_r's form, which drops leading zeros ("0:16:3e:0:0:3").
 */
void ck_format_mac(const uint8_t m[CK_MAC_LEN], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

void ck_format_uuid(const uint8_t uuid[CK_UUID_LEN], char out[37])
{
	uuid_unparse_lower(uuid, out);
}

void ck_format_ipv4(uint32_t addr, char out[16])
{
	struct in_addr a = { .s_addr = htonl(addr) };

	inet_ntop(AF_INET, &a, out, 16);
}

void ck_format_ipv6(const uint8_t addr[CK_IPV6_LEN], char out[46])
{
	inet_ntop(AF_INET6, addr, out, 46);
}

/*
 * Only the canonical shape, two hex digits a byte: ether_aton_r alone also takes one digit a
 * byte and ignores whatever follows the sixth.
 */
int ck_parse_mac(const char *s, uint8_t mac[CK_MAC_LEN])
{
	struct ether_addr a;

	if (strlen(s) != 17)
		return -EINVAL;
	for (size_t i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
	if (!ether_aton_r(s, &a))
		return -EINVAL;
	memcpy(mac, a.ether_addr_octet, CK_MAC_LEN);
	return 0;
}

/* 36 characters, hyphens at 8, 13, 18 and 23, hex digits of either case elsewhere. */
int ck_parse_uuid(const char *s, uint8_t uuid[CK_UUID_LEN])
{
	return uuid_parse(s, uuid) == 0 ? 0 : -EINVAL;
}

int ck_parse_ipv4(const char *s, uint32_t *addr)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	return 0;
}

int ck_parse_ipv6(const char *s, uint8_t addr[CK_IPV6_LEN])
{
	return inet_pton(AF_INET6, s, addr) == 1 ? 0 : -EINVAL;
}

struct json_object *ck_member_to_json(const struct ck_member *m)
{
	struct json_object *o = json_object_new_object(), *nics = json_object_new_array();
	char buf[64];

	json_object_object_add(o, "domid", json_object_new_int(m->domid));
	ck_format_uuid(m->uuid, buf);
	json_object_object_add(o, "uuid", json_object_new_string(buf));
	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "state", json_object_new_string(ck_member_state_name(m->state)));
	for (unsigned int i = 0; i < m->n_nics; i++) {
		const struct ck_nic *nic = &m->nics[i];
		struct json_object *n = json_object_new_object();
		struct json_object *v4 = json_object_new_array(), *v6 = json_object_new_array();
		struct json_object *src4 = json_object_new_array(), *src6 = json_object_new_array();

		ck_format_mac(nic->mac, buf);
		json_object_object_add(n, "mac", json_object_new_string(buf));
		for (unsigned int a = 0; a < nic->n_ipv4; a++) {
			ck_format_ipv4(nic->ipv4[a], buf);
			json_object_array_add(v4, json_object_new_string(buf));
			json_object_array_add(src4, json_object_new_string(
				ck_addr_source_name(nic->ipv4_source[a])));
		}
		for (unsigned int a = 0; a < nic->n_ipv6; a++) {
			ck_format_ipv6(nic->ipv6[a], buf);
			json_object_array_add(v6, json_object_new_string(buf));
			json_object_array_add(src6, json_object_new_string(
				ck_addr_source_name(nic->ipv6_source[a])));
		}
		json_object_object_add(n, "ipv4", v4);
		json_object_object_add(n, "ipv6", v6);
		/* Beside the addresses, not in them, so readers of "ipv4" stay unchanged. */
		json_object_object_add(n, "ipv4_source", src4);
		json_object_object_add(n, "ipv6_source", src6);
		json_object_array_add(nics, n);
	}
	json_object_object_add(o, "nics", nics);
	return o;
}

int ck_members_to_json(const struct ck_memberset *set, struct json_object **ret)
{
	const struct ck_member **v;
	struct json_object *arr;
	size_t n;
	int r;

	r = ck_memberset_sorted(set, &v, &n);
	if (r < 0)
		return r;
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, ck_member_to_json(v[i]));
	free(v);
	*ret = arr;
	return 0;
}
