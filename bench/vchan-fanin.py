#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""vchan fan-in: instructions per Ack when N vchan streams all receive an Ack at once.

    bench/vchan-fanin.py --build build [--n 16,64,256,1024] [--rounds 4] [--old 0879d42]

Runs BUILD/bench/vchan-fanin (bench/vchan-fanin.c: N streams of stream/stream-vchan.c over
bench/fake-vchan.c's in-memory rings and eventfd event channels, one sd-event loop) under
valgrind --tool=callgrind --collect-atstart=no: the program counts only its loop runs, ROUNDS
times N Acks after an unmeasured round.  Three ways per N:

  poll set     this tree, the daemon's way: every stream in one poll set (stream/poll-set.c)
  own sources  this tree, the agent's way: each stream an sd-event source of its own
  OLD          OLD's stream/stream-vchan.c (git show OLD:stream/stream-vchan.c), built here
               with the same bench, fake and flags: each stream its own source, as the daemon
               had it before issue 19

and prints instructions per Ack and sd-event loop iterations per round (how many dispatches
the N Acks took).  callgrind counts the same on a loaded machine; no wall-clock time is taken.
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_old(build, commit, tmp):
    """The bench linked with commit's stream-vchan.c instead of this tree's."""
    old = os.path.join(tmp, "stream-vchan-old.c")
    with open(old, "w") as f:
        f.write(subprocess.run(["git", "-C", SRC, "show", f"{commit}:stream/stream-vchan.c"],
                               check=True, capture_output=True, text=True).stdout)
    exe = os.path.join(tmp, "vchan-fanin-old")
    cflags = subprocess.run(["pkg-config", "--cflags", "libsystemd", "xenvchan"], check=True,
                            capture_output=True, text=True).stdout.split()
    subprocess.run(["cc", "-std=gnu11", "-O2", "-g", "-D_GNU_SOURCE", "-Wall", "-Wextra",
                    "-Werror", "-Wno-unused-parameter", *cflags,
                    "-I", os.path.join(SRC, "stream"), "-I", os.path.join(SRC, "lib"),
                    "-I", os.path.join(SRC, "include", "uapi"),
                    os.path.join(SRC, "bench", "vchan-fanin.c"),
                    os.path.join(SRC, "bench", "fake-vchan.c"), old,
                    os.path.join(build, "stream", "libcokeeper-stream-poll.a"),
                    os.path.join(build, "lib", "libcokeeper.a"),
                    "-lsystemd", "-lprotobuf-c", "-ljson-c", "-luuid", "-o", exe], check=True)
    return exe


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def measure(exe, args, n, rounds, tmp):
    """(instructions per Ack, loop iterations per round)"""
    out = os.path.join(tmp, "callgrind.out")
    p = subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                        f"--callgrind-out-file={out}", exe, *args, str(n), str(rounds)],
                       capture_output=True, text=True, preexec_fn=raise_nofile)
    if p.returncode != 0:
        sys.exit(f"{exe} {' '.join(args)} {n}: exit {p.returncode}\n{p.stderr}")
    iterations = float(re.search(r"per round ([0-9.]+)", p.stdout).group(1))
    with open(out) as f:
        total = int(re.search(r"^(?:totals|summary): (\d+)", f.read(), re.M).group(1))
    os.unlink(out)
    return total / (n * rounds), iterations


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="the build directory (meson)")
    ap.add_argument("--n", default="16,64,256,1024", help="stream counts")
    ap.add_argument("--rounds", type=int, default=4, help="measured Acks per stream")
    ap.add_argument("--old", default="0879d42",
                    help="the commit whose stream-vchan.c to compare; '' for none")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    new = os.path.join(build, "bench", "vchan-fanin")
    with tempfile.TemporaryDirectory(prefix="ck-vchan-fanin-") as tmp:
        ways = [("poll set", new, []), ("own sources", new, ["--own-sources"])]
        if args.old:
            ways.append((args.old, build_old(build, args.old, tmp), ["--own-sources"]))
        print("instructions per Ack (loop iterations per round of N Acks)")
        print(f"{'N':>6}" + "".join(f"{name:>22}" for name, _, _ in ways))
        for n in [int(x) for x in args.n.split(",")]:
            cells = []
            for _, exe, extra in ways:
                per_ack, iterations = measure(exe, extra, n, args.rounds, tmp)
                cells.append(f"{per_ack:,.0f} ({iterations:,.0f})")
            print(f"{n:>6}" + "".join(f"{c:>22}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
