#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs everything CoKeeper's build, tests and real-Xen lab need on Debian 12.
# Idempotent: packages already present are skipped without touching apt.
#
#   scripts/install-deps.sh          build + unit/sim tests + fuzzing + kernel module
#   scripts/install-deps.sh --lab    the above plus Xen, QEMU and the pinned kernel image
#   scripts/install-deps.sh --debs   the above plus what scripts/build-debs.sh needs
#                                    (debhelper, dh-dkms, lintian), debootstrap, and
#                                    autopkgtest and piuparts (scripts/debian-checks.sh)
set -euo pipefail

want_lab=0
want_debs=0
for arg in "$@"; do
	case "$arg" in
	--lab) want_lab=1 ;;
	--debs) want_debs=1 ;;
	-h|--help) sed -n '3,10p' "$0"; exit 0 ;;
	*) echo "install-deps: unknown option '$arg'" >&2; exit 2 ;;
	esac
done

# python3-prometheus-client: the metrics tests' OpenMetrics and Prometheus text parsers.
build_pkgs=(
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev make
	protobuf-c-compiler libprotobuf-c-dev
	libsystemd-dev libxen-dev libnl-3-dev libnl-genl-3-dev
	check uthash-dev libjson-c-dev uuid-dev sparse
	scdoc man-db bash-completion
	python3-prometheus-client
)
# The package build's Build-Depends beyond build_pkgs (packaging/debian/control), lintian,
# debootstrap for the install test in a fresh Debian chroot, and Debian's own checks
# (scripts/debian-checks.sh): uidmap's newuidmap for autopkgtest-virt-unshare.
debs_pkgs=(
	dpkg-dev debhelper dh-dkms pkgconf lintian debootstrap
	autopkgtest piuparts uidmap
)
# dnsmasq-base: the dnsmasq binary without the dnsmasq package's system service; the lab
# starts it in dom0 as the guests' DHCP server (scenario-lib.sh: dhcp_start).
# iperf3, sockperf, redis-tools: the applications the lab's guests measure the fast path with
# (copied into their image; redis-tools carries the server too, as redis-check-rdb).
lab_pkgs=(
	qemu-system-x86 xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
	busybox-static cpio python3 iproute2 jq nftables dnsmasq-base
	iperf3 sockperf redis-tools
)

missing=()
check_missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

updated=0
apt_update_once() {
	[ "$updated" -eq 1 ] && return 0
	echo "install-deps: apt-get update" >&2
	as_root apt-get update -q >/dev/null
	updated=1
}

# The kernel module is built against one kernel ABI and must match the kernel that boots in
# the lab, so both are pinned to the version the linux-headers-amd64 meta package names now.
# KVER may be set by the caller to pin an older ABI explicitly.
if [ -z "${KVER:-}" ]; then
	KVER=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed -n 's|.*/linux-headers-||p' |
		grep -v -e cloud -e rt | sort -V | tail -n1 || true)
	if [ -z "$KVER" ]; then
		apt_update_once
		KVER=$(apt-cache depends linux-headers-amd64 2>/dev/null |
			sed -n 's/.*Depends: linux-headers-\(.*\)$/\1/p' | head -n1)
	fi
fi
[ -n "$KVER" ] || { echo "install-deps: cannot resolve the kernel version to pin" >&2; exit 1; }

check_missing "${build_pkgs[@]}" "linux-headers-$KVER"
if [ "$want_debs" -eq 1 ]; then
	check_missing "${debs_pkgs[@]}"
fi
if [ "$want_lab" -eq 1 ]; then
	check_missing "${lab_pkgs[@]}" "linux-image-$KVER"
fi

if [ "${#missing[@]}" -gt 0 ]; then
	apt_update_once
	echo "install-deps: installing ${missing[*]}" >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
fi
echo "$KVER"
