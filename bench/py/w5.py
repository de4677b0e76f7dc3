# SPDX-License-Identifier: MIT
"""W5 many-coroutines in Python: N asyncio tasks each sleep 100 ms and return
their index; gathered, sum checked.  Memory as the C programs: VmRSS at the
start, VmHWM at the end, bytes per task = (VmHWM - VmRSS at start) / N.

  w5.py asyncio [N=100000] [ms=100]
"""
import asyncio
from benchlib import arg, report, label, check, mode, clock, status_kb


async def job(i, secs):
    await asyncio.sleep(secs)
    return i


async def amain(n, secs):
    return sum(await asyncio.gather(*(job(i, secs) for i in range(n))))


def main():
    mode(["asyncio"])
    n = arg(2, 100000)
    secs = arg(3, 100) / 1000
    rss0 = status_kb("VmRSS")
    t0 = clock()
    s = asyncio.run(amain(n, secs))
    t1 = clock()
    check(s == n * (n - 1) // 2, "sum")
    hwm = status_kb("VmHWM")
    name = label("py-asyncio", n, 100000)
    report("W5", name, "wall", (t1 - t0) / 1e6, "ms")
    report("W5", name, "peak_rss", hwm, "KB")
    report("W5", name, "bytes_per_task", (hwm - rss0) * 1024 / n, "B")


main()
