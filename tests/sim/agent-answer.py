#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""cokeeper-agent's answer deadline: an agent whose Hello cokeeperd never answers (a channel
it does not serve: on Xen, a vchan re-created while the agent attached to it) must drop the
connection and start again; one that is answered must keep its connection.  A real agent
against a silent Unix-socket peer, then against the real cokeeperd.  No verdict depends on
how fast anything is: the waits only guard against hangs, and the quiet period of the second
case can only make it pass vacuously on a slow machine, never fail.

Usage: agent-answer.py BUILD_DIR
"""
import json
import os
import socket
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import Control, Failure, Run  # noqa: E402

HANG = 60  # seconds: a hang guard, never a verdict on speed
ANSWER_MS = 200


def main():
    build = sys.argv[1]
    daemon_bin = os.path.join(build, "cokeeperd", "cokeeperd")
    agent_bin = os.path.join(build, "guest-agent", "cokeeper-agent")
    run = Run("cokeeper-answer-")
    failed = 0

    def agent(sock, log):
        return run.spawn([agent_bin, "--transport", "unix", "--socket", sock,
                          "--domid", "7", "--sink", "memory",
                          "--answer-timeout", str(ANSWER_MS)], log)

    def log_of(name):
        with open(run.path(name)) as f:
            return f.read()

    try:
        # 1. A peer that reads the Hello and says nothing: the agent leaves and comes back.
        silent = run.path("silent.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(silent)
        srv.listen(4)
        srv.settimeout(HANG)
        agent(silent, "agent-silent.log")
        first, _ = srv.accept()
        first.settimeout(HANG)
        hello = first.recv(4096)
        if not hello:
            raise Failure("the agent sent no Hello")
        if first.recv(4096) != b"":
            raise Failure("the agent sent more than its Hello before leaving")
        second, _ = srv.accept()
        second.settimeout(HANG)
        if not second.recv(4096):
            raise Failure("the agent came back without a Hello")
        if "no answer to our Hello" not in log_of("agent-silent.log"):
            raise Failure("the agent did not say why it left: "
                          + log_of("agent-silent.log").strip())
        print("PASS an unanswered Hello makes the agent reconnect", flush=True)
        first.close()
        second.close()
        srv.close()

        # 2. Answered by cokeeperd: the deadline is off, the one connection stays.
        ctl_path, agent_path = run.path("control.sock"), run.path("a.sock")
        run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                   "--agent-socket", agent_path], "cokeeperd.log", ready=True)
        agent(agent_path, "agent-answered.log")
        deadline = time.monotonic() + HANG
        while not [g for g in Control(ctl_path).call(cmd="guests")["guests"]
                   if g["state"] == "active"]:
            if time.monotonic() > deadline:
                raise Failure("the agent never joined cokeeperd")
            time.sleep(0.01)
        time.sleep(5 * ANSWER_MS / 1000)
        stats = Control(ctl_path).call(cmd="stats")["counters"]
        if stats["guests_connected"] != 1 or "no answer" in log_of("agent-answered.log"):
            raise Failure(f"an answered agent reconnected: {json.dumps(stats)}; "
                          + log_of("agent-answered.log").strip())
        print("PASS an answered agent keeps its connection", flush=True)
    except (Failure, OSError) as e:
        failed += 1
        print(f"FAIL {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
