#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The latency benchmark alone, for working on it: three PV observer guests, then bench_run
# (bench-lib.sh) as the smoke scenario runs it at its end, without the other steps.
#   SCENARIO=tests/lab/scenario-bench.sh tests/lab/run.sh
. /usr/lib/cokeeper-lab/scenario-lib.sh
. /usr/lib/cokeeper-lab/bench-lib.sh

OBSERVERS="pv1 pv2 pv3"

step observers
for n in $OBSERVERS; do
	i=${n#pv}
	# shellcheck disable=SC2046 # no argument, or one
	domu_create "$n" "10.99.0.$i" "00:16:3e:00:00:0$i" pv cokeeper.selftest=0 \
		$([ "${LAB_BENCH_VERBOSE:-0}" = 1 ] && echo cokeeper.agent_args=-v) ||
		fatal "xl create $n"
done
for n in $OBSERVERS; do
	wait_until 240 init_done "$n" || fatal "$n: domU-init did not finish"
done
pass

# shellcheck disable=SC2086 # a list of names on purpose
bench_run "${LAB_BENCH_N:-12}" $OBSERVERS

step cleanup
for n in $OBSERVERS; do domu_destroy "$n" || fail "destroy $n"; done
ck_daemon_stop
pass

scenario_end
