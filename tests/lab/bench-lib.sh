# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# The membership latency benchmark, sourced by a scenario after scenario-lib.sh, in dom0.
#
#   bench_run N OBSERVER...
#
# For each mode — cokeeperd event-driven (--source xenstore), then polling every 1000 ms and
# every 100 ms (--source poll) — in this same boot: restart cokeeperd, wait until every
# observer guest agrees with it, then N times create and destroy a probe domain and time
# each change with ck-latency: from the change becoming visible in xenstore (the probe's vif
# ip key written; @releaseDomain) to the last observer's kernel table reflecting it, as the
# guests themselves publish it.  The probe is created paused (xl create -p): it is a member
# all the same, and its boot would only add noise to every mode.
# Output: "BENCH <mode> <create|destroy> <i> <microseconds>" per sample, cokeeperd's own
# ack-based convergence per mode, and a summary table with the poll/event ratios, also
# written to $LAB_DIR/bench.txt.

CK_LATENCY=${CK_LATENCY:-/usr/local/bin/ck-latency}
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

# bench_sample MODE KIND I ARGS...: one timed change; appends its line to bench.samples.
bench_sample() {
	local mode=$1 kind=$2 i=$3 out us
	shift 3
	out=$(timeout -k 10 150 "$CK_LATENCY" --timeout 120000 "$@" 2>&1)
	us=$(echo "$out" | sed -n 's/.*latency_us=\([0-9]*\).*/\1/p')
	if [ -z "$us" ]; then
		fail "$mode $kind $i: $(echo "$out" | tr '\n' ' ')"
		return 1
	fi
	echo "BENCH $mode $kind $i $us"
	echo "$mode $kind $us" >>"$LAB_DIR/bench.samples"
}

# bench_mode MODE N OBSERVERS DAEMON-ARGS...
bench_mode() {
	local mode=$1 n=$2 observers=$3 obs_domids="" name i
	shift 3
	step "bench-$mode"
	ck_daemon_stop
	ck_daemon_start "$@" || return 1
	# shellcheck disable=SC2086 # a list of names on purpose
	check_membership $observers || return 1
	for name in $observers; do
		obs_domids="$obs_domids${obs_domids:+,}$(domid_of "$name")"
	done
	for i in $(seq "$n"); do
		bench_sample "$mode" create "$i" --observers "$obs_domids" --present "$BENCH_IP" \
			-- xl create -q -p "$LAB_DIR/probe.cfg" || break
		bench_sample "$mode" destroy "$i" --observers "$obs_domids" --absent "$BENCH_IP" \
			-- xl destroy probe || break
	done
	echo "BENCH $mode cokeeperd-convergence $(ck_ctl stats | jq -c .convergence)"
	pass
}

# bench_stats MODE [KIND]: median, p90, max (ms) and the count of one mode's samples, of one
# kind (create, destroy) or of both.
bench_stats() {
	awk -v m="$1" -v k="${2:-}" '$1 == m && (k == "" || $2 == k) { print $3 }' \
		"$LAB_DIR/bench.samples" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "- - - 0"; exit }
			p50 = v[int((NR - 1) * 0.5) + 1]; p90 = v[int((NR - 1) * 0.9) + 1]
			printf "%.1f %.1f %.1f %d\n", p50 / 1000, p90 / 1000, v[NR] / 1000, NR
		}'
}

bench_run() {
	local n=$1 mode kind ev po
	shift
	: >"$LAB_DIR/bench.samples"
	bench_probe_cfg
	bench_mode event "$n" "$*" --source xenstore
	bench_mode poll-1000ms "$n" "$*" --source poll --poll-interval 1000
	bench_mode poll-100ms "$n" "$*" --source poll --poll-interval 100
	step bench-summary
	{
		echo "membership latency: toolstack change visible in xenstore -> every observer's kernel"
		echo "table, as the guests publish it ($n creates + $n destroys per mode, $# observers)"
		printf '%-12s %-8s %10s %10s %10s %8s\n' mode change median_ms p90_ms max_ms samples
		for mode in event poll-1000ms poll-100ms; do
			for kind in create destroy ""; do
				# shellcheck disable=SC2046 # four numbers
				printf '%-12s %-8s %10s %10s %10s %8s\n' "$mode" "${kind:-both}" \
					$(bench_stats "$mode" "$kind")
			done
		done
		for kind in create destroy ""; do
			ev=$(bench_stats event "$kind" | cut -d' ' -f1)
			for mode in poll-1000ms poll-100ms; do
				po=$(bench_stats "$mode" "$kind" | cut -d' ' -f1)
				awk -v p="$po" -v e="$ev" -v m="$mode" -v k="${kind:-both}" 'BEGIN {
					if (e > 0) printf "ratio %s/event, %s, median: %.1fx\n", m, k, p / e
					else printf "ratio %s/event, %s: event median below 0.1 ms\n", m, k }'
			done
		done
	} | tee "$LAB_DIR/bench.txt" | sed 's/^/BENCH /'
	pass
}
