#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Where addresses come from, through real processes: cokeeperd (sim source) and two agents
with in-memory tables.  a's address is the toolstack's; b and c have none from it.  The
orchestrator's address for b reaches every table marked "orchestrator"; the same address
set for c too is a conflict (neither table entry has it) until c's is cleared; an
orchestrator address equal to a's toolstack one stays a's; what a guest claims in its own
attr/vif is in no table, and a request naming no domain or no address is refused with the
table unchanged.  A destroyed domain's entry leaves the state file; a restarted cokeeperd
reads the orchestrator's addresses back from it.  A second cokeeperd run with
--trust-guest-addresses uses a claim, below everything else.  The waits only guard
against hangs: every verdict is on what the tables and replies hold, never on speed.

Usage: addresses.py BUILD_DIR
"""
import os
import sys

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import HANG, Control, Failure, Run, admin_args, guest_active, read_dump, until  # noqa: E402

UUID_B = "0b0b0b0b-0000-4000-8000-00000000000b"


def main():
    build = sys.argv[1]
    daemon_bin = os.path.join(build, "cokeeperd", "cokeeperd")
    agent_bin = os.path.join(build, "tests", "sim", "cokeeper-agent-sim")
    run = Run("cokeeper-addresses-")
    ctl_path, agent_path = run.path("control.sock"), run.path("a.sock")
    state = run.path("addresses")
    failed = 0

    def addresses(name, who):
        """{member name: [(address, source)]} in the agent's table."""
        dump = read_dump(run.path(f"{name}.json"))
        if dump is None:
            return None
        out = {}
        for m in dump["members"]:
            out[m["name"]] = sorted(
                (a, s) for nic in m["nics"]
                for a, s in zip(nic["ipv4"] + nic["ipv6"],
                                nic.get("ipv4_source", []) + nic.get("ipv6_source", [])))
        return out.get(who)

    def daemon(*extra):
        return run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                          "--agent-socket", agent_path, "--address-state", state,
                          "--address-grace", "0", *admin_args(), *extra],
                         "cokeeperd.log", ready=True)

    def agent(ctl, name, domid):
        run.spawn([agent_bin, "--transport", "unix", "--socket", agent_path,
                   "--domid", str(domid), "--sink", "memory",
                   "--dump", run.path(f"{name}.json")], f"agent-{name}.log")
        until(f"agent {name} never joined cokeeperd", lambda: guest_active(ctl, domid))

    def refused(ctl, what, **req):
        try:
            reply = ctl.call(**req)
        except Failure as e:
            return str(e)
        raise Failure(f"{what} was answered {reply}")

    try:
        d = daemon()
        ctl = Control(ctl_path, timeout=HANG)
        dom = {"a": ctl.call(cmd="sim-create", name="a", ip=["10.9.0.1"])["domid"],
               "b": ctl.call(cmd="sim-create", name="b", uuid=UUID_B)["domid"],
               "c": ctl.call(cmd="sim-create", name="c")["domid"]}
        agent(ctl, "a", dom["a"])
        agent(ctl, "b", dom["b"])

        ctl.call(cmd="addresses-set", op="set", domain="b", addresses=["10.9.0.2", "fd00::2"])
        want = [("10.9.0.2", "orchestrator"), ("fd00::2", "orchestrator")]
        until("b's orchestrator address never reached a's and b's tables",
              lambda: addresses("a", "b") == want and addresses("b", "b") == want)
        print("PASS an orchestrator's address reaches every table, marked so", flush=True)

        ctl.call(cmd="addresses-set", op="set", domain=str(dom["c"]), addresses=["10.9.0.2"])
        until("a conflict left 10.9.0.2 in a table",
              lambda: addresses("a", "b") == [("fd00::2", "orchestrator")] and
              addresses("a", "c") == [])
        if ctl.call(cmd="stats")["counters"]["conflicts"] != 2:
            raise Failure(f"conflicts: {ctl.call(cmd='stats')['counters']['conflicts']}")
        ctl.call(cmd="addresses-set", op="clear", domain="c")
        until("b did not get 10.9.0.2 back when c let go", lambda: addresses("a", "b") == want)
        print("PASS one address set for two members is nobody's until one lets go",
              flush=True)

        ctl.call(cmd="addresses-set", op="set", domain="c", addresses=["10.9.0.1"])
        ctl.call(cmd="sim-claim", name="c", ipv4=["10.9.0.3"])
        ctl.call(cmd="sim-claim", name="b", ipv4=["10.9.0.1"])
        until("c's claim is not shown", lambda: any(
            e["address"] == "10.9.0.3" and e["source"] == "claimed" and not e["used"]
            for e in ctl.call(cmd="addresses", domain="c")["addresses"]))
        shown = ctl.call(cmd="addresses", domain="c")["addresses"]
        if not any(e["address"] == "10.9.0.1" and not e["used"] for e in shown):
            raise Failure(f"c's unused orchestrator address is not shown unused: {shown}")
        # A change after the claims: once it is in a's table, so would a used claim be.
        ctl.call(cmd="addresses-set", op="add", domain="c", addresses=["10.9.0.4"])
        until("c's second orchestrator address never reached a's table",
              lambda: addresses("a", "c") == [("10.9.0.4", "orchestrator")])
        if (addresses("a", "a") != [("10.9.0.1", "toolstack")] or 
                addresses("b", "b") != want):
            raise Failure(f"a's table: {read_dump(run.path('a.json'))}")
        print("PASS the toolstack's address stays its member's; a guest's claim is in no "
              "table", flush=True)

        gen = ctl.call(cmd="members")["gen"]
        for what, req in (("no such domain", dict(domain="nosuch", addresses=["10.9.0.9"])),
                          ("a multicast address", dict(domain="b", addresses=["224.0.0.1"])),
                          ("garbage", dict(domain="b", addresses=["10.9.0"])),
                          ("no addresses", dict(domain="b")),
                          ("another MAC", dict(domain="b", mac="00:16:3e:00:00:99",
                                               addresses=["10.9.0.9"]))):
            refused(ctl, what, cmd="addresses-set", op="set", **req)
        refused(ctl, "an unknown op", cmd="addresses-set", op="replace", domain="b")

        if ctl.call(cmd="members")["gen"] != gen or addresses("a", "b") != want:
            raise Failure("a refused request changed the membership")
        print("PASS bad requests are refused and change nothing", flush=True)

        # A destroyed domain's entry leaves the state file (--address-grace 0); b's stays.
        uuid_c = next(m["uuid"] for m in ctl.call(cmd="members")["members"] if m["name"] == "c")
        ctl.call(cmd="sim-destroy", name="c")

        def c_gone():
            with open(state) as f:
                text = f.read()
            return uuid_c not in text and UUID_B in text
        until("a destroyed domain's entry stayed in the state file", c_gone)
        print("PASS a destroyed domain's addresses leave the state file", flush=True)

        # A restart: the sim's domains are gone with it and come back only when created
        # again, after the first commit; a grace longer than this test keeps b's entry.
        if run.stop(d) != 0:
            raise Failure(f"cokeeperd exited with {d.returncode} on SIGTERM")
        d = daemon("--address-grace", "3600")
        dom["a"] = ctl.call(cmd="sim-create", name="a", ip=["10.9.0.1"])["domid"]
        dom["b"] = ctl.call(cmd="sim-create", name="b", uuid=UUID_B)["domid"]
        until("b's orchestrator addresses did not survive a restart",
              lambda: addresses("a", "b") == want)
        print("PASS the orchestrator's addresses survive a restart (the state file)",
              flush=True)

        if run.stop(d) != 0:
            raise Failure(f"cokeeperd exited with {d.returncode} on SIGTERM")
        d = daemon("--trust-guest-addresses")
        dom["a"] = ctl.call(cmd="sim-create", name="a", ip=["10.9.0.1"])["domid"]
        dom["c"] = ctl.call(cmd="sim-create", name="c")["domid"]
        ctl.call(cmd="sim-claim", name="c", ipv4=["10.9.0.3", "10.9.0.1"])
        until("a trusted claim never reached a's table",
              lambda: addresses("a", "c") == [("10.9.0.3", "claimed")] and
              addresses("a", "a") == [("10.9.0.1", "toolstack")])
        print("PASS with --trust-guest-addresses a claim is used, below the toolstack's",
              flush=True)
    except (Failure, OSError, ValueError, KeyError) as e:
        failed += 1
        print(f"FAIL {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
