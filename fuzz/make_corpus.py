#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make_corpus.py - writes the fuzzer's seed corpus (fuzz/corpus/), one
small program per area, in fuzz_api.c's encoding: an opcode byte (taken
modulo NOPS, 24) followed by its argument bytes.  Keep the names below in
the order of fuzz_api.c's switch.

    python3 fuzz/make_corpus.py        rewrites fuzz/corpus/seed-*
"""
import os

NEW, RESOLVE, FAIL, CANCEL, SUBMIT, TRY, SPAWN, RUN, WAIT, GET, GATHER, ANY, \
    ON_DONE, THEN, RELEASE, RETAIN, SHUTDOWN, POOL_FREE, LOOP_FREE, MAP, BAD, \
    THREAD_WAIT, STATE, NAME = range(24)
CB_COUNT, CB_RESOLVE, CB_CANCEL, CB_TAKE, CB_SUBMIT, CB_SHUTDOWN = range(6)

seeds = {
    # promises, callbacks, continuations, gather and wait_any
    "promises": [NEW, 0, NEW, 1, ON_DONE, 0, CB_COUNT, 1, THEN, 0, 2, 0,
                 THEN, 2, 3, 1, GATHER, 0b111, 1, RESOLVE, 0, 5, FAIL, 1, 3,
                 GET, 2, STATE, 3, ANY, 0b1111, 0, GATHER, 0b1111, 0,
                 RESOLVE, 0, 9, CANCEL, 1, 0, NAME, 0, RELEASE, 0],
    # a pool: submit, try-submit, cancel, wait, shut down, submit again
    "pool": [SUBMIT, 0, 0, 7, 0x05, SUBMIT, 1, 1, 10, TRY, 2, 0, 11,
             CANCEL, 1, 0, GATHER, 0b111, 2, GET, 0, SHUTDOWN, 1,
             SUBMIT, 3, 0, 1, WAIT, 0, 1, POOL_FREE, SUBMIT, 4, 0, 2, 0x02,
             MAP, 4, GET, 4],
    # a loop: coroutines of every script, run, waited on, freed
    "loop": [NEW, 7, SPAWN, 0, 0, 1, 0, SPAWN, 1, 1, 2, 3, SPAWN, 2, 2, 3, 1,
             SPAWN, 3, 3, 4, 0, SPAWN, 4, 4, 6, 9, SPAWN, 5, 5, 7, 0,
             SPAWN, 6, 6, 8, 7, SUBMIT, 7, 0, 3, 0x03, RUN, 3, WAIT, 0, 2,
             CANCEL, 1, 0, GATHER, 0b1111111, 1, SPAWN, 0, 0, 4, 0,
             LOOP_FREE, GET, 0],
    # callbacks that complete other promises, submit, drop the last reference
    "callbacks": [NEW, 0, NEW, 1, NEW, 2, SUBMIT, 3, 0, 8, 0x04,
                  ON_DONE, 0, CB_RESOLVE, 1, ON_DONE, 0, CB_CANCEL, 2,
                  ON_DONE, 0, CB_SUBMIT, 0, ON_DONE, 1, CB_TAKE, 0,
                  ON_DONE, 1, CB_COUNT, 0, THEN, 1, 4, 0, ON_DONE, 3, CB_SHUTDOWN, 0,
                  RESOLVE, 0, 6, STATE, 1, STATE, 4, GET, 4],
    # a callback drops the last reference; a callback and a continuation follow
    "take": [NEW, 5, ON_DONE, 5, CB_TAKE, 0, ON_DONE, 5, CB_COUNT, 0,
             THEN, 5, 6, 0, RESOLVE, 5, 2, GET, 6],
    # every bad-argument call
    "bad": sum(([BAD, i] for i in range(24)), []),
    # threads that wait once and exit, released and retained references
    "threads": [NEW, 0, NEW, 1, THREAD_WAIT, 0, THREAD_WAIT, 1, RETAIN, 0,
                RESOLVE, 0, 1, RELEASE, 0, CANCEL, 1, 0, RELEASE, 1,
                SUBMIT, 2, 1, 5, 0x01, THREAD_WAIT, 2, GET, 2],
    # a loop inside a pool job, waiting on that pool
    "loop_in_job": [SUBMIT, 0, 7, 4, 0x00, GET, 0, SHUTDOWN, 0],
}

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus")
os.makedirs(out, exist_ok=True)
for name, prog in seeds.items():
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(bytes(b & 0xff for b in prog))
print("wrote", len(seeds), "seeds to", out)
