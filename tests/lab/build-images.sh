#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds what the Xen lab boots, from installed Debian packages only (no debootstrap, no
# network: the host is the same Debian release as the images, so its binaries run there):
#
#   $OUT/xen-4.17-amd64   Xen, gunzipped: an ELF32 with a multiboot1 header, so that
#                         qemu -kernel boots it without GRUB or an ISO
#   $OUT/vmlinux          the Debian kernel as an uncompressed ELF, for dom0 and the domUs
#   $OUT/dom0.cpio.gz     dom0 initramfs: cached base archive ++ this run's overlay archive
#   $OUT/domU.cpio.gz     domU initramfs (also inside dom0 as /boot/domU.cpio.gz)
#   $OUT/images.txt       what the overlays hold (for the run log)
#
# Everything that only changes with the installed packages (Xen, vmlinux, busybox trees,
# Xen tools, modules) is cached under $OUT/cache/base-<key>, the key being a hash of the
# package versions, the host files copied, and this script.  A rebuild after only the
# project's binaries changed therefore writes two small overlays and takes about a second.
#
# usage: build-images.sh [options]            (every option also has an env form)
#   --out DIR               OUT         output directory (default /var/tmp/cokeeper-lab)
#   --kver VER              KVER        kernel ABI (default: the installed linux-headers)
#   --dom0-bin PATH         DOM0_BINS   copied to dom0 /usr/local/bin with its ldd libraries
#   --domu-bin PATH         DOMU_BINS   same, for the domU image
#   --dom0-file SRC[:DEST]  DOM0_FILES  copied to DEST (absolute; default /<name>) in dom0
#   --domu-file SRC[:DEST]  DOMU_FILES  same for the domU, e.g. cokeeper.ko:/lib/modules/cokeeper.ko
#   --scenario FILE         SCENARIO    dom0's /scenario.sh (default scenario-smoke.sh)
#   --rebuild-base                      ignore the cache
# The bin/file options repeat; the env forms are space-separated lists.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/var/tmp/cokeeper-lab}
XENV=4.17
XENBIN=/usr/lib/xen-$XENV/bin
read -r -a dom0_bins <<<"${DOM0_BINS:-}"
read -r -a domu_bins <<<"${DOMU_BINS:-}"
read -r -a dom0_files <<<"${DOM0_FILES:-}"
read -r -a domu_files <<<"${DOMU_FILES:-}"
scenario=${SCENARIO:-$HERE/scenario-smoke.sh}
rebuild_base=0

die() { echo "build-images: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--out) OUT=$2; shift ;;
	--kver) KVER=$2; shift ;;
	--dom0-bin) dom0_bins+=("$2"); shift ;;
	--domu-bin) domu_bins+=("$2"); shift ;;
	--dom0-file) dom0_files+=("$2"); shift ;;
	--domu-file) domu_files+=("$2"); shift ;;
	--scenario) scenario=$2; shift ;;
	--rebuild-base) rebuild_base=1 ;;
	-h|--help) sed -n '3,30p' "$0"; exit 0 ;;
	*) die "unknown option '$1' (--help)" ;;
	esac
	shift
done

# The module under test is built against the installed headers, so the booted kernel must be
# exactly that ABI; never "the newest image", which apt may have moved on.
if [ -z "${KVER:-}" ]; then
	KVER=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed -n 's|.*/linux-headers-||p' |
		grep -v -e cloud -e rt | sort -V | tail -n1 || true)
fi
[ -n "${KVER:-}" ] || die "no linux-headers-*-amd64 installed; run scripts/install-deps.sh --lab"
[ -f "/boot/vmlinuz-$KVER" ] || die "/boot/vmlinuz-$KVER missing: install linux-image-$KVER"
[ -d "/lib/modules/$KVER" ] || die "/lib/modules/$KVER missing: install linux-image-$KVER"
[ -f "/boot/xen-$XENV-amd64.gz" ] || die "/boot/xen-$XENV-amd64.gz missing: install xen-hypervisor-$XENV-amd64"
[ -f "$scenario" ] || die "scenario '$scenario' not found"
# Debian's own python3 (python3 is in the lab package list), not whatever PATH prefers.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

