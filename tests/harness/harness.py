# SPDX-License-Identifier: GPL-2.0-only
"""What every Python test and benchmark shares (tests/sim, tests/hostile, bench/): a run's
processes and temporary directory, ended together whatever way the run ends; readiness as
cokeeperd says it, not as a socket file's appearance; the control socket's client.

    with Run("cokeeper-sim-") as run:
        daemon = run.spawn([cokeeperd, ...], "cokeeperd.log", ready=True)
        agent = run.spawn([agent, ...], "agent1.log")
        ...                                   # an exception shows the logs at the end

Readiness: cokeeperd sends sd_notify READY=1 once its sockets listen and its first scan is
committed.  spawn(ready=True) hands it a NOTIFY_SOCKET of its own and waits for that word or
for its exit, whichever comes first (the hang guard aside, no clock decides).  Waiting for
the control socket's file instead races bind() against listen(): a connect in between is
refused (issue 18).

Ending: every process starts in a process group of its own, and ends with it: SIGTERM to the
whole group (and SIGCONT to a member stopped by SIGSTOP, to no other), then SIGKILL to what
is left of it after a grace period, so a wrapper's child (strace detaches from its tracee on
SIGTERM) goes with its wrapper.  Each process also dies with this one (PR_SET_PDEATHSIG
through setpriv), so a run killed outright (meson's SIGKILL after a timeout) leaves nothing
either; a forking wrapper's child gets the same from its wrapper.  No SIGCONT to a running
process: it would discard the SIGSTOP with which LeakSanitizer stops an exiting ASan
process's threads, and that process would never exit.  SIGTERM to this process ends the run as an
exception would (meson sends it first).  The temporary directory goes with the run, unless
keep=True and the run failed.
"""
import grp
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HANG = 300.0   # seconds: a hang guard for readiness and for ending, never a verdict on speed
GRACE = 60.0   # seconds between SIGTERM and SIGKILL: a hang guard (an exit takes 0.1 s under
               # ASan), short enough that a hang is described before meson's timeout

# Wrappers that run their program as a child of their own (and may leave it behind when
# they end): the program gets a parent-death signal from the wrapper too.  valgrind runs it
# in its own process, so it needs none, and an exec'd setpriv would escape valgrind.
FORKING_WRAPPERS = {"strace", "ltrace", "timeout"}


class Failure(Exception):
    pass


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)   # unwinds through every `with Run` and `finally`


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command (state, ppid, pgrp, ...), or None if
    the process is gone or not ours to read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _members(pgids):
    """{pid: (pgid, state)} of the live (not zombie) processes of the process groups pgids,
    in one look at /proc."""
    pids = {}
    for entry in os.listdir("/proc"):
        fields = proc_stat(entry) if entry.isdigit() else None
        if fields and int(fields[2]) in pgids and fields[0] != "Z":
            pids[int(entry)] = (int(fields[2]), fields[0])
    return pids


def _wait_gone(pgids, deadline):
    """Waits until no live process is left in the groups pgids or the deadline passes; True
    if none is left.  Each member is watched through a pidfd, so the wait ends on exits."""
    while True:
        pids = list(_members(pgids))
        if not pids:
            return True
        for i in range(0, len(pids), 256):      # a bounded number of descriptors at once
            pidfds = []
            try:
                for pid in pids[i:i + 256]:
                    try:
                        pidfds.append(os.pidfd_open(pid))
                    except ProcessLookupError:
                        pass
                with selectors.DefaultSelector() as sel:
                    for fd in pidfds:
                        sel.register(fd, selectors.EVENT_READ)
                    while sel.get_map():
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return False
                        for key, _ in sel.select(left):
                            sel.unregister(key.fileobj)
            finally:
                for fd in pidfds:
                    os.close(fd)


