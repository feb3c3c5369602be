#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Lays out cokeeper.ko's DKMS source tree in DEST: kmod-hook's Kbuild, Makefile, sources and
# in-kernel API header, the uapi header it includes, and a VERSION file with the project's
# version (kmod-hook/Kbuild makes it MODULE_VERSION).  packaging/debian/rules ships this tree
# in cokeeper-dkms; scripts/build-kmod.sh builds from it, so every test build checks it too.
#
#   scripts/dkms-tree.sh DEST      (run from anywhere; DEST is created)
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DEST" >&2; exit 2; }
cd "$(dirname "$0")/.."
dest=$1
mkdir -p "$dest/include/uapi/linux"
cp -a kmod-hook/Kbuild kmod-hook/Makefile kmod-hook/include "$dest/"
find kmod-hook -maxdepth 1 -name '*.[ch]' ! -name '*.mod.c' -exec cp {} "$dest/" \;
mkdir -p "$dest/fastpath"
cp kmod-hook/fastpath/Kbuild "$dest/fastpath/"
find kmod-hook/fastpath -maxdepth 1 -name '*.[ch]' ! -name '*.mod.c' -exec cp {} "$dest/fastpath/" \;
cp include/uapi/linux/cokeeper.h include/uapi/linux/cokeeper_fp.h "$dest/include/uapi/linux/"
sed -n "s/^[[:space:]]*version : '\([^']*\)',.*/\1/p" meson.build >"$dest/VERSION"
[ -s "$dest/VERSION" ] || { echo "dkms-tree: no version in meson.build" >&2; exit 1; }
