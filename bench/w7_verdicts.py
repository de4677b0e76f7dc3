#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""w7_verdicts.py RAW - BENCH.md's W7 targets, as ratios within one run of
the W7 harness (its raw.txt: lines "W7 PEER-C<C> metric value unit").

Medians over the rounds, per server and connection count C:

  one loop (libfutures)       msgs/s >= libuv's, >= go-P1's (GOMAXPROCS=1),
                              >= 5x asyncio's; p99 <= libuv's
  memory (C >= 1000)          KiB per connection <= go-P1's
  one loop per core           msgs/s >= Go with all cores (go-P<ncores>)
  (libfutures-loopsN)
  capacity                    the same targets on the server's CPU time per
                              echo (server CPU / msgs/s, per round): what
                              the server could serve if the load generator,
                              one thread on a shared 2-core machine, were not
                              the limit; lower is better

Each line gives the ratio of medians, the verdict (met / MISSED), and
"overlap" when the two servers' min-max ranges overlap (the harness's
README: on this VM, differences under ~30% are not established by 3
rounds).  Python 3 standard library only.
"""
import re
import statistics
import sys
from collections import defaultdict


def load(path):
    vals = defaultdict(list)          # (peer, C, metric) -> [values]
    for line in open(path):
        f = line.split()
        if len(f) < 5 or f[0] != "W7":
            continue
        m = re.match(r"(.+)-C(\d+)$", f[1])
        if m:
            vals[(m.group(1), int(m.group(2)), f[2])].append(float(f[3]))
    return vals


def main(path):
    v = load(path)
    conns = sorted({c for (_, c, _) in v})
    peers = {p for (p, _, _) in v}
    multi = sorted(p for p in peers if p.startswith("libfutures-loops"))
    gos = sorted(p for p in peers if re.match(r"go-P\d+$", p))
    go_all = gos[-1] if gos else None

    def stat(p, c, m):
        x = v.get((p, c, m))
        return (statistics.median(x), min(x), max(x)) if x else None

    def line(what, c, a, b, m, want_ge, factor=1.0):
        sa, sb = stat(a, c, m), stat(b, c, m)
        if not sa or not sb or sb[0] == 0:
            return None
        r = sa[0] / sb[0]
        ok = r >= factor if want_ge else r <= factor
        overlap = sa[1] <= sb[2] * factor and sb[1] * factor <= sa[2]
        goal = (">= " if want_ge else "<= ") + (f"{factor:g}x " if factor != 1 else "") + b
        return (f"| {c:,} | {what} | {a} / {b} = {r:.2f} | {goal} | "
                f"{'met' if ok else 'MISSED'}{' (overlap)' if overlap and factor == 1 else ''} |")

    def cpu_per_echo(p, c):
        cpu, rate = v.get((p, c, "server_cpu")), v.get((p, c, "msgs_per_s"))
        if not cpu or not rate or len(cpu) != len(rate):
            return None
        return statistics.median(a / b * 1e6 for a, b in zip(cpu, rate) if b)

    def capacity(c, other, factor):
        mine, theirs = cpu_per_echo("libfutures", c), cpu_per_echo(other, c)
        if not mine or not theirs:
            return None
        r = theirs / mine
        return (f"| {c:,} | CPU/echo | {other} / libfutures = {r:.2f} | "
                f">= {factor:g}x | {'met' if r >= factor else 'MISSED'} |")

    rows = []
    for c in conns:
        rows.append(line("msgs/s", c, "libfutures", "libuv", "msgs_per_s", True))
        rows.append(line("msgs/s", c, "libfutures", "go-P1", "msgs_per_s", True))
        rows.append(line("msgs/s", c, "libfutures", "asyncio", "msgs_per_s", True, 5.0))
        rows.append(line("p99", c, "libfutures", "libuv", "p99_rtt", False))
        if c >= 1000:
            rows.append(line("KiB/conn", c, "libfutures", "go-P1", "kib_per_conn", False))
        for mp in multi:
            if go_all:
                rows.append(line("msgs/s", c, mp, go_all, "msgs_per_s", True))
        rows.append(capacity(c, "libuv", 1.0))
        rows.append(capacity(c, "go-P1", 1.0))
        rows.append(capacity(c, "asyncio", 5.0))
    print("| C | figure | ratio of medians | target | verdict |")
    print("|---:|---|---|---|---|")
    for r in rows:
        if r:
            print(r)

    # The server's CPU time per echo (server_cpu cores / msgs per s, per
    # round, then the median): what a server costs, less sensitive than
    # msgs/s to how much of the machine the load generator got.
    order = ["libfutures"] + multi + ["libuv", "go-P1"] + \
        sorted(p for p in peers if p not in ["libfutures", "libuv", "go-P1"] + multi)
    print()
    print("Server CPU per echo (µs, median over the rounds):")
    print()
    print("| C | " + " | ".join(order) + " |")
    print("|---:|" + "---:|" * len(order))
    for c in conns:
        cells = []
        for p in order:
            cpu, rate = v.get((p, c, "server_cpu")), v.get((p, c, "msgs_per_s"))
            if cpu and rate and len(cpu) == len(rate):
                cells.append(f"{cpu_per_echo(p, c):.2f}")
            else:
                cells.append("-")
        print(f"| {c:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: w7_verdicts.py RAW")
    main(sys.argv[1])