def _describe(pid):
    """What a process is and where it waits, for a log: command, state, kernel wait channel
    and each thread's state (a hang at exit reads differently from a busy loop)."""
    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return "?"
    cmd = read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()[:200]
    state = [ln for ln in read(f"/proc/{pid}/status").splitlines() if ln.startswith("State:")]
    threads = []
    try:
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            stat = read(f"/proc/{pid}/task/{tid}/stat").rsplit(")", 1)[-1].split()[:1]
            threads.append(f"{tid}:{''.join(stat)}/{read(f'/proc/{pid}/task/{tid}/wchan')}")
    except OSError:
        pass
    text = (f"{pid} ({cmd}) {state[0] if state else ''}, threads {' '.join(threads)}; "
            f"kernel stack: {read(f'/proc/{pid}/stack').strip().replace(chr(10), ' | ')}")
    if shutil.which("gdb"):
        try:
            bt = subprocess.run(["gdb", "-batch", "-nx", "-p", str(pid), "-ex",
                                 "thread apply all bt"], capture_output=True, text=True,
                                timeout=60).stdout
            text += "\n" + "\n".join(ln for ln in bt.splitlines() if ln.startswith(("#", "Thread")))
        except (OSError, subprocess.TimeoutExpired):
            pass
    return text


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


