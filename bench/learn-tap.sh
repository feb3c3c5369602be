#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What cokeeperd --learn costs the traffic it does not learn from.  Its packet socket is an
# ETH_P_ALL tap: the kernel clones every frame a device transmits for it and runs its BPF
# filter on the clone (learn/learn.c).  Two network namespaces stand for guests, joined by
# a bridge in a third (dom0) through veths named as vifs; ck-stream measures request/response
# rate (small frames: the per-frame cost) and a 256 MiB stream between them, with no
# cokeeperd and with cokeeperd --learn=dhcp,arp in dom0's namespace, alternating (the order
# swapped each round), ROUNDS times (default 5).  Prints each round and the medians' ratios.  As root.
#
#   bench/learn-tap.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
rounds=${ROUNDS:-5}
stream=$build/tests/guest/ck-stream
daemon=$build/cokeeperd/cokeeperd
tag=$$
h=ckbh$tag g1=ckb1$tag g2=ckb2$tag
work=$(mktemp -d)
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	ip netns pids "$g2" 2>/dev/null | xargs -r kill 2>/dev/null
	for ns in "$h" "$g1" "$g2"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
for ns in "$h" "$g1" "$g2"; do ip netns add "$ns"; done
ip -n "$h" link add br0 type bridge
ip -n "$h" link set br0 up
for i in 1 2; do
	g=ckb$i$tag
	ip -n "$h" link add "vif$i.0" type veth peer name eth0 netns "$g"
	ip -n "$h" link set "vif$i.0" master br0 up
	ip -n "$g" addr add "10.88.0.$i/24" dev eth0
	ip -n "$g" link set eth0 up
	ip -n "$g" link set lo up
done
ip netns exec "$g2" "$stream" serve 5001 >/dev/null 2>&1 &
sleep 0.5
round() {	# round MODE
	local rr st
	rr=$(ip netns exec "$g1" "$stream" rr 10.88.0.2 5001 5 | sed -n 's/.*per-second \([0-9.]*\).*/\1/p')
	st=$(ip netns exec "$g1" "$stream" send 10.88.0.2 5001 268435456 | sed -n 's|.*MB/s \([0-9.]*\) .*|\1|p')
	echo "$1 $rr $st" | tee -a "$work/samples"
}
learn_round() {
	ip netns exec "$h" "$daemon" --source sim --control "$work/c.sock" \
		--agent-socket "$work/a.sock" --address-state none --learn=dhcp,arp 2>"$work/d.log" &
	dpid=$!
	for _ in $(seq 100); do [ -S "$work/c.sock" ] && break; sleep 0.05; done
	round learn
	kill "$dpid"; wait "$dpid" 2>/dev/null; dpid=
	rm -f "$work/c.sock"
}
# Off and on in turn, the order swapped every round: neither always runs first.
for r in $(seq "$rounds"); do
	if [ $((r % 2)) = 1 ]; then round off; learn_round; else learn_round; round off; fi
done
med() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$work/samples" | sort -n |
	awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "medians of $rounds: rr/s off $(med off 2) learn $(med learn 2), stream MB/s off $(med off 3) learn $(med learn 3)"
awk -v a="$(med learn 2)" -v b="$(med off 2)" -v c="$(med learn 3)" -v d="$(med off 3)" \
	'BEGIN { printf "ratios learn/off: rr %.3f, stream %.3f\n", a / b, c / d }'
