# SPDX-License-Identifier: GPL-2.0-only
"""Hostile cases of the fast path's relay (issue 20): guests that make cokeeperd relay
FastpathOffer, Accept and Close (proto/cokeeper.proto) past what it allows a domain.  Every
guest here is a raw session in the attacker's process that says Hello with fastpath_version
1 as a domid the attacker made a RUNNING member (sim-create): over the unix transport a
socket may speak for any domid.

  relay-reconnect   one domid reconnecting after every burst: its offers reaching the victim
                    stay within one allowance (burst + rate x elapsed), not one per session
  relay-queue-limit a victim that never reads: what is relayed to it counts against
                    --queue-limit like everything else queued to it
  relay-memory      queues of victims that never read filled, then dropped: the memory goes
                    back (judged on a plain build: ASan's allocator ignores malloc_trim)
  relay-answers     a guest's answers (Accept) do not spend its offers' allowance; what it
                    sends is delivered or answered with a Close, never dropped unsaid
  relay-pending     one pending offer per pair, at most --fastpath-max-pending per offerer, no
                    Accept without a pending offer

What the daemon allows by default: per source domid, kept across its sessions, a burst of 8
offers refilled at 4 a second, and the same again for answers (Accept, Close); what it does
not deliver it answers with a Close(UNREACHABLE) naming the destination and the channel,
unless it was a Close.

Knowing that the daemon has handled what a guest sent takes no clock.  A guest syncs by saying
Hello again as a guest that holds no table: cokeeperd handles a stream's frames in order and
answers that Hello with a Snapshot queued after everything before it, so once the Snapshot is
in, every message the guest sent before was handled and every answer to it received.  What
those messages made cokeeperd relay is then queued to the destinations; a destination has it
all once cokeeperd's queue for it is empty (`guests` says queued_bytes 0) and it read what its
socket holds.  Rates are judged against the time the test measured: a slower machine only
loosens a bound.
"""
import socket
import struct
import time

from attack_harness import (
    AGENTS, CKFP_CLOSE_UNREACHABLE, CKFP_RING_ORDER_MAX, ENV_SNAPSHOT, FP_NAMES, HANG, Control,
    Failure, fastpath_accept, fastpath_close, fastpath_offer, has_asan, hello, ready, report,
    split_frames, status_kb)

BURST = 8           # the daemon's default relay budget: 8 at once ...
RATE = 4.0          # ... refilled at 8 per 2 s, for offers and again for answers
INTERVAL = 2.0      # seconds in which the budget refills whole
MAX_PENDING = 8     # --fastpath-max-pending's default
SLACK = 2           # messages past burst + rate x elapsed that rounding may let through
BIG = 0xFFFFFFFF    # a grant reference of five varint bytes: an offer of order 8 is ~2.6 KB
MB = 1 << 20


# ---- the attacker's guests -------------------------------------------------------------------

