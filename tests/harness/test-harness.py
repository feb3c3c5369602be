#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The harness every Python test and benchmark starts its processes with (harness.py):

- the race of issue 18, reproduced: a daemon that has bound its socket but not yet called
  listen() refuses a connect, so waiting for the socket's file is no readiness;
- spawn(ready=True) waits for READY=1, so a daemon slow to listen is connected to at once;
- a daemon that exits before it is ready fails the wait with its status, not at a deadline;
- a wrapper that leaves its child behind when it ends (as strace does on SIGTERM) takes the
  child with it, and the run's directory goes too;
- a stopped process is continued to take its SIGTERM, and only a stopped one: a SIGCONT
  discards the SIGSTOP that LeakSanitizer's tracer sends an exiting ASan process, which
  then never exits;
- a run killed outright (SIGKILL) leaves none of its processes behind, a forking wrapper's
  child included;
- tests/leftovers.py, which scripts/test.sh runs after each suite, finds what one left;
- a hostile-suite attacker whose report follows its "ready" line before the case reads
  either still has its report read (a text readline() reads ahead past "ready").

Usage: test-harness.py
"""
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HANG, Failure, Run  # noqa: E402

# A stand-in for cokeeperd: binds its socket, waits (for a line on stdin, or a number of
# seconds), only then listens and says READY=1; answers each connection with "ok".  "fail":
# exits with status 3 before it is ready.
STUB = r"""
import os, socket, sys, time
mode, path = sys.argv[1], sys.argv[2]
if mode == "fail":
    sys.exit(3)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
if mode == "go":
    sys.stdin.readline()
else:
    time.sleep(float(mode))
srv.listen(8)
if os.environ.get("NOTIFY_SOCKET"):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as n:
        n.sendto(b"READY=1\nSTATUS=listening", os.environ["NOTIFY_SOCKET"])
while True:
    c, _ = srv.accept()
    c.sendall(b"ok\n")
    c.close()
"""

# Prints its own pid and sleeps until it is ended.
SLEEPER = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(3600)"

# A wrapper that, like strace on SIGTERM, ends without ending its child.
FORKER = f"""
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", {SLEEPER!r}])
time.sleep(3600)
"""

# A driver that starts a sleeper directly and one under a forking wrapper, then waits to be
# killed.  Its stdout: the two sleepers' pids, then its run's directory.
DRIVER = f"""
import subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
from harness import Run
run = Run("cokeeper-harness-driver-")
for wrap in ((), ("timeout", "3600")):
    p = run.spawn([sys.executable, "-c", {SLEEPER!r}], wrap=wrap, stdout=subprocess.PIPE)
    print(p.stdout.readline().decode().strip(), flush=True)
print(run.tmp, flush=True)
time.sleep(3600)
"""


def old_wait_for(path):
    """What tests/sim/pipeline.py's wait_for did: the socket's file appearing."""
    deadline = time.monotonic() + HANG
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise Failure(f"{path} never appeared")
        time.sleep(0.01)


def connect_once(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(HANG)
        s.connect(path)
        return s.recv(16)


def exited(pid, timeout):
    """True once pid has exited (or never was), waiting at most timeout seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            return bool(sel.select(timeout))
    finally:
        os.close(fd)


def race_reproduced():
    with Run("cokeeper-harness-") as run:
        path = run.path("control.sock")
        stub = run.spawn([sys.executable, "-c", STUB, "go", path], "stub.log",
                         stdin=subprocess.PIPE)
        old_wait_for(path)
        try:
            connect_once(path)
        except ConnectionRefusedError:
            pass
        else:
            raise Failure("a socket bound but not listening took a connection: "
                          "the race is not reproduced")
        stub.stdin.close()


def ready_means_listening():
    with Run("cokeeper-harness-") as run:
        path = run.path("control.sock")
        run.spawn([sys.executable, "-c", STUB, "0.5", path], "stub.log", ready=True)
        try:
            reply = connect_once(path)
        except OSError as e:
            raise Failure(f"the first connect after READY=1 failed: {e}")
        if reply != b"ok\n":
            raise Failure(f"the stub answered {reply!r}")


def exit_before_ready():
    with Run("cokeeper-harness-") as run:
        try:
            run.spawn([sys.executable, "-c", STUB, "fail", run.path("x.sock")], "stub.log",
                      ready=True)
        except Failure as e:
            if "exited with status 3 before it was ready" not in str(e):
                raise Failure(f"not the stub's exit: {e}")
        else:
            raise Failure("a daemon that exited was taken as ready")


def wrapper_child_ended():
    run = Run("cokeeper-harness-")
    try:
        wrapper = run.spawn([sys.executable, "-c", FORKER], stdout=subprocess.PIPE)
        child = int(wrapper.stdout.readline())
    finally:
        run.close()
    wrapper.stdout.close()
    if not exited(child, 0):
        os.kill(child, signal.SIGKILL)
        raise Failure(f"the wrapper's child {child} outlived the run")
    if os.path.exists(run.tmp):
        raise Failure(f"{run.tmp} outlived the run")


