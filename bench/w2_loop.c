/* SPDX-License-Identifier: MIT */
/*
 * W2 fanout-cpu on the cooperative loop: the same N kernels as w2_pool.c,
 * each in a coroutine (fut_spawn), gathered with one future_gather; the
 * speedup over the sequential loop run first in the same process.  One
 * thread runs every coroutine: the expected speedup is 1.0 minus the
 * loop's overhead.  CPU work is not what the loop is for; this row says
 * so with a number.
 *
 *   w2_loop [N=2000] [iters=26000]
 *
 * Prints: W2 libfutures-loop speedup X x
 */
#include <errno.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"

static long n_jobs, iters;
static uint64_t *res;
static uint64_t t2, t3;

static void *kernel_coro(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    res[i] = hash_kernel(i, iters);
    return NULL;
}

static void *main_coro(void *unused)
{
    (void)unused;
    future_t **fs = calloc((size_t)n_jobs, sizeof *fs);
    if (!fs)
        return fut_raise(ENOMEM);
    t2 = now_ns();
    for (long i = 0; i < n_jobs; i++) {
        fs[i] = fut_spawn(kernel_coro, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_spawn");
    }
    int rc = future_gather(fs, (size_t)n_jobs, NULL, FUT_FOREVER);
    CHECK(rc == 0, "future_gather");
    for (long i = 0; i < n_jobs; i++)
        future_release(fs[i]);
    t3 = now_ns();
    free(fs);
    return NULL;
}

int main(int argc, char **argv)
{
    n_jobs = arg_long(argc, argv, 1, 2000);
    iters = arg_long(argc, argv, 2, 26000);
    CHECK(n_jobs > 0 && iters > 0, "usage: w2_loop [N] [iters]");
    res = calloc((size_t)n_jobs, sizeof *res);
    CHECK(res != NULL, "calloc");

    uint64_t ref = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n_jobs; i++)
        ref += hash_kernel((uint64_t)i, iters);
    uint64_t t1 = now_ns();

    CHECK(fut_run(main_coro, NULL, NULL) == 0, "fut_run");
    uint64_t sum = 0;
    for (long i = 0; i < n_jobs; i++)
        sum += res[i];
    CHECK(sum == ref, "sum");

    char label[64];
    report("W2", bench_label(label, sizeof label, "libfutures-loop", n_jobs, 2000, 0, 0),
           "speedup", (double)(t1 - t0) / (double)(t3 - t2), "x");
    free(res);
    return 0;
}
