#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Proves in a fresh Debian 12 chroot that CoKeeper's built .deb packages work as installed.
#
#   scripts/test-debs.sh [--keep] [--export DIR] DEBDIR
#
# DEBDIR holds the .debs scripts/build-debs.sh wrote (cokeeperd, cokeeper-agent, cokeeper-dkms,
# libcokeeper-client0, libcokeeper-client-dev, and any others: all of them are installed).
# Runs as root (debootstrap, chroot, mounts). Each step prints PASS or FAIL with its reason and
# time; the exit status is 1 if any step failed. What each step proves: tests/debs/README.md.
#
#   --keep       leave the run's chroots under /var/tmp/cokeeper-debs/ to look into
#   --export DIR before the purge, copy what cokeeperd and cokeeper-agent installed (dpkg -L)
#                and the cokeeper.ko DKMS built into DIR, laid out as installed, with
#                DIR/MANIFEST: the real-Xen lab runs these (LAB_INSTALLED=DIR tests/lab/run.sh)
#   KVER=...     the kernel ABI to build the module for (default: what install-deps.sh prints)
#   MIRROR=...   the Debian mirror (default: the host's apt sources, else deb.debian.org)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=/var/tmp/cokeeper-debs

keep=0
debdir=
export_dir=
want_export=0
for arg in "$@"; do
	if [ "$want_export" -eq 1 ]; then
		export_dir=$arg
		want_export=0
		continue
	fi
	case "$arg" in
	--keep) keep=1 ;;
	--export) want_export=1 ;;
	-h|--help) sed -n '3,14p' "$0"; exit 0 ;;
	-*) echo "test-debs: unknown option '$arg'" >&2; exit 2 ;;
	*) [ -z "$debdir" ] || { echo "test-debs: one DEBDIR only" >&2; exit 2; }; debdir=$arg ;;
	esac
done
[ "$want_export" -eq 0 ] || { echo "test-debs: --export needs a directory" >&2; exit 2; }
[ -n "$debdir" ] || { sed -n '5p' "$0" >&2; exit 2; }
if [ -n "$export_dir" ]; then
	mkdir -p "$export_dir"
	export_dir=$(cd "$export_dir" && pwd)
fi
[ -d "$debdir" ] || { echo "test-debs: $debdir: not a directory" >&2; exit 2; }
debdir=$(cd "$debdir" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "test-debs: needs root (debootstrap, chroot, mount)" >&2; exit 2; }

# shellcheck source=debian-chroot.sh
chroot_tag=test-debs
. "$here/debian-chroot.sh"

