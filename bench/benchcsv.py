# SPDX-License-Identifier: MIT
"""benchcsv - read the CSV that bench/run.sh writes (bench/table.awk) and find
rows by what they measure, for bench/report.py and bench/plots.py.

A row's peer label is base[-N<n>][-<t>thr] in either order (bench_label in
bench/bench.h; the Python and peer programs follow it): the base names the
library and mode, -N<n> a size other than the workload's default, -<t>thr
a thread count other than the default.  Python 3 standard library only.
"""
import csv
import re

_TOK = re.compile(r"-(?:N(\d+)|(\d+)thr)(?=-|$)")


def split_label(label):
    """'libfutures-pool-2thr-N200' -> ('libfutures-pool', 200, 2)."""
    n = t = None
    for m in _TOK.finditer(label):
        if m.group(1):
            n = int(m.group(1))
        else:
            t = int(m.group(2))
    return _TOK.sub("", label), n, t


class Row:
    def __init__(self, d):
        self.workload = d["workload"]
        self.peer = d["peer"]
        self.metric = d["metric"]
        self.unit = d["unit"]
        self.median = float(d["median"])
        self.min = float(d["min"])
        self.max = float(d["max"])
        self.runs = int(d["runs"])
        self.values = [float(v) for v in d["values"].split(";") if v]
        self.base, self.n, self.threads = split_label(self.peer)

    def spread(self):
        return (self.max - self.min) / self.median * 100 if self.median else 0.0


class Results:
    def __init__(self, paths):
        if isinstance(paths, str):
            paths = [paths]
        self.rows = []
        for path in paths:
            with open(path, newline="") as f:
                self.rows += [Row(d) for d in csv.DictReader(f)]

    def find(self, workload, base, metric, n="main", threads=None):
        """The row of `base` for `metric`.  n: an int, None (the default
        size, no -N in the label), or "main": the default size if measured,
        else the largest size measured (QUICK runs label every row -N<n>).
        threads: None (the default count) or an int."""
        cand = [r for r in self.rows if r.workload == workload and r.base == base
                and r.metric == metric and r.threads == threads]
        if n == "main":
            dflt = [r for r in cand if r.n is None]
            if dflt:
                return dflt[0]
            sized = sorted((r for r in cand if r.n is not None), key=lambda r: r.n)
            return sized[-1] if sized else None
        for r in cand:
            if r.n == n:
                return r
        return None

    def value(self, *a, **k):
        r = self.find(*a, **k)
        return r.median if r else None

    def series(self, workload, base, metric, threads=None):
        """[(n, row)] over every -N<n> size of base, sorted by n."""
        out = [(r.n, r) for r in self.rows if r.workload == workload and r.base == base
               and r.metric == metric and r.threads == threads and r.n is not None]
        return sorted(out, key=lambda p: p[0])

    def thread_series(self, workload, base, metric, n="main", cores=None):
        """[(threads, row)]: the rows of base at every thread count; the
        default count (no -<t>thr) is `cores`."""
        out = {}
        for r in self.rows:
            if r.workload != workload or r.base != base or r.metric != metric:
                continue
            if n != "main" and r.n != n:
                continue
            t = r.threads if r.threads is not None else cores
            if t is not None:
                out[t] = r
        return sorted(out.items())

    def bases(self, workload, metric=None):
        seen = []
        for r in self.rows:
            if r.workload == workload and (metric is None or r.metric == metric):
                if r.base not in seen:
                    seen.append(r.base)
        return seen
