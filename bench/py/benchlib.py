# SPDX-License-Identifier: MIT
"""benchlib - helpers for libfutures' Python benchmarks (bench/py/wN.py).

Python 3 standard library only.  The same measurement contract as the C
programs (bench/bench.h): sizes from argv, one line per figure
"workload peer metric value unit", a result check that exits non-zero.
The W2 kernel is hash_kernel of bench.h, the same arithmetic on Python
ints (masked to 64 bits); PY_ITERS iterations take about 50 us in
CPython 3.11 on the 2-core VM, as 26000 iterations of the C kernel do, so
the Python rows do the same amount of *time* per job, not the same work.
"""
import os
import sys
import time

M64 = (1 << 64) - 1
PY_ITERS = 290


def hash_kernel(seed, iters):
    x = (seed * 0x9E3779B97F4A7C15 + 1) & M64
    for _ in range(iters):
        x ^= x >> 31
        x = (x * 0xBF58476D1CE4E5B9) & M64
        x ^= x >> 29
    return x


def arg(i, default):
    """argv[i] as an int, or default (argv[1] is the mode)."""
    return int(sys.argv[i]) if len(sys.argv) > i else default


def ncpus():
    return os.cpu_count() or 1


def report(workload, peer, metric, value, unit):
    print(f"{workload} {peer} {metric} {value:.3f} {unit}", flush=True)


def label(base, n, n_default, threads=None, threads_default=None):
    """As bench_label in bench.h: -N<n> / -<t>thr when not the default."""
    s = base
    if n != n_default:
        s += f"-N{n}"
    if threads is not None and threads != threads_default:
        s += f"-{threads}thr"
    return s


def status_kb(key):
    """VmRSS / VmHWM of this process, KB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def percentile_us(samples_ns, pct):
    """Nearest rank, as percentile_us in bench.h (sorts in place)."""
    samples_ns.sort()
    idx = min(int(pct / 100 * (len(samples_ns) - 1) + 0.5), len(samples_ns) - 1)
    return samples_ns[idx] / 1000


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def check(cond, what):
    if not cond:
        print(f"CHECK FAILED: {what} ({sys.argv[0]})", file=sys.stderr)
        sys.exit(2)


def mode(choices):
    m = sys.argv[1] if len(sys.argv) > 1 else ""
    if m not in choices:
        print(f"usage: {sys.argv[0]} {'|'.join(choices)} [sizes...]", file=sys.stderr)
        sys.exit(2)
    return m


clock = time.perf_counter_ns
