#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fresh Debian 12 chroots for the package tests (scripts/test-debs.sh) and the lab's booted
# Debian systems (tests/lab/debian-images.sh): a cached debootstrap base, apt inside, the
# kernel ABI's packages, steps with PASS/FAIL lines, and every mount undone on exit.
#
# Sourced, not run.  The caller sets, before sourcing:
#   top          its directory under /var/tmp (runs, logs; the cache is shared: $CHROOT_CACHE)
#   keep         1: leave the run's chroots in place
#   chroot_tag   the name its messages start with
# and gets: $work (this run's chroots), $logs, $cache, $suite, $mirror, step, in_root, apt_in,
# apt_sources, step_base [--link] (sets $base), new_root NAME, install_kernel_debs,
# install_headers.

suite=bookworm
# One debootstrap base and one download cache for every user: a base takes minutes.
cache=${CHROOT_CACHE:-/var/tmp/cokeeper-debs/cache}
mkdir -p "$cache/archives/partial" "$top"
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
		umount "$m" 2>/dev/null || umount -l "$m" || echo "$chroot_tag: cannot unmount $m" >&2
	done
	mounts=()
}

# What debootstrap itself mounted (/proc, /sys in its target) if it was stopped half-way.
undo_mounts_below() {
	local m
	for m in $(mounted_below "$1" | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" || echo "$chroot_tag: cannot unmount $m" >&2
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
		echo "$chroot_tag: still mounted, $work left in place:" >&2
		mounted_below "$work" >&2
	elif [ "$keep" -eq 1 ]; then
		echo "$chroot_tag: chroots kept in $work" >&2
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- steps --------------------------------------------------------------------------------------
# A step is a function run with its output in $logs/<name>.log (its name in $step_log, for a
# step that reads back what it ran); it sets `why` to one line that says what it found,
# whether it passed or not.
failed=0
why=
step_log=
t_start=$(date +%s.%N)
step() {
	local name=$1 t0 dt rc
	shift
	why=
	step_log=$logs/$name.log
	t0=$(date +%s.%N)
	if "$@" >"$step_log" 2>&1; then rc=0; else rc=$?; fi
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

# A chroot's sources.list: the kernel's ABI packages are published in $suite-security.
apt_sources() {
	echo "deb $mirror $suite main"
	echo "deb $mirror $suite-updates main"
	echo "deb $security $suite-security main"
}

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
# usage: step_base [--link]
# Without --link the cache's lock is held to the end of the run, not just for the base: every
# chroot's apt shares the download cache (bind-mounted), and apt locks that cache's directory:
# a second run's apt-get would fail on that lock rather than wait.
# --link is for a run that does not bind the download cache (scripts/debian-checks.sh): the
# lock is taken only if the base must be built, so that such a run does not wait for a
# test-debs.sh or lab image run holding it, and $base is a hard link in $work, so that a run
# that deletes a stale base cannot take it away half-way.
base=
step_base() {
	local key link=0
	[ "${1:-}" = --link ] && link=1
	key=$(release_key)
	base=$cache/$suite-minbase-$(echo "$mirror" | sha256sum | cut -c1-8)-$key.tar.gz
	if [ "$link" -eq 0 ] || [ ! -s "$base" ]; then
		exec 9>"$cache/lock"
		flock 9
	fi
	if [ -s "$base" ]; then
		why="cached $(basename "$base") (mirror $mirror)"
	else
		build_base || return 1
	fi
	[ "$link" -eq 1 ] || return 0
	ln -f "$base" "$work/base.tar.gz" 2>/dev/null || cp "$base" "$work/base.tar.gz" ||
		{ why="cannot copy $base into $work"; return 1; }
	base=$work/base.tar.gz
	exec 9>&-
}

build_base() {
	local tmp include=
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
	apt_sources >"$root/etc/apt/sources.list" || return 1
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


# The kernel ABI's own packages: PKG (linux-headers-$KVER, linux-image-$KVER) from the mirror;
# Debian's security archive keeps only the newest kernel, so once an update supersedes KVER the
# mirror no longer has it, and the .debs are then taken from an apt cache (cached_kernel_debs).
# TEST_DEBS_HEADERS_FROM_CACHE=1 takes that path even when the mirror has them.
# usage: install_kernel_debs ROOT PKG [DEP_PATTERN...]
install_kernel_debs() {
	local root=$1 pkg=$2 f files debs=()
	shift 2
	if [ "${TEST_DEBS_HEADERS_FROM_CACHE:-0}" != 1 ] &&
		apt_in "$root" install --no-install-recommends "$pkg"; then
		return 0
	fi
	files=$(cached_kernel_debs "$pkg" "$@") || return 1
	mkdir -p "$root/tmp/kernel-debs"
	for f in $files; do
		cp "$f" "$root/tmp/kernel-debs/" && debs+=("./$(basename "$f")")
	done
	in_root "$root" sh -c "cd /tmp/kernel-debs && apt-get -q -y -o Dpkg::Use-Pty=0 install --no-install-recommends ${debs[*]}" ||
		{ why="$pkg from the apt cache (${debs[*]}) does not install"; return 1; }
	rm -rf "$root/tmp/kernel-debs"
	echo "$pkg from the apt cache: ${debs[*]}"
}

# The .debs of PKG from an apt cache (this script's, then the host's, which installed them), at
# the version the host has, with the ones DEP_PATTERNs name (its Depends built from the same
# source version): one path a line.
# usage: cached_kernel_debs PKG [DEP_PATTERN...]
cached_kernel_debs() {
	local pkg=$1 v d f p found=0
	v=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
		{ why="$pkg is not on $mirror, and the host has not installed it"; return 1; }
	for p in "$@"; do
		for d in "$cache/archives" /var/cache/apt/archives; do
			# shellcheck disable=SC2086 # p may be a pattern
			f=$(ls "$d"/$p"_${v}_"*.deb 2>/dev/null | head -n1)
			[ -n "$f" ] && { echo "$f"; found=1; break; }
		done
	done
	[ "$found" -eq 1 ] || { why="no $pkg $v .debs in any apt cache"; return 1; }
}

# The headers DKMS builds against, and (for an apt cache's copies) the packages they need.
headers_pkgs() {
	headers=("linux-headers-$KVER" "linux-headers-${KVER%-*}-common" 'linux-kbuild-*' 'linux-compiler-gcc-*')
}
install_headers() {
	local headers
	headers_pkgs
	install_kernel_debs "$1" "${headers[@]}"
}
