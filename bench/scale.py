#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Scale benchmark: the real cokeeperd (sim source, unix transport) and N real cokeeper-agent
processes (memory sink) on this machine, for each N.  Per N it prints:

  latency   change -> last Ack (p50/p90/p99/max) for creates, destroys and migrations
            (sim-migrate, pause_ms 0), each change sent once the previous one converged.
            Driver's clock: from sending the control command to reading, on a `watch`
            stream, the Ack of the last agent for a gen >= the change's gen (the gen of the
            delta event that adds the created domid / removes the destroyed one / removes the
            migrated domain's old domid).  The first change after the agents' snapshot (a
            create) is reported on its own line and left out of the create row.
  cpu time  utime+stime (/proc/PID/schedstat, in ns) per change over the timed changes: the daemon,
            agent 0, the mean agent, and this driver (if the driver's share nears the wall
            time, the driver is the bottleneck, not cokeeperd).
  instr     instructions per change (valgrind --tool=callgrind) of the daemon and of agent
            0, in a separate pass with a fresh daemon and the same setup: callgrind_control
            zeroes both before a change and dumps them once every process is idle again (no
            watch stream is open in that pass, so the daemon's count is the change alone);
            the mean of --cpu-changes changes per kind, minus an idle zero/dump pair.
  bytes     per guest per change on the wire, in the callgrind pass: agent 1 runs under
            strace; its read(2)s on the socket (what the daemon sent it) and send(2)s (its
            Acks, 19 B each) between two quiet points.
  rss       VmRSS of the daemon and of agent 0 after the timed changes.
  catch-up  (at --catchup-n only) SIGSTOP 8 agents, --catchup-changes changes (create and
            destroy of one spare domain; every 4th waits for the running agents, whose Acks'
            events this driver must read before the daemon's 1 MiB cap for an unread
            watcher), wait for the running agents, then SIGCONT the 8 and time until all 8
            ack the newest gen.

Members: each agent claims the domid of its own sim domain (created before the agents
start, so each gets a snapshot of N members).  6bf8d0a's fakexen holds 1,024 domains with
dom0 in slot 0 (today's holds 32,751), and a migration needs two domids beyond the members
(the spare and its twin), so at most --member-cap (1,021) agents get a domain; the others
claim domids from 2000 up that are never members (the unix transport takes any domid).  At
N=1,024 that is 1,021 members + the spare for 1,024 agents, with either build, so that both
measure the same host.

The same command works against any build with the control protocol of 6bf8d0a:
  bench/scale.py --build /work/wt-old/build          (6bf8d0a)
  bench/scale.py --build build                       (this tree)
  bench/scale.py --build build --quick               (N=16,64, 5 changes: the sim suite's
                                                      smoke test)
Exit status 1 if any agent failed to ack any change within --timeout.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "harness"))
from harness import Failure, Run  # noqa: E402

from scale_host import (Host, Spare, Watch, Wire, loadavg, pct, rss_kib,  # noqa: E402
                        schedstat)


CYCLE = ("migrate", "destroy", "create")


def timed_pass(args, n, out):
    with Run(f"ck-scale-{n}-", keep=args.keep) as run:
        t_setup = time.monotonic()
        host = Host(args, n, run)
        setup_s = time.monotonic() - t_setup
        watch = Watch(host.ctl_path, host.domids)
        try:
            timed_changes(args, n, host, watch, setup_s, out)
        finally:
            watch.close()


def timed_changes(args, n, host, watch, setup_s, out):
    """The timed changes of one N (and its catch-up), into out."""
    watch.wait(lambda: watch.replied, args.timeout, "watch reply")
    pids = [p.pid for p in host.agents]
    spare = Spare()
    lat = {"first": [], "create": [], "destroy": [], "migrate": []}

    def one(kind, label):
        req = spare.request(kind)
        watch.reset()
        t0 = time.monotonic()
        reply = host.ctl.call(**req)
        watch.want = spare.done(kind, reply)
        watch.wait(lambda: watch.done is not None, args.timeout,
                   f"N={n} {label}: every agent's Ack")
        lat[label].append(watch.done - t0)
        if watch.closed:
            raise Failure(f"agents {watch.closed[:5]} lost their session")

    one("create", "first")
    cpu0 = [schedstat(pid)[0] for pid in [host.daemon.pid] + pids]
    self0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    count = 0
    for i in range(args.changes):
        for kind in CYCLE:
            one(kind, kind)
            count += 1
    wall = time.monotonic() - wall0
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu1 = [schedstat(pid)[0] for pid in [host.daemon.pid] + pids]
    d_cpu = [(b - a) / 1e9 / count for a, b in zip(cpu0, cpu1)]
    drv = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime) / count
    res = {"n": n, "members": min(n, args.member_cap), "setup_s": setup_s,
           "latency_ms": {k: [v * 1000 for v in vs] for k, vs in lat.items()},
           "cpu_ms_per_change": {"daemon": d_cpu[0] * 1000, "agent0": d_cpu[1] * 1000,
                                 "agent_mean": sum(d_cpu[1:]) / n * 1000,
                                 "driver": drv * 1000,
                                 "wall": wall / count * 1000},
           "rss_kib": {"daemon": rss_kib(host.daemon.pid), "agent0": rss_kib(pids[0])},
           "acked_every_change": True}
    if n == args.catchup_n and args.catchup_changes:
        res["catchup"] = catch_up(args, host, watch)
    out.update(res)


