# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=sh
# Helpers for lab scenarios, which run in dom0 after the toolstack and xenbr0 are up.
# Source it from busybox sh or bash:  . /usr/lib/cokeeper-lab/scenario-lib.sh
#
# Output contract, read by boot.sh and run.sh on the host (nothing else may print these):
#   LAB STEP <name>            a step starts
#   LAB PASS <name> <seconds>  it ended well, with its duration (ms resolution)
#   LAB FAIL <name>: <why>     it did not; the guests' state follows, indented with "  | "
#   LAB SKIP <name>: <why>     a check that needs CoKeeper binaries the image lacks
#   LAB CONSOLE BEGIN|END <f>  a guest console, each line prefixed "| " (run.sh saves them)
#   SCENARIO PASS | SCENARIO FAIL: <steps>     printed once, by scenario_end
#
# Guests: domu_create, domu_boot, domu_destroy, domu_migrate, domid_of, domu_uuid, wait_until,
# report_of (the guest's data/ck-report), init_done, ck_poke, guest_key, vif_backend_key,
# console_of, guest_run (guest_cmd_id, guest_cmd_wait), guest_ipv4.
# DHCP (guests created with "dhcp" for an address): dhcp_start, dhcp_pin, dhcp_renew,
# dhcp_release, guest_lease, dhcp_stop.
# CoKeeper hooks: ck_daemon_start, ck_daemon_stop, check_membership, ck_stats (see the end).

LAB_DIR=${LAB_DIR:-/tmp/lab}
LAB_CONSOLES=/var/log/xen/console
LAB_POLL=${LAB_POLL:-0.1}          # wait_until's period for its first LAB_POLL_FAST_S seconds
LAB_POLL_FAST_S=${LAB_POLL_FAST_S:-3}
LAB_POLL_SLOW=${LAB_POLL_SLOW:-0.5} # and after that
LAB_DOMU_MEM=${LAB_DOMU_MEM:-128}
LAB_BRIDGE=${LAB_BRIDGE:-xenbr0}
LAB_MS=/usr/lib/cokeeper-lab/lab-ms
LAB_FAILED=0
LAB_FAILED_STEPS=
LAB_STEP=
LAB_STEP_FAILED=0
LAB_STEP_T0=0
mkdir -p "$LAB_DIR"

# ---- clock and step accounting -------------------------------------------------------

# Monotonic milliseconds.  /proc/uptime only has 10 ms steps; it is the fallback.
now_ms() {
	if [ -x "$LAB_MS" ]; then
		"$LAB_MS"
	else
		read -r _u _ </proc/uptime
		echo "${_u%.*}${_u#*.}0"
	fi
}
fmt_ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
# uptime_cs: LAB_CS = centiseconds of uptime, from builtins only: loops that poll should
# not even fork (a $(...) does), as a fork in a PV dom0 under TCG takes milliseconds.
uptime_cs() {
	read -r _u _ </proc/uptime
	LAB_CS=${_u%.*}${_u#*.}
}
LAB_T0=$(now_ms)

step() {
	LAB_STEP=$1
	LAB_STEP_FAILED=0
	LAB_STEP_N=$((${LAB_STEP_N:-0} + 1))
	echo "$LAB_STEP_N $LAB_STEP" >"$LAB_DIR/.step"
	echo "LAB STEP $LAB_STEP"
	LAB_STEP_T0=$(now_ms)
}

# pass: closes the current step; prints nothing if it already failed.
pass() {
	[ "$LAB_STEP_FAILED" = 0 ] || return 1
	echo "LAB PASS $LAB_STEP $(fmt_ms $(($(now_ms) - LAB_STEP_T0)))"
}

# fail MSG: marks the step (and the scenario) failed, shows the guests' state once per step
# and returns 1, so that "cmd || fail why" reads naturally and the caller decides whether
# to go on.
fail() {
	echo "LAB FAIL ${LAB_STEP:-none}: $*"
	LAB_FAILED=1
	if [ "$LAB_STEP_FAILED" = 0 ]; then
		LAB_STEP_FAILED=1
		LAB_FAILED_STEPS="$LAB_FAILED_STEPS ${LAB_STEP:-none}"
		lab_dump_state 2>&1 | sed 's/^/  | /'
	fi
	return 1
}

# fatal MSG: a failure the rest of the scenario cannot survive.
fatal() {
	fail "$@"
	scenario_end
}

skip() { echo "LAB SKIP ${LAB_STEP:-none}: $*"; }
note() { echo "LAB NOTE $*"; }

# check WHY CMD...: runs CMD quietly; fail WHY if it fails.
check() {
	local why=$1
	shift
	"$@" >/dev/null 2>&1 || fail "$why"
}

# wait_until TIMEOUT_S CMD...: polls CMD until it succeeds (0) or TIMEOUT_S seconds pass
# (1); CMD may be a shell function.  Every exec in dom0 (xenstore-read is one) takes the
# vCPU from the guests being waited for, and dom0 has the larger scheduler weight, so the
# poll is every LAB_POLL (100 ms) for the first LAB_POLL_FAST_S seconds, where a short
# wait's timing matters, then every LAB_POLL_SLOW.
# Every TIMEOUT_S is a hang guard, never a verdict on speed: LAB_GUARD_SCALE multiplies them
# all, 3 on the booted Debian systems (systemd guests boot 3-4 times slower than busybox
# ones under TCG, and CI runs that lab beside scripts/test.sh: a Debian PV guest took over
# 4 minutes from xl create to its network there), else 1.
wait_until() {
	local deadline fast
	uptime_cs
	deadline=$((LAB_CS + $1 * ${LAB_GUARD_SCALE:-1} * 100))
	fast=$((LAB_CS + LAB_POLL_FAST_S * 100))
	shift
	while ! "$@" >/dev/null 2>&1; do
		uptime_cs
		[ "$LAB_CS" -lt "$deadline" ] || return 1
		if [ "$LAB_CS" -lt "$fast" ]; then sleep "$LAB_POLL"; else sleep "$LAB_POLL_SLOW"; fi
	done
}

lab_dump_state() {
	echo "--- xl list"
	xl list 2>&1
	for f in "$LAB_CONSOLES"/guest-*.log; do
		[ -f "$f" ] || continue
		echo "--- tail ${f##*/}"
		tail -n 15 "$f"
	done
	echo "--- xl dmesg (tail, without the HVM save/restore records)"
	xl dmesg 2>&1 | grep -v -e ' save: ' -e ' restore: ' | tail -n 20
	echo "--- hotplug log (tail)"
	tail -n 5 /var/log/xen/xen-hotplug.log 2>/dev/null
}

# Every guest console in full, for run.sh to save next to the serial log.
lab_dump_consoles() {
	[ "${LAB_SYSTEMD:-0}" = 1 ] && ck_log >"$LAB_DIR/cokeeperd.log"
	for f in "$LAB_CONSOLES"/guest-*.log "$LAB_DIR"/*.log /var/log/cokeeperd.log; do
		[ -f "$f" ] || continue
		echo "LAB CONSOLE BEGIN ${f##*/}"
		tr -d '\r' <"$f" | sed 's/^/| /'
		echo "LAB CONSOLE END ${f##*/}"
	done
}