class Peer:
    """One raw agent session for domid: says Hello announcing fast path version 1 and waits
    for its answer, keeps what it is sent.  rcvbuf: a small receive buffer, for a guest that
    stops reading."""

    def __init__(self, path, domid, rcvbuf=None):
        self.domid = domid
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.connect(path)
        self.buf = b""
        self.fastpath = []          # what it was sent: dicts of type, peer, channel, reason, t
        self.snapshots = 0          # whole Snapshots received
        self.snapshot_bytes = 0     # the largest, framed
        self._snap = 0
        self.sync()

    def send(self, data):
        self.s.settimeout(HANG)
        try:
            self.s.sendall(data)
        except socket.timeout:
            raise Failure(f"domid {self.domid}: cokeeperd took nothing for {HANG:.0f} s")

    def pump(self, timeout=0.0):
        """Reads what is there (waiting at most timeout for the first bytes); False at EOF."""
        if timeout > 0:
            self.s.settimeout(timeout)
        else:
            self.s.setblocking(False)
        eof = False
        try:
            while True:
                chunk = self.s.recv(1 << 20)
                if not chunk:
                    eof = True
                    break
                self.buf += chunk
                self.s.setblocking(False)
        except (BlockingIOError, InterruptedError, socket.timeout):
            pass
        except ConnectionResetError:
            eof = True
        now = time.monotonic()
        frames, self.buf = split_frames(self.buf)
        for case, f, size in frames:
            if case in FP_NAMES:
                self.fastpath.append(dict(type=FP_NAMES[case], peer=f.get(1, [0])[0],
                                          channel=f.get(2, [0])[0],
                                          reason=f.get(3, [0])[0], t=now))
            elif case == ENV_SNAPSHOT:
                self._snap += size
                if f.get(3, [0])[0] + 1 >= f.get(4, [1])[0]:     # its last chunk
                    self.snapshots += 1
                    self.snapshot_bytes = max(self.snapshot_bytes, self._snap)
                    self._snap = 0
        return not eof

    def sync(self):
        """Hello again, holding no table, and reads until the Snapshot that answers it."""
        n = self.snapshots
        self.send(hello(self.domid, fastpath=1))
        deadline = time.monotonic() + HANG
        while self.snapshots == n:
            left = deadline - time.monotonic()
            if left <= 0 or (not self.pump(min(left, 1.0)) and self.snapshots == n):
                raise Failure(f"domid {self.domid}: no Snapshot answered its Hello "
                              f"within {HANG:.0f} s")

    def got(self, kind, peer=None, channel=None):
        return [m for m in self.fastpath if m["type"] == kind
                and (peer is None or m["peer"] == peer)
                and (channel is None or m["channel"] == channel)]

    def refused(self, dst, channel=None):
        """The Closes(UNREACHABLE) it was sent about its messages to dst (on channel)."""
        return [m for m in self.got("close", dst, channel)
                if m["reason"] == CKFP_CLOSE_UNREACHABLE]

    def close(self):
        self.s.close()


def members(ctl, n, prefix):
    """n RUNNING members, ascending, with domids above the honest agents' (sim-create
    counts from 1: domids 1..AGENTS become members too, and stay out of it)."""
    domids = []
    k = 0
    while len(domids) < n:
        k += 1
        d = ctl.call(cmd="sim-create", name=f"{prefix}{k}",
                     ip=[f"10.88.{k // 250}.{k % 250 + 1}"])["domid"]
        if d > AGENTS:
            domids.append(d)
    deadline = time.monotonic() + HANG
    while True:
        running = {m["domid"] for m in ctl.call(cmd="members")["members"]
                   if m["state"] == "running"}
        if running.issuperset(domids):
            return domids
        if time.monotonic() > deadline:
            raise Failure(f"domids {sorted(set(domids) - running)} never became members")
        time.sleep(0.01)


def fastpath_counters(ctl):
    return {k: v for k, v in ctl.call(cmd="stats")["counters"].items()
            if k.startswith("fastpath_") or k == "queue_overflows"}


def queued(ctl, domid):
    """The bytes cokeeperd holds for domid's session."""
    return sum(g["queued_bytes"] for g in ctl.call(cmd="guests")["guests"]
               if g["domid"] == domid)


def settle(ctl, peers):
    """Each peer has everything cokeeperd queued to it so far (see the module's text)."""
    for p in peers:
        deadline = time.monotonic() + HANG
        while queued(ctl, p.domid):
            p.pump()
            if time.monotonic() > deadline:
                raise Failure(f"domid {p.domid}: cokeeperd's queue to it never emptied "
                              "while it read")
            time.sleep(0.01)
        p.pump()


def wait_until(peers, cond):
    """Reads peers until cond() holds; False if it still does not after HANG seconds."""
    deadline = time.monotonic() + HANG
    while not cond():
        if time.monotonic() > deadline:
            return False
        for p in peers:
            p.pump()
        time.sleep(0.002)
    return True


def offers_and_closes(dst, channels, order=6, gref=1):
    """An Offer to dst on each channel, each closed at once (one may be pending per pair)."""
    return b"".join(fastpath_offer(dst, ch, order, gref) + fastpath_close(dst, ch)
                    for ch in channels)


