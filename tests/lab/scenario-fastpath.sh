#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The fast path (cokeeper-fp.ko, docs/FASTPATH.md) on real Xen, with cokeeperd and the agents
# relaying the set-up:
#   SCENARIO=tests/lab/scenario-fastpath.sh tests/lab/run.sh
# Every guest here is created with no ip= on its vif and takes its address from dnsmasq in
# dom0 (udhcpc; pinned to 10.99.0.N by MAC): the toolstack never knows an address, and
# cokeeperd (--learn=dhcp,arp) learns each from the lease it sees on the guest's vif, so
# every step below runs on learned addresses (issue 22).
# addresses-learned  each guest's address is in dom0's view and every table as "learned",
#             and no vif backend has an ip key
# dhcp-renew  pv2 renews to another address (dnsmasq pinned anew): it moves in every table,
#             the old one is gone; then back
# arp-spoof   pvh3 takes pv2's address and answers ARP for it: cokeeperd counts it and gives
#             pvh3 nothing; every table still has the address as pv2's
# orchestrator-address  an address pv1 sets inside itself, unknown to dom0, set by the
#             orchestrator (cokeeperctl addresses add): in every table as "orchestrator"
# forged-attr pvh3 writes its own attr/vif/0/ipv4 (a new address and pv1's): shown by
#             cokeeperctl addresses as claimed and unused, in no table
# loopback    pv1's module runs both ends of a channel to itself at load (grants, maps, event
#             channels, records both ways across the ring's wrap); PVH skips it (a self-grant
#             moves the page there) and is covered by the channels below
# channel-up  pv1 (domid lower) offers to pv2, pv2 accepts: both say "up"
# netfilter   nft counting rules (established, so conntrack tracked it) on pv1's postrouting
#             out eth0 and pv2's prerouting in eth0 count a 16 MiB stream the ring carried
# fragments   200 UDP datagrams of 8 KiB (6 IPv4 fragments each) echoed through the ring
# switch-mid-stream  a 256 MiB stream survives enable=0/1 on pv1 and a module reload on pv2
# bench-on-off  ping, request/response and a 64 MiB stream, pv1 -> pv2, with enable=0 on
#             both (netfront) and on the channel, alternating three times in the same boot:
#             the medians go to the log (bench/RESULTS.md); the counters must move only when
#             the fast path is on, and every byte of each stream is checked
# unlisted-address  pings from an address of pv1 that dom0 does not list (pv1 answers ARP for
#             it, but ARP teaches a guest's first address only) reach pv2 with the fast path
#             on as off (20/20): they take the vif, pv2 drops nothing from the ring
# isolated    pvh3's vif moved to a bridge of its own: pv1 and pvh3 drop out of each other's
#             table, their channel goes down, and with static neighbours no ping crosses;
#             moved back, the channel returns
# policy-deny `cokeeperctl policy-set` denies pv2 mid-stream: the channel goes, neither sees
#             the other, the 128 MiB stream completes byte-exact over the vif; then allowed
# migrate     a 384 MiB stream pv1 -> pvh3 while pvh3 is live-migrated on localhost: it
#             completes byte-exact, and pv1's ring to pvh3 carried frames before (old domid)
#             and after (new domid)
# destroy     pv2 destroyed in the middle of a stream from pv1: pv1's channel goes down,
#             pv1 still reaches dom0 over its vif; no guest console shows an oops (run.sh)
# lru         pv1 with max_channels=1 pings pvh3 and pv2 in turn: every ping answered, the
#             idle channel evicted (counted) for the peer with traffic, and back
# evil-ring   pv1 turns hostile from userspace (ck-evil fastpath-garbage): pvh3 closes each
#             broken channel, counts it, and keeps working
# evil-stall  pv1 (ck-evil fastpath-stall) never reads its ring: pvh3 counts a stall, closes
#             the channel, logs it once, and its 16 MiB TCP stream to pv1 completes over
#             the vif, byte-exact
. /usr/lib/cokeeper-lab/scenario-lib.sh

GUESTS="pv1 pv2 pvh3"
. /usr/lib/cokeeper-lab/fastpath-lib.sh

step cokeeperd-start
dhcp_start || fatal "dnsmasq did not start"
for n in $GUESTS; do dhcp_pin "$(mac_of "$n")" "$(ip_of "$n")" || fatal "dhcp_pin $n"; done
ck_daemon_start --source xenstore --learn=dhcp,arp && pass

step loopback
for n in $GUESTS; do
	args=
	[ "$n" = pv1 ] && args=cokeeper.fp_args=selftest=1
	domu_boot "$n" dhcp "$(mac_of "$n")" "$(type_of "$n")" cokeeper.selftest=0 \
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
D3=$(domid_of pvh3)