mkdir -p "$OUT/cache"
OUT=$(cd "$OUT" && pwd)
# Two builds into one OUT (a developer and a test run) would interleave their archives.
exec 9>"$OUT/.build.lock"
flock 9

t0=${EPOCHREALTIME/./}
elapsed() { local d=$(( ${EPOCHREALTIME/./} - t0 )); printf '%d.%01d' $((d / 1000000)) $((d % 1000000 / 100000)); }

# ---- helpers shared by the base and overlay trees --------------------------------------

# libs_of FILE: sets LIBS to the libraries (absolute paths) FILE loads, per ldd.  A library
# that is "not found" stops the build here instead of as an exec failure inside a guest.
libs_of() {
	local out
	LIBS=()
	if ! out=$(ldd "$1" 2>&1); then
		[[ $out == *"not a dynamic executable"* ]] && return 0
		die "ldd $1: $out"
	fi
	if grep -q 'not found' <<<"$out"; then
		die "$1: missing libraries: $(grep 'not found' <<<"$out" | tr -s '\t\n' '  ')"
	fi
	mapfile -t LIBS < <(grep -o '/[^ ]*' <<<"$out")
}

# copy_libs ROOT SKIPROOT FILE...: each ldd library into ROOT at its host path, unless
# SKIPROOT (the base tree, for overlays) already has it.
copy_libs() {
	local root=$1 skip=$2 f l
	shift 2
	for f in "$@"; do
		libs_of "$f"
		for l in "${LIBS[@]}"; do
			[ -e "$root$l" ] && continue
			[ -n "$skip" ] && [ -e "$skip$l" ] && continue
			mkdir -p "$root${l%/*}"
			cp -L "$l" "$root$l"
		done
	done
}

# copy_bin ROOT FILE...: the binary at its own path, plus its libraries.
copy_bin() {
	local root=$1 f
	shift
	for f in "$@"; do
		mkdir -p "$root${f%/*}"
		cp -L "$f" "$root$f"
		copy_libs "$root" "" "$f"
	done
}

# add_modules ROOT MOD...: the modules with their dependencies, then depmod so that a plain
# modprobe works in the guest.  --show-depends takes one module: extra names would be taken
# as module parameters.
add_modules() {
	local root=$1 m p x
	shift
	for m in $(for x in "$@"; do modprobe -S "$KVER" --show-depends "$x"; done |
		awk '$1 == "insmod" { print $2 }' | sort -u); do
		p=${m#/}
		mkdir -p "$root/${p%/*}"
		cp "$m" "$root/$p"
	done
	cp /lib/modules/"$KVER"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$KVER/" 2>/dev/null || true
	depmod -b "$root" "$KVER"
}

base_tree() {
	local root=$1 a
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,proc,sys,dev,run,tmp,etc,root,var/log,var/lib,mnt,lib/x86_64-linux-gnu}
	ln -s ../run "$root/var/run"
	cp /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	# libxenstore and libxl call pthread_cancel, which dlopen()s libgcc_s; ldd cannot see
	# that, and without it xl aborts in the background and on_poweroff handling is lost.
	cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$root/lib/x86_64-linux-gnu/"
}

# Sorted names and root ownership: the archive depends only on the tree's content.
mkcpio() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); }

# ---- base: cached per package versions ---------------------------------------------------

ip_bin=$(command -v ip) || die "ip (iproute2) not installed"
jq_bin=$(command -v jq || true)
dom0_host_bins=("$XENBIN/xl" "$XENBIN/xenstored" "$XENBIN/xenconsoled" "$XENBIN/xen-init-dom0"
	"$XENBIN/xenstore-control" "$XENBIN/libxl-save-helper" "$XENBIN/lsevtchn"
	/usr/bin/xenstore /bin/bash "$ip_bin" ${jq_bin:+"$jq_bin"} /usr/sbin/dnsmasq)
domu_host_bins=(/usr/bin/xenstore)
for f in "${dom0_host_bins[@]}"; do [ -x "$f" ] || die "$f missing (scripts/install-deps.sh --lab)"; done

