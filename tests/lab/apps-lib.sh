# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Applications nobody here wrote, between lab guests (tests/lab/rootfs/ck-apps runs them in
# a guest; a scenario gets them in its guests' image with a line "# lab: guest
# applications"), sourced after scenario-lib.sh and fastpath-lib.sh:
#   apps_round MODE CLIENT SERVER HOST  one round of every measurement, into
#                                   $LAB_DIR/apps-MODE, and where each one's time went
#                                   into $LAB_DIR/where-MODE
#   apps_table MODE...              medians and spread of those rounds, as notes
#   apps_where MODE...              the medians of where the time went, as notes
#   apps_churn CLIENT SERVER PEER SPARE  redis between CLIENT and SERVER while membership
#                                   changes (issue 24's transparency under churn)

# Seconds per measurement (iperf3, sockperf, each redis-benchmark test).
LAB_APPS_SECONDS=${LAB_APPS_SECONDS:-4}
# The columns apps_round writes, in order (units in the names).
APPS_COLUMNS="tcp1_mbit tcp4_mbit udp100_mbit udp100_loss_pct pp64_p50_us pp64_p99_us pp16k_p50_us pp16k_p99_us pp64_bulk_p50_us redis_get_p1_rps redis_set_p1_rps redis_get_p16_rps redis_set_p16_rps"

