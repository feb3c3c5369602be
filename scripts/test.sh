#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The project's test command (README, .ci/run): installs what is missing, then builds and runs
#   1. the unit, sim and hostile suites, plain               (build/)
#   2. the unit, sim and hostile suites under ASan + UBSan   (build-asan/)
#   3. the libFuzzer targets for bounded runs         (build-fuzz/, clang)
#   4. cokeeper.ko: built warning-free against the pinned linux-headers, then loaded in
#      Debian's kernel under QEMU with its self-test, the netlink probe, the agent's kernel
#      sink and cokeeper-query (tests/kmod/run.sh)
# FUZZ_RUNS (default 1000000) and FUZZ_CONTROL_RUNS (100000) set the fuzzing budgets.  Exits non-zero on the first failure.
# FUZZ_CONTROL_LINES_RUNS (default 1000000, 600 s at most) sets fuzz-control-lines' (the
# control socket's lines).
# FUZZ_GUEST_RUNS (default 1000000, 600 s at most) sets fuzz-guest's (the agent sessions,
# guests.c): 561 s for its million in one CI run; .ci/run's lab shares the cores meanwhile.
# FUZZ_RING_RUNS (default 1000000) sets fuzz-ckfp-ring's (the fast path's shared ring), and
# FUZZ_RING_SECONDS (default 600) the most time it may take for them.
# FUZZ_FP_PARSE_RUNS (default 1000000) sets fuzz-fastpath-parse's (the module's netlink events).
# FUZZ_POLICY_RUNS (default 300000) sets fuzz-fastpath-policy's (fastpath.conf, policy-set).
# FUZZ_LEARN_RUNS (default 1000000) sets fuzz-learn-parse's (frames seen on a vif, --learn).
# TEST_TIMEOUT_MULTIPLIER (default 1) scales meson's per-test hang guards, for a run that
# yields the CPU to other work (.ci/run runs it at nice 10, in a niced autogroup, beside
# the lab).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_runs=${FUZZ_RUNS:-1000000}

step() { printf '\n==> %s (at %d s)\n' "$*" "$SECONDS"; }

step "dependencies"
scripts/install-deps.sh --lab >/dev/null

setup() {	# setup DIR [meson options...]
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
}

# The suites run with a TMPDIR of their own, which every process they start inherits:
# tests/leftovers.py then finds whatever a suite left running or on disk, and fails the run.
suites_tmp=$(mktemp -d "${TMPDIR:-/tmp}/cokeeper-suites.XXXXXX")
chmod 0711 "$suites_tmp"	# hostile's client as user nobody reaches a socket inside
work=
trap 'rm -rf "$suites_tmp" ${work:+"$work"}' EXIT

run_suite() {	# run_suite BUILD_DIR SUITE LABEL: one meson suite, then what it left behind
	local dir=$1 suite=$2 label=$3
	TMPDIR=$suites_tmp meson test -C "$dir" --suite "$suite" -v --print-errorlogs \
		--timeout-multiplier "${TEST_TIMEOUT_MULTIPLIER:-1}"
	tests/leftovers.py "$suites_tmp" "$label"
}

step "build (plain)"
setup build
step "unit tests (plain)"
run_suite build unit "unit (plain)"
step "sim: cokeeperd + agents, the whole pipeline without Xen (plain)"
run_suite build sim "sim (plain)"
step "hostile: an attacker against cokeeperd and its agents (plain)"
run_suite build hostile "hostile (plain)"
step "root: cokeeperd's packet socket and --learn in network namespaces (plain)"
run_suite build root "root (plain)"

step "build (ASan + UBSan)"
setup build-asan -Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "unit tests (ASan + UBSan)"
run_suite build-asan unit "unit (ASan + UBSan)"
step "sim (ASan + UBSan)"
run_suite build-asan sim "sim (ASan + UBSan)"
step "hostile (ASan + UBSan)"
run_suite build-asan hostile "hostile (ASan + UBSan)"
step "root (ASan + UBSan)"
run_suite build-asan root "root (ASan + UBSan)"
unset ASAN_OPTIONS UBSAN_OPTIONS

CC=clang setup build-fuzz -Dfuzzing=true -Dtests=disabled -Db_sanitize=address,undefined \
	-Db_lundef=false
work=$(mktemp -d)

