#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Hostile guests and clients (issue 11): the real cokeeperd (simulated source, unix transport)
with real cokeeper-agent processes, and an attacker process doing one thing per case:
  hello-flood   a continuous stream of Hellos over the agent socket, never reading
  emfile        the daemon under RLIMIT_NOFILE 64 and 100 peers connecting at once
  idle-peers    1,000 connections that never say Hello (--max-guests, --hello-timeout)
  partial-frame 1,000 connections that send a partial frame declaring 128 KiB
  smuggle       an over-long control line whose tail is a command
  watchers      clients that send watch and never read (--max-watchers)
  nonroot       a client that is not root: may read, may not rescan or sim-*

Each case asserts, while the attack runs or right after it:
  - the daemon's RSS (VmHWM over VmRSS at the start) grows by at most RSS_MB;
  - `cokeeperctl members` answers while under attack (held up until the checks are done);
    HANG seconds is a hang guard, not a speed test;
  - every honest agent converges to the daemon's membership after a sim-create and a
    sim-destroy made during the attack;
  - the attacker is disconnected or throttled, and the daemon's stderr gained at most
    LOG_LINES lines about it (rate-limited logging may let a few through).
No verdict depends on how fast the machine is: every bound is generous and catches a freeze, a
spin or unbounded growth.

Cases of issue 20 live in control_cases.py (the control socket) and relay_cases.py (the fast
path relay); attack_harness.py is what every case runs on.