# --- the packages under test --------------------------------------------------------------------
required=(cokeeperd cokeeper-agent cokeeper-dkms libcokeeper-client0 libcokeeper-client-dev)
pkgs=()
version=
upstream=
step_debs() {
	local p f missing=()
	for p in "${required[@]}"; do
		f=$(ls "$debdir/${p}"_*.deb 2>/dev/null | head -n1)
		[ -n "$f" ] || { missing+=("$p"); continue; }
		dpkg-deb -f "$f" Package Version
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		why="missing in $debdir: ${missing[*]}"
		return 1
	fi
	for f in "$debdir"/*.deb; do pkgs+=("$(dpkg-deb -f "$f" Package)"); done
	version=$(dpkg-deb -f "$(ls "$debdir"/cokeeper-dkms_*.deb | head -n1)" Version)
	upstream=${version#*:}
	upstream=${upstream%-*}
	# install-deps.sh owns the choice of ABI (and honours KVER=): the headers it installs on
	# the host are the ones the lab's kernel is built from.
	KVER=$("$here/install-deps.sh" | tail -n1) || { why="install-deps.sh failed"; return 1; }
	[ -n "$KVER" ] || { why="no kernel ABI from install-deps.sh"; return 1; }
	why="${#pkgs[@]} packages, cokeeper-dkms $version, kernel ABI $KVER"
}


main=
step_install() {
	main=$work/main
	new_root main || { why="could not prepare the chroot (apt-get update)"; return 1; }
	# What an administrator has before installing CoKeeper: headers for the running kernel, and
	# systemd and man-db to check the units and pages with.
	apt_in "$main" install --no-install-recommends systemd man-db ||
		{ why="systemd man-db do not install from $mirror"; return 1; }
	install_headers "$main" || return 1
	mkdir "$main/tmp/debs"
	cp "$debdir"/*.deb "$main/tmp/debs/"
	# Recommends are left out so that Depends alone are shown to be enough.
	in_root "$main" sh -c 'cd /tmp/debs && apt-get -q -y -o Dpkg::Use-Pty=0 install --no-install-recommends ./*.deb' ||
		{ why="apt-get install ./*.deb failed"; return 1; }
	why="apt-get install ./*.deb: ${pkgs[*]}"
}

step_dkms() {
	local st
	st=$(in_root "$main" dkms status cokeeper 2>&1) || true
	echo "$st"
	if echo "$st" | grep -Eq "^cokeeper/($upstream|$version), $KVER, [^:]*: installed"; then
		why=$(echo "$st" | grep -E ", $KVER," | head -n1)
		return 0
	fi
	why="dkms status has no 'cokeeper/$upstream, $KVER, ...: installed' (got: ${st:-nothing})"
	return 1
}

step_module() {
	local ko mv m found=()
	find "$main/lib/modules" -name 'cokeeper*.ko*'
	# cokeeper.ko and the fast path's cokeeper-fp.ko, both built by DKMS from the one tree.
	for m in cokeeper cokeeper-fp; do
		ko=$(ls "$main/lib/modules/$KVER/updates/dkms/"$m.ko* 2>/dev/null | head -n1)
		[ -n "$ko" ] || { why="no $m.ko under /lib/modules/$KVER/updates/dkms/"; return 1; }
		mv=$(in_root "$main" modinfo -F version "${ko#"$main"}") || true
		in_root "$main" modinfo "${ko#"$main"}" || true
		if [ "$mv" != "$upstream" ] && [ "$mv" != "$version" ]; then
			why="${ko#"$main"}: modinfo version '${mv}', package $version"
			return 1
		fi
		found+=("${ko#"$main"}")
	done
	why="${found[*]}: version $mv"
}

# The source package's autopkgtest scripts (packaging/debian/tests), run in this script's
# chroots as well: one copy of each check.  usage: run_debian_test ROOT NAME
run_debian_test() {
	local root=$1 t=$2 out
	cp "$here/../packaging/debian/tests/$t" "$root/tmp/$t" && mkdir "$root/tmp/$t.d" || return 1
	out=$(in_root "$root" AUTOPKGTEST_TMP="/tmp/$t.d" sh "/tmp/$t" 2>&1) || {
		echo "$out"
		why=$(echo "$out" | grep -m1 "^$t: FAIL") || why="$t: exit status non-zero"
		return 1
	}
	echo "$out"
	why=$(echo "$out" | tail -n1)
}

# systemd-analyze runs inside the chroot, where the units' ExecStart binaries, the units they
# order against and man(1) for Documentation= are the installed ones. From the host,
# `systemd-analyze --root=DIR verify` finds binaries under DIR but runs the host's man, which
# does not see the pages the packages installed.
step_units() {
	run_debian_test "$main" units
}

step_man() {
	local p s bad=() found=()
	for p in cokeeperd:8 cokeeper-agent:8 cokeeperctl:8 cokeeper-query:1 libcokeeper-client:3 cokeeper-fp:4 \
		 cokeeper-control:7 fastpath.conf:5; do
		s=${p#*:}
		if in_root "$main" man -w "$s" "${p%:*}"; then found+=("${p%:*}($s)"); else bad+=("${p%:*}($s)"); fi
	done
	if [ "${#bad[@]}" -gt 0 ]; then
		why="man -w finds no ${bad[*]}"
		return 1
	fi
	why="man -w finds ${found[*]}"
}

# In a second fresh copy of the base with only the client packages (apt resolves their Depends),
# gcc, libc6-dev (build-essential's C part, which Debian assumes and gcc only recommends) and
# pkg-config: a dependency the -dev package uses but does not declare is missing here.
step_link() {
	local link=$work/link
	new_root link || { why="could not prepare the chroot (apt-get update)"; return 1; }
	mkdir "$link/tmp/debs"
	cp "$debdir"/libcokeeper-client0_*.deb "$debdir"/libcokeeper-client-dev_*.deb "$link/tmp/debs/"
	in_root "$link" sh -c 'cd /tmp/debs && apt-get -q -y -o Dpkg::Use-Pty=0 install --no-install-recommends gcc libc6-dev pkg-config ./*.deb' ||
		{ why="apt-get install libcokeeper-client0 libcokeeper-client-dev gcc libc6-dev pkg-config failed"; return 1; }
	run_debian_test "$link" client-build
}

# What the lab boots: the installed files, not the build tree's.
step_export() {
	local p f ko m
	rm -rf "$export_dir" && mkdir -p "$export_dir"
	for p in cokeeperd cokeeper-agent; do
		in_root "$main" dpkg-query -W -f='${Package} ${Version}\n' "$p" >>"$export_dir/MANIFEST" ||
			{ why="$p is not installed"; return 1; }
		# Files and links to files; directories (some are links with a merged /usr) are made.
		while read -r f; do
			[ -d "$main$f" ] && continue
			if [ -f "$main$f" ] || [ -L "$main$f" ]; then
				mkdir -p "$export_dir$(dirname "$f")" && cp -a "$main$f" "$export_dir$f" ||
					{ why="cannot copy $f"; return 1; }
			fi
		done < <(in_root "$main" dpkg -L "$p")
	done
	for m in cokeeper cokeeper-fp; do
		ko=$(cd "$main" && ls "lib/modules/$KVER/updates/dkms/"$m.ko* 2>/dev/null | head -n1)
		[ -n "$ko" ] || { why="no DKMS-built $m.ko for $KVER"; return 1; }
		mkdir -p "$export_dir/$(dirname "$ko")" && cp "$main/$ko" "$export_dir/$ko" ||
			{ why="cannot copy /$ko"; return 1; }
		echo "module /$ko $(modinfo -F version "$main/$ko") $KVER" >>"$export_dir/MANIFEST"
	done
	cat "$export_dir/MANIFEST"
	why="$(grep -c . "$export_dir/MANIFEST") entries in $export_dir/MANIFEST"
}

step_purge() {
	local left st p before installed=()
	# A purge that had no module to remove proves nothing about removal.
	before=$(find "$main/lib/modules" -name 'cokeeper*.ko*' | sed "s|^$main||")
	for p in "${pkgs[@]}"; do
		dpkg-query --root="$main" -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'not-installed' ||
			installed+=("$p")
	done
	[ "${#installed[@]}" -gt 0 ] || { why="nothing installed to purge"; return 1; }
	apt_in "$main" purge "${installed[@]}" || { why="apt-get purge ${installed[*]} failed"; return 1; }
	left=$(find "$main/lib/modules" -name 'cokeeper*.ko*' | sed "s|^$main||")
	st=$(in_root "$main" dkms status cokeeper 2>&1 | grep -i cokeeper) || true
	left+=$(ls -d "$main"/var/lib/dkms/cokeeper "$main"/usr/src/cokeeper-* 2>/dev/null | sed "s|^$main| |")
	echo "left: ${left:-none}; dkms status: ${st:-empty}"
	if [ -n "$left" ] || [ -n "$st" ]; then
		why="after purge: ${left:+left $left; }${st:+dkms status: $st}"
		return 1
	fi
	if [ -z "$before" ]; then
		why="purge left nothing, but there was no cokeeper.ko to remove: proves nothing"
		return 1
	fi
	why="purged ${#installed[@]} packages: $before gone, dkms status empty"
}

# --- run ----------------------------------------------------------------------------------------
echo "test-debs: $debdir, mirror $mirror, logs in $logs"
step debs step_debs
[ "$failed" -eq 0 ] || exit 1
step base step_base
[ "$failed" -eq 0 ] || exit 1
step install step_install
step dkms step_dkms
step module step_module
step units step_units
step man step_man
step link step_link
[ -z "$export_dir" ] || step export step_export
step purge step_purge
undo_mounts
printf 'total %.1fs: %s\n' "$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
	"$([ "$failed" -eq 0 ] && echo 'all steps passed' || echo 'some steps FAILED')"
exit "$failed"
