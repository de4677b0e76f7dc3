/* SPDX-License-Identifier: MIT */
/*
 * W5 many-coroutines, libfutures cooperative loop (BENCH.md): N = 100,000
 * coroutines, each fut_sleep(100) then returns its index; the main
 * coroutine spawns them (fut_spawn) and gathers all with one future_gather;
 * sum checked.  Memory as the peers (w5_bfiber.cc, w5_uv.c): VmRSS read at
 * the start of main(), VmHWM at the end; bytes per task =
 * (VmHWM - VmRSS at start) / N.  Must run with the default vm.max_map_count.
 * Timed: fut_loop_run (the loop object is created just before).
 *
 *   w5_loop [N=100000] [ms=100] [stack_size=0 (library default)]
 *
 * Prints three lines: W5 libfutures-loop wall X ms / peak_rss X KB /
 * bytes_per_task X B   (-N<n> when N != 100000, -<k>KiBstack when a stack
 * size is given).  With W5_PHASES=1 in the environment (one clock read per
 * coroutine more), also start_phase X ms (from the last spawn to the last
 * coroutine's start) and after_last_start X ms (from there to the end:
 * the sleep and the last wake-ups): which of the two the wall is made of.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"

static long n_tasks, sleep_ms;
static bool phases;                     /* W5_PHASES=1 */
static uint64_t t_spawned, t_last_start;

static void *sleeper(void *arg)
{
    if (phases)
        t_last_start = now_ns();
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
    if (phases)
        t_spawned = now_ns();
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
    n_tasks = arg_long(argc, argv, 1, 100000);
    sleep_ms = arg_long(argc, argv, 2, 100);
    long stack = arg_long(argc, argv, 3, 0);
    CHECK(n_tasks > 0 && sleep_ms >= 0 && stack >= 0, "usage: w5_loop [N] [ms] [stack]");
    const char *ph = getenv("W5_PHASES");
    phases = ph && *ph == '1';
    long rss0 = proc_status_kb("VmRSS");

    fut_loop_opts opts = { .stack_size = (size_t)stack };
    fut_loop_t *loop = fut_loop_new(&opts);
    CHECK(loop != NULL, "fut_loop_new");
    void *res = NULL;
    uint64_t t0 = now_ns();
    int rc = fut_loop_run(loop, main_coro, NULL, &res);
    uint64_t t1 = now_ns();
    CHECK(rc == 0, "fut_loop_run");
    CHECK((uintptr_t)res == (uintptr_t)n_tasks * (uintptr_t)(n_tasks - 1) / 2, "sum");
    long hwm = proc_status_kb("VmHWM");

    char base[48], label[64];
    if (stack > 0)
        snprintf(base, sizeof base, "libfutures-loop-%ldKiBstack", stack / 1024);
    else
        snprintf(base, sizeof base, "libfutures-loop");
    bench_label(label, sizeof label, base, n_tasks, 100000, 0, 0);
    report("W5", label, "wall", (double)(t1 - t0) / 1e6, "ms");
    report("W5", label, "peak_rss", (double)hwm, "KB");
    report("W5", label, "bytes_per_task", (double)(hwm - rss0) * 1024.0 / (double)n_tasks, "B");
    if (phases) {
        /* from the last spawn to the last coroutine's start: the loop's
         * cost of starting them all, the wake-ups of the first ones mixed
         * in once it passes the sleep */
        report("W5", label, "start_phase", (double)(t_last_start - t_spawned) / 1e6, "ms");
        report("W5", label, "after_last_start", (double)(t1 - t_last_start) / 1e6, "ms");
    }
    fut_loop_free(loop);
    return 0;
}
