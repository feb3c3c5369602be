# SPDX-License-Identifier: GPL-2.0-only
"""Hostile cases of the control socket (issue 20; hostile.py runs them):
  ctl-slots        a read-only client (user nobody) holds every control connection and every
                   watch stream it can, trickling requests: root's stats and watch still work
  unread-replies   a read-only client pipelines hundreds of `members` on many connections and
                   never reads: cokeeperd's memory stays bounded, root's stats answers
  ctl-descriptors  RLIMIT_NOFILE 64 and 100 idle agent connections: a new control client is
                   answered (a reply, or "busy: out of descriptors"), never left hanging
  ctl-age          read-only connections kept alive by a trickle of requests are closed at
                   --control-max-age all the same; root's, older still, is not (this one
                   passes an option the old daemon lacks: against it, it fails at start)
Verdicts are counts and contents; each timeout only catches a hang."""
import json
import selectors
import socket
import time

from attack_harness import (
    HANG, HOLD_GUARD, Failure, connect_many, hold, raise_nofile, ready, released, report)

TRIES = 5           # root's attempts at each command while the attack holds
CTL_SLOTS = 64      # control clients the attacker tries for (the default --max-control-clients)
CTL_WATCHERS = 16   # watch streams it tries for (the default --max-watchers)
TRICKLE_S = 0.5     # a request on each held connection this often (the idle clock's reset)
UNREAD_CONNS = 62   # connections of unread-replies (as found: 62, two slots left to root)
PIPELINED = 389     # requests pipelined on each (as found)
PAD_MEMBERS = 50    # members that make a `members` reply about 10 KB
OUTPUT_MAX = 4 << 20    # the old per-connection cap on unread replies, which each stays under
AGENT_PEERS = 100   # idle agent connections of ctl-descriptors
NOFILE = 64
REQ = b'{"cmd":"stats"}\n'


def request(path, line, timeout=HANG):
    """One connection, one request line: (socket, first reply as a dict or None at EOF)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(line)
    except BrokenPipeError:
        pass    # refused and closed at once: its one line may still be there to read
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            return s, None
        buf += chunk
    return s, json.loads(buf)


def drain(s):
    """Reads what s holds without blocking; False once the daemon closed it."""
    try:
        while True:
            if not s.recv(65536):
                return False
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False


# ---- ctl-slots -------------------------------------------------------------------------------

def grab(path, line, n):
    """Up to n connections that the daemon answers ok to line: (held, the first reply's size,
    refusals by reason)."""
    held, size, refused = [], 0, {}
    for _ in range(n):
        try:
            s, reply = request(path, line)
        except OSError as e:
            s, reply = None, {"error": str(e)}
        if reply and reply.get("ok"):
            s.setblocking(False)
            held.append(s)
            size = len(json.dumps(reply))
            continue
        why = reply.get("error") if reply else "closed"
        refused[why] = refused.get(why, 0) + 1
        if s:
            s.close()
    return held, size, refused


def attack_ctl_slots(a):
    # The watch streams first: each connection counts as a slot too.
    watchers, _, w_refused = grab(a.control, b'{"cmd":"watch"}\n', CTL_WATCHERS)
    plain, _, c_refused = grab(a.control, REQ, CTL_SLOTS - len(watchers))
    ready()
    closed = 0
    sel = selectors.DefaultSelector()
    for s in watchers + plain:
        sel.register(s, selectors.EVENT_READ)
    # A request on each plain connection every TRICKLE_S, until the case is done: the idle
    # clock never runs out.  Everything the daemon sends is read: nothing to drop it for.
    deadline = time.monotonic() + HOLD_GUARD
    while not released(TRICKLE_S) and time.monotonic() < deadline:
        for s in list(plain):
            try:
                s.send(REQ)
            except OSError:
                pass
        for key, _ in sel.select(0):
            if not drain(key.fileobj):
                sel.unregister(key.fileobj)
                closed += 1
    report(watchers=len(watchers), watchers_refused=w_refused, clients=len(plain),
           clients_refused=c_refused, closed_by_daemon=closed)
    for s in watchers + plain:
        s.close()


def roots_turn(setup):
    """Root's stats and root's watch, TRIES times each, while the attacker holds its slots."""
    got = {"stats": 0, "watch": 0}
    why = {}
    for cmd in got:
        for _ in range(TRIES):
            try:
                s, reply = request(setup.ctl_path, json.dumps({"cmd": cmd}).encode() + b"\n")
                s.close()
            except OSError as e:
                reply = {"error": f"no answer within {HANG:.0f} s ({e})"}
            if reply and reply.get("ok"):
                got[cmd] += 1
            else:
                why[cmd] = reply.get("error") if reply else "closed"
    if any(n < TRIES for n in got.values()):
        raise Failure("root's " + ", ".join(f"{cmd} succeeded {n} of {TRIES}" +
                                            (f" ({why[cmd]})" if cmd in why else "")
                                            for cmd, n in got.items()))


def after_ctl_slots(setup, r):
    if r and not (r["clients"] or r["watchers"]):
        raise Failure("the read-only client got no slot at all: the attack did not run")


# ---- unread-replies ----------------------------------------------------------------------------

def pad_members(setup):
    """Members enough that a `members` reply is about 10 KB, as when the issue was found."""
    for i in range(PAD_MEMBERS):
        setup.ctl.call(cmd="sim-create", name=f"pad{i}",
                       ip=[f"10.88.{i}.{k}" for k in range(1, 5)])
    setup.ctl.call(cmd="members")


def attack_unread(a):
    raise_nofile()
    members = b'{"cmd":"members"}\n'
    conns, size, refused = grab(a.control, members, a.count)
    # As many as stay under the old per-connection cap: none of them is dropped for it.
    n = min(PIPELINED, (OUTPUT_MAX - (64 << 10)) // max(size, 1))
    sent = 0
    for s in conns:
        s.setblocking(True)
        s.settimeout(HANG)
        try:
            s.sendall(members * n)     # and never read
            sent += n
        except OSError:
            pass
    ready()
    hold(a)
    closed = 0
    for s in conns:
        s.setblocking(False)
        closed += not drain(s)
    for s in conns:
        s.close()
    report(connections=len(conns), refused=refused, reply_bytes=size, pipelined=n,
           requests=sent, closed_by_daemon=closed)


def stats_answers(setup):
    """Root's stats, TRIES times, while the replies pile up."""
    for _ in range(TRIES):
        setup.ctl.call(cmd="stats")


