#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds tests/abi/consumer.c the way a user of libcokeeper-client-dev would: against the
# installed header, .pc and library (meson install --destdir), with no pkg-config file on the
# search path but ours: the header includes libc's only, so libcokeeper-client-dev needs no
# other -dev package to compile and link with the shared library.  If the .pc requires
# anything, pkg-config fails here as it would on a user's machine.
#
# usage: check-consumer.sh MESON BUILD-DIR CONSUMER.c CC [CC-ARGS...]
set -eu
meson=$1 build=$2 src=$3
shift 3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root
"$meson" install -C "$build" --no-rebuild --quiet --tags devel,runtime --destdir "$dest" \
	>"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; exit 1; }

pc=$(find "$dest" -name cokeeper-client.pc)
[ -n "$pc" ] || { echo "cokeeper-client.pc was not installed" >&2; exit 1; }

export PKG_CONFIG_LIBDIR="$(dirname "$pc")" PKG_CONFIG_PATH=
export PKG_CONFIG_SYSROOT_DIR="$dest"
# With prefix=/usr the .pc's -I/usr/include is a system directory pkg-config would drop.
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
flags=$(pkg-config --cflags --libs cokeeper-client)
echo "pkg-config --cflags --libs cokeeper-client: $flags"
case " $flags " in
*json-c*|*protobuf*|*uuid*|*libnl3*|*-lnl*)
	echo "the public header needs none of these: $flags" >&2; exit 1;;
esac

# shellcheck disable=SC2086 # $flags is a list of words
"$@" -std=c11 -Wall -Wextra -Werror -pedantic -o "$tmp/consumer" "$src" $flags
libdir=$(dirname "$(find "$dest" -name 'libcokeeper-client.so.*' | head -n 1)")
LD_LIBRARY_PATH=$libdir LD_BIND_NOW=1 "$tmp/consumer"
echo "consumer.c built and ran against the installed library"
