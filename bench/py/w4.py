# SPDX-License-Identifier: MIT
"""W4 ctx-switch in Python: two tasks handing control to each other.

  w4.py asyncio [N=200000]     two tasks each `await asyncio.sleep(0)`;
                               one switch = one sleep(0)
  w4.py generator [N=2000000]  generator send(): one send = two switches
                               (in, and out at the yield)
"""
import asyncio
from benchlib import arg, report, check, mode, clock


async def pinger(half, box):
    for _ in range(half):
        box[0] += 1
        await asyncio.sleep(0)


async def amain(half):
    box = [0]
    t0 = clock()
    await asyncio.gather(pinger(half, box), pinger(half, box))
    t1 = clock()
    check(box[0] == 2 * half, "counter")
    return t1 - t0


def gen():
    x = 0
    while True:
        x = yield x + 1


def main():
    m = mode(["asyncio", "generator"])
    if m == "asyncio":
        half = arg(2, 200000) // 2
        dt = asyncio.run(amain(half))
        report("W4", "py-asyncio-sleep0", "ns_per_switch", dt / (2 * half), "ns")
    else:
        half = arg(2, 2000000) // 2
        g = gen()
        next(g)
        send = g.send
        acc = 0
        t0 = clock()
        for i in range(half):
            acc += send(i)
        t1 = clock()
        check(acc == half * (half + 1) // 2, "sum")
        report("W4", "py-generator-send", "ns_per_switch", (t1 - t0) / (2 * half), "ns")


main()
