/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Members as JSON, in the one canonical form every tool prints (cokeeperctl in dom0,
 * cokeeper-query in a guest), so two views of a host can be compared byte for byte:
 *   {"domid":3,"uuid":"…","name":"web","state":"running",
 *    "nics":[{"mac":"00:16:3e:00:00:03","ipv4":["10.99.0.3"],"ipv6":[]}]}
 * A list of members is an array sorted by domid.
 */
#pragma once

#include <json-c/json.h>

#include "memberset.h"

struct json_object *ck_member_to_json(const struct ck_member *m);
/* -ENOMEM only. */
int ck_members_to_json(const struct ck_memberset *set, struct json_object **ret);

/* Text forms shared by every tool. */
void ck_format_mac(const uint8_t mac[CK_MAC_LEN], char out[18]);
void ck_format_uuid(const uint8_t uuid[CK_UUID_LEN], char out[37]);
void ck_format_ipv4(uint32_t addr, char out[16]);
void ck_format_ipv6(const uint8_t addr[CK_IPV6_LEN], char out[46]);
int ck_parse_mac(const char *s, uint8_t mac[CK_MAC_LEN]);
int ck_parse_uuid(const char *s, uint8_t uuid[CK_UUID_LEN]);
int ck_parse_ipv4(const char *s, uint32_t *addr);
int ck_parse_ipv6(const char *s, uint8_t addr[CK_IPV6_LEN]);