# dom0_source NAME ADDR: the source cokeeperd uses NAME's ADDR from ("" when unused).
dom0_source() {
	ck_ctl addresses "$1" | jq -r --arg a "$2" '.addresses[] | select(.address == $a and .used) | .source'
}
# everywhere CHECK ARGS...: CHECK NAME ARGS... holds in every guest's table.
everywhere() {
	local _n _check="$1"
	shift
	for _n in $GUESTS; do "$_check" "$_n" "$@" || return 1; done
}

# The toolstack knows no address: each comes from the lease dom0 saw on the guest's vif.
step addresses-learned
for n in $GUESTS; do
	d=$(domid_of "$n")
	ip=$(xenstore-read "/local/domain/0/backend/vif/$d/0/ip" 2>/dev/null) &&
		fail "$n's vif has an ip key ($ip): this scenario is about guests without one"
	wait_until 60 guest_lease_is "$n" "$(ip_of "$n")" || fail "$n holds no lease of $(ip_of "$n")"
	wait_until 60 everywhere owner_is "$(ip_of "$n")" "$d" learned ||
		fail "not every table has $n's $(ip_of "$n") as learned: $(lookup pv1 "$(ip_of "$n")")"
	[ "$(dom0_source "$n" "$(ip_of "$n")")" = learned ] ||
		fail "cokeeperd does not use $n's $(ip_of "$n") as learned: $(ck_ctl addresses "$n")"
done
note "pv1: $(lookup pv1 "$(ip_of pv2)")"
note "cokeeperd: $(ck_ctl stats | jq -c '.counters | with_entries(select(.key | test("^(learn|addresses)_")))')"
pass

# A renewal to a new address (dnsmasq refuses the old one, pv2 asks again): the new one is
# pv2's in every table and the old one nobody's; then back.
step dhcp-renew
for ip in 10.99.0.72 "$(ip_of pv2)"; do
	old=$(guest_lease pv2)
	dhcp_pin "$(mac_of pv2)" "$ip" || fail "dhcp_pin pv2 $ip"
	dhcp_renew pv2
	wait_until 60 guest_lease_is pv2 "$ip" || fail "pv2 did not renew to $ip: $(guest_lease pv2)"
	wait_until 60 everywhere owner_is "$ip" "$D2" learned || fail "$ip is not pv2's in every table"
	wait_until 60 everywhere nobody_has "$old" || fail "pv2's old $old is still in a table"
	note "pv2 renewed from $old to $ip: in every table, $old in none"
done
pass

# pvh3 takes pv2's address and answers ARP for it (gratuitous ARP): a learned address is
# one MAC's, so pvh3 gets nothing and the address stays pv2's everywhere.  pv2 then says
# its own, so that the guests' neighbour caches point at it again.
step arp-spoof
t0=$(ck_ctl stats | jq .counters.addresses_arp_taken)
out=$(guest_run pvh3 "ip addr add $(ip_of pv2)/32 dev eth0 && arping -U -c 3 -I eth0 -s $(ip_of pv2) $(ip_of pv2)") ||
	fail "pvh3: arping: $out"
spoof_counted() { [ "$(ck_ctl stats | jq .counters.addresses_arp_taken)" -gt "$t0" ]; }
wait_until 30 spoof_counted || fail "cokeeperd counted no ARP for another guest's address"
guest_run pvh3 "ip addr del $(ip_of pv2)/32 dev eth0" >/dev/null
everywhere owner_is "$(ip_of pv2)" "$D2" learned || fail "pv2's address moved: $(lookup pv1 "$(ip_of pv2)")"
[ "$(dom0_source pvh3 "$(ip_of pv2)")" = "" ] || fail "cokeeperd gave pvh3 pv2's address"
guest_run pv2 "arping -U -c 2 -I eth0 -s $(ip_of pv2) $(ip_of pv2)" >/dev/null
note "pvh3's ARP for pv2's address: $(ck_ctl stats | jq .counters.addresses_arp_taken) counted, pv1 still: $(lookup pv1 "$(ip_of pv2)")"
pass

# An address pv1 set inside itself, which dom0 never saw (no lease, no ARP yet): the
# orchestrator's word puts it in every table, and it carries traffic.
step orchestrator-address
OIP=10.99.0.61
out=$(guest_run pv1 "ip addr add $OIP/24 dev eth0") || fail "pv1: ip addr add $OIP: $out"
out=$(ck_ctl addresses add pv1 "$OIP") || fail "cokeeperctl addresses add pv1 $OIP: $out"
wait_until 60 everywhere owner_is "$OIP" "$D1" orchestrator ||
	fail "$OIP is not pv1's orchestrator address in every table: $(lookup pv2 "$OIP")"
