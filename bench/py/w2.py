# SPDX-License-Identifier: MIT
"""W2 fanout-cpu in Python: N jobs of the hash kernel (~50 us each), the
result checked against a sequential run in the same process; speedup =
sequential wall / concurrent wall.

  w2.py seq [N=2000] [iters]           microseconds per job
  w2.py tpe [N] [iters] [threads]      ThreadPoolExecutor: the GIL
                                       serialises the kernel
  w2.py asyncio [N] [iters]            asyncio.gather: one thread
"""
import asyncio
from concurrent.futures import ThreadPoolExecutor
from benchlib import arg, ncpus, report, label, check, mode, clock, hash_kernel, PY_ITERS


async def ajob(i, iters):
    return hash_kernel(i, iters)


def main():
    m = mode(["seq", "tpe", "asyncio"])
    n = arg(2, 2000)
    iters = arg(3, PY_ITERS)
    for i in range(100):  # let CPython specialise the kernel first
        hash_kernel(i, iters)
    t0 = clock()
    ref = sum(hash_kernel(i, iters) for i in range(n))
    t1 = clock()
    if m == "seq":
        report("W2", "py-sequential", "us_per_job", (t1 - t0) / n / 1000, "us")
        return
    if m == "tpe":
        nt = arg(4, ncpus())
        with ThreadPoolExecutor(max_workers=nt) as ex:
            ex.submit(hash_kernel, 0, 1).result()
            t2 = clock()
            fs = [ex.submit(hash_kernel, i, iters) for i in range(n)]
            s = sum(f.result() for f in fs)
            t3 = clock()
        name = label("py-ThreadPoolExecutor", n, 2000, nt, ncpus())
    else:
        async def amain():
            return sum(await asyncio.gather(*(ajob(i, iters) for i in range(n))))
        t2 = clock()
        s = asyncio.run(amain())
        t3 = clock()
        name = label("py-asyncio", n, 2000)
    check(s == ref, "sum")
    report("W2", name, "speedup", (t1 - t0) / (t3 - t2), "x")


main()
