# SPDX-License-Identifier: MIT
"""Four onions, each 2 story minutes of real CPU work, chopped in Python:
one after another; on a ThreadPoolExecutor, whose threads share one
interpreter lock (the GIL), so only one of them computes at a time; and on
a ProcessPoolExecutor, whose processes each have their own interpreter.

    python3 onions.py                      seq, then 2 threads, then 2 processes
    python3 onions.py threads 4 processes 4
"""
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait

import lunch

ONIONS, MINUTES_PER_ONION = 4, 2
MASK = (1 << 64) - 1


def chop_kernel(x, steps):
    """A chain of xorshift steps: pure CPU work, each step needs the last."""
    for _ in range(steps):
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
    return x


def calibrate():
    """Kernel steps per story minute on this machine, timed on the thread's
    CPU clock (the median of 7 runs of about 30 ms), so that other programs
    on the machine do not shrink the onions."""
    steps = 1 << 12
    while True:
        t = time.thread_time()
        chop_kernel(88172645463325252, steps)
        if time.thread_time() - t >= 0.03:
            break
        steps *= 2
    runs = []
    for _ in range(7):
        t = time.thread_time()
        chop_kernel(88172645463325252, steps)
        runs.append((time.thread_time() - t) / steps)
    per_step = sorted(runs)[3]
    per_minute = int(lunch.MINUTE_MS / 1000 / per_step)
    print(f"Calibrated: {per_step * 1e9:.0f} ns per kernel step; "
          f"1 story minute = {lunch.MINUTE_MS:.0f} ms = {per_minute} steps.")
    return per_minute


def chop_onion(name, steps, t0):
    """A job: one whole onion.  t0 is the parent's clock (for processes)."""
    lunch._t0 = t0
    lunch.event(name, "starts", "2 min of chopping")
    chop_kernel(88172645463325252 + len(name), steps)
    lunch.event(name, "done")


def cpu_seconds():
    """CPU time of this process and of its finished children."""
    return time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime \
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime


def run(how, n, steps):
    title = {"seq": "one after another, one thread",
             "threads": f"a ThreadPoolExecutor of {n} thread{'s' if n > 1 else ''}",
             "processes": f"a ProcessPoolExecutor of {n} process{'es' if n > 1 else ''}"}[how]
    print(f"\n== {how} {n}: {title}", flush=True)
    names = [f"onion-{i + 1}" for i in range(ONIONS)]
    lunch.begin(title + ", 4 onions")
    cpu0 = cpu_seconds()
    if how == "seq":
        for name in names:
            chop_onion(name, steps, lunch._t0)
    else:
        pool = ThreadPoolExecutor if how == "threads" else ProcessPoolExecutor
        with pool(max_workers=n) as cooks:
            jobs = [cooks.submit(chop_onion, name, steps, lunch._t0) for name in names]
            wait(jobs)
            for j in jobs:
                j.result()                   # re-raises a job's exception
    cpu = (cpu_seconds() - cpu0) * 1000 / lunch.MINUTE_MS
    wall = lunch.now()
    lunch.note(f"{cpu:.1f} min of CPU in {wall:.1f} min: {cpu / wall:.2f} cores busy on average")
    lunch.end()


def main(argv):
    print(f"Onions: {ONIONS} onions, each {MINUTES_PER_ONION} story minutes of CPU work "
          f"on one core.")
    print(f"This machine has {os.cpu_count()} online cores.")
    steps = calibrate() * MINUTES_PER_ONION
    args = argv[1:] or ["seq", "threads", "2", "processes", "2"]
    i = 0
    while i < len(args):
        how = args[i]
        if how == "seq":
            run("seq", 1, steps)
            i += 1
        elif how in ("threads", "processes") and i + 1 < len(args) and args[i + 1].isdigit() \
                and 1 <= int(args[i + 1]) <= 64:
            run(how, int(args[i + 1]), steps)
            i += 2
        else:
            sys.exit(f"usage: {argv[0]} [seq | threads N | processes N]...")


if __name__ == "__main__":
    main(sys.argv)
