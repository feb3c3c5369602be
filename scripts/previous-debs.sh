#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds the previous release's Debian packages, for the lab's upgrade test (tests/lab/run.sh
# LAB_DEBIAN_PREVIOUS): the commit packaging/previous-release names, checked out on its own
# and built by its own scripts/build-debs.sh (--nocheck: its tests ran when it was released).
# Kept under /var/tmp/cokeeper-debs/previous-<commit>/ and reused while the commit stays.
#
#   scripts/previous-debs.sh      prints the directory holding the .debs
set -euo pipefail
cd "$(dirname "$0")/.."
read -r version commit < <(grep -v "^#" packaging/previous-release)
out=/var/tmp/cokeeper-debs/previous-$commit
if ls "$out"/cokeeperd_"$version"_*.deb >/dev/null 2>&1; then
	echo "$out"
	exit 0
fi
# A shallow clone (CI's may be) fetches just that commit from where it was cloned from.
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
	git fetch --quiet --depth=1 origin "$commit" >&2 ||
		{ echo "previous-debs: commit $commit ($version) is neither in this clone's history nor fetchable from origin" >&2; exit 1; }
fi
tree=$(mktemp -d /var/tmp/cokeeper-previous.XXXXXX)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"' EXIT
git worktree add --detach "$tree" "$commit" >/dev/null
rm -rf "$out"
"$tree/scripts/build-debs.sh" --nocheck --out "$out" >&2
ls "$out"/cokeeperd_"$version"_*.deb >/dev/null ||
	{ echo "previous-debs: $commit built no cokeeperd $version" >&2; exit 1; }
echo "$out"
