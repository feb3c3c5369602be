#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The fast path's set-up through real processes: cokeeperd (sim source) and three agents
with the in-memory stand-in for the module.  c runs no module; b offers c a channel and is
told NO_FASTPATH; a offers b one, b's stand-in receives it as from a (cokeeperd set the
source) and accepts, and a receives the accept as from b.  o is an agent built before the
fast path (a raw socket whose Hello has no fastpath_version): d's offer to it never reaches
it, d is told NO_FASTPATH, and o's session lives on.  The waits only guard against hangs:
every verdict is on what was logged or received, never on how fast.

Usage: fastpath.py BUILD_DIR
"""
import json
import os
import socket
import struct
import sys

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import HANG, Control, Failure, Run, admin_args, guest_active, until  # noqa: E402

NO_FASTPATH = 3  # CKFP_CLOSE_NO_FASTPATH
# Envelope keys (field << 3 | 2) of FastpathOffer, FastpathAccept, FastpathClose (cases 6..8).
FASTPATH_KEYS = {0x32, 0x3a, 0x42}


def old_hello(domid):
    """A Hello as an agent built before the fast path sends it: domid, protocol_version 1."""
    assert domid < 128  # one-byte varint
    hello = bytes([0x08, domid, 0x20, 1])
    env = bytes([0x0a, len(hello)]) + hello
    return struct.pack(">I", len(env)) + env


def envelope_keys(buf):
    """The first byte of each whole frame in buf (its Envelope's key), and what is left."""
    keys = []
    while len(buf) >= 4:
        n = struct.unpack(">I", buf[:4])[0]
        if len(buf) < 4 + n:
            break
        keys.append(buf[4] if n else None)
        buf = buf[4 + n:]
    return keys, buf


def main():
    build = sys.argv[1]
    daemon_bin = os.path.join(build, "cokeeperd", "cokeeperd")
    # The agent with its fast path stand-in's test driver (agent-driver.c).
    agent_bin = os.path.join(build, "tests", "sim", "cokeeper-agent-sim")
    run = Run("cokeeper-fastpath-")
    ctl_path, agent_path = run.path("control.sock"), run.path("a.sock")
    failed = 0

    def log_path(name):
        return run.path(f"fp-{name}.jsonl")

    def relayed(name):
        try:
            with open(log_path(name)) as f:
                return [json.loads(line) for line in f]
        except OSError:
            return []


    def agent(ctl, name, domid, *extra):
        run.spawn([agent_bin, "--transport", "unix", "--socket", agent_path,
                   "--domid", str(domid), "--sink", "memory", "--fastpath-log", log_path(name),
                   *extra], f"agent-{name}.log")
        until(f"agent {name} never joined cokeeperd", lambda: guest_active(ctl, domid))

    try:
        run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                   "--agent-socket", agent_path, *admin_args()], "cokeeperd.log", ready=True)
        ctl = Control(ctl_path, timeout=HANG)
        dom = {n: ctl.call(cmd="sim-create", name=n, ip=[f"10.9.0.{i + 1}"])["domid"]
               for i, n in enumerate(["a", "b", "c", "d", "o"])}
        if not dom["a"] < dom["b"] < dom["c"] < dom["d"] < dom["o"]:
            raise Failure(f"domids not ascending: {dom}")

        agent(ctl, "c", dom["c"], "--no-fastpath")
        agent(ctl, "b", dom["b"], "--fastpath-offer", str(dom["c"]))
        until("b's offer to c was never answered",
              lambda: any(m["type"] == "fastpath-close" for m in relayed("b")))
        close = [m for m in relayed("b") if m["type"] == "fastpath-close"][0]
        if close["peer_domid"] != dom["c"] or close["reason"] != NO_FASTPATH:
            raise Failure(f"b was told {close}, not NO_FASTPATH from c")
        print("PASS an offer to a guest without the module is closed (NO_FASTPATH)",
              flush=True)

        agent(ctl, "a", dom["a"], "--fastpath-offer", str(dom["b"]))
        until("a's offer never reached b",
              lambda: any(m["type"] == "fastpath-offer" for m in relayed("b")))
        offer = [m for m in relayed("b") if m["type"] == "fastpath-offer"][0]
        if offer["peer_domid"] != dom["a"] or offer["grefs"] != 129:
            raise Failure(f"b was handed {offer}, not a's offer from domid {dom['a']}")
        until("b's accept never reached a",
              lambda: any(m["type"] == "fastpath-accept" for m in relayed("a")))
        accept = [m for m in relayed("a") if m["type"] == "fastpath-accept"][0]
        if accept["peer_domid"] != dom["b"] or accept["channel_id"] != offer["channel_id"]:
            raise Failure(f"a was handed {accept}, not b's accept")
        print("PASS an offer reaches its peer from its sender's domid, the accept comes back",
              flush=True)

        old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old.settimeout(HANG)
        old.connect(agent_path)
        old.sendall(old_hello(dom["o"]))
        until("the old agent o never joined cokeeperd", lambda: guest_active(ctl, dom["o"]))
        agent(ctl, "d", dom["d"], "--fastpath-offer", str(dom["o"]))
        until("d's offer to o was never answered",
              lambda: any(m["type"] == "fastpath-close" for m in relayed("d")))
        close = [m for m in relayed("d") if m["type"] == "fastpath-close"][0]
        if close["peer_domid"] != dom["o"] or close["reason"] != NO_FASTPATH:
            raise Failure(f"d was told {close}, not NO_FASTPATH from o")
        old.setblocking(False)
        got = b""
        try:
            while chunk := old.recv(65536):
                got += chunk
        except BlockingIOError:
            pass
        keys, _ = envelope_keys(got)
        if not keys or FASTPATH_KEYS & set(keys):
            raise Failure(f"the old agent was sent envelopes {keys}")
        if not guest_active(ctl, dom["o"]):
            raise Failure("the old agent's session ended")
        old.close()
        print("PASS an agent older than the fast path is sent none; the offerer hears "
              "NO_FASTPATH", flush=True)

        stats = ctl.call(cmd="stats")["counters"]
        if (stats["fastpath_relayed"] != 4 or stats["fastpath_refused"] != 0 or
                stats["fastpath_no_fastpath"] != 1):
            raise Failure(f"counters: {json.dumps(stats)}")
        if relayed("c"):
            raise Failure(f"c, without a module, was handed {relayed('c')}")
        print("PASS cokeeperctl stats counts the four relayed messages and the one kept back",
              flush=True)
    except (Failure, OSError, ValueError) as e:
        failed += 1
        print(f"FAIL {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
