# SPDX-License-Identifier: MIT
# Every wait blocking: coroutines that never step aside run one after
# another, exactly like lunch_sequential.py: 15 min.
import asyncio
import time

import lunch


async def cook_pasta():
    lunch.event("pasta", "starts", "10 min on the stove")
    time.sleep(lunch.seconds(10))
    lunch.event("pasta", "done")


async def cook_meatloaf():
    lunch.event("meatloaf", "starts", "3 min in the microwave")
    time.sleep(lunch.seconds(3))
    lunch.event("meatloaf", "done")


async def cut_avocado():
    lunch.event("avocado", "starts", "2 min of peeling and slicing")
    time.sleep(lunch.seconds(2))
    lunch.event("avocado", "done")


async def make_lunch():
    dishes = [asyncio.create_task(cook_pasta(), name="pasta"),
              asyncio.create_task(cook_meatloaf(), name="meatloaf"),
              asyncio.create_task(cut_avocado(), name="avocado")]
    lunch.note("3 dishes spawned, none started: they run when we wait")
    await asyncio.gather(*dishes)


lunch.begin("the cooperative loop, every wait blocking")
asyncio.run(make_lunch())
lunch.end()
