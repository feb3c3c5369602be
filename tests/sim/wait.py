#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""cokeeperctl wait and cokeeperctl latency against the real cokeeperd (simulated source,
unix transport) and real cokeeper-agent processes, no Xen: each must exit 0 once every
agent acknowledged the change, list every agent in its JSON, exit 1 on a timeout and 2 on a
usage error.  No verdict depends on how fast anything is; timeouts only guard against hangs.

Usage: wait.py BUILD_DIR [--agents N]
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import Control, Failure, Run, admin_args, converge, until  # noqa: E402

HANG = 60  # seconds: a hang guard for each command, never a verdict on speed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--agents", type=int, default=3)
    args = ap.parse_args()
    daemon_bin = os.path.join(args.build, "cokeeperd", "cokeeperd")
    agent_bin = os.path.join(args.build, "guest-agent", "cokeeper-agent")
    ctl_bin = os.path.join(args.build, "tools", "cokeeperctl")
    run = Run("cokeeper-wait-")
    ctl_path, agent_path = run.path("control.sock"), run.path("agent.sock")
    passed = failed = 0
    agents = {}

    def check(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print(f"PASS {name}", flush=True)
        except (Failure, subprocess.TimeoutExpired, ValueError, KeyError) as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)

    def ctl(*argv, timeout=HANG):
        return subprocess.run([ctl_bin, "--control", ctl_path, *argv], capture_output=True,
                              text=True, timeout=timeout)

    def ctl_bg(*argv):
        return run.spawn([ctl_bin, "--control", ctl_path, *argv],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(p):
        out, err = p.communicate(timeout=HANG)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def expect(res, rc):
        if res.returncode != rc:
            raise Failure(f"{' '.join(res.args[3:])}: exit {res.returncode}, not {rc}; "
                          f"stdout {res.stdout.strip()!r}, stderr {res.stderr.strip()!r}")

    def report(res):
        """The JSON report, which must list every live agent, each having acked."""
        o = json.loads(res.stdout.strip().splitlines()[-1])
        if not o["converged"]:
            raise Failure(f"not converged: {o}")
        got = sorted(g["domid"] for g in o["guests"])
        if got != sorted(agents):
            raise Failure(f"guests {got}, not the running agents {sorted(agents)}: {o}")
        for g in o["guests"]:
            if g["acked_us"] is None or g["acked_gen"] < o["gen"]:
                raise Failure(f"guest {g} did not ack gen {o['gen']}")
        return o

    def start_agent(i):
        dump = run.path(f"agent{i}.json")
        p = run.spawn([agent_bin, "--transport", "unix", "--socket", agent_path,
                       "--domid", str(i), "--sink", "memory", "--dump", dump], f"agent{i}.log")
        agents[i] = (p, dump)


    def ctl_watching(*argv):
        """A command started in the background whose watch stream the daemon has counted:
        a change made after this returns is one it waits for."""
        p = ctl_bg(*argv)
        until(f"{' '.join(argv)}: its watch", lambda: p.poll() is not None or
              Control(ctl_path).call(cmd="stats")["counters"]["watchers"] >= 1)
        return p

    def joined():
        deadline = time.monotonic() + HANG
        while True:
            guests = Control(ctl_path).call(cmd="guests")["guests"]
            active = sorted(g["domid"] for g in guests if g["state"] != "await-hello")
            if active == sorted(agents):
                return converge(Control(ctl_path), [(i, d) for i, (_, d) in agents.items()], "join")
            if time.monotonic() > deadline:
                raise Failure(f"agents joined: {active}, expected {sorted(agents)}")
            time.sleep(0.01)

    try:
        run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                   "--agent-socket", agent_path, *admin_args()], "cokeeperd.log", ready=True)
        for i in range(1, args.agents + 1):
            start_agent(i)
        joined()

        def version():
            res = ctl("--version")
            expect(res, 0)
            if not re.fullmatch(r"cokeeperctl \d+\.\d+\.\d+\n", res.stdout):
                raise Failure(f"--version printed {res.stdout!r}")

        check("cokeeperctl --version", version)

        def wait_present():
            # Started before the change: it must see the change come and every ack.
            p = ctl_watching("--json", "wait", "--timeout", str(HANG), "10.50.0.1")
            expect(ctl("sim", "create", "w1", "--ip", "10.50.0.1", "--mac",
                       "00:16:3e:50:00:01"), 0)
            res = finish(p)
            expect(res, 0)
            o = report(res)
            gen = Control(ctl_path).call(cmd="members")["gen"]
            if o["gen"] != gen or o["absent"] or o["key"] != "10.50.0.1":
                raise Failure(f"report {o} for gen {gen}")

        check("wait ADDR blocks until every agent acked the create", wait_present)

        def wait_keys():
            # What is there already, by each kind of key, and a generation.
            gen = Control(ctl_path).call(cmd="members")["gen"]
            domid = [m["domid"] for m in Control(ctl_path).call(cmd="members")["members"]
                     if m["name"] == "w1"][0]
            for key in (["w1"], [str(domid)], ["00:16:3E:50:00:01"], ["--gen", str(gen)],
                        ["--absent", "10.50.0.2"], ["--absent", "nosuchname"]):
                res = ctl("--json", "wait", *key)
                expect(res, 0)
                report(res)
            res = ctl("wait", "w1")
            expect(res, 0)
            if not res.stdout.startswith("w1 present at gen"):
                raise Failure(f"wait w1 printed {res.stdout!r}")

        check("wait by name, domid, MAC, --gen and --absent on what is already so",
              wait_keys)

        def wait_absent():
            p = ctl_watching("--json", "wait", "--absent", "--timeout", str(HANG), "10.50.0.1")
            expect(ctl("sim", "destroy", "w1"), 0)
            res = finish(p)
            expect(res, 0)
            o = report(res)
            if not o["absent"]:
                raise Failure(f"report {o}")

        check("wait --absent ADDR blocks until every agent acked the destroy", wait_absent)

        def wait_uuid():
            # A uuid is a member's uuid, in either case, as addresses and addresses-set read
            # DOMAIN: not a name that no member has.
            uuid = "6b1d5a52-3c55-4b8e-9a51-0c0ffee0ab06"
            p = ctl_watching("--json", "wait", "--timeout", str(HANG), uuid)
            expect(ctl("sim", "create", "w6", "--uuid", uuid), 0)
            res = finish(p)
            expect(res, 0)
            o = report(res)
            if o["key"] != uuid or o["absent"]:
                raise Failure(f"report {o}")
            res = ctl("wait", "--timeout", str(HANG), uuid.upper())
            expect(res, 0)
            if not res.stdout.startswith(f"{uuid.upper()} present at gen"):
                raise Failure(f"wait UUID printed {res.stdout!r}")
            p = ctl_watching("--json", "wait", "--absent", "--timeout", str(HANG), uuid)
            expect(ctl("sim", "destroy", "w6"), 0)
            report(finish(p))

        check("wait UUID and wait --absent UUID: the member's uuid, either case", wait_uuid)

        def wait_never():
            # What no member can ever be is said at once, not after the timeout.
            for key in ("x" * 65, "00:00:00:00:00:00", "01:00:5e:00:00:01", "0.0.0.0",
                        "web\tone"):
                res = ctl("wait", "--timeout", str(HANG), key, timeout=HANG / 2)
                expect(res, 2)
                if "never" not in res.stderr:
                    raise Failure(f"wait {key!r} said {res.stderr!r}")
            # A timeout says how KEY was read and that no member ever matched it.
            res = ctl("wait", "--timeout", "0.3", "nosuchname")
            expect(res, 1)
            if "no member named 'nosuchname'" not in res.stderr:
                raise Failure(f"wait nosuchname said {res.stderr!r}")

        check("wait on a KEY no member can have: a usage error; a timeout names the key",
              wait_never)

        def latency_create():
            res = ctl("--json", "latency", "--present", "10.50.0.2", "--timeout", str(HANG),
                      "--", ctl_bin, "--control", ctl_path, "sim", "create", "w2", "--ip",
                      "10.50.0.2")
            expect(res, 0)
            o = report(res)
            if o["command_rc"] != 0 or o["latency_us"] is None or o["gen"] <= o["base_gen"]:
                raise Failure(f"report {o}")
            # The daemon times each ack from its notice: every agent's ack carries it.
            if any(g["latency_us"] is None for g in o["guests"]) or \
                    o["notice_latency_us"] is None:
                raise Failure(f"an ack without cokeeperd's latency: {o}")

        check("latency --present -- cokeeperctl sim create: every agent, both clocks",
              latency_create)

        def latency_destroy():
            res = ctl("--json", "latency", "--absent", "w2", "--", ctl_bin, "--control",
                      ctl_path, "sim", "destroy", "w2")
            expect(res, 0)
            report(res)

        check("latency --absent NAME -- cokeeperctl sim destroy", latency_destroy)

        def latency_unkeyed():
            res = ctl("--json", "latency", "--", ctl_bin, "--control", ctl_path, "sim",
                      "create", "w3")
            expect(res, 0)
            o = report(res)
            if o["gen"] != Control(ctl_path).call(cmd="members")["gen"]:
                raise Failure(f"report {o}")
            # Human output names the change and lists every agent.
            res = ctl("latency", "--absent", "w3", "--", ctl_bin, "--control", ctl_path,
                      "sim", "destroy", "w3")
            expect(res, 0)
            # (After the command's own output, "domid N".)
            if not re.search(r"^w3: gen \d+ in every guest", res.stdout, re.M) or \
                    len(re.findall(r"^  \S+ +domid", res.stdout, re.M)) != len(agents):
                raise Failure(f"latency printed {res.stdout!r}")

        check("latency without a key: the change the command made", latency_unkeyed)

        def timeouts():
            res = ctl("--json", "wait", "--timeout", "0.3", "10.50.9.9")
            expect(res, 1)
            if json.loads(res.stdout)["converged"]:
                raise Failure(f"timed out but converged: {res.stdout}")
            # Already present before the command: not the command's change.
            expect(ctl("sim", "create", "w4", "--ip", "10.50.0.4"), 0)
            expect(ctl("latency", "--present", "w4", "--timeout", "0.3", "--", "true"), 1)
            expect(ctl("latency", "--", "false"), 1)

        check("timeouts and failed commands exit 1", timeouts)

        def usage():
            for argv in (["wait"], ["wait", "--timeout", "abc", "x"], ["wait", "--timeout",
                         "-1", "x"], ["wait", "--gen", "x"], ["wait", "a", "b"],
                         ["latency", "--present", "x"], ["latency", "--bogus", "--", "true"],
                         ["sim", "destroy", "99999"], ["sim", "migrate", "w4", "--pause-ms",
                         "abc"], ["sim", "migrate", "w4", "--pause-ms", "5x"], ["nosuch"],
                         ["--bogus"], ["members", "extra"]):
                expect(ctl(*argv), 2)

        check("usage errors exit 2", usage)

        def guest_closed():
            # An agent that goes away during a wait is no longer waited for.
            p = ctl_watching("--json", "wait", "--timeout", str(HANG), "10.50.0.5")
            domid = max(agents)
            gone, _ = agents.pop(domid)
            gone.send_signal(signal.SIGKILL)
            gone.wait()
            until(f"the daemon's notice of agent {domid}'s end", lambda: domid not in
                  [g["domid"] for g in Control(ctl_path).call(cmd="guests")["guests"]])
            expect(ctl("sim", "create", "w5", "--ip", "10.50.0.5"), 0)
            res = finish(p)
            expect(res, 0)
            report(res)

        check("an agent that disconnects during a wait is dropped from it", guest_closed)
    except (Failure, subprocess.TimeoutExpired) as e:
        failed += 1
        print(f"FAIL setup: {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