# apps_run CLIENT ARGS...: one ck-apps measurement in CLIENT (under $APPS_PIN), its line.
# The guest runs it in the background and dom0 looks for its answer once a second, not
# ten times as guest_run does: every exec in dom0 takes an emulated CPU from netback,
# which the netfront figures measure.  Hang guard: 300 s.
apps_run() {
	local _c=$1 _d _id _i=0 _out
	shift
	_d=$(domid_of "$_c") || return 1
	_id=$(guest_cmd_id)
	_out=$(guest_run "$_c" "CK_APPS_PIN='$APPS_PIN' ck-apps bg $_id $* </dev/null >/dev/null 2>&1 &") ||
		{ echo "ck-apps $* in $_c: $_out" >&2; return 1; }
	while [ "$(xenstore-read "/local/domain/$_d/data/ck-apps-done" 2>/dev/null)" != "$_id" ]; do
		_i=$((_i + 1))
		[ "$_i" -le 300 ] || { echo "ck-apps $* in $_c: no answer in 300 s" >&2; return 1; }
		sleep 1
	done
	_out=$(guest_run "$_c" "cat /tmp/ck-apps.out; exit \$(cat /tmp/ck-apps.rc)") || {
		echo "ck-apps $* in $_c: $_out" >&2
		return 1
	}
	echo "$_out"
}
# Where the time goes, per measurement: the CPU time each side spent and in what, dom0's,
# and what the fast path's counters and UDP's say of the frames.  The columns of a
# where-MODE line (after MODE's round number and the measurement's name), from the
# difference of `ck-apps snap` before and after it (CPU in milliseconds):
APPS_WHERE_COLUMNS="client_busy_ms client_softirq_ms client_steal_ms server_busy_ms server_softirq_ms server_steal_ms dom0_busy_ms dom0_steal_ms ring_tx_pkts pkts_per_event tx_drops rx_drops tx_to_vif udp_rcvbuf_errors"
# dom0_snap: dom0's /proc/stat cpu line, as ck-apps snap's first eight fields.
dom0_snap() { awk '$1 == "cpu" { print $2, $3, $4, $5, $6, $7, $8, $9 }' /proc/stat; }
# apps_where_line CLIENT-BEFORE CLIENT-AFTER SERVER-BEFORE SERVER-AFTER DOM0-BEFORE DOM0-AFTER:
# the APPS_WHERE_COLUMNS from six snapshots.  Busy is user + nice + system + irq + softirq.
# The snapshots bracket the measurement with dom0's wait for its answer (under a second):
# idle time is not shown, busy time there is small (dom0's own is its once-a-second look).
apps_where_line() {
	printf '%s\n' "$@" | awk '
		{ for (i = 1; i <= NF; i++) v[NR, i] = $i }
		function d(s, i) { return v[s + 1, i] - v[s, i] }
		function busy(s) { return (d(s, 1) + d(s, 2) + d(s, 3) + d(s, 6) + d(s, 7)) * 10 }
		END {
			ppe = "-"
			if (d(1, 13) > 0)
				ppe = sprintf("%.1f", d(1, 9) / d(1, 13))
			printf "%d %d %d %d %d %d %d %d %d %s %d %d %d %d\n",
				busy(1), d(1, 7) * 10, d(1, 8) * 10, busy(3), d(3, 7) * 10, d(3, 8) * 10,
				busy(5), d(5, 8) * 10, d(1, 9), ppe, d(1, 11), d(3, 12), d(1, 15), d(3, 17)
		}'
}
# apps_measure MODE ROUND NAME CLIENT SERVER ARGS...: apps_run CLIENT ARGS..., its line on
# stdout, and where its time went appended to $LAB_DIR/where-MODE as "ROUND NAME columns".
apps_measure() {
	local _m=$1 _r=$2 _n=$3 _c=$4 _s=$5 _dc _ds _cb _sb _0b _out _ca _sa _0a
	shift 5
	_dc=$(domid_of "$_c") && _ds=$(domid_of "$_s") || return 1
	# A loopback's client is its server: one snapshot serves both sides.
	_cb=$(guest_run "$_c" "ck-apps snap $_ds") || return 1
	_sb=$_cb
	[ "$_s" = "$_c" ] || _sb=$(guest_run "$_s" "ck-apps snap $_dc") || return 1
	_0b=$(dom0_snap)
	_out=$(apps_run "$_c" "$@") || return 1
	_0a=$(dom0_snap)
	_ca=$(guest_run "$_c" "ck-apps snap $_ds") || return 1
	_sa=$_ca
	[ "$_s" = "$_c" ] || _sa=$(guest_run "$_s" "ck-apps snap $_dc") || return 1
	echo "$_r $_n $(apps_where_line "$_cb" "$_ca" "$_sb" "$_sa" "$_0b" "$_0a")" >>"$LAB_DIR/where-$_m"
	echo "$_out"
}
# apps_round MODE CLIENT SERVER HOST: every measurement once, CLIENT to HOST (SERVER's
# address, or its loopback when CLIENT is SERVER; ck-apps serve started its servers),
# appended to $LAB_DIR/apps-MODE as one line of APPS_COLUMNS.
APPS_PIN=
apps_round() {
	local _m=$1 _c=$2 _sv=$3 _h=$4 _s=$LAB_APPS_SECONDS _r _t1 _t4 _u _p64 _p16k _pb _r1 _r16 _line
	_r=$(($(cat "$LAB_DIR/apps-$_m" 2>/dev/null | wc -l) + 1))
	_t1=$(apps_measure "$_m" "$_r" tcp1 "$_c" "$_sv" tcp "$_h" "$_s" 1) &&
		_t4=$(apps_measure "$_m" "$_r" tcp4 "$_c" "$_sv" tcp "$_h" "$_s" 4) &&
		_u=$(apps_measure "$_m" "$_r" udp100 "$_c" "$_sv" udp "$_h" "$_s" 100M) &&
		_p64=$(apps_measure "$_m" "$_r" pp64 "$_c" "$_sv" pp "$_h" "$_s" 64) &&
		_p16k=$(apps_measure "$_m" "$_r" pp16k "$_c" "$_sv" pp "$_h" "$_s" 16384) &&
		_pb=$(apps_measure "$_m" "$_r" pp64_bulk "$_c" "$_sv" pp-bulk "$_h" "$_s" 64) &&
		_r1=$(apps_measure "$_m" "$_r" redis_p1 "$_c" "$_sv" redis "$_h" "$_s" 1) &&
		_r16=$(apps_measure "$_m" "$_r" redis_p16 "$_c" "$_sv" redis "$_h" "$_s" 16) || return 1
	# pp-bulk: its median only.  echo joins the words with one space each.
	# shellcheck disable=SC2086
	_line=$(echo $_t1 $_t4 $_u $_p64 $_p16k ${_pb%% *} $_r1 $_r16)
	[ "$(echo "$_line" | wc -w)" = 13 ] || { echo "apps_round $_m: '$_line'" >&2; return 1; }
	echo "$_line" >>"$LAB_DIR/apps-$_m"
	note "apps $_m: $_line"
}
# apps_table MODE...: for every column, each MODE's median and [lowest..highest] of its
# rounds, then the first two modes' ratio (the second over the first).
apps_table() {
	local _col=0 _name _m _row _a _b
	: >"$LAB_DIR/apps.txt"
	echo "column $* $2/$1" >>"$LAB_DIR/apps.txt"
	for _name in $APPS_COLUMNS; do
		_col=$((_col + 1))
		_row=$_name
		for _m in "$@"; do
			_row="$_row $(median "$LAB_DIR/apps-$_m" "$_col")[$(awk -v c="$_col" '{ print $c }' "$LAB_DIR/apps-$_m" |
				sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo ".." hi }')]"
		done
		_a=$(median "$LAB_DIR/apps-$1" "$_col")
		_b=$(median "$LAB_DIR/apps-$2" "$_col")
		echo "$_row $(ratio "$_b" "$_a")" >>"$LAB_DIR/apps.txt"
	done
	while read -r _row; do note "APPS $_row"; done <"$LAB_DIR/apps.txt"
}

