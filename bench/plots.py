#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""plots.py CSV [CSV...] OUTDIR - the benchmark plots, as SVG, from one run of
bench/run.sh (its CSV: every figure's median, min and max; growth.csv of
bench/growth.sh too when it ran).

  perf-w2-speedup.svg   W2 CPU work: speedup against threads (pool, TBB,
                        GLib, ThreadPoolExecutor; the loop and asyncio at 1)
  perf-w3-speedup.svg   W3 waiting work: speedup over the sequential waits
                        against threads (pools), and one thread cooperating
  perf-w1-cost.svg      W1 cost per task against N = 10^2..10^6, pool and
                        loop (warm rounds; the cold first round dotted)
  perf-timers.svg       CPU time per timer against the number of sleeping
                        coroutines (W5-timers)
  perf-growth-instr.svg instructions per task / per timer against N
                        (callgrind, bench/growth.sh): the algorithm's cost,
                        which the VM's noise and caches do not move
  perf-w4-switch.svg    W4 ns per switch (bars, log scale)
  perf-w5-memory.svg    W5 bytes per coroutine at N = 100,000 (bars)

Every point is the median over the runs; the whiskers span min..max.  A
plot whose rows are missing from the CSV (no PEERS=1, no Python) is drawn
with what there is.  In the style of tools/trace2svg (same palette, fonts);
Python 3 standard library only, no gnuplot needed.

    python3 bench/plots.py build/bench/results.csv doc/img
