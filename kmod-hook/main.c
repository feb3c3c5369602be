// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper.ko: the guest's table of co-resident domains, written by cokeeper-agent over the
 * generic netlink family "cokeeper", read by a fast path through include/cokeeper.h, and
 * used by a LOCAL_OUT hook to count (and optionally mark) traffic to co-resident peers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <net/genetlink.h>

#include "api.h"
#include "hook.h"
#include "netlink.h"
#include "selftest.h"

static unsigned int max_entries = 4096;
module_param(max_entries, uint, 0444);
MODULE_PARM_DESC(max_entries, "most members the table holds (1..32752, default 4096)");

static bool selftest;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "run the table self-test at load; a failure fails the load");

static struct ck_store *store;

static int __init cokeeper_init(void)
{
	int err;

	if (selftest) {
		err = ck_selftest();
		if (err)
			return err;
	}
	err = ck_store_new(&store, max_entries);
	if (err) {
		pr_err("cannot create the table (max_entries %u): %d\n", max_entries, err);
		return err;
	}
	ck_api_init(store);
	err = ck_hook_init(store);
	if (err) {
		pr_err("cannot register the netfilter hooks: %d\n", err);
		goto err_store;
	}
	/* Last: from here on userspace can write. */
	err = ck_netlink_init(store);
	if (err) {
		pr_err("cannot register the generic netlink family: %d\n", err);
		goto err_hook;
	}
	pr_info("table of %u entries ready\n", max_entries);
	return 0;

err_hook:
	ck_hook_exit();
err_store:
	ck_store_free(store);
	return err;
}

static void __exit cokeeper_exit(void)
{
	ck_netlink_exit();
	ck_hook_exit();
	ck_store_free(store);
}

module_init(cokeeper_init);
module_exit(cokeeper_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION(COKEEPER_VERSION);
MODULE_DESCRIPTION("CoKeeper: table of co-resident Xen domains, genl family and fast-path API");
MODULE_AUTHOR("The CoKeeper authors");
MODULE_ALIAS_GENL_FAMILY(COKEEPER_GENL_NAME);
