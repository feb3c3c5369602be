#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Boots the images of build-images.sh: Xen 4.17 with a PV dom0 in QEMU, no interaction.
# dom0 runs /scenario.sh and powers off, which ends QEMU.  The serial console (Xen's com1,
# which also carries dom0's hvc0) is written to $LOG with host seconds since QEMU started;
# stdout gets only the scenario's LAB/SCENARIO lines, boot milestones and fatal messages.
#
# Exit status: 0 only if the log shows "SCENARIO PASS"; 124 on the overall or the silence
# timeout; 1 otherwise.  QEMU is killed by PID whatever happens (and only the one started
# here: another QEMU may share this machine).
#
# env: OUT=/var/tmp/cokeeper-lab   LOG=$OUT/serial.log   CONSOLE_DIR=dir of $LOG
#      ACCEL=auto|tcg|kvm (auto: KVM only if /dev/kvm opens and a probe boot of Xen on KVM
#        reaches dom0 with HAP; cached per host kernel and QEMU version)
#      CPU=max,-avx,-avx2,-fma,-f16c,-xsave (TCG)   SMP=2   MEM=3072
#      TIMEOUT=1800 (whole run, s)   SILENCE=300 (no serial output for that long = hung:
#        Xen is then asked for its debug keys on the serial line, and QEMU stopped 15 s later)
#      VERBOSE=1 (whole console on stdout)   MODE=test|shell (shell: dom0 shell on stdio)
#      XEN_EXTRA, DOM0_EXTRA (appended to the Xen / dom0 command lines)   PIDFILE
#      DEBIAN_DIR (tests/lab/debian-images.sh's output: dom0 boots dom0.img with systemd, and
#        DEBIAN_GUEST_DISKS=2 copies of guest.img are disks for Debian guests, virtio serials
#        ck-guest-1...; QEMU writes to temporary overlays, the images stay as built)
#      LAB_PAYLOAD (with DEBIAN_DIR: the lab's disk, label ck-lab, from run.sh)
set -euo pipefail
# All in one block, which bash parses before running it: editing this file during a
# run (they take minutes) then cannot change what the running copy does.
{

OUT=${OUT:-/var/tmp/cokeeper-lab}
LOG=${LOG:-$OUT/serial.log}
CONSOLE_DIR=${CONSOLE_DIR:-$(dirname "$LOG")}
ACCEL=${ACCEL:-auto}
# TCG: AVX/AVX2/FMA/F16C and XSAVE emulation corrupted guest userspace at random (glibc's
# AVX2 string functions, then XSAVE state across vCPU switches once domUs ran).
CPU=${CPU:-max,-avx,-avx2,-fma,-f16c,-xsave}
# Two pCPUs for Xen, two vCPUs for dom0.  With one, the toolstack's hotplug scripts, dom0's
# daemons and every guest take turns on a single emulated CPU, which no real Xen host does,
# and the latency benchmark measured mostly that queue (bench/RESULTS.md).  On this 2-core
# host -smp 2 makes boots and live migration slower (the vCPU threads compete with QEMU's
# I/O thread): the whole lab takes ~7.5 min instead of ~6.
SMP=${SMP:-2}
MEM=${MEM:-3072}
TIMEOUT=${TIMEOUT:-1800}
SILENCE=${SILENCE:-300}
VERBOSE=${VERBOSE:-0}
MODE=${MODE:-test}
PIDFILE=${PIDFILE:-$OUT/qemu.pid}
XEN=$OUT/xen-4.17-amd64

DEBIAN_DIR=${DEBIAN_DIR:-}
# The booted Debian systems' scenario may take 4500 s (dom0-init's LAB_TIMEOUT there).
[ -n "$DEBIAN_DIR" ] && [ "$TIMEOUT" -lt 4800 ] && TIMEOUT=4800
dom0_files=("$OUT/dom0.cpio.gz")
[ -n "$DEBIAN_DIR" ] && dom0_files=("$DEBIAN_DIR/dom0.img" "$DEBIAN_DIR/dom0.initrd" "$DEBIAN_DIR/guest.img" "${LAB_PAYLOAD:-lab-payload}")
for f in "$XEN" "$OUT/vmlinux" "${dom0_files[@]}"; do
	[ -f "$f" ] || { echo "boot: $f missing; run build-images.sh" >&2; exit 1; }
done
mkdir -p "$(dirname "$LOG")" "$CONSOLE_DIR" "$OUT/cache"

# smap=0: under TCG Xen faults in create_bounce_frame writing a PV kernel's stack (a user
# page) with CR4.SMAP set, and dom0 dies at its first exception.  smep=0 goes with it.
XEN_CMD="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=$SMP loglvl=all guest_loglvl=all noreboot smap=0 smep=0 ${XEN_EXTRA:-}"
DOM0_CMD="console=hvc0 earlyprintk=xen loglevel=4 cokeeper.mode=$MODE ${DOM0_EXTRA:-}"

now_us() { echo "${EPOCHREALTIME/./}"; }

# ---- accelerator ----------------------------------------------------------------------

# KVM here is PVM-flavoured: /dev/kvm exists but a normal guest hangs silently, and without
# VMX/SVM Xen gets no HAP, which PVH guests need.  So KVM must prove itself on a real boot.
kvm_probe() {
	local log=$OUT/cache/kvm-probe.log pid i
	rm -f "$log"
	timeout -k 2 25 qemu-system-x86_64 -accel kvm -cpu host -smp 1 -m "$MEM" -machine q35 \
		-display none -no-reboot -nodefaults -serial "file:$log" -monitor none \
		-kernel "$XEN" -append "console=com1 com1=115200,8n1 dom0_mem=512M noreboot" \
		-initrd "$OUT/vmlinux console=hvc0 earlyprintk=xen" </dev/null >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 1 40); do
		sleep 0.5
		if grep -q 'HAP.*detected' "$log" 2>/dev/null && grep -q 'Linux version' "$log" 2>/dev/null; then
			kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
	done
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	return 1
}

