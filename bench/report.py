#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py CSV [CSV...] - the ratios that matter, from one run of bench/run.sh
(its results.csv, and growth.csv when bench/growth.sh ran).

Reads the CSV of bench/run.sh (every figure: median, min, max over the
runs) and prints, in markdown:

  1. libfutures' modes side by side: sequential, pool, loop (W1, W2, W3, W6)
  2. libfutures against Python (ThreadPoolExecutor, asyncio) per workload
  3. libfutures against each peer (GLib, oneTBB, libuv, Boost.Fiber), when
     the run had PEERS=1
  4. the targets (doc/benchmarks.md): the measured ratio and met / MISSED
  5. how cost grows with N (W1-scale, W5-timers): flat, falls, or BENDS UP

A ratio is taken between medians of the same run; "x" columns read "how
many times the first" (e.g. Python / libfutures = 40x: Python's figure is
40 times libfutures').  Python 3 standard library only.

    python3 bench/report.py build/bench/results.csv [> report.md]
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcsv import Results  # noqa: E402

CORES = os.cpu_count() or 1


def fmt(v, unit=""):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        s = f"{v:,.0f}"
    elif a >= 10:
        s = f"{v:.1f}"
    elif a >= 1:
        s = f"{v:.2f}"
    else:
        s = f"{v:.3f}"
    return s + (" " + unit if unit else "")


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fx(r):
    return "-" if r is None else (f"{r:.3g}x" if r < 100 else f"{r:,.0f}x")


