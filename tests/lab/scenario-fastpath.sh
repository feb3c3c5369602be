#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The fast path (cokeeper-fp.ko, docs/FASTPATH.md) on real Xen, with cokeeperd and the agents
# relaying the set-up:
#   SCENARIO=tests/lab/scenario-fastpath.sh tests/lab/run.sh
# loopback    pv1's module runs both ends of a channel to itself at load (grants, maps, event
#             channels, records both ways across the ring's wrap); PVH skips it (a self-grant
#             moves the page there) and is covered by the channels below
# channel-up  pv1 (domid lower) offers to pv2, pv2 accepts: both say "up"
# ping, rr, stream   on the channel, then with enable=0 on both (netfront), same boot:
#             the numbers go to the log and bench/RESULTS.md; the counters must move only
#             when the fast path is on, and every byte of each stream is checked
. /usr/lib/cokeeper-lab/scenario-lib.sh

GUESTS="pv1 pv2"
ip_of() { echo "10.99.0.${1##*[!0-9]}"; }
mac_of() { echo "00:16:3e:00:00:0${1##*[!0-9]}"; }
type_of() { case $1 in pvh*) echo pvh ;; *) echo pv ;; esac; }
fp_loaded() { [ -n "$(guest_key "$1" ck-fp)" ]; }
# fp_field NAME PEER_DOMID COLUMN: a column of NAME's `cokeeper-query fastpath` line for
# that peer: 2 state, 3 tx_packets, 5 rx_packets, 10 broken, 11 setups, 12 teardowns.
fp_field() {
	guest_run "$1" "cokeeper-query fastpath | awk '\$1 == $2 { print \$$3 }'"
}
fp_state_is() { [ "$(fp_field "$1" "$2" 2)" = "$3" ]; }
fp_enable() { guest_run "$1" "echo $2 >/sys/module/cokeeper_fp/parameters/enable"; }

step cokeeperd-start
ck_daemon_start --source xenstore && pass

step loopback
for n in $GUESTS; do
	args=
	[ "$n" = pv1 ] && args=cokeeper.fp_args=selftest=1
	domu_boot "$n" "$(ip_of "$n")" "$(mac_of "$n")" "$(type_of "$n")" cokeeper.selftest=0 \
		cokeeper.fp=1 $args || fatal "$n did not boot"
done
for n in $GUESTS; do
	wait_until 240 fp_loaded "$n" || fail "$n: cokeeper-fp.ko was not loaded"
	st=$(guest_key "$n" ck-fp)
	[ "$st" = ok ] || fail "$n: insmod cokeeper-fp.ko: $st"
done
line=$(console_of pv1 | tr -d '\r' | grep 'cokeeper_fp: selftest' | tail -n1)
note "pv1: ${line#*DOMU: kmsg }"
case $line in *"loopback PASS"*) ;; *) fail "pv1: no loopback PASS on its console" ;; esac
pass

D1=$(domid_of pv1)
D2=$(domid_of pv2)

step channel-up
wait_until 120 fp_state_is pv1 "$D2" up || fail "pv1's channel to pv2 (domid $D2) is not up: $(guest_run pv1 'cokeeper-query fastpath')"
wait_until 30 fp_state_is pv2 "$D1" up || fail "pv2's channel to pv1 (domid $D1) is not up: $(guest_run pv2 'cokeeper-query fastpath')"
pass

guest_run pv2 "ck-stream serve 5001 >/tmp/ck-stream.log 2>&1 &" >/dev/null
# measure LABEL: ping RTT, request/response and a byte-checked stream, pv1 -> pv2.
measure() {
	local out
	out=$(guest_run pv1 "ping -c 40 -i 0.05 -q $(ip_of pv2) | tail -n 1") || fail "$1: ping: $out"
	note "$1 ping: $out"
	out=$(guest_run pv1 "ck-stream rr $(ip_of pv2) 5001 5") || fail "$1: rr: $out"
	note "$1 rr: $out"
	out=$(guest_run pv1 "ck-stream send $(ip_of pv2) 5001 67108864") || fail "$1: stream: $out"
	note "$1 stream: $out"
}

step fastpath-on
tx0=$(fp_field pv1 "$D2" 3)
measure "fastpath on"
tx1=$(fp_field pv1 "$D2" 3)
rx1=$(fp_field pv2 "$D1" 5)
note "pv1 tx_packets to pv2 $tx0 -> $tx1; pv2 rx_packets from pv1 $rx1"
[ "${tx1:-0}" -gt "$((${tx0:-0} + 1000))" ] || fail "pv1's channel carried ${tx0:-?} -> ${tx1:-?} frames"
pass

step fastpath-off
fp_enable pv1 0 && fp_enable pv2 0 || fail "cannot set enable=0"
wait_until 30 fp_state_is pv1 "$D2" idle || fail "pv1's channel did not go down with enable=0"
measure "fastpath off"
tx2=$(fp_field pv1 "$D2" 3)
[ "${tx2:-x}" = "$tx1" ] || fail "pv1's channel carried frames with enable=0: $tx1 -> $tx2"
pass

step fastpath-again
fp_enable pv1 1 && fp_enable pv2 1 || fail "cannot set enable=1"
wait_until 120 fp_state_is pv1 "$D2" up || fail "pv1's channel did not come back with enable=1"
pass

step cleanup
for n in $GUESTS; do domu_destroy "$n" || fail "destroy $n"; done
ck_daemon_stop
pass

scenario_end