# Changes between two waits for the running agents in the catch-up: 4 x 1,024 Acks' events
# stay well under the daemon's 1 MiB for an unread watcher.
CATCHUP_PACE = 4


def catch_up(args, host, watch):
    stopped = host.agents[-8:]
    stopped_domids = set(host.domids[-8:])
    running = [d for d in host.domids if d not in stopped_domids]
    for p in stopped:
        p.send_signal(signal.SIGSTOP)
    try:
        before = min(watch.acked.get(d, -1) for d in stopped_domids)
        spare = Spare("catchup")
        for i in range(args.catchup_changes):
            host.ctl.call(**spare.request("create" if i % 2 == 0 else "destroy"))
            spare.domid = None
            watch.pump(0)
            if i % CATCHUP_PACE == CATCHUP_PACE - 1:
                # The running agents' Acks (~90 B each, N of them per change) reach this
                # driver on the watch stream; unread past 1 MiB the daemon drops the
                # watcher.  Only the stopped 8 are measured: the others may be waited for.
                watch.reset()
                watch.arm(host.ctl.call(cmd="members")["gen"], time.monotonic(),
                          among=running)
                watch.wait(lambda: watch.done is not None, args.timeout,
                           "catch-up: the running agents, paced")
        newest = host.ctl.call(cmd="members")["gen"]
        watch.reset()
        watch.arm(newest, time.monotonic(), among=running)
        watch.wait(lambda: watch.done is not None, args.timeout * 10,
                   "catch-up: the running agents")
        watch.reset()
        watch.arm(newest, time.monotonic(), among=stopped_domids)
    finally:
        t0 = time.monotonic()
        for p in stopped:
            p.send_signal(signal.SIGCONT)
    watch.wait(lambda: watch.done is not None, args.timeout * 10,
               "catch-up: the 8 resumed agents")
    return {"agents": 8, "changes": args.catchup_changes, "gens_behind": newest - before,
            "seconds": watch.done - t0}


def callgrind_totals(base, pid, nth, timeout):
    """The instructions in callgrind's nth dump of pid, once its totals line is written
    (valgrind writes it after callgrind_control has returned; timeout is a hang guard)."""
    path = f"{base}.{pid}.{nth}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("totals:") or line.startswith("summary:"):
                        return int(line.split()[1])
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise Failure(f"no callgrind dump {path} within {timeout:.0f} s")


def cpu_pass(args, n, out):
    """Instructions per change under callgrind; no watch stream, so quiescence is read off
    /proc: every agent wrote (acked) and nothing moved for --quiet-ms."""
    with Run(f"ck-scale-cg-{n}-", keep=args.keep) as run:
        cpu_changes(args, n, run, out)