out=$(guest_run pv2 "ping -c 3 -W 2 $OIP | grep -o '[0-9]* packets received'")
[ "${out%% *}" = 3 ] || fail "pv2 -> $OIP: $out"
note "pv2: $(lookup pv2 "$OIP")"
pass

# pvh3 writes its own attr/vif (as xen-guest-agent does): a new address and pv1's.  dom0
# reads and shows both as claimed and unused; no table has either as pvh3's.
step forged-attr
out=$(guest_run pvh3 "xenstore-write attr/vif/0/ipv4/0 10.99.0.63 attr/vif/0/ipv4/1 $(ip_of pv1)") ||
	fail "pvh3 could not write its own attr/vif: $out"
claimed() {
	ck_ctl addresses pvh3 | jq -e '[.addresses[] | select(.source == "claimed" and (.used | not))
		| .address] | sort == ["10.99.0.1", "10.99.0.63"]' >/dev/null
}
wait_until 30 claimed || fail "cokeeperd does not show pvh3's claims: $(ck_ctl addresses pvh3)"
everywhere nobody_has 10.99.0.63 || fail "pvh3's claimed 10.99.0.63 is in a table"
everywhere owner_is "$(ip_of pv1)" "$D1" learned || fail "pvh3's claim moved pv1's address"
guest_run pvh3 "xenstore-rm attr/vif/0/ipv4" >/dev/null
pass

step channel-up
wait_until 120 fp_up_with_ping pv1 pv2 "$D2" || fail "pv1's channel to pv2 (domid $D2) is not up: $(guest_run pv1 'cokeeper-query fastpath')"
wait_until 30 fp_state_is pv2 "$D1" up || fail "pv2's channel to pv1 (domid $D1) is not up: $(guest_run pv2 'cokeeper-query fastpath')"
# The members table shows it too (its last column).
out=$(guest_run pv1 "cokeeper-query members | awk '\$1 == $D2 { print \$NF }'" | tr -d ' ')
[ "$out" = up ] || fail "cokeeper-query members in pv1 shows the fast path to pv2 as '$out'"
pass

guest_run pv2 "ck-stream serve 5001 >/tmp/ck-stream.log 2>&1 &" >/dev/null
# measure MODE: ping RTT, request/response and a byte-checked 64 MiB stream, pv1 -> pv2; the
# figures are appended to $LAB_DIR/bench-MODE (ping avg ms, ping median ms, rr per second,
# rr median us, stream MB/s), one line per round.
measure() {
	local out ping rr st
	# busybox ping prints min/avg/max; the median of the 40 replies is computed in the guest
	# (no backslash in the command: xenstore-read doubles it).
	ping=$(guest_run pv1 "ping -c 40 -i 0.05 $(ip_of pv2) >/tmp/ping.out; tail -n 1 /tmp/ping.out; awk -F 'time=' 'NF > 1 { split(\$2, t, \" \"); print t[1] }' /tmp/ping.out | sort -n | awk '{ v[NR] = \$1 } END { print \"median\", v[int((NR + 1) / 2)] }'") ||
		fail "$1: ping: $ping"
	rr=$(guest_run pv1 "ck-stream rr $(ip_of pv2) 5001 5") || fail "$1: rr: $rr"
	st=$(guest_run pv1 "ck-stream send $(ip_of pv2) 5001 67108864") || fail "$1: stream: $st"
	case $st in *" ok 67108864"*) ;; *) fail "$1: stream not byte-exact: $st" ;; esac
	note "$1: ping $ping; rr $rr; stream $st"
	out="$(echo "$ping" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.* median \([0-9.]*\).*|\1 \2|p') $(echo "$rr" |
		sed -n 's/.*per-second \([0-9.]*\) rtt-median-us \([0-9]*\).*/\1 \2/p') $(echo "$st" |
		sed -n 's|.*MB/s \([0-9.]*\) .*|\1|p')"
	echo "$out" >>"$LAB_DIR/bench-$1"
}

