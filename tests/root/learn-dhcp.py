#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""cokeeperd --learn against real frames, without Xen: network namespaces stand in for dom0
(a bridge with dnsmasq, Debian's DHCP server, on it) and two guests (busybox udhcpc and
arping), each joined to the bridge by a veth whose dom0 end is named as xl names a vif
(vif1.0, vif2.0); cokeeperd runs in dom0's namespace with the simulated source, whose
domains carry the guests' MACs.  A lease reaches cokeeperd as "learned"; a guest answering
ARP for another's address gets nothing; a guest sending with another's MAC is not believed;
a neighbour advertisement teaches an IPv6 address; a restarted cokeeperd knows the lease
from its state file before any renewal; a release takes the address away.  Needs root, ip(8), dnsmasq and busybox: exits 77 without them.
The waits only guard against hangs: every verdict is on what cokeeperd reports.

Usage: learn-dhcp.py BUILD_DIR
"""
import os
import shutil
import signal
import subprocess
import sys

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
from pipeline import HANG, Control, Failure, Run, until  # noqa: E402

SKIP = 77
BUSYBOX = shutil.which("busybox")
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
GUESTS = {"web": ("00:16:3e:77:00:01", "10.77.0.11", 1), "db": ("00:16:3e:77:00:02", "10.77.0.12", 2)}


def sh(*argv, check=True):
    return subprocess.run([str(a) for a in argv], check=check, capture_output=True, text=True)


def main():
    if os.geteuid() != 0 or not shutil.which("ip") or not BUSYBOX or not os.access(DNSMASQ, os.X_OK):
        print("SKIP needs root, ip(8), busybox and dnsmasq")
        return SKIP
    build = sys.argv[1]
    daemon_bin = os.path.join(build, "cokeeperd", "cokeeperd")
    tag = str(os.getpid())
    host, netns = f"ckh{tag}", {n: f"ck{n}{tag}" for n in GUESTS}
    run = Run("cokeeper-learn-")
    ctl_path, state = run.path("control.sock"), run.path("addresses")
    failed = 0

    def in_ns(ns, *argv):
        return ["ip", "netns", "exec", ns, *argv]

    def daemon():
        return run.spawn(in_ns(host, daemon_bin, "--source", "sim", "--control", ctl_path,
                               "--agent-socket", run.path("a.sock"), "--learn=dhcp,arp",
                               "--address-state", state),
                         "cokeeperd.log", ready=True)

    def used(ctl, name):
        """{address: source} cokeeperd uses for name."""
        return {e["address"]: e["source"] for e in ctl.call(cmd="addresses", domain=name)["addresses"]
                if e["used"]}

    def counter(ctl, name):
        return ctl.call(cmd="stats")["counters"][name]

    try:
        sh("ip", "netns", "add", host)
        sh("ip", "-n", host, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", host, "addr", "add", "10.77.0.254/24", "dev", "br0")
        sh("ip", "-n", host, "link", "set", "br0", "up")
        with open(run.path("hosts"), "w") as f:
            for mac, ip, _ in GUESTS.values():
                f.write(f"{mac},{ip}\n")
        for name, (mac, ip, domid) in GUESTS.items():
            sh("ip", "netns", "add", netns[name])
            sh("ip", "-n", host, "link", "add", f"vif{domid}.0", "type", "veth", "peer", "name",
               "eth0", "netns", netns[name])
            sh("ip", "-n", host, "link", "set", f"vif{domid}.0", "master", "br0", "up")
            sh("ip", "-n", netns[name], "link", "set", "eth0", "address", mac, "up")
        run.spawn(in_ns(host, DNSMASQ, "--keep-in-foreground", "--port=0", "--interface=br0",
                        "--bind-interfaces", "--dhcp-range=10.77.0.100,10.77.0.150,2m",
                        f"--dhcp-hostsfile={run.path('hosts')}",
                        f"--dhcp-leasefile={run.path('leases')}", "--user=root", "--group=root",
                        "--log-dhcp", f"--log-facility={run.path('dnsmasq.log')}"), "dnsmasq.out")
        d = daemon()
        ctl = Control(ctl_path, timeout=HANG)
        for name, (mac, _, domid) in GUESTS.items():
            if ctl.call(cmd="sim-create", name=name, mac=mac)["domid"] != domid:
                raise Failure(f"{name} is not domid {domid}")

        def lease(name):
            out = sh(*in_ns(netns[name], BUSYBOX, "udhcpc", "-i", "eth0", "-n", "-q", "-t", "10",
                            "-s", "/bin/true"), check=False)
            if out.returncode != 0:
                raise Failure(f"{name}: udhcpc: {out.stderr.strip()}")

        # The dnsmasq may still be binding: udhcpc retries (-t 10).
        for name in GUESTS:
            lease(name)
        for name, (_, ip, _) in GUESTS.items():
            until(f"{name}'s lease was not learned", lambda: used(ctl, name).get(ip) == "learned")
        print("PASS each guest's DHCP lease is learned from the frames on its vif", flush=True)

        web_ip, db = GUESTS["web"][1], netns["db"]
        taken = counter(ctl, "addresses_arp_taken")
        sh("ip", "-n", db, "addr", "add", f"{web_ip}/32", "dev", "eth0")
        sh(*in_ns(db, BUSYBOX, "arping", "-U", "-c", "2", "-I", "eth0", "-s", web_ip, web_ip),
           check=False)
        until("db's ARP for web's address was not counted",
              lambda: counter(ctl, "addresses_arp_taken") > taken)
        if web_ip in used(ctl, "db") or used(ctl, "web").get(web_ip) != "learned":
            raise Failure(f"db's ARP moved web's address: web {used(ctl, 'web')}, db {used(ctl, 'db')}")
        sh("ip", "-n", db, "addr", "del", f"{web_ip}/32", "dev", "eth0")
        print("PASS a guest answering ARP for another's address gets nothing", flush=True)

        # IPv6: web answers db's neighbour solicitation; its advertisement teaches fd00::11.
        sh("ip", "-n", netns["web"], "addr", "add", "fd00::11/64", "dev", "eth0", "nodad")
        sh("ip", "-n", db, "addr", "add", "fd00::12/64", "dev", "eth0", "nodad")
        sh(*in_ns(db, BUSYBOX, "ping", "-6", "-c", "1", "-W", "2", "fd00::11"), check=False)
        until("web's neighbour advertisement was not learned",
              lambda: used(ctl, "web").get("fd00::11") == "learned")
        if "fd00::12" in used(ctl, "db"):
            raise Failure("db's solicitation taught an address (only advertisements count)")
        print("PASS a neighbour advertisement from a guest's vif is learned (IPv6)", flush=True)

        forged = counter(ctl, "addresses_not_member")
        sh("ip", "-n", db, "link", "set", "eth0", "address", GUESTS["web"][0])
        sh("ip", "-n", db, "addr", "add", "10.77.0.99/24", "dev", "eth0")
        sh(*in_ns(db, BUSYBOX, "arping", "-U", "-c", "1", "-I", "eth0", "-s", "10.77.0.99",
                  "10.77.0.99"), check=False)
        until("an ARP with web's MAC on db's vif was not refused",
              lambda: counter(ctl, "addresses_not_member") > forged)
        if "10.77.0.99" in used(ctl, "web"):
            raise Failure("an ARP with web's MAC on db's vif gave web an address")
        sh("ip", "-n", db, "link", "set", "eth0", "address", GUESTS["db"][0])
        print("PASS a frame with another guest's MAC on a vif is not believed", flush=True)

        # A restart: the lease is in the state file, and known before any renewal.
        if run.stop(d) != 0:
            raise Failure(f"cokeeperd exited with {d.returncode} on SIGTERM")
        d = daemon()
        for name, (mac, _, _) in GUESTS.items():
            ctl.call(cmd="sim-create", name=name, mac=mac)
        if used(ctl, "web").get(web_ip) != "learned":
            raise Failure(f"a restarted cokeeperd forgot web's lease: {used(ctl, 'web')}")
        print("PASS a restarted cokeeperd knows the leases (its state file)", flush=True)

        # A udhcpc that stays: its lease again (a renewal to cokeeperd), then SIGUSR2: a
        # DHCPRELEASE.  ip netns exec execs it, so the pid is udhcpc's.
        renewals = counter(ctl, "addresses_renewals")
        p = run.spawn(in_ns(netns["web"], BUSYBOX, "udhcpc", "-f", "-i", "eth0", "-t", "10",
                            "-s", "/bin/true"), "udhcpc-web.log")
        until("web's second lease was not seen",
              lambda: counter(ctl, "addresses_renewals") > renewals)
        p.send_signal(signal.SIGUSR2)
        until("web's release did not take its address away",
              lambda: web_ip not in used(ctl, "web") and counter(ctl, "addresses_releases") >= 1)
        print("PASS a DHCPRELEASE takes the address away", flush=True)
    except (Failure, OSError, ValueError, KeyError, subprocess.CalledProcessError) as e:
        failed += 1
        print(f"FAIL {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
        for ns in [host, *netns.values()]:
            sh("ip", "netns", "del", ns, check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