def daemon_pid(control):
    """cokeeperd's pid: the peer of its control socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(control)
        pid, _, _ = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                     struct.calcsize("3i")))
    return pid


# ---- relay-reconnect ---------------------------------------------------------------------------

ROUNDS = 5  # sessions of the reconnecting domid: at 8 offers each, 5 times one allowance


def attack_reconnect(a):
    ctl = Control(a.control, timeout=HANG)
    src, dst = members(ctl, 2, "rc")
    victim = Peer(a.agent_socket, dst)
    ready()
    sent, answers = [], []
    t0 = time.monotonic()
    for r in range(ROUNDS):
        # A new session for each burst: what one session was allowed at once before.
        p = Peer(a.agent_socket, src)
        channels = [(r + 1) << 8 | k + 1 for k in range(BURST)]
        sent += channels
        p.send(offers_and_closes(dst, channels))
        p.sync()
        answers += [m["channel"] for m in p.refused(dst)]
        p.close()
        victim.pump()
        if time.monotonic() - t0 > a.seconds:
            break
    victim.sync()
    offers = victim.got("offer", src)
    delivered = {m["channel"] for m in offers}
    report(sent=len(sent), delivered=len(offers), answered=len(answers),
           unsaid=len(set(sent) - delivered - set(answers)),
           elapsed=round(max([m["t"] for m in offers], default=t0) - t0, 3),
           counters=fastpath_counters(ctl))


def after_reconnect(setup, r):
    if not r:
        return
    bound = BURST + RATE * r["elapsed"] + SLACK
    if r["delivered"] > bound:
        raise Failure(f"{r['delivered']} of {r['sent']} offers from one domid reconnecting "
                      f"after every burst reached the victim in {r['elapsed']:.2f} s; its "
                      f"allowance is {BURST} + {RATE:g}/s ({bound:.0f})")
    if r["unsaid"]:
        raise Failure(f"{r['unsaid']} of {r['sent']} offers were neither delivered nor "
                      "answered with a Close(UNREACHABLE)")


# ---- relay-queue-limit ---------------------------------------------------------------------

QUEUE_LIMIT = 65536
SENDERS = 4         # attacking domids, a session each
BURSTS = 3          # of 8 offers (each closed) per sender, INTERVAL apart: ~250 KB in all


def attack_queue_limit(a):
    ctl = Control(a.control, timeout=HANG)
    *srcs, dst = members(ctl, SENDERS + 1, "ql")
    victim = Peer(a.agent_socket, dst, rcvbuf=4096)     # and it never reads again
    senders = [Peer(a.agent_socket, d) for d in srcs]
    ready()
    samples = []
    sent = 0
    t0 = time.monotonic()
    for b in range(BURSTS):
        # Within each sender's allowance: a burst once the last one's interval is over
        # (and a little: the daemon's interval starts when it sees the first).
        time.sleep(max(0.0, t0 + b * INTERVAL * 1.1 - time.monotonic()))
        for k, p in enumerate(senders):
            channels = [(b + 1) << 16 | k << 8 | i + 1 for i in range(BURST)]
            data = offers_and_closes(dst, channels, CKFP_RING_ORDER_MAX, BIG)
            p.send(data)
            sent += len(data)
            p.pump()
            samples.append(queued(ctl, dst))
    for p in senders:
        p.sync()
        samples.append(queued(ctl, dst))
    snapshot = max(p.snapshot_bytes for p in senders + [victim])
    report(sent=sent, max_queued=max(samples), samples=len(samples),
           bound=QUEUE_LIMIT + snapshot, counters=fastpath_counters(ctl))


def after_queue_limit(setup, r):
    if not r:
        return
    if r["max_queued"] > r["bound"]:
        raise Failure(f"{r['max_queued']} bytes queued to a victim that never reads, with "
                      f"--queue-limit {QUEUE_LIMIT} (bound {r['bound']}: the limit and a "
                      f"snapshot); {r['sent']} bytes were relayed to it")
    if not r["counters"].get("fastpath_queue_full"):
        raise Failure(f"fastpath_queue_full {r['counters'].get('fastpath_queue_full')} after "
                      f"{r['sent']} bytes offered to a victim that never reads: the limit "
                      "was never met, the case proves nothing")


# ---- relay-memory --------------------------------------------------------------------------

MEM_LIMIT = 8 * MB      # --queue-limit
MEM_VICTIMS = 5
MEM_VICTIMS_ASAN = 2    # ASan's allocator doubles what the fill costs: the suite's bound holds
MEM_FILL = 7 * MB       # each victim's queue is filled to this, under the limit: 35 MiB in all
MEM_RETURN = 16         # MB of RSS over the start that may stay once the queues are gone
MEM_BATCH = 128         # offers (each closed) per write, ~330 KB


def attack_memory(a):
    ctl = Control(a.control, timeout=HANG)
    src, *dsts = members(ctl, MEM_VICTIMS + 1, "mem")
    pid = daemon_pid(a.control)
    # ASan's allocator is not glibc's: malloc_trim() returns nothing of it, and freed
    # blocks wait in its quarantine.  Under ASan a smaller fill and the drop run, unjudged.
    asan = has_asan(f"/proc/{pid}/exe")
    victims = [Peer(a.agent_socket, d, rcvbuf=4096)
               for d in dsts[:MEM_VICTIMS_ASAN if asan else MEM_VICTIMS]]
    sender = Peer(a.agent_socket, src)
    start = status_kb(pid, "VmRSS")
    ready()
    ch = 0

    def batch(dst, n):
        """n offers (each closed) to dst, handled; the bytes sent."""
        nonlocal ch
        data = offers_and_closes(dst, range(ch + 1, ch + n + 1), CKFP_RING_ORDER_MAX, BIG)
        sender.send(data)
        ch += n
        sender.sync()
        return len(data)

    # Fill every victim's queue to MEM_FILL, under the limit: nothing is refused yet.
    filled = []
    deadline = time.monotonic() + 6 * HANG
    for v in victims:
        while queued(ctl, v.domid) < MEM_FILL:
            if time.monotonic() > deadline:
                raise Failure(f"the victims' queues were not filled within {6 * HANG:.0f} s:"
                              f" {[queued(ctl, v.domid) for v in victims]} bytes")
            batch(v.domid, MEM_BATCH)
        filled.append(queued(ctl, v.domid))
    hwm = status_kb(pid, "VmHWM")
    # Past the limit: the daemon drops the queue when a relay would pass it (and answers
    # the sender), or, one that let it pass, at the next membership change.
    for v in victims:
        pushed = 0
        while not sender.refused(v.domid) and pushed < MEM_LIMIT - MEM_FILL + MB:
            pushed += batch(v.domid, 16)
    ctl.call(cmd="sim-create", name="mem-change", ip=["10.89.0.1"])
    ctl.call(cmd="sim-destroy", name="mem-change")
    deadline = time.monotonic() + HANG
    while any(queued(ctl, v.domid) > MB for v in victims):
        if time.monotonic() > deadline:
            raise Failure("the victims' queues were not dropped past the limit: "
                          f"{[queued(ctl, v.domid) for v in victims]} bytes")
        time.sleep(0.01)
    # Memory given back is not always given back at once: the lowest RSS within HANG.
    after = status_kb(pid, "VmRSS")
    deadline = time.monotonic() + HANG
    while not asan and after - start > MEM_RETURN * 1024 and time.monotonic() < deadline:
        time.sleep(0.05)
        after = min(after, status_kb(pid, "VmRSS"))
    report(filled_mb=round(sum(filled) / MB, 1), start_mb=start // 1024, hwm_mb=hwm // 1024,
           after_mb=after // 1024, return_judged=not asan, counters=fastpath_counters(ctl))


def after_memory(setup, r):
    if not r:
        return
    grown = r["hwm_mb"] - r["start_mb"]
    if r["return_judged"] and grown < 2 * MEM_RETURN:
        raise Failure(f"RSS grew by {grown} MB only while {r['filled_mb']} MB were queued: "
                      f"not the {2 * MEM_RETURN} MB the case needs to prove anything")
    kept = r["after_mb"] - r["start_mb"]
    if r["return_judged"] and kept > MEM_RETURN:
        raise Failure(f"RSS {r['after_mb']} MB after the victims' queues were dropped: "
                      f"{kept} MB over the start ({r['start_mb']} MB; {r['hwm_mb']} MB at the "
                      f"peak), bound {MEM_RETURN} MB")


# ---- relay-answers -------------------------------------------------------------------------

OFFERERS = 4        # attacking domids below the victim, a session each
ANSWER_ROUNDS = 4   # of one offer from each, which the victim accepts


def attack_answers(a):
    ctl = Control(a.control, timeout=HANG)
    ds = members(ctl, OFFERERS + 4, "an")
    offerers = [Peer(a.agent_socket, d) for d in ds[:OFFERERS]]
    victim = Peer(a.agent_socket, ds[OFFERERS])
    peers = [Peer(a.agent_socket, d) for d in ds[OFFERERS + 1:]]
    ready()
    said = []       # (kind, destination, channel) of everything the victim sent
    for r in range(ANSWER_ROUNDS):
        round_ = [(p, (r + 1) << 8 | j + 1) for j, p in enumerate(offerers)]
        for p, ch in round_:
            p.send(fastpath_offer(victim.domid, ch))
        # Each offer reaches the victim or is refused to its sender (a hang guard only).
        if not wait_until(offerers + [victim], lambda: all(
                victim.got("offer", p.domid, ch) or p.refused(victim.domid, ch)
                for p, ch in round_)):
            break
        got = [(p, ch) for p, ch in round_ if victim.got("offer", p.domid, ch)]
        if not got:
            break
        # The victim accepts, as its module would; the next offers wait for the accepts.
        victim.send(b"".join(fastpath_accept(p.domid, ch) for p, ch in got))
        said += [("accept", p.domid, ch) for p, ch in got]
        if not wait_until(offerers + [victim], lambda: all(
                p.got("accept", victim.domid, ch) or victim.refused(p.domid, ch)
                for p, ch in got)):
            break
    # The victim's own offers, one to each higher peer, right after its answers.
    own = [(p, 0x7000 + i) for i, p in enumerate(peers)]
    victim.send(b"".join(fastpath_offer(p.domid, ch) for p, ch in own))
    said += [("offer", p.domid, ch) for p, ch in own]
    victim.sync()
    settle(ctl, offerers + peers)
    by_domid = {p.domid: p for p in offerers + peers}
    unsaid = [f"{kind} to {dst} on {ch:#x}" for kind, dst, ch in said
              if not by_domid[dst].got(kind, victim.domid, ch)
              and not victim.refused(dst, ch)]
    answers = [x for x in said if x[0] == "accept"]
    report(answers=len(answers),
           answers_refused=sum(bool(victim.refused(d, ch)) for _, d, ch in answers),
           own_delivered=sum(bool(p.got("offer", victim.domid, ch)) for p, ch in own),
           own=len(own), unsaid=unsaid, counters=fastpath_counters(ctl))


def after_answers(setup, r):
    if not r:
        return
    if r["own_delivered"] < r["own"]:
        raise Failure(f"{r['own_delivered']} of the victim's {r['own']} own offers were "
                      f"delivered after it accepted {r['answers']} offers")
    if r["unsaid"]:
        raise Failure(f"{len(r['unsaid'])} of the victim's messages were neither delivered "
                      f"nor answered with a Close(UNREACHABLE): {', '.join(r['unsaid'][:4])}")
    if r["answers"] <= BURST:
        raise Failure(f"the victim answered {r['answers']} offers only, within one burst of "
                      "answers: the case proves nothing")


# ---- relay-pending -------------------------------------------------------------------------

PEERS = MAX_PENDING + 1
REPEATS = 6         # offers to the first peer, which never answers
NEVER = 0xDEAD0001  # a channel never offered


def attack_pending(a):
    ctl = Control(a.control, timeout=HANG)
    src, *ds = members(ctl, PEERS + 1, "pd")
    offerer = Peer(a.agent_socket, src)
    peers = [Peer(a.agent_socket, d) for d in ds]
    first, last = peers[0], peers[-1]
    ready()
    # Offers to a peer that never answers; then one to each of the others.
    sent = [(first, 0x100 + k) for k in range(REPEATS)]
    sent += [(p, 0x200 + i) for i, p in enumerate(peers[1:])]
    offerer.send(b"".join(fastpath_offer(p.domid, ch) for p, ch in sent))
    offerer.sync()
    settle(ctl, peers)
    to_first = first.got("offer", src)
    delivered = [(p, ch) for p, ch in sent if p.got("offer", src, ch)]
    unsaid = [f"offer to {p.domid} on {ch:#x}" for p, ch in sent
              if not p.got("offer", src, ch) and not offerer.refused(p.domid, ch)]
    # Accepts: of the pending offer (relayed), of a refused one and of one never made (not).
    pending = to_first[0]["channel"] if to_first else None
    refused = next((ch for p, ch in sent if p is first and ch != pending), None)
    if pending is not None:
        first.send(fastpath_accept(src, pending))
    first.send(fastpath_accept(src, refused))
    last.send(fastpath_accept(src, NEVER))
    first.sync()
    last.sync()
    settle(ctl, [offerer])
    unsolicited = [(first, refused), (last, NEVER)]
    report(to_first=len(to_first), delivered=len(delivered), sent=len(sent), unsaid=unsaid,
           solicited=pending is not None and bool(offerer.got("accept", first.domid, pending)),
           unsolicited_delivered=[f"{ch:#x} from {p.domid}" for p, ch in unsolicited
                                  if offerer.got("accept", p.domid, ch)],
           unsolicited_unanswered=[f"{ch:#x} from {p.domid}" for p, ch in unsolicited
                                   if not p.refused(src, ch)],
           counters=fastpath_counters(ctl))


def after_pending(setup, r):
    if not r:
        return
    problems = []
    if r["to_first"] > 1:
        problems.append(f"a peer that never answers was delivered {r['to_first']} of "
                        f"{REPEATS} offers from one offerer (one may be pending)")
    if r["delivered"] > MAX_PENDING:
        problems.append(f"{r['delivered']} offers to {PEERS} peers that never answer were "
                        f"delivered (--fastpath-max-pending {MAX_PENDING})")
    if r["unsaid"]:
        problems.append(f"{len(r['unsaid'])} offers were neither delivered nor answered "
                        f"with a Close(UNREACHABLE): {', '.join(r['unsaid'][:3])}")
    if r["unsolicited_delivered"]:
        problems.append("Accepts of no pending offer were relayed: "
                        + ", ".join(r["unsolicited_delivered"]))
    if r["unsolicited_unanswered"]:
        problems.append("Accepts of no pending offer were not answered with a "
                        "Close(UNREACHABLE): " + ", ".join(r["unsolicited_unanswered"]))
    if r["to_first"] < 1:
        problems.append("the first offer to a peer was not delivered: the case proves "
                        "nothing")
    elif not r["solicited"]:
        problems.append("the Accept of a pending offer was not relayed")
    if problems:
        raise Failure("; ".join(problems))


ATTACKS = {
    "relay-reconnect": attack_reconnect,
    "relay-queue-limit": attack_queue_limit,
    "relay-memory": attack_memory,
    "relay-answers": attack_answers,
    "relay-pending": attack_pending,
}
CASES = {
    "relay-reconnect": dict(after=after_reconnect),
    "relay-queue-limit": dict(args=("--queue-limit", str(QUEUE_LIMIT)),
                              after=after_queue_limit),
    "relay-memory": dict(args=("--queue-limit", str(MEM_LIMIT),
                               "--fastpath-budget", "100000/1"), after=after_memory),
    "relay-answers": dict(after=after_answers),
    "relay-pending": dict(args=("--fastpath-offer-timeout", "3600",
                                "--fastpath-budget", "100000/1"), after=after_pending),
}
TITLES = {
    "relay-reconnect": "a domid reconnecting after every burst gets one relay allowance",
    "relay-queue-limit": "what is relayed to a guest that never reads counts against "
                         "--queue-limit",
    "relay-memory": f"{MEM_VICTIMS} full queues dropped: RSS returns within {MEM_RETURN} MB",
    "relay-answers": "answers spend no offer allowance; nothing is dropped unsaid",
    "relay-pending": "one pending offer per pair, at most 8 per offerer, no unsolicited "
                     "Accept",
}