# Rules and conntrack on both guests see what the ring carries as they would see it on the
# vif: a counting rule on pv1's postrouting (out eth0) and on pv2's prerouting (in eth0),
# each matching only packets of an established connection (so conntrack tracked them).
step netfilter
if guest_run pv1 "command -v nft" >/dev/null; then
	for n in pv1 pv2; do
		case $n in
		pv1) rule="oifname eth0 ip daddr $(ip_of pv2) tcp dport 5001"; hook=postrouting ;;
		pv2) rule="iifname eth0 ip saddr $(ip_of pv1) tcp dport 5001"; hook=prerouting ;;
		esac
		# busybox's modprobe ignores softdeps: libcrc32c (under nf_conntrack) needs crc32c.
		# One line: guest_run's command travels as a xenstore value, and xenstore-read
		# prints a newline or a tab as an escape.
		out=$(guest_run "$n" "modprobe -a crc32c_generic nf_tables nft_ct; nft add table ip ck && nft add chain ip ck c '{ type filter hook $hook priority 0; }' && nft add rule ip ck c $rule ct state established counter") ||
			fail "$n: nft: $out"
	done
	t0=$(fp_field pv1 "$D2" 3)
	out=$(guest_run pv1 "ck-stream send $(ip_of pv2) 5001 16777216") || fail "stream: $out"
	t1=$(fp_field pv1 "$D2" 3)
	[ "${t1:-0}" -gt "$((${t0:-0} + 100))" ] || fail "the stream did not take the ring: $t0 -> $t1"
	for n in pv1 pv2; do
		c=$(guest_run "$n" "nft list chain ip ck c | grep -o 'packets [0-9]* bytes [0-9]*'")
		note "$n: nft counter: $c (the ring carried $((${t1:-0} - ${t0:-0})) frames)"
		bytes=$(echo "$c" | awk '{ print $4 }')
		[ "${bytes:-0}" -ge 16777216 ] || fail "$n's rule counted ${bytes:-nothing} bytes of a 16 MiB stream"
		guest_run "$n" "nft delete table ip ck" >/dev/null
	done
else
	skip "no nft in the guest image"
fi
pass

# IPv4 fragments: 8 KiB UDP datagrams leave as six fragments each, every one through the
# ring, and come back echoed and checked.
step fragments
guest_run pv2 "ck-stream udp-serve 5003 >/dev/null 2>&1 &" >/dev/null
t0=$(fp_field pv1 "$D2" 3)
out=$(guest_run pv1 "ck-stream udp $(ip_of pv2) 5003 200 8192") || fail "udp: $out"
t1=$(fp_field pv1 "$D2" 3)
note "udp: $out; the ring carried $((${t1:-0} - ${t0:-0})) frames"
[ "${t1:-0}" -ge "$((${t0:-0} + 1200))" ] || fail "200 datagrams of 8 KiB took ${t0:-?} -> ${t1:-?} frames"
pass

# Connections in flight survive the channel going away and coming back: a 256 MiB stream
# while pv1 turns the fast path off and on, and while pv2 unloads and reloads the module.
step switch-mid-stream
guest_run pv1 "ck-stream send $(ip_of pv2) 5001 268435456 >/tmp/switch.out 2>&1 &" >/dev/null
wait_until 60 fp_tx_above pv1 "$D2" "$(($(fp_field pv1 "$D2" 3) + 200))" ||
	note "the stream had not taken the ring yet"
fp_enable pv1 0 || fail "enable=0"
sleep 2
fp_enable pv1 1 || fail "enable=1"
wait_until 60 fp_up_with_ping pv1 pv2 "$D2" || fail "the channel did not come back after enable=1"
out=$(guest_run pv2 "rmmod cokeeper_fp && insmod /lib/modules/cokeeper-fp.ko") || fail "pv2 reload: $out"
wait_until 60 fp_up_with_ping pv1 pv2 "$D2" || fail "the channel did not come back after pv2's reload"
switch_done() { guest_run pv1 "cat /tmp/switch.out" | grep -q '^bytes'; }
wait_until 300 switch_done || fail "the stream did not finish"
out=$(guest_run pv1 "cat /tmp/switch.out")
note "stream across the switches: $out"
case $out in *" ok 268435456"*) ;; *) fail "stream across the switches: $out" ;; esac
pass

# Off and on alternate, three times each in this boot, so that a slow moment of the emulated
# host hits both; the medians are the result (bench/RESULTS.md).  The counters must move
# only while the fast path is on.
step bench-on-off
for round in 1 2 3; do
	fp_enable pv1 0 && fp_enable pv2 0 || fail "cannot set enable=0"
	wait_until 30 fp_state_is pv1 "$D2" idle || fail "pv1's channel did not go down with enable=0"
	t0=$(fp_field pv1 "$D2" 3)
	measure off
	t1=$(fp_field pv1 "$D2" 3)
	[ "${t1:-x}" = "${t0:-y}" ] || fail "round $round: the channel carried frames with enable=0: $t0 -> $t1"
	fp_enable pv1 1 && fp_enable pv2 1 || fail "cannot set enable=1"
	wait_until 120 fp_up_with_ping pv1 pv2 "$D2" || fail "round $round: the channel did not come back"
	wait_until 30 fp_state_is pv2 "$D1" up || fail "round $round: pv2's side did not come back"
	measure on
	t2=$(fp_field pv1 "$D2" 3)
	[ "${t2:-0}" -gt "$((${t1:-0} + 500))" ] ||
		fail "round $round: the channel carried ${t1:-?} -> ${t2:-?} frames with enable=1"
