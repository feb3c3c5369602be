#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds cokeeper.ko with W=1 (and sparse, if installed) and fails on any warning.
#
#   scripts/build-kmod.sh [KVER]
#
# KVER (argument or environment) defaults to the newest installed Debian amd64 headers in
# /usr/src/linux-headers-*-amd64, cloud and rt flavours excluded.  Prints the path of the .ko
# (build-kmod/KVER/cokeeper.ko, with its Module.symvers beside it); the build log goes to
# stderr when something is wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

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

# Kbuild writes its objects next to the sources, so build a private copy: concurrent builds
# (two test runs, a developer's "make" in kmod-hook/) never see each other's half-built
# files.  The copy is the DKMS tree itself (scripts/dkms-tree.sh, which the package ships), so
# the build checks that too.
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/cokeeper-kmod-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
scripts/dkms-tree.sh "$tmp"

# sparse checks the __rcu and byte-order annotations; its findings are "warning:" lines too.
check=
if command -v sparse >/dev/null; then
	check=C=1
else
	echo "build-kmod: sparse is not installed, skipping its checks" >&2
fi

log=$tmp/build.log
if ! make -C "$tmp" KVER="$kver" W=1 $check modules >"$log" 2>&1; then
	cat "$log" >&2
	echo "build-kmod: build against $kver failed" >&2
	exit 1
fi
if grep -q 'warning:' "$log"; then
	grep -B2 -A6 'warning:' "$log" >&2
	echo "build-kmod: compiler or sparse warnings against $kver (treated as errors)" >&2
	exit 1
fi

# Renames are atomic: a concurrent caller reads the old files or the new ones, whole.
out=$repo/build-kmod/$kver
mkdir -p "$out"
for f in cokeeper.ko fastpath/cokeeper-fp.ko Module.symvers; do
	b=$(basename "$f")
	cp "$tmp/$f" "$out/.$b.$$"
	mv -f "$out/.$b.$$" "$out/$b"
done
echo "build-kmod: built against $kver${check:+ with sparse}, no warnings" >&2
echo "$out/cokeeper.ko"
