# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# The membership latency benchmark, sourced by a scenario after scenario-lib.sh, in dom0.
#
#   bench_run N OBSERVER...
#
# For each mode — cokeeperd event-driven (--source xenstore), then polling every 1000 ms and
# every 100 ms (--source poll) — in this same boot: restart cokeeperd, wait until every
# observer guest agrees with it, then N times create and destroy a probe domain and time
# each change with ck-latency, from the change becoming visible in xenstore (the probe's vif
# ip key written; the address leaving it, or @releaseDomain) to
#   acked:    cokeeperd holding every observer's Ack of a generation with the change; an
#             agent acks once its kernel table holds it (cokeeperd's watch stream);
#   reported: the last observer's kernel table reflecting it as the guest itself publishes
#             it (tests/guest/ck-reporter, on the kernel's change notification): the
#             cross-check from inside the guests, slower by the reporter's own xenstore write.
# The probe is created paused (xl create -p): it is a member all the same, and its boot
# would only add noise to every mode.
# Output: "BENCH <mode> <create|destroy> <i> <acked µs> <reported µs> (details)" per sample,
# cokeeperd's own convergence (notice to ack) per mode, and a summary table with the
# poll/event ratios, also written to $LAB_DIR/bench.txt.
# In event mode, one more create and destroy are timed by the supported user-facing
# commands, `cokeeperctl latency` and `cokeeperctl wait --absent` (bench_ctl): "CKCTL" lines,
# to be compared with the event rows of the table.
# With BENCH_LEASE="NAME MAC ADDRESS" (set by the scenario: NAME an observer created with
# "dhcp", whose MAC dnsmasq pins), event mode then moves NAME's DHCP lease
# LAB_BENCH_LEASES (10) times between ADDRESS and the address it holds (bench_leases), each
# timed by `cokeeperctl latency` from cokeeperd's notice of the lease on NAME's vif to every
# observer's Ack: the table's "lease" row, "BENCH event lease <i> <µs> ..." per sample.  The
# poll modes time no lease: their rows show "-".

CK_LATENCY=${CK_LATENCY:-/usr/local/bin/ck-latency}
CK_CTL=${CK_CTL:-/usr/local/bin/cokeeperctl}
BENCH_IP=10.99.0.99
BENCH_MAC=00:16:3e:00:00:99

bench_probe_cfg() {
	cat >"$LAB_DIR/probe.cfg" <<-EOF
		name = "probe"
		type = "pv"
		kernel = "/boot/vmlinux"
		ramdisk = "/boot/domU.cpio.gz"
		memory = $LAB_DOMU_MEM
		vcpus = 1
		on_poweroff = "destroy"
		vif = [ 'mac=$BENCH_MAC,ip=$BENCH_IP,bridge=$LAB_BRIDGE' ]
	EOF
}

