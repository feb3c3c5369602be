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
cache=$top/cache
suite=bookworm

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

mkdir -p "$cache/archives/partial"
work=$(mktemp -d "$top/run.XXXXXX")
logs=$top/logs
rm -rf "$logs" && mkdir -p "$logs"

# --- mounts and cleanup -----------------------------------------------------------------------
# Every mount is recorded and undone in reverse on exit; the run's tree is deleted only once
# nothing is mounted below it, so a stuck bind mount can never make rm reach the host's /dev.
mounts=()
do_mount() {
	mount "$@"
	mounts+=("${*: -1}")
}

mounted_below() {
	awk -v w="$1/" 'index($5 "/", w) == 1 { print $5 }' /proc/self/mountinfo
}

undo_mounts() {
	local i m
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		m=${mounts[$i]}
		mountpoint -q "$m" 2>/dev/null || continue
		umount "$m" 2>/dev/null || umount -l "$m" || echo "test-debs: cannot unmount $m" >&2
	done
	mounts=()
}

# What debootstrap itself mounted (/proc, /sys in its target) if it was stopped half-way.
undo_mounts_below() {
	local m
	for m in $(mounted_below "$1" | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" || echo "test-debs: cannot unmount $m" >&2
	done
}

bootstrap_tmp=
cleanup() {
	undo_mounts
	undo_mounts_below "$work"
	if [ -n "$bootstrap_tmp" ] && [ -d "$bootstrap_tmp" ]; then
		undo_mounts_below "$bootstrap_tmp"
		[ -n "$(mounted_below "$bootstrap_tmp")" ] || rm -rf --one-file-system "$bootstrap_tmp"
	fi
	if [ -n "$(mounted_below "$work")" ]; then
		echo "test-debs: still mounted, $work left in place:" >&2
		mounted_below "$work" >&2
	elif [ "$keep" -eq 1 ]; then
		echo "test-debs: chroots kept in $work" >&2
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- steps --------------------------------------------------------------------------------------
# A step is a function run with its output in $logs/<name>.log; it sets `why` to one line that
# says what it found, whether it passed or not.
failed=0
why=
t_start=$(date +%s.%N)
step() {
	local name=$1 t0 dt rc
	shift
	why=
	t0=$(date +%s.%N)
	if "$@" >"$logs/$name.log" 2>&1; then rc=0; else rc=$?; fi
	dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
	if [ "$rc" -eq 0 ]; then
		printf 'PASS  %-18s %6.1fs  %s\n' "$name" "$dt" "$why"
	else
		failed=1
		printf 'FAIL  %-18s %6.1fs  %s\n' "$name" "$dt" "${why:-exit status $rc}"
		tail -n 15 "$logs/$name.log" | sed 's/^/      | /'
	fi
	return 0
}

in_root() {
	local root=$1
	shift
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}

apt_in() {
	local root=$1
	shift
	in_root "$root" apt-get -q -y -o Dpkg::Use-Pty=0 "$@"
}

# --- where packages come from -------------------------------------------------------------------
# The first URI the host's apt uses for suite $1, from one-line .list and deb822 .sources files.
host_uri() {
	local s=$1 f
	{
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			awk -v s="$s" '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == s) print $i
			}' "$f"
		done
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -r "$f" ] || continue
			awk -v s="$s" 'BEGIN { RS = ""; FS = "\n" } {
				types = uris = suites = ""; enabled = "yes"
				for (k = 1; k <= NF; k++) {
					if ($k ~ /^#/ || !match($k, /^[A-Za-z-]+:/)) continue
					key = tolower(substr($k, 1, RLENGTH - 1)); val = substr($k, RLENGTH + 1)
					if (key == "types") types = val
					else if (key == "uris") uris = val
					else if (key == "suites") suites = val
					else if (key == "enabled") enabled = val
				}
				if (enabled ~ /[Nn]o/ || (" " types " ") !~ /[ \t]deb[ \t]/) next
				n = split(suites, S, /[ \t]+/)
				for (k = 1; k <= n; k++) if (S[k] == s) { split(uris, U, /[ \t]+/); print (U[1] != "" ? U[1] : U[2]); next }
			}' "$f"
		done
	} | sed 's|/*$||' | head -n1
}

