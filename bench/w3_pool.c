/* SPDX-License-Identifier: MIT */
/*
 * W3 sleep-bound, libfutures pool (BENCH.md): N jobs, each nanosleep(10 ms)
 * and returns its index, on a pool of a fixed 2 threads (as the peers'
 * glib-GThreadPool-2thr / py-ThreadPoolExecutor-2thr); one future_gather,
 * sum checked.  Ideal: N x 10 ms / T = 5,000 ms; target <= 1.02x that.
 *
 *   w3_pool [N=1000] [ms=10] [threads=2]
 *
 * Prints: W3 libfutures-pool-<T>thr wall X ms   (-N<n> when N != 1000).
 */
#include <stdint.h>
#include <futures.h>
#include "bench.h"

static long sleep_ms;

static void *sleeper(void *arg)
{
    struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    return arg;
}

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 1000);
    sleep_ms = arg_long(argc, argv, 2, 10);
    long nt = arg_long(argc, argv, 3, 2);
    CHECK(n > 0 && sleep_ms >= 0 && nt > 0, "usage: w3_pool [N] [ms] [threads]");

    fut_pool_opts opts = { .threads = (size_t)nt, .queue_max = 0, .name = "w3" };
    fut_pool_t *pool = fut_pool_new(&opts);
    CHECK(pool != NULL, "fut_pool_new");
    future_t **fs = malloc(sizeof *fs * (size_t)n);
    void **vals = malloc(sizeof *vals * (size_t)n);
    CHECK(fs && vals, "malloc");
    memset(fs, 0, sizeof *fs * (size_t)n); /* touched before timing */
    memset(vals, 0, sizeof *vals * (size_t)n);

    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        fs[i] = fut_pool_submit(pool, sleeper, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_pool_submit");
    }
    int rc = future_gather(fs, (size_t)n, vals, FUT_FOREVER);
    uintptr_t sum = 0;
    for (long i = 0; i < n; i++)
        sum += (uintptr_t)vals[i];
    uint64_t t1 = now_ns();
    CHECK(rc == 0, "future_gather");
    CHECK(sum == (uintptr_t)n * (uintptr_t)(n - 1) / 2, "sum");

    char base[48], label[64];
    snprintf(base, sizeof base, "libfutures-pool-%ldthr", nt);
    report("W3", bench_label(label, sizeof label, base, n, 1000, 0, 0), "wall",
           (double)(t1 - t0) / 1e6, "ms");
    for (long i = 0; i < n; i++)
        future_release(fs[i]);
    fut_pool_free(pool);
    free(fs);
    free(vals);
    return 0;
}
