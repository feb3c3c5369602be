// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakexen.h"
#include "hash.h"
#include "member-json.h"

/*
 * A xenstore node.  Every node is in the path index (hh) and in its parent's children (ch),
 * so a read, a directory listing and a removal cost what they touch, not the whole store.
 * A node with no value is a directory only implied by its children: it reads as ENOENT and
 * goes when its last child does.
 */
struct node {
	char *path;
	const char *leaf;	/* the last element, inside path */
	char *value;
	struct node *parent;
	struct node *children;	/* uthash by leaf, handle ch */
	int name_of;		/* /local/domain/<domid>/name: that domid, else -1 */
	bool named;		/* in the name index (hn), keyed by value */
	UT_hash_handle hh, ch, hn;
};

struct fakexen {
	struct node root;	/* "/", in no index */
	struct node *nodes;	/* uthash by path */
	struct node *names;	/* the domains' name nodes by value */
	bool names_incomplete;	/* an insert into names failed: look names up the slow way */
	/* The domains that exist, sorted by domid: listing them is one copy. */
	struct domain_info *doms;
	size_t n_doms, cap_doms;
	uint16_t next_domid;
	fakexen_fire_fn fire;
	void *userdata;
};

/* The index of domid in fx->doms, or where it would go. */
static size_t dom_slot(const struct fakexen *fx, uint16_t domid)
{
	size_t lo = 0, hi = fx->n_doms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (fx->doms[mid].domid < domid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct domain_info *domain(struct fakexen *fx, uint16_t domid)
{
	size_t i = dom_slot(fx, domid);

	return i < fx->n_doms && fx->doms[i].domid == domid ? &fx->doms[i] : NULL;
}

static int dom_insert(struct fakexen *fx, size_t i, const struct domain_info *info)
{
	if (fx->n_doms == fx->cap_doms) {
		size_t cap = fx->cap_doms ? fx->cap_doms * 2 : 64;
		struct domain_info *v = realloc(fx->doms, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		fx->doms = v;
		fx->cap_doms = cap;
	}
	memmove(&fx->doms[i + 1], &fx->doms[i], (fx->n_doms - i) * sizeof(*fx->doms));
	fx->doms[i] = *info;
	fx->n_doms++;
	return 0;
}

static void dom_remove(struct fakexen *fx, uint16_t domid)
{
	size_t i = dom_slot(fx, domid);

	if (i == fx->n_doms || fx->doms[i].domid != domid)
		return;
	memmove(&fx->doms[i], &fx->doms[i + 1], (fx->n_doms - i - 1) * sizeof(*fx->doms));
	fx->n_doms--;
}

int fakexen_new(struct fakexen **ret, fakexen_fire_fn fire, void *userdata)
{
	struct fakexen *fx = calloc(1, sizeof(*fx));
	struct domain_info dom0 = { .domid = 0 };
	int r;

	if (!fx)
		return -ENOMEM;
	fx->root = (struct node){ .path = "", .leaf = "", .name_of = -1 };
	fx->fire = fire;
	fx->userdata = userdata;
	fx->next_domid = 1;
	/* What xen-init-dom0 writes for dom0. */
	r = dom_insert(fx, 0, &dom0);
	r = r ?: fakexen_write(fx, "/local/domain/0/name", "Domain-0");
	r = r ?: fakexen_write(fx, "/local/domain/0/vm", "/vm/00000000-0000-0000-0000-000000000000");
	if (r < 0) {
		fakexen_free(fx);
		return r;
	}
	*ret = fx;
	return 0;
}

static void unname(struct fakexen *fx, struct node *n)
{
	if (n->named)
		HASH_DELETE(hn, fx->names, n);
	n->named = false;
}

/* Frees n and everything under it, and takes n out of its parent. */
static void free_subtree(struct fakexen *fx, struct node *n)
{
	struct node *c, *tmp;

	HASH_ITER(ch, n->children, c, tmp)
		free_subtree(fx, c);
	unname(fx, n);
	HASH_DELETE(hh, fx->nodes, n);
	HASH_DELETE(ch, n->parent->children, n);
	free(n->path);
	free(n->value);
	free(n);
}

void fakexen_free(struct fakexen *fx)
{
	struct node *c, *tmp;

	if (!fx)
		return;
	HASH_ITER(ch, fx->root.children, c, tmp)
		free_subtree(fx, c);
	free(fx->doms);
	free(fx);
}

void fakexen_fire(struct fakexen *fx, const char *path)
{
	if (fx->fire)
		fx->fire(path, fx->userdata);
}

/* The domid of a path /local/domain/<domid>/name, else -1. */
static int name_path_domid(const char *path)
{
	static const char home[] = "/local/domain/";
	const char *p = path + sizeof(home) - 1;
	char *end;
	long domid;

	if (strncmp(path, home, sizeof(home) - 1) || *p < '0' || *p > '9')
		return -1;
	domid = strtol(p, &end, 10);
	return strcmp(end, "/name") || domid >= CK_DOMID_LIMIT ? -1 : (int)domid;
}

static struct node *find_node(struct fakexen *fx, const char *path)
{
	struct node *n;

	HASH_FIND_STR(fx->nodes, path, n);
	return n;
}

/* Removes n if nothing holds it any more, then its parent likewise. */
static void prune(struct fakexen *fx, struct node *n)
{
	while (n != &fx->root && !n->value && !n->children) {
		struct node *parent = n->parent;

		free_subtree(fx, n);
		n = parent;
	}
}

/*
 * The node at path, made (with the directories above it) if there is none.  NULL: out of
 * memory, and the directories it made are gone again, so a failed write lists nothing new.
 */
static struct node *get_node(struct fakexen *fx, const char *path)
{
	struct node *n = find_node(fx, path), *parent;
	const char *slash = strrchr(path, '/');

	if (n)
		return n;
	if (!slash || !slash[1])
		return NULL;
	if (slash == path) {
		parent = &fx->root;
	} else {
		char *up = strndup(path, slash - path);

		parent = up ? get_node(fx, up) : NULL;
		free(up);
	}
	if (!parent)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->path = strdup(path)))
		goto err_free;
	n->leaf = n->path + (slash - path) + 1;
	n->parent = parent;
	n->name_of = name_path_domid(path);
	if (CK_HASH_TRY(HASH_ADD_KEYPTR(hh, fx->nodes, n->path, strlen(n->path), n)) < 0)
		goto err_free;
	if (CK_HASH_TRY(HASH_ADD_KEYPTR(ch, parent->children, n->leaf, strlen(n->leaf), n)) < 0)
		goto err_unindex;
	return n;

err_unindex:
	HASH_DELETE(hh, fx->nodes, n);
err_free:
	if (n)
		free(n->path);
	free(n);
	prune(fx, parent);
	return NULL;
}

int fakexen_write(struct fakexen *fx, const char *path, const char *value)
{
	struct node *n;
	char *v;

	/* xenstore's paths: absolute, no empty element. */
	if (path[0] != '/' || path[strlen(path) - 1] == '/' || strstr(path, "//"))
		return -EINVAL;
	v = strdup(value);
	if (!v)
		return -ENOMEM;
	n = get_node(fx, path);
	if (!n) {
		free(v);
		return -ENOMEM;
	}
	unname(fx, n);
	free(n->value);
	n->value = v;
	if (n->name_of >= 0) {
		n->named = CK_HASH_TRY(HASH_ADD_KEYPTR(hn, fx->names, n->value, strlen(n->value),
						       n)) == 0;
		/* The write stands; only the index misses it. */
		fx->names_incomplete |= !n->named;
	}
	return 0;
}

void fakexen_rm(struct fakexen *fx, const char *path)
{
	struct node *n = find_node(fx, path), *parent;

	if (!n)
		return;
	parent = n->parent;
	free_subtree(fx, n);
	prune(fx, parent);
}

static char *fake_read(void *ctx, const char *path, unsigned int *len)
{
	struct node *n = find_node(ctx, path);
	char *v;

	if (!n || !n->value) {
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
	struct node *n = find_node(ctx, path), *c, *tmp;
	size_t count = 0, bytes = 0;
	char **out, *p;

	if (!n) {
		errno = ENOENT;
		return NULL;
	}
	HASH_ITER(ch, n->children, c, tmp) {
		bytes += strlen(c->leaf) + 1;
		count++;
	}
	out = malloc(count * sizeof(char *) + bytes + 1);
	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	p = (char *)(out + count);
	count = 0;
	HASH_ITER(ch, n->children, c, tmp) {
		out[count++] = p;
		p = stpcpy(p, c->leaf) + 1;
	}
	*num = count;
	return out;
}

static int fake_list_domains(void *ctx, struct domain_info **ret, size_t *n)
{
	struct fakexen *fx = ctx;
	struct domain_info *v = malloc((fx->n_doms ?: 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	memcpy(v, fx->doms, fx->n_doms * sizeof(*v));
	*ret = v;
	*n = fx->n_doms;
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

static int write_vif(struct fakexen *fx, uint16_t domid, unsigned int devid,
		     const struct fake_nic *nic)
{
	const char *mac = nic->mac, *ip = nic->ip;
	int r;

	/* Each key the scan reads fires its watch, as a toolstack's write does. */
	r = writef_fire(fx, nic->bridge ?: "xenbr0", "/local/domain/0/backend/vif/%u/%u/bridge",
			domid, devid);
	if (r == 0 && nic->rate)
		r = writef_fire(fx, nic->rate, "/local/domain/0/backend/vif/%u/%u/rate", domid,
				devid);
	if (r == 0)
		r = writef_fire(fx, mac, "/local/domain/0/backend/vif/%u/%u/mac", domid, devid);
	if (r == 0 && ip)
		r = writef_fire(fx, ip, "/local/domain/0/backend/vif/%u/%u/ip", domid, devid);
	return r;
}

/* Takes a domain's nodes out of the store (and vm, unless NULL), and says so to watchers. */
static void unwrite_domain(struct fakexen *fx, uint16_t domid, const char *vm)
{
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	fakexen_rm(fx, path);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u", domid);
	fakexen_rm(fx, path);
	fakexen_fire(fx, path);
	if (vm)
		fakexen_rm(fx, vm);
}

int fakexen_create(struct fakexen *fx, const char *name, const uint8_t uuid[CK_UUID_LEN],
		   const struct fake_nic *nics, unsigned int n_nics, bool incoming,
		   uint16_t *domid)
{
	char uuid_str[37], vm[48], full[CK_NAME_MAX + 16], num[8];
	bool vm_existed;
	unsigned int d;
	size_t i;
	int r;

	/* libxl hands out domids upwards and wraps; a freed one is reused only after that. */
	d = fx->next_domid;
	i = dom_slot(fx, d);
	for (; i < fx->n_doms && fx->doms[i].domid == d; i++, d++)
		;
	if (d >= CK_DOMID_LIMIT)
		for (d = 1, i = dom_slot(fx, d); i < fx->n_doms && fx->doms[i].domid == d; i++, d++)
			;
	if (d >= CK_DOMID_LIMIT)
		return -ENOSPC;
	ck_format_uuid(uuid, uuid_str);
	snprintf(vm, sizeof(vm), "/vm/%s", uuid_str);
	snprintf(full, sizeof(full), "%s%s", name, incoming ? "--incoming" : "");
	snprintf(num, sizeof(num), "%u", d);
	/* A localhost migration's incoming half shares its /vm with the running one. */
	vm_existed = find_node(fx, vm);

	r = dom_insert(fx, i, &(struct domain_info){ .domid = d, .paused = incoming });
	if (r < 0)
		return r;
	r = writef(fx, full, "/local/domain/%u/name", d);
	r = r ?: writef(fx, vm, "/local/domain/%u/vm", d);
	r = r ?: writef(fx, num, "/local/domain/%u/domid", d);
	r = r ?: writef(fx, uuid_str, "%s/uuid", vm);
	for (unsigned int dev = 0; r == 0 && dev < n_nics; dev++)
		r = write_vif(fx, d, dev, &nics[dev]);
	if (r < 0) {
		/* All or nothing, as libxl's creation is to xenstore's readers. */
		unwrite_domain(fx, d, vm_existed ? NULL : vm);
		dom_remove(fx, d);
		return r;
	}
	fx->next_domid = d + 1;
	*domid = d;
	fakexen_fire(fx, "@introduceDomain");
	return 0;
}

int fakexen_set_dying(struct fakexen *fx, uint16_t domid)
{
	struct domain_info *dom = domain(fx, domid);

	if (!dom || domid == 0)
		return -ENOENT;
	dom->dying = true;
	fakexen_fire(fx, "@releaseDomain");
	return 0;
}

int fakexen_destroy(struct fakexen *fx, uint16_t domid)
{
	int r;

	r = fakexen_set_dying(fx, domid);
	if (r < 0)
		return r;
	unwrite_domain(fx, domid, NULL);
	dom_remove(fx, domid);
	fakexen_fire(fx, "@releaseDomain");
	return 0;
}

int fakexen_shutdown(struct fakexen *fx, uint16_t domid, bool suspend)
{
	struct domain_info *dom = domain(fx, domid);

	if (!dom || domid == 0)
		return -ENOENT;
	dom->shutdown = true;
	dom->suspended = suspend;
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
	struct domain_info *src = domain(fx, from), *dst = domain(fx, to);
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
	dst->paused = false;
	return 0;
}

int fakexen_set_vif(struct fakexen *fx, uint16_t domid, unsigned int devid, const char *mac,
		    const char *ip)
{
	if (!domain(fx, domid))
		return -ENOENT;
	return write_vif(fx, domid, devid, &(struct fake_nic){ .mac = mac, .ip = ip });
}

int fakexen_move_vif(struct fakexen *fx, uint16_t domid, unsigned int devid,
		     const char *bridge, const char *rate)
{
	char path[96];
	int r;

	if (!domain(fx, domid))
		return -ENOENT;
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/rate", domid, devid);
	if (!rate) {
		/* A rate taken away is a key removed, which fires its watch too. */
		fakexen_rm(fx, path);
		fakexen_fire(fx, path);
	}
	r = writef_fire(fx, bridge, "/local/domain/0/backend/vif/%u/%u/bridge", domid, devid);
	if (r == 0 && rate)
		r = writef_fire(fx, rate, "%s", path);
	return r;
}

int fakexen_find_name(struct fakexen *fx, const char *name)
{
	struct node *n;

	HASH_FIND(hn, fx->names, name, strlen(name), n);
	if (n && domain(fx, n->name_of))
		return n->name_of;
	if (!fx->names_incomplete)
		return -ENOENT;
	for (size_t i = 0; i < fx->n_doms; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/local/domain/%u/name", fx->doms[i].domid);
		n = find_node(fx, path);
		if (n && n->value && !strcmp(n->value, name))
			return fx->doms[i].domid;
	}
	return -ENOENT;
}
