#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The whole pipeline on one machine, no Xen: the real cokeeperd (simulated source, unix
transport) with real cokeeper-agent processes (in-memory sink, JSON dumps).  After each of
100 random create/destroy/migrate steps, every agent's table must equal cokeeperd's
`members` at the same generation.  Then bad peers: one that sends garbage is disconnected,
one that stops reading is resynced, and neither disturbs the others.

Usage: pipeline.py BUILD_DIR [--steps N] [--agents N] [--seed N]
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from harness import Control, Failure, Run, admin_args  # noqa: E402,F401 (the sim tests' too)

TIMEOUT = 60.0  # seconds for any one convergence: a hang guard, not a verdict on speed


def read_dump(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


HANG = 60  # seconds: the sim tests' hang guard for one wait, never a verdict on speed


def until(what, cond, hang=HANG):
    """Waits until cond() holds; a Failure naming what if it does not within hang seconds."""
    deadline = time.monotonic() + hang
    while not cond():
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {hang} s")
        time.sleep(0.01)


def guest_active(ctl, domid):
    """cokeeperd has an active session for domid (its Hello answered)."""
    return any(g["domid"] == domid and g["state"] == "active"
               for g in ctl.call(cmd="guests")["guests"])


def expected_view(members, domid):
    """What an agent of domid holds: every member, all on the sim's one bridge (fastpath.conf's
    defaults), if it is one itself; none if it is not (dom0 sees no vif of it)."""
    return members if any(x["domid"] == domid for x in members) else []


def converge(ctl, dumps, what):
    """Waits until every agent, given as (domid, dump), holds its view of cokeeperd's members
    at cokeeperd's generation."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        m = ctl.call(cmd="members")
        views = [read_dump(p) for _, p in dumps]
        behind = [p for (d, p), v in zip(dumps, views)
                  if v is None or v["epoch"] != m["epoch"] or v["gen"] != m["gen"]
                  or v["members"] != expected_view(m["members"], d)]
        if not behind and ctl.call(cmd="members")["gen"] == m["gen"]:
            return m
        if time.monotonic() > deadline:
            raise Failure(f"{what}: {len(behind)} agent(s) not at gen {m['gen']}: "
                          + ", ".join(os.path.basename(p) for p in behind))
        time.sleep(0.005)


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SIM_SEED", "1")))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    daemon_bin = os.path.join(args.build, "cokeeperd", "cokeeperd")
    agent_bin = os.path.join(args.build, "guest-agent", "cokeeper-agent")
    passed = failed = 0
    run = Run("cokeeper-sim-")
    ctl_path, agent_path = run.path("control.sock"), run.path("agent.sock")

    def check(name, fn):
        nonlocal passed, failed
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"PASS {name} ({time.monotonic() - t0:.2f}s)", flush=True)
        except Failure as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)

    try:
        daemon = run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                            "--agent-socket", agent_path, "--queue-limit", "65536",
                            *admin_args()], "cokeeperd.log", ready=True)
        ctl = Control(ctl_path)
        dumps = []
        for i in range(1, args.agents + 1):
            dump = run.path(f"agent{i}.json")
            dumps.append((i, dump))
            run.spawn([agent_bin, "--transport", "unix", "--socket", agent_path,
                       "--domid", str(i), "--sink", "memory", "--dump", dump], f"agent{i}.log")

        check("agents sync with an empty host", lambda: converge(ctl, dumps, "start"))

        names, counter = [], 0

        def random_steps():
            nonlocal counter
            for step in range(args.steps):
                op = rng.choice(["create"] * 3 + ["destroy"] * 2 + ["migrate"]) if names \
                    else "create"
                if op == "create":
                    counter += 1
                    name = f"vm{counter}"
                    ips = [f"10.{counter // 250}.{counter % 250}.{k + 1}"
                           for k in range(rng.randint(0, 3))]
                    ctl.call(cmd="sim-create", name=name, ip=ips)
                    names.append(name)
                elif op == "destroy":
                    name = names.pop(rng.randrange(len(names)))
                    ctl.call(cmd="sim-destroy", name=name)
                else:
                    ctl.call(cmd="sim-migrate", name=rng.choice(names),
                             pause_ms=rng.choice([0, 5, 20]))
                m = converge(ctl, dumps, f"step {step} ({op})")
                if op == "migrate":
                    # Equal mid-migration (migrating-out) above; equal again after handover.
                    deadline = time.monotonic() + TIMEOUT
                    while any(x["state"] != "running" for x in m["members"]):
                        if time.monotonic() > deadline:
                            raise Failure(f"step {step}: migration never completed")
                        time.sleep(0.005)
                        m = converge(ctl, dumps, f"step {step} (migrate handover)")
                got = sorted(x["name"] for x in m["members"])
                if got != sorted(names):
                    raise Failure(f"step {step}: members {got} != live {sorted(names)}")

        check(f"{args.steps} random create/destroy/migrate steps, every agent equal "
              "after each", random_steps)

        def spurious_fires():
            gen = ctl.call(cmd="members")["gen"]
            for _ in range(50):
                ctl.call(cmd="sim-fire", token="@releaseDomain")
            converge(ctl, dumps, "spurious fires")
            if ctl.call(cmd="members")["gen"] != gen:
                raise Failure("spurious fires changed the generation")

        check("spurious watch fires change nothing", spurious_fires)

        def garbage_peer():
            before = ctl.call(cmd="stats")["counters"]["guests_rejected"]
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(agent_path)
                s.sendall(frame(b"\xff\xfe\xfd garbage"))
                s.settimeout(TIMEOUT)
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            if ctl.call(cmd="stats")["counters"]["guests_rejected"] != before + 1:
                raise Failure("the garbage peer was not counted as rejected")
            if b"garbage" in data:
                raise Failure("unexpected echo")
            counter_name = "vm-after-garbage"
            ctl.call(cmd="sim-create", name=counter_name, ip=["10.200.0.1"])
            names.append(counter_name)
            converge(ctl, dumps, "after the garbage peer")

        check("a peer sending garbage is disconnected; the others still converge",
              garbage_peer)

        def stalled_peer():
            # Says Hello, then never reads: it stops being sent each change (it lags), the
            # others are unaffected, and once it drains it is brought up to date at once.
            hello = bytes([0x0a, 0x04, 0x08, 0x63, 0x20, 0x01])  # Hello{domid 99, version 1}
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(agent_path)
            s.sendall(frame(hello))
            try:
                # Enough changes to fill its socket and then lag.
                for k in range(800):
                    ctl.call(cmd="sim-create", name="churn", ip=[f"10.201.0.{k % 200 + 1}"])
                    ctl.call(cmd="sim-destroy", name="churn")
                    if ctl.call(cmd="stats")["counters"]["lagging"] >= 1:
                        break
                # More changes while it lags: none of them is queued for it by itself.
                for k in range(20):
                    ctl.call(cmd="sim-create", name="churn", ip=[f"10.201.1.{k + 1}"])
                    ctl.call(cmd="sim-destroy", name="churn")
                converge(ctl, dumps, "with a stalled peer")
                stats = ctl.call(cmd="stats")["counters"]
                if stats["lagging"] < 1:
                    raise Failure("the stalled peer never lagged")
                mine = [g for g in ctl.call(cmd="guests")["guests"] if g["domid"] == 99]
                if not mine or mine[0]["state"] not in ("catch-up", "resync"):
                    raise Failure(f"the stalled peer is not owed a catch-up: {mine}")
                if mine[0]["queued_bytes"] > 65536:
                    raise Failure(f"the stalled peer's queue grew past its limit: {mine}")
                caught_up = stats["catchups_sent"] + stats["snapshots_sent"]
                # Now it drains: one merged delta (or a snapshot) brings it up to date.
                s.setblocking(False)
                deadline = time.monotonic() + TIMEOUT
                while time.monotonic() < deadline:
                    try:
                        if not s.recv(1 << 20):
                            break
                    except BlockingIOError:
                        time.sleep(0.01)
                    mine = [g for g in ctl.call(cmd="guests")["guests"] if g["domid"] == 99]
                    if mine and mine[0]["state"] == "active" and \
                            mine[0]["queued_bytes"] == 0:
                        break
                else:
                    raise Failure("the stalled peer was never brought up to date")
                stats = ctl.call(cmd="stats")["counters"]
                if stats["catchups_sent"] + stats["snapshots_sent"] != caught_up + 1:
                    raise Failure("the stalled peer was not caught up with one message")
            finally:
                s.close()

        check("a peer that stops reading is resynced, the others never wait", stalled_peer)

        def restart_daemon():
            old_epoch = ctl.call(cmd="members")["epoch"]
            if run.stop(daemon) != 0:
                raise Failure(f"cokeeperd exited with {daemon.returncode} on SIGTERM")
            run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                       "--agent-socket", agent_path, *admin_args()], "cokeeperd2.log",
                      ready=True)
            ctl.call(cmd="sim-create", name="fresh", ip=["10.202.0.1"])
            m = converge(ctl, dumps, "after a daemon restart")
            if m["epoch"] == old_epoch:
                raise Failure("the restarted daemon kept its epoch")
            if [x["name"] for x in m["members"]] != ["fresh"]:
                raise Failure("stale members survived the new epoch")

        check("a restarted daemon's new epoch leaves no stale entry in any agent",
              restart_daemon)
    except Failure as e:
        failed += 1
        print(f"FAIL setup: {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
