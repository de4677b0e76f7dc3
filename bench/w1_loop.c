/* SPDX-License-Identifier: MIT */
/*
 * W1 fanout-empty on the cooperative loop: the main coroutine spawns N
 * trivial coroutines (each returns its argument + 1) with fut_spawn,
 * gathers all with one future_gather, checks the sum and releases the N
 * futures.  One thread: no parallelism, but no cross-thread wake either;
 * what a task of the loop costs (a future, a stack taken from the free
 * list, two switches) against a job of the pool (w1_pool.c: same timed
 * region, same N).
 *
 *   w1_loop [N=1000000] [rounds=1]
 *
 * rounds > 1: the fan-out repeated in the same loop, median round reported
 * as libfutures-loop-warm-N<n> (as w1_pool's sweep).  The first coroutine
 * stack is made before timing (one warm-up spawn), as the pool is warmed.
 *
 * Prints: W1 libfutures-loop ns_per_task X ns   (-N<n> when N != 10^6).
 */
#include <errno.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"
#include "stats.h"

static long n_tasks, rounds;
static double *per;

static void *inc(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

static void *main_coro(void *unused)
{
    (void)unused;
    future_t **fs = malloc(sizeof *fs * (size_t)n_tasks);
    void **vals = malloc(sizeof *vals * (size_t)n_tasks);
    if (!fs || !vals) {
        free(fs);
        free(vals);
        return fut_raise(ENOMEM);
    }
    memset(fs, 0, sizeof *fs * (size_t)n_tasks); /* touched before timing */
    memset(vals, 0, sizeof *vals * (size_t)n_tasks);
    void *v = NULL;
    future_t *w = fut_spawn(inc, (void *)(uintptr_t)41); /* warm-up */
    CHECK(w != NULL && future_get(w, &v) == 0 && (uintptr_t)v == 42, "warm-up");
    future_release(w);

    for (long r = 0; r < rounds; r++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < n_tasks; i++) {
            fs[i] = fut_spawn(inc, (void *)(uintptr_t)i);
            CHECK(fs[i] != NULL, "fut_spawn");
        }
        int rc = future_gather(fs, (size_t)n_tasks, vals, FUT_FOREVER);
        uintptr_t sum = 0;
        for (long i = 0; i < n_tasks; i++)
            sum += (uintptr_t)vals[i];
        for (long i = 0; i < n_tasks; i++)
            future_release(fs[i]);
        uint64_t t1 = now_ns();
        CHECK(rc == 0, "future_gather");
        CHECK(sum == (uintptr_t)n_tasks * (uintptr_t)(n_tasks + 1) / 2, "sum");
        per[r] = (double)(t1 - t0) / (double)n_tasks;
    }
    free(fs);
    free(vals);
    return NULL;
}

int main(int argc, char **argv)
{
    n_tasks = arg_long(argc, argv, 1, 1000000);
    rounds = arg_long(argc, argv, 2, 1);
    CHECK(n_tasks > 0 && rounds > 0, "usage: w1_loop [N] [rounds]");
    per = malloc(sizeof *per * (size_t)rounds);
    CHECK(per != NULL, "malloc");
    CHECK(fut_run(main_coro, NULL, NULL) == 0, "fut_run");

    char label[64];
    if (rounds > 1)
        snprintf(label, sizeof label, "libfutures-loop-warm-N%ld", n_tasks);
    else
        bench_label(label, sizeof label, "libfutures-loop", n_tasks, 1000000, 0, 0);
    report("W1", label, "ns_per_task", bench_median(per, (size_t)rounds), "ns");
    free(per);
    return 0;
}
