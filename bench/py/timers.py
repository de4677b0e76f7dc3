# SPDX-License-Identifier: MIT
"""Timer cost against the number of sleeping asyncio tasks (the Python
counterpart of bench/timers.c): N tasks; phase 1 each awaits
asyncio.sleep(0) K times (no timer), phase 2 each awaits
asyncio.sleep(r ms), r pseudo-random in 1..max_ms, K times.  CPU time of
the thread (time.thread_time_ns) per operation in each phase; ns_per_timer
is the difference.

  timers.py asyncio N [K=8] [max_ms=4]
"""
import asyncio
import time
from benchlib import arg, report, check, mode, clock


def main():
    mode(["asyncio"])
    n = arg(2, 10000)
    k = arg(3, 8)
    max_ms = arg(4, 4)
    marks = {}

    async def amain():
        go_yield = asyncio.Event()
        go_sleep = asyncio.Event()
        yield_done = asyncio.Event()
        sleep_done = asyncio.Event()
        count = [0, 0]

        async def worker(i):
            seed = i * 7919 + 1
            await go_yield.wait()
            for _ in range(k):
                await asyncio.sleep(0)
            count[0] += 1
            if count[0] == n:
                yield_done.set()
            await go_sleep.wait()
            for _ in range(k):
                seed = (seed * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
                await asyncio.sleep((1 + (seed >> 33) % max_ms) / 1000)
            count[1] += 1
            if count[1] == n:
                sleep_done.set()
            return i

        ts = [asyncio.create_task(worker(i)) for i in range(n)]
        await asyncio.sleep(0)          # every task starts and parks
        marks["c0"] = time.thread_time_ns()
        go_yield.set()
        await yield_done.wait()
        marks["c1"] = time.thread_time_ns()
        marks["w1"] = clock()
        go_sleep.set()
        await sleep_done.wait()
        marks["c2"] = time.thread_time_ns()
        marks["w2"] = clock()
        return sum(await asyncio.gather(*ts))

    s = asyncio.run(amain())
    check(s == n * (n - 1) // 2, "sum")
    ops = n * k
    y = (marks["c1"] - marks["c0"]) / ops
    sl = (marks["c2"] - marks["c1"]) / ops
    name = f"py-asyncio-N{n}"
    report("W5-timers", name, "cpu_ns_per_yield", y, "ns")
    report("W5-timers", name, "cpu_ns_per_sleep", sl, "ns")
    report("W5-timers", name, "ns_per_timer", sl - y, "ns")
    report("W5-timers", name, "sleep_wall", (marks["w2"] - marks["w1"]) / 1e6, "ms")


main()
