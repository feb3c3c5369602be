// SPDX-License-Identifier: GPL-2.0-only
/*
 * cokeeper-fp.ko: IPv4 between co-resident Xen guests over shared memory instead of
 * netfront (docs/FASTPATH.md).  Which peers are co-resident comes from cokeeper.ko's table
 * (cokeeper.h), which cokeeper-agent writes from what dom0 says; channel set-up goes through
 * the genl family "cokeeper_fp" (uapi/linux/cokeeper_fp.h), the agents and cokeeperd.
 *
 * This file: parameters, the table's notifier, the guest's own suspend, load and unload.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/platform_device.h>
#include <net/genetlink.h>
#include <uapi/linux/cokeeper.h>
#include <uapi/linux/cokeeper_fp.h>
#include <xen/xen.h>

#include "chan.h"
#include "cokeeper.h"
#include "genl.h"
#include "selftest.h"

bool ckfp_enable = true;

static int enable_set(const char *val, const struct kernel_param *kp)
{
	int err = param_set_bool(val, kp);

	/* Also at load, before anything exists: then there is nothing to reconcile. */
	if (!err && kp->arg == &ckfp_enable && THIS_MODULE->state == MODULE_STATE_LIVE)
		ckfp_reconcile_all();
	return err;
}

static const struct kernel_param_ops enable_ops = {
	.set = enable_set,
	.get = param_get_bool,
};
module_param_cb(enable, &enable_ops, &ckfp_enable, 0644);
MODULE_PARM_DESC(enable, "1: co-resident IPv4 takes the channels; 0: every channel down, all traffic on the vif");

static bool selftest;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "run the loopback channel self-test at load; a failure fails the load");

static int on_table(struct notifier_block *nb, unsigned long action, void *data)
{
	const struct cokeeper_peer *peer = data;
	bool running;

	if (action == COKEEPER_EPOCH_CHANGE) {
		ckfp_epoch_changed();
		return NOTIFY_OK;
	}
	running = (action == COKEEPER_PEER_ADD || action == COKEEPER_PEER_CHANGE) &&
		  peer->state == COKEEPER_STATE_RUNNING;
	ckfp_peer_event(peer->domid, running, action == COKEEPER_PEER_CHANGE);
	return NOTIFY_OK;
}

static struct notifier_block table_nb = { .notifier_call = on_table };

/*
 * The guest's own save or migration: Xen's do_suspend() freezes devices before it suspends
 * xenstore and the domain, and PV save fails while a page table still maps a foreign page,
 * so every channel goes down here (the peer learns it in band) and comes back after.
 */
static int ckfp_freeze(struct device *dev)
{
	ckfp_set_active(false, CKFP_CLOSE_SUSPEND);
	return 0;
}

/* The suspend was cancelled: same domain, same host, same table. */
static int ckfp_thaw(struct device *dev)
{
	ckfp_resume(false);
	return 0;
}

/* Resumed, perhaps elsewhere: a new domid (read again), and a table to resync first. */
static int ckfp_restore(struct device *dev)
{
	ckfp_resume(true);
	return 0;
}

static const struct dev_pm_ops pm_ops = {
	.freeze = ckfp_freeze,
	.thaw = ckfp_thaw,
	.restore = ckfp_restore,
};

static struct platform_driver pm_driver = {
	.driver = { .name = "cokeeper-fp", .pm = &pm_ops },
};

static struct platform_device *pm_dev;

static int __init ckfp_init(void)
{
	int err;

	if (selftest) {
		err = ckfp_selftest_loopback();
		if (err)
			return err;
	}
	err = ckfp_chan_init(&ckfp_genl_tell);
	if (err)
		return err;
	err = ckfp_genl_init();
	if (err)
		goto chan;
	err = ckfp_xmit_init();
	if (err)
		goto genl;
	err = platform_driver_register(&pm_driver);
	if (err)
		goto xmit;
	pm_dev = platform_device_register_simple("cokeeper-fp", -1, NULL, 0);
	if (IS_ERR(pm_dev)) {
		err = PTR_ERR(pm_dev);
		goto pm;
	}
	/* Outside Xen (a test machine) the module loads but never makes a channel. */
	if (xen_domain())
		ckfp_set_active(true, CKFP_CLOSE_UNSPEC);
	/* Replays every member as an ADD: offers start from here. */
	err = cokeeper_register_notifier(&table_nb);
	if (err)
		goto dev;
	return 0;
dev:
	platform_device_unregister(pm_dev);
pm:
	platform_driver_unregister(&pm_driver);
xmit:
	ckfp_chan_stop();
	ckfp_xmit_exit();
genl:
	ckfp_genl_exit();
chan:
	ckfp_chan_exit();
	return err;
}

static void __exit ckfp_exit(void)
{
	cokeeper_unregister_notifier(&table_nb);
	platform_device_unregister(pm_dev);
	platform_driver_unregister(&pm_driver);
	ckfp_chan_stop();	/* every channel closed, the peers told */
	ckfp_xmit_exit();	/* no egress hook left to look a peer up */
	ckfp_genl_exit();
	ckfp_chan_exit();
}

module_init(ckfp_init);
module_exit(ckfp_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION(COKEEPER_VERSION);
MODULE_DESCRIPTION("CoKeeper fast path: IPv4 between co-resident Xen guests over shared memory");
MODULE_AUTHOR("The CoKeeper authors");
MODULE_ALIAS_GENL_FAMILY(CKFP_GENL_NAME);