done
note "pv1: $(guest_run pv1 "cokeeper-query fastpath | awk '\$1 == $D2'")"
note "pv2: $(guest_run pv2 "cokeeper-query fastpath | awk '\$1 == $D1'")"
for m in off on; do
	note "bench $m (medians of 3): ping avg $(median "$LAB_DIR/bench-$m" 1) ms, ping median $(median "$LAB_DIR/bench-$m" 2) ms, rr $(median "$LAB_DIR/bench-$m" 3)/s, rr median $(median "$LAB_DIR/bench-$m" 4) us, stream $(median "$LAB_DIR/bench-$m" 5) MB/s"
done
note "bench ratio on/off: ping avg $(ratio "$(median "$LAB_DIR/bench-off" 1)" "$(median "$LAB_DIR/bench-on" 1)")x lower, ping median $(ratio "$(median "$LAB_DIR/bench-off" 2)" "$(median "$LAB_DIR/bench-on" 2)")x lower, rr $(ratio "$(median "$LAB_DIR/bench-on" 3)" "$(median "$LAB_DIR/bench-off" 3)")x, rr median RTT $(ratio "$(median "$LAB_DIR/bench-off" 4)" "$(median "$LAB_DIR/bench-on" 4)")x lower, stream $(ratio "$(median "$LAB_DIR/bench-on" 5)" "$(median "$LAB_DIR/bench-off" 5)")x"
pass

# An address on pv1 that the toolstack never listed (a second address, a VIP): the sender
# hands the ring only what the receiver's acceptance test takes (accept.c), so its traffic
# takes the vif both ways, and with the fast path on gets through exactly as with it off.
step unlisted-address
XIP=10.99.0.51
pings() { guest_run pv1 "ping -c 20 -i 0.2 -W 2 -I $XIP $(ip_of pv2) | grep -o '[0-9]* packets received'" | awk '{ print $1 }'; }
out=$(guest_run pv1 "ip addr add $XIP/24 dev eth0") || fail "pv1: ip addr add $XIP: $out"
wait_until 60 fp_up_with_ping pv1 pv2 "$D2" || fail "pv1's channel to pv2 is not up"
f0=$(fp_field pv1 "$D2" 7)
r0=$(fp_field pv2 "$D1" 9)
on=$(pings)
f1=$(fp_field pv1 "$D2" 7)
r1=$(fp_field pv2 "$D1" 9)
fp_enable pv1 0 || fail "enable=0"
off=$(pings)
fp_enable pv1 1 || fail "enable=1"
note "pings from $XIP to pv2: ${on:-?}/20 with the fast path on, ${off:-?}/20 off; pv1's fallbacks to pv2 ${f0:-?} -> ${f1:-?}, pv2's rx drops from pv1 ${r0:-?} -> ${r1:-?}"
[ "${on:-0}" = 20 ] && [ "${off:-0}" = 20 ] || fail "from an unlisted address: ${on:-?}/20 on, ${off:-?}/20 off"
[ "${f1:-0}" -ge "$((${f0:-0} + 20))" ] || fail "pv1 handed the ring frames from $XIP: fallbacks ${f0:-?} -> ${f1:-?}"
[ "${r1:-x}" = "${r0:-y}" ] || fail "pv2 dropped frames from pv1's ring: ${r0:-?} -> ${r1:-?}"
# pv1 answered ARP for it, but its first ARP address (orchestrator-address's) is taken.
nobody_has pv2 "$XIP" || fail "pv1's unlisted $XIP became a table address: $(lookup pv2 "$XIP")"
guest_run pv1 "ip addr del $XIP/24 dev eth0" >/dev/null
pass

# received NAME DEST: how many of 5 pings from NAME reach DEST.
received() { guest_run "$1" "ping -c 5 -i 0.2 -W 2 $2 | grep -o '[0-9]* packets received'" | awk '{ print $1 }'; }

# pvh3's vif moved to a bridge of its own, as an operator isolating a tenant would (the port
# moved, the backend's "bridge" rewritten): dom0 gives it no path to pv1, so cokeeperd shows
# neither to the other, their channel goes down within that change, and no packet crosses
# with the fast path on, whatever static neighbour entries they set.  Then back.
step isolated
D3=$(domid_of pvh3)
wait_until 120 fp_up_with_ping pv1 pvh3 "$D3" || fail "pv1's channel to pvh3 (domid $D3) is not up"
out=$( { ip link add xenbr1 type bridge && ip link set xenbr1 up &&
	ip link set "vif$D3.0" master xenbr1 &&
	xenstore-write "/local/domain/0/backend/vif/$D3/0/bridge" xenbr1; } 2>&1) ||
	fail "moving pvh3's vif to xenbr1: $out"