base_key() {
	local f
	echo "kver $KVER"
	cat "$0" "$HERE/src/lab-ms.c" | sha256sum    # content only: not the path it was run by
	dpkg-query -W -f '${Package}=${Version}\n' "xen-hypervisor-$XENV-amd64" "xen-utils-$XENV" \
		xenstore-utils "linux-image-$KVER" busybox-static bash iproute2 libc6 libgcc-s1 jq \
		dnsmasq-base 2>/dev/null || true
	# Libraries come from many more packages than listed; their size and mtime catch an upgrade.
	for f in "${dom0_host_bins[@]}" "${domu_host_bins[@]}"; do
		libs_of "$f"
		stat -L -c '%n %s %Y' "$f" "${LIBS[@]}"
	done | sort -u
}
key=$(base_key | sha256sum | cut -c1-16)
BASE=$OUT/cache/base-$key

if [ "$rebuild_base" = 1 ] || [ ! -f "$BASE/done" ]; then
	echo "build-images: base $key not cached, building (kernel $KVER, Xen $XENV)"
	rm -rf "$OUT"/cache/base-*
	mkdir -p "$BASE"

	zcat "/boot/xen-$XENV-amd64.gz" >"$BASE/xen-$XENV-amd64"
	# The bzImage's payload is XZ.  Decompressing it under TCG is slow, in Xen for dom0
	# (4.5 s) and in libxenguest for each domU (10-17 s per xl create); both accept a
	# plain ELF vmlinux, which costs nothing to load.
	"$PYTHON" - "/boot/vmlinuz-$KVER" "$BASE/vmlinux" <<-'PY'
		import lzma, sys
		d = open(sys.argv[1], 'rb').read()
		off = d.find(b'\xfd7zXZ\x00')
		assert off > 0, "no xz payload in the bzImage"
		out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[off:])
		assert out[:4] == b'\x7fELF', "payload is not an ELF vmlinux"
		open(sys.argv[2], 'wb').write(out)
	PY

	R=$BASE/rootfs-domU
	base_tree "$R"
	# nf_tables and conntrack: the fast path's scenario shows that rules and conntrack on
	# both guests see what the ring carries as they would on the vif (nft, from run.sh).
	add_modules "$R" xen-evtchn xen-gntdev xen-gntalloc xenfs xen-netfront nf_tables nft_ct
	# xenstore-write lets the guest publish its view under its own data/ (the reporter).
	copy_bin "$R" /usr/bin/xenstore
	for t in read write exists rm list ls watch; do ln -sf xenstore "$R/usr/bin/xenstore-$t"; done
	mkcpio "$R" >"$BASE/domU-base.cpio"

	R=$BASE/rootfs-dom0
	base_tree "$R"
	add_modules "$R" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback xen-netback bridge
	# libxl spawns libxl-save-helper for every save/restore/migrate; the stock vif-bridge
	# hotplug script is #!/bin/bash and uses ip(8); jq is there for JSON assertions; dnsmasq
	# is the DHCP server for guests without ip= on their vif (scenario-lib.sh: dhcp_start).
	copy_bin "$R" "${dom0_host_bins[@]}"
	for t in read write exists rm list ls watch chmod; do ln -sf xenstore "$R/usr/bin/xenstore-$t"; done
	ln -sf "$XENBIN/xl" "$R/usr/sbin/xl"
	cp -r /etc/xen "$R/etc/xen"
	mkdir -p "$R"/var/lib/xen "$R"/var/lib/xenstored "$R"/var/log/xen/console "$R"/boot "$R"/usr/lib/cokeeper-lab
	cp "$BASE/vmlinux" "$R/boot/vmlinux"
	gcc -O2 -Wall -static -o "$R/usr/lib/cokeeper-lab/lab-ms" "$HERE/src/lab-ms.c"
	mkcpio "$R" | gzip -1 >"$BASE/dom0-base.cpio.gz"

	touch "$BASE/done"
	echo "build-images: base built in $(elapsed)s"
else
	echo "build-images: base $key cached"
fi
# Hard links: free, and OUT keeps the stable names that boot.sh and people use.
ln -f "$BASE/xen-$XENV-amd64" "$OUT/xen-$XENV-amd64"
ln -f "$BASE/vmlinux" "$OUT/vmlinux"

# ---- overlays: the scenario and the project's binaries, rebuilt every time -------------

manifest=$OUT/images.txt
: >"$manifest"

