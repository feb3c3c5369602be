#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Debian's own checks of CoKeeper's packages, each in fresh Debian 12 chroots unpacked from the
# debootstrap base scripts/test-debs.sh caches:
#   autopkgtest   the source package's tests (packaging/debian/tests, DEP-8) against the built
#                 .debs, in autopkgtest-virt-unshare, as Debian's CI would run them
#   piuparts-*    piuparts on each package: install and purge leave the system as it was, and
#                 an upgrade from the previous release's package works and purges as cleanly;
#                 cokeeper-dkms with the kernel ABI's headers, so that DKMS builds the modules
#
#   scripts/debian-checks.sh [--keep] [--previous DIR] [--only CHECK[,CHECK...]] DEBDIR
#
# DEBDIR is scripts/build-debs.sh's output: the .dsc with its tarballs, and the .debs.
#   --previous DIR  the previous release's .debs (default: what scripts/previous-debs.sh
#                   prints; it builds them once and keeps them)
#   --only CHECKS   run only these: autopkgtest, piuparts-cokeeperd, piuparts-agent,
#                   piuparts-client, piuparts-dkms (debs and base always run; without
#                   autopkgtest, DEBDIR needs no .dsc)
#   --keep          leave the run's directory under /var/tmp/cokeeper-debs/checks/
#   KVER=...        the kernel ABI to build the modules for (default: what install-deps.sh prints)
#   MIRROR=...      the Debian mirror (default: the host's apt sources, else deb.debian.org)
# Runs as root (piuparts chroots; autopkgtest's unshare maps root's subordinate ids).  Each
# check prints PASS or FAIL with its time and reason; the exit status is 1 if any failed.
# What each check proves, and what they do not: tests/debs/README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2034 # read by debian-chroot.sh
top=/var/tmp/cokeeper-debs/checks

usage() { sed -n '3,24p' "$0"; }
# shellcheck disable=SC2034 # read by debian-chroot.sh
keep=0
debdir=
previous=
only=
all_checks=" autopkgtest piuparts-cokeeperd piuparts-agent piuparts-client piuparts-dkms "
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1 ;;
	--previous)
		[ $# -ge 2 ] || { echo "debian-checks: --previous needs a directory" >&2; exit 2; }
		previous=$2
		shift
		;;
	--only)
		[ $# -ge 2 ] || { echo "debian-checks: --only needs a list of checks" >&2; exit 2; }
		only=" ${2//,/ } "
		for c in $only; do
			case $all_checks in *" $c "*) ;; *) echo "debian-checks: no check '$c' (--help)" >&2; exit 2 ;; esac
		done
		shift
		;;
	-h|--help) usage; exit 0 ;;
	-*) echo "debian-checks: unknown option '$1' (--help)" >&2; exit 2 ;;
	*) [ -z "$debdir" ] || { echo "debian-checks: one DEBDIR only" >&2; exit 2; }; debdir=$1 ;;
	esac
	shift
done
[ -n "$debdir" ] || { grep -m1 '^#   scripts/debian-checks.sh' "$0" >&2; exit 2; }
[ -d "$debdir" ] || { echo "debian-checks: $debdir: not a directory" >&2; exit 2; }
debdir=$(cd "$debdir" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "debian-checks: needs root (piuparts, unshare)" >&2; exit 2; }
for tool in autopkgtest piuparts newuidmap dpkg-scanpackages; do
	command -v "$tool" >/dev/null ||
		{ echo "debian-checks: no $tool: run scripts/install-deps.sh --debs" >&2; exit 2; }
done

# shellcheck disable=SC2034 # read by debian-chroot.sh
chroot_tag=debian-checks
# shellcheck source=debian-chroot.sh
. "$here/debian-chroot.sh"

# --- what is checked ----------------------------------------------------------------------------
dsc=
debs=()
version=
prev_version=
deb() { ls "$1/$2"_*.deb 2>/dev/null | head -n1; }
wanted() { case ${only:-$all_checks} in *" $1 "*) return 0 ;; esac; return 1; }

