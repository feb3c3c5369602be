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
  - `cokeeperctl members` answers within HANG seconds (a freeze detector, not a speed test);
  - every honest agent converges to the daemon's membership after a sim-create and a
    sim-destroy made during the attack;
  - the attacker is disconnected or throttled, and the daemon's stderr gained at most
    LOG_LINES lines about it (rate-limited logging may let a few through).
No verdict depends on how fast the machine is: every bound is generous and catches a freeze, a
spin or unbounded growth.

Usage: hostile.py [--build DIR] [--only NAME]... [BUILD_DIR]
       HOSTILE_BUILD=DIR selects the binaries too (e.g. an old tree's build, to show it fails).
       HOSTILE_RSS_MB overrides the RSS bound (default 64, or 256 when cokeeperd has ASan).
"""
import argparse
import json
import os
import re
import resource
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
from pipeline import Control, Failure, Run, converge  # noqa: E402

HANG = 10.0        # seconds: `members` must answer within this while under attack
ATTACK_S = 4.0     # seconds each attack runs (after it is set up)
AGENTS = 3         # honest agents, domids 1..AGENTS
LOG_LINES = 30     # daemon stderr lines about the attacker, per case
SPIN = 0.5         # seconds running or runnable per wall second, for a daemon with nothing to do
ATTACKER_DOMID = 4242
CTL_MAX = 4096     # the control line limit at 6bf8d0a; the over-long line goes past it


# ---- protobuf by hand (proto/cokeeper.proto) -------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def hello(domid, epoch=0, gen=0, version=1):
    """Envelope{hello: Hello{domid, epoch, gen, protocol_version}}, framed."""
    body = b"\x08" + varint(domid)
    if epoch:
        body += b"\x10" + varint(epoch)
    if gen:
        body += b"\x18" + varint(gen)
    body += b"\x20" + varint(version)
    env = b"\x0a" + varint(len(body)) + body
    return struct.pack(">I", len(env)) + env


# ---- the attacker (a separate process: `hostile.py --attack KIND ...`) ------------------------

def report(**kw):
    print(json.dumps(kw), flush=True)


def ready():
    print("ready", flush=True)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect_many(path, n, patience=5.0):
    """n non-blocking connections, retrying while the backlog is full for at most `patience`
    seconds; those it still refuses then count as refused."""
    socks = []
    deadline = time.monotonic() + patience
    while len(socks) < n:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
            socks.append(s)
            continue
        except (BlockingIOError, InterruptedError, ConnectionRefusedError, OSError):
            s.close()
        if time.monotonic() > deadline:
            break
        time.sleep(0.001)
    return socks, n - len(socks)


def closed_by_peer(s):
    """True if the daemon closed this connection (EOF or reset); drains what it sent."""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def attack_hello_flood(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(a.agent_socket)
    s.setblocking(False)
    batch = hello(ATTACKER_DOMID) * 2000
    sent = 0
    disconnected = None
    ready()
    deadline = time.monotonic() + a.seconds
    view = memoryview(b"")
    while time.monotonic() < deadline and disconnected is None:
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
    time.sleep(a.seconds)
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
    deadline = time.monotonic() + a.seconds
    closed = set()
    while time.monotonic() < deadline:
        for i, s in enumerate(socks):
            if i not in closed and closed_by_peer(s):
                closed.add(i)
        time.sleep(0.1)
    for s in socks:
        s.close()
    report(connected=len(socks), refused=refused, closed_by_daemon=len(closed))


def read_line(s, timeout):
    """The first reply line, or None on EOF/reset/timeout."""
    s.settimeout(timeout)
    buf = b""
    try:
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
    except OSError:
        return None
    return buf


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
    time.sleep(a.seconds / 2)
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


# ---- the daemon under test --------------------------------------------------------------------

def has_asan(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise Failure(f"no {key} for pid {pid}")


def busy_seconds(pid):
    """Seconds the daemon spent running or waiting to run: a spinning loop accrues one per
    second however busy the machine is (it only waits longer for a CPU), an idle one none.
    Without schedstat, CPU time alone (which a loaded machine can hide a spin from)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            run_ns, wait_ns = f.read().split()[:2]
        return (int(run_ns) + int(wait_ns)) / 1e9
    except OSError:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Setup:
    """One daemon, AGENTS honest agents and the attacker, in a private directory."""

    def __init__(self, bins, name, args=(), nofile=None, group=None):
        self.bins = bins
        self.run = Run(f"cokeeper-hostile-{name}-")
        self.tmp = self.run.tmp
        os.chmod(self.tmp, 0o711)   # the nonroot client must reach the socket
        self.ctl_path = self.run.path("control.sock")
        self.agent_path = self.run.path("agent.sock")
        self.log_path = self.run.path("cokeeperd.log")
        self.dumps = []
        self.ctl = Control(self.ctl_path, timeout=HANG)
        try:
            self._start(args, nofile, group)
        except BaseException:
            self.run.close(show_logs=True)
            raise

    def _start(self, args, nofile, group):
        def pre():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
            if group is not None:
                os.setgid(group)

        env = dict(os.environ)
        # ASan's quarantine alone would hold 256 MB of freed memory: keep RSS meaningful.
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16").lstrip(":")
        self.daemon = self.run.spawn(
            [self.bins["daemon"], "--source", "sim", "--control", self.ctl_path,
             "--agent-socket", self.agent_path, *args],
            "cokeeperd.log", ready=True, preexec_fn=pre, env=env)
        for i in range(1, AGENTS + 1):
            dump = self.run.path(f"agent{i}.json")
            self.dumps.append(dump)
            self.run.spawn([self.bins["agent"], "--transport", "unix", "--socket",
                            self.agent_path, "--domid", str(i), "--sink", "memory",
                            "--dump", dump], f"agent{i}.log")
        deadline = time.monotonic() + HANG
        while True:
            guests = self.ctl.call(cmd="guests")["guests"]
            if sorted(g["domid"] for g in guests if g["state"] != "await-hello") == \
                    list(range(1, AGENTS + 1)):
                break
            if time.monotonic() > deadline:
                raise Failure(f"honest agents did not join: {guests}")
            time.sleep(0.02)
        converge(self.ctl, self.dumps, "join")
        # The honest agents' channels, to tell their log lines from the attacker's.
        self.honest = set(re.findall(r"(unix:\d+): domid [1-9]\d* (?:joins|resumes)",
                                     open(self.log_path).read()))

    def log_lines(self):
        with open(self.log_path, errors="replace") as f:
            return f.read().splitlines()

    def attacker_lines(self, since):
        """Lines since line `since` not about an honest agent or the test's own changes."""
        own = re.compile(r"^(<\d>)?(sim: |gen \d+: )")
        return [line for line in self.log_lines()[since:]
                if not own.match(line) and not any(h + ":" in line for h in self.honest)]

    def members_timed(self):
        """`cokeeperctl members`, which must answer within HANG seconds."""
        t0 = time.monotonic()
        try:
            p = subprocess.run([self.bins["ctl"], "--control", self.ctl_path, "members"],
                               capture_output=True, text=True, timeout=HANG)
        except subprocess.TimeoutExpired:
            raise Failure(f"cokeeperctl members: no answer within {HANG:.0f} s (frozen)")
        if p.returncode != 0:
            raise Failure(f"cokeeperctl members: exit {p.returncode}: {p.stderr.strip()}")
        return time.monotonic() - t0

    def create_destroy(self, name):
        """A change made now must reach every honest agent, and so must its undoing."""
        self.ctl.call(cmd="sim-create", name=name, ip=["10.77.0.1"])
        m = converge(self.ctl, self.dumps, f"create {name}")
        if name not in [x["name"] for x in m["members"]]:
            raise Failure(f"{name} is not a member after its create")
        self.ctl.call(cmd="sim-destroy", name=name)
        m = converge(self.ctl, self.dumps, f"destroy {name}")
        if name in [x["name"] for x in m["members"]]:
            raise Failure(f"{name} is still a member after its destroy")

    def stop(self):
        """Ends every process (the directory stays until close) and returns cokeeperd's
        exit status."""
        self.run.end()
        return self.daemon.returncode

    def close(self):
        self.run.close()


class Attacker:
    def __init__(self, setup, kind, seconds=ATTACK_S, count=0):
        self.p = setup.run.spawn(
            [sys.executable, os.path.abspath(__file__), "--attack", kind,
             "--agent-socket", setup.agent_path, "--control", setup.ctl_path,
             "--seconds", str(seconds), "--count", str(count)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.result = None

    def wait_ready(self, timeout=60):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        line = self.p.stdout.readline() if r else ""
        if line.strip() != "ready":
            raise Failure(f"the attacker did not start: {line!r} "
                          f"{self.p.stderr.read()[-500:] if self.p.poll() is not None else ''}")

    def finish(self, timeout=120):
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise Failure("the attacker never finished")
        lines = [x for x in out.splitlines() if x.strip()]
        if self.p.returncode != 0 or not lines:
            if self.p.returncode == -9:
                return {}
            raise Failure(f"attacker exit {self.p.returncode}: {err.strip()[-500:]}")
        self.result = json.loads(lines[-1])
        return self.result


class Watchdog(threading.Thread):
    """Samples the daemon while the attack runs; stops the attacker once the verdict is
    already "unbounded" (RSS or log far past their bounds), so an old daemon cannot take the
    machine down with it."""

    def __init__(self, setup, attacker, base_kb, rss_mb):
        super().__init__(daemon=True)
        self.setup, self.attacker, self.base_kb = setup, attacker, base_kb
        self.limit_kb = base_kb + 4 * rss_mb * 1024
        self.stop_ev = threading.Event()
        self.killed = None

    def run(self):
        while not self.stop_ev.wait(0.05):
            try:
                rss = status_kb(self.setup.daemon.pid, "VmRSS")
                log = os.path.getsize(self.setup.log_path)
            except (OSError, Failure):
                return
            if rss > self.limit_kb or log > 256 << 20:
                self.killed = f"RSS {rss // 1024} MB, log {log >> 20} MB"
                if self.attacker.p.poll() is None:
                    self.attacker.p.kill()
                return


# ---- the cases ------------------------------------------------------------------------------

def run_case(bins, rss_mb, name, kind, *, args=(), nofile=4096, group=None, count=0,
             during=None, after=None, quiet_window=False, vm_peak=False):
    """Starts a daemon, attacks it, checks it; returns a list of failures."""
    setup = None
    problems = []
    try:
        setup = Setup(bins, name, args, nofile, group)
        base_kb = status_kb(setup.daemon.pid, "VmRSS")
        base_vm_kb = status_kb(setup.daemon.pid, "VmSize")
        since = len(setup.log_lines())
        attacker = Attacker(setup, kind, count=count)
        attacker.wait_ready()
        dog = Watchdog(setup, attacker, base_kb, rss_mb)
        dog.start()
        try:
            if quiet_window:
                # The daemon has nothing to do but wait for descriptors: it must not spin.
                c0, t0 = busy_seconds(setup.daemon.pid), time.monotonic()
                time.sleep(2.0)
                busy = (busy_seconds(setup.daemon.pid) - c0) / (time.monotonic() - t0)
                if busy > SPIN:
                    problems.append(f"the daemon spins: runnable {busy:.2f} s per s while "
                                    f"peers wait (bound {SPIN})")
            else:
                setup.members_timed()
                setup.create_destroy(f"during-{name}")
                setup.members_timed()
            if during:
                during(setup)
        except Failure as e:
            problems.append(f"during the attack: {e}")
        result = attacker.finish()
        dog.stop_ev.set()
        dog.join()
        if dog.killed:
            problems.append(f"attack stopped early, the daemon grew unbounded: {dog.killed}")
        if setup.daemon.poll() is not None:
            raise Failure(f"cokeeperd died: exit {setup.daemon.returncode}")
        # After: the daemon answers and serves the honest agents again.
        try:
            setup.members_timed()
            if quiet_window:
                setup.create_destroy(f"after-{name}")
        except Failure as e:
            problems.append(f"after the attack: {e}")
        grown = status_kb(setup.daemon.pid, "VmHWM") - base_kb
        if grown > rss_mb * 1024:
            problems.append(f"RSS grew by {grown // 1024} MB (bound {rss_mb} MB)")
        if vm_peak:
            # Memory allocated for bytes that never came is not resident until written, but
            # it is promised all the same: the address space must stay bounded too.
            vgrown = status_kb(setup.daemon.pid, "VmPeak") - base_vm_kb
            if vgrown > rss_mb * 1024:
                problems.append(f"the address space grew by {vgrown // 1024} MB "
                                f"(bound {rss_mb} MB)")
        if after:
            try:
                after(setup, result)
            except Failure as e:
                problems.append(str(e))
        time.sleep(0.5)    # what the daemon logs about the attacker's closing
        lines = setup.attacker_lines(since)
        if len(lines) > LOG_LINES:
            problems.append(f"{len(lines)} log lines about the attacker (bound {LOG_LINES}), "
                            f"e.g. {lines[0]!r} ... {lines[-1]!r}")
        print(f"  {name}: attacker {json.dumps(result)}, RSS +{max(grown, 0) // 1024} MB, "
              f"{len(lines)} log lines", flush=True)
    except Failure as e:
        problems.append(str(e))
    finally:
        if setup:
            rc = setup.stop()
            if rc not in (0, None) and not any("died" in p for p in problems):
                problems.append(f"cokeeperd exited {rc} at SIGTERM")
            if problems:
                print(f"  --- {name}: cokeeperd.log (last lines)")
                for line in open(setup.log_path, errors="replace").read().splitlines()[-15:]:
                    print(f"  | {line[:300]}")
            setup.close()
    return problems


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


def guests_settle(setup):
    """After the attacker left, only the honest agents remain (within HANG)."""
    deadline = time.monotonic() + HANG
    while True:
        guests = setup.ctl.call(cmd="guests")["guests"]
        if len(guests) == AGENTS:
            return
        if time.monotonic() > deadline:
            raise Failure(f"{len(guests)} sessions remain after the attacker left")
        time.sleep(0.05)


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


def nogroup():
    import grp
    try:
        return grp.getgrnam("nogroup").gr_gid
    except KeyError:
        return grp.getgrnam("nobody").gr_gid


CASES = {
    # (kind, keyword arguments of run_case)
    "hello-flood": dict(after=after_flood),
    "emfile": dict(nofile=64, quiet_window=True, after=after_emfile),
    "idle-peers": dict(args=("--max-guests", str(MAX_GUESTS), "--hello-timeout", "1000"),
                       during=during_idle, after=after_idle),
    "partial-frame": dict(vm_peak=True, after=after_partial),
    "smuggle": dict(after=after_smuggle),
    "watchers": dict(args=("--max-watchers", str(MAX_WATCHERS)), count=50,
                     after=after_watchers),
    "nonroot": dict(after=after_nonroot),
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
    rss_mb = int(os.environ.get("HOSTILE_RSS_MB", 256 if asan else 64))
    print(f"# binaries from {build}{' (ASan)' if asan else ''}; bounds: RSS +{rss_mb} MB, "
          f"members within {HANG:.0f} s, {LOG_LINES} log lines, attacks of {ATTACK_S:.0f} s",
          flush=True)

    passed = failed = skipped = 0
    for name, kw in CASES.items():
        if a.only and name not in a.only:
            continue
        if name == "nonroot":
            if os.geteuid() != 0 or not shutil.which("setpriv"):
                print(f"SKIP {name}: needs root and setpriv", flush=True)
                skipped += 1
                continue
            kw = dict(kw, group=nogroup())
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