# apps_where MODE...: for every measurement and MODE, the median of each where column over
# the rounds, one note each: "WHERE MODE NAME column=value ...".
apps_where() {
	local _m _n _i _name _row
	for _n in tcp1 tcp4 udp100 pp64 pp16k pp64_bulk redis_p1 redis_p16; do
		for _m in "$@"; do
			[ -s "$LAB_DIR/where-$_m" ] || continue
			awk -v n="$_n" '$2 == n' "$LAB_DIR/where-$_m" >"$LAB_DIR/where.tmp"
			[ -s "$LAB_DIR/where.tmp" ] || continue
			_row="WHERE $_m $_n"
			_i=2
			for _name in $APPS_WHERE_COLUMNS; do
				_i=$((_i + 1))
				_row="$_row $_name=$(median "$LAB_DIR/where.tmp" "$_i")"
			done
			note "$_row"
		done
	done
	rm -f "$LAB_DIR/where.tmp"
}

# redis_conns NAME: the connections NAME's redis-server has accepted since it started.
redis_conns() {
	guest_run "$1" "redis-cli info stats | awk -F: '/^total_connections_received/ { print \$2 + 0 }'" | tr -d ' '
}
# ring_moves NAME PEER_DOMID: NAME's ring to that peer carries traffic from now on (its
# tx_packets go up by 100; hang guard 60 s).
ring_moves() {
	local _t
	_t=$(fp_field "$1" "$2" 3)
	wait_until 300 fp_tx_above "$1" "$2" "$((${_t:-0} + 100))"
}