mirror=${MIRROR:-$(host_uri "$suite")}
mirror=${mirror:-http://deb.debian.org/debian}
security=${SECURITY_MIRROR:-$(host_uri "$suite-security")}
security=${security:-http://deb.debian.org/debian-security}

# The cache is keyed on the mirror and its Release file's date, which changes only with a point
# release; if the Release file cannot be read, on today's date. Security and point updates are
# fetched in every run (apt-get update), so a base from the same point release stays correct.
release_key() {
	local rel d
	rel=$(mktemp)
	chmod 644 "$rel"
	if /usr/lib/apt/apt-helper download-file "$mirror/dists/$suite/Release" "$rel" >/dev/null 2>&1 &&
		d=$(sed -n 's/^Date: //p' "$rel") && [ -n "$d" ]; then
		date -u -d "$d" +%Y%m%dT%H%M%SZ
	else
		date -u +%Y%m%d
	fi
	rm -f "$rel"
}

# --- the base chroot ---------------------------------------------------------------------------
base=
step_base() {
	local key tmp include=
	key=$(release_key)
	base=$cache/$suite-minbase-$(echo "$mirror" | sha256sum | cut -c1-8)-$key.tar.gz
	exec 9>"$cache/lock"
	flock 9
	if [ -s "$base" ]; then
		why="cached $(basename "$base") (mirror $mirror)"
		return 0
	fi
	command -v debootstrap >/dev/null || { why="no debootstrap: run scripts/install-deps.sh --debs"; return 1; }
	case "$mirror" in https:*) include=--include=ca-certificates ;; esac
	tmp=$(mktemp -d "$cache/debootstrap.XXXXXX") && chmod 755 "$tmp"
	bootstrap_tmp=$tmp
	if ! debootstrap --variant=minbase $include \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$suite" "$tmp" "$mirror"; then
		why="debootstrap $suite from $mirror failed"
		[ -z "$(mounted_below "$tmp")" ] && rm -rf --one-file-system "$tmp"
		return 1
	fi
	tar -C "$tmp" --numeric-owner -czf "$base.part" . && mv "$base.part" "$base" ||
		{ why="cannot write $base"; return 1; }
	rm -rf --one-file-system "$tmp"
	# Older bases of this mirror are stale now.
	find "$cache" -maxdepth 1 -name "$suite-minbase-*.tar.gz" ! -path "$base" -delete
	why="debootstrapped $(basename "$base") from $mirror"
}

# Unpacks a fresh copy of the base into $work/$1 and readies it: sources, no services, mounts.
# The download cache is shared across runs (packages only, no state): every install still
# resolves its dependencies from scratch.
new_root() {
	local root=$work/$1
	# Steps run in an `if`, where set -e is off: every command here says when it failed.
	mkdir "$root" && tar -C "$root" --numeric-owner -xzf "$base" || return 1
	# The base's / is the mktemp directory debootstrap ran in (0700): users such as man-db's
	# `man` could not reach a single library.
	chmod 755 "$root" || return 1
	cat >"$root/etc/apt/sources.list" <<-EOF || return 1
	deb $mirror $suite main
	deb $mirror $suite-updates main
	deb $security $suite-security main
	EOF
	printf '#!/bin/sh\n# No service starts in this chroot.\nexit 101\n' >"$root/usr/sbin/policy-rc.d" &&
		chmod 755 "$root/usr/sbin/policy-rc.d" || return 1
	# The shared download cache is owned by the host's root; apt's _apt user may not write it.
	echo 'APT::Sandbox::User "root";' >"$root/etc/apt/apt.conf.d/90cokeeper-test" || return 1
	cp -L /etc/resolv.conf "$root/etc/resolv.conf" || return 1
	do_mount -t proc proc "$root/proc" || return 1
	do_mount -t sysfs -o ro sysfs "$root/sys" || return 1
	if [ ! -c "$root/dev/null" ]; then
		do_mount --bind /dev "$root/dev" || return 1
	fi
	do_mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" || return 1
	do_mount --bind "$cache/archives" "$root/var/cache/apt/archives" || return 1
	apt_in "$root" update
}

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

# The headers of the lab's kernel ABI.  Debian's security archive keeps only the newest kernel,
# so once an update supersedes KVER the mirror no longer has its headers; the .debs are then
# taken from an apt cache (this script's or the host's, which installed them), at the version
# the host has.  TEST_DEBS_HEADERS_FROM_CACHE=1 takes that path even when the mirror has them.
install_headers() {
	local v d f p debs=()
	if [ "${TEST_DEBS_HEADERS_FROM_CACHE:-0}" != 1 ] &&
		apt_in "$main" install --no-install-recommends "linux-headers-$KVER"; then
		return 0
	fi
	v=$(dpkg-query -W -f='${Version}' "linux-headers-$KVER" 2>/dev/null) ||
		{ why="linux-headers-$KVER is not on $mirror, and the host has not installed it"; return 1; }
	mkdir -p "$main/tmp/headers"
	# The headers' own Depends, all built from the same source version.
	for p in "linux-headers-$KVER" "linux-headers-${KVER%-*}-common" 'linux-kbuild-*' \
		'linux-compiler-gcc-*'; do
		for d in "$cache/archives" /var/cache/apt/archives; do
			# shellcheck disable=SC2086 # p may be a pattern
			f=$(ls "$d"/$p"_${v}_"*.deb 2>/dev/null | head -n1)
			[ -n "$f" ] && break
		done
		[ -n "$f" ] && cp "$f" "$main/tmp/headers/" && debs+=("./$(basename "$f")")
	done
	[ "${#debs[@]}" -gt 0 ] || { why="no linux-headers-$KVER $v .debs in any apt cache"; return 1; }
	in_root "$main" sh -c "cd /tmp/headers && apt-get -q -y -o Dpkg::Use-Pty=0 install --no-install-recommends ${debs[*]}" ||
		{ why="linux-headers-$KVER $v from the apt cache (${debs[*]}) does not install"; return 1; }
	echo "linux-headers-$KVER $v from the apt cache: ${debs[*]}"
}

main=
step_install() {
	main=$work/main
	new_root main || { why="could not prepare the chroot (apt-get update)"; return 1; }
	# What an administrator has before installing CoKeeper: headers for the running kernel, and
	# systemd and man-db to check the units and pages with.
	apt_in "$main" install --no-install-recommends systemd man-db ||
		{ why="systemd man-db do not install from $mirror"; return 1; }
	install_headers || return 1
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

# systemd-analyze runs inside the chroot, where the units' ExecStart binaries, the units they
# order against and man(1) for Documentation= are the installed ones. From the host,
# `systemd-analyze --root=DIR verify` finds binaries under DIR but runs the host's man, which
# does not see the pages the packages installed.
step_units() {
	local u bad=()
	for u in cokeeperd.service cokeeper-agent.service cokeeperd-metrics.service \
		cokeeperd-metrics.timer cokeeper-agent-metrics.service cokeeper-agent-metrics.timer; do
		echo "== $u"
		if ! in_root "$main" systemd-analyze verify "$u"; then bad+=("$u"); fi
	done
	# verify exits 0 on some findings it prints (a missing Documentation= page among them).
	if grep -v '^== ' "$logs/units.log" | grep -q .; then
		bad+=("(output above)")
	fi
	if [ "${#bad[@]}" -gt 0 ]; then
		why="systemd-analyze verify: ${bad[*]}"
		return 1
	fi
	why="systemd-analyze verify: every unit clean"
}

step_man() {
	local p s bad=() found=()
	for p in cokeeperd:8 cokeeper-agent:8 cokeeperctl:8 cokeeper-query:1 libcokeeper-client:3 cokeeper-fp:4; do
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
	cat >"$link/tmp/prog.c" <<-'EOF'
	#include <stdio.h>
	#include <cokeeper-client.h>

	int main(void)
	{
		struct ck_client *c = NULL;
		int r = ck_client_open(&c);	/* no module here: an error is expected */

		printf("ck_client_open: %d\n", r);
		ck_client_close(c);
		return 0;
	}
	EOF
	if ! in_root "$link" sh -c 'cd /tmp && pkg-config --cflags --libs cokeeper-client'; then
		why="pkg-config --cflags --libs cokeeper-client fails with only the declared dependencies"
		return 1
	fi
	if ! in_root "$link" sh -c 'cd /tmp && cc -Wall -Werror prog.c -o prog $(pkg-config --cflags --libs cokeeper-client)'; then
		why="cc prog.c \$(pkg-config --cflags --libs cokeeper-client) fails"
		return 1
	fi
	# Running it proves the runtime package ships the soname the link recorded.
	if ! in_root "$link" /tmp/prog; then
		why="prog links but does not run"
		return 1
	fi
	why="prog.c compiles, links and runs with $(in_root "$link" pkg-config --libs cokeeper-client | xargs)"
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