pick_accel() {
	local key cache
	case $ACCEL in tcg|kvm) echo "$ACCEL (forced)"; return ;; esac
	if ! ( exec 3<>/dev/kvm ) 2>/dev/null; then echo "tcg (no usable /dev/kvm)"; return; fi
	key=$( { uname -r; qemu-system-x86_64 --version | head -n1; grep -m1 'model name' /proc/cpuinfo; } | sha256sum | cut -c1-12)
	cache=$OUT/cache/accel-$key
	if [ ! -f "$cache" ]; then
		if kvm_probe; then echo kvm >"$cache"; else echo tcg >"$cache"; fi
		echo "$(cat "$cache") (probed KVM, cached in $cache)"
		return
	fi
	echo "$(cat "$cache") (cached probe result $cache)"
}
accel_line=$(pick_accel)
case $accel_line in
kvm*) ACCEL_ARGS=(-accel kvm -cpu host) ;;
*) ACCEL_ARGS=(-accel tcg,thread=multi -cpu "$CPU") ;;
esac

QEMU=(qemu-system-x86_64 "${ACCEL_ARGS[@]}" -smp "$SMP" -m "$MEM" -machine q35
	-display none -no-reboot -nodefaults -serial stdio -monitor none -pidfile "$PIDFILE"
	-kernel "$XEN" -append "$XEN_CMD")
if [ -n "$DEBIAN_DIR" ]; then
	# disk FILE SERIAL: a virtio disk; snapshot=on keeps the image as it was built.
	disk() {
		QEMU+=(-drive "file=$1,format=raw,if=none,id=$2,snapshot=on,cache=unsafe"
			-device "virtio-blk-pci,drive=$2,serial=$2")
	}
	disk "$DEBIAN_DIR/dom0.img" ck-dom0
	disk "$LAB_PAYLOAD" ck-lab
	for i in $(seq 1 "${DEBIAN_GUEST_DISKS:-2}"); do disk "$DEBIAN_DIR/guest.img" "ck-guest-$i"; done
	QEMU+=(-initrd "$OUT/vmlinux root=LABEL=ck-dom0 rw $DOM0_CMD,$DEBIAN_DIR/dom0.initrd")
else
	QEMU+=(-initrd "$OUT/vmlinux $DOM0_CMD,$OUT/dom0.cpio.gz")
fi

if [ "$MODE" = shell ]; then
	echo "boot: accel ${accel_line}; dom0 shell on stdio, 'poweroff -f' to leave" >&2
	exec "${QEMU[@]}"
fi

# ---- run ---------------------------------------------------------------------------------

exec 4>"$LOG"
echo "+ accel: $accel_line" >&4
echo "+ ${QEMU[*]}" >&4
echo "boot: accel ${accel_line}, log $LOG"

FIFO=$(mktemp -u "$OUT/.serial.XXXXXX")
IN=$FIFO.in
mkfifo "$FIFO" "$IN"
QPID=
stop_qemu() {
	[ -n "$QPID" ] || return 0
	if kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
		kill -9 "$QPID" 2>/dev/null || true
	fi
	wait "$QPID" 2>/dev/null || true
	QPID=
}
trap 'stop_qemu; rm -f "$FIFO" "$IN" "$PIDFILE"' EXIT
trap 'exit 130' INT TERM

