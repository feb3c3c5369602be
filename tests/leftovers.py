#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Fails when a suite left a process running or something in its temporary directory.

    tests/leftovers.py DIR WHAT

The suites run with TMPDIR=DIR, a directory of their own (scripts/test.sh, the package
build): every process they start inherits it, wrappers (strace, valgrind) and their children
included, and every temporary directory they make lands in it.  So whatever still runs with
TMPDIR=DIR in its environment (this process and the shells that called it aside), and
whatever is left in DIR, is the suite's leftover.  Each is listed, then ended or removed so
the next suite starts clean; the exit status is 1 if there was any, else 0.
"""
import os
import shutil
import signal
import sys

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness"))
from harness import proc_stat  # noqa: E402


def ancestors():
    """This process and the ones it descends from: they carry TMPDIR too."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        fields = proc_stat(pid)
        if not fields:
            break
        pid = int(fields[1])
    return pids


def processes_with(marker):
    """(pid, command line) of each live process whose environment holds marker."""
    found = []
    skip = ancestors()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            fields = proc_stat(entry)
            if not fields or fields[0] == "Z":
                continue    # gone, or exited and not yet reaped by its parent
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue    # gone meanwhile, or not ours to read
        found.append((int(entry), cmd))
    return found


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    tmpdir, what = sys.argv[1], sys.argv[2]    # tmpdir: as TMPDIR was set
    problems = 0
    procs = processes_with(b"TMPDIR=" + os.fsencode(tmpdir))
    for pid, cmd in procs:
        print(f"leftovers: {what}: process {pid} still running: {cmd[:300]}", file=sys.stderr)
        problems += 1
    for pid, _ in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for entry in sorted(os.listdir(tmpdir)):
        path = os.path.join(tmpdir, entry)
        print(f"leftovers: {what}: {path} left behind", file=sys.stderr)
        problems += 1
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    if problems:
        print(f"leftovers: {what}: {problems} left behind (above)", file=sys.stderr)
        return 1
    print(f"leftovers: {what}: no process left running, nothing left in its TMPDIR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