class Run:
    """One test's or benchmark's processes and temporary directory."""

    def __init__(self, prefix, keep=False):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.keep = keep
        self.procs = []
        self._notify_count = 0
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.close(show_logs=kind is not None and kind is not SystemExit)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def spawn(self, argv, log=None, *, wrap=(), ready=False, ready_timeout=HANG, env=None,
              notify_socket=None, **popen):
        """Starts argv (under the wrapper command wrap, if any) in a process group of its
        own.  log: a file in the run's directory for its stdout and stderr (appended to);
        without one, popen's stdout/stderr apply.  ready: waits for its READY=1 (Failure if
        it exits first, with its log's tail).  notify_socket: instead, a NOTIFY_SOCKET path
        the caller bound and reads itself.  Returns the Popen."""
        argv, wrap = [str(a) for a in argv], [str(a) for a in wrap]
        name = log.rsplit(".", 1)[0] if log else os.path.basename(argv[0])
        if wrap and os.path.basename(wrap[0]) in FORKING_WRAPPERS:
            argv = ["setpriv", "--pdeathsig", "KILL", "--"] + argv
        if threading.current_thread() is threading.main_thread():
            # The signal comes when the thread that forked ends: the main thread's is the
            # process's end.  A thread's child would die with that thread, so it gets none.
            argv = ["setpriv", "--pdeathsig", "KILL", "--"] + wrap + argv
        else:
            argv = wrap + argv
        env = dict(os.environ if env is None else env)
        env.pop("NOTIFY_SOCKET", None)   # not this process's supervisor's
        if notify_socket is not None:
            env["NOTIFY_SOCKET"] = notify_socket
        notify = None
        if ready:
            self._notify_count += 1
            notify_path = self.path(f"notify-{self._notify_count}.sock")
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            notify.bind(notify_path)
            env["NOTIFY_SOCKET"] = notify_path
        popen.setdefault("stdin", subprocess.DEVNULL)
        out = None
        if log is not None:
            out = open(self.path(log), "a")
            popen["stdout"] = popen["stderr"] = out
        try:
            p = subprocess.Popen(argv, env=env, process_group=0, **popen)
        except BaseException:
            if notify:
                notify.close()
            raise
        finally:
            if out:
                out.close()     # the child has its own descriptor
        p.log, p.name = log, name
        self.procs.append(p)
        if notify:
            with notify:
                self._wait_ready(p, notify, ready_timeout)
            os.unlink(notify_path)
        return p

    def _wait_ready(self, p, notify, timeout):
        name = p.name
        pidfd = os.pidfd_open(p.pid)
        try:
            deadline = time.monotonic() + timeout
            with selectors.DefaultSelector() as sel:
                sel.register(notify, selectors.EVENT_READ, "notify")
                sel.register(pidfd, selectors.EVENT_READ, "exit")
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Failure(f"{name}: not ready within {timeout:.0f} s"
                                      + self.log_tail(p))
                    for key, _ in sel.select(left):
                        if key.data == "notify":
                            if b"READY=1" in notify.recv(4096).split(b"\n"):
                                return
                        else:
                            p.wait()
                            raise Failure(f"{name}: exited with status {p.returncode} "
                                          "before it was ready" + self.log_tail(p))
        finally:
            os.close(pidfd)

    def log_tail(self, p, chars=1500):
        if not p.log:
            return ""
        try:
            with open(self.path(p.log), errors="replace") as f:
                return ":\n" + f.read()[-chars:].rstrip()
        except OSError:
            return ""

    def stop(self, p, grace=GRACE):
        """Ends p's process group (SIGTERM, then SIGKILL after grace seconds); returns p's
        exit status (negative: the signal that ended it)."""
        self._end([p], grace)
        return p.returncode

    def _end(self, procs, grace):
        groups = {p.pid for p in procs}
        live = {pgid for pgid, _ in _members(groups).values()}
        for pgid in live:
            _signal_group(pgid, signal.SIGTERM)
        # A stopped process (SIGSTOP: "T") must run to take its SIGTERM.  Only those: a
        # SIGCONT to the group would also discard the SIGSTOP that LeakSanitizer's tracer
        # sends when an exiting ASan process stops its threads to look for leaks, and the
        # tracer would wait for that stop for ever while the process spins on sched_yield.
        for pid, (_, state) in _members(live).items():
            if state == "T":
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        if not _wait_gone(live, time.monotonic() + grace):
            for pid in _members(live):
                print(f"harness: {_describe(pid)} outlived SIGTERM by {grace:.0f} s: SIGKILL",
                      file=sys.stderr, flush=True)
            for pgid in live:
                _signal_group(pgid, signal.SIGKILL)    # stopped or not
            if not _wait_gone(live, time.monotonic() + HANG):
                print(f"harness: processes {list(_members(live))} outlived SIGKILL",
                      file=sys.stderr)
        for p in procs:
            try:
                p.wait(timeout=HANG)
            except subprocess.TimeoutExpired:
                print(f"harness: {p.pid} not reaped", file=sys.stderr)

    def end(self):
        """Ends every process started; the directory stays."""
        self._end(self.procs, GRACE)

    def close(self, show_logs=False):
        """Ends every process started, shows their logs' tails if asked, and removes the
        directory (kept if keep=True and the logs were shown)."""
        try:
            self.end()
            if show_logs:
                for log in sorted(os.listdir(self.tmp)):
                    if log.endswith(".log"):
                        print(f"--- {log}")
                        with open(self.path(log), errors="replace") as f:
                            print(f.read()[-3000:])
        finally:
            if show_logs and self.keep:
                print(f"kept {self.tmp}", flush=True)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


class Control:
    """cokeeperd's control socket, one request per connection.  With a timeout, a frozen
    daemon fails the caller's case (Failure) instead of hanging it."""

    def __init__(self, path, timeout=None):
        self.path = path
        self.timeout = timeout

    def call(self, **req):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(self.timeout)
            try:
                s.connect(self.path)
                s.sendall((json.dumps(req) + "\n").encode())
                buf = b""
                while not buf.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            except OSError as e:
                if self.timeout is None:
                    raise
                raise Failure(f"{req['cmd']}: no answer within {self.timeout:.0f} s ({e})")
        try:
            reply = json.loads(buf)
        except ValueError:
            raise Failure(f"{req['cmd']}: not a reply: {buf[:200]!r}")
        if not reply.get("ok"):
            raise Failure(f"{req['cmd']}: {reply.get('error')}")
        return reply


def admin_args():
    """cokeeperd's options that let this process use the sim's verbs: root is an admin
    anyway; anyone else (a package build runs the suites as an unprivileged user) names its
    own group with --admin-group."""
    if os.getuid() == 0:
        return []
    return ["--admin-group", grp.getgrgid(os.getgid()).gr_name]
