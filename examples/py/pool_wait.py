# SPDX-License-Identifier: MIT
# A job that waits on its own pool, with Python's ThreadPoolExecutor: one
# cook makes a lasagne, which needs a sauce.  The lasagne's job submits the
# sauce to the same pool and waits for it, but the only worker is the one
# waiting: the sauce cannot start until the lasagne gives up.  Without the
# timeout this program would hang for ever.
import concurrent.futures
import time
from concurrent.futures import ThreadPoolExecutor

import lunch

cooks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cook")


def make_sauce():
    lunch.event("sauce", "starts", "3 min of stirring")
    time.sleep(lunch.seconds(3))
    lunch.event("sauce", "done")


def make_lasagne():
    lunch.event("lasagne", "starts", "needs a sauce, then 2 min in the oven")
    sauce = cooks.submit(make_sauce)
    try:
        sauce.result(timeout=lunch.seconds(5))     # the only cook waits: nobody stirs
    except concurrent.futures.TimeoutError:
        lunch.note("lasagne: no sauce after 5 min, gives up (the pool's only thread waits)")
        return
    time.sleep(lunch.seconds(2))
    lunch.event("lasagne", "done")


lunch.begin("one cook, a lasagne that waits for its sauce")
cooks.submit(make_lasagne).result()
cooks.shutdown(wait=True)                          # the sauce runs now, too late
lunch.end()