wait_until 60 sees_not pv1 "$D3" || fail "pv1 still sees pvh3: $(members pv1)"
wait_until 60 sees_not pvh3 "$D1" || fail "pvh3 still sees pv1: $(members pvh3)"
wait_until 60 fp_not_up pv1 "$D3" || fail "pv1's channel to the isolated pvh3 is still up"
note "isolated: pv1's table $(members pv1)| pvh3's table $(members pvh3)"
guest_run pv1 "arp -s $(ip_of pvh3) $(mac_of pvh3)" >/dev/null
guest_run pvh3 "arp -s $(ip_of pv1) $(mac_of pv1)" >/dev/null
a=$(received pv1 "$(ip_of pvh3)")
b=$(received pvh3 "$(ip_of pv1)")
note "with static neighbours: pv1 -> pvh3 ${a:-?}/5, pvh3 -> pv1 ${b:-?}/5; pv1's channel to pvh3: $(fp_field pv1 "$D3" 2)"
[ "${a:-x}" = 0 ] && [ "${b:-x}" = 0 ] || fail "isolated guests exchanged packets: ${a:-?}/5 and ${b:-?}/5"
fp_state_is pv1 "$D3" up && fail "pv1 and the isolated pvh3 have a channel"
guest_run pv1 "arp -d $(ip_of pvh3)" >/dev/null
guest_run pvh3 "arp -d $(ip_of pv1)" >/dev/null
out=$( { ip link set "vif$D3.0" master xenbr0 &&
	xenstore-write "/local/domain/0/backend/vif/$D3/0/bridge" xenbr0 && ip link del xenbr1; } 2>&1) ||
	fail "moving pvh3's vif back: $out"
wait_until 60 sees pv1 "$D3" || fail "pv1 does not see pvh3 back on xenbr0"
wait_until 120 fp_up_with_ping pv1 pvh3 "$D3" || fail "pv1's channel to pvh3 did not come back"
pass

# The operator denies pv2 by policy in the middle of a stream from pv1: within that change
# neither sees the other and their channel is down; the stream finishes over the vif, every
# byte checked.  Then the built-in policy again, and the channel is back.
step policy-deny
wait_until 60 fp_up_with_ping pv1 pv2 "$D2" || fail "pv1's channel to pv2 is not up"
guest_run pv1 "ck-stream send $(ip_of pv2) 5001 134217728 >/tmp/deny.out 2>&1 &" >/dev/null
wait_until 60 fp_tx_above pv1 "$D2" "$(($(fp_field pv1 "$D2" 3) + 200))" ||
	note "the stream had not taken the ring yet"
echo "deny name pv2" >"$LAB_DIR/deny.conf"
out=$(ck_ctl policy-set "$LAB_DIR/deny.conf") || fail "policy-set: $out"
wait_until 60 fp_not_up pv1 "$D2" || fail "pv1's channel to the denied pv2 is still up"
wait_until 60 sees_not pv1 "$D2" || fail "pv1 still sees the denied pv2"
deny_done() { guest_run pv1 "cat /tmp/deny.out" | grep -q '^bytes'; }
wait_until 300 deny_done || fail "the stream did not finish after the deny"
out=$(guest_run pv1 "cat /tmp/deny.out")
note "stream across the deny: $out; cokeeperd: $(ck_ctl stats | jq -c '.counters | {fastpath_revoked, fastpath_not_authorized, fastpath_channels}')"
case $out in *" ok 134217728"*) ;; *) fail "stream across the deny: $out" ;; esac
: >"$LAB_DIR/allow.conf"
out=$(ck_ctl policy-set "$LAB_DIR/allow.conf") || fail "policy-set (built-in): $out"
wait_until 60 sees pv1 "$D2" || fail "pv1 does not see pv2 again"
wait_until 120 fp_up_with_ping pv1 pv2 "$D2" || fail "pv1's channel to pv2 did not come back"
pass

step migrate
wait_until 120 fp_up_with_ping pv1 pvh3 "$D3" || fail "pv1's channel to pvh3 (domid $D3) is not up"
guest_run pvh3 "ck-stream serve 5002 >/tmp/ck-stream.log 2>&1 &" >/dev/null
guest_run pv1 "ck-stream send $(ip_of pvh3) 5002 402653184 >/tmp/migrate.out 2>&1 &" >/dev/null
before=0
wait_until 60 fp_tx_above pv1 "$D3" 100 ||
	fail "the stream to pvh3 did not take the ring before the migration"