# A random pause of up to a second before each change: changes come at any phase of a
# poller's period, and the loop's own rhythm must not line them up with its ticks.
bench_pause() {
	local seed
	read -r seed _ </proc/uptime
	sleep "$(awk -v s="${seed%.*}${seed#*.}" 'BEGIN { srand(s); printf "%.3f", rand() }')"
}

# bench_sample MODE KIND I ARGS...: one timed change; appends its line to bench.samples.
bench_sample() {
	local mode=$1 kind=$2 i=$3 out us ack notice
	shift 3
	out=$(timeout -k 10 150 "$CK_LATENCY" --timeout 120000 --control "$CK_SOCK" "$@" 2>&1)
	us=$(echo "$out" | sed -n 's/^latency_us=\([0-9]*\) .*/\1/p')
	ack=$(echo "$out" | sed -n 's/.* ack_latency_us=\([0-9]*\) .*/\1/p')
	notice=$(echo "$out" | sed -n 's/.* notice_latency_us=\([0-9]*\) .*/\1/p')
	if [ -z "$us" ] || [ -z "$ack" ]; then
		fail "$mode $kind $i: $(echo "$out" | tr '\n' ' ')"
		return 1
	fi
	echo "BENCH $mode $kind $i $ack $us (${out#* ack_latency_us=$ack })"
	echo "$mode $kind $ack $us ${notice:--}" >>"$LAB_DIR/bench.samples"
}

# bench_mode MODE N OBSERVERS DAEMON-ARGS...
bench_mode() {
	local mode=$1 n=$2 observers=$3 obs_domids="" name i scans0 scans1 t0 t1
	shift 3
	step "bench-$mode"
	ck_daemon_stop
	# LAB_BENCH_VERBOSE=1 (on the dom0 command line: DOM0_EXTRA): in event mode, cokeeperd's
	# debug log times each stage (noticed, committed, sent, acked) on ck-latency's clock.
	# Not in the polling modes: their logs would take minutes through the 115200-baud
	# console at the end, and dom0 powers off before they drain.
	[ "${LAB_BENCH_VERBOSE:-0}" = 1 ] && [ "$mode" = event ] && set -- "$@" -v
	# As the scenarios start it: learning DHCP leases (in every mode, so that it costs each
	# the same), and keeping them in a file, so that a guest without an ip key on its vif
	# keeps its address across these restarts.
	ck_daemon_start "$@" --learn=dhcp $CK_STATE_ARG || return 1
	# shellcheck disable=SC2086 # a list of names on purpose
	check_membership $observers || return 1
	for name in $observers; do
		obs_domids="$obs_domids${obs_domids:+,}$(domid_of "$name")"
	done
	scans0=$(ck_ctl stats | jq -r .counters.scans) t0=$(now_ms)
	for i in $(seq "$n"); do
		bench_pause
		bench_sample "$mode" create "$i" --observers "$obs_domids" --present "$BENCH_IP" \
			-- xl create -q -p "$LAB_DIR/probe.cfg" || break
		bench_pause
		bench_sample "$mode" destroy "$i" --observers "$obs_domids" --absent "$BENCH_IP" \
			-- xl destroy probe || break
	done
	[ "$mode" = event ] && bench_ctl "$obs_domids"
	# shellcheck disable=SC2086 # NAME MAC ADDRESS
	[ "$mode" = event ] && [ -n "${BENCH_LEASE:-}" ] && bench_leases "$obs_domids" $BENCH_LEASE
	# The poller's real period (scans per elapsed time), to show the baseline is the one
	# named: with sd-event's default timer accuracy a 100 ms poller ticked every 250 ms.
	scans1=$(ck_ctl stats | jq -r .counters.scans) t1=$(now_ms)
	if [ "${mode#poll}" != "$mode" ]; then
		echo "BENCH $mode scans $((scans1 - scans0)) in $(fmt_ms $((t1 - t0)))s:" \
			"one per $(awk -v n=$((scans1 - scans0)) -v t=$((t1 - t0)) \
				'BEGIN { if (n > 0) printf "%.1f", t / n; else printf "-" }') ms"
	fi
	echo "BENCH $mode cokeeperd-convergence $(ck_ctl stats | jq -c .convergence)"
	pass
}

# bench_ctl_acked KIND DOMIDS JSON: cokeeperctl's report lists every observer, each having
# acked (fail otherwise).
bench_ctl_acked() {
	local want got
	want=$(echo "$2" | tr ',' '\n' | sort -n | tr '\n' ' ')
	got=$(echo "$3" | jq -r '.guests[].domid' 2>/dev/null | sort -n | tr '\n' ' ')
	if [ "$got" != "$want" ]; then
		fail "cokeeperctl $1: guests '$got', not the observers' agents '$want': $3"
		return 1
	fi
	if ! echo "$3" | jq -e '.converged and all(.guests[]; .acked_us != null)' >/dev/null; then
		fail "cokeeperctl $1: not every guest acked: $3"
		return 1
	fi
}

# bench_ctl_check KIND DOMIDS JSON: bench_ctl_acked; prints the report's numbers as one CKCTL
# line (also in $LAB_DIR/ckctl.txt).
bench_ctl_check() {
	local kind=$1 line
	bench_ctl_acked "$@" || return 1
	# From cokeeperd's notice to the last ack: what ck-latency's notice_latency_us measures
	# for each BENCH row (bench_ctl_compare sets the two side by side).
	line=$(echo "$3" | jq -r --arg k "$kind" '"CKCTL event \($k) guests=\(.guests | length)" +
		" notice_to_last_ack_us=\([.guests[].latency_us] | if any(. == null) then "-" else max end)" +
		(if .latency_us then " command_start_to_last_ack_us=\(.latency_us)" else "" end) +
		" gen=\(.gen) " + ([.guests[] | "dom\(.domid)=\(.latency_us // "-")"] | join(" "))')
	echo "$line"
	echo "$line" >>"$LAB_DIR/ckctl.txt"
	if echo "$3" | jq -e 'any(.guests[]; .latency_us == null)' >/dev/null; then
		note "cokeeperctl $kind: an ack came before cokeeperctl was following; no notice time"
	fi
}

# bench_ctl OBSERVER-DOMIDS: one create timed by `cokeeperctl latency -- xl create`, and one
# `xl destroy` whose convergence `cokeeperctl wait --absent` reports, as a CI job would use
# them (issue 10).  The wait starts before the destroy, so that it reads every guest's ack
# as it comes (with cokeeperd's latency_us) rather than finding it done.  Both must report
# every observer's agent and exit 0.
bench_ctl() {
	local out rc wpid
	if [ ! -x "$CK_CTL" ]; then
		skip "no cokeeperctl in the image"
		return 0
	fi
	bench_pause
	out=$(timeout -k 10 150 "$CK_CTL" --json latency --present "$BENCH_IP" --timeout 120 \
		-- xl create -q -p "$LAB_DIR/probe.cfg" 2>"$LAB_DIR/ckctl.err")
	rc=$?
	if [ $rc != 0 ]; then
		fail "cokeeperctl latency -- xl create: exit $rc: $out $(tail -c 300 "$LAB_DIR/ckctl.err")"
		xl destroy probe >/dev/null 2>&1
		return 1
	fi
	bench_ctl_check create "$1" "$out"
	bench_pause
	timeout -k 10 150 "$CK_CTL" --json wait --absent "$BENCH_IP" --timeout 120 \
		>"$LAB_DIR/ckctl-wait.json" 2>>"$LAB_DIR/ckctl.err" &
	wpid=$!
	# Time for it to connect and read cokeeperd's state, in which the probe is present.
	sleep 1
	xl destroy probe || fail "xl destroy probe"
	wait "$wpid"
	rc=$?
	if [ $rc != 0 ]; then
		fail "cokeeperctl wait --absent $BENCH_IP: exit $rc: $(cat "$LAB_DIR/ckctl-wait.json") $(tail -c 300 "$LAB_DIR/ckctl.err")"
		return 1
	fi
	bench_ctl_check destroy "$1" "$(cat "$LAB_DIR/ckctl-wait.json")"
}

# bench_lease_held NAME IP: NAME's udhcpc holds a lease of IP, and cokeeperd's entry for NAME
# has that address and no other.
bench_lease_held() {
	guest_lease_is "$1" "$2" &&
		ck_ctl members | jq -e --arg n "$1" --arg ip "$2" \
			'any(.[]; .name == $n and any(.nics[]; .ipv4 == [$ip]))' >/dev/null
}

# bench_lease_sample I OBSERVER-DOMIDS NAME MAC IP: NAME's lease moves to IP, timed by
# `cokeeperctl latency --present IP`; appends "event lease <notice to last ack µs> -
# <the same> <renewal asked to last ack µs>" to bench.samples (the columns of
# bench_sample's lines: no reported time).
# The command latency runs is the renewal itself (as dhcp_renew: SIGUSR1 to NAME's udhcpc,
# through domU-init's data/ck-cmd), so that cokeeperctl follows cokeeperd before the lease
# can change.  dnsmasq, pinned to IP, refuses the old address: cokeeperd sees that DHCPNAK
# first and drops the old lease, a generation of its own (NAME with no address); udhcpc
# waits 3 s, then DISCOVER, OFFER, REQUEST, and the DHCPACK of IP is the change timed: the
# generation in which IP is present (--present).  Its guests[].latency_us is cokeeperd's
# notice of that ACK on NAME's vif to each observer's Ack; their maximum is the sample.
# The top-level latency_us runs from the renewal asked, so it holds the DHCP exchange and
# udhcpc's pause: shown apart, not in the table.
# Each sample leaves NAME with a lease less than a minute old, so udhcpc's own renewal (at
# half the 2-minute lease) cannot come between the next pin and its timed renewal.
bench_lease_sample() {
	local i=$1 name=$3 mac=$4 ip=$5 d id out rc ack
	d=$(domid_of "$name") || { fail "lease $i: no domain $name"; return 1; }
	bench_pause
	dhcp_pin "$mac" "$ip" || { fail "lease $i: dhcp_pin $mac $ip"; return 1; }
	id=$(guest_cmd_id)
	out=$(timeout -k 10 150 "$CK_CTL" --json latency --present "$ip" --timeout 120 \
		-- xenstore-write "/local/domain/$d/data/ck-cmd" "$id $LAB_DHCP_RENEW" \
		2>"$LAB_DIR/ckctl.err")
	rc=$?
	guest_cmd_wait "$name" "$id" >/dev/null ||
		note "lease $i: $name's answer to the renewal: $(guest_key "$name" ck-cmd-result)"
	if [ $rc != 0 ]; then
		fail "lease $i: cokeeperctl latency --present $ip: exit $rc: $out $(tail -c 300 "$LAB_DIR/ckctl.err")" \
			"($name's lease: $(guest_key "$name" lab-dhcp))"
		return 1
	fi
	bench_ctl_acked "lease $i" "$2" "$out" || return 1
	if ! echo "$out" | jq -e 'all(.guests[]; .latency_us != null)' >/dev/null; then
		fail "cokeeperctl lease $i: an observer's ack without cokeeperd's notice time: $out"
		return 1
	fi
	ack=$(echo "$out" | jq '[.guests[].latency_us] | max')
	echo "BENCH event lease $i $ack - ($(echo "$out" | jq -r '"renewal asked to last ack " +
		"\(.latency_us) us, gen \(.base_gen) -> \(.gen), " +
		([.guests[] | "dom\(.domid)=\(.latency_us)"] | join(" "))') $name $ip)"
	echo "event lease $ack - $ack $(echo "$out" | jq .latency_us)" >>"$LAB_DIR/bench.samples"
	# The next sample's key must be absent when it starts: the guest and cokeeperd have
	# moved on from the old address.
	wait_until 60 bench_lease_held "$name" "$ip" ||
		{ fail "lease $i: $name's lease '$(guest_lease "$name")', cokeeperd's entry $(ck_ctl members |
			jq -c --arg n "$name" '.[] | select(.name == $n) | .nics')"; return 1; }
}

# bench_leases OBSERVER-DOMIDS NAME MAC ADDRESS: LAB_BENCH_LEASES lease changes of NAME
# (bench_lease_sample), its address alternating between ADDRESS and the one it holds now;
# it ends on the latter (later steps look for it there), after one more, untimed, change
# when the count is odd or a sample failed.
bench_leases() {
	local domids=$1 name=$2 mac=$3 alt=$4 home i ip
	home=$(guest_lease "$name") || { fail "lease: $name holds no lease"; return 1; }
	wait_until 60 bench_lease_held "$name" "$home" ||
		{ fail "lease: cokeeperd's entry for $name does not hold just its lease $home"; return 1; }
	for i in $(seq "${LAB_BENCH_LEASES:-10}"); do
		ip=$alt
		[ $((i % 2)) = 0 ] && ip=$home
		bench_lease_sample "$i" "$domids" "$name" "$mac" "$ip" || break
	done
	bench_lease_held "$name" "$home" && return 0
	if ! dhcp_pin "$mac" "$home" || ! dhcp_renew "$name" ||
		! wait_until 60 bench_lease_held "$name" "$home"; then
		fail "lease: $name did not get $home back: its lease '$(guest_lease "$name")'"
		return 1
	fi
}

# bench_ctl_compare: each cokeeperctl measurement (ckctl.txt) beside the event mode's samples
# of the same kind measured the same way: cokeeperd's notice to the last observer's Ack
# (ck-latency's notice_latency_us, column 5): its value, their range and median, and where it
# ranks among them.  One more sample of the same spread falls outside the range of n with
# probability 2/(n+1), so the rank says more than inside/outside.
bench_ctl_compare() {
	local kind us
	[ -s "$LAB_DIR/ckctl.txt" ] || return 0
	while read -r _ _ kind _ us _; do
		us=${us#notice_to_last_ack_us=}
		awk -v m=event -v k="$kind" '$1 == m && $2 == k && $5 != "-" { print $5 }' \
			"$LAB_DIR/bench.samples" |
			sort -n | awk -v k="$kind" -v us="$us" '
			{ v[NR] = $1; if ($1 < us) below++ }
			END {
				if (NR == 0 || us == "-") { printf "cokeeperctl %s: nothing to compare\n", k; exit }
				printf "cokeeperctl %s: %.1f ms notice to last ack; event %ss %.1f-%.1f ms, median %.1f; %d of %d faster, %s\n",
					k, us / 1000, k, v[1] / 1000, v[NR] / 1000, v[int((NR - 1) / 2) + 1] / 1000,
					below, NR, (us >= v[1] && us <= v[NR]) ? "within their range" :
					"outside their range, where one more of their samples falls 2 times in " NR + 1
			}'
	done <"$LAB_DIR/ckctl.txt"
}

# bench_stats COLUMN MODE [KIND]: median, p90, max (ms) and the count of one mode's samples,
# of one kind (create, destroy, lease) or of both create and destroy; COLUMN 3 is acked, 4
# reported, 6 a lease's renewal asked to last ack.  A "-" is no sample.
bench_stats() {
	awk -v c="$1" -v m="$2" -v k="${3:-}" '$1 == m && $c != "" && $c != "-" &&
		(k == "" ? ($2 == "create" || $2 == "destroy") : $2 == k) { print $c }' \
		"$LAB_DIR/bench.samples" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "- - - 0"; exit }
			p50 = v[int((NR - 1) * 0.5) + 1]; p90 = v[int((NR - 1) * 0.9) + 1]
			printf "%.1f %.1f %.1f %d\n", p50 / 1000, p90 / 1000, v[NR] / 1000, NR
		}'
}

bench_run() {
	local n=$1 mode kind ev po col what leases
	shift
	: >"$LAB_DIR/bench.samples"
	bench_probe_cfg
	# Xen's default weight for dom0 while the benchmark runs, as on a host nobody tuned:
	# dom0-init raises it to 1024 so that the scenario's steps are not starved by booting
	# guests, which would also let the toolstack's hotplug scripts starve the observers.
	xl sched-credit2 -d 0 -w 256 >/dev/null 2>&1 || note "could not set dom0's weight to 256"
	bench_mode event "$n" "$*" --source xenstore
	bench_mode poll-1000ms "$n" "$*" --source poll --poll-interval 1000
	bench_mode poll-100ms "$n" "$*" --source poll --poll-interval 100
	xl sched-credit2 -d 0 -w 1024 >/dev/null 2>&1
	step bench-summary
	{
		echo "membership latency: toolstack change visible in xenstore -> every observer's kernel"
		echo "table holds it: acked (cokeeperd has each agent's Ack) and reported (each guest"
		echo "published it; the cross-check) -- $n creates + $n destroys per mode, $# observers"
		if [ -n "${BENCH_LEASE:-}" ]; then
			echo "lease: a DHCP lease seen in dom0 (cokeeperd's notice of the DHCPACK on" \
				"${BENCH_LEASE%% *}'s vif) -> every"
			echo "observer's Ack, as \`cokeeperctl latency\` reports it -- event mode only," \
				"${LAB_BENCH_LEASES:-10} changes"
		fi
		printf '%-12s %-8s %9s %9s %9s %12s %9s %8s\n' mode change acked_p50 acked_p90 \
			acked_max reported_p50 rep_max samples
		for mode in event poll-1000ms poll-100ms; do
			for kind in create destroy "" lease; do
				[ "$kind" = lease ] && [ -z "${BENCH_LEASE:-}" ] && continue
				# shellcheck disable=SC2046 # numbers
				set -- $(bench_stats 3 "$mode" "$kind") $(bench_stats 4 "$mode" "$kind")
				printf '%-12s %-8s %9s %9s %9s %12s %9s %8s\n' "$mode" "${kind:-both}" \
					"$1" "$2" "$3" "$5" "$7" "$4"
			done
		done
		if [ -n "${BENCH_LEASE:-}" ]; then
			# shellcheck disable=SC2046 # numbers
			set -- $(bench_stats 6 event lease)
			echo "lease, from the renewal asked in dom0 (the guest's DHCPNAK, udhcpc's 3 s" \
				"pause, DISCOVER to ACK) to every observer's Ack: p50 $1 p90 $2 max $3 ms ($4)"
		fi
		for col in 3 4; do
			what=acked
			[ $col = 4 ] && what=reported
			for kind in create destroy ""; do
				ev=$(bench_stats $col event "$kind" | cut -d' ' -f1)
				for mode in poll-1000ms poll-100ms; do
					po=$(bench_stats $col "$mode" "$kind" | cut -d' ' -f1)
					awk -v p="$po" -v e="$ev" -v m="$mode" -v k="${kind:-both}" -v w="$what" 'BEGIN {
						if (e == "-" || p == "-") printf "ratio %s/event, %s, %s: no samples\n", m, k, w
						else if (e > 0) printf "ratio %s/event, %s, %s median: %.1fx\n", m, k, w, p / e
						else printf "ratio %s/event, %s, %s: event median below 0.1 ms\n", m, k, w }'
				done
			done
		done
		bench_ctl_compare
	} | tee "$LAB_DIR/bench.txt" | sed 's/^/BENCH /'
	# A table is only as good as its samples: every change of every mode must be in it.
	for mode in event poll-1000ms poll-100ms; do
		got=$(bench_stats 3 "$mode" | cut -d' ' -f4)
		[ "$got" = $((2 * n)) ] || fail "$mode: $got of $((2 * n)) changes measured"
	done
	if [ -n "${BENCH_LEASE:-}" ]; then
		leases=$(bench_stats 3 event lease | cut -d' ' -f4)
		[ "$leases" = "${LAB_BENCH_LEASES:-10}" ] ||
			fail "event: $leases of ${LAB_BENCH_LEASES:-10} lease changes measured"
	fi
	pass
}