def stopped_and_running_ended():
    """A stopped process is continued to take its SIGTERM; a running one is sent no SIGCONT
    (it would discard the SIGSTOP of LeakSanitizer's tracer in an exiting ASan process)."""
    sent = []
    real_kill, real_killpg = os.kill, os.killpg

    def kill(pid, sig):
        sent.append((pid, sig))
        real_kill(pid, sig)

    def killpg(pgid, sig):
        sent.append((pgid, sig))
        real_killpg(pgid, sig)

    run = Run("cokeeper-harness-")
    try:
        running = run.spawn([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE)
        stopped = run.spawn([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE)
        for p in (running, stopped):
            p.stdout.readline()
        os.kill(stopped.pid, signal.SIGSTOP)
        os.waitid(os.P_PID, stopped.pid, os.WSTOPPED | os.WNOWAIT)
        os.kill, os.killpg = kill, killpg
        try:
            run.close()
        finally:
            os.kill, os.killpg = real_kill, real_killpg
    finally:
        run.close()
        for p in (running, stopped):
            p.stdout.close()
    if (running.pid, signal.SIGCONT) in sent:
        raise Failure(f"a running process was sent SIGCONT: {sent}")
    if (stopped.pid, signal.SIGCONT) not in sent:
        raise Failure(f"the stopped process was not continued: {sent}")
    if (running.returncode, stopped.returncode) != (-signal.SIGTERM, -signal.SIGTERM):
        raise Failure(f"exit statuses {running.returncode}, {stopped.returncode}, "
                      "not SIGTERM's")


def killed_outright():
    here = os.path.dirname(os.path.abspath(__file__))
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, here], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, text=True)
    tmp = None
    try:
        lines = [driver.stdout.readline().strip() for _ in range(3)]
        if not all(lines):
            raise Failure(f"the driver said {lines}")
        pids, tmp = [int(x) for x in lines[:2]], lines[2]
        driver.kill()
        driver.wait()
        left = [pid for pid in pids if not exited(pid, HANG)]
        if left:
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            raise Failure(f"processes {left} outlived their killed run")
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        driver.stdout.close()
        if tmp and os.path.basename(tmp).startswith("cokeeper-harness-driver-"):
            shutil.rmtree(tmp, ignore_errors=True)   # a killed run cannot remove its own


def leftovers_found():
    """tests/leftovers.py, run after each suite, finds (and ends) what a suite left."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "leftovers.py")
    with Run("cokeeper-harness-") as run:
        tmpdir = run.path("suite-tmp")
        os.mkdir(tmpdir)
        env = dict(os.environ, TMPDIR=tmpdir)
        left = subprocess.Popen([sys.executable, "-c", SLEEPER], env=env,
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            left.stdout.readline()
            os.mkdir(os.path.join(tmpdir, "cokeeper-sim-x"))
            r = subprocess.run([sys.executable, script, tmpdir, "a suite"],
                               capture_output=True, text=True, timeout=HANG)
            if r.returncode != 1 or f"process {left.pid} still running" not in r.stderr \
                    or "cokeeper-sim-x left behind" not in r.stderr:
                raise Failure(f"leftovers.py exit {r.returncode}: {r.stderr.strip()}")
            left.wait(timeout=HANG)
            if os.listdir(tmpdir):
                raise Failure(f"leftovers.py left {os.listdir(tmpdir)}")
            r = subprocess.run([sys.executable, script, tmpdir, "a clean suite"],
                               capture_output=True, text=True, timeout=HANG)
            if r.returncode != 0:
                raise Failure(f"a clean suite: leftovers.py exit {r.returncode}: {r.stderr}")
        finally:
            if left.poll() is None:
                left.kill()
                left.wait()
            left.stdout.close()


def attacker_report_kept():
    """tests/hostile's Attacker: "ready" and the report both in the pipe when the case reads
    (the attacker exited first: on a busy machine it may, for a case that needs nothing of the
    harness after "ready"), and the report is still read (CI saw "attacker exit 0:" here)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
    from attack_harness import Attacker
    a = Attacker.__new__(Attacker)
    a.result = None
    a.p = subprocess.Popen([sys.executable, "-c", "print('ready'); print('{\"x\": 1}')"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        a.p.wait(timeout=HANG)
        a.wait_ready()
        r = a.finish()
        if r != {"x": 1}:
            raise Failure(f"the report after 'ready' read as {r!r}")
    finally:
        if a.p.poll() is None:
            a.p.kill()
            a.p.wait()


CASES = [
    ("a bound socket refuses a connect until it listens: its file is no readiness",
     race_reproduced),
    ("spawn(ready=True) waits for READY=1: the first connect is served", ready_means_listening),
    ("a daemon that exits before READY=1 fails the wait with its status", exit_before_ready),
    ("a wrapper that leaves its child is ended with it; the directory goes",
     wrapper_child_ended),
    ("a stopped process is continued to take its SIGTERM, a running one sent no SIGCONT",
     stopped_and_running_ended),
    ("a run killed outright leaves no process, a forking wrapper's child included",
     killed_outright),
    ("tests/leftovers.py finds a process and a directory a suite left, and ends them",
     leftovers_found),
    ("an attacker's report printed right after its 'ready' line is read, not lost",
     attacker_report_kept),
]


def main():
    passed = failed = 0
    for title, case in CASES:
        try:
            case()
            passed += 1
            print(f"PASS {title}", flush=True)
        except (Failure, OSError, ValueError) as e:
            failed += 1
            print(f"FAIL {title}: {e}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
