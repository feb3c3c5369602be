// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "member-json.h"
#include "scan-read.h"

#define INCOMING_SUFFIX "--incoming"
#define MIGRATEDAWAY_SUFFIX "--migratedaway"

/* /local/domain/<domid>/<leaf>: keys the toolstack owns and the guest cannot write. */
static char *read_key(const struct host *host, unsigned int domid, const char *leaf)
{
	char path[128];
	unsigned int len;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, leaf);
	return host->ops->read(host->ctx, path, &len);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Domain names are the toolstack's, but only printable ASCII of bounded length goes on. */
static void copy_name(char dst[CK_NAME_MAX + 1], const char *src)
{
	size_t i;

	for (i = 0; i < CK_NAME_MAX && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '_';
	dst[i] = '\0';
}

/* "vm" holds "/vm/<uuid>"; the uuid is the path's last element. */
static int read_uuid(const struct host *host, unsigned int domid, uint8_t uuid[CK_UUID_LEN])
{
	char *vm = read_key(host, domid, "vm");
	const char *slash;
	int r = -ENOENT;

	if (vm) {
		slash = strrchr(vm, '/');
		r = ck_parse_uuid(slash ? slash + 1 : vm, uuid);
		free(vm);
	}
	return r;
}

static int by_number(const void *a, const void *b)
{
	long x = strtol(*(char *const *)a, NULL, 10), y = strtol(*(char *const *)b, NULL, 10);

	return (x > y) - (x < y);
}

/* One address in text, v4 or v6, added to nic from source; false if it is not one. */
static bool add_address(struct ck_nic *nic, const char *text, uint8_t source)
{
	uint8_t v6[CK_IPV6_LEN];
	uint32_t v4;

	if (strchr(text, ':'))
		return ck_parse_ipv6(text, v6) == 0 && ck_nic_add_ipv6(nic, v6, source) == 0;
	return ck_parse_ipv4(text, &v4) == 0 && v4 != 0 && ck_nic_add_ipv4(nic, v4, source) == 0;
}

/* The vif's "ip" key: addresses separated by spaces, as libxl writes them. */
static void parse_ips(struct ck_nic *nic, char *ips, unsigned int domid)
{
	char *save = NULL;

	for (char *tok = strtok_r(ips, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (!add_address(nic, tok, CK_ADDR_TOOLSTACK))
			log_debug("domid %u: vif ip '%.64s' ignored", domid, tok);
}

/*
 * Where the vif is plugged in, for the fast path's pairing (fastpath-policy.c): libxl writes
 * the xl config's bridge= (its VLAN too, for Open vSwitch's "br.VLAN") and rate= into the
 * backend, which only dom0 can write.  A bridge name that does not fit, or is not printable,
 * is kept as none: it pairs with nothing.
 */
static void read_network(const struct host *host, char *key, size_t size, const char *path,
			 const char *dev, struct ck_nic *nic)
{
	unsigned int len;
	char *v;

	snprintf(key, size, "%s/%.16s/bridge", path, dev);
	v = host->ops->read(host->ctx, key, &len);
	if (v && len <= CK_BRIDGE_MAX && ck_printable(v, len))
		memcpy(nic->bridge, v, len + 1);
	free(v);
	snprintf(key, size, "%s/%.16s/rate", path, dev);
	v = host->ops->read(host->ctx, key, &len);
	nic->rate_limited = v && *v;
	free(v);
}

/*
 * The guest's own word: attr/vif/<devid>/ipv4/<n> and ipv6/<n>, as xen-guest-agent and
 * xe-guest-utilities write them.  The guest owns these keys, so at most CK_ADDRS_MAX entries
 * of each are read, and what is not an address is skipped; conflicts.c decides whether a
 * claim is used at all.
 */
static void read_claimed(const struct host *host, unsigned int domid, const char *dev,
			 struct ck_nic *nic)
{
	static const char *const families[] = { "ipv4", "ipv6" };

	for (unsigned int f = 0; f < 2; f++) {
		char dir[128], key[160];
		unsigned int num = 0, len;
		char **names;

		snprintf(dir, sizeof(dir), "/local/domain/%u/attr/vif/%.16s/%s", domid, dev,
			 families[f]);
		names = host->ops->directory(host->ctx, dir, &num);
		for (unsigned int i = 0; names && i < num && i < CK_ADDRS_MAX; i++) {
			char *v;

			snprintf(key, sizeof(key), "%s/%.16s", dir, names[i]);
			v = host->ops->read(host->ctx, key, &len);
			if (v && len < 64 && (strchr(v, ':') != NULL) == (f == 1))
				add_address(nic, v, CK_ADDR_CLAIMED);
			free(v);
		}
		free(names);
	}
}

void scan_read_nics(const struct host *host, struct ck_member *m)
{
	char path[96];
	unsigned int num = 0;
	char **devs;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u", m->domid);
	devs = host->ops->directory(host->ctx, path, &num);
	if (!devs)
		return;
	qsort(devs, num, sizeof(*devs), by_number);
	for (unsigned int i = 0; i < num && m->n_nics < CK_NICS_MAX; i++) {
		struct ck_nic *nic = &m->nics[m->n_nics];
		char key[160], *mac, *ip;
		unsigned int len;

		snprintf(key, sizeof(key), "%s/%.16s/mac", path, devs[i]);
		mac = host->ops->read(host->ctx, key, &len);
		if (!mac || ck_parse_mac(mac, nic->mac) < 0 || !ck_mac_valid(nic->mac)) {
			log_debug("domid %u: vif %.16s without a valid mac", m->domid, devs[i]);
			free(mac);
			memset(nic, 0, sizeof(*nic));
			continue;
		}
		free(mac);
		snprintf(key, sizeof(key), "%s/%.16s/ip", path, devs[i]);
		ip = host->ops->read(host->ctx, key, &len);
		if (ip) {
			parse_ips(nic, ip, m->domid);
			free(ip);
		}
		read_network(host, key, sizeof(key), path, devs[i], nic);
		read_claimed(host, m->domid, devs[i], nic);
		m->n_nics++;
	}
	free(devs);
}

int scan_read_member(const struct host *host, const struct domain_info *info,
		     struct ck_member *m)
{
	char *name;

	if (info->dying || (info->shutdown && !info->suspended))
		return -ENOENT;
	memset(m, 0, sizeof(*m));
	m->domid = info->domid;
	m->state = info->suspended ? CK_MEMBER_MIGRATING_OUT : CK_MEMBER_RUNNING;

	/* A domain being built has no name yet; a migration target is paused "--incoming". */
	name = read_key(host, info->domid, "name");
	if (!name)
		return -ENOENT;
	if (!*name || ends_with(name, INCOMING_SUFFIX) || ends_with(name, MIGRATEDAWAY_SUFFIX)) {
		free(name);
		return -ENOENT;
	}
	copy_name(m->name, name);
	free(name);
	if (read_uuid(host, info->domid, m->uuid) < 0)
		return -ENOENT;
	scan_read_nics(host, m);
	return 0;
}
