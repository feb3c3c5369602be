#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# lab: guest applications
# The fast path as applications see it, measured with tools nobody here wrote (Debian's
# iperf3, sockperf and redis; tests/lab/rootfs/ck-apps runs them in the guests):
#   SCENARIO=tests/lab/scenario-apps.sh tests/lab/run.sh
# Guests: pv1 and pv2 (PV, one vCPU each, cokeeper-fp.ko), pvh3 (PVH, the fast path too),
# lo5 (PV, two vCPUs, no fast path: its loopback with client and server on different vCPUs),
# addresses from dom0's dnsmasq, learned by cokeeperd (--learn=dhcp,arp).
# apps-rounds   LAB_APPS_ROUNDS (5) rounds in this boot (0: none, and no lo5: what CI runs
#               for the churn alone), each: pv1 -> pv2 with enable=0 on
#               both (netfront, through dom0), then with the fast path on; pv1's loopback
#               (one vCPU); lo5's loopback (client on vCPU 0, servers on vCPU 1).  Each:
#               iperf3 TCP 1 and 4 streams, UDP at 100 Mbit/s (loss), sockperf TCP
#               ping-pong 64 B and 16 KiB (p50, p99), the 64 B ping-pong beside an iperf3
#               stream, redis-benchmark GET and SET with pipelining 1 and 16.  The ring's
#               counters must move only when the fast path is on.  The table of medians and
#               spreads goes to the log (APPS lines; bench/RESULTS.md).
# profile       only in an image with perf (run.sh LAB_DOMU_PERF=1): an iperf3 TCP stream
#               pv1 -> pv2 over netfront, then over the fast path, each with perf sampling
#               both guests; the symbols with the most samples go to the log (PROFILE lines).
# churn         redis-benchmark pv1 -> pvh3 for the whole of a sequence of membership
#               changes (apps-lib.sh: apps_churn): no client error, no reconnection,
#               and the ring carrying the load again after every change.
LAB_DOMU_MEM=${LAB_DOMU_MEM:-256}	# the applications double the guests' image
# A hang guard: five rounds take about 2,200 s under TCG (1,600 without the WHERE
# snapshots), the churn 250 (run.sh gives QEMU 4,000 s, TIMEOUT, for a scenario with guest
# applications).
LAB_TIMEOUT=${LAB_TIMEOUT:-3600}
. /usr/lib/cokeeper-lab/scenario-lib.sh

GUESTS="pv1 pv2 pvh3"
. /usr/lib/cokeeper-lab/fastpath-lib.sh
. /usr/lib/cokeeper-lab/apps-lib.sh
ROUNDS=${LAB_APPS_ROUNDS:-5}

# boot_guest NAME: NAME created as this scenario wants it (also for apps_churn).
boot_guest() {
	case $1 in
	lo*) LAB_DOMU_VCPUS=2 domu_boot "$1" dhcp "$(mac_of "$1")" pv cokeeper.selftest=0 ;;
	pv4) domu_boot "$1" dhcp "$(mac_of "$1")" pv cokeeper.selftest=0 ;;
	*) domu_boot "$1" dhcp "$(mac_of "$1")" "$(type_of "$1")" cokeeper.selftest=0 cokeeper.fp=1 ;;
	esac
}

step cokeeperd-start
dhcp_start || fatal "dnsmasq did not start"
for n in $GUESTS lo5 pv4; do dhcp_pin "$(mac_of "$n")" "$(ip_of "$n")" || fatal "dhcp_pin $n"; done
ck_daemon_start --source xenstore --learn=dhcp,arp && pass

LOOPBACK_GUESTS=lo5
[ "$ROUNDS" -gt 0 ] || LOOPBACK_GUESTS=

step guests-up
for n in $GUESTS $LOOPBACK_GUESTS; do boot_guest "$n" || fatal "$n did not boot"; done
for n in $GUESTS; do
	wait_until 240 fp_loaded "$n" || fail "$n: cokeeper-fp.ko was not loaded"
	st=$(guest_key "$n" ck-fp)
	[ "$st" = ok ] || fail "$n: insmod cokeeper-fp.ko: $st"
done
for n in pv2 pvh3; do
	out=$(guest_run "$n" "ck-apps serve") || fatal "$n: ck-apps serve: $out"
