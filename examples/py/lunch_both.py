# SPDX-License-Identifier: MIT
# Both at once: asyncio's loop cooks, a helper thread peels.  The avocado
# coroutine hands the hand work to a thread with asyncio.to_thread and
# awaits it, which suspends only that coroutine: 10 min, loop never held.
import asyncio
import time

import lunch


async def cook_pasta():
    lunch.event("pasta", "starts", "10 min on the stove")
    await asyncio.sleep(lunch.seconds(10))
    lunch.event("pasta", "done")


async def cook_meatloaf():
    lunch.event("meatloaf", "starts", "3 min in the microwave")
    await asyncio.sleep(lunch.seconds(3))
    lunch.event("meatloaf", "done")


def peel():                                  # runs on a helper thread
    time.sleep(lunch.seconds(2))             # blocks the helper, not the loop


async def cut_avocado():
    lunch.event("avocado", "starts", "2 min of peeling, by a helper")
    await asyncio.to_thread(peel)            # suspends this coroutine only
    lunch.event("avocado", "done")


async def make_lunch():
    await asyncio.gather(asyncio.create_task(cook_pasta(), name="pasta"),
                         asyncio.create_task(cook_meatloaf(), name="meatloaf"),
                         asyncio.create_task(cut_avocado(), name="avocado"))


lunch.begin("the loop cooks, a helper thread peels")
asyncio.run(make_lunch())
lunch.end()
