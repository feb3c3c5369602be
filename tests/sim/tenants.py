#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""dom0 decides who sees and pairs with whom (fastpath.conf(5)), through real processes:
cokeeperd (sim source, --fastpath-policy) and three agents with the fast path's in-memory
stand-in.  a and b have vifs on xenbr0, x on xenbr1.  x's table holds only itself and a's
only a and b; a's offer to x is refused (REFUSED) and never reaches x; a's offer to b is
relayed and accepted.  A policy that denies b closes that channel at both ends and takes
each out of the other's table; a policy file that does not parse is refused with its line
and changes nothing; x's vif moved to xenbr0 puts it in a's table.  The waits only guard against hangs: every verdict is on what was
received or dumped, never on how fast.

Usage: tenants.py BUILD_DIR
"""
import json
import os
import sys

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import HANG, Control, Failure, Run, admin_args, guest_active, until  # noqa: E402

REFUSED = 7  # CKFP_CLOSE_REFUSED


def main():
    build = sys.argv[1]
    daemon_bin = os.path.join(build, "cokeeperd", "cokeeperd")
    agent_bin = os.path.join(build, "tests", "sim", "cokeeper-agent-sim")
    run = Run("cokeeper-tenants-")
    ctl_path, agent_path = run.path("control.sock"), run.path("a.sock")
    policy_path = run.path("fastpath.conf")
    failed = 0

    def fp_log(name):
        try:
            with open(run.path(f"fp-{name}.jsonl")) as f:
                return [json.loads(line) for line in f]
        except OSError:
            return []

    def table(name):
        try:
            with open(run.path(f"{name}.json")) as f:
                return sorted(m["domid"] for m in json.load(f)["members"])
        except (OSError, ValueError):
            return None


    def agent(ctl, name, domid, *extra):
        run.spawn([agent_bin, "--transport", "unix", "--socket", agent_path,
                   "--domid", str(domid), "--sink", "memory",
                   "--dump", run.path(f"{name}.json"),
                   "--fastpath-log", run.path(f"fp-{name}.jsonl"), *extra], f"agent-{name}.log")
        until(f"agent {name} never joined cokeeperd", lambda: guest_active(ctl, domid))

    def closes(name, peer):
        return [m for m in fp_log(name) if m["type"] == "fastpath-close" and
                m["peer_domid"] == peer]

    try:
        with open(policy_path, "w") as f:
            f.write("# the built-in rules\n")
        run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                   "--agent-socket", agent_path, "--fastpath-policy", policy_path,
                   *admin_args()], "cokeeperd.log", ready=True)
        ctl = Control(ctl_path, timeout=HANG)
        dom = {}
        for i, (n, bridge) in enumerate([("a", "xenbr0"), ("b", "xenbr0"), ("x", "xenbr1")]):
            dom[n] = ctl.call(cmd="sim-create", name=n, ip=[f"10.9.0.{i + 1}"],
                              bridge=bridge)["domid"]
        if not dom["a"] < dom["b"] < dom["x"]:
            raise Failure(f"domids not ascending: {dom}")

        agent(ctl, "x", dom["x"])
        agent(ctl, "b", dom["b"])
        agent(ctl, "a", dom["a"], "--fastpath-offer", str(dom["x"]))
        until("the tables never settled", lambda: table("a") == [dom["a"], dom["b"]] and
              table("b") == [dom["a"], dom["b"]] and table("x") == [dom["x"]])
        print("PASS each guest's table holds only the members on its bridge", flush=True)

        until("a's offer to x was never answered", lambda: closes("a", dom["x"]))
        if closes("a", dom["x"])[0]["reason"] != REFUSED:
            raise Failure(f"a was told {closes('a', dom['x'])[0]}, not REFUSED")
        if fp_log("x"):
            raise Failure(f"x, on another bridge, was handed {fp_log('x')}")
        if ctl.call(cmd="stats")["counters"]["fastpath_not_authorized"] != 1:
            raise Failure("fastpath_not_authorized is not 1")
        print("PASS an offer across bridges is refused and never reaches its peer",
              flush=True)

        # a, in sync already, offers b through a second agent of its own domid.
        agent(ctl, "a2", dom["a"], "--fastpath-offer", str(dom["b"]))
        until("a's accept from b never came",
              lambda: any(m["type"] == "fastpath-accept" for m in fp_log("a2")))
        if ctl.call(cmd="stats")["counters"]["fastpath_channels"] != 1:
            raise Failure(f"counters: {ctl.call(cmd='stats')['counters']}")
        with open(policy_path, "w") as f:
            f.write("deny name b\n")
        reply = ctl.call(cmd="reload")
        if not reply.get("ok") or "deny name b" not in reply.get("text", ""):
            raise Failure(f"reload: {reply}")
        until("the denied channel was not closed at both ends",
              lambda: closes("a2", dom["b"]) and closes("b", dom["a"]))
        for name, peer in (("a2", dom["b"]), ("b", dom["a"])):
            if closes(name, peer)[-1]["reason"] != REFUSED:
                raise Failure(f"{name} was told {closes(name, peer)[-1]}")
        until("a and b still see each other",
              lambda: table("a2") == [dom["a"]] and table("b") == [dom["b"]])
        counters = ctl.call(cmd="stats")["counters"]
        if counters["fastpath_revoked"] != 1 or counters["fastpath_channels"] != 0:
            raise Failure(f"counters: {counters}")
        print("PASS a policy that denies a pair closes its channel at both ends and takes "
              "each out of the other's table", flush=True)

        with open(policy_path, "w") as f:
            f.write("allow bridge xenbr1\nalow name b\n")
        try:
            reply = ctl.call(cmd="reload")
            raise Failure(f"a bad policy file was answered {reply}")
        except Failure as e:
            error = str(e)
        if ":2:" not in error or "alow" not in error:
            raise Failure(f"a bad policy file was answered: {error}")
        text = ctl.call(cmd="policy").get("text", "")
        if "deny name b" not in text or "xenbr1" in text:
            raise Failure(f"the policy changed after a bad reload: {text!r}")
        print(f"PASS a policy file that does not parse changes nothing: {error}", flush=True)

        with open(policy_path, "w") as f:
            f.write("")
        ctl.call(cmd="reload")
        ctl.call(cmd="sim-vif", name="x", bridge="xenbr0")
        until("x moved to xenbr0 is not in a's table",
              lambda: table("a2") == [dom["a"], dom["b"], dom["x"]] and
              table("x") == [dom["a"], dom["b"], dom["x"]])
        print("PASS a vif moved to a guest's bridge puts it in that guest's table", flush=True)

    except (Failure, OSError, ValueError, KeyError) as e:
        failed += 1
        print(f"FAIL {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
