#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds the lab's booted Debian systems: a dom0 and a guest disk image, each a Debian 12
# system with systemd as PID 1 and CoKeeper's packages installed by apt inside it, as an
# administrator would (postinst, DKMS for the guest's kernel, the units enabled).
#
#   tests/lab/debian-images.sh [--out DIR] [--guest-tool FILE]... [--previous PREVDIR]
#                              [--guest-debs GUESTDIR] DEBDIR
#
# DEBDIR holds the .debs scripts/build-debs.sh wrote.  Writes into DIR (default
# /var/tmp/cokeeper-lab/debian):
#   dom0.img, dom0.initrd     ext4 (label ck-dom0): Xen's tools (xen.service starts xenstored
#                             and the toolstack), cokeeperd with its /etc/default, and
#                             cokeeper-lab.service, which runs the scenario from the lab's
#                             disk (label ck-lab, made by run.sh each run)
#   guest.img                 ext4 (label ck-guest): cokeeper-agent, cokeeper-dkms (the module
#                             built by DKMS in updates/dkms), cokeeper-query, the lab's guest
#                             side (cokeeper-lab-guest.service), the test tools given with
#                             --guest-tool; dom0 boots it with the lab's kernel and guest.initrd
#   MANIFEST                  the package versions in each image
# With --previous, the guest also carries the agent's .debs of PREVDIR (the release before)
# and of DEBDIR in /var/lib/cokeeper-lab/debs/{previous,new}, for the upgrade test
# (rootfs/lab-apt); dom0 gets its own from the lab's disk (run.sh).  With --guest-debs, the
# guest's packages (and its "new" ones) come from GUESTDIR instead of DEBDIR: an older agent
# under this dom0, to show what the guest-side checks find in it.
# The kernel is the lab's ABI (KVER, from scripts/install-deps.sh), installed as
# linux-image-$KVER in both.  Runs as root (debootstrap, chroot, mkfs).  Package downloads and
# the debootstrap base are shared with scripts/test-debs.sh; the images themselves are made
# anew each run, since the packages under test change with every build.
#
# env: KVER, MIRROR, LAB_DEBIAN_SIZE_MB (extra free space per image, default 512)
set -euo pipefail
# All in one block, which bash parses before running it: editing this file during a run
# (it takes minutes) then cannot change what the running copy does.
{

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=/var/tmp/cokeeper-lab/debian
debdir=
guest_tools=()
previous=
guest_debdir=
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift ;;
	--guest-tool) guest_tools+=("$2"); shift ;;
	--previous) previous=$2; shift ;;
	--guest-debs) guest_debdir=$2; shift ;;
	-h|--help) sed -n '3,27p' "$0"; exit 0 ;;
	-*) echo "debian-images: unknown option '$1'" >&2; exit 2 ;;
	*) [ -z "$debdir" ] || { echo "debian-images: one DEBDIR only" >&2; exit 2; }; debdir=$1 ;;
	esac
	shift
done
[ -n "$debdir" ] && [ -d "$debdir" ] || { sed -n '7,8p' "$0" >&2; exit 2; }
debdir=$(cd "$debdir" && pwd)
guest_debdir=${guest_debdir:-$debdir}
[ -d "$guest_debdir" ] || { echo "debian-images: --guest-debs $guest_debdir: not a directory" >&2; exit 2; }
guest_debdir=$(cd "$guest_debdir" && pwd)
if [ -n "$previous" ]; then
	[ -d "$previous" ] || { echo "debian-images: --previous $previous: not a directory" >&2; exit 2; }
	previous=$(cd "$previous" && pwd)
