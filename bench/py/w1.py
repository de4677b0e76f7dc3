# SPDX-License-Identifier: MIT
"""W1 fanout-empty in Python: N trivial jobs (return arg + 1), gather, check.

  w1.py seq N                 a plain loop of calls (the floor)
  w1.py tpe N [threads] [rounds]
                              ThreadPoolExecutor(max_workers=threads=ncpus):
                              submit N, result() of each (a worker started
                              before timing)
  w1.py asyncio N [rounds]    asyncio: create_task N coroutines, gather

Default N = 100,000 (BENCH.md's 10^6 takes ~10 s per TPE run; the cost per
task is flat, see the W1-scale rows).  rounds > 1: the fan-out repeated,
the median of the rounds after the first reported as <peer>-warm-N<n>
under W1-scale, as the C sweep.
"""
import asyncio
from concurrent.futures import ThreadPoolExecutor
from benchlib import arg, ncpus, report, label, median, check, mode, clock

N_DEFAULT = 100000


def job(a):
    return a + 1


async def ajob(a):
    return a + 1


def rounds_report(name, n, per):
    if len(per) > 1:
        report("W1-scale", f"{name}-N{n}", "ns_per_task", median(per[1:]), "ns")
        report("W1-scale", f"{name}-N{n}", "cold_ns_per_task", per[0], "ns")
    else:
        report("W1", label(name, n, N_DEFAULT), "ns_per_task", per[0], "ns")


def main():
    m = mode(["seq", "tpe", "asyncio"])
    n = arg(2, N_DEFAULT)
    want = n * (n + 1) // 2
    if m == "seq":
        t0 = clock()
        res = [job(i) for i in range(n)]
        s = sum(res)
        t1 = clock()
        check(s == want, "sum")
        report("W1", label("py-sequential", n, N_DEFAULT), "ns_per_task", (t1 - t0) / n, "ns")
    elif m == "tpe":
        nt = arg(3, ncpus())
        rounds = arg(4, 1)
        per = []
        with ThreadPoolExecutor(max_workers=nt) as ex:
            ex.submit(job, 0).result()
            for _ in range(rounds):
                t0 = clock()
                fs = [ex.submit(job, i) for i in range(n)]
                s = sum(f.result() for f in fs)
                t1 = clock()
                check(s == want, "sum")
                per.append((t1 - t0) / n)
        name = "py-ThreadPoolExecutor" + ("" if nt == ncpus() else f"-{nt}thr")
        rounds_report(name, n, per)
    else:
        rounds = arg(3, 1)

        async def amain():
            await asyncio.create_task(ajob(0))
            per = []
            for _ in range(rounds):
                t0 = clock()
                ts = [asyncio.create_task(ajob(i)) for i in range(n)]
                s = sum(await asyncio.gather(*ts))
                t1 = clock()
                check(s == want, "sum")
                per.append((t1 - t0) / n)
            return per

        rounds_report("py-asyncio", n, asyncio.run(amain()))


main()
