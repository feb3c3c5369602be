// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) (node_oom = true)
static bool node_oom;
#include <uthash.h>

#include "fakexen.h"
#include "member-json.h"

#define MAX_DOMAINS 1024

struct node {
	char *path;
	char *value;
	UT_hash_handle hh;
};

struct fake_domain {
	bool exists;
	struct domain_info info;
};

struct fakexen {
	struct node *nodes;
	struct fake_domain domains[MAX_DOMAINS];
	uint16_t next_domid;
	fakexen_fire_fn fire;
	void *userdata;
};

int fakexen_new(struct fakexen **ret, fakexen_fire_fn fire, void *userdata)
{
	struct fakexen *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -ENOMEM;
	fx->fire = fire;
	fx->userdata = userdata;
	fx->next_domid = 1;
	fx->domains[0] = (struct fake_domain){ .exists = true, .info = { .domid = 0 } };
	*ret = fx;
	/* What xen-init-dom0 writes for dom0. */
	return fakexen_write(fx, "/local/domain/0/name", "Domain-0") ?:
	       fakexen_write(fx, "/local/domain/0/vm", "/vm/00000000-0000-0000-0000-000000000000");
}

void fakexen_free(struct fakexen *fx)
{
	struct node *n, *tmp;

	if (!fx)
		return;
	HASH_ITER(hh, fx->nodes, n, tmp) {
		HASH_DEL(fx->nodes, n);
		free(n->path);
		free(n->value);
		free(n);
	}
	free(fx);
}

void fakexen_fire(struct fakexen *fx, const char *path)
{
	if (fx->fire)
		fx->fire(path, fx->userdata);
}

int fakexen_write(struct fakexen *fx, const char *path, const char *value)
{
	struct node *n;
	char *v = strdup(value);

	if (!v)
		return -ENOMEM;
	HASH_FIND_STR(fx->nodes, path, n);
	if (n) {
		free(n->value);
		n->value = v;
		return 0;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->path = strdup(path))) {
		free(n);
		free(v);
		return -ENOMEM;
	}
	n->value = v;
	node_oom = false;
	HASH_ADD_KEYPTR(hh, fx->nodes, n->path, strlen(n->path), n);
	if (node_oom) {
		free(n->path);
		free(n->value);
		free(n);
		return -ENOMEM;
	}
	return 0;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

void fakexen_rm(struct fakexen *fx, const char *path)
{
	struct node *n, *tmp;

	HASH_ITER(hh, fx->nodes, n, tmp) {
		if (!under(n->path, path))
			continue;
		HASH_DEL(fx->nodes, n);
		free(n->path);
		free(n->value);
		free(n);
	}
}

static char *fake_read(void *ctx, const char *path, unsigned int *len)
{
	struct fakexen *fx = ctx;
	struct node *n;
	char *v;

	HASH_FIND_STR(fx->nodes, path, n);
	if (!n) {
		errno = ENOENT;
		return NULL;
	}
	v = strdup(n->value);
	if (v)
		*len = strlen(v);
	return v;
}

/* Like xs_directory(): the array and its strings in one allocation. */
static char **fake_directory(void *ctx, const char *path, unsigned int *num)
{
	struct fakexen *fx = ctx;
	size_t plen = strlen(path), count = 0, bytes = 0;
	char names[512][32];
	struct node *n, *tmp;
	char **out, *p;

	HASH_ITER(hh, fx->nodes, n, tmp) {
		const char *rest, *slash;
		size_t len;
		bool dup = false;

		if (strncmp(n->path, path, plen) != 0 || n->path[plen] != '/')
			continue;
		rest = n->path + plen + 1;
		slash = strchr(rest, '/');
		len = slash ? (size_t)(slash - rest) : strlen(rest);
		if (len == 0 || len >= sizeof(names[0]))
			continue;
		for (size_t i = 0; i < count && !dup; i++)
			dup = strlen(names[i]) == len && !strncmp(names[i], rest, len);
		if (dup || count == 512)
			continue;
		memcpy(names[count], rest, len);
		names[count][len] = '\0';
		bytes += len + 1;
		count++;
	}
	if (count == 0 && !HASH_COUNT(fx->nodes)) {
		errno = ENOENT;
		return NULL;
	}
	out = malloc(count * sizeof(char *) + bytes + 1);
	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	p = (char *)(out + count);
	for (size_t i = 0; i < count; i++) {
		out[i] = p;
		p = stpcpy(p, names[i]) + 1;
	}
	*num = count;
	return out;
}

