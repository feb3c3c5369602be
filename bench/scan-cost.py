#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The daemon's scan + commit cost per change, with no agent connected.

    bench/scan-cost.py BUILD/cokeeperd/cokeeperd N K

Runs cokeeperd --source sim --transport unix under valgrind --tool=callgrind, creates N
domains, then splits the run with callgrind_control dumps: K creates, K destroys (each waited
for by polling `stats` until the commit counter moves; the polls' own cost, measured in a part
of K `stats` calls, is subtracted), one full rescan (SIGHUP: forget + scan everything) and one
`rescan` command.  Prints instructions per create and per destroy and those of the two
rescans.  bench/RESULTS.md ("Membership at scale") has its numbers.
"""
import atexit
import glob
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "harness"))
from harness import Control, Run  # noqa: E402

daemon, N, K = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
run = Run("ck-scan-cost-")
atexit.register(run.close)   # however the script ends
ctl = run.path("c.sock")


def call(**req):
    return Control(ctl).call(**req)


out = run.path("cg.out")
# Ready once it listens (sd_notify READY=1), not once its socket's file exists.
p = run.spawn([daemon, "--source", "sim", "--transport", "unix", "--control", ctl,
               "--agent-socket", run.path("a.sock")],
              wrap=["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"],
              stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, ready=True)
time.sleep(0.5)
polls = [0]
def commits(): return call(cmd="stats")["counters"]["commits"] if "counters" in call(cmd="stats") else None
def change(**req):
    before = stats_commits()
    r = call(**req)
    while True:
        time.sleep(0.01); polls[0] += 1
        if stats_commits() > before: return r
def stats_commits():
    return call(cmd="stats")["counters"]["commits"]
print(call(cmd="stats"), file=sys.stderr)
for i in range(N):
    change(cmd="sim-create", name=f"vm{i}")
time.sleep(1)
def dump():
    time.sleep(0.5)
    subprocess.run(["callgrind_control", "-d", str(p.pid)], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
dump()                                         # part 1: setup
ids = []
polls[0] = 0
for i in range(K):
    ids.append(change(cmd="sim-create", name=f"x{i}")["domid"])
p2 = polls[0]; polls[0] = 0
dump()                                         # part 2: K creates
for d in ids:
    change(cmd="sim-destroy", domid=d)
p3 = polls[0]; polls[0] = 0
dump()                                         # part 3: K destroys
for i in range(K): stats_commits()
dump()                                         # part 4: K stats calls (the polls' cost)
os.kill(p.pid, signal.SIGHUP)                  # part 5: one full rescan (forget + scan)
time.sleep(2)
dump()
call(cmd="rescan"); time.sleep(1)              # part 6: a 'rescan' command
dump()
run.stop(p)
parts = sorted(glob.glob(out + ".*"), key=lambda f: int(f.rsplit(".", 1)[1]))
def ir(f):
    for l in open(f):
        if l.startswith("summary:") or l.startswith("totals:"): return int(l.split()[1])
v = [ir(f) for f in parts]
st = v[3] / K
print(f"N={N} K={K} create/change={(v[1]-(p2+K)*st)/K:.0f} destroy/change={(v[2]-(p3+K)*st)/K:.0f} "
      f"sighup-rescan={v[4]} rescan-cmd={v[5]} stats-call={st:.0f} polls={p2},{p3}")