"""
import math
import os
import sys
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcsv import Results  # noqa: E402

CORES = os.cpu_count() or 1
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11"'

# one colour per library, the same in every plot (tools/trace2svg's palette)
COL = {
    "libfutures-pool": "#4e79a7", "libfutures-loop": "#f28e2b", "libfutures-yield": "#f28e2b",
    "tbb-task_group": "#59a14f", "glib-GThreadPool": "#e15759", "boost-fiber": "#b07aa1",
    "boost-fiber-async": "#b07aa1", "boost-fiber-yield": "#b07aa1", "boost-fiber-16KiBstack": "#b07aa1",
    "boost-context-fiber": "#d4a6c8", "libfutures-yield-ucontext": "#f5c08a", "libuv-timer": "#76b7b2", "py-ThreadPoolExecutor": "#edc948",
    "py-asyncio": "#9c755f", "py-asyncio-sleep0": "#9c755f", "py-generator-send": "#c9a98a",
    "sequential": "#7f7f7f", "ideal": "#aaaaaa",
}
NAME = {
    "libfutures-pool": "libfutures pool", "libfutures-loop": "libfutures loop",
    "libfutures-yield": "libfutures fut_yield", "tbb-task_group": "oneTBB task_group",
    "libfutures-yield-ucontext": "libfutures fut_yield, CORO=ucontext",
    "glib-GThreadPool": "GLib GThreadPool", "boost-fiber": "Boost.Fiber",
    "boost-fiber-async": "Boost.Fiber async", "boost-fiber-yield": "Boost.Fiber yield",
    "boost-fiber-16KiBstack": "Boost.Fiber (16 KiB stacks)",
    "boost-context-fiber": "Boost.Context resume (raw switch)", "libuv-timer": "libuv timers (stackless)",
    "py-ThreadPoolExecutor": "Python ThreadPoolExecutor", "py-asyncio": "Python asyncio",
    "py-asyncio-sleep0": "Python asyncio sleep(0)", "py-generator-send": "Python generator send",
    "sequential": "sequential",
}


def nice_step(span, target=6):
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt_tick(v):
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 and math.log10(a).is_integer():
        return f"10^{int(math.log10(a))}"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:g}"
    return f"{v:.3g}"


class Axis:
    def __init__(self, lo, hi, log, p0, p1):
        self.log = log
        if log:
            lo, hi = max(lo, 1e-9), max(hi, lo * 1.0001)
            self.lo, self.hi = 10 ** math.floor(math.log10(lo) + 1e-9), 10 ** math.ceil(math.log10(hi) - 1e-9)
            if self.hi <= self.lo:
                self.hi = self.lo * 10
        else:
            step = nice_step(hi - lo if hi > lo else abs(hi) or 1)
            self.lo = math.floor(lo / step) * step
            self.hi = math.ceil(hi / step) * step
            if self.hi <= self.lo:
                self.hi = self.lo + step
            self.step = step
        self.p0, self.p1 = p0, p1

    def __call__(self, v):
        if self.log:
            v = max(v, self.lo)
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.p0 + f * (self.p1 - self.p0)

    def ticks(self):
        if self.log:
            out = []
            e = round(math.log10(self.lo))
            decades = round(math.log10(self.hi)) - e
            while 10 ** e <= self.hi * 1.0001:
                out.append((10 ** e, True))
                if decades <= 2:
                    for m in (2, 5):
                        if m * 10 ** e < self.hi:
                            out.append((m * 10 ** e, False))
                e += 1
            return out
        out, v = [], self.lo
        while v <= self.hi + self.step / 1000:
            out.append((round(v, 10), True))
            v += self.step
        return out


class Svg:
    def __init__(self, w, h):
        self.w, self.h, self.s = w, h, []
        self.add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
                 f'viewBox="0 0 {w} {h}" {FONT}>')
        self.add(f'<rect width="{w}" height="{h}" fill="#ffffff"/>')

    def add(self, x):
        self.s.append(x)

    def text(self, x, y, t, anchor="start", **kw):
        extra = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in kw.items())
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(t)}</text>')

    def line(self, x1, y1, x2, y2, color="#333333", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                 f'stroke-width="{width}"{d}/>')

    def save(self, path):
        self.add("</svg>")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.s) + "\n")


def line_chart(path, title, subtitle, xlabel, ylabel, series, xlog=False, ylog=False, refs=(), points=(),
               xticks=None, notes=()):
    """series: [(key, label, [(x, y, lo, hi)], dash)]; refs: [(label, [(x, y)], color)] dashed
    guides; points: [(key, label, x, y, lo, hi)] lone markers with a label."""
    W, H = 760, 470
    L, R, T, B = 78, 262, 62, 58 + 14 * len(notes)
    ys = [y for _, _, pts, _ in series for _, y, lo, hi in pts for y in (y, lo, hi)]
    ys += [y for _, pts, _ in refs for _, y in pts] + [p[3] for p in points]
    xs = [x for _, _, pts, _ in series for x, *_ in pts] + [x for _, pts, _ in refs for x, _ in pts]
    xs += [p[2] for p in points]
    if not ys or not xs:
        return False
    ys = [y for y in ys if y is not None and (y > 0 or not ylog)]
    xa = Axis(min(xs), max(xs), xlog, L, W - R)
    ya = Axis(min(ys) if ylog else min(0, min(ys)), max(ys) * (1 if ylog else 1.08), ylog, H - B, T)
    g = Svg(W, H)
    g.text(12, 22, title, font_size="15", font_weight="bold")
    g.text(12, 40, subtitle, fill="#555555")
    for v, major in ya.ticks():
        y = ya(v)
        g.line(L, y, W - R, y, "#e4e4e4" if major else "#f2f2f2")
        if major or ya.log:
            g.text(L - 6, y + 4, fmt_tick(v), "end", fill="#333333" if major else "#999999")
    for v, major in (xticks or xa.ticks()) if not xticks else [(x, True) for x in xticks]:
        x = xa(v)
        g.line(x, T, x, H - B, "#f0f0f0")
        g.line(x, H - B, x, H - B + 4)
        g.text(x, H - B + 16, fmt_tick(v), "middle", fill="#333333" if major else "#999999")
    g.line(L, H - B, W - R, H - B)
    g.line(L, T, L, H - B)
    g.text((L + W - R) / 2, H - B + 34, xlabel, "middle", fill="#333333")
    g.add(f'<text transform="translate(16,{(T + H - B) / 2:.0f}) rotate(-90)" text-anchor="middle" '
          f'fill="#333333">{escape(ylabel)}</text>')
    for i, n in enumerate(notes):
        g.text(12, H - 12 - 14 * (len(notes) - 1 - i), n, fill="#666666", font_size="10")
    legend = []
    for label, pts, color in refs:
        d = " ".join(f"{xa(x):.1f},{ya(y):.1f}" for x, y in pts)
        g.add(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="1.2" stroke-dasharray="5,4"/>')
        legend.append((label, color, "5,4", False))
    for key, label, pts, dash in series:
        color = COL.get(key, "#333333")
        pts = sorted(pts)
        d = " ".join(f"{xa(x):.1f},{ya(y):.1f}" for x, y, _, _ in pts)
        da = f' stroke-dasharray="{dash}"' if dash else ""
        op = ' stroke-opacity="0.55"' if dash else ""
        g.add(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"{da}{op}/>')
        for x, y, lo, hi in pts:
            if lo is not None and hi is not None and hi > lo:
                g.line(xa(x), ya(lo), xa(x), ya(hi), color, 1)
            g.add(f'<circle cx="{xa(x):.1f}" cy="{ya(y):.1f}" r="{2.5 if dash else 3.2}" fill="{color}"/>')
        legend.append((label, color, dash, True))
    placed = []    # label y positions, pushed apart so that none overlap
    for key, label, x, y, lo, hi in sorted(points, key=lambda p: ya(p[3])):
        color = COL.get(key, "#333333")
        if lo is not None and hi is not None and hi > lo:
            g.line(xa(x), ya(lo), xa(x), ya(hi), color, 1)
        g.add(f'<rect x="{xa(x) - 4:.1f}" y="{ya(y) - 4:.1f}" width="8" height="8" fill="{color}" '
              f'transform="rotate(45 {xa(x):.1f} {ya(y):.1f})"/>')
        ty = ya(y) + 4
        while any(abs(ty - q) < 13 for q in placed):
            ty += 13
        placed.append(ty)
        g.text(xa(x) + 10, ty, label, fill=color)
    ly = T + 4
    for label, color, dash, marker in legend:
        da = f' stroke-dasharray="{dash}"' if dash else ""
        g.add(f'<line x1="{W - R + 14}" y1="{ly}" x2="{W - R + 40}" y2="{ly}" stroke="{color}" '
              f'stroke-width="2"{da}/>')
        if marker:
            g.add(f'<circle cx="{W - R + 27}" cy="{ly}" r="3" fill="{color}"/>')
        g.text(W - R + 46, ly + 4, label)
        ly += 18
    g.save(path)
    return True


def bar_chart(path, title, subtitle, xlabel, bars, xlog=False, notes=()):
    """bars: [(key, label, value, lo, hi, annotation)] drawn as horizontal bars."""
    bars = [b for b in bars if b[2] is not None]
    if not bars:
        return False
    W = 760
    L, R, T = 250, 150, 62
    H = T + 30 * len(bars) + 50 + 14 * len(notes)
    vals = [b[2] for b in bars] + [b[4] for b in bars if b[4] is not None]
    xa = Axis(min(b[2] for b in bars) / (3 if xlog else 1) if xlog else 0, max(vals) * (1 if xlog else 1.05),
              xlog, L, W - R)
    g = Svg(W, H)
    g.text(12, 22, title, font_size="15", font_weight="bold")
    g.text(12, 40, subtitle, fill="#555555")
    base = T + 30 * len(bars)
    for v, major in xa.ticks():
        x = xa(v)
        g.line(x, T - 4, x, base, "#e4e4e4" if major else "#f2f2f2")
        if major or (xa.log and (base - T) > 0):
            g.text(x, base + 16, fmt_tick(v), "middle", fill="#333333" if major else "#999999")
    g.line(L, base, W - R, base)
    g.text((L + W - R) / 2, base + 34, xlabel, "middle", fill="#333333")
    for i, n in enumerate(notes):
        g.text(12, H - 12 - 14 * (len(notes) - 1 - i), n, fill="#666666", font_size="10")
    for i, (key, label, v, lo, hi, ann) in enumerate(bars):
        y = T + 30 * i + 4
        color = COL.get(key, "#4e79a7")
        x0 = xa(xa.lo) if xa.log else xa(0)
        g.add(f'<rect x="{x0:.1f}" y="{y}" width="{max(xa(v) - x0, 1):.1f}" height="20" fill="{color}"/>')
        if lo is not None and hi is not None and hi > lo:
            g.line(xa(lo), y + 10, xa(hi), y + 10, "#333333", 1)
            g.line(xa(lo), y + 5, xa(lo), y + 15, "#333333", 1)
            g.line(xa(hi), y + 5, xa(hi), y + 15, "#333333", 1)
        g.text(L - 8, y + 14, label, "end")
        g.text(max(xa(v), xa(hi) if hi else 0) + 6, y + 14, ann, fill="#333333")
    g.save(path)
    return True


def pts_of(rows):
    return [(x, r.median, r.min, r.max) for x, r in rows]


def fmt_v(v, unit):
    if v >= 1000:
        return f"{v:,.0f} {unit}"
    if v >= 10:
        return f"{v:.1f} {unit}"
    return f"{v:.2f} {unit}"


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    res = Results(sys.argv[1:-1])
    out = sys.argv[-1]
    os.makedirs(out, exist_ok=True)
    made = []

    def path(name):
        made.append(name)
        return os.path.join(out, name)

    # ---- W2: speedup against threads -----------------------------------
    series = []
    for key in ("libfutures-pool", "tbb-task_group", "glib-GThreadPool", "py-ThreadPoolExecutor"):
        s = res.thread_series("W2", key, "speedup", n="main", cores=CORES)
        loop2 = res.find("W2", "libfutures-loop", "speedup")
        n2 = loop2.n if loop2 else None
        s = [(t, r) for t, r in s if r.n == n2]
        if s:
            series.append((key, NAME[key], pts_of(s), None))
    points = []
    for key in ("libfutures-loop", "py-asyncio"):
        r = res.find("W2", key, "speedup")
        if r:
            points.append((key, NAME[key] + " (1 thread)", 1, r.median, r.min, r.max))
    tmax = max([t for _, _, p, _ in series for t, *_ in p] + [1])
    ideal = [(t, min(t, CORES)) for t in (1, 2, 4, 8) if t <= max(tmax, CORES)]
    if series:
        line_chart(path("perf-w2-speedup.svg"), "W2 CPU work: speedup against threads",
                   f"2,000 jobs of ~50 us; speedup over the same loop run sequentially; {CORES} cores",
                   "threads", "speedup (x)", series, xlog=True,
                   refs=[(f"ideal: min(threads, {CORES} cores)", ideal, COL["ideal"])], points=points,
                   xticks=[1, 2, 4, 8],
                   notes=["Python threads hold the GIL while computing: no speedup at any thread count."])

    # ---- W3: speedup for waiting work -----------------------------------
    seq = res.find("W3", "sequential", "wall")
    if seq is not None:
        n3, base = seq.n, seq.median
        series = []
        for key in ("libfutures-pool", "glib-GThreadPool", "py-ThreadPoolExecutor"):
            s = [(r.threads, r) for r in res.rows if r.workload == "W3" and r.base == key
                 and r.metric == "wall" and r.n == n3 and r.threads]
            s.sort(key=lambda p: p[0])
            if s:
                series.append((key, NAME[key], [(t, base / r.median, base / r.max, base / r.min) for t, r in s],
                               None))
        points = []
        for key in ("libfutures-loop", "libuv-timer", "py-asyncio", "boost-fiber"):
            r = res.find("W3", key, "wall", n=n3)
            if r:
                points.append((key, NAME[key], 1, base / r.median, base / r.max, base / r.min))
        line_chart(path("perf-w3-speedup.svg"), "W3 waiting work: speedup against threads",
                   f"{n3} waits of 10 ms; speedup over waiting them one after another ({fmt_v(base, 'ms')})",
                   "threads (pools); the cooperative loops use 1", "speedup (x, log)", series, xlog=True,
                   ylog=True, refs=[("ideal for a pool: threads", [(1, 1), (8, 8)], COL["ideal"])],
                   points=points, xticks=[1, 2, 4, 8],
                   notes=["A pool waits one job per thread; one thread that cooperates waits all at once."])

    # ---- W1: cost per task against N --------------------------------------
    series = []
    for key, metric, label, dash in (
            ("libfutures-pool", "ns_per_task", "libfutures pool", None),
            ("libfutures-loop", "ns_per_task", "libfutures loop", None),
            ("tbb-task_group", "ns_per_task", NAME["tbb-task_group"], None),
            ("glib-GThreadPool", "ns_per_task", NAME["glib-GThreadPool"], None),
            ("boost-fiber-async", "ns_per_task", NAME["boost-fiber-async"], None),
            ("py-ThreadPoolExecutor", "ns_per_task", NAME["py-ThreadPoolExecutor"], None),
            ("py-asyncio", "ns_per_task", NAME["py-asyncio"], None),
            ("libfutures-pool", "cold_ns_per_task", "libfutures pool, cold round", "3,3"),
            ("libfutures-loop", "cold_ns_per_task", "libfutures loop, cold round", "3,3")):
        s = res.series("W1-scale", key, metric)
        if s:
            series.append((key, label, pts_of(s), dash))
    if series:
        line_chart(path("perf-w1-cost.svg"), "W1 cost per task against the number of tasks",
                   "submit (or spawn) N trivial tasks, gather all, release; median of the warm rounds",
                   "tasks per fan-out (N)", "ns per task (log)", series, xlog=True, ylog=True,
                   notes=["Flat = O(1) per task. Dotted: the first round, which also pays the first touch "
                          "of fresh heap pages (10-40 us each on this VM).",
                          "A pool's fixed cost per fan-out (waking a worker, then the gatherer) "
                          "weighs on small N."])

    # ---- W5-timers: cost per timer against N --------------------------------
    series = []
    for key, metric, label in (("libfutures-loop", "ns_per_timer", "libfutures: timer (sleep - yield)"),
                               ("libfutures-loop", "cpu_ns_per_sleep", "libfutures: fut_sleep, all in"),
                               ("libuv-timer", "cpu_ns_per_sleep", "libuv: timer, all in"),
                               ("boost-fiber", "ns_per_timer", "Boost.Fiber: timer (sleep - yield)"),
                               ("py-asyncio", "ns_per_timer", "asyncio: timer (sleep - sleep(0))")):
        s = [(n, r) for n, r in res.series("W5-timers", key, metric) if r.median > 0]
        if s:
            series.append((key, label, pts_of(s), "4,3" if metric == "cpu_ns_per_sleep" and
                           key == "libfutures-loop" else None))
    if series:
        line_chart(path("perf-timers.svg"), "Timers: CPU time per sleep against sleeping coroutines",
                   "N coroutines each sleep 8 times for 1-4 ms (random); CPU time of the loop's thread",
                   "coroutines sleeping at once (N)", "ns per timer (log)", series, xlog=True, ylog=True,
                   notes=["Small N: each expiry wakes the loop from its timed wait (a syscall); from 10^3 a binary "
                          "heap's O(log N), then the TLB:",
                          "each heap level and each switch touch another coroutine's stack page "
                          "(instructions stay flat: perf-growth-instr.svg)."])

    # ---- instructions per task / timer (bench/growth.sh) -------------------------
    series = []
    for w, key, metric, label in (("W1-scale", "libfutures-loop", "instr_per_task",
                                   "loop: spawn..release"),
                                  ("W1-scale", "libfutures-pool", "instr_per_task",
                                   "pool: submitter's part"),
                                  ("W5-timers", "libfutures-loop", "instr_per_sleep", "fut_sleep, all in"),
                                  ("W5-timers", "libfutures-loop", "instr_per_timer", "timer (sleep - yield)"),
                                  ("W5-timers", "libfutures-loop", "instr_per_yield", "fut_yield")):
        s = res.series(w, key, metric)
        if s:
            series.append((key, label, pts_of(s), "4,3" if w == "W5-timers" else None))
    if series:
        # distinct colours here: the series are all libfutures'
        pal = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1"]
        series = [(f"_g{i}", lab, pts, dash) for i, (k, lab, pts, dash) in enumerate(series)]
        for i, (k, *_r) in enumerate(series):
            COL[k] = pal[i % len(pal)]
        line_chart(path("perf-growth-instr.svg"), "Instructions per task and per timer against N",
                   "valgrind --tool=callgrind, the difference of two runs (bench/growth.sh): "
                   "what the code does, not the VM's memory",
                   "tasks, or sleeping coroutines (N)", "instructions (log)", series, xlog=True, ylog=True,
                   notes=["Flat lines: O(1) per task. The timer's heap is O(log N): ~10 instructions a level, "
                          "hidden under the fixed part.",
                          "Time per task can still grow with N (caches, TLB): compare perf-w1-cost.svg "
                          "and perf-timers.svg."])

    # ---- W4: switch cost ------------------------------------------------------
    bars = []
    for key in ("boost-context-fiber", "libfutures-yield", "py-generator-send", "boost-fiber-yield",
                "libfutures-yield-ucontext", "py-asyncio-sleep0"):
        r = res.find("W4", key, "ns_per_switch")
        if r:
            bars.append((key, NAME[key], r.median, r.min, r.max, fmt_v(r.median, "ns")))
    bars.sort(key=lambda b: b[2])
    bar_chart(path("perf-w4-switch.svg"), "W4 context switch: ns per switch",
              "two coroutines handing control to each other; median, whiskers min..max", "ns per switch (log)",
              bars, xlog=True,
              notes=["Boost.Context is a bare switch with no scheduler: the floor. The others go through "
                     "their scheduler's run queue.",
                     "CORO=ucontext: the same loop on glibc's swapcontext, which makes a sigprocmask "
                     "system call per switch."])

    # ---- W5: memory per coroutine ---------------------------------------------
    bars = []
    for key in ("libuv-timer", "libfutures-loop", "py-asyncio", "boost-fiber-16KiBstack"):
        r = res.find("W5", key, "bytes_per_task")
        w = res.find("W5", key, "wall")
        if r and (r.n is None or key == "libfutures-loop"):
            ann = fmt_v(r.median, "B") + (f"; wall {fmt_v(w.median, 'ms')}" if w else "")
            bars.append((key, NAME[key], r.median, r.min, r.max, ann))
    bars.sort(key=lambda b: b[2])
    n5 = res.find("W5", "libfutures-loop", "bytes_per_task")
    bar_chart(path("perf-w5-memory.svg"), "W5 memory per coroutine (peak RSS growth / N)",
              f"N = {n5.n or 100000:,} tasks each sleeping 100 ms" if n5 else "N tasks each sleeping 100 ms",
              "bytes per task", bars,
              notes=["libuv has no coroutine: a timer and a callback (stackless). A stackful coroutine "
                     "costs at least the page its stack top sits on (4 KiB)."])
    print(f"* plots: {', '.join(os.path.join(out, m) for m in made)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
