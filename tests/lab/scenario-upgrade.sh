#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The guest half of the smoke's upgrade test alone, on the booted Debian systems: one Debian
# PV guest, the agent's previous release installed over the running one, then this build's
# with dom0's cokeeperd stopped (ck_guest_install), membership checked after each.  For
# showing what the test finds in an older agent without the smoke's half hour:
#   LAB_DEBIAN=NEWDIR LAB_DEBIAN_GUEST_DEBS=OLDDIR LAB_DEBIAN_GUEST_PREVIOUS=NEWDIR \
#     SCENARIO=tests/lab/scenario-upgrade.sh tests/lab/run.sh
# (the guest boots OLDDIR's agent, takes NEWDIR's, then OLDDIR's again with cokeeperd stopped).
. /usr/lib/cokeeper-lab/scenario-lib.sh

[ "${LAB_SYSTEMD:-0}" = 1 ] || fatal "needs the booted Debian systems (run.sh LAB_DEBIAN=DEBDIR)"
LAB_DEBIAN_GUESTS=pv1

step cokeeperd-start
ck_daemon_start --source xenstore && pass || fatal "cokeeperd did not start"

step pv1-boot
domu_boot pv1 10.99.0.1 00:16:3e:00:00:01 pv cokeeper.selftest=0 || fatal "pv1 did not boot"
[ "$(guest_key pv1 lab-net)" = "up 10.99.0.1/24" ] ||
	fatal "pv1 reported its network as '$(guest_key pv1 lab-net)'"
check_membership pv1 && pass

step guest-upgrade
ck_guest_install pv1 previous
check_membership pv1 || fail "pv1's view with its previous agent"
ck_guest_install pv1 new stopped
check_membership pv1 || fail "pv1's view with its new agent"
pass

step cleanup
domu_destroy pv1 || fail "destroy pv1"
ck_daemon_stop
pass

scenario_end
