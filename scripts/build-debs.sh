#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds CoKeeper's Debian source package and binary packages the way a Debian build daemon
# would: from the committed tree only (git archive HEAD: uncommitted changes are not in the
# packages), with no network (the build runs in a network namespace of its own), not as root
# (started as root, it builds as the unprivileged user nobody) and with no QEMU or Xen (the
# package build runs the unit and sim suites only: packaging/debian/rules).
#
#   scripts/build-debs.sh [--out DIR] [--nocheck] [--lintian] [--worktree]
#
#   --out DIR    where the results go (default build-debs/ in the checkout): the .dsc, the
#                orig and debian tarballs, the .debs, .buildinfo, .changes, build.log
#   --nocheck    skip the package build's tests (DEB_BUILD_OPTIONS=nocheck)
#   --lintian    then run lintian on the .changes: any error or warning not overridden (with
#                its reason, in packaging/debian/*lintian-overrides) fails; lintian.txt
#   --worktree   build the tracked files as they are now, uncommitted changes included (for
#                trying a packaging change; new files must be git-added)
#
# The build dependencies (packaging/debian/control) must be installed: scripts/install-deps.sh
# --debs installs them.  Prints the output directory.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$repo/build-debs
nocheck=0
lintian=0
tree=HEAD

die() { echo "build-debs: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift ;;
	--nocheck) nocheck=1 ;;
	--lintian) lintian=1 ;;
	--worktree) tree=worktree ;;
	-h|--help) sed -n '3,20p' "$0"; exit 0 ;;
	*) die "unknown option '$1' (--help)" ;;
	esac
	shift
done

command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage missing: scripts/install-deps.sh --debs"
git rev-parse --verify -q HEAD >/dev/null || die "not a git checkout with a commit"

upstream=$(sed -n "s/^[[:space:]]*version : '\([^']*\)',.*/\1/p" meson.build | head -n1)
version=$(dpkg-parsechangelog -l packaging/debian/changelog -SVersion)
[ "${version%-*}" = "$upstream" ] ||
	die "packaging/debian/changelog says $version, meson.build $upstream: add a changelog entry"
if [ "$tree" = worktree ]; then
	tree=$(git stash create)
	tree=${tree:-HEAD}
elif [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "build-debs: note: uncommitted changes are not in the packages (HEAD is built)" >&2
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/cokeeper-debs.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/cokeeper-$upstream
git archive --format=tar --prefix="cokeeper-$upstream/" "$tree" | xz -T0 -6 >"$work/cokeeper_$upstream.orig.tar.xz"
tar -C "$work" -xf "$work/cokeeper_$upstream.orig.tar.xz"
# The Debian directory lives under packaging/ upstream; the source package's debian/ is it.
cp -a "$src/packaging/debian" "$src/debian"
chmod +x "$src/debian/rules"

opts="parallel=$(nproc)"
[ "$nocheck" -eq 1 ] && opts="$opts nocheck"
# A TMPDIR of the build's own: what its suites leave running or on disk is found below.
mkdir "$work/tmp"
build=(env DEB_BUILD_OPTIONS="$opts" HOME="$work" TMPDIR="$work/tmp" dpkg-buildpackage -us -uc)
if [ "$(id -u)" -eq 0 ]; then
	chown -R nobody:nogroup "$work"
	build=(unshare --net setpriv --reuid=nobody --regid=nogroup --clear-groups "${build[@]}")
elif unshare --user --net --map-current-user true 2>/dev/null; then
	build=(unshare --user --net --map-current-user "${build[@]}")
else
	echo "build-debs: note: cannot make a network namespace here; building with the network" >&2
fi

echo "build-debs: building cokeeper $version in $work (log: $out/build.log)" >&2
mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.dsc "$out"/*.tar.* "$out"/*.changes "$out"/*.buildinfo
if ! (cd "$src" && "${build[@]}") >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	die "dpkg-buildpackage failed (whole log: $out/build.log)"
fi
tests/leftovers.py "$work/tmp" "the package build's suites" >&2 ||
	die "the package build's suites left processes or files behind (above)"
for f in "$work"/*.deb "$work"/*.dsc "$work"/*.tar.* "$work"/*.changes "$work"/*.buildinfo; do
	cp "$f" "$out/"
done
ls "$out"/*.deb "$out"/*.dsc >&2

if [ "$lintian" -eq 1 ]; then
	command -v lintian >/dev/null || die "lintian missing: scripts/install-deps.sh --debs"
	changes=$(ls "$out"/*.changes | head -n1)
	# Info tags are shown too; errors and warnings that are not overridden fail.  (Not as
	# root, which lintian advises against; --show-overrides would count overridden ones.)
	run_lintian=(lintian --info --display-info --fail-on error,warning "$changes")
	[ "$(id -u)" -eq 0 ] && run_lintian=(setpriv --reuid=nobody --regid=nogroup --clear-groups
		env HOME=/tmp "${run_lintian[@]}")
	if "${run_lintian[@]}" >"$out/lintian.txt" 2>&1; then
		echo "build-debs: lintian: no errors, no warnings left;" \
			"$(cat packaging/debian/*lintian-overrides 2>/dev/null | grep -cv '^#') overridden" \
			"(packaging/debian/*lintian-overrides, each with its reason)" >&2
	else
		cat "$out/lintian.txt" >&2
		die "lintian found errors or warnings ($out/lintian.txt)"
	fi
fi
echo "$out"