# run_fuzzer NAME RUNS MAX_LEN [SECONDS]: libFuzzer exits non-zero on any finding (crash,
# leak, sanitizer report, abort()), leaving the reproducer as crash-* in the current
# directory.  SECONDS, if given, ends the run early (still a pass if nothing was found): a
# fuzzer whose inputs grow slower to run as it explores (fuzz-ckfp-ring: 244 s for its
# million runs in one CI run, over 45 min in the next) must not decide whether CI finishes.
run_fuzzer() {
	local name=$1 runs=$2 max_len=$3 seconds=${4:-0}
	step "fuzzing: $name, $runs executions${4:+ or $4 s}"
	if ! "build-fuzz/tests/fuzz/$name" -runs="$runs" -max_len="$max_len" \
		-max_total_time="$seconds" \
		-print_final_stats=1 "$work/$name" >"$work/$name.log" 2>&1; then
		tail -n 60 "$work/$name.log"
		echo "$name: FINDING (reproducer above, crash-* in $PWD)" >&2
		exit 1
	fi
	grep -E '^(Done|stat::number_of_executed_units)' "$work/$name.log"
	echo "$name: $(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log") executions, no finding"
}

# The control socket's fuzzer drives the hub and its Xen-free spokes: no Xen library at all.
if ldd build-fuzz/tests/fuzz/fuzz-control | grep -E 'libxen(light|store)'; then
	echo "fuzz-control links a Xen library (above): the hub must not need one" >&2
	exit 1
fi
echo "fuzz-control: links neither libxenlight nor libxenstore"

mkdir "$work/fuzz-frame" "$work/fuzz-control"
build-fuzz/tests/fuzz/make-seeds "$work/fuzz-frame" "$work/guest-sessions"
printf '{"cmd":"members"}' >"$work/fuzz-control/members"
printf '{"cmd":"sim-create","name":"web","ip":["10.0.0.1","fd00::1"],"mac":"00:16:3e:00:00:01"}' \
	>"$work/fuzz-control/create"
printf '{"cmd":"sim-migrate","name":"web","pause_ms":5}' >"$work/fuzz-control/migrate"
printf '{"cmd":"addresses-set","op":"add","domain":"web","addresses":["10.0.0.9","fd00::9"]}' \
	>"$work/fuzz-control/addresses-set"
printf '{"cmd":"sim-claim","name":"web","ipv4":["10.0.0.7"]}' >"$work/fuzz-control/claim"
printf '{"cmd":"addresses","domain":"web"}' >"$work/fuzz-control/addresses"
run_fuzzer fuzz-frame "$fuzz_runs" 140000
run_fuzzer fuzz-control "${FUZZ_CONTROL_RUNS:-100000}" 4096

# fuzz-control-lines: byte 0 is bit 0 admin, bits 1-4 the read size; then a client's bytes:
# requests split across reads, a read-only peer trying sim-create and the admin verbs beside
# the read-only addresses, and issue 11's smuggling
# (an over-long line whose tail is a request).
mkdir "$work/fuzz-control-lines"
printf '\x01{"cmd":"members"}\n{"cmd":"sim-create","name":"a","ip":["10.0.0.1"]}\n{"cmd":"watch"}\n' \
	>"$work/fuzz-control-lines/admin"
printf '\x00{"cmd":"sim-create","name":"b"}\n{"cmd":"rescan"}\n{"cmd":"stats"}\n' \
	>"$work/fuzz-control-lines/read-only"
printf '\x00{"cmd":"addresses"}\n{"cmd":"addresses-set","op":"clear","domain":"b"}\n{"cmd":"policy"}\n' \
	>"$work/fuzz-control-lines/read-only-addresses"
{ printf '\x19'; head -c 4100 /dev/zero | tr '\0' x; printf '{"cmd":"sim-create","name":"s"}\n'; } \
	>"$work/fuzz-control-lines/smuggle"
# At most 600 s: its daemon lives 64 inputs, so an input that leaves state (a sim domain, an
# orchestrator address, a guest's claim) makes libFuzzer's leak check scan the whole heap;
# with issue 22's verbs that became most of its time (385 executions/s against about 1,400).
run_fuzzer fuzz-control-lines "${FUZZ_CONTROL_LINES_RUNS:-1000000}" 16384 600

# fuzz-guest: byte 0 is the read slice, byte 1 the write behaviour, then what a guest sends:
# a Hello of no epoch (a new agent), test-frame.c's golden Hello (the target's epoch 0x1122,
# gen 3: it resumes from the log), an Ack of gen 9 in that epoch, repeated, and garbage.
mkdir "$work/fuzz-guest"
hello_new='\x00\x00\x00\x06\x0a\x04\x08\x05\x20\x01'
hello_resume='\x00\x00\x00\x0b\x0a\x09\x08\x05\x10\xa2\x22\x18\x03\x20\x01'
ack='\x00\x00\x00\x07\x22\x05\x08\xa2\x22\x10\x09'
printf "\x00\x00$hello_new" >"$work/fuzz-guest/hello"
printf "\x03\x08$hello_resume$ack$hello_resume$hello_resume" >"$work/fuzz-guest/resume-ack-hellos"
printf "\x07\x02$hello_new$hello_new\x00\x00\x00\x05\xff\xff\xff\xff\xff" >"$work/fuzz-guest/garbage"
printf "\x00\x04$hello_new" >"$work/fuzz-guest/over-limit"
printf "\x05\x19$hello_new$ack$ack" >"$work/fuzz-guest/short-writes-fail"
# One domain's sessions in turn with two peers (F_SESSIONS): fast path messages past its budgets.
cp "$work/guest-sessions" "$work/fuzz-guest/sessions"
run_fuzzer fuzz-guest "${FUZZ_GUEST_RUNS:-1000000}" 16384 600

