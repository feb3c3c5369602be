#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""cokeeper-agent's readiness (issue 23): READY=1 once the agent runs, with no cokeeperd
serving it (before, it came with the first snapshot, and a guest without a dom0 daemon held
its boot and apt for the unit's start timeout); STATUS= says where the table stands, from
waiting for dom0 to in sync once cokeeperd serves it, and back when cokeeperd goes.  The
agent's NOTIFY_SOCKET is one this test reads; each step waits for a message, no clock
decides (the waits only guard against hangs).

Usage: agent-ready.py BUILD_DIR [AGENT_BINARY]
"""
import os
import selectors
import socket
import sys
import time

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import Failure, Run  # noqa: E402

HANG = 60  # seconds: a hang guard, never a verdict on speed


class Notify:
    """The agent's NOTIFY_SOCKET: every message it sent, read in order."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(path)
        self.seen = []

    def until(self, proc, what, cond):
        """Reads messages until one satisfies cond(fields); returns its fields.  Failure
        if proc exits first or nothing fits within the hang guard."""
        pidfd = os.pidfd_open(proc.pid)
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(self.sock, selectors.EVENT_READ, "notify")
                sel.register(pidfd, selectors.EVENT_READ, "exit")
                deadline = time.monotonic() + HANG
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Failure(f"{what}: not within {HANG} s; the agent said "
                                      f"{self.seen}")
                    for key, _ in sel.select(left):
                        if key.data == "exit":
                            raise Failure(f"{what}: the agent exited first; it said "
                                          f"{self.seen}")
                        msg = self.sock.recv(4096).decode()
                        self.seen.append(msg)
                        fields = dict(ln.split("=", 1) for ln in msg.split("\n") if "=" in ln)
                        if cond(fields):
                            return fields
        finally:
            os.close(pidfd)


def main():
    build = sys.argv[1]
    daemon_bin = os.path.join(build, "cokeeperd", "cokeeperd")
    agent_bin = sys.argv[2] if len(sys.argv) > 2 else os.path.join(build, "guest-agent",
                                                                 "cokeeper-agent")
    run = Run("cokeeper-ready-")
    failed = 0
    notify = None
    try:
        ctl_path, agent_path = run.path("control.sock"), run.path("agent.sock")
        notify = Notify(run.path("notify.sock"))
        env = dict(os.environ, WATCHDOG_USEC="600000000")
        env.pop("WATCHDOG_PID", None)
        agent = run.spawn([agent_bin, "--transport", "unix", "--socket", agent_path,
                           "--domid", "7", "--sink", "memory"], "agent.log", env=env,
                          notify_socket=notify.sock.getsockname())

        # 1. No cokeeperd: ready all the same, and saying what it waits for.
        ready = notify.until(agent, "READY=1 with no cokeeperd",
                             lambda f: f.get("READY") == "1")
        if not ready.get("STATUS", "").startswith("Waiting for dom0"):
            raise Failure(f"ready, but its status is {ready.get('STATUS')!r}")
        if not any("WATCHDOG=1" in m.split("\n") for m in notify.seen):
            notify.until(agent, "a watchdog ping before any cokeeperd",
                         lambda f: f.get("WATCHDOG") == "1")
        print("PASS READY=1 and a watchdog ping with no cokeeperd, STATUS waiting for dom0",
              flush=True)

        # 2. cokeeperd serves it: the status follows, with the generation.
        daemon = run.spawn([daemon_bin, "--source", "sim", "--control", ctl_path,
                            "--agent-socket", agent_path], "cokeeperd.log", ready=True)
        synced = notify.until(agent, "STATUS in sync once cokeeperd serves the agent",
                              lambda f: f.get("STATUS", "").startswith(
                                  "Co-resident table in sync (generation "))
        print(f"PASS STATUS={synced['STATUS']}", flush=True)

        # 3. cokeeperd goes: the agent says it resyncs and keeps running.
        run.stop(daemon)
        lost = notify.until(agent, "STATUS resyncing once cokeeperd is gone",
                            lambda f: "STATUS" in f)
        if not lost["STATUS"].startswith("Resyncing after "):
            raise Failure(f"after cokeeperd left, STATUS={lost['STATUS']!r}")
        if agent.poll() is not None:
            raise Failure(f"the agent exited ({agent.returncode}) when cokeeperd left")
        print(f"PASS STATUS={lost['STATUS']}", flush=True)
    except (Failure, OSError) as e:
        failed += 1
        print(f"FAIL {e}", flush=True)
    finally:
        run.close(show_logs=failed > 0)
        if notify:
            notify.sock.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