step_debs() {
	local p f missing=()
	# The tests come from the source package; piuparts needs only the .debs.
	if wanted autopkgtest; then
		dsc=$(ls "$debdir"/*.dsc 2>/dev/null | head -n1)
		[ -n "$dsc" ] || { why="no .dsc in $debdir (scripts/build-debs.sh writes one)"; return 1; }
		# dpkg-source adds the field when debian/tests/control exists.
		grep -q '^Testsuite: autopkgtest' "$dsc" ||
			{ why="$(basename "$dsc") has no 'Testsuite: autopkgtest': built without debian/tests"; return 1; }
	fi
	for p in cokeeperd cokeeper-agent cokeeper-dkms libcokeeper-client0 libcokeeper-client-dev; do
		[ -n "$(deb "$debdir" "$p")" ] || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] || { why="missing in $debdir: ${missing[*]}"; return 1; }
	for f in "$debdir"/*.deb; do
		case $f in *-dbgsym_*) ;; *) debs+=("$f") ;; esac
	done
	version=$(dpkg-deb -f "$(deb "$debdir" cokeeperd)" Version)
	if [ -z "$previous" ]; then
		previous=$("$here/previous-debs.sh") || { why="scripts/previous-debs.sh failed"; return 1; }
	fi
	[ -n "$(deb "$previous" cokeeperd)" ] || { why="no cokeeperd .deb in $previous"; return 1; }
	prev_version=$(dpkg-deb -f "$(deb "$previous" cokeeperd)" Version)
	# An "upgrade" to the same or an older version would prove nothing.
	dpkg --compare-versions "$prev_version" lt "$version" ||
		{ why="previous release $prev_version is not older than $version"; return 1; }
	# install-deps.sh owns the choice of ABI (and honours KVER=), as for test-debs.sh.
	KVER=$("$here/install-deps.sh" | tail -n1) || { why="install-deps.sh failed"; return 1; }
	[ -n "$KVER" ] || { why="no kernel ABI from install-deps.sh"; return 1; }
	# An apt repository for piuparts' chroots: the previous release, which the upgrade test
	# installs with apt-get before it installs the new .deb over it, and the ABI's headers from
	# an apt cache where one has them: the mirror drops them once a kernel update supersedes
	# KVER.
	mkdir "$work/repo"
	cp "$previous"/*.deb "$work/repo/"
	rm -f "$work/repo"/*-dbgsym_*.deb
	local headers files
	headers_pkgs
	files=$(cached_kernel_debs "${headers[@]}") && cp $files "$work/repo/" ||
		echo "no cached ${headers[0]} .debs ($why): from the mirror"
	(cd "$work/repo" && dpkg-scanpackages . >Packages) ||
		{ why="dpkg-scanpackages $work/repo failed"; return 1; }
	why="${dsc:+$(basename "$dsc"), }${#debs[@]} .debs; previous release $prev_version from $previous; kernel ABI $KVER"
}

# --- autopkgtest --------------------------------------------------------------------------------
# autopkgtest-virt-unshare maps the testbed's users with `unshare --map-auto`, which needs
# subordinate ids for root in /etc/subuid and /etc/subgid.  Debian gives root none; rather than
# change the host's files, autopkgtest sees copies with a range added for root, bind-mounted
# over them in a mount namespace of its own.
with_root_subids() {
	local f
	for f in subuid subgid; do
		awk -F: '{ print; if ($1 == "root") has = 1; if ($2 + $3 > top) top = $2 + $3 }
			END { if (!has) print "root:" (top > 100000 ? top : 100000) ":65536" }' \
			"/etc/$f" >"$work/$f" || return 1
	done
	unshare --mount --propagation private -- sh -c \
		'mount --bind "$1" /etc/subuid && mount --bind "$2" /etc/subgid && shift 2 && exec "$@"' \
		sh "$work/subuid" "$work/subgid" "$@"
}

step_autopkgtest() {
	local out=$logs/autopkgtest rc=0 f t
	apt_sources >"$work/sources.list"
	cp -L /etc/resolv.conf "$work/resolv.conf"
	# A hang guard per test, far above the few seconds each takes.
	with_root_subids autopkgtest --output-dir "$out" --timeout-test=900 \
		--copy="$work/sources.list:/etc/apt/sources.list" \
		--copy="$work/resolv.conf:/etc/resolv.conf" \
		--setup-commands="apt-get update -q" \
		"${debs[@]}" "$dsc" -- unshare --release "$suite" --tarball "$base" || rc=$?
	[ -s "$out/summary" ] || { why="autopkgtest exit status $rc, no summary (testbed failure?)"; return 1; }
	why=$(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }' "$out/summary")
	# 0: all passed; 2: some skipped, which here means a test did not run: a failure too.
	[ "$rc" -eq 0 ] && return 0
	# What failed, last, where the step's summary shows the end of this log.
	for t in $(awk '$2 != "PASS" { print $1 }' "$out/summary"); do
		for f in "$out/$t-stdout" "$out/$t-stderr"; do
			[ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; }
		done
	done
	why="exit status $rc: $why"
	return 1
}

# --- piuparts -----------------------------------------------------------------------------------
# usage: step_piuparts [PIUPARTS_OPTION...] DEB...
# piuparts' install-purge test, then its install-upgrade-purge test: the previous release from
# $work/repo (bind-mounted, a trusted local repository) installed with apt-get, the new .debs
# installed over it, then purged.  Both must pass, and the upgrade must have run.
step_piuparts() {
	local log=$step_log extra=() line bad errors
	while read -r line; do
		extra+=(--extra-repo="$line")
	done < <(apt_sources | tail -n +2)
	piuparts --basetgz="$base" --distribution="$suite" --mirror="$mirror" --tmpdir="$work" \
		"${extra[@]}" --bindmount="$work/repo" \
		--extra-repo="deb [trusted=yes] file://$work/repo ./" "$@" || {
		# What failed, with the first files it names, last, where the step's summary shows
		# the end of this log (piuparts' own end is its clean-up).
		errors=$(grep -A6 -E 'ERROR: (FAIL|Command failed)' "$log") || true
		echo "$errors"
		why="piuparts: $(echo "$errors" | awk '
			!n { sub(/^[0-9.ms]* ERROR: /, ""); out = $0; n = 1; next }
			n <= 3 && /^  / { sub(/^ +/, ""); sub(/\t.*/, ""); out = out " " $0; n++; next }
			{ exit }
			END { print out }')"
		return 1
	}
	grep -q 'PASS: Installation and purging test' "$log" ||
		{ why="piuparts passed without its install-purge test"; return 1; }
	grep -q 'PASS: Installation, upgrade and purging tests' "$log" ||
		{ why="piuparts did not run the upgrade from $prev_version (apt did not see it)"; return 1; }
	# Broken symlinks are only warnings to piuparts (a dependency's, xen-utils-common's, are
	# there); one of ours is a failure.
	bad=$(awk '/WARN: Broken symlinks:/ { b = 1; next } b && /^  / { if (/\((lib)?cokeeper/) print; next } { b = 0 }' "$log" | sort -u)
	[ -z "$bad" ] || { echo "our broken symlinks:"; echo "$bad"; why="broken symlinks: $(echo "$bad" | xargs)"; return 1; }
	why="install+purge; upgrade from $prev_version+purge"
}