# fuzz-ckfp-ring: byte 0 is the ring's order and start index, then a script of our calls and
# the peer's writes (tests/fuzz/fuzz-ckfp-ring.c's header).  Seeds: records written, published
# and taken; the same from just below 2^32; a peer's write to prod; a peer's write armed to
# happen inside a shared load.
mkdir "$work/fuzz-ckfp-ring"
printf '\x00\x00\x10\x00\x00\x00\xff\xff\x05\x00\x00\x01\x01\x01\x02\x00\x10\x02\x00\x01\x02\x00\x01' \
	>"$work/fuzz-ckfp-ring/honest"
printf '\x04\x00\xff\xff\x0c\x00\xff\xff\x00\x00\xff\xff\x03\x01\x02\x00\x10\x04\xff\xff\x00\x00\x00\x02\x00\x00\x01\x02\x01\x00\x03\x02\x00\x10' \
	>"$work/fuzz-ckfp-ring/wrap-full"
printf '\x00\x00\x40\x00\x00\x01\x05\x00\x01\x02\x00\x00\x00\x02\x00\x10\x02\x00\x10' \
	>"$work/fuzz-ckfp-ring/hostile-prod"
printf '\x00\x00\x40\x00\x00\x01\x08\x01\x00\x02\x01\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x10\x02\x00\x10' \
	>"$work/fuzz-ckfp-ring/load-mutation"
run_fuzzer fuzz-ckfp-ring "${FUZZ_RING_RUNS:-1000000}" 4096 "${FUZZ_RING_SECONDS:-600}"

# fuzz-fastpath-parse: one netlink message from cokeeper-fp.ko (host order).  Seeds: an
# accept, a close with a reason, an offer of order 6 with its 129 grants.
mkdir "$work/fuzz-fastpath-parse"
nlhdr='\x1c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'	# type, flags, seq, port
peer='\x08\x00\x01\x00\x05\x00\x00\x00'
channel='\x0c\x00\x02\x00\x07\x00\x00\x00\x00\x00\x00\x00'
printf "\x28\x00\x00\x00$nlhdr\x02\x01\x00\x00$peer$channel" >"$work/fuzz-fastpath-parse/accept"
printf "\x30\x00\x00\x00$nlhdr\x03\x01\x00\x00$peer$channel\x08\x00\x07\x00\x03\x00\x00\x00" \
	>"$work/fuzz-fastpath-parse/close"
{ printf "\x48\x02\x00\x00$nlhdr\x01\x01\x00\x00$peer$channel"
  printf '\x08\x00\x03\x00\x01\x00\x00\x00\x08\x00\x04\x00\x06\x00\x00\x00'
  printf '\x08\x00\x05\x00\x29\x00\x00\x00\x08\x02\x06\x00'; head -c 516 /dev/zero; } \
	>"$work/fuzz-fastpath-parse/offer"
run_fuzzer fuzz-fastpath-parse "${FUZZ_FP_PARSE_RUNS:-1000000}" 4096

# fuzz-fastpath-policy: the text of fastpath.conf(5) or of a policy-set request.
mkdir "$work/fuzz-fastpath-policy"
printf 'default deny\nrate-limited allow\nallow bridge xenbr*\ndeny name web-?\n' \
	>"$work/fuzz-fastpath-policy/rules"
printf '# tenants\ndeny uuid 12345678-9abc-def0-1234-56789abcdef0\nallow name [a-c]*\n' \
	>"$work/fuzz-fastpath-policy/uuid"
run_fuzzer fuzz-fastpath-policy "${FUZZ_POLICY_RUNS:-300000}" 8192 300

# fuzz-learn-parse: byte 0 is how the frame was seen (bit 0 from the guest, bit 1 checksum
# not filled in), then an Ethernet frame.  Seeds: the unit test's valid frames, one of each
# kind learnt (tests/fuzz/learn-seeds.c).
mkdir "$work/fuzz-learn-parse"
build-fuzz/tests/fuzz/learn-seeds "$work/fuzz-learn-parse"
run_fuzzer fuzz-learn-parse "${FUZZ_LEARN_RUNS:-1000000}" 4096

step "kernel module: warning-free build and tests in QEMU (tests/kmod/run.sh)"
tests/kmod/run.sh
echo "test.sh: every step passed in $SECONDS s"
