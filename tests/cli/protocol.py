#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""cokeeperctl against a stand-in daemon that answers every request with one fixed line: a
reply without "protocol" (a daemon older than the field) or with version 1 is read, a newer
major version or a "protocol" that is no version is refused with exit 1 and a message that
says so, for a plain command, a watch event and wait's follower alike.

    protocol.py COKEEPERCTL
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading


def serve(listener, lines):
    """Answers each request line with the next of lines, then holds the connection open."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            f = conn.makefile("rb")
            for line in lines:
                if not f.readline():
                    break
                conn.sendall(line.encode() + b"\n")
            conn.settimeout(5)
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass


def run(ctl, lines, *argv):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "control.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(4)
        t = threading.Thread(target=serve, args=(listener, lines), daemon=True)
        t.start()
        try:
            return subprocess.run([ctl, "--control", path, *argv], capture_output=True,
                                  text=True, timeout=30)
        finally:
            listener.close()


MEMBERS = '"ok":true,"epoch":"ab","gen":3,"members":[]'
GUESTS = '{"ok":true,"gen":3,"guests":[]%s}'


def main(ctl):
    cases = [
        ("members, no protocol (an older daemon)", ["{%s}" % MEMBERS], ["members"], 0, None),
        ("members, protocol 1", ['{%s,"protocol":1}' % MEMBERS], ["members"], 0, None),
        ("members, protocol 2", ['{%s,"protocol":2}' % MEMBERS], ["members"], 1,
         "control protocol 2"),
        ("an error reply, protocol 2", ['{"ok":false,"error":"x","protocol":2}'],
         ["members"], 1, "control protocol 2"),
        ("members, protocol \"1\"", ['{%s,"protocol":"1"}' % MEMBERS], ["members"], 1,
         "no version"),
        ("watch, an event of protocol 2",
         ['{%s,"protocol":1}\n{"event":"delta","gen":4,"base_gen":3,"upserts":[],'
          '"removed":[],"protocol":2}' % MEMBERS], ["watch"], 1, "control protocol 2"),
        ("wait, protocol 2", ['{%s,"protocol":2}' % MEMBERS, GUESTS % ',"protocol":2'],
         ["wait", "--timeout", "5", "web"], 1, "control protocol 2"),
        ("wait --gen, protocol 1", ['{%s,"protocol":1}' % MEMBERS, GUESTS % ',"protocol":1'],
         ["wait", "--timeout", "5", "--gen", "3"], 0, None),
        ("wait, a refused watch", ['{"ok":false,"error":"too many watchers","protocol":1}'],
         ["wait", "--timeout", "5", "web"], 1, "cokeeperd: too many watchers"),
    ]
    failed = 0
    for name, lines, argv, rc, says in cases:
        # One reply line per request: a watch's event goes out with its reply.
        res = run(ctl, lines, *argv)
        ok = res.returncode == rc and (says is None or says in res.stderr)
        print(f"{'PASS' if ok else 'FAIL'} {name}: exit {res.returncode}"
              + ("" if ok else f", wanted {rc} and {says!r}; stderr {res.stderr.strip()!r}"))
        failed += not ok
    failed += metrics_unknown_counters(ctl)
    print(f"{len(cases) + 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


def metrics_unknown_counters(ctl):
    """A newer cokeeperd's counters this cokeeperctl does not know: written as "unknown"
    families, except those whose names would clash with another family (a scraper refuses
    the whole text for one clash) or are empty."""
    stats = ('{"ok":true,"epoch":"ab","gen":3,"source":"sim","counters":{"mystery":5,'
             '"sneaky_total":1,"generation_extra":2,"":3,"commits":4},"convergence":'
             '{"count":0,"p50_us":0,"p90_us":0,"p99_us":0,"max_us":0,"sum_us":0,'
             '"buckets":[]},"protocol":1}')
    res = run(ctl, [stats], "metrics")
    out = res.stdout
    problems = []
    if res.returncode != 0:
        problems.append(f"exit {res.returncode}: {res.stderr.strip()!r}")
    if "# TYPE cokeeper_mystery unknown" not in out or "\ncokeeper_mystery 5\n" not in out:
        problems.append("no unknown family cokeeper_mystery")
    for bad in ("cokeeper_sneaky_total", "cokeeper_generation_extra", "cokeeper_ 3"):
        if bad in out:
            problems.append(f"{bad} written")
    ok = not problems
    print(f"{'PASS' if ok else 'FAIL'} metrics, unknown counters: {'; '.join(problems)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