start=$(now_us)
# The serial line's input is a fifo kept open here: silent, unless a hang needs Xen's keys.
"${QEMU[@]}" <>"$IN" >"$FIFO" 2>&1 &
QPID=$!
exec 3<"$FIFO" 5>"$IN"

show_re='LAB (STEP|PASS|FAIL|SKIP|NOTE|dom0)|BENCH |CKCTL |SCENARIO (PASS|FAIL)|^  \| |Xen version [0-9]|Linux version [0-9]'
fatal_re='Hardware Dom0 crashed|Domain 0 crashed|Panic on CPU|Kernel panic - not syncing|LAB dom0 FATAL'
verdict=
kill_at=0
last_out=$start
deadline=$((start + TIMEOUT * 1000000))

emit() {
	local raw=${1//$'\r'/} line t
	t=$(( ($(now_us) - start) / 10000 ))
	printf -v line '[%4d.%02d] %s' $((t / 100)) $((t % 100)) "$raw"
	echo "$line" >&4
	if [ "$VERBOSE" = 1 ] || [[ $raw =~ $fatal_re ]] || [[ $raw =~ $show_re ]]; then
		echo "$line"
	fi
	if [[ $raw =~ $fatal_re ]] && [ "$kill_at" = 0 ]; then
		# keep 3 s of output: the register dump and call trace come after the headline
		verdict="fatal: $raw"
		kill_at=$(($(now_us) + 3000000))
	elif [[ $raw == *LAB-END* ]] && [ "$kill_at" = 0 ]; then
		# power-off normally ends QEMU at once; do not wait forever if it does not
		kill_at=$(($(now_us) + 20000000))
	fi
}

partial=
eof=0
while :; do
	line=
	if IFS= read -r -t 1 -u 3 line; then
		emit "$partial$line"
		partial=
		last_out=$(now_us)
	else
		rc=$?
		if [ "$rc" -gt 128 ]; then
			partial+=$line    # timed out mid-line: read kept what it had
			[ -n "$line" ] && last_out=$(now_us)
		else
			[ -n "$partial$line" ] && emit "$partial$line"
			eof=1             # QEMU closed the serial: it is exiting
			break
		fi
	fi
	t=$(now_us)
	if [ "$kill_at" != 0 ] && [ "$t" -ge "$kill_at" ]; then break; fi
	if [ "$t" -ge "$deadline" ]; then verdict="timeout after ${TIMEOUT}s"; break; fi
	if [ "$kill_at" = 0 ] && [ $((t - last_out)) -ge $((SILENCE * 1000000)) ]; then
		# A hung dom0 prints nothing more; Xen still answers its debug keys (CTRL-a three
		# times moves the serial input to Xen): q domains and vCPUs, r run queues, 0 dom0's
		# registers.  Their output lands in the log before QEMU is stopped.
		verdict="no serial output for ${SILENCE}s"
		emit "+ boot: $verdict; asking Xen for debug keys q r 0"
		printf '\001\001\001' >&5
		sleep 0.5
		printf 'qr0' >&5
		kill_at=$((t + 15000000))
	fi
done
exec 3<&-

# proc_state PID: R, S, Z (exited, not yet reaped: kill -0 still succeeds) or gone.
proc_state() { local st; read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" && echo "$st" || echo gone; }
if [ "$eof" = 1 ]; then
	for _ in $(seq 1 20); do
		case $(proc_state "$QPID") in Z|gone) break ;; esac
		sleep 0.5
	done
fi
qrc=0
case $(proc_state "$QPID") in
Z|gone)
	wait "$QPID" || qrc=$?
	QPID= ;;
*)
	stop_qemu
	qrc=killed ;;
esac
wall=$(( ($(now_us) - start) / 100000 ))

# Guest consoles and dom0-side logs that the scenario dumped at its end.
awk -v dir="$CONSOLE_DIR" '
	{ sub(/^\[ *[0-9]+\.[0-9]+\] /, "") }
	/^LAB CONSOLE BEGIN / { f = $4; gsub(/[^A-Za-z0-9._-]/, "_", f); f = dir "/" f; printf "" > f; next }
	/^LAB CONSOLE END / { if (f != "") close(f); f = ""; next }
	f != "" && /^\| ?/ { sub(/^\| ?/, ""); print > f }
' "$LOG"

if grep -q 'SCENARIO PASS' "$LOG"; then
	result=pass
	rc=0
elif [[ $verdict == timeout* || $verdict == no\ serial* ]]; then
	result="FAIL ($verdict)"
	rc=124
else
	result="FAIL${verdict:+ ($verdict)}"
	rc=1
fi
msg="boot: qemu rc=$qrc after $((wall / 10)).$((wall % 10))s wall, result $result"
echo "$msg" >&4
echo "$msg"
exit $rc
}
exit
