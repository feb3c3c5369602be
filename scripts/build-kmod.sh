#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds kmod-hook/cokeeper.ko with W=1 and fails on any compiler warning.
#
#   scripts/build-kmod.sh [KVER]
#
# KVER (argument or environment) defaults to the newest installed Debian amd64 headers in
# /usr/src/linux-headers-*-amd64, cloud and rt flavours excluded.  Prints the .ko's path on
# stdout; the build log goes to stderr when something is wrong.
set -euo pipefail
cd "$(dirname "$0")/.."

kver=${1:-${KVER:-}}
if [ -z "$kver" ]; then
	kver=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed 's|.*/linux-headers-||' |
		grep -v -e '-cloud-' -e '-rt-' | sort -V | tail -n1 || true)
fi
kdir=/usr/src/linux-headers-$kver
if [ -z "$kver" ] || [ ! -f "$kdir/Makefile" ]; then
	echo "build-kmod: no kernel headers for '${kver:-?}' (scripts/install-deps.sh installs them)" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Clean first: an up-to-date object would hide the warnings it was built with.
make -C kmod-hook KVER="$kver" clean >/dev/null
if ! make -C kmod-hook KVER="$kver" W=1 modules >"$log" 2>&1; then
	cat "$log" >&2
	echo "build-kmod: build against $kver failed" >&2
	exit 1
fi
if grep -q 'warning:' "$log"; then
	grep -B2 -A6 'warning:' "$log" >&2
	echo "build-kmod: compiler warnings against $kver (treated as errors)" >&2
	exit 1
fi
echo "build-kmod: built against $kver, no warnings" >&2
echo "$PWD/kmod-hook/cokeeper.ko"
