#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""bench/scale.py's host: the real cokeeperd (sim source, unix transport) and N real
cokeeper-agent processes, the watch stream that times their Acks, the spare domain that
changes, and what /proc and strace say about one process (bench/scale.py says what is
measured with them)."""
import json
import os
import re
import selectors
import socket
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "harness"))
from harness import Control, Failure, admin_args  # noqa: E402

ACK_RE = re.compile(rb'"domid":(\d+),"gen":(\d+)')
FOREIGN_DOMID = 2000


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def schedstat(pid):
    """(ns on a CPU: utime+stime at ns resolution, times it was run)"""
    with open(f"/proc/{pid}/schedstat") as f:
        fields = f.read().split()
    return int(fields[0]), int(fields[2])


SYSCALL_RE = re.compile(r"^(read|sendto)\((\d+),.* = (\d+)$")


class Wire:
    """One agent's socket traffic, from its strace log (/proc/PID/io is no help: the agent
    sends with send(2), which it does not count)."""

    def __init__(self, path):
        self.path, self.offset, self.fd = path, 0, None

    def read(self):
        """(bytes read, bytes sent) on the socket since the last call"""
        down = up = 0
        with open(self.path) as f:
            f.seek(self.offset)
            text = f.read()
        end = text.rfind("\n") + 1
        self.offset += len(text[:end].encode())
        for line in text[:end].splitlines():
            m = SYSCALL_RE.match(line)
            if not m:
                continue
            if m.group(1) == "sendto":
                self.fd = m.group(2)
                up += int(m.group(3))
            elif m.group(2) == self.fd:
                down += int(m.group(3))
        return down, up


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pct(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


class Watch:
    """The control socket's watch stream.  Tracks each agent's highest acked gen; a change
    sets `want` (a predicate on delta events); the matching delta fixes the target gen, and
    the Ack that empties `pending` stamps `done` with the time its bytes were read."""

    def __init__(self, path, domids):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(b'{"cmd":"watch"}\n')
        self.sock.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.buf = b""
        self.domids = set(domids)
        self.acked = {}
        self.want = None
        self.target = None
        self.pending = None
        self.done = None
        self.last_gen = None
        self.closed = []
        self.replied = False

    def _line(self, line, now):
        if b'"event":"ack"' in line:
            m = ACK_RE.search(line)
            domid, gen = int(m.group(1)), int(m.group(2))
            if gen > self.acked.get(domid, -1):
                self.acked[domid] = gen
            if self.pending is not None and gen >= self.target:
                self.pending.discard(domid)
                if not self.pending and self.done is None:
                    self.done = now
            return
        o = json.loads(line)
        if not self.replied:
            if not o.get("ok"):
                raise Failure(f"watch: {o.get('error')}")
            self.replied = True
            self.last_gen = o["gen"]
            return
        ev = o.get("event")
        if ev == "delta":
            self.last_gen = o["gen"]
            if self.want and self.target is None and self.want(o):
                self.arm(o["gen"], now)
        elif ev == "guest-closed" and o.get("domid") in self.domids:
            self.closed.append(o["domid"])

    def arm(self, target, now, among=None):
        self.target = target
        self.pending = {d for d in (self.domids if among is None else among) if self.acked.get(d, -1) < target}
        if not self.pending:
            self.done = now

    def reset(self, want=None):
        self.want, self.target, self.pending, self.done = want, None, None, None

    def pump(self, timeout):
        """Reads what is there, waiting at most `timeout` seconds for the first bytes."""
        for _ in self.sel.select(timeout):
            while True:
                try:
                    data = self.sock.recv(1 << 20)
                except BlockingIOError:
                    return
                now = time.monotonic()
                if not data:
                    raise Failure("the daemon closed the watch stream")
                self.buf += data
                lines = self.buf.split(b"\n")
                self.buf = lines.pop()
                for line in lines:
                    self._line(line, now)
                if len(data) < (1 << 20):
                    return

    def wait(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"{what}: not within {timeout:.0f} s")
            self.pump(min(left, 0.5))
        return True

    def close(self):
        self.sel.close()
        self.sock.close()


class Host:
    """One cokeeperd and N agents, with every agent holding the snapshot, in run."""

    def __init__(self, args, n, run, daemon_wrap=(), agent_wrap=None):
        self.args, self.n, self.run = args, n, run
        self.ctl_path = run.path("control.sock")
        self.agent_path = run.path("agent.sock")
        daemon = [os.path.join(args.build, "cokeeperd", "cokeeperd"), "--source", "sim",
                  "--transport", "unix", "--control", self.ctl_path,
                  "--agent-socket", self.agent_path, *admin_args()]
        self.daemon = run.spawn(daemon, "cokeeperd.log", wrap=daemon_wrap, ready=True)
        self.ctl = Control(self.ctl_path, timeout=args.timeout)
        members = min(n, args.member_cap)
        self.domids = []
        for i in range(members):
            r = self.ctl.call(cmd="sim-create", name=f"g{i}",
                              ip=[f"10.{1 + i // 250}.{i % 250}.1"])
            self.domids.append(r["domid"])
        self.domids += [FOREIGN_DOMID + i for i in range(n - members)]
        agent = os.path.join(args.build, "guest-agent", "cokeeper-agent")
        self.agents = []
        for i, domid in enumerate(self.domids):
            self.agents.append(run.spawn(
                [agent, "--transport", "unix", "--socket", self.agent_path,
                 "--domid", str(domid), "--sink", "memory",
                 # A daemon under valgrind with 1,024 Hellos to answer may take longer
                 # than the default 30 s: reconnecting would only skew the counts.
                 "--answer-timeout", "3600000"], f"agent{i}.log",
                wrap=(agent_wrap or {}).get(i, ())))
        self.wait_synced()

    def wait_synced(self):
        deadline = time.monotonic() + self.args.timeout
        while True:
            for p in self.run.procs:
                if p.poll() is not None:
                    raise Failure(f"{p.name}: exited with {p.returncode}")
            r = self.ctl.call(cmd="guests")
            ok = [g for g in r["guests"]
                  if g["state"] == "active" and g["acked_gen"] == r["gen"]]
            if len(ok) == self.n and len(r["guests"]) == self.n:
                return r["gen"]
            if time.monotonic() > deadline:
                raise Failure(f"{len(ok)} of {self.n} agents synced after {self.args.timeout} s")
            time.sleep(0.2)


class Spare:
    """The one domain that changes: create, migrate, destroy, in turn."""

    def __init__(self, name="spare"):
        self.name, self.domid = name, None

    def request(self, kind):
        if kind == "create":
            return dict(cmd="sim-create", name=self.name, ip=["10.250.0.1"])
        if kind == "destroy":
            return dict(cmd="sim-destroy", name=self.name)
        return dict(cmd="sim-migrate", name=self.name, pause_ms=0)

    def done(self, kind, reply):
        """The predicate on delta events that marks the change's gen, and the new domid."""
        old, new = self.domid, reply.get("domid")
        if kind == "create":
            self.domid = new
            return lambda o: any(u.get("domid") == new for u in o["upserts"])
        if kind == "destroy":
            self.domid = None
            return lambda o: old in o["removed"]
        self.domid = new
        return lambda o: old in o["removed"]