# The watchdog: a step that hangs (an xl that never returns) would otherwise end in boot.sh's
# silence timeout, with the guest consoles still in dom0.  It shows what runs once a minute
# while one step lasts, and after LAB_TIMEOUT seconds fails the scenario, dumps the
# consoles and kills the scenario's shell, so that dom0-init powers off.
LAB_TIMEOUT=${LAB_TIMEOUT:-1200}
lab_watchdog() {
	local main=$1 last= cur= secs=0 total=0
	while sleep 30; do
		total=$((total + 30))
		read -r cur <"$LAB_DIR/.step" 2>/dev/null
		if [ "$cur" = "$last" ]; then secs=$((secs + 30)); else secs=0; last=$cur; fi
		if [ "$total" -ge "$LAB_TIMEOUT" ]; then
			echo "LAB FAIL ${cur#* }: the scenario did not end within ${LAB_TIMEOUT}s"
			lab_dump_state 2>&1 | sed 's/^/  | /'
			ps -o pid,stat,args 2>/dev/null | sed 's/^/  | /'
			lab_dump_consoles
			echo "SCENARIO FAIL: ${cur#* } (timeout)"
			kill -9 "$main"
			exit 0
		fi
		if [ "$secs" -ge 60 ] && [ $((secs % 60)) = 0 ]; then
			echo "LAB NOTE step ${cur#* } still running after ${secs}s; dom0 processes:"
			ps -o pid,stat,args 2>/dev/null | grep -v -e ' \[' -e 'ps -o' -e 'sleep 30' | tail -n 12 | sed 's/^/  | /'
		fi
	done
}
lab_watchdog $$ </dev/null &
LAB_WATCHDOG=$!

# scenario_end: the verdict, and the scenario's exit status.
scenario_end() {
	local total
	kill "$LAB_WATCHDOG" 2>/dev/null
	total=$(fmt_ms $(($(now_ms) - LAB_T0)))
	lab_dump_consoles
	if [ "$LAB_FAILED" = 0 ]; then
		echo "SCENARIO PASS in ${total}s"
		exit 0
	fi
	echo "SCENARIO FAIL:$LAB_FAILED_STEPS (${total}s)"
	exit 1
}

# ---- guests ---------------------------------------------------------------------------

# domid_of NAME: one xenstore-read when the last answer still holds (xl starts libxl, which
# takes seconds when the guests keep the vCPU busy), else xl domid.
domid_of() {
	local d=
	[ -f "$LAB_DIR/$1.domid" ] && read -r d <"$LAB_DIR/$1.domid"
	if [ -n "$d" ] && [ "$(xenstore-read "/local/domain/$d/name" 2>/dev/null)" = "$1" ]; then
		echo "$d"
		return 0
	fi
	d=$(xl domid "$1" 2>/dev/null) || return 1
	echo "$d" >"$LAB_DIR/$1.domid"
	echo "$d"
}
# UUID column of xl list -v (Name ID Mem VCPUs State Time UUID ...)
domu_uuid() { xl list -v "$1" 2>/dev/null | awk 'NR == 2 { print $7 }'; }
domain_gone() { ! xl domid "$1" >/dev/null 2>&1 && ! xenstore-exists "/local/domain/$2" 2>/dev/null; }

# guest_key NAME KEY: what the guest wrote under its own data/ (see rootfs/domU-init).
guest_key() {
	local d
	d=$(domid_of "$1") || return 1
	xenstore-read "/local/domain/$d/data/$2" 2>/dev/null
}
report_of() { guest_key "$1" ck-report; }
# init_done NAME: its domU-init has run to the end (module, agent, reporter started).
init_done() { [ "$(guest_key "$1" lab-init)" = done ]; }
# vif_backend_key NAME KEY: dom0's netback directory for the guest's first vif.
vif_backend_key() {
	local d
	d=$(domid_of "$1") || return 1
	xenstore-read "/local/domain/0/backend/vif/$d/0/$2" 2>/dev/null
}
# ck_poke NAME...: the guests' reporters go back to their fast period (100 ms) for a few
# seconds and check data/ck-report against the store.  Poke right before a change whose
# convergence you time: a guest whose view has been stable reports only once a second.
ck_poke() {
	local n d
	for n in "$@"; do
		d=$(domid_of "$n") || return 1
		xenstore-write "/local/domain/$d/data/ck-poke" "$(now_ms)" || return 1
	done
}
# console_of NAME: its console log; after a migration xenconsoled keeps writing to the
# file named after the receiving domain's first name, NAME--incoming.
console_of() { cat "$LAB_CONSOLES/guest-$1.log" "$LAB_CONSOLES/guest-$1--incoming.log" 2>/dev/null; }