# apps_churn CLIENT SERVER PEER SPARE: redis-benchmark rounds from CLIENT to SERVER's
# redis-server over the fast path (ck-apps load) for the whole of a sequence of membership
# changes: SPARE created and destroyed; the fast path off and on in CLIENT; SERVER (PVH)
# live-migrated; PEER, another guest CLIENT has a channel to, destroyed and re-created
# under the same address (boot_guest NAME, the scenario's).  Fails on any client error or
# reconnection (redis-benchmark exits at a connection's first error and never reconnects;
# SERVER's accepted connections must be exactly those of the rounds that ran), and unless
# CLIENT's ring to SERVER carried the load again after each change.  Sets D_SERVER and
# D_PEER to the domids SERVER and PEER end with.
apps_churn() {
	local _c=$1 _s=$2 _p=$3 _x=$4 _ds _dp _dx _c0 _c1 _per _t _r _out
	_ds=$(domid_of "$_s") && _dp=$(domid_of "$_p") || { fail "churn: no $_s or $_p"; return 1; }
	wait_until 120 fp_up_with_ping "$_c" "$_s" "$_ds" || {
		fail "churn: $_c's channel to $_s is not up: $_c: $(guest_run "$_c" "cokeeper-query fastpath");" \
			"$_s: $(guest_run "$_s" "cokeeper-query fastpath");" \
			"$_c's lookup of $(ip_of "$_s"): $(lookup "$_c" "$(ip_of "$_s")");" \
			"dom0's addresses of $_s: $(ck_ctl addresses "$_s" 2>&1 | tr '\n' ' ');" \
			"cokeeperd: $(ck_ctl stats | jq -c '.counters | with_entries(select(.key | test("^fastpath_")))')"
		return 1
	}
	# What one round costs the server in connections (the benchmark's clients and its
	# CONFIG query per test; redis-cli's own INFO is one more).
	_c0=$(redis_conns "$_s")
	_out=$(guest_run "$_c" "redis-benchmark -h $(ip_of "$_s") -c 4 -n 2000 -t get,set --csv >/dev/null") ||
		{ fail "churn: a first round of redis-benchmark failed: $_out"; return 1; }
	_c1=$(redis_conns "$_s")
	_per=$((${_c1:-0} - ${_c0:-0} - 1))
	note "churn: one round of 2,000 GETs and SETs opens $_per connections to $_s's redis"

	_c0=$(redis_conns "$_s")
	guest_run "$_c" "rm -f /tmp/churn.stop; ck-apps load $(ip_of "$_s") /tmp/churn.stop /tmp/churn.out >/dev/null 2>&1 &" >/dev/null
	churn_rounds() { guest_run "$_c" "cat /tmp/churn.out" | awk '$1 == "rounds" { print $2 }'; }
	churn_ok() { ! guest_run "$_c" "cat /tmp/churn.out" | grep -q error; }
	churn_past() { [ "$(churn_rounds)" -gt "$1" ] 2>/dev/null; }
	ring_moves "$_c" "$_ds" || fail "churn: the load did not take $_c's ring to $_s"

	# 1. Another guest comes and goes.
	boot_guest "$_x" || { fail "churn: $_x did not boot"; return 1; }
	_dx=$(domid_of "$_x")
	wait_until 60 sees "$_c" "$_dx" || fail "churn: $_c does not see $_x (domid $_dx)"
	domu_destroy "$_x" || fail "churn: destroy $_x"
	wait_until 60 sees_not "$_c" "$_dx" || fail "churn: $_c still sees the destroyed $_x"
	ring_moves "$_c" "$_ds" || fail "churn: the ring to $_s carries nothing after $_x came and went"
	churn_ok || fail "churn: redis failed while $_x came and went"
	note "churn: $_x (domid $_dx) came and went; $(churn_rounds) rounds so far"

	# 2. The fast path off (the load takes the vif: the ring carries nothing while two
	# more rounds complete) and on again.
	fp_enable "$_c" 0 || fail "churn: enable=0"
	wait_until 30 fp_state_is "$_c" "$_ds" idle || fail "churn: $_c's channel did not go with enable=0"
	_t=$(fp_field "$_c" "$_ds" 3)
	_r=$(churn_rounds)
	# Hang guards, as every wait on the load's progress here: a round over the vif takes
	# ~25 s alone on this machine, and took over 120 s beside a CI run (20261208-004831-10195).
	wait_until 600 churn_past "$((${_r:-0} + 1))" || fail "churn: the load stopped with the fast path off"
	[ "$(fp_field "$_c" "$_ds" 3)" = "$_t" ] || fail "churn: the ring carried frames with enable=0"
	fp_enable "$_c" 1 || fail "churn: enable=1"
	wait_until 120 fp_up_with_ping "$_c" "$_s" "$_ds" || fail "churn: the channel did not come back"
	ring_moves "$_c" "$_ds" || fail "churn: the ring to $_s carries nothing after enable=1"
	churn_ok || fail "churn: redis failed across the switch off and on"
	note "churn: fast path off and on; $(churn_rounds) rounds so far"

	# 3. The server migrates (localhost, PVH).
	if domu_migrate "$_s"; then
		_ds=$(domid_of "$_s")
		wait_until 120 fp_up_with_ping "$_c" "$_s" "$_ds" || fail "churn: no channel to $_s's new domid $_ds"
		ring_moves "$_c" "$_ds" || fail "churn: the ring to $_s's new domid carries nothing"
		churn_ok || fail "churn: redis failed across $_s's migration"
		note "churn: $_s migrated to domid $_ds; $(churn_rounds) rounds so far"
	else
		fail "churn: xl migrate $_s"
	fi

	# 4. The client's other peer destroyed and re-created under the same address.
	domu_destroy "$_p" || fail "churn: destroy $_p"
	wait_until 60 sees_not "$_c" "$_dp" || fail "churn: $_c still sees the destroyed $_p"
	boot_guest "$_p" || { fail "churn: $_p did not boot again"; return 1; }
	_dp=$(domid_of "$_p")
	wait_until 120 owner_is "$_c" "$(ip_of "$_p")" "$_dp" ||
		fail "churn: $(ip_of "$_p") is not the new $_p's (domid $_dp) in $_c's table: $(lookup "$_c" "$(ip_of "$_p")")"
	wait_until 120 fp_up_with_ping "$_c" "$_p" "$_dp" || fail "churn: no channel to the new $_p (domid $_dp)"
	ring_moves "$_c" "$_ds" || fail "churn: the ring to $_s carries nothing after $_p's return"
	churn_ok || fail "churn: redis failed while $_p was re-created"
	note "churn: $_p re-created as domid $_dp under $(ip_of "$_p"); $(churn_rounds) rounds so far"

	guest_run "$_c" "touch /tmp/churn.stop" >/dev/null
	churn_done() { guest_run "$_c" "cat /tmp/churn.out" | grep -q -e 'done' -e error; }
	wait_until 600 churn_done || fail "churn: the load did not stop"
	_out=$(guest_run "$_c" "cat /tmp/churn.out")
	_r=$(churn_rounds)
	_c1=$(redis_conns "$_s")
	note "churn: redis-benchmark: $_out; $_s's redis accepted $((${_c1:-0} - ${_c0:-0} - 1)) connections, $_per a round"
	case $_out in *error*) fail "churn: redis-benchmark: $_out" ;; esac
	[ "$((${_c1:-0} - ${_c0:-0} - 1))" = "$((${_r:-0} * _per))" ] ||
		fail "churn: $_s's redis accepted $((${_c1:-0} - ${_c0:-0} - 1)) connections for ${_r:-?} rounds of $_per: a client reconnected"
	note "churn: $_c: $(guest_run "$_c" "cokeeper-query fastpath | awk '\$1 == $_ds'")"
	D_SERVER=$_ds
	D_PEER=$_dp
}