fi
[ "$(id -u)" -eq 0 ] || { echo "debian-images: needs root (debootstrap, chroot, mkfs)" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

top=/var/tmp/cokeeper-debs/images
keep=${LAB_DEBIAN_KEEP:-0}
# shellcheck disable=SC2034 # read by debian-chroot.sh
chroot_tag=debian-images
# shellcheck source=../../scripts/debian-chroot.sh
. "$repo/scripts/debian-chroot.sh"

KVER=${KVER:-$("$repo/scripts/install-deps.sh" | tail -n1)}
[ -n "$KVER" ] || { echo "debian-images: no kernel ABI" >&2; exit 1; }

# deb NAME [DIR]: the .deb of package NAME in DIR (default DEBDIR).
deb() {
	local f dir=${2:-$debdir}
	f=$(ls "$dir/$1"_*.deb 2>/dev/null | head -n1)
	[ -n "$f" ] || { why="no $1 .deb in $dir"; return 1; }
	echo "$f"
}

# install_debs ROOT DIR NAME...: the project's packages of DIR, by apt from local files (Depends
# resolved from the mirror), as an administrator installs a downloaded .deb.
install_debs() {
	local root=$1 dir=$2 n f files=()
	shift 2
	mkdir -p "$root/tmp/debs"
	for n in "$@"; do
		f=$(deb "$n" "$dir") || return 1
		cp "$f" "$root/tmp/debs/"
		files+=("./$(basename "$f")")
	done
	in_root "$root" sh -c "cd /tmp/debs && apt-get -q -y -o Dpkg::Use-Pty=0 install --no-install-recommends ${files[*]}" ||
		{ why="apt-get install ${files[*]} failed"; return 1; }
	rm -rf "$root/tmp/debs"
}

# system_common ROOT HOSTNAME LABEL: what any installed Debian system has that debootstrap's
# minbase leaves out, and what the lab needs of every booted system.
system_common() {
	local root=$1 host=$2 label=$3
	apt_in "$root" install --no-install-recommends systemd-sysv udev kmod iproute2 procps \
		initramfs-tools zstd busybox xenstore-utils jq ||
		{ why="systemd, udev and the base tools do not install"; return 1; }
	install_kernel_debs "$root" "linux-image-$KVER" || return 1
	{
		echo "$host" >"$root/etc/hostname" &&
		printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$host" >"$root/etc/hosts" &&
		printf 'LABEL=%s\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' "$label" >"$root/etc/fstab" &&
		# No prompt for a locale or a root password on the console at first boot: nobody
		# answers.  A serial console needs no login prompt here, and getty's output would
		# interleave with the scenario's lines on hvc0.
		ln -sf /dev/null "$root/etc/systemd/system/systemd-firstboot.service" &&
		ln -sf /dev/null "$root/etc/systemd/system/serial-getty@hvc0.service" &&
		ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
	} || { why="cannot configure $host"; return 1; }
	# The journal in memory: the images stay as built (QEMU's snapshot=on) and a scenario
	# reads it with journalctl.
	mkdir -p "$root/etc/systemd/journald.conf.d" &&
		printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/cokeeper-lab.conf" &&
		install -D -m 0755 "$here/rootfs/lab-agent" "$root/usr/local/bin/lab-agent" ||
		{ why="cannot write the lab's files into $host"; return 1; }
}

# finish ROOT NAME: the chroot becomes $out/NAME.img (and NAME.initrd): services may start
# again (the chroot's policy-rc.d goes), mounts undone, an ext4 image with room to spare.
finish() {
	local root=$1 name=$2 label=$3 mb
	rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/apt/apt.conf.d/90cokeeper-test"
	in_root "$root" apt-get clean
	in_root "$root" dpkg-query -W -f="$name "'${Package} ${Version}\n' >>"$out/MANIFEST.new"
	undo_mounts
	cp "$root/boot/initrd.img-$KVER" "$out/$name.initrd.new" ||
		{ why="no /boot/initrd.img-$KVER in $name"; return 1; }
	mb=$(( $(du -sm "$root" | cut -f1) * 12 / 10 + ${LAB_DEBIAN_SIZE_MB:-512} ))
	rm -f "$out/$name.img.new"
	mkfs.ext4 -q -F -L "$label" -d "$root" "$out/$name.img.new" "${mb}M" ||
		{ why="mkfs.ext4 -d $root failed"; return 1; }
	echo "$name.img: ${mb} MB, $(du -sm "$root" | cut -f1) MB used"
}

step_dom0() {
	local root=$work/dom0
	new_root dom0 || { why="could not prepare the chroot (apt-get update)"; return 1; }
	system_common "$root" ck-dom0 ck-dom0 || return 1
	# Xen's tools as Debian ships them: /etc/init.d/xen (xen.service, by systemd's sysv
	# generator) starts xenstored, xenconsoled and xen-init-dom0.  dnsmasq-base: the DHCP
	# server for the guests without ip= (scenario-lib.sh: dhcp_start).
	apt_in "$root" install --no-install-recommends xen-utils-4.17 xen-utils-common \
		dnsmasq-base bash iputils-ping ||
		{ why="xen-utils-4.17 does not install"; return 1; }
	install_debs "$root" "$debdir" cokeeperd || return 1
	# Guest consoles in /var/log/xen/console, where the scenarios read them.
	echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >>"$root/etc/default/xen" &&
	mkdir -p "$root/var/log/xen/console" &&
	# The lab's files come on a disk of their own each run (run.sh: the scenario, its
	# libraries, the busybox guests' image, the kernel, the Debian guest's initrd), mounted
	# where the busybox dom0 has them; cokeeper-lab.service runs the scenario from there.
	mkdir -p "$root/usr/lib/cokeeper-lab" &&
	printf 'LABEL=ck-lab\t/usr/lib/cokeeper-lab\text4\tro,nofail\t0\t0\n' >>"$root/etc/fstab" &&
	ln -sf /usr/lib/cokeeper-lab/vmlinux "$root/boot/vmlinux" &&
	ln -sf /usr/lib/cokeeper-lab/domU.cpio.gz "$root/boot/domU.cpio.gz" &&
	mkdir -p "$root/etc/systemd/system/multi-user.target.wants" &&
	install -m 0644 "$here/rootfs/cokeeper-lab.service" "$root/etc/systemd/system/" &&
	ln -sf ../cokeeper-lab.service "$root/etc/systemd/system/multi-user.target.wants/cokeeper-lab.service" ||
		{ why="cannot write the lab's files into dom0"; return 1; }
	finish "$root" dom0 ck-dom0 || return 1
	why="$(grep -c '^dom0 ' "$out/MANIFEST.new") packages, cokeeperd $(in_root_version dom0 cokeeperd)"
}

step_guest() {
	local root=$work/guest st
	new_root guest || { why="could not prepare the chroot (apt-get update)"; return 1; }
	system_common "$root" ck-guest ck-guest || return 1
	# DKMS builds the module for the guest's kernel at install, from these headers.
	install_headers "$root" || return 1
	install_debs "$root" "$guest_debdir" cokeeper-agent cokeeper-dkms libcokeeper-client0 || return 1
	st=$(in_root "$root" dkms status cokeeper 2>&1) || true
	echo "$st" | grep -q ", $KVER, .*: installed" ||
		{ why="DKMS built no cokeeper for $KVER: ${st:-no dkms status}"; return 1; }
	install -D -m 0755 "$here/rootfs/domU-init" "$root/usr/lib/cokeeper-lab/domU-init" &&
	install -D -m 0755 "$here/rootfs/udhcpc.script" "$root/usr/share/udhcpc/default.script" &&
	install -D -m 0755 "$here/rootfs/ck-report" "$root/usr/local/bin/ck-report" &&
	install -m 0755 "$here/rootfs/lab-sd-check" "$here/rootfs/lab-apt" "$root/usr/local/bin/" ||
		{ why="cannot write the lab's files into the guest"; return 1; }
	if [ -n "$previous" ]; then
		local d n f
		for d in previous new; do
			mkdir -p "$root/var/lib/cokeeper-lab/debs/$d" || { why="mkdir debs/$d"; return 1; }
			for n in cokeeper-agent libcokeeper-client0; do
				if [ $d = previous ]; then f=$(deb $n "$previous"); else f=$(deb $n "$guest_debdir"); fi ||
					return 1
				cp "$f" "$root/var/lib/cokeeper-lab/debs/$d/" || { why="cannot copy $f"; return 1; }
			done
		done
	fi
	mkdir -p "$root/etc/systemd/system/multi-user.target.wants" &&
	install -m 0644 "$here/rootfs/cokeeper-lab-guest.service" "$root/etc/systemd/system/" &&
	ln -sf ../cokeeper-lab-guest.service \
		"$root/etc/systemd/system/multi-user.target.wants/cokeeper-lab-guest.service" ||
		{ why="cannot enable cokeeper-lab-guest.service"; return 1; }
	local t
	for t in "${guest_tools[@]}"; do
		install -m 0755 "$t" "$root/usr/local/bin/" || { why="cannot install $t"; return 1; }
	done
	finish "$root" guest ck-guest || return 1
	why="$(grep -c '^guest ' "$out/MANIFEST.new") packages, $st"
}

in_root_version() { awk -v p="$2" -v n="$1" '$1 == n && $2 == p { print $3 }' "$out/MANIFEST.new"; }

# What the images are made of: the same inputs make the same images, so a second lab run on
# the same packages (or a scenario edited between runs) boots them again without a rebuild.
images_key() {
	echo "kver $KVER mirror $mirror base $(basename "$base")"
	sha256sum "$debdir"/*.deb "$guest_debdir"/*.deb ${previous:+"$previous"/*.deb} "$0" "$repo/scripts/debian-chroot.sh" "${guest_tools[@]}" \
		"$here"/rootfs/{cokeeper-lab.service,cokeeper-lab-guest.service,lab-agent,lab-sd-check,lab-apt,domU-init,udhcpc.script,ck-report} |
		sed 's|  .*/|  |'
}

echo "debian-images: $debdir -> $out, kernel $KVER, mirror $mirror, logs in $logs"
rm -f "$out"/*.new
step base step_base
[ "$failed" -eq 0 ] || exit 1
key=$(images_key | sha256sum | cut -c1-16)
if [ "$(cat "$out/KEY" 2>/dev/null)" = "$key" ] && [ -s "$out/dom0.img" ] && [ -s "$out/guest.img" ]; then
	echo "debian-images: cached (key $key)"
	exit 0
fi
rm -f "$out/KEY"
step guest step_guest
[ "$failed" -eq 0 ] || exit 1
step dom0 step_dom0
[ "$failed" -eq 0 ] || exit 1
for f in dom0.img dom0.initrd guest.img guest.initrd MANIFEST; do mv "$out/$f.new" "$out/$f"; done
echo "$key" >"$out/KEY"
printf 'total %.1fs\n' "$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
exit
}
