# SPDX-License-Identifier: MIT
"""lunch.py - the story's clock and printer: examples/lunch.h in Python.

One story minute lasts LUNCH_MINUTE_MS milliseconds of wall time (default
100), so a 15-minute lunch takes 1.5 s.  Every program prints

    Lunch preparation begins (<how>).
    [  0.0 min] pasta    starts  10 min on the stove
    ...                                  one line per event
    Eating after N min of prep time.

where N is the wall time since begin() in story minutes, rounded.
"""
import os
import sys
import threading
import time


def _minute_ms():
    try:
        ms = float(os.environ.get("LUNCH_MINUTE_MS", ""))
    except ValueError:
        ms = 0
    return ms if ms > 0 else 100.0


MINUTE_MS = _minute_ms()          # ms of wall time per story minute
_t0 = time.monotonic()
_out = threading.Lock()          # one line at a time, from any thread


def seconds(minutes):
    """Story minutes as seconds, for time.sleep() and asyncio.sleep()."""
    return minutes * MINUTE_MS / 1000


def now():
    """Story minutes since begin()."""
    return (time.monotonic() - _t0) * 1000 / MINUTE_MS


def _say(line):
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def begin(how, t0=None):
    """Starts the clock (or takes t0, another process's) and prints the first line."""
    global _t0
    _t0 = time.monotonic() if t0 is None else t0
    _say(f"Lunch preparation begins ({how}).")


def event(dish, what, detail=None, who=None):
    """One event line: "[  2.0 min] avocado  done"."""
    line = f"[{now():5.1f} min] {dish:<8} {what:<7} {detail}" if detail else \
           f"[{now():5.1f} min] {dish:<8} {what}"
    _say(line + (f"  [{who}]" if who else ""))


def note(text):
    """A remark that is not a dish event."""
    _say(f"[{now():5.1f} min] -- {text}")


def end():
    """Prints "Eating after N min of prep time." and returns N."""
    n = int(now() + 0.5)
    _say(f"Eating after {n} min of prep time.")
    return n
