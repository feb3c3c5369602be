#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The project's test command (README, .ci/run): installs what is missing, then builds and runs
#   1. the unit and sim suites, plain                 (build/)
#   2. the unit and sim suites under ASan + UBSan     (build-asan/)
#   3. the libFuzzer target for a bounded run         (build-fuzz/, clang)
# FUZZ_RUNS (default 1000000) sets the fuzzing budget.  Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_runs=${FUZZ_RUNS:-1000000}

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
scripts/install-deps.sh >/dev/null

setup() {	# setup DIR [meson options...]
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
}

step "build (plain)"
setup build
step "unit tests (plain)"
meson test -C build --suite unit -v --print-errorlogs
step "sim: cokeeperd + agents, the whole pipeline without Xen (plain)"
meson test -C build --suite sim -v --print-errorlogs

step "build (ASan + UBSan)"
setup build-asan -Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all
step "unit tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	meson test -C build-asan --suite unit -v --print-errorlogs
step "sim (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	meson test -C build-asan --suite sim -v --print-errorlogs

step "fuzzing: fuzz-frame, $fuzz_runs executions"
CC=clang setup build-fuzz -Dfuzzing=true -Dtests=disabled -Db_sanitize=address,undefined \
	-Db_lundef=false
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
build-fuzz/tests/fuzz/make-seeds "$work/corpus"
# libFuzzer exits non-zero on any finding (crash, leak, sanitizer report, abort()).
if ! build-fuzz/tests/fuzz/fuzz-frame -runs="$fuzz_runs" -max_len=140000 -print_final_stats=1 \
	"$work/corpus" >"$work/fuzz.log" 2>&1; then
	tail -n 60 "$work/fuzz.log"
	echo "fuzz-frame: FINDING (reproducer above, crash-* in $PWD)" >&2
	exit 1
fi
grep -E '^(Done|stat::number_of_executed_units)' "$work/fuzz.log"
echo "fuzz-frame: $fuzz_runs executions, no finding"
