# SPDX-License-Identifier: MIT
# One thing after another, no library: 10 + 3 + 2 = 15 story minutes.
import time

import lunch


def cook_pasta():
    lunch.event("pasta", "starts", "10 min on the stove")
    time.sleep(lunch.seconds(10))            # the cook stands by the pot
    lunch.event("pasta", "done")


def cook_meatloaf():
    lunch.event("meatloaf", "starts", "3 min in the microwave")
    time.sleep(lunch.seconds(3))             # ... and by the microwave
    lunch.event("meatloaf", "done")


def cut_avocado():
    lunch.event("avocado", "starts", "2 min of peeling and slicing")
    time.sleep(lunch.seconds(2))             # the cook's own hands
    lunch.event("avocado", "done")


lunch.begin("one thing after another, no library")
cook_pasta()
cook_meatloaf()
cut_avocado()
lunch.end()
