# SPDX-License-Identifier: MIT
# Several cooks: a ThreadPoolExecutor.  Each dish is a job; the jobs wait
# with plain blocking calls, yet they overlap, one per thread.
#   python3 lunch_pool.py 1    one cook: 15 min
#   python3 lunch_pool.py 2    pasta on one; meatloaf, then avocado: 10 min
#   python3 lunch_pool.py 3    a cook per dish (the default): 10 min
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import lunch


def cook(dish, minutes, detail):
    who = threading.current_thread().name
    lunch.event(dish, "starts", detail, who)
    time.sleep(lunch.seconds(minutes))       # blocks this cook only
    lunch.event(dish, "done", None, who)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
if not 1 <= n <= 64:
    sys.exit(f"usage: {sys.argv[0]} [threads 1..64]")
with ThreadPoolExecutor(max_workers=n, thread_name_prefix="cook") as cooks:
    lunch.begin(f"a pool of {n} cook{'s' if n > 1 else ''}")
    dishes = [cooks.submit(cook, "pasta", 10, "10 min on the stove"),
              cooks.submit(cook, "meatloaf", 3, "3 min in the microwave"),
              cooks.submit(cook, "avocado", 2, "2 min of peeling and slicing")]
    wait(dishes)                             # future_gather
    lunch.end()