done
out=$(guest_run pv1 "ck-apps serve") || fatal "pv1: ck-apps serve: $out"
if [ -n "$LOOPBACK_GUESTS" ]; then
	out=$(guest_run lo5 "ck-apps serve 0x2") || fatal "lo5: ck-apps serve 0x2: $out"
	note "lo5: $(guest_run lo5 "grep -c ^processor /proc/cpuinfo") vCPUs"
fi
pass
D1=$(domid_of pv1)
D2=$(domid_of pv2)

# path_off, path_on: pv1 <-> pv2 through netfront (enable=0 on both), then the fast path.
path_off() {
	fp_enable pv1 0 && fp_enable pv2 0 || { fail "cannot set enable=0"; return 1; }
	wait_until 30 fp_state_is pv1 "$D2" idle || fail "pv1's channel did not go down with enable=0"
}
path_on() {
	fp_enable pv1 1 && fp_enable pv2 1 || { fail "cannot set enable=1"; return 1; }
	wait_until 120 fp_up_with_ping pv1 pv2 "$D2" || fail "the channel did not come back"
	wait_until 30 fp_state_is pv2 "$D1" up || fail "pv2's side did not come back"
}

if [ "$ROUNDS" -gt 0 ]; then
	step apps-rounds
	for round in $(seq 1 "$ROUNDS"); do
		path_off
		t0=$(fp_field pv1 "$D2" 3)
		apps_round off pv1 pv2 "$(ip_of pv2)" || { fail "round $round: off"; break; }
		t1=$(fp_field pv1 "$D2" 3)
		[ "${t1:-x}" = "${t0:-y}" ] || fail "round $round: the channel carried frames with enable=0: $t0 -> $t1"
		path_on
		apps_round on pv1 pv2 "$(ip_of pv2)" || { fail "round $round: on"; break; }
		t2=$(fp_field pv1 "$D2" 3)
		[ "${t2:-0}" -gt "$((${t1:-0} + 10000))" ] ||
			fail "round $round: the channel carried ${t1:-?} -> ${t2:-?} frames with enable=1"
		apps_round lo1 pv1 pv1 127.0.0.1 || { fail "round $round: pv1's loopback"; break; }
		APPS_PIN="taskset 0x1"
		apps_round lo5 lo5 lo5 127.0.0.1 || { APPS_PIN=; fail "round $round: lo5's loopback"; break; }
		APPS_PIN=
	done
	note "pv1: $(guest_run pv1 "cokeeper-query fastpath | awk '\$1 == $D2'")"
	note "pv2: $(guest_run pv2 "cokeeper-query fastpath | awk '\$1 == $D1'")"
	apps_table off on lo1 lo5
	apps_where off on lo1 lo5
	pass
fi

if guest_run pv1 "command -v perf" >/dev/null; then
	step profile
	for mode in off on; do
		"path_$mode"
		for n in pv1 pv2; do
			out=$(guest_run "$n" "ck-apps prof-start $((LAB_APPS_SECONDS + 2))") ||
				fail "$n: ck-apps prof-start: $out"
		done
		out=$(apps_run pv1 tcp "$(ip_of pv2)" "$LAB_APPS_SECONDS" 1) || fail "$mode: iperf3: $out"
		note "PROFILE $mode tcp1: $out Mbit/s"
		for n in pv1 pv2; do
			lines=$(apps_run "$n" prof-report 30) || { fail "$n: ck-apps prof-report: $lines"; continue; }
			# guest_run's answer ends in a space, which seq refuses
			for first in $(seq 1 4 "${lines%% *}"); do
				note "PROFILE $mode $n $(guest_run "$n" "ck-apps prof-lines $first $((first + 3))")"
			done
		done
	done
	path_on
	pass
fi

step churn
# room for pv4 and the migration's second copy
[ -z "$LOOPBACK_GUESTS" ] || domu_destroy lo5 || fail "destroy lo5"
apps_churn pv1 pvh3 pv2 pv4
pass

step cleanup
for n in $GUESTS; do domu_destroy "$n" || fail "destroy $n"; done
ck_daemon_stop
dhcp_stop || fail "dnsmasq"
pass

scenario_end
