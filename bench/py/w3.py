# SPDX-License-Identifier: MIT
"""W3 sleep-bound in Python: N tasks each waiting 10 ms.

  w3.py seq [N=1000] [ms=10]             time.sleep one after the other
  w3.py tpe [N] [ms] [threads=2]         ThreadPoolExecutor, time.sleep
                                         (the GIL is released while asleep)
  w3.py asyncio [N] [ms]                 asyncio.gather of asyncio.sleep
"""
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from benchlib import arg, report, label, check, mode, clock


def job(i, secs):
    time.sleep(secs)
    return i


async def ajob(i, secs):
    await asyncio.sleep(secs)
    return i


def main():
    m = mode(["seq", "tpe", "asyncio"])
    n = arg(2, 1000)
    secs = arg(3, 10) / 1000
    want = n * (n - 1) // 2
    if m == "seq":
        t0 = clock()
        s = sum(job(i, secs) for i in range(n))
        t1 = clock()
        name = label("py-sequential", n, 1000)
    elif m == "tpe":
        nt = arg(4, 2)
        with ThreadPoolExecutor(max_workers=nt) as ex:
            ex.submit(job, 0, 0).result()
            t0 = clock()
            fs = [ex.submit(job, i, secs) for i in range(n)]
            s = sum(f.result() for f in fs)
            t1 = clock()
        name = label(f"py-ThreadPoolExecutor-{nt}thr", n, 1000)
    else:
        async def amain():
            return sum(await asyncio.gather(*(ajob(i, secs) for i in range(n))))
        loop = asyncio.new_event_loop()
        t0 = clock()
        s = loop.run_until_complete(amain())
        t1 = clock()
        loop.close()
        name = label("py-asyncio", n, 1000)
    check(s == want, "sum")
    report("W3", name, "wall", (t1 - t0) / 1e6, "ms")


main()
