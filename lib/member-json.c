// SPDX-License-Identifier: LGPL-2.1-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "member-json.h"

void ck_format_mac(const uint8_t m[CK_MAC_LEN], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

void ck_format_uuid(const uint8_t u[CK_UUID_LEN], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

void ck_format_ipv4(uint32_t addr, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff);
}

void ck_format_ipv6(const uint8_t addr[CK_IPV6_LEN], char out[46])
{
	inet_ntop(AF_INET6, addr, out, 46);
}

int ck_parse_mac(const char *s, uint8_t mac[CK_MAC_LEN])
{
	unsigned int b[CK_MAC_LEN];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < CK_MAC_LEN; i++)
		mac[i] = b[i];
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int ck_parse_uuid(const char *s, uint8_t uuid[CK_UUID_LEN])
{
	size_t n = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36;) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return -EINVAL;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		uuid[n++] = hi << 4 | lo;
		i += 2;
	}
	return 0;
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

		ck_format_mac(nic->mac, buf);
		json_object_object_add(n, "mac", json_object_new_string(buf));
		for (unsigned int a = 0; a < nic->n_ipv4; a++) {
			ck_format_ipv4(nic->ipv4[a], buf);
			json_object_array_add(v4, json_object_new_string(buf));
		}
		for (unsigned int a = 0; a < nic->n_ipv6; a++) {
			ck_format_ipv6(nic->ipv6[a], buf);
			json_object_array_add(v6, json_object_new_string(buf));
		}
		json_object_object_add(n, "ipv4", v4);
		json_object_object_add(n, "ipv6", v6);
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
