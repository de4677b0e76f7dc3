/* SPDX-License-Identifier: MIT */
/*
 * W6 round trip on the cooperative loop: inside the main coroutine, spawn
 * one coroutine (returns arg + 1) and future_get its value; 20,000 times
 * after 100 warm-up rounds.  One sample = spawn .. value in hand (the
 * release comes after, as in w6_pool.c).  Everything happens on one
 * thread: the cost is two switches, a future and a stack from the free
 * list, never a wake-up of another thread.  The pool's row (w6_pool.c) is
 * the cross-thread round trip; compare with asyncio's
 * `await create_task(...)` (bench/py/w6.py asyncio).
 *
 *   w6_loop [N=20000]
 *
 * Prints: W6 libfutures-loop median_rtt X us / p99_rtt X us
 */
#include <errno.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"

static long n_rounds;
static uint64_t *lat;

static void *inc(void *arg)
{
    return (void *)((intptr_t)arg + 1);
}

static void *main_coro(void *unused)
{
    (void)unused;
    for (long i = -100; i < n_rounds; i++) {
        void *v = NULL;
        uint64_t t0 = now_ns();
        future_t *f = fut_spawn(inc, (void *)(intptr_t)i);
        CHECK(f != NULL, "fut_spawn");
        int rc = future_get(f, &v);
        uint64_t t1 = now_ns();
        CHECK(rc == 0 && (intptr_t)v == i + 1, "value");
        future_release(f);
        if (i >= 0)
            lat[i] = t1 - t0;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n_rounds = arg_long(argc, argv, 1, 20000);
    CHECK(n_rounds > 0, "usage: w6_loop [N]");
    lat = malloc(sizeof *lat * (size_t)n_rounds);
    CHECK(lat != NULL, "malloc");
    CHECK(fut_run(main_coro, NULL, NULL) == 0, "fut_run");
    char label[64];
    bench_label(label, sizeof label, "libfutures-loop", n_rounds, 20000, 0, 0);
    report("W6", label, "median_rtt", percentile_us(lat, (size_t)n_rounds, 50), "us");
    report("W6", label, "p99_rtt", percentile_us(lat, (size_t)n_rounds, 99), "us");
    free(lat);
    return 0;
}
