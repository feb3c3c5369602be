#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The hostile suite's harness (tests/hostile/hostile.py runs it): the daemon under test with
its honest agents, the attacker process, the watchdog, one case's checks, and what attackers
share (protobuf by hand, connecting, reading).  A case module (hostile.py's own cases,
control_cases.py, relay_cases.py) gives ATTACKS (the attacker side, run in its own process as
`hostile.py --attack KIND`), CASES (run_case's keyword arguments) and TITLES."""
import json
import os
import re
import resource
import select
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
from pipeline import Control, Failure, Run, converge  # noqa: E402,F401

# A hang guard, never a speed test: `members` must answer at all while under attack (the
# attack is held up until the checks are done, so a slow machine only waits longer), and no
# wait below is a verdict unless nothing at all happens within it.
HANG = 60.0
ATTACK_S = 4.0     # seconds an attack that is not held runs (after it is set up)
AGENTS = 3         # honest agents, domids 1..AGENTS
LOG_LINES = 30     # daemon stderr lines about the attacker, per case
SPIN = 0.5         # seconds running or runnable per wall second, for a daemon with nothing to do
ATTACKER_DOMID = 4242
HOSTILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostile.py")
CTL_MAX = 4096     # the control line limit at 6bf8d0a; the over-long line goes past it
HOLD_GUARD = 300.0  # seconds: a held attack ends by itself after this (a hang guard only)


# ---- protobuf by hand (proto/cokeeper.proto) -------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def hello(domid, epoch=0, gen=0, version=1, fastpath=0):
    """Envelope{hello: Hello{domid, epoch, gen, protocol_version, fastpath_version}}, framed."""
    body = b"\x08" + varint(domid)
    if epoch:
        body += b"\x10" + varint(epoch)
    if gen:
        body += b"\x18" + varint(gen)
    body += b"\x20" + varint(version)
    if fastpath:
        body += b"\x28" + varint(fastpath)
    env = b"\x0a" + varint(len(body)) + body
    return struct.pack(">I", len(env)) + env


# The fast path's set-up messages (include/uapi/linux/cokeeper_fp.h): Envelope cases, ring
# versions and orders, close reasons.
ENV_SNAPSHOT, ENV_DELTA = 2, 3
FP_OFFER, FP_ACCEPT, FP_CLOSE = 6, 7, 8
FP_NAMES = {FP_OFFER: "offer", FP_ACCEPT: "accept", FP_CLOSE: "close"}
CKFP_RING_VERSION = 1
CKFP_RING_ORDER_MIN, CKFP_RING_ORDER_MAX = 6, 8
CKFP_CLOSE_UNREACHABLE = 4


def ckfp_grefs(order):
    return 1 + 2 * (1 << order)


def envelope(case, body):
    """Envelope{case: body}, framed (case < 16: a one-byte key)."""
    env = bytes([case << 3 | 2]) + varint(len(body)) + body
    return struct.pack(">I", len(env)) + env


def fastpath_offer(peer, channel, order=CKFP_RING_ORDER_MIN, gref=1):
    """A valid FastpathOffer to peer; every grant reference is gref (its varint's size sets
    the message's: 0xFFFFFFFF makes each five bytes)."""
    grefs = varint(gref) * ckfp_grefs(order)
    body = (b"\x08" + varint(peer) + b"\x10" + varint(channel)
            + b"\x18" + varint(CKFP_RING_VERSION) + b"\x20" + varint(order)
            + b"\x28" + varint(1) + b"\x32" + varint(len(grefs)) + grefs)
    return envelope(FP_OFFER, body)


def fastpath_accept(peer, channel):
    return envelope(FP_ACCEPT, b"\x08" + varint(peer) + b"\x10" + varint(channel))


def fastpath_close(peer, channel=0, reason=0):
    body = b"\x08" + varint(peer)
    if channel:
        body += b"\x10" + varint(channel)
    if reason:
        body += b"\x18" + varint(reason)
    return envelope(FP_CLOSE, body)


def read_varint(buf, i):
    """The varint at buf[i:] and the index after it."""
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def pb_fields(buf):
    """{field number: [values]} of one protobuf message: varints and fixed as numbers,
    length-delimited fields as bytes."""
    out = {}
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        wire = key & 7
        if wire == 0:
            v, i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            v = bytes(buf[i:i + n])
            i += n
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            v = int.from_bytes(buf[i:i + size], "little")
            i += size
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(key >> 3, []).append(v)
    return out


def split_frames(buf):
    """The whole frames at the front of buf as (Envelope case, {field: [values]} of its
    message, frame length), and what is left."""
    out = []
    while len(buf) >= 4:
        n = struct.unpack(">I", buf[:4])[0]
        if len(buf) < 4 + n:
            break
        env = pb_fields(buf[4:4 + n])
        case = next(iter(env), None)
        out.append((case, pb_fields(env[case][0]) if case else {}, 4 + n))
        buf = buf[4 + n:]
    return out, buf


# ---- the attacker (a separate process: `hostile.py --attack KIND ...`) ------------------------

def report(**kw):
    print(json.dumps(kw), flush=True)


def ready():
    print("ready", flush=True)


def hold(a):
    """Keeps the attack up until the case is done with it: run_case(hold=True) gives the
    attacker a pipe on stdin and closes it after its checks.  Without one, a.seconds."""
    if not stat.S_ISFIFO(os.fstat(0).st_mode):
        time.sleep(a.seconds)
        return
    select.select([0], [], [], HOLD_GUARD)


def attacking(a, wait=0.0):
    """True while the attack goes on: until run_case releases a held attacker (hold=True),
    else for a.seconds from the first call.  Waits up to wait seconds for the release."""
    if stat.S_ISFIFO(os.fstat(0).st_mode):
        return not released(wait)
    if not hasattr(a, "until"):
        a.until = time.monotonic() + a.seconds
    time.sleep(wait)
    return time.monotonic() < a.until


def released(timeout):
    """True once run_case closed the attacker's stdin (see hold), after at most timeout s."""
    if not stat.S_ISFIFO(os.fstat(0).st_mode):
        return False
    r, _, _ = select.select([0], [], [], timeout)
    return bool(r)


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
        # ASan's quarantine alone would hold 256 MB of freed memory: keep RSS meaningful
        # (the suite bounds RSS at +64 MB under ASan too).
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8").lstrip(":")
        self.daemon = self.run.spawn(
            [self.bins["daemon"], "--source", "sim", "--control", self.ctl_path,
             "--agent-socket", self.agent_path, *args],
            "cokeeperd.log", ready=True, preexec_fn=pre, env=env)
        for i in range(1, AGENTS + 1):
            dump = self.run.path(f"agent{i}.json")
            self.dumps.append((i, dump))
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


def as_nobody_wrap(gid):
    """setpriv as user nobody in group gid (the daemon's, whose socket mode lets it in).  The
    uid change clears the parent-death signal Run.spawn set: setpriv sets it again after."""
    return ("setpriv", "--reuid=nobody", f"--regid={gid if gid is not None else nogroup()}",
            "--clear-groups", "--pdeathsig", "KILL", "--")


class Attacker:
    def __init__(self, setup, kind, seconds=ATTACK_S, count=0, as_nobody=False, hold=False):
        """as_nobody: False, or the group (a gid, None for nogroup) to run the attacker in as
        user nobody; hold: see hold()."""
        self.p = setup.run.spawn(
            [sys.executable, HOSTILE, "--attack", kind,
             "--agent-socket", setup.agent_path, "--control", setup.ctl_path,
             "--seconds", str(seconds), "--count", str(count)],
            wrap=as_nobody_wrap(as_nobody) if as_nobody is not False else (),
            stdin=subprocess.PIPE if hold else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.result = None

    def wait_ready(self, timeout=60):
        """Reads the attacker's "ready" line a byte at a time from the pipe itself: a
        readline() on the text stream reads ahead into its buffer, and an attacker that
        already printed its report (a case that needs nothing from us after "ready", on a
        busy machine) would lose it there, since communicate() reads the pipe's descriptor."""
        fd, line = self.p.stdout.fileno(), b""
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            c = os.read(fd, 1) if r else b""
            if not c:
                break
            line += c
        if line.strip() != b"ready":
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
             during=None, after=None, quiet_window=False, vm_peak=False, before=None,
             during_first=False, attacker_as_nobody=False, hold=False):
    """Starts a daemon, attacks it, checks it; returns a list of failures.
    before(setup) runs ahead of the RSS baseline and the attacker; during_first runs during
    ahead of the usual checks under attack; attacker_as_nobody runs the attacker as nobody
    (with group=, the daemon's group); hold keeps the attack up until the checks are done
    (the attacker calls hold(a))."""
    setup = None
    problems = []
    try:
        setup = Setup(bins, name, args, nofile, group)
        if before:
            before(setup)
        base_kb = status_kb(setup.daemon.pid, "VmRSS")
        base_vm_kb = status_kb(setup.daemon.pid, "VmSize")
        since = len(setup.log_lines())
        attacker = Attacker(setup, kind, count=count,
                            as_nobody=group if attacker_as_nobody else False, hold=hold)
        attacker.wait_ready()
        dog = Watchdog(setup, attacker, base_kb, rss_mb)
        dog.start()
        try:
            if during and during_first:
                during(setup)
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
            if during and not during_first:
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


def nogroup():
    import grp
    try:
        return grp.getgrnam("nogroup").gr_gid
    except KeyError:
        return grp.getgrnam("nobody").gr_gid