# Booted Debian guests (the Debian dom0 only): LAB_DEBIAN_GUESTS names them, in the order of
# the guest disks boot.sh gave QEMU (virtio serial ck-guest-1, -2, ...: one per guest alive
# at a time).  The others boot the busybox domU image.
LAB_DEBIAN_DIR=/usr/lib/cokeeper-lab
LAB_DEBIAN_MEM=${LAB_DEBIAN_MEM:-320}
debian_disk_of() {
	local _n _k=0
	[ "${LAB_SYSTEMD:-0}" = 1 ] || return 0
	for _n in ${LAB_DEBIAN_GUESTS:-}; do
		_k=$((_k + 1))
		[ "$_n" = "$1" ] || continue
		[ -b "/dev/disk/by-id/virtio-ck-guest-$_k" ] && echo "/dev/disk/by-id/virtio-ck-guest-$_k"
		return 0
	done
}
is_debian_guest() { [ -n "$(debian_disk_of "$1")" ]; }

# domu_create NAME IP[/NN]|dhcp MAC [pv|pvh] [kernel args...]: writes $LAB_DIR/NAME.cfg (one
# vCPU, or LAB_DOMU_VCPUS) and runs xl create, once more if it fails (xl has been seen to
# crash under TCG).  It returns when the domain runs, not when the guest has booted: wait
# for guest_key NAME lab-net for that.
# With an IP the vif carries ip= (libxl writes it to the backend's ip key) and the guest sets
# it itself; with dhcp the vif has no ip= and the guest asks dom0's dnsmasq (dhcp_start).
domu_create() {
	local _name=$1 _ip=$2 _mac=$3 _type=${4:-pv} _cidr _vifip _cfg _t _disk
	shift 3
	[ $# -gt 0 ] && shift
	case $_ip in
	dhcp) _cidr=dhcp _vifip= ;;
	*/*) _cidr=$_ip _ip=${_ip%/*} _vifip=",ip=${_ip%/*}" ;;
	*) _cidr=$_ip/24 _vifip=",ip=$_ip" ;;
	esac
	_cfg=$LAB_DIR/$_name.cfg
	_disk=$(debian_disk_of "$_name")
	if [ -n "$_disk" ]; then
		# A booted Debian guest (debian-images.sh): its own disk, the kernel dom0 was given
		# and the initrd Debian's initramfs-tools made for it; systemd as PID 1.
		cat >"$_cfg" <<-EOF
			name = "$_name"
			type = "$_type"
			kernel = "$LAB_DEBIAN_DIR/vmlinux"
			ramdisk = "$LAB_DEBIAN_DIR/guest.initrd"
			extra = "root=/dev/xvda rw console=hvc0 loglevel=4 net.ifnames=0 cokeeper.ip=$_cidr $*"
			disk = [ 'phy:$_disk,xvda,w' ]
			memory = $LAB_DEBIAN_MEM
		EOF
	else
		cat >"$_cfg" <<-EOF
			name = "$_name"
			type = "$_type"
			kernel = "/boot/vmlinux"
			ramdisk = "/boot/domU.cpio.gz"
			extra = "console=hvc0 loglevel=4 cokeeper.ip=$_cidr $*"
			memory = $LAB_DOMU_MEM
		EOF
	fi
	cat >>"$_cfg" <<-EOF
		vcpus = ${LAB_DOMU_VCPUS:-1}
		on_poweroff = "destroy"
		on_reboot = "destroy"
		on_crash = "destroy"
		vif = [ 'mac=$_mac$_vifip,bridge=$LAB_BRIDGE' ]
	EOF
	# PVH under TCG: TCG's SVM reports RDTSCP as an RDTSC intercept without NRIPS, so Xen
	# cannot emulate it and the guest spins before userspace unless the TSC is native.
	[ "$_type" = pvh ] && echo 'tsc_mode = "native"' >>"$_cfg"
	echo "$_type" >"$LAB_DIR/$_name.type"
	_t=$(now_ms)
	if ! timeout -k 10 180 xl create -q "$_cfg" >"$LAB_DIR/xl-create-$_name.log" 2>&1; then
		note "xl create $_name failed, retrying once: $(tail -n 3 "$LAB_DIR/xl-create-$_name.log" | tr '\n' ' ')"
		# A half-made domain would make the retry fail on the name.
		xl domid "$_name" >/dev/null 2>&1 && timeout -k 10 90 xl destroy "$_name" >/dev/null 2>&1
		sleep 1
		timeout -k 10 180 xl create -q "$_cfg" >>"$LAB_DIR/xl-create-$_name.log" 2>&1 || {
			echo "xl create $_name failed twice: $(tail -n 3 "$LAB_DIR/xl-create-$_name.log" | tr '\n' ' ')"
			return 1
		}
	fi
	note "created $_name ($_type, $_ip, $_mac) domid $(domid_of "$_name") in $(fmt_ms $(($(now_ms) - _t)))s"
}

# domu_boot NAME IP[/NN]|dhcp MAC pv|pvh [kernel args...]: domu_create, then waits (up to
# 300 s) until the guest's init writes data/lab-net, which it does before it loads the module
# or starts the agent (with dhcp, once it holds a lease or gave up waiting for one).  A guest
# that dies before that ran no CoKeeper code, and Xen under TCG has been seen to kill one
# there: a PVH guest triple-faulted in the kernel's PIT calibration (~100k emulated port
# reads under QEMU's nested SVM), once in ten lab runs.
# Such a guest is shown (Xen's and its console's last words) and created once more.
# Returns 0 once data/lab-net is written (the caller judges its value), 1 otherwise.
# LAB_CRASH_FIRST_BOOT=NAME makes NAME's first boot die (no init), to test this path.
domu_boot() {
	local _name=$1 _d _try _args
	for _try in 1 2; do
		_args=
		[ "$_try" = 1 ] && [ "${LAB_CRASH_FIRST_BOOT:-}" = "$_name" ] &&
			_args="init=/lab-crash-test rdinit=/lab-crash-test"
		domu_create "$@" $_args || return 1
		_d=$(domid_of "$_name") || return 1
		wait_until 300 domu_boot_settled "$_d" ||
			{ echo "$_name: no data/lab-net after $((300 * ${LAB_GUARD_SCALE:-1})) s"; return 1; }
		xenstore-exists "/local/domain/$_d" 2>/dev/null && return 0
		note "$_name (domid $_d) died in its boot, before its init brought the network up"
		xl dmesg 2>/dev/null | grep -e "d${_d}v[0-9]" -e "Dom${_d} " | grep -v -e ' save: ' -e ' restore: ' |
			tail -n 4 | sed 's/^/  | xen: /'
		tr -d '\r' <"$LAB_CONSOLES/guest-$_name.log" 2>/dev/null |
			grep -e 'Kernel panic' -e 'BUG' -e 'Oops' -e 'RIP:' | tail -n 4 | sed 's/^/  | console: /'
		[ "$_try" = 1 ] && note "creating $_name once more"
	done
	echo "$_name died in its boot twice"
	return 1
}
# domu_boot_settled DOMID: the guest wrote data/lab-net, or its domain is gone.
domu_boot_settled() {
	[ -n "$(xenstore-read "/local/domain/$1/data/lab-net" 2>/dev/null)" ] ||
		! xenstore-exists "/local/domain/$1" 2>/dev/null
}

# domu_destroy NAME: xl destroy (retried once), then waits until xl and xenstore forget it.
domu_destroy() {
	local _name=$1 _d
	_d=$(domid_of "$_name") || { echo "domu_destroy: no domain $_name"; return 1; }
	if ! timeout -k 10 90 xl destroy "$_name" >"$LAB_DIR/xl-destroy-$_name.log" 2>&1; then
		sleep 1
		if xl domid "$_name" >/dev/null 2>&1; then
			timeout -k 10 90 xl destroy "$_name" >>"$LAB_DIR/xl-destroy-$_name.log" 2>&1
		fi
	fi
	wait_until 60 domain_gone "$_name" "$_d"
}

# domu_shutdown NAME: xl shutdown -w (the guest powers off), then waits until xl and xenstore
# forget it.
domu_shutdown() {
	local _name=$1 _d
	_d=$(domid_of "$_name") || { echo "domu_shutdown: no domain $_name"; return 1; }
	timeout -k 10 120 xl shutdown -w "$_name" >"$LAB_DIR/xl-shutdown-$_name.log" 2>&1 ||
		echo "xl shutdown $_name: $(tail -n 3 "$LAB_DIR/xl-shutdown-$_name.log" | tr '\n' ' ')"
	wait_until 60 domain_gone "$_name" "$_d"
}

# domu_migrate NAME: localhost live migration; sets LAB_MIGRATE_OLD/NEW to the domids.
# PVH only: Debian's Xen is built without shadow paging, which PV log-dirty needs.
domu_migrate() {
	local _name=$1 _t _rc
	if [ "$(cat "$LAB_DIR/$_name.type" 2>/dev/null)" != pvh ]; then
		echo "domu_migrate: $_name is not PVH; PV live migration needs CONFIG_SHADOW_PAGING"
		return 2
	fi
	LAB_MIGRATE_OLD=$(domid_of "$_name") || { echo "domu_migrate: no domain $_name"; return 1; }
	_t=$(now_ms)
	# -s "": xl runs the "host" argument with sh -c as its transport, so no ssh is needed.
	timeout -k 10 400 xl migrate -s "" "$_name" "xl migrate-receive" >"$LAB_DIR/xl-migrate-$_name.log" 2>&1
	_rc=$?
	LAB_MIGRATE_NEW=$(domid_of "$_name")
	note "xl migrate $_name rc=$_rc domid $LAB_MIGRATE_OLD -> ${LAB_MIGRATE_NEW:-none} in $(fmt_ms $(($(now_ms) - _t)))s"
	if [ "$_rc" != 0 ] || [ -z "$LAB_MIGRATE_NEW" ] || [ "$LAB_MIGRATE_NEW" = "$LAB_MIGRATE_OLD" ]; then
		tail -n 8 "$LAB_DIR/xl-migrate-$_name.log"
		return 1
	fi
}

# ---- DHCP: dnsmasq in dom0, udhcpc in the guests ----------------------------------------
# A guest created with "dhcp" instead of an IP (domu_create) has no ip= on its vif, so the
# toolstack never learns its address; its init runs busybox udhcpc (rootfs/udhcpc.script),
# which dom0's dnsmasq answers.  The dynamic range lies above every static address the
# scenarios use (.1-.99, .254); dhcp_pin can give a MAC any address of 10.99.0.0/24.
# Leases last 2 minutes, dnsmasq's shortest: a guest renews every minute by itself.
LAB_DHCP_RANGE=${LAB_DHCP_RANGE:-10.99.0.200,10.99.0.249,255.255.255.0}
LAB_DHCP_LEASE=${LAB_DHCP_LEASE:-2m}
LAB_DHCP_HOSTS=$LAB_DIR/dhcp-hosts        # MAC,IP per line (dhcp_pin)
LAB_DHCP_LEASES=$LAB_DIR/dnsmasq.leases
LAB_DHCP_LOG=$LAB_DIR/dnsmasq.log         # *.log in LAB_DIR: run.sh keeps it with the consoles
LAB_DHCP_PID=

# dhcp_start [dnsmasq args...]: dnsmasq on $LAB_BRIDGE (dom0-init gave it 10.99.0.254/24),
# DHCP only (port=0: no DNS), logging every DHCP exchange; returns once it serves.  As root:
# the busybox dom0 has no dnsmasq or nobody user to drop to.
dhcp_start() {
	local _n
	[ -x /usr/sbin/dnsmasq ] || { echo "no /usr/sbin/dnsmasq in the dom0 image"; return 1; }
	touch "$LAB_DHCP_HOSTS"
	_n=$(grep -c 'DHCP, IP range' "$LAB_DHCP_LOG" 2>/dev/null)
	/usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
		--user=root --group=root --pid-file="$LAB_DIR/dnsmasq.pid" \
		--interface="$LAB_BRIDGE" --bind-interfaces --dhcp-authoritative \
		--dhcp-range="$LAB_DHCP_RANGE,$LAB_DHCP_LEASE" \
		--dhcp-hostsfile="$LAB_DHCP_HOSTS" --dhcp-leasefile="$LAB_DHCP_LEASES" \
		--log-facility="$LAB_DHCP_LOG" --log-dhcp "$@" </dev/null >>"$LAB_DHCP_LOG" 2>&1 &
	LAB_DHCP_PID=$!
	if ! wait_until 20 dhcp_serving "${_n:-0}"; then
		tail -n 10 "$LAB_DHCP_LOG"
		echo "dnsmasq did not start serving DHCP on $LAB_BRIDGE within 20 s"
		kill "$LAB_DHCP_PID" 2>/dev/null
		LAB_DHCP_PID=
		return 1
	fi
	note "dnsmasq pid $LAB_DHCP_PID: $(grep 'DHCP, IP range' "$LAB_DHCP_LOG" | tail -n1 | sed 's/^.*dnsmasq-dhcp[^ ]* //')"
}
# dhcp_serving N: dnsmasq runs and has logged its range more than N times.
dhcp_serving() { kill -0 "$LAB_DHCP_PID" && [ "$(grep -c 'DHCP, IP range' "$LAB_DHCP_LOG")" -gt "$1" ]; }

# dhcp_pin MAC [IP]: dnsmasq gives MAC the address IP from now on (without IP: no pinned
# address any more).  A guest that holds another address keeps it until it renews: at its
# next renewal (every minute, or dhcp_renew now) dnsmasq refuses the old address, and the
# guest takes the new one.  dnsmasq re-reads the file on SIGHUP; returns once it has.
dhcp_pin() {
	local _mac=$1 _ip=${2:-} _n
	{
		grep -v -i "^$_mac," "$LAB_DHCP_HOSTS" 2>/dev/null
		[ -z "$_ip" ] || echo "$_mac,$_ip"
	} >"$LAB_DHCP_HOSTS.tmp"
	mv "$LAB_DHCP_HOSTS.tmp" "$LAB_DHCP_HOSTS"
	[ -n "$LAB_DHCP_PID" ] || return 0	# dhcp_start reads it
	_n=$(grep -c "read $LAB_DHCP_HOSTS\$" "$LAB_DHCP_LOG")
	kill -HUP "$LAB_DHCP_PID" || return 1
	wait_until 10 dhcp_reread "$_n" || { echo "dnsmasq did not re-read $LAB_DHCP_HOSTS"; return 1; }
}
dhcp_reread() { [ "$(grep -c "read $LAB_DHCP_HOSTS\$" "$LAB_DHCP_LOG")" -gt "$1" ]; }

# dhcp_renew NAME / dhcp_release NAME: the guest's udhcpc renews its lease now (SIGUSR1), or
# releases it and removes the address (SIGUSR2; it asks again on the next dhcp_renew).
# Follow the outcome with guest_lease.
# shellcheck disable=SC2016 # the guest expands $(cat ...)
LAB_DHCP_RENEW='kill -USR1 $(cat /run/udhcpc.eth0.pid)'	# a guest_run command
dhcp_renew() { guest_run "$1" "$LAB_DHCP_RENEW" >/dev/null; }
# shellcheck disable=SC2016
dhcp_release() { guest_run "$1" 'kill -USR2 $(cat /run/udhcpc.eth0.pid)' >/dev/null; }

# guest_lease NAME: the address (A.B.C.D) the guest's udhcpc last bound or renewed, from its
# data/lab-dhcp; fails while it holds none.  guest_lease_is NAME IP: for wait_until.
guest_lease() {
	local _v
	_v=$(guest_key "$1" lab-dhcp) || return 1
	case $_v in
	"bound "* | "renew "*) _v=${_v#* }; echo "${_v%/*}" ;;
	*) return 1 ;;
	esac
}
guest_lease_is() { [ "$(guest_lease "$1")" = "$2" ]; }

# guest_ipv4 NAME: the IPv4 addresses on the guest's eth0 (A.B.C.D/NN, space-separated), as
# the guest's own ip(8) shows them.
guest_ipv4() {
	guest_run "$1" "ip -4 -o addr show dev eth0 | awk '{ print \$4 }'" | sed 's/ *$//'
}

# dhcp_stop: dnsmasq ends; its leases file is shown (the log stays in LAB_DIR).
dhcp_stop() {
	[ -n "$LAB_DHCP_PID" ] || return 0
	kill "$LAB_DHCP_PID" 2>/dev/null
	wait_until 10 dhcp_dead || { echo "dnsmasq did not exit within 10 s of SIGTERM"; return 1; }
	LAB_DHCP_PID=
	note "dnsmasq stopped; leases: $(tr '\n' ';' <"$LAB_DHCP_LEASES" 2>/dev/null)"
}
dhcp_dead() { ! kill -0 "$LAB_DHCP_PID" 2>/dev/null; }

# ---- CoKeeper hooks ---------------------------------------------------------------------
# Each is a no-op (printing LAB SKIP) while the image lacks the binary it needs, so the same
# scenario runs before and after the daemon, the agent and the module exist.

CK_DAEMON=/usr/local/bin/cokeeperd
CK_CTL=/usr/local/bin/cokeeperctl
CK_SOCK=/run/cokeeper/control.sock
CK_LOG=/var/log/cokeeperd.log
CK_DAEMON_PID=
# In the booted Debian dom0 (LAB_SYSTEMD=1, dom0-init) cokeeperd is the installed package:
# the unit starts it with /etc/default/cokeeperd, and its log is the journal.
CK_LATENCY=/usr/local/bin/ck-latency
if [ "${LAB_SYSTEMD:-0}" = 1 ]; then
	CK_DAEMON=/usr/sbin/cokeeperd
	CK_CTL=$(command -v cokeeperctl || echo /usr/bin/cokeeperctl)
	CK_LATENCY=/usr/lib/cokeeper-lab/ck-latency    # a test tool: on the lab's disk
fi

# Where a restarted cokeeperd finds the addresses it learned: the package's state directory
# under systemd (its default), a file in LAB_DIR in the busybox dom0 (no /var/lib there).
CK_STATE_ARG=--address-state=$LAB_DIR/addresses
[ "${LAB_SYSTEMD:-0}" = 1 ] && CK_STATE_ARG=

# ck_log: cokeeperd's log so far, whichever way it was started.
ck_log() {
	if [ "${LAB_SYSTEMD:-0}" = 1 ]; then
		journalctl -q -u cokeeperd.service -o cat --no-pager 2>/dev/null
	else
		cat "$CK_LOG" 2>/dev/null
	fi
}

# ck_daemon_start [ARGS...]: cokeeperd (default --source xenstore), waits until its control
# socket answers (its file appears at bind(), before listen(): a connect then is refused).
# Under systemd, ARGS become COKEEPERD_OPTS in /etc/default/cokeeperd (as an administrator
# sets them) and the unit is restarted only if they changed: the daemon the boot started is
# the one the scenario checks.
ck_daemon_start() {
	if [ ! -x "$CK_DAEMON" ]; then
		skip "no cokeeperd in the image"
		return 0
	fi
	if [ "${LAB_SYSTEMD:-0}" = 1 ]; then
		ck_unit_start "$@"
		return
	fi
	[ $# -gt 0 ] || set -- --source xenstore
	mkdir -p "${CK_SOCK%/*}"
	# At the priority its systemd unit gives it (Nice=-10): a membership change must not wait
	# behind the toolstack's hotplug scripts on a busy dom0.  The same in every mode.
	if command -v nice >/dev/null; then
		nice -n -10 "$CK_DAEMON" "$@" >>"$CK_LOG" 2>&1 &
	else
		"$CK_DAEMON" "$@" >>"$CK_LOG" 2>&1 &
	fi
	CK_DAEMON_PID=$!
	if ! wait_until 30 ck_daemon_answers; then
		tail -n 20 "$CK_LOG"
		fail "cokeeperd $* did not answer on $CK_SOCK within 30 s"
		return 1
	fi
	note "cokeeperd $* pid $CK_DAEMON_PID, answering on its socket"
}

ck_unit_start() {
	local _opts="$*" _cur
	_cur=$(sed -n 's/^COKEEPERD_OPTS="\(.*\)"$/\1/p' /etc/default/cokeeperd)
	if [ "$_opts" != "$_cur" ]; then
		# The package's line replaced (or added, if an administrator removed it): the
		# scenario's options are plain words, no quotes or sed metacharacters.
		grep -v '^COKEEPERD_OPTS=' /etc/default/cokeeperd >"$LAB_DIR/default.new"
		echo "COKEEPERD_OPTS=\"$_opts\"" >>"$LAB_DIR/default.new"
		cat "$LAB_DIR/default.new" >/etc/default/cokeeperd || { fail "cannot write /etc/default/cokeeperd"; return 1; }
		note "/etc/default/cokeeperd: COKEEPERD_OPTS=\"$_opts\" (was \"$_cur\")"
	fi
	if [ "$_opts" != "$_cur" ] || ! systemctl -q is-active cokeeperd.service; then
		systemctl restart cokeeperd.service || { fail "systemctl restart cokeeperd: $(systemctl status cokeeperd.service 2>&1 | tail -n 5)"; return 1; }
	fi
	CK_DAEMON_PID=$(systemctl show -P MainPID cokeeperd.service)
	if ! wait_until 30 ck_daemon_answers; then
		ck_log | tail -n 20
		fail "cokeeperd.service ($_opts) did not answer on $CK_SOCK within 30 s"
		return 1
	fi
	note "cokeeperd.service (COKEEPERD_OPTS=\"$_opts\") pid $CK_DAEMON_PID, answering on its socket"
}

ck_daemon_stop() {
	[ -n "$CK_DAEMON_PID" ] || return 0
	if [ "${LAB_SYSTEMD:-0}" = 1 ]; then
		systemctl stop cokeeperd.service || fail "systemctl stop cokeeperd failed"
	else
		kill "$CK_DAEMON_PID" 2>/dev/null
	fi
	wait_until 10 ck_daemon_dead || fail "cokeeperd did not exit within 10 s of SIGTERM"
	CK_DAEMON_PID=
}
ck_daemon_dead() { ! kill -0 "$CK_DAEMON_PID" 2>/dev/null; }
ck_daemon_answers() {
	[ -x "$CK_CTL" ] || { test -S "$CK_SOCK"; return; }	# an image without the tools
	timeout -k 5 20 "$CK_CTL" --control "$CK_SOCK" stats
}

ck_ctl() { timeout -k 5 20 "$CK_CTL" --json "$@"; }

# ck_dom0_is NAMES: cokeeperd's members (domid 0 aside) are exactly NAMES (sorted, one
# space after each); leaves its answer in $LAB_DIR/members.json.
ck_dom0_is() {
	ck_ctl members >"$LAB_DIR/members.json" 2>"$LAB_DIR/members.err" || return 1
	CK_MEMBERS=$(cat "$LAB_DIR/members.json")
	[ "$(ck_dom0_names)" = "$1" ]
}
ck_dom0_names() {
	jq -r '[.[] | select(.domid != 0) | .name] | sort | map(. + " ") | add // ""' "$LAB_DIR/members.json" 2>/dev/null
}
# ck_member_ok NAME: dom0's entry for NAME has the domid xl gives and the vif's MAC and IP.
# A guest whose vif has no ip key (created with "dhcp") has only the address of its lease
# (guest_lease), as cokeeperd learned it on the vif (--learn=dhcp): an old lease still
# there after a renewal to another address is a failure too.
ck_member_ok() {
	local _ip _lease=
	_ip=$(vif_backend_key "$1" ip)
	if [ -z "$_ip" ]; then
		_lease=$(guest_lease "$1") || return 1
	fi
	jq -e --arg n "$1" --argjson d "$(domid_of "$1")" --arg mac "$(vif_backend_key "$1" mac)" \
		--arg ip "$_ip" --arg lease "$_lease" \
		'any(.[]; .name == $n and .domid == $d and any(.nics[]; .mac == $mac and
			if $lease == "" then any(.ipv4[]; . == $ip)
			else .ipv4 == [$lease] and .ipv4_source == ["learned"] end))' \
		"$LAB_DIR/members.json" >/dev/null
}
# ck_view_is NAME: the guest's view (cokeeper-query --json members via the reporter) is
# dom0's, byte for byte: both print lib/member-json.h's canonical form.  Re-pokes the guest
# every 3 s, since its reporter slows down after 5 s without a change.
ck_view_is() {
	uptime_cs
	if [ $((LAB_CS - ${CK_POKED:-0})) -ge 300 ]; then
		ck_poke "$1"
		CK_POKED=$LAB_CS
	fi
	CK_VIEW=$(report_of "$1")
	[ "$CK_VIEW" = "$CK_MEMBERS" ] && return 0
	# The first disagreement of each check, kept for the run directory (lab_dump_consoles).
	if [ ! -f "$LAB_DIR/mismatch-$LAB_STEP-$1-guest.log" ]; then
		echo "$CK_VIEW" >"$LAB_DIR/mismatch-$LAB_STEP-$1-guest.log"
		echo "$CK_MEMBERS" >"$LAB_DIR/mismatch-$LAB_STEP-$1-dom0.log"
	fi
	return 1
}
# ck_brief: a members array as "domid:name ..." for messages.
ck_brief() { jq -r '[.[] | "\(.domid):\(.name)"] | join(" ")' 2>/dev/null; }

# check_membership NAME...: the NAMEd guests, and no others, are the host's members as
# cokeeperd sees them (with each one's domid, MAC and IP), and every guest's agent and
# kernel table agree with it.  Call it after each membership change.  The times printed
# run from the call, so they bound the convergence from above; cokeeperd's own numbers
# are in ck_stats.
check_membership() {
	local t0 want n ok=0
	if [ ! -x "$CK_CTL" ]; then
		skip "check_membership $*: no cokeeperctl in the image"
		return 0
	fi
	t0=$(now_ms)
	# "=NAME": a member that runs no agent (a paused probe): in dom0's list, no view to check.
	want=$(for n in "$@"; do echo "${n#=}"; done | sort | tr '\n' ' ')
	if ! wait_until 60 ck_dom0_is "$want"; then
		fail "cokeeperd members are {$(ck_dom0_names)}, want {$want} $(head -c 200 "$LAB_DIR/members.err")"
		return 1
	fi
	note "cokeeperd has {$want} at +$(fmt_ms $(($(now_ms) - t0)))s"
	CK_POKED=0
	for n in "$@"; do
		case $n in =*) continue ;; esac
		# HOOK: guests without cokeeper-query report the fixed line of rootfs/ck-report
		case $(report_of "$n") in no-cokeeper-query*)
			skip "$n has no cokeeper-query"
			continue ;;
		esac
		if wait_until 60 ck_view_is "$n"; then
			note "$n agrees at +$(fmt_ms $(($(now_ms) - t0)))s"
		else
			fail "$n sees {$(echo "$CK_VIEW" | ck_brief)}, cokeeperd {$(echo "$CK_MEMBERS" | ck_brief)}" \
				"(full JSON: mismatch-$LAB_STEP-$n-*.log in the run directory)"
			ok=1
		fi
	done
	# After the views: these execs take seconds when the guests are busy.
	for n in "$@"; do
		n=${n#=}
		ck_member_ok "$n" || { fail "cokeeperd's entry for $n: $(echo "$CK_MEMBERS" | jq -c --arg n "$n" '.[] | select(.name == $n)')"; ok=1; }
	done
	# HOOK: more guest-side checks (cokeeper-query lookup <ip>: 0 for a member, 1 for
	# 10.99.0.254) need a way to run a command in a guest; the reporter could publish them.
	return $ok
}

# ck_stats: cokeeperd's counters and convergence percentiles, one line.
# guest_run NAME COMMAND: runs COMMAND in the guest (domU-init's data/ck-cmd hook), prints its
# last lines of output and returns its exit status (124 when it did not answer in 60 s).
guest_run() {
	local _d _id
	_d=$(domid_of "$1") || return 125
	_id=$(guest_cmd_id)
	xenstore-write "/local/domain/$_d/data/ck-cmd" "$_id $2" || return 125
	guest_cmd_wait "$1" "$_id"
}
# guest_cmd_id: the next command's id.  Kept in a file, not a variable: callers run guest_run
# in a $(…) subshell.  A command written to data/ck-cmd by another program (the renewal that
# `cokeeperctl latency` runs in bench-lib.sh) takes its id here too, and guest_cmd_wait
# NAME ID reads the guest's answer to it as guest_run does.
guest_cmd_id() {
	local _id
	_id=$(($(cat "$LAB_DIR/.cmd_id" 2>/dev/null || echo 0) + 1))
	echo "$_id" >"$LAB_DIR/.cmd_id"
	echo "$_id"
}
guest_cmd_wait() {
	local _d _r _i=0
	_d=$(domid_of "$1") || return 125
	while [ $_i -lt 600 ]; do
		_r=$(xenstore-read "/local/domain/$_d/data/ck-cmd-result" 2>/dev/null)
		case $_r in "$2 "*)
			_r=${_r#"$2 "}
			echo "${_r#* }"
			return "${_r%% *}" ;;
		esac
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "no answer from $1"
	return 124
}

ck_stats() {
	[ -x "$CK_CTL" ] || return 0
	note "cokeeperd stats: $(ck_ctl stats 2>&1 | jq -c '{counters, convergence}' 2>&1 | head -c 600)"
}

# ---- the booted Debian systems (LAB_SYSTEMD=1) ------------------------------------------
# What a Debian host and guest must show with the packages installed and started by their
# units: each service active and never restarted, no warning of theirs in the journal, and
# (guests) the module DKMS built, loaded from updates/dkms, and the agent's generation dom0's.

# sd_unit_ok UNIT: active, NRestarts=0, and no journal line at warning or above.
sd_unit_ok() {
	local _st _n _w
	_st=$(systemctl is-active "$1")
	_n=$(systemctl show -P NRestarts "$1")
	_w=$(journalctl -q -p warning -u "$1" --no-pager 2>&1 | tail -n 3)
	[ "$_st" = active ] || { echo "$1 is $_st"; return 1; }
	[ "$_n" = 0 ] || { echo "$1 restarted $_n times"; return 1; }
	[ -z "$_w" ] || { echo "$1 logged warnings: $_w"; return 1; }
}

# ck_guest_install NAME previous|new [stopped]: apt installs the agent's .debs of the previous
# release or of this build in the Debian guest NAME over its running agent (rootfs/lab-apt),
# as an administrator upgrades; each failure is reported (fail).  With "stopped", dom0's
# cokeeperd is stopped for it, as a guest's unattended-upgrades may run while dom0 upgrades
# or restarts its own: the agent must be active after it, not wait for dom0 (0.2.0's said
# READY only after a snapshot: apt succeeded, since the postinst ignores a failed restart,
# and left it activating until its start timed out: run 20261207-150734-23434); then
# cokeeperd is started again.
ck_guest_install() {
	local _n=$1 _which=$2 _st
	ck_guest_installed() {
		CK_APT=$(guest_run "$_n" 'cat /run/lab-apt.status')
		case $CK_APT in "done "*) return 0 ;; esac
		return 1
	}
	if [ "${3:-}" = stopped ]; then
		systemctl stop cokeeperd.service || fail "systemctl stop cokeeperd"
	fi
	guest_run "$_n" "lab-apt $_which" >/dev/null || fail "$_n: lab-apt $_which did not start"
	wait_until 300 ck_guest_installed || fail "$_n: lab-apt $_which did not end: $CK_APT"
	case $CK_APT in
	"done 0 "*) note "$_n: cokeeper-agent ${CK_APT#done 0 } installed over the running one${3:+ (cokeeperd $3)}" ;;
	*) fail "$_n: apt-get install the $_which agent${3:+ (cokeeperd $3)}: $CK_APT $(guest_run "$_n" 'tail -n 3 /run/lab-apt.log')" ;;
	esac
	[ "${3:-}" = stopped ] || return 0
	_st=$(guest_run "$_n" 'echo "$(systemctl is-active cokeeper-agent) $(systemctl show -P StatusText cokeeper-agent)"')
	note "$_n before dom0 serves it again: $_st"
	case $_st in "active "*) ;; *) fail "$_n: cokeeper-agent after its upgrade with no cokeeperd: '$_st'" ;; esac
	systemctl start cokeeperd.service || fail "systemctl start cokeeperd"
	wait_until 30 ck_daemon_answers || fail "cokeeperd does not answer on $CK_SOCK"
	CK_DAEMON_PID=$(systemctl show -P MainPID cokeeperd.service)
}

# ck_sd_guest_ok NAME: the guest's agent unit, module and table (rootfs/lab-sd-check, one
# guest_run: each costs seconds under TCG), as above; the answer in
# CK_SD_GUEST.  Its table's epoch and generation must be dom0's.
ck_sd_guest_ok() {
	local _want
	CK_SD_GUEST=$(guest_run "$1" lab-sd-check) || return 1
	CK_SD_GUEST=${CK_SD_GUEST% }	# guest_run joins the lines with spaces
	_want=$(ck_ctl stats | jq -r '"\(.epoch) \(.gen)"')
	case $CK_SD_GUEST in
	"state=active restarts=0 target=active module=/lib/modules/"*/updates/dkms/cokeeper.ko*" table=$_want") return 0 ;;
	esac
	return 1
}