def after_unread(setup, r):
    if r and not r["connections"]:
        raise Failure("the read-only client got no connection: the attack did not run")


# ---- ctl-descriptors ---------------------------------------------------------------------------

def attack_descriptors(a):
    raise_nofile()
    socks, refused = connect_many(a.agent_socket, AGENT_PEERS)
    ready()
    hold(a)
    for s in socks:
        s.close()
    report(connected=len(socks), refused=refused)


def control_answers(setup):
    """TRIES new control clients, one after another, each answered with a reply or a one-line
    refusal ("busy: ..."); a connect that nobody accepts hangs until HANG."""
    answered = []
    for i in range(TRIES):
        t0 = time.monotonic()
        try:
            s, reply = request(setup.ctl_path, REQ)
            s.close()
        except (OSError, ValueError) as e:
            raise Failure(f"control client {i + 1}: no answer within {HANG:.0f} s "
                          f"({type(e).__name__}: {e}) after {answered} were answered")
        if reply is None:
            raise Failure(f"control client {i + 1}: closed without a word after "
                          f"{time.monotonic() - t0:.1f} s")
        if not reply.get("ok") and not str(reply.get("error", "")).startswith("busy"):
            raise Failure(f"control client {i + 1}: {reply.get('error')}")
        answered.append("ok" if reply.get("ok") else reply["error"])
    print(f"  ctl-descriptors: control clients answered {answered}", flush=True)


# ---- ctl-age ---------------------------------------------------------------------------------

MAX_AGE_S = 2
AGE_CONNS = 3


def attack_age(a):
    plain, _, refused = grab(a.control, REQ, AGE_CONNS)
    ready()
    sel = selectors.DefaultSelector()
    for s in plain:
        sel.register(s, selectors.EVENT_READ)
    sent = 0
    deadline = time.monotonic() + HOLD_GUARD
    next_send = time.monotonic()
    # Requests far more often than the idle timeout, until the daemon closed every one.
    while sel.get_map() and time.monotonic() < deadline:
        if time.monotonic() >= next_send:
            next_send += TRICKLE_S
            for key in list(sel.get_map().values()):
                try:
                    key.fileobj.send(REQ)
                    sent += 1
                except OSError:
                    pass
        for key, _ in sel.select(max(0, next_send - time.monotonic())):
            if not drain(key.fileobj):
                sel.unregister(key.fileobj)
    report(connections=len(plain), refused=refused, requests=sent,
           closed_by_daemon=len(plain) - len(sel.get_map()))
    for s in plain:
        s.close()


def open_roots(setup):
    """Root's connection, opened before the attacker's: older than any of them."""
    setup.root_conn, reply = request(setup.ctl_path, REQ)
    if not (reply and reply.get("ok")):
        raise Failure(f"root's first stats: {reply}")


def after_age(setup, r):
    if r and (not r["connections"] or r["closed_by_daemon"] < r["connections"]):
        raise Failure(f"{r['closed_by_daemon']} of {r['connections']} read-only connections "
                      f"kept alive by {r['requests']} requests were closed at the max age")
    s = setup.root_conn
    try:
        s.sendall(REQ)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise Failure("root's connection, older than the max age, was closed")
            buf += chunk
    except OSError as e:
        raise Failure(f"root's connection, older than the max age: {e}")
    finally:
        s.close()
    if not json.loads(buf.splitlines()[-1]).get("ok"):
        raise Failure(f"root's stats on its old connection: {buf[-200:]!r}")


ATTACKS = {
    "ctl-slots": attack_ctl_slots,
    "unread-replies": attack_unread,
    "ctl-descriptors": attack_descriptors,
    "ctl-age": attack_age,
}

CASES = {
    "ctl-slots": dict(as_nobody=True, attacker_as_nobody=True, hold=True, during_first=True,
                      during=roots_turn, after=after_ctl_slots),
    "unread-replies": dict(as_nobody=True, attacker_as_nobody=True, hold=True,
                           count=UNREAD_CONNS, before=pad_members, during=stats_answers,
                           after=after_unread),
    "ctl-descriptors": dict(nofile=NOFILE, hold=True, during_first=True,
                            args=("--hello-timeout", "3600000"), during=control_answers),
    "ctl-age": dict(as_nobody=True, attacker_as_nobody=True, before=open_roots,
                    # An idle clock no run outlasts: only the age can close them, and
                    # root's old connection stays however slow the machine.
                    args=("--control-max-age", str(MAX_AGE_S),
                          "--control-idle-timeout", "86400"), after=after_age),
}

TITLES = {
    "ctl-slots": "a read-only client holding every control slot and watcher it can: root's "
                 "stats and watch work 5 of 5",
    "unread-replies": "a read-only client pipelining `members` on 62 connections, never "
                      "reading: memory bounded, root's stats answers",
    "ctl-descriptors": "RLIMIT_NOFILE 64, 100 idle agents: a new control client is answered "
                       "(a reply or busy), never left hanging",
    "ctl-age": "read-only connections trickling requests are closed at --control-max-age; "
               "root's is not",
}