before=$(fp_field pv1 "$D3" 3)
D3N=
stream_done() { guest_run pv1 "cat /tmp/migrate.out" | grep -q '^bytes'; }
if ! domu_migrate pvh3; then
	fail "xl migrate pvh3"
	guest_run pv1 "killall ck-stream" >/dev/null
else
	D3N=$(domid_of pvh3)
	wait_until 300 stream_done || fail "the stream across the migration did not finish"
	out=$(guest_run pv1 "cat /tmp/migrate.out")
	note "stream across the migration: $out"
	case $out in *" ok 402653184"*) ;; *) fail "stream across the migration: $out" ;; esac
	wait_until 120 fp_up_with_ping pv1 pvh3 "$D3N" || fail "pv1's channel to pvh3's new domid $D3N is not up"
	# If the stream ended before the new channel came up, a short one shows the ring in use.
	after=$(fp_field pv1 "$D3N" 3)
	if [ "${after:-0}" -lt 100 ]; then
		out=$(guest_run pv1 "ck-stream send $(ip_of pvh3) 5002 8388608") || fail "stream after: $out"
		after=$(fp_field pv1 "$D3N" 3)
	fi
	note "pv1's ring to pvh3: $before frames to domid $D3 before, ${after:-0} to domid $D3N after"
	[ "${after:-0}" -gt 0 ] || fail "no frame took the ring to pvh3's new domid"
fi
pass

# More co-resident peers than channels: pv1 with max_channels=1.  Its one channel goes to
# the peer it sends to; a second peer's traffic takes the vif until the first channel has
# been idle a second, then it gets the slot (the first is evicted, counted), and back.
# Nothing is lost either way: every ping is answered.
step lru
out=$(guest_run pv1 "rmmod cokeeper_fp && insmod /lib/modules/cokeeper-fp.ko max_channels=1") ||
	fail "pv1 reload with max_channels=1: $out"
wait_until 60 fp_up_with_ping pv1 pv2 "$D2" || fail "pv1's only channel did not go to pv2"
e0=$(fp_field pv1 "$D2" 18)
lost=
for peer in pvh3 pv2 pvh3; do
	out=$(guest_run pv1 "ping -c 10 -i 0.2 -W 2 $(ip_of $peer) | grep -o '[0-9]* packets received'")
	[ "${out%% *}" = 10 ] || lost="$lost $peer:${out%% *}/10"
done
[ -z "$lost" ] || fail "pings lost with more peers than channels:$lost"
wait_until 60 fp_up_with_ping pv1 pvh3 "$D3N" || fail "pvh3 did not get the slot once pv2's channel was idle"
fp_state_is pv1 "$D2" up && fail "two channels up with max_channels=1"
e1=$(fp_field pv1 "$D2" 18)
[ "${e1:-0}" -gt "${e0:-0}" ] || fail "no eviction counted for pv2: ${e0:-?} -> ${e1:-?}"
wait_until 60 fp_up_with_ping pv1 pv2 "$D2" || fail "pv2 did not get the slot back"
note "max_channels=1: pv1 -> pv2 evictions ${e0:-?} -> $(fp_field pv1 "$D2" 18), pv1 -> pvh3 $(fp_field pv1 "$D3N" 18)"
out=$(guest_run pv1 "rmmod cokeeper_fp && insmod /lib/modules/cokeeper-fp.ko") || fail "pv1 reload: $out"
pass

step destroy
guest_run pv1 "ck-stream send $(ip_of pv2) 5001 1073741824 >/tmp/destroy.out 2>&1 &" >/dev/null
wait_until 60 fp_tx_above pv1 "$D2" "$((${tx1:-0} + 100))" ||
	note "the stream to pv2 did not show on the ring before the destroy"
domu_destroy pv2 || fail "destroy pv2"
st_gone() { [ "$(fp_field pv1 "$D2" 2)" != up ]; }
wait_until 60 st_gone || fail "pv1's channel to the destroyed pv2 is still up"
out=$(guest_run pv1 "killall ck-stream; ping -c 3 -W 2 10.99.0.254 | tail -n 2") ||
	fail "pv1 cannot reach dom0 after pv2's destroy: $out"
note "pv1 after pv2's destroy: $(guest_run pv1 'cokeeper-query fastpath')"
pass

