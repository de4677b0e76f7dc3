# SPDX-License-Identifier: MIT
# lunch_coop.py with one line changed: the cook stares at the pasta pot
# (time.sleep instead of await asyncio.sleep).  Nothing else can start for
# 10 minutes; only the meatloaf and the avocado overlap afterwards: 13 min.
import asyncio
import time

import lunch


async def cook_pasta():
    lunch.event("pasta", "starts", "10 min on the stove")
    time.sleep(lunch.seconds(10))            # stares at the pot: holds the loop
    lunch.event("pasta", "done")


async def cook_meatloaf():
    lunch.event("meatloaf", "starts", "3 min in the microwave")
    await asyncio.sleep(lunch.seconds(3))
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


lunch.begin("the cooperative loop, staring at the pasta")
asyncio.run(make_lunch())
lunch.end()
