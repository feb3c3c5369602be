#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""cokeeperctl metrics against the real cokeeperd (simulated source, unix transport) and real
cokeeper-agent processes, no Xen, read by real parsers (tests/harness/metrics_text.py): the
OpenMetrics text strictly, the Prometheus text as node_exporter's textfile collector reads
it.  Every stats counter is there with stats' value and a known type; the members gauge is
the guests created; the convergence histogram is cumulative, its count stats' acks; after a
change no counter went down and the histogram counted the new acks; --output replaces its
file whole and removes it when cokeeperd does not answer.  Waits are for acks (wait --gen),
never for a time.

Usage: metrics.py BUILD_DIR [--agents N]
"""
import argparse
import os
import subprocess
import sys

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from pipeline import Control, Failure, Run, admin_args, until  # noqa: E402
from metrics_text import parse_openmetrics, parse_prometheus, value  # noqa: E402

HANG = 60  # seconds: a hang guard for each command, never a verdict on speed
GUESTS = 3



def canonical_le(usec):
    """OpenMetrics' canonical form of a bucket bound: 1 s is "1.0", 0.5 ms "0.0005"."""
    s = f"{usec / 1e6:g}"
    return s if "." in s or "e" in s else s + ".0"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--agents", type=int, default=3)
    args = ap.parse_args()
    daemon_bin = os.path.join(args.build, "cokeeperd", "cokeeperd")
    agent_bin = os.path.join(args.build, "guest-agent", "cokeeper-agent")
    ctl_bin = os.path.join(args.build, "tools", "cokeeperctl")
    run = Run("cokeeper-metrics-")
    ctl_path, agent_path = run.path("control.sock"), run.path("agent.sock")
    passed = failed = 0

    def check(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print(f"PASS {name}", flush=True)
        except (Failure, subprocess.TimeoutExpired, ValueError, KeyError) as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)

    def ctl(*argv, rc=0):
        res = subprocess.run([ctl_bin, "--control", ctl_path, *argv], capture_output=True,
                             text=True, timeout=HANG)
        if res.returncode != rc:
            raise Failure(f"cokeeperctl {' '.join(argv)}: exit {res.returncode}, not {rc}: "
                          f"{res.stderr.strip()!r}")
        return res.stdout

    def settled():
        """Every agent acked cokeeperd's generation: no ack is still on its way, so stats
        and metrics taken now agree."""
        gen = Control(ctl_path).call(cmd="members")["gen"]
        ctl("wait", "--timeout", str(HANG), "--gen", str(gen))
        # And the wait's own watch stream is closed: the watchers gauge stays put.
        until("the wait's watch closed", lambda:
              Control(ctl_path).call(cmd="stats")["counters"]["watchers"] == 0)

    def snapshot():
        """stats, then metrics (parsed strictly), with nothing in between to change them."""
        settled()
        stats = Control(ctl_path).call(cmd="stats")
        return stats, parse_openmetrics(ctl("metrics"))

    def agrees(stats, fams):
        for key, v in stats["counters"].items():
            fam = fams["cokeeper_" + key]
            if fam.type not in ("counter", "gauge"):
                raise Failure(f"cokeeper_{key}: type {fam.type}, not known to cokeeperctl")
            sample = "cokeeper_" + key + ("_total" if fam.type == "counter" else "")
            if value(fams, fam.name, sample) != v:
                raise Failure(f"{sample}: {value(fams, fam.name, sample)}, stats says {v}")
        if value(fams, "cokeeper_generation") != stats["gen"]:
            raise Failure(f"generation: not stats' {stats['gen']}")
        value(fams, "cokeeper_daemon", "cokeeper_daemon_info", source="sim",
              epoch=stats["epoch"])

    def histogram(stats, fams):
        """The buckets rise with le and never fall; +Inf is _count is stats' acks."""
        fam = fams["cokeeper_convergence_seconds"]
        if fam.type != "histogram" or fam.unit != "seconds":
            raise Failure(f"convergence: {fam.type} in {fam.unit!r}")
        buckets = [(float(s.labels["le"]), s.value) for s in fam.samples
                   if s.name.endswith("_bucket")]
        if [le for le, _ in buckets] != sorted(le for le, _ in buckets) or \
                any(b[1] < a[1] for a, b in zip(buckets, buckets[1:])):
            raise Failure(f"buckets not cumulative: {buckets}")
        count = value(fams, fam.name, fam.name + "_count")
        conv = stats["convergence"]
        if buckets[-1] != (float("inf"), count) or count != conv["count"]:
            raise Failure(f"+Inf {buckets[-1]}, _count {count}, stats' acks {conv['count']}")
        if abs(value(fams, fam.name, fam.name + "_sum") * 1e6 - conv["sum_us"]) > 0.5:
            raise Failure(f"_sum: not stats' {conv['sum_us']} us")
        for b in conv["buckets"]:
            got = value(fams, fam.name, fam.name + "_bucket", le=canonical_le(b['le_us']))
            if got != b["count"]:
                raise Failure(f"le {b['le_us']} us: {got}, stats says {b['count']}")
        return count

    try:
        run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                   "--agent-socket", agent_path, *admin_args()], "cokeeperd.log", ready=True)
        for i in range(1, args.agents + 1):
            run.spawn([agent_bin, "--transport", "unix", "--socket", agent_path,
                       "--domid", str(i), "--sink", "memory", "--dump",
                       run.path(f"agent{i}.json")], f"agent{i}.log")
        until("every agent's session", lambda: sum(
            g["state"] == "active" for g in Control(ctl_path).call(cmd="guests")["guests"])
            == args.agents)
        for i in range(1, GUESTS + 1):
            ctl("sim", "create", f"m{i}", "--ip", f"10.60.0.{i}")
        before = {}

        def first():
            stats, fams = snapshot()
            agrees(stats, fams)
            if value(fams, "cokeeper_members") != GUESTS:
                raise Failure(f"members {value(fams, 'cokeeper_members')}, not {GUESTS}")
            if value(fams, "cokeeper_guests") != args.agents:
                raise Failure(f"guests {value(fams, 'cokeeper_guests')}, not {args.agents}")
            if histogram(stats, fams) == 0:
                raise Failure("no ack counted")
            before.update(stats=stats, fams=fams)

        check("metrics: every stats counter, members, guests, the histogram", first)

        def after_change():
            ctl("sim", "destroy", "m3")
            stats, fams = snapshot()
            agrees(stats, fams)
            if value(fams, "cokeeper_members") != GUESTS - 1:
                raise Failure("members after a destroy")
            old = before["fams"]
            for name, fam in fams.items():
                if fam.type != "counter":
                    continue
                for s in fam.samples:
                    was = value(old, name, s.name, **s.labels)
                    if s.value < was:
                        raise Failure(f"{s.name} went down: {was} -> {s.value}")
            for name in ("commits", "changes"):
                if value(fams, "cokeeper_" + name, f"cokeeper_{name}_total") <= \
                        value(old, "cokeeper_" + name, f"cokeeper_{name}_total"):
                    raise Failure(f"{name} did not count the destroy")
            # Each agent acked the destroy's generation: one sample each, at least.
            if histogram(stats, fams) < before["stats"]["convergence"]["count"] + args.agents:
                raise Failure("the histogram did not count the destroy's acks")

        check("after a destroy: counters never went down, the acks counted", after_change)

        def prometheus():
            fams = parse_prometheus(ctl("metrics", "--format", "prometheus"))
            for name, typ in (("cokeeper_commits", "counter"), ("cokeeper_members", "gauge"),
                              ("cokeeper_convergence_seconds", "histogram"),
                              ("cokeeper_daemon_info", "gauge")):
                if fams[name].type != typ:
                    raise Failure(f"{name}: {fams[name].type}, not {typ}")

        check("--format prometheus: node_exporter's textfile format", prometheus)

        def output_file():
            path = run.path("textfile/cokeeperd.prom")
            os.mkdir(os.path.dirname(path))
            ctl("metrics", "--format", "prometheus", "--output", path)
            with open(path) as f:
                parse_prometheus(f.read())
            if os.stat(path).st_mode & 0o777 != 0o644:
                raise Failure(f"mode {os.stat(path).st_mode & 0o777:o}")
            # cokeeperd not there: no stale numbers, and no temporary file left.
            res = subprocess.run([ctl_bin, "--control", run.path("none.sock"), "metrics",
                                  "--output", path], capture_output=True, timeout=HANG)
            if res.returncode != 1 or os.listdir(os.path.dirname(path)):
                raise Failure(f"exit {res.returncode}, left {os.listdir(os.path.dirname(path))}")

        check("--output: the file whole, mode 0644; removed when cokeeperd is not there",
              output_file)

        def usage():
            for argv in (["metrics", "--format", "xml"], ["metrics", "extra"],
                         ["metrics", "--bogus"]):
                ctl(*argv, rc=2)

        check("metrics usage errors exit 2", usage)
    except (Failure, subprocess.TimeoutExpired) as e:
        failed += 1
        print(f"FAIL setup: {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