static int fake_list_domains(void *ctx, struct domain_info **ret, size_t *n)
{
	struct fakexen *fx = ctx;
	struct domain_info *v = calloc(MAX_DOMAINS, sizeof(*v));
	size_t count = 0;

	if (!v)
		return -ENOMEM;
	for (unsigned int d = 0; d < MAX_DOMAINS; d++)
		if (fx->domains[d].exists)
			v[count++] = fx->domains[d].info;
	*ret = v;
	*n = count;
	return 0;
}

static const struct host_ops fake_ops = {
	.read = fake_read,
	.directory = fake_directory,
	.list_domains = fake_list_domains,
};

struct host fakexen_host(struct fakexen *fx)
{
	return (struct host){ .ops = &fake_ops, .ctx = fx };
}

static int vwritef(struct fakexen *fx, bool fire, const char *value, const char *fmt,
		   va_list ap) __attribute__((format(printf, 4, 0)));
static int vwritef(struct fakexen *fx, bool fire, const char *value, const char *fmt,
		   va_list ap)
{
	char path[256];
	int r;

	vsnprintf(path, sizeof(path), fmt, ap);
	r = fakexen_write(fx, path, value);
	if (r == 0 && fire)
		fakexen_fire(fx, path);
	return r;
}

/* A toolstack write that no watch of cokeeperd's sees. */
static int writef(struct fakexen *fx, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int writef(struct fakexen *fx, const char *value, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vwritef(fx, false, value, fmt, ap);
	va_end(ap);
	return r;
}

/* One that fires a watch with the written path, as the vif and name watches do. */
static int writef_fire(struct fakexen *fx, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int writef_fire(struct fakexen *fx, const char *value, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vwritef(fx, true, value, fmt, ap);
	va_end(ap);
	return r;
}

static int write_vif(struct fakexen *fx, uint16_t domid, unsigned int devid, const char *mac,
		     const char *ip)
{
	int r;

	r = writef_fire(fx, mac, "/local/domain/0/backend/vif/%u/%u/mac", domid, devid);
	if (r == 0 && ip)
		r = writef_fire(fx, ip, "/local/domain/0/backend/vif/%u/%u/ip", domid, devid);
	return r;
}

int fakexen_create(struct fakexen *fx, const char *name, const uint8_t uuid[CK_UUID_LEN],
		   const struct fake_nic *nics, unsigned int n_nics, bool incoming,
		   uint16_t *domid)
{
	char uuid_str[37], vm[48], full[CK_NAME_MAX + 16], num[8];
	unsigned int d;
	int r;

	/* libxl hands out domids upwards and wraps; a freed one is reused only after that. */
	for (d = fx->next_domid; d < MAX_DOMAINS && fx->domains[d].exists; d++)
		;
	if (d >= MAX_DOMAINS)
		for (d = 1; d < MAX_DOMAINS && fx->domains[d].exists; d++)
			;
	if (d >= MAX_DOMAINS)
		return -ENOSPC;
	fx->next_domid = d + 1;

	ck_format_uuid(uuid, uuid_str);
	snprintf(vm, sizeof(vm), "/vm/%s", uuid_str);
	snprintf(full, sizeof(full), "%s%s", name, incoming ? "--incoming" : "");
	snprintf(num, sizeof(num), "%u", d);
	fx->domains[d] = (struct fake_domain){ .exists = true,
		.info = { .domid = d, .paused = incoming } };
	r = writef(fx, full, "/local/domain/%u/name", d);
	r = r ?: writef(fx, vm, "/local/domain/%u/vm", d);
	r = r ?: writef(fx, num, "/local/domain/%u/domid", d);
	r = r ?: writef(fx, uuid_str, "%s/uuid", vm);
	for (unsigned int i = 0; r == 0 && i < n_nics; i++)
		r = write_vif(fx, d, i, nics[i].mac, nics[i].ip);
	if (r < 0)
		return r;
	*domid = d;
	fakexen_fire(fx, "@introduceDomain");
	return 0;
}

static struct fake_domain *domain(struct fakexen *fx, uint16_t domid)
{
	return domid < MAX_DOMAINS && fx->domains[domid].exists ? &fx->domains[domid] : NULL;
}

int fakexen_set_dying(struct fakexen *fx, uint16_t domid)
{
	struct fake_domain *dom = domain(fx, domid);

	if (!dom || domid == 0)
		return -ENOENT;
	dom->info.dying = true;
	fakexen_fire(fx, "@releaseDomain");
	return 0;
}

int fakexen_destroy(struct fakexen *fx, uint16_t domid)
{
	char path[64];
	int r;

	r = fakexen_set_dying(fx, domid);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	fakexen_rm(fx, path);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u", domid);
	fakexen_rm(fx, path);
	fakexen_fire(fx, path);
	fx->domains[domid].exists = false;
	fakexen_fire(fx, "@releaseDomain");
	return 0;
}

int fakexen_shutdown(struct fakexen *fx, uint16_t domid, bool suspend)
{
	struct fake_domain *dom = domain(fx, domid);

	if (!dom || domid == 0)
		return -ENOENT;
	dom->info.shutdown = true;
	dom->info.suspended = suspend;
	fakexen_fire(fx, "@releaseDomain");
	return 0;
}

int fakexen_domain(struct fakexen *fx, uint16_t domid, uint8_t uuid[CK_UUID_LEN],
		   char name[CK_NAME_MAX + 1])
{
	struct host host = fakexen_host(fx);
	char path[64], *value, *slash;
	unsigned int len;
	int r;

	if (!domain(fx, domid))
		return -ENOENT;
	snprintf(path, sizeof(path), "/local/domain/%u/vm", domid);
	value = host.ops->read(fx, path, &len);
	if (!value)
		return -ENOENT;
	slash = strrchr(value, '/');
	r = ck_parse_uuid(slash ? slash + 1 : value, uuid);
	free(value);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	value = host.ops->read(fx, path, &len);
	if (!value)
		return -ENOENT;
	snprintf(name, CK_NAME_MAX + 1, "%s", value);
	free(value);
	return 0;
}

int fakexen_migrate_handover(struct fakexen *fx, uint16_t from, uint16_t to)
{
	struct fake_domain *src = domain(fx, from), *dst = domain(fx, to);
	uint8_t uuid[CK_UUID_LEN];
	char name[CK_NAME_MAX + 1], renamed[CK_NAME_MAX + 32];
	int r;

	if (!src || !dst)
		return -ENOENT;
	r = fakexen_domain(fx, from, uuid, name);
	if (r < 0)
		return r;
	snprintf(renamed, sizeof(renamed), "%s--migratedaway", name);
	r = writef_fire(fx, renamed, "/local/domain/%u/name", from);
	r = r ?: writef_fire(fx, name, "/local/domain/%u/name", to);
	if (r < 0)
		return r;
	dst->info.paused = false;
	return 0;
}

int fakexen_set_vif(struct fakexen *fx, uint16_t domid, unsigned int devid, const char *mac,
		    const char *ip)
{
	if (!domain(fx, domid))
		return -ENOENT;
	return write_vif(fx, domid, devid, mac, ip);
}
