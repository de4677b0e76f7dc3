/* SPDX-License-Identifier: MIT */
/*
 * W3 sleep-bound, libfutures cooperative loop (BENCH.md): N = 1000
 * coroutines, each fut_sleep(10) then returns its index; the main coroutine
 * spawns them with fut_spawn and waits for all with one future_gather; sum
 * checked.  One thread.  Ideal ~10 ms; target <= 1.1x libuv timers.
 * Timed: fut_loop_run (spawning main, the N spawns, the waits, the end of
 * the loop); the loop object itself is created before, as libuv's is.
 *
 *   w3_loop [N=1000] [ms=10]
 *
 * Prints: W3 libfutures-loop wall X ms   (-N<n> when N != 1000).
 */
#include <errno.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"

static long n_tasks, sleep_ms;

static void *sleeper(void *arg)
{
    int rc = fut_sleep(sleep_ms);
    if (rc != 0)
        return fut_raise(rc);
    return arg;
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
    for (long i = 0; i < n_tasks; i++) {
        fs[i] = fut_spawn(sleeper, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_spawn");
    }
    int rc = future_gather(fs, (size_t)n_tasks, vals, FUT_FOREVER);
    CHECK(rc == 0, "future_gather");
    uintptr_t sum = 0;
    for (long i = 0; i < n_tasks; i++) {
        sum += (uintptr_t)vals[i];
        future_release(fs[i]);
    }
    free(fs);
    free(vals);
    return (void *)sum;
}

int main(int argc, char **argv)
{
    n_tasks = arg_long(argc, argv, 1, 1000);
    sleep_ms = arg_long(argc, argv, 2, 10);
    CHECK(n_tasks > 0 && sleep_ms >= 0, "usage: w3_loop [N] [ms]");

    fut_loop_t *loop = fut_loop_new(NULL);
    CHECK(loop != NULL, "fut_loop_new");
    void *res = NULL;
    uint64_t t0 = now_ns();
    int rc = fut_loop_run(loop, main_coro, NULL, &res);
    uint64_t t1 = now_ns();
    CHECK(rc == 0, "fut_loop_run");
    CHECK((uintptr_t)res == (uintptr_t)n_tasks * (uintptr_t)(n_tasks - 1) / 2, "sum");

    char label[64];
    report("W3", bench_label(label, sizeof label, "libfutures-loop", n_tasks, 1000, 0, 0),
           "wall", (double)(t1 - t0) / 1e6, "ms");
    fut_loop_free(loop);
    return 0;
}
