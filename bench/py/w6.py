# SPDX-License-Identifier: MIT
"""W6 round trip in Python: submit one job, wait for its result; 20,000
times after 100 warm-up rounds; median and p99.

  w6.py tpe [N=20000] [threads=ncpus]   ex.submit(job, i).result()
  w6.py asyncio [N]                     inside a coroutine:
                                        await asyncio.create_task(job(i))
                                        (one thread, as libfutures-loop)
"""
import asyncio
from concurrent.futures import ThreadPoolExecutor
from benchlib import arg, ncpus, report, label, check, mode, clock, percentile_us


def job(a):
    return a + 1


async def ajob(a):
    return a + 1


def main():
    m = mode(["tpe", "asyncio"])
    n = arg(2, 20000)
    lat = []
    if m == "tpe":
        nt = arg(3, ncpus())
        with ThreadPoolExecutor(max_workers=nt) as ex:
            for i in range(-100, n):
                t0 = clock()
                v = ex.submit(job, i).result()
                t1 = clock()
                check(v == i + 1, "value")
                if i >= 0:
                    lat.append(t1 - t0)
        name = label("py-ThreadPoolExecutor", n, 20000, nt, ncpus())
    else:
        async def amain():
            for i in range(-100, n):
                t0 = clock()
                v = await asyncio.create_task(ajob(i))
                t1 = clock()
                check(v == i + 1, "value")
                if i >= 0:
                    lat.append(t1 - t0)
        asyncio.run(amain())
        name = label("py-asyncio", n, 20000)
    report("W6", name, "median_rtt", percentile_us(lat, 50), "us")
    report("W6", name, "p99_rtt", percentile_us(lat, 99), "us")


main()