Usage: hostile.py [--build DIR] [--only NAME]... [BUILD_DIR]
       HOSTILE_BUILD=DIR selects the binaries too (e.g. an old tree's build, to show it fails).
       HOSTILE_RSS_MB overrides the RSS bound (default 64, plain and under ASan: its quarantine
       is held to 8 MB, see attack_harness.Setup).
"""
import argparse
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attack_harness import (  # noqa: E402
    ATTACK_S, ATTACKER_DOMID, CTL_MAX, HANG, LOG_LINES, Control, Failure, attacking, hold,
    closed_by_peer, connect_many, guests_settle, has_asan, hello, nogroup, raise_nofile, read_line, ready, report, run_case)
import control_cases  # noqa: E402
import relay_cases  # noqa: E402


def attack_hello_flood(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(a.agent_socket)
    s.setblocking(False)
    batch = hello(ATTACKER_DOMID) * 2000
    sent = 0
    disconnected = None
    ready()
    view = memoryview(b"")
    while disconnected is None and attacking(a):
        if not view:
            view = memoryview(batch)
        _, w, _ = select.select([], [s], [], 0.1)
        if not w:
            continue
        try:
            n = s.send(view)
            sent += n
            view = view[n:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            disconnected = e.strerror
    if disconnected is None and closed_by_peer(s):
        disconnected = "EOF"
    report(hellos=sent // len(hello(ATTACKER_DOMID)), disconnected=disconnected)


def attack_emfile(a):
    raise_nofile()
    socks, refused = connect_many(a.agent_socket, 100)
    ready()
    hold(a)
    closed = sum(closed_by_peer(s) for s in socks)
    for s in socks:
        s.close()
    report(connected=len(socks), refused=refused, closed_by_daemon=closed)


def attack_idle(a, partial):
    raise_nofile()
    socks, refused = connect_many(a.agent_socket, 1000)
    if partial:
        # A header declaring 128 KiB, and a few bytes of the body: never the rest.
        for s in socks:
            try:
                s.send(struct.pack(">I", 128 << 10) + b"\x0a" * 16)
            except OSError:
                pass
    ready()
    closed = set()
    guard = time.monotonic() + HANG
    # Silent peers wait for the Hello deadline to close one at least (a hang guard only).
    while attacking(a, 0.1) or (not partial and not closed and time.monotonic() < guard):
        for i, s in enumerate(socks):
            if i not in closed and closed_by_peer(s):
                closed.add(i)
    for s in socks:
        s.close()
    report(connected=len(socks), refused=refused, closed_by_daemon=len(closed))


def attack_smuggle(a):
    created = []
    closed = 0
    tries = 0
    ready()
    deadline = time.monotonic() + a.seconds
    k = 0
    while time.monotonic() < deadline and k < 40:
        k += 1
        # Alternately just past the old 4,096-byte limit and far past any sane limit.
        pad = CTL_MAX if k % 2 else 1 << 20
        line = b"x" * pad + json.dumps({"cmd": "sim-create", "name": f"smuggled{k}"}).encode() \
            + b"\n"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(HANG)
        try:
            s.connect(a.control)
            s.sendall(line)
        except OSError:
            pass    # the daemon closed it while we were still sending: what it should do
        tries += 1
        # Everything it answers, until it closes (or goes quiet).
        got = b""
        s.settimeout(1.0)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    closed += pad > CTL_MAX
                    break
                got += chunk
        except OSError as e:
            if not isinstance(e, socket.timeout):
                closed += pad > CTL_MAX
        s.close()
        if b'"domid"' in got:
            created.append(f"smuggled{k}")
    report(tries=tries, long_closed=closed, long_tries=tries // 2, created_per_reply=created)


def attack_watchers(a):
    raise_nofile()
    accepted = refused = 0
    socks = []
    for _ in range(a.count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.connect(a.control)
            s.sendall(b'{"cmd":"watch"}\n')
        except OSError:
            refused += 1
            s.close()
            continue
        line = read_line(s, HANG)
        if line is not None and json.loads(line).get("ok"):
            accepted += 1
        else:
            refused += 1
        socks.append(s)     # and never read it again
    # Churn, so that every watcher's queue has something to hold.
    ctl = Control(a.control, timeout=HANG)
    deadline = time.monotonic() + a.seconds / 2
    n = 0
    while time.monotonic() < deadline:
        n += 1
        ctl.call(cmd="sim-create", name="churn",
                 ip=[f"10.99.{n % 250}.{k + 1}" for k in range(8)])
        ctl.call(cmd="sim-destroy", name="churn")
    ready()
    hold(a)
    for s in socks:
        s.close()
    report(accepted=accepted, refused=refused, churn=n)


NONROOT = r"""
import json, socket, sys
path = sys.argv[1]
out = {}
for cmd, extra in (("members", {}), ("stats", {}), ("guests", {}), ("rescan", {}),
                   ("sim-create", {"name": "nonroot"}), ("sim-destroy", {"name": "1"}),
                   ("sim-fire", {})):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
        s.sendall((json.dumps(dict(cmd=cmd, **extra)) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            c = s.recv(65536)
            if not c:
                break
            buf += c
        out[cmd] = json.loads(buf).get("ok") if buf else "closed"
    except OSError as e:
        out[cmd] = "error: " + str(e)
    s.close()
print(json.dumps(out))
"""


def attack_nonroot(a):
    ready()
    results = []
    for _ in range(10):
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            sys.executable, "-c", NONROOT, a.control],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            report(error=f"setpriv: exit {p.returncode}: {p.stderr.strip()[-300:]}")
            return
        results.append(json.loads(p.stdout))
    # Each command's answers over the tries: true (allowed), false (refused), or how it failed.
    report(results={cmd: sorted({str(r[cmd]) for r in results}) for cmd in results[0]})


ATTACKS = {
    "hello-flood": attack_hello_flood,
    "emfile": attack_emfile,
    "idle-peers": lambda a: attack_idle(a, False),
    "partial-frame": lambda a: attack_idle(a, True),
    "smuggle": attack_smuggle,
    "watchers": attack_watchers,
    "nonroot": attack_nonroot,
}


def after_flood(setup, r):
    if not r:
        return
    if r["disconnected"] is None:
        # Still connected: then it must have been throttled, i.e. held to one session that the
        # daemon still serves; the RSS and log bounds above say the rest.
        guests = [g for g in setup.ctl.call(cmd="guests")["guests"]
                  if g["domid"] == ATTACKER_DOMID]
        if len(guests) > 1:
            raise Failure(f"{len(guests)} sessions for the flooding peer")


def after_emfile(setup, r):
    log = "\n".join(setup.log_lines())
    said = re.findall(r".*(?:too many open files|EMFILE|ENFILE|descriptor).*", log, re.I)
    if not said:
        raise Failure("running out of descriptors was never logged")
    if len(said) > 5:
        raise Failure(f"running out of descriptors logged {len(said)} times: {said[:3]}")


MAX_GUESTS = 64


def during_idle(setup):
    n = len(setup.ctl.call(cmd="guests")["guests"])
    if n > MAX_GUESTS:
        raise Failure(f"{n} sessions with --max-guests {MAX_GUESTS}")


def after_idle(setup, r):
    if r and r["closed_by_daemon"] < 1:
        raise Failure(f"none of {r['connected']} silent peers was closed by the Hello deadline")
    guests_settle(setup)


def after_partial(setup, r):
    guests_settle(setup)


def after_smuggle(setup, r):
    names = [m["name"] for m in setup.ctl.call(cmd="members")["members"]]
    smuggled = [n for n in names if n.startswith("smuggled")]
    if smuggled or (r and r["created_per_reply"]):
        raise Failure(f"the tail of an over-long line ran as a command: created "
                      f"{smuggled or r['created_per_reply']}")
    if r and r["long_closed"] < r["long_tries"]:
        raise Failure(f"only {r['long_closed']} of {r['long_tries']} connections with a "
                      "1 MiB line were closed")


MAX_WATCHERS = 8


def after_watchers(setup, r):
    if r and r["accepted"] > MAX_WATCHERS:
        raise Failure(f"{r['accepted']} watchers accepted with --max-watchers {MAX_WATCHERS}")


def after_nonroot(setup, r):
    if not r:
        return
    if "error" in r:
        raise Failure(r["error"])
    res = r["results"]
    for cmd in ("members", "stats", "guests"):
        if res[cmd] != ["True"]:
            raise Failure(f"a non-root client's {cmd}: {res[cmd]}")
    for cmd in ("rescan", "sim-create", "sim-destroy", "sim-fire"):
        if "True" in res[cmd]:
            raise Failure(f"a non-root client's {cmd} was allowed")
    names = [m["name"] for m in setup.ctl.call(cmd="members")["members"]]
    if "nonroot" in names:
        raise Failure("a non-root client created a domain")


CASES = {
    # (kind, keyword arguments of run_case)
    "hello-flood": dict(hold=True, after=after_flood),
    "emfile": dict(nofile=64, quiet_window=True, hold=True, after=after_emfile),
    "idle-peers": dict(args=("--max-guests", str(MAX_GUESTS), "--hello-timeout", "1000"), hold=True,
                       during=during_idle, after=after_idle),
    "partial-frame": dict(vm_peak=True, hold=True, after=after_partial),
    "smuggle": dict(after=after_smuggle),
    "watchers": dict(args=("--max-watchers", str(MAX_WATCHERS)), count=50, hold=True,
                     after=after_watchers),
    "nonroot": dict(after=after_nonroot, as_nobody=True),
}

TITLES = {
    "hello-flood": "a guest flooding Hellos is disconnected or throttled; others converge",
    "emfile": "out of descriptors (RLIMIT_NOFILE 64, 100 peers): no spin, logged, recovers",
    "idle-peers": "1,000 silent peers: at most --max-guests, closed by the Hello deadline",
    "partial-frame": "1,000 partial frames declaring 128 KiB: memory stays bounded",
    "smuggle": "an over-long control line closes the connection, its tail never runs",
    "watchers": "50 watchers that never read: at most --max-watchers",
    "nonroot": "a non-root client may read, may not rescan or sim-*",
}

for _mod in (control_cases, relay_cases):
    ATTACKS.update(_mod.ATTACKS)
    CASES.update(_mod.CASES)
    TITLES.update(_mod.TITLES)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir", nargs="?")
    ap.add_argument("--build")
    ap.add_argument("--only", action="append", choices=sorted(CASES))
    ap.add_argument("--attack", choices=sorted(ATTACKS))
    ap.add_argument("--agent-socket")
    ap.add_argument("--control")
    ap.add_argument("--seconds", type=float, default=ATTACK_S)
    ap.add_argument("--count", type=int, default=0)
    a = ap.parse_args()
    if a.attack:
        ATTACKS[a.attack](a)
        return 0

    build = os.environ.get("HOSTILE_BUILD") or a.build or a.build_dir
    if not build:
        ap.error("a build directory is needed")
    bins = {"daemon": os.path.join(build, "cokeeperd", "cokeeperd"),
            "agent": os.path.join(build, "guest-agent", "cokeeper-agent"),
            "ctl": os.path.join(build, "tools", "cokeeperctl")}
    asan = has_asan(bins["daemon"])
    rss_mb = int(os.environ.get("HOSTILE_RSS_MB", 64))
    print(f"# binaries from {build}{' (ASan)' if asan else ''}; bounds: RSS +{rss_mb} MB, "
          f"hang guard {HANG:.0f} s, {LOG_LINES} log lines, attacks held until checked",
          flush=True)

    passed = failed = skipped = 0
    for name, kw in CASES.items():
        if a.only and name not in a.only:
            continue
        if kw.get("as_nobody"):
            # The attacker runs as nobody in the daemon's group (the socket's mode lets it in).
            if os.geteuid() != 0 or not shutil.which("setpriv"):
                print(f"SKIP {name}: needs root and setpriv", flush=True)
                skipped += 1
                continue
            kw = dict(kw, group=nogroup())
            del kw["as_nobody"]
        t0 = time.monotonic()
        problems = run_case(bins, rss_mb, name, name, **kw)
        if problems:
            failed += 1
            print(f"FAIL {name}: {TITLES[name]}: " + "; ".join(problems), flush=True)
        else:
            passed += 1
            print(f"PASS {name}: {TITLES[name]} ({time.monotonic() - t0:.1f}s)", flush=True)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