# pv1 turns hostile (its module unloaded, its agent stopped): ck-evil offers pvh3 a channel
# from userspace, then writes garbage into its own ring in three ways; pvh3 must close each
# as broken (reason 5) and count it, keep its vif, and no console may show an oops (run.sh).
step evil-ring
[ -n "$D3N" ] || fatal "pvh3 did not survive its migration: no victim for the hostile peer"
guest_run pv1 "rmmod cokeeper_fp; killall cokeeper-agent; sleep 1" >/dev/null
for kind in prod len flags; do
	b0=$(fp_field pvh3 "$D1" 10)
	out=$(guest_run pv1 "ck-evil fastpath-garbage $D3N $kind") || fail "pv1 $kind: $out"
	note "pv1 $kind: $out"
	b1=$(fp_field pvh3 "$D1" 10)
	[ "${b1:-0}" -eq "$((${b0:-0} + 1))" ] ||
		fail "pvh3 counted ${b0:-?} -> ${b1:-?} broken rings from pv1"
done
note "pvh3: $(guest_run pvh3 "cokeeper-query fastpath | awk '\$1 == $D1'")"
# One rate-limited line per broken channel in the kernel's log (warning: not on the console).
out=$(guest_run pvh3 "dmesg | grep -c 'domain $D1 broke the ring protocol'" | tr -d ' ')
[ "${out:-0}" -ge 1 ] || fail "pvh3 logged no 'broke the ring protocol' line"
note "pvh3 logged $out 'broke the ring protocol' lines"
out=$(guest_run pvh3 "ping -c 3 -W 2 10.99.0.254 | tail -n 2") ||
	fail "pvh3 lost its vif after the garbage: $out"
console_of pvh3 | tr -d '\r' | grep 'cokeeper_fp:' | tail -n 4 | sed 's/^/  | pvh3 /'
pass

# pv1, still hostile, sets up a channel to pvh3 from userspace and never reads it (ck-evil
# fastpath-stall): pvh3's TCP stream fills the ring, pvh3 counts a stall and closes the
# channel within stall_timeout_ms (after the acceptor's 10 s grace), logs it once, and the
# stream completes over the vif.
step evil-stall
s0=$(fp_field pvh3 "$D1" 17)
guest_run pv1 "ck-evil fastpath-stall $D3N 120 >/tmp/stall.out 2>&1 </dev/null &" >/dev/null ||
	fail "cannot start ck-evil fastpath-stall"
stall_up() { guest_run pv1 "grep -q 'accepted, not reading' /tmp/stall.out" >/dev/null; }
wait_until 60 stall_up || fail "no channel for the stall: $(guest_run pv1 'cat /tmp/stall.out')"
# A TCP stream from pvh3 to pv1 (whose kernel still takes it from its vif): its frames
# fill the ring pv1 never reads, then the channel goes and the stream ends over the vif.
guest_run pv1 "ck-stream serve 5004 >/tmp/ck-stream-stall.log 2>&1 &" >/dev/null
guest_run pvh3 "ck-stream send $(ip_of pv1) 5004 16777216 >/tmp/stall-stream.out 2>&1 &" >/dev/null
stalled() { [ "$(fp_field pvh3 "$D1" 17)" -gt "${s0:-0}" ] 2>/dev/null; }
wait_until 60 stalled || fail "pvh3 counted no stall: $(guest_run pvh3 "cokeeper-query fastpath | awk '\$1 == $D1'")"
fp_state_is pvh3 "$D1" up && fail "pvh3's channel to the stalled pv1 is still up"
stall_stream_done() { guest_run pvh3 "cat /tmp/stall-stream.out" | grep -q '^bytes'; }
wait_until 300 stall_stream_done || fail "pvh3's stream to the stalled pv1 did not finish"
out=$(guest_run pvh3 "cat /tmp/stall-stream.out")
note "pvh3's stream across the stall: $out"
case $out in *" ok 16777216"*) ;; *) fail "pvh3's stream across the stall: $out" ;; esac
stall_done() { guest_run pv1 "grep -q -e 'closed by the peer' -e 'still open' /tmp/stall.out" >/dev/null; }
wait_until 60 stall_done || fail "ck-evil gave no verdict"
out=$(guest_run pv1 "cat /tmp/stall.out")
note "pv1: $out"
case $out in *"closed by the peer after"*"reason 6 (timeout)"*) ;; *) fail "ck-evil fastpath-stall: $out" ;; esac
out=$(guest_run pvh3 "dmesg | grep -c 'domain $D1 left the ring unread'" | tr -d ' ')
[ "${out:-0}" -ge 1 ] || fail "pvh3 logged no stall line"
out=$(guest_run pvh3 "ping -c 3 -W 2 $(ip_of pv1) | tail -n 2") ||
	fail "pvh3 cannot reach pv1 over the vif after the stall: $out"
pass

step cleanup
for n in pv1 pvh3; do domu_destroy "$n" || fail "destroy $n"; done
note "cokeeperd: $(ck_ctl stats | jq -c '.counters | with_entries(select(.key | test("^(learn|addresses)_")))')"
ck_daemon_stop
dhcp_stop || fail "dnsmasq"
pass

scenario_end
