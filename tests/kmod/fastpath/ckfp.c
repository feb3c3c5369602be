// SPDX-License-Identifier: GPL-2.0-only
/*
 * ckfp: a stand-in for a fast path, to test cokeeper.ko's exported API from another module
 * (tests/kmod/run.sh).  It logs every notifier event with what a lookup of the peer says at
 * that moment (for domid 1, the source each kind of lookup reports), and looks 10.77.0.1 up
 * from a timer (softirq) every 50 ms, logging each change of the answer.  The harness checks
 * these lines in dmesg.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/inet.h>
#include <linux/module.h>
#include <linux/timer.h>

#include "cokeeper.h"

static const char *const names[] = {
	[COKEEPER_PEER_ADD] = "ADD",
	[COKEEPER_PEER_CHANGE] = "CHANGE",
	[COKEEPER_PEER_MIGRATING_OUT] = "MIGRATING_OUT",
	[COKEEPER_PEER_REMOVE] = "REMOVE",
};

static struct timer_list timer;
static int last_answer = -1;	/* the domid found, or -ENOENT */
static unsigned long softirq_lookups;

/* The source each lookup reports, or the error: "web" of genl-probe (domid 1) has all kinds. */
static int source_of(int err, const struct cokeeper_peer *p)
{
	return err ?: p->addr_source;
}

static void log_sources(const struct cokeeper_peer *event)
{
	static const u8 mac[ETH_ALEN] = { 0x00, 0x16, 0x3e, 0x01, 0x00, 0x01 };
	struct in6_addr v6 = { .s6_addr = { 0xfd, 0x00, 0x00, 0x77, [15] = 1 } };
	struct cokeeper_peer p;

	pr_info("sources of domid 1: 10.77.1.1 %d fd00:77::1 %d mac %d domid %d event %u\n",
		source_of(cokeeper_lookup_ipv4(in_aton("10.77.1.1"), &p), &p),
		source_of(cokeeper_lookup_ipv6(&v6, &p), &p),
		source_of(cokeeper_lookup_mac(mac, &p), &p),
		source_of(cokeeper_lookup_domid(1, &p), &p), event->addr_source);
}

static int on_event(struct notifier_block *nb, unsigned long action, void *data)
{
	const struct cokeeper_peer *peer = data;
	struct cokeeper_peer now;
	int err;

	if (action == COKEEPER_EPOCH_CHANGE) {
		pr_info("EPOCH_CHANGE (data %s)\n", data ? "set" : "NULL");
		return NOTIFY_OK;
	}
	err = cokeeper_lookup_domid(peer->domid, &now);
	pr_info("%s domid %u state %u (lookup now: %d)\n",
		action < ARRAY_SIZE(names) && names[action] ? names[action] : "?", peer->domid,
		peer->state, err);
	if (peer->domid == 1 && action != COKEEPER_PEER_REMOVE)
		log_sources(peer);
	return NOTIFY_OK;
}

static struct notifier_block nb = { .notifier_call = on_event };

static void tick(struct timer_list *t)
{
	struct cokeeper_peer peer;
	int answer;

	answer = cokeeper_lookup_ipv4(in_aton("10.77.0.1"), &peer) ?: (int)peer.domid;
	softirq_lookups++;
	if (answer != last_answer) {
		pr_info("softirq lookup of 10.77.0.1 (in_softirq %d): %d\n", !!in_softirq(),
			answer);
		last_answer = answer;
	}
	mod_timer(&timer, jiffies + msecs_to_jiffies(50));
}

static int __init ckfp_init(void)
{
	int err = cokeeper_register_notifier(&nb);

	if (err)
		return err;
	timer_setup(&timer, tick, 0);
	mod_timer(&timer, jiffies + 1);
	return 0;
}

static void __exit ckfp_exit(void)
{
	del_timer_sync(&timer);
	cokeeper_unregister_notifier(&nb);
	pr_info("done: %lu softirq lookups\n", softirq_lookups);
}

module_init(ckfp_init);
module_exit(ckfp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("test client of cokeeper.ko's fast-path API");
