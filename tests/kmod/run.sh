#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Tests cokeeper.ko in Debian's 6.1 kernel under QEMU (TCG, no KVM, no Xen needed):
# builds the module (scripts/build-kmod.sh), genl-probe and a busybox initramfs, boots, and
# exits 0 only if the serial log shows "KMOD-TESTS PASS".
#
#   tests/kmod/run.sh            KVER=…  TIMEOUT=seconds (300)  KEEP=1 keeps the work dir
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
timeout_s=${TIMEOUT:-300}

for tool in qemu-system-x86_64 cpio gzip gcc pkg-config modinfo; do
	command -v "$tool" >/dev/null ||
		{ echo "run.sh: $tool is missing (scripts/install-deps.sh --lab)" >&2; exit 1; }
done
# ldd fails on a static binary, which is what the initramfs needs.
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
	echo "run.sh: needs busybox-static (scripts/install-deps.sh --lab)" >&2
	exit 1
fi

ko=$("$repo/scripts/build-kmod.sh" ${KVER:+"$KVER"})
kver=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || { echo "run.sh: no $kernel to boot (install-deps.sh --lab)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/cokeeper-kmod.XXXXXX)
qpid=
cleanup() {
	# Whatever happened, no QEMU survives us.
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
		sleep 1
		kill -9 "$qpid" 2>/dev/null || true
	fi
	if [ "${KEEP:-0}" = 1 ] || [ "${passed:-0}" != 1 ]; then
		echo "run.sh: work dir kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM	# through cleanup too

# A stand-in fast-path module: links against cokeeper's exported symbols.
mkdir "$work/fastpath"
cp "$here/fastpath/Kbuild" "$here/fastpath/ckfp.c" "$work/fastpath/"
if ! make -C "/usr/src/linux-headers-$kver" M="$work/fastpath" W=1 \
	COKEEPER_API="$repo/kmod-hook/include" \
	KBUILD_EXTRA_SYMBOLS="$(dirname "$ko")/Module.symvers" modules >"$work/fastpath.log" 2>&1 ||
	grep -q 'warning:' "$work/fastpath.log"; then
	cat "$work/fastpath.log" >&2
	exit 1
fi

# The probe, dynamically linked as on a real guest; its libraries go into the initramfs.
gcc -O2 -g -Wall -Wextra -Werror -I"$repo/include/uapi" $(pkg-config --cflags libnl-genl-3.0) \
	-o "$work/genl-probe" "$here/genl-probe.c" "$here/probe-nl.c" \
	$(pkg-config --libs libnl-genl-3.0)

# The userspace that talks to the module on a real guest: the agent's kernel sink (driven by
# sink-test) and cokeeper-query, from the project's meson build.
build=${BUILD:-$repo/build}
[ -f "$build/build.ninja" ] || meson setup "$build" "$repo" >/dev/null
ninja -C "$build" tests/kmod/sink-test tools/cokeeper-query >/dev/null

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,lib/modules}
install -m 0755 "$build/tests/kmod/sink-test" "$root/bin/sink-test"
install -m 0755 "$build/tools/cokeeper-query" "$root/bin/cokeeper-query"
printf 'root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
install -m 0755 /bin/busybox "$root/bin/busybox"	# busybox-static: no libraries
ln -s busybox "$root/bin/sh"
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$work/genl-probe" "$root/bin/genl-probe"
install -m 0644 "$ko" "$root/cokeeper.ko"
install -m 0644 "$(dirname "$ko")/cokeeper-fp.ko" "$root/cokeeper-fp.ko"
install -m 0644 "$work/fastpath/ckfp.ko" "$root/ckfp.ko"
install -m 0644 "/lib/modules/$kver/kernel/drivers/net/dummy.ko" "$root/lib/modules/dummy.ko"
for lib in $(for bin in "$work/genl-probe" "$root/bin/sink-test" "$root/bin/cokeeper-query"; do
	ldd "$bin"; done | grep -o '/[^ ]*' | sort -u); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"

log=$work/serial.log
echo "run.sh: booting $kernel (log: $log)" >&2
start=$(date +%s)
# -cpu: TCG's AVX and XSAVE emulation corrupt userspace now and then (shared/xenlab/README).
# preempt=full lets the self-test's reader be preempted inside its RCU read sections;
# init_on_free=1 turns a use after free into a visible failure; oops=panic ends the boot.
qemu-system-x86_64 -accel tcg -cpu max,-avx,-avx2,-fma,-f16c,-xsave \
	-smp 1 -m 1024 -nographic -no-reboot -nic none \
	-kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 oops=panic quiet preempt=full init_on_free=1" \
	</dev/null >"$log" 2>&1 &
qpid=$!
# The guest powers off (or panics, and -no-reboot ends QEMU) by itself; this is the backstop.
while kill -0 "$qpid" 2>/dev/null && [ $(($(date +%s) - start)) -lt "$timeout_s" ]; do
	sleep 1
done
if kill -0 "$qpid" 2>/dev/null; then
	echo "run.sh: QEMU still running after $timeout_s s: killed" >&2
	kill "$qpid"
fi
wait "$qpid" || true
qpid=
echo "run.sh: QEMU ran $(($(date +%s) - start)) s" >&2

grep -E '^(PASS|FAIL|SKIP) |^     |^dmesg: |^KMOD-|^genl-probe:' "$log" | tr -d '\r' || true
if grep -q 'KMOD-TESTS PASS' "$log"; then
	passed=1
	exit 0
fi
echo "run.sh: no KMOD-TESTS PASS in the serial log; its tail:" >&2
tail -n 40 "$log" | tr -d '\r' >&2
exit 1