class Report:
    def __init__(self, res):
        self.r = res
        self.out = []

    def p(self, s=""):
        self.out.append(s)

    def table(self, head, rows):
        rows = [r for r in rows if r is not None]
        if not rows:
            return
        self.p("| " + " | ".join(head) + " |")
        self.p("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            self.p("| " + " | ".join(r) + " |")
        self.p()

    def v(self, w, base, metric, n="main", threads=None):
        return self.r.value(w, base, metric, n=n, threads=threads)

    def get(self, spec):
        """spec: (workload, base, metric[, n[, threads]])."""
        w, base, metric = spec[:3]
        n = spec[3] if len(spec) > 3 else "main"
        t = spec[4] if len(spec) > 4 else None
        return self.v(w, base, metric, n=n, threads=t)

    def w3n(self):
        """The N of the W3 thread sweep (the sequential row's)."""
        row = self.r.find("W3", "sequential", "wall")
        return row.n if row else None

    # ---- 1 ---------------------------------------------------------------
    def modes(self):
        v = self.v
        self.p("### libfutures: sequential, pool, loop (same run)")
        self.p()
        rows = []
        s, pl, lp = v("W1", "sequential", "ns_per_task"), v("W1", "libfutures-pool", "ns_per_task"), \
            v("W1", "libfutures-loop", "ns_per_task")
        if s or pl or lp:
            rows.append(["W1 ns per trivial task", fmt(s), fmt(pl), fmt(lp),
                         f"pool {fx(ratio(pl, s))} and loop {fx(ratio(lp, s))} a plain call; "
                         f"loop / pool {fx(ratio(lp, pl))}"])
        pw = self.warm_total("libfutures-pool")
        lw = self.warm_total("libfutures-loop")
        if pw or lw:
            rows.append(["W1 warm, N = 10^6 (W1-scale)", "-", fmt(pw), fmt(lw),
                         f"loop / pool {fx(ratio(lw, pw))} (heap pages already touched)"])
        s2 = v("W2", "sequential", "us_per_job")
        p2, l2 = v("W2", "libfutures-pool", "speedup"), v("W2", "libfutures-loop", "speedup")
        if p2 or l2:
            rows.append(["W2 speedup (CPU work)", f"1 ({fmt(s2, 'us')}/job)", fmt(p2), fmt(l2),
                         f"the pool uses the {CORES} cores; the loop is one thread"])
        n3 = self.w3n()
        s3 = v("W3", "sequential", "wall", n=n3)
        p3 = v("W3", "libfutures-pool", "wall", n=n3, threads=CORES)
        l3 = v("W3", "libfutures-loop", "wall", n=n3)
        if s3:
            rows.append([f"W3 wall ms, N = {n3} waits of 10 ms", fmt(s3), fmt(p3), fmt(l3),
                         f"speedup: pool ({CORES} threads) {fx(ratio(s3, p3))}, loop {fx(ratio(s3, l3))}"])
        y4, u4 = v("W4", "libfutures-yield", "ns_per_switch"), v("W4", "libfutures-yield-ucontext", "ns_per_switch")
        if y4 and u4:
            rows.append(["W4 ns per fut_yield switch", "-", "-", f"{fmt(y4)} (asm)",
                         f"CORO=ucontext build: {fmt(u4)} ns, {fx(ratio(u4, y4))} (a syscall per switch)"])
        p6, l6 = v("W6", "libfutures-pool", "median_rtt"), v("W6", "libfutures-loop", "median_rtt")
        if p6 or l6:
            rows.append(["W6 round trip median us", "-", fmt(p6), fmt(l6),
                         "pool: to another thread and back; loop: two switches on one thread"])
        self.table(["workload", "sequential", "pool", "loop", "reading"], rows)

    def warm_total(self, base, n=1000000):
        row = self.r.find("W1-scale", f"{base}", "ns_per_task", n=n)
        if row is None:
            ser = self.r.series("W1-scale", base, "ns_per_task")
            return ser[-1][1].median if ser else None
        return row.median

    # ---- 2 ---------------------------------------------------------------
    def python(self):
        v = self.v
        n3 = self.w3n()
        pairs = [
            ("W1", "ns per task", ("W1", "libfutures-pool", "ns_per_task"),
             ("W1", "py-ThreadPoolExecutor", "ns_per_task"), "pool vs ThreadPoolExecutor"),
            ("W1", "ns per task", ("W1", "libfutures-loop", "ns_per_task"),
             ("W1", "py-asyncio", "ns_per_task"), "loop vs asyncio tasks"),
            ("W1", "ns per call", ("W1", "sequential", "ns_per_task"),
             ("W1", "py-sequential", "ns_per_task"), "a plain call, C vs Python"),
            ("W2", "speedup", ("W2", "libfutures-pool", "speedup"),
             ("W2", "py-ThreadPoolExecutor", "speedup"), "pool vs ThreadPoolExecutor (GIL)"),
            ("W2", "speedup", ("W2", "libfutures-loop", "speedup"),
             ("W2", "py-asyncio", "speedup"), "loop vs asyncio"),
            ("W3", f"wall ms (N={n3})", ("W3", "libfutures-pool", "wall", n3, CORES),
             ("W3", "py-ThreadPoolExecutor", "wall", n3, CORES), f"pool vs TPE, {CORES} threads"),
            ("W3", "wall ms (N=1000)", ("W3", "libfutures-loop", "wall", None),
             ("W3", "py-asyncio", "wall", None), "loop vs asyncio.sleep"),
            ("W3", f"wall ms (N={n3})", ("W3", "libfutures-loop", "wall", n3),
             ("W3", "py-asyncio", "wall", n3), "loop vs asyncio.sleep"),
            ("W4", "ns per switch", ("W4", "libfutures-yield", "ns_per_switch"),
             ("W4", "py-asyncio-sleep0", "ns_per_switch"), "fut_yield vs await sleep(0)"),
            ("W4", "ns per switch", ("W4", "libfutures-yield", "ns_per_switch"),
             ("W4", "py-generator-send", "ns_per_switch"), "fut_yield vs generator send"),
            ("W5", "wall ms", ("W5", "libfutures-loop", "wall"), ("W5", "py-asyncio", "wall"),
             "100,000 sleeping coroutines vs tasks"),
            ("W5", "bytes per task", ("W5", "libfutures-loop", "bytes_per_task"),
             ("W5", "py-asyncio", "bytes_per_task"), "a stackful coroutine vs an asyncio task"),
            ("W6", "median us", ("W6", "libfutures-pool", "median_rtt"),
             ("W6", "py-ThreadPoolExecutor", "median_rtt"), "submit + result()"),
            ("W6", "p99 us", ("W6", "libfutures-pool", "p99_rtt"),
             ("W6", "py-ThreadPoolExecutor", "p99_rtt"), "submit + result()"),
            ("W6", "median us", ("W6", "libfutures-loop", "median_rtt"),
             ("W6", "py-asyncio", "median_rtt"), "spawn + get vs await create_task"),
        ]
        rows = []
        for w, what, a, b, note in pairs:
            va, vb = self.get(a), self.get(b)
            if va is None or vb is None:
                continue
            rows.append([w, what, fmt(va), fmt(vb), fx(ratio(vb, va)), note])
        if rows:
            self.p("### libfutures against Python 3 (standard library), same run")
            self.p()
            self.p("Python / libfutures: how many times libfutures' figure Python's is "
                   "(for a speedup, above 1x means Python's is larger).")
            self.p()
            self.table(["workload", "metric", "libfutures", "Python", "Python / libfutures", "what"], rows)

    # ---- 3 ---------------------------------------------------------------
    def peers(self):
        v = self.v
        n3 = self.w3n()
        rows = []

        def add(w, what, a, b, note=""):
            va, vb = self.get(a), self.get(b)
            if va is None or vb is None:
                return
            rows.append([w, what, a[1], fmt(va), b[1], fmt(vb), fx(ratio(va, vb)), note])

        for peer in ("tbb-task_group", "glib-GThreadPool"):
            add("W1", "ns/task", ("W1", "libfutures-pool", "ns_per_task"), ("W1", peer, "ns_per_task"),
                "one cold round, N = 10^6")
        for peer in ("tbb-task_group", "glib-GThreadPool"):
            a = self.warm_total("libfutures-pool")
            b = self.warm_total(peer)
            if a is not None and b is not None:
                rows.append(["W1-scale", "ns/task warm", "libfutures-pool", fmt(a), peer, fmt(b),
                             fx(ratio(a, b)), "median of warm rounds, largest N"])
        a = self.warm_total("libfutures-loop", n=100000)
        b = self.warm_total("boost-fiber-async", n=100000)
        if a is not None and b is not None:
            rows.append(["W1-scale", "ns/task warm", "libfutures-loop", fmt(a), "boost-fiber-async",
                         fmt(b), fx(ratio(a, b)), "spawn + run + gather, N = 10^5"])
        for peer in ("tbb-task_group", "glib-GThreadPool"):
            add("W2", "speedup", ("W2", "libfutures-pool", "speedup"), ("W2", peer, "speedup"))
        add("W3", f"wall ms N={n3}", ("W3", "libfutures-pool", "wall", n3, CORES),
            ("W3", "glib-GThreadPool", "wall", n3, CORES))
        for n in (None, n3):
            for peer in ("libuv-timer", "boost-fiber"):
                add("W3", f"wall ms N={n or 1000}", ("W3", "libfutures-loop", "wall", n), ("W3", peer, "wall", n))
        for peer in ("boost-fiber-yield", "boost-context-fiber"):
            add("W4", "ns/switch", ("W4", "libfutures-yield", "ns_per_switch"), ("W4", peer, "ns_per_switch"),
                "raw switch: the floor" if "context" in peer else "")
        for peer in ("boost-fiber-16KiBstack", "libuv-timer"):
            add("W5", "wall ms", ("W5", "libfutures-loop", "wall"), ("W5", peer, "wall"))
            add("W5", "bytes/task", ("W5", "libfutures-loop", "bytes_per_task"), ("W5", peer, "bytes_per_task"),
                "stackless" if "uv" in peer else "")
        for peer in ("glib-GThreadPool+condfuture", "tbb-arena-enqueue+future", "tbb-task_group-wait"):
            note = "runs inline in wait(): not a round trip" if "wait" in peer else ""
            add("W6", "median us", ("W6", "libfutures-pool", "median_rtt"), ("W6", peer, "median_rtt"), note)
            add("W6", "p99 us", ("W6", "libfutures-pool", "p99_rtt"), ("W6", peer, "p99_rtt"), note)
        if rows:
            self.p("### libfutures against each peer (PEERS=1), same run")
            self.p()
            self.table(["workload", "metric", "libfutures", "value", "peer", "value", "libfutures / peer",
                        "note"], rows)

    # ---- 4 ---------------------------------------------------------------
    def targets(self):
        v = self.v
        rows = []

        def fx(r):   # targets: enough digits to see which side of the line
            return "-" if r is None else (f"{r:.3f}x" if r < 10 else f"{r:.1f}x")

        def verdict(ok):
            return "-" if ok is None else ("met" if ok else "**MISSED**")

        def best(w, bases, metric, lower=True):
            vals = [(v(w, b, metric), b) for b in bases]
            vals = [x for x in vals if x[0] is not None]
            if not vals:
                return None, None
            return (min if lower else max)(vals)

        lf = v("W1", "libfutures-pool", "ns_per_task")
        bv, bn = best("W1", ["tbb-task_group", "glib-GThreadPool"], "ns_per_task")
        r = ratio(lf, bv)
        rows.append(["W1", "ns/task <= 0.8x best peer", f"{fmt(lf)} vs {bn or '-'} {fmt(bv)}", fx(r),
                     verdict(None if r is None else r <= 0.8)])
        lw = self.warm_total("libfutures-pool")
        bw = [(self.warm_total(p), p) for p in ("tbb-task_group", "glib-GThreadPool")]
        bw = [x for x in bw if x[0] is not None]
        if lw is not None and bw:
            b = min(bw)
            r = ratio(lw, b[0])
            rows.append(["W1 (warm)", "same, warm rounds (W1-scale, largest N)", f"{fmt(lw)} vs {b[1]} {fmt(b[0])}",
                         fx(r), verdict(r <= 0.8) + " (not the target's own figure)"])
        ser = self.r.series("W1-scale", "libfutures-pool", "ns_per_task")
        if ser:
            vals = [row.median for _, row in ser]
            r = max(vals) / min(vals)
            how = ""
            if r > 1.5:
                how = (" (it falls as N grows: a fixed cost per fan-out; no growth)"
                       if vals.index(max(vals)) < vals.index(min(vals)) else " (it grows with N)")
            rows.append(["W1", "flat within 1.5x, N = 10^2..10^6 (warm)",
                         ", ".join(f"{fmt(x)}" for x in vals) + " ns", fx(r), verdict(r <= 1.5) + how])
        sp = v("W2", "libfutures-pool", "speedup")
        goal = 1.95 if CORES == 2 else 0.9 * CORES
        rows.append(["W2", f"speedup >= {goal:.3g} on {CORES} cores", fmt(sp), fx(ratio(sp, goal)),
                     verdict(None if sp is None else sp >= goal)])
        lw3, uv3 = v("W3", "libfutures-loop", "wall", n=None), v("W3", "libuv-timer", "wall", n=None)
        r = ratio(lw3, uv3)
        rows.append(["W3 loop", "wall <= 1.1x libuv timers (N = 1000)", f"{fmt(lw3)} vs {fmt(uv3)} ms", fx(r),
                     verdict(None if r is None else r <= 1.1)])
        pw3 = v("W3", "libfutures-pool", "wall", n=None, threads=2)
        ideal = 1000 * 10 / 2
        r = ratio(pw3, ideal)
        rows.append(["W3 pool", "wall <= 1.02x N x 10 ms / T (N = 1000, T = 2)", f"{fmt(pw3)} vs {fmt(ideal)} ms",
                     fx(r), verdict(None if r is None else r <= 1.02)])
        n3 = self.w3n()
        for t in (1, 2, 4, 8):
            row = self.r.find("W3", "libfutures-pool", "wall", n=n3, threads=t)
            if row is None or n3 is None:
                continue
            ideal = n3 * 10 / t
            r = row.median / ideal
            rows.append(["W3 pool", f"T = {t}: wall <= 1.02x {n3} x 10 ms / {t}", f"{fmt(row.median)} vs "
                         f"{fmt(ideal)} ms", fx(r), verdict(r <= 1.02)])
        seq3 = self.r.find("W3", "sequential", "wall")
        if seq3 is not None:
            for t in (1, 2, 4, 8):
                row = self.r.find("W3", "libfutures-pool", "wall", n=n3, threads=t)
                if row is None:
                    continue
                r = row.median * t / seq3.median
                rows.append(["W3 pool", f"T = {t}: against the measured waits (sequential / T)",
                             f"{fmt(row.median)} vs {fmt(seq3.median / t)} ms", fx(r),
                             "the pool's own share: " + ("none measurable" if r <= 1.005 else f"{(r - 1) * 100:.1f} %")])
        y, bf = v("W4", "libfutures-yield", "ns_per_switch"), v("W4", "boost-fiber-yield", "ns_per_switch")
        r = ratio(y, bf)
        rows.append(["W4", "ns/switch <= 0.33x Boost.Fiber yield", f"{fmt(y)} vs {fmt(bf)} ns", fx(r),
                     verdict(None if r is None else r <= 0.33)])
        for metric, what in (("wall", "wall"), ("bytes_per_task", "bytes per coroutine")):
            a, b = v("W5", "libfutures-loop", metric), v("W5", "boost-fiber-16KiBstack", metric)
            r = ratio(a, b)
            rows.append(["W5", f"{what} <= 0.5x Boost.Fiber", f"{fmt(a)} vs {fmt(b)}", fx(r),
                         verdict(None if r is None else r <= 0.5)])
        ran = self.r.find("W5", "libfutures-loop", "wall", n=None)
        rows.append(["W5", "runs at N = 100,000 (default vm.max_map_count)",
                     "ran" if ran else "not run at 100,000", "-", verdict(True if ran else None)])
        bases6 = ["glib-GThreadPool+condfuture", "tbb-arena-enqueue+future"]
        for metric, k, what in (("median_rtt", 0.8, "median <= 0.8x best peer's median"),
                                ("p99_rtt", 1.0, "p99 <= best peer's p99")):
            a = v("W6", "libfutures-pool", metric)
            bv, bn = best("W6", bases6, metric)
            r = ratio(a, bv)
            rows.append(["W6", what, f"{fmt(a)} vs {bn or '-'} {fmt(bv)} us", fx(r),
                         verdict(None if r is None else r <= k)])
        self.p("### The targets of doc/benchmarks.md (this run)")
        self.p()
        self.p("\"-\": not measured in this run (the peers' rows need PEERS=1).")
        self.p()
        self.table(["id", "target", "measured", "ratio", "verdict"], rows)

    # ---- 5 ---------------------------------------------------------------
    def growth(self):
        series = []
        for base, metrics in (("libfutures-pool", ["submit_ns_per_task", "wait_ns_per_task",
                                                   "release_ns_per_task", "ns_per_task", "cold_ns_per_task"]),
                              ("libfutures-loop", ["spawn_ns_per_task", "wait_ns_per_task",
                                                   "release_ns_per_task", "ns_per_task", "cold_ns_per_task"]),
                              ("tbb-task_group", ["ns_per_task"]), ("glib-GThreadPool", ["ns_per_task"]),
                              ("boost-fiber-async", ["ns_per_task"]),
                              ("py-ThreadPoolExecutor", ["ns_per_task"]), ("py-asyncio", ["ns_per_task"])):
            for m in metrics:
                s = self.r.series("W1-scale", base, m)
                if s:
                    series.append(("W1-scale", base, m, s, "flat"))
        for base in ("libfutures-pool", "libfutures-loop"):
            s = self.r.series("W1-scale", base, "instr_per_task")
            if s:
                series.append(("W1-scale", base, "instr_per_task", s, "flat"))
        for m in ("instr_per_timer", "instr_per_sleep", "instr_per_yield"):
            s = self.r.series("W5-timers", "libfutures-loop", m)
            if s:
                series.append(("W5-timers", "libfutures-loop", m, s, "log" if m != "instr_per_yield" else "flat"))
        s = self.r.series("W1", "libfutures-pool-warm", "ns_per_task")
        if s:
            series.append(("W1", "libfutures-pool-warm", "ns_per_task", s, "flat"))
        for base, metrics in (("libfutures-loop", ["ns_per_timer", "cpu_ns_per_sleep", "cpu_ns_per_yield"]),
                              ("libuv-timer", ["cpu_ns_per_sleep"]),
                              ("boost-fiber", ["ns_per_timer", "cpu_ns_per_sleep", "cpu_ns_per_yield"]),
                              ("py-asyncio", ["ns_per_timer", "cpu_ns_per_sleep", "cpu_ns_per_yield"])):
            for m in metrics:
                s = self.r.series("W5-timers", base, m)
                if s:
                    series.append(("W5-timers", base, m, s, "log" if m != "cpu_ns_per_yield" else "flat"))
        if not series:
            return
        ns = sorted({n for *_, s, _k in series for n, _ in s})
        self.p("### How cost grows with N (medians; ns per task or per timer, instr_* in instructions)")
        self.p()
        self.p("Verdict: *flat* when every point is within 1.5x of the smallest; *falls* when the cost "
               "only goes down (a fixed cost per batch spread over more tasks); *O(log n)* when the "
               "rise from the first N to the last is within the ratio of their logarithms; "
               "**BENDS UP** otherwise.")
        self.p()
        rows = []
        for w, base, m, s, kind in series:
            byn = {n: row.median for n, row in s}
            vals = [byn[n] for n in sorted(byn)]
            rows.append([w, base, m] + [fmt(byn.get(n)) for n in ns] + [self.shape(sorted(byn.items()), kind)])
        self.table(["workload", "series", "metric"] + [f"N={n:.0e}".replace("+0", "") for n in ns] + ["verdict"], rows)

    @staticmethod
    def shape(points, kind):
        vals = [v for _, v in points]
        if len(vals) < 2 or min(vals) <= 0:
            return "-"
        lo = min(vals)
        if max(vals) / lo <= 1.5 or max(vals) - lo < 10:
            return "flat" if max(vals) / lo <= 1.5 else "flat (within 10 ns)"
        # after the minimum, does it climb more than 1.5x?
        imin = vals.index(lo)
        rise = max(vals[imin:]) / lo
        if rise <= 1.5 or max(vals[imin:]) - lo < 10:
            return "falls, then flat" if vals[0] > 1.5 * lo else "flat"
        if kind == "log":
            n0, n1 = points[imin][0], points[-1][0]
            allowed = math.log(n1) / math.log(max(n0, 2))
            if vals[-1] / lo <= allowed:
                return f"O(log n): x{vals[-1] / lo:.2f} <= x{allowed:.2f}"
        return f"**BENDS UP** x{rise:.2f} from its minimum"

    def run(self):
        self.p("## Ratios (medians of this run)")
        self.p()
        self.modes()
        self.python()
        self.peers()
        self.targets()
        self.growth()
        return "\n".join(self.out)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(Report(Results(sys.argv[1:])).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
