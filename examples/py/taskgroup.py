# SPDX-License-Identifier: MIT
# A task group: the first failure cancels the rest (asyncio.TaskGroup, 3.11).
# The pasta, the meatloaf and a sauce are coroutines; the avocado is cut on
# a helper thread.  After 5 minutes the sauce burns (OSError): the group
# cancels every member still running (the pasta comes off the stove) and
# leaving the `async with` raises the failure once all have ended.
# C: examples/taskgroup.c.
import asyncio
import time

import lunch


async def cook_pasta():
    lunch.event("pasta", "starts", "10 min on the stove")
    try:
        await asyncio.sleep(lunch.seconds(10))
    except asyncio.CancelledError:
        lunch.event("pasta", "cancelled", "taken off the stove")
        raise
    lunch.event("pasta", "done")


async def cook_meatloaf():
    lunch.event("meatloaf", "starts", "3 min in the microwave")
    await asyncio.sleep(lunch.seconds(3))
    lunch.event("meatloaf", "done")


async def make_sauce():
    lunch.event("sauce", "starts", "5 min on a high flame")
    await asyncio.sleep(lunch.seconds(5))
    lunch.event("sauce", "burns", "the first failure: EIO")
    raise OSError("the sauce burnt")


def cut():                                   # on a helper thread
    time.sleep(lunch.seconds(2))


async def cut_avocado():
    lunch.event("avocado", "starts", "2 min of cutting, on the pool")
    await asyncio.to_thread(cut)
    lunch.event("avocado", "done")


async def make_lunch():
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(cook_pasta(), name="pasta")
            tg.create_task(cook_meatloaf(), name="meatloaf")
            tg.create_task(make_sauce(), name="sauce")
            tg.create_task(cut_avocado(), name="avocado")
        print("group: all succeeded")
    except* OSError as e:
        print("group: %s" % e.exceptions[0])


lunch.begin("a task group; the sauce burns after 5 min")
asyncio.run(make_lunch())
lunch.end()