# The headers are installed in piuparts' base chroot as if essential: kept through the purge,
# so what the purge must remove is what DKMS built against them.
step_piuparts_dkms() {
	local built
	step_piuparts --fake-essential-packages="linux-headers-$KVER" "$(deb "$debdir" cokeeper-dkms)" ||
		return 1
	built=$(grep -c "Installing to /lib/modules/$KVER/updates/dkms/" "$step_log") || true
	[ "$built" -gt 0 ] ||
		{ why="passed, but DKMS installed no module for $KVER: the purge removed nothing built"; return 1; }
	why="$why; DKMS built and installed $built modules for $KVER, all removed by the purges"
}

# --- run ----------------------------------------------------------------------------------------
echo "debian-checks: $debdir, mirror $mirror, logs in $logs"
step debs step_debs
[ "$failed" -eq 0 ] || exit 1
step base step_base --link
[ "$failed" -eq 0 ] || exit 1
# usage: check NAME FUNCTION [ARG...]: a step, unless --only leaves it out
check() {
	! wanted "$1" || step "$@"
}
check autopkgtest step_autopkgtest
check piuparts-cokeeperd step_piuparts "$(deb "$debdir" cokeeperd)"
check piuparts-agent step_piuparts "$(deb "$debdir" cokeeper-agent)"
check piuparts-client step_piuparts "$(deb "$debdir" libcokeeper-client0)" "$(deb "$debdir" libcokeeper-client-dev)"
check piuparts-dkms step_piuparts_dkms
printf 'total %.1fs: %s\n' "$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
	"$([ "$failed" -eq 0 ] && echo 'all checks passed' || echo 'some checks FAILED')"
exit "$failed"
