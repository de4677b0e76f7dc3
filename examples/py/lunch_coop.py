# SPDX-License-Identifier: MIT
# One cook with an organiser: asyncio's loop.  Pasta and meatloaf wait with
# `await asyncio.sleep`, so the loop runs another dish meanwhile; the
# avocado is hand work (a blocking call).  Lunch after 10 story minutes.
import asyncio
import time

import lunch


async def cook_pasta():
    lunch.event("pasta", "starts", "10 min on the stove")
    await asyncio.sleep(lunch.seconds(10))   # steps aside: the loop runs others
    lunch.event("pasta", "done")


async def cook_meatloaf():
    lunch.event("meatloaf", "starts", "3 min in the microwave")
    await asyncio.sleep(lunch.seconds(3))
    lunch.event("meatloaf", "done")


async def cut_avocado():
    lunch.event("avocado", "starts", "2 min of peeling and slicing")
    time.sleep(lunch.seconds(2))             # hands busy: holds the loop
    lunch.event("avocado", "done")


async def make_lunch():
    dishes = [asyncio.create_task(cook_pasta(), name="pasta"),
              asyncio.create_task(cook_meatloaf(), name="meatloaf"),
              asyncio.create_task(cut_avocado(), name="avocado")]
    lunch.note("3 dishes spawned, none started: they run when we wait")
    await asyncio.gather(*dishes)


lunch.begin("one cook, the cooperative loop")
asyncio.run(make_lunch())
lunch.end()
