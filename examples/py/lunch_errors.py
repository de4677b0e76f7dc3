# SPDX-License-Identifier: MIT
# What happens when dishes fail, in Python.  One cook (a ThreadPoolExecutor
# of 1 thread): the pasta succeeds with a value, the meatloaf burns (an
# exception), the avocado is cancelled while still queued, and the pasta
# cannot be cancelled while it cooks.  Then asyncio cancels a task that
# sleeps.
import asyncio
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

import lunch

on_stove = Future()                          # a promise, completed by hand


def cook_pasta():
    lunch.event("pasta", "starts", "2 min on the stove")
    on_stove.set_result(None)                # tell the waiter: cooking now
    time.sleep(lunch.seconds(2))
    lunch.event("pasta", "done")
    return "pasta al dente"


def cook_meatloaf():
    lunch.event("meatloaf", "starts", "1 min in the microwave")
    time.sleep(lunch.seconds(1))
    lunch.note("meatloaf burnt: raise RuntimeError")
    raise RuntimeError("burnt")


def cut_avocado():
    lunch.event("avocado", "starts", "2 min of peeling and slicing")
    time.sleep(lunch.seconds(2))
    lunch.event("avocado", "done")


def pool_part():
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cook") as cook:
        dishes = [cook.submit(cook_pasta), cook.submit(cook_meatloaf), cook.submit(cut_avocado)]
        on_stove.result()                    # the pasta is on the stove
        lunch.note(f"avocado.cancel() = {dishes[2].cancel()}: it had not started")
        lunch.note(f"pasta.cancel() = {dishes[0].cancel()}: it is cooking")
        wait(dishes)                         # waits for all three, raises nothing
        for name, f in zip(["pasta", "meatloaf", "avocado"], dishes):
            if f.cancelled():
                outcome = "cancelled: result() raises CancelledError"
            elif f.exception():
                outcome = f"failed: result() raises {f.exception()!r}"
            else:
                outcome = f"done: result() = {f.result()!r}"
            print(f"    {name:<8} {outcome}")


async def simmer_soup():
    lunch.event("soup", "starts", "10 min of simmering")
    try:
        await asyncio.sleep(lunch.seconds(10))
    except asyncio.CancelledError:
        lunch.note("soup: asyncio.sleep raised CancelledError, taken off the stove")
        raise


async def make_soup():
    soup = asyncio.create_task(simmer_soup(), name="soup")
    done, pending = await asyncio.wait([soup], timeout=lunch.seconds(2))
    lunch.note(f"asyncio.wait(soup, 2 min): {'pending' if pending else 'done'}")
    lunch.note(f"soup.cancel() = {soup.cancel()}: it is suspended in asyncio.sleep")
    try:
        await soup
    except asyncio.CancelledError:
        lunch.note(f"await soup: CancelledError, soup.cancelled() = {soup.cancelled()}")


lunch.begin("one cook, then the loop")
pool_part()
asyncio.run(make_soup())
lunch.end()