# add_extra_files ROOT SPEC...: SPEC is SRC or SRC:DEST.
add_extra_files() {
	local root=$1 spec src dest
	shift
	for spec in "$@"; do
		src=${spec%%:*}
		dest=${spec#"$src"}; dest=${dest#:}; dest=${dest:-/${src##*/}}
		[ -f "$src" ] || die "file '$src' not found"
		mkdir -p "$root${dest%/*}"
		cp -L "$src" "$root$dest"
		echo "$(basename "$root") $dest <- $src" >>"$manifest"
	done
}

WORK=$(mktemp -d "$OUT/.overlay.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

R=$WORK/domU
mkdir -p "$R/usr/local/bin"
install -m 0755 "$HERE/rootfs/domU-init" "$R/init"
install -m 0755 "$HERE/rootfs/ck-report" "$R/usr/local/bin/ck-report"
install -m 0755 "$HERE/rootfs/lab-agent" "$R/usr/local/bin/lab-agent"
install -m 0755 "$HERE/rootfs/ck-apps" "$R/usr/local/bin/ck-apps"
install -D -m 0755 "$HERE/rootfs/udhcpc.script" "$R/usr/share/udhcpc/default.script"
for f in "${domu_bins[@]}"; do
	[ -x "$f" ] || die "binary '$f' not found or not executable"
	copy_libs "$R" "$BASE/rootfs-domU" "$f"
	cp -L "$f" "$R/usr/local/bin/${f##*/}"
	echo "domU /usr/local/bin/${f##*/} <- $f" >>"$manifest"
done
add_extra_files "$R" "${domu_files[@]}"
# A module whose dependencies the domU lacks would fail insmod with "Unknown symbol";
# say so now rather than in a guest console.
for spec in "${domu_files[@]}"; do
	src=${spec%%:*}
	[[ $src == *.ko ]] || continue
	for dep in $(modinfo -F depends "$src" 2>/dev/null | tr ',' ' '); do
		grep -q "/$dep.ko" "$BASE/rootfs-domU/lib/modules/$KVER/modules.dep" ||
			echo "build-images: WARNING: $src depends on $dep, which the domU image lacks" >&2
	done
done
# One gzip stream over two concatenated cpio archives: libxenguest gunzips a domU ramdisk
# itself and would stop at the end of a first gzip member.
cat "$BASE/domU-base.cpio" <(mkcpio "$R") | gzip -1 >"$OUT/domU.cpio.gz.tmp"
mv "$OUT/domU.cpio.gz.tmp" "$OUT/domU.cpio.gz"

R=$WORK/dom0
mkdir -p "$R/usr/local/bin" "$R/usr/lib/cokeeper-lab" "$R/boot"
install -m 0755 "$HERE/rootfs/dom0-init" "$R/init"
install -m 0755 "$scenario" "$R/scenario.sh"
install -m 0644 "$HERE/scenario-lib.sh" "$R/usr/lib/cokeeper-lab/scenario-lib.sh"
install -m 0644 "$HERE/bench-lib.sh" "$HERE/fastpath-lib.sh" "$HERE/apps-lib.sh" \
	"$R/usr/lib/cokeeper-lab/"
cp "$OUT/domU.cpio.gz" "$R/boot/domU.cpio.gz"
echo "dom0 /scenario.sh <- $scenario" >>"$manifest"
for f in "${dom0_bins[@]}"; do
	[ -x "$f" ] || die "binary '$f' not found or not executable"
	copy_libs "$R" "$BASE/rootfs-dom0" "$f"
	cp -L "$f" "$R/usr/local/bin/${f##*/}"
	echo "dom0 /usr/local/bin/${f##*/} <- $f" >>"$manifest"
done
add_extra_files "$R" "${dom0_files[@]}"
# The kernel unpacks concatenated compressed archives in order, later files replacing
# earlier ones, so the 30 MB base is never recompressed.
cat "$BASE/dom0-base.cpio.gz" <(mkcpio "$R" | gzip -1) >"$OUT/dom0.cpio.gz.tmp"
mv "$OUT/dom0.cpio.gz.tmp" "$OUT/dom0.cpio.gz"

echo "build-images: kernel $KVER, base $key, dom0 $(du -m "$OUT/dom0.cpio.gz" | cut -f1) MB," \
	"domU $(du -k "$OUT/domU.cpio.gz" | cut -f1) KB, $(wc -l <"$manifest") overlay entries, $(elapsed)s"