def cpu_changes(args, n, run, out):
    base = run.path("cg")
    vg = ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={base}.%p"]
    dumps = {}
    trace = run.path("agent1.strace")
    st = ["strace", "-qq", "-e", "signal=none", "-e", "trace=read,sendto", "-o", trace]
    host = Host(args, n, run, daemon_wrap=vg, agent_wrap={0: vg, 1: st})
    wire = Wire(trace)
    dpid, apid = host.daemon.pid, host.agents[0].pid
    pids = [p.pid for p in host.agents]
    gen = host.ctl.call(cmd="members")["gen"]

    def control(op):
        for pid in (dpid, apid):
            r = subprocess.run(["callgrind_control", op, str(pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0:
                raise Failure(f"callgrind_control {op} {pid}: {r.stderr.decode()[:200]}")
            if op == "-d":
                dumps[pid] = dumps.get(pid, 0) + 1
        if op == "-d":
            return [callgrind_totals(base, pid, dumps[pid], args.timeout)
                    for pid in (dpid, apid)]

    def snapshot():
        return [schedstat(pid)[1] for pid in [dpid] + pids]

    def quiesce(ran0):
        quiet = args.quiet_ms / 1000
        deadline = time.monotonic() + args.timeout * 5
        last, since = None, time.monotonic()
        while True:
            s = snapshot()
            if s != last:
                last, since = s, time.monotonic()
            elif all(w > w0 for w, w0 in zip(s[1:], ran0[1:])) and \
                    time.monotonic() - since >= quiet:
                return
            if time.monotonic() > deadline:
                raise Failure(f"N={n}: callgrind pass never went quiet")
            time.sleep(0.05)

    def settle():
        """Until no process has run for --quiet-ms: under valgrind the daemon may still
        be answering the setup (1,024 snapshot Acks take it seconds)."""
        deadline = time.monotonic() + args.timeout * 5
        last, since = snapshot(), time.monotonic()
        while time.monotonic() - since < args.quiet_ms / 1000:
            time.sleep(0.05)
            s = snapshot()
            if s != last:
                last, since = s, time.monotonic()
            if time.monotonic() > deadline:
                raise Failure(f"N={n}: callgrind pass never went quiet")

    # The idle pair prices the zero and the dump themselves: taken once all is quiet,
    # or it would bill the setup's tail to every change (4.3 M at N=1,024).
    settle()
    control("-z")
    time.sleep(args.quiet_ms / 1000)
    idle = control("-d")
    if max(idle) > 100000:
        # A busy machine can starve the daemon past --quiet-ms: a measurement, not a
        # verdict, so it is said, not failed on.
        print(f"N={n}: note: the idle zero/dump pair counted {idle} instructions; "
              "the counts below are net of it", flush=True)
    spare = Spare()
    inst = {k: ([], []) for k in ("first", "create", "destroy", "migrate")}
    bytes_ = {k: ([], []) for k in inst}
    kinds = ["create"] + [k for _ in range(args.cpu_changes) for k in CYCLE]
    for i, kind in enumerate(kinds):
        wire.read()
        control("-z")
        ran0 = snapshot()
        reply = host.ctl.call(**spare.request(kind))
        spare.done(kind, reply)
        quiesce(ran0)
        d, a = control("-d")
        # If the daemon was starved past --quiet-ms it still had Acks to read when its
        # count was cut: the change must still converge (the verdict, with only the
        # --timeout hang guard), but its counts are incomplete and left out.
        deadline = time.monotonic() + args.timeout
        complete = True
        while True:
            r = host.ctl.call(cmd="guests")
            # The daemon frees that reply (tens of thousands of json-c objects, a
            # printbuf of 100s of KiB, and glibc's consolidation of them) after we have
            # read it; under valgrind that lands after our next -z and would be billed
            # to the next change.
            settle()
            if r["gen"] > gen and all(g["acked_gen"] == r["gen"] for g in r["guests"]):
                break
            complete = False
            if time.monotonic() > deadline:
                raise Failure(f"N={n} callgrind pass: {kind} not acked by every agent")
        gen = r["gen"]
        label = "first" if i == 0 else kind
        down, up = wire.read()
        if not complete:
            out["instr_incomplete"] = out.get("instr_incomplete", 0) + 1
            print(f"N={n}: note: a {kind} was still being acked when its count was cut; "
                  "left out of the instructions and bytes", flush=True)
            continue
        bytes_[label][0].append(down)
        bytes_[label][1].append(up)
        inst["first" if i == 0 else kind][0].append(d - idle[0])
        inst["first" if i == 0 else kind][1].append(a - idle[1])
    out["instr_per_change"] = {
        k: {"daemon": sum(v[0]) / len(v[0]), "agent0": sum(v[1]) / len(v[1]),
            "count": len(v[0])} for k, v in inst.items() if v[0]}
    out["wire_B"] = {k: {"down": v[0], "up": v[1]} for k, v in bytes_.items() if v[0]}
    out["instr_idle"] = {"daemon": idle[0], "agent0": idle[1]}
    if args.profile:
        # Each dump of the daemon and agent 0, for callgrind_annotate: the last one is the
        # last change's.
        os.makedirs(args.profile, exist_ok=True)
        for name in os.listdir(os.path.dirname(base)):
            if name.startswith(os.path.basename(base) + "."):
                shutil.copy(os.path.join(os.path.dirname(base), name),
                            os.path.join(args.profile, f"N{n}-{name}"))


def report(r, args):
    lines = [f"== N={r['n']} agents ({r['members']} of them members, +1 spare domain "
             f"that changes); setup {r['setup_s']:.1f} s"]
    lines.append(f"{'change':<8} {'count':>5} {'p50_ms':>9} {'p90_ms':>9} {'p99_ms':>9} "
                 f"{'max_ms':>9} {'daemon_Minstr':>13} {'agent_kinstr':>12} "
                 f"{'down_B':>7} {'up_B':>5}")
    for k in ("first", "create", "destroy", "migrate"):
        v = r["latency_ms"][k]
        row = f"{k:<8} {len(v):>5} {pct(v, 50):>9.1f} {pct(v, 90):>9.1f} " \
              f"{pct(v, 99):>9.1f} {max(v):>9.1f}"
        ins = r.get("instr_per_change", {}).get(k)
        if ins:
            w = r["wire_B"][k]
            row += f" {ins['daemon'] / 1e6:>13.3f} {ins['agent0'] / 1e3:>12.1f} " \
                   f"{'/'.join(map(str, sorted(set(w['down'])))):>7} " \
                   f"{'/'.join(map(str, sorted(set(w['up'])))):>5}"
        lines.append(row)
    c = r["cpu_ms_per_change"]
    lines.append(f"cpu ms/change (utime+stime): daemon {c['daemon']:.2f}, agent0 "
                 f"{c['agent0']:.2f}, mean agent {c['agent_mean']:.2f}, driver "
                 f"{c['driver']:.2f}; wall {c['wall']:.1f} ms/change")
    if "instr_per_change" in r:
        lines.append(f"(instructions: callgrind, mean of {args.cpu_changes} per kind, the "
                     "daemon's and agent 0's; down_B/up_B: agent 1's socket per change, "
                     "each value seen)")
    lines.append(f"rss: daemon {r['rss_kib']['daemon']} KiB, agent0 "
                 f"{r['rss_kib']['agent0']} KiB")
    if "catchup" in r:
        cu = r["catchup"]
        lines.append(f"catch-up: {cu['agents']} agents SIGSTOPped for {cu['changes']} changes "
                     f"({cu['gens_behind']} gens behind): all acked the newest gen "
                     f"{cu['seconds'] * 1000:.1f} ms after SIGCONT")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--build", required=True, help="the build directory (meson)")
    ap.add_argument("--n", default="16,64,256,1024", help="agent counts (default %(default)s)")
    ap.add_argument("--changes", type=int, default=50,
                    help="timed changes per kind and N (default %(default)s)")
    ap.add_argument("--cpu-changes", type=int, default=10,
                    help="changes per kind under callgrind; 0: no callgrind pass "
                    "(default %(default)s)")
    ap.add_argument("--catchup-n", type=int,
                    help="the N with the catch-up measurement (default: the largest N; "
                    "6bf8d0a at N=1,024 would take hours: give it 256)")
    ap.add_argument("--catchup-changes", type=int, default=3000,
                    help="changes while 8 agents are stopped; 0: none (default %(default)s)")
    ap.add_argument("--member-cap", type=int, default=1021,
                    help="most agents with a sim domain (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds for one change to converge (default %(default)s)")
    ap.add_argument("--quiet-ms", type=int, default=500,
                    help="callgrind pass: idle time that ends a change (default %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="N=16,64, 5 changes, 2 under callgrind, catch-up of 200 at N=16")
    ap.add_argument("--json", help="also write the results there")
    ap.add_argument("--profile", help="copy the callgrind pass's dumps into this directory")
    ap.add_argument("--keep", action="store_true", help="keep a failed run's directory")
    args = ap.parse_args()
    if args.quick:
        args.n, args.changes, args.catchup_changes = "16,64", 5, 200
        args.catchup_n = args.catchup_n or 16
        args.cpu_changes = min(args.cpu_changes, 2)
    if args.cpu_changes and not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("no valgrind/callgrind_control: no instruction counts", flush=True)
        args.cpu_changes = 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ns = [int(x) for x in args.n.split(",")]
    if args.catchup_n is None:
        args.catchup_n = max(ns)
    if hard < max(ns) + 64:
        print(f"RLIMIT_NOFILE hard limit {hard} is too low for N={max(ns)}", file=sys.stderr)
        return 1
    src = args.build
    try:
        with open(os.path.join(args.build, "meson-info", "meson-info.json")) as f:
            src = json.load(f)["directories"]["source"]
    except (OSError, ValueError, KeyError):
        pass
    rev = subprocess.run(["git", "-C", src, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    print(f"# bench/scale.py {' '.join(sys.argv[1:])}")
    print(f"# build {args.build} (source {src} at {rev}); {os.cpu_count()} cpus; "
          f"load average at start {loadavg()}; {time.strftime('%Y-%m-%d %H:%M:%S')}",
          flush=True)
    results, status = [], 0
    for n in ns:
        r = {}
        try:
            timed_pass(args, n, r)
            if args.cpu_changes:
                cpu_pass(args, n, r)
        except Failure as e:
            print(f"FAIL N={n}: {e}", flush=True)
            status = 1
            break
        results.append(r)
        print(report(r, args), flush=True)
    print(f"# load average at end {loadavg()}; {time.strftime('%Y-%m-%d %H:%M:%S')}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"argv": sys.argv, "rev": rev, "results": results}, f, indent=1)
    if status == 0:
        print(f"every agent acked every change at N={','.join(map(str, ns))}")
    return status


if __name__ == "__main__":
    sys.exit(main())
