/* SPDX-License-Identifier: MIT */
/*
 * W2 fanout-cpu, libfutures pool (BENCH.md): N jobs of the fixed integer-hash
 * kernel (hash_kernel(i, iters), ~50 us at 26000 iterations).  As the peers
 * (w2_tbb.cc): a sequential loop over the same N kernels in the same process
 * first, then the pool (created and warmed before timing) runs them, every
 * result is stored and the sum checked against the sequential one.  Timed:
 * the submits, the gather, the sum and the releases of the futures.
 *
 *   w2_pool [N=2000] [iters=26000] [threads=ncpus] [caller_runs=0]
 *
 * Prints: W2 libfutures-pool speedup X x   (sequential wall / pool wall;
 * label gets -<t>thr when threads differ from ncpus).
 */
#include <stdint.h>
#include <futures.h>
#include "bench.h"

static long iters;
static uint64_t *res;

static void *kernel_job(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    res[i] = hash_kernel(i, iters);
    return NULL;
}

static void *nop(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 2000);
    iters = arg_long(argc, argv, 2, 26000);
    long nt = arg_long(argc, argv, 3, ncpus());
    long cr = arg_long(argc, argv, 4, 0);
    CHECK(n > 0 && iters > 0 && nt > 0, "usage: w2_pool [N] [iters] [threads] [caller_runs]");

    res = calloc((size_t)n, sizeof *res);
    future_t **fs = malloc(sizeof *fs * (size_t)n);
    CHECK(res && fs, "malloc");
    memset(fs, 0, sizeof *fs * (size_t)n); /* touched before timing */

    uint64_t ref = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        ref += hash_kernel((uint64_t)i, iters);
    uint64_t t1 = now_ns();

    /* The pool starts after the sequential loop (as TBB's threads do in
     * w2_tbb.cc), so no idle worker shares the CPU with it. */
    /* caller_runs=1: the gathering thread computes queued jobs too (as
     * TBB's does); label -callerruns */
    fut_pool_opts opts = { .threads = (size_t)nt, .queue_max = 0, .name = "w2",
                           .caller_runs = cr != 0 };
    fut_pool_t *pool = fut_pool_new(&opts);
    CHECK(pool != NULL, "fut_pool_new");

    future_t *w = fut_pool_submit(pool, nop, NULL); /* warm-up */
    CHECK(w != NULL && future_get(w, NULL) == 0, "warm-up");
    future_release(w);

    uint64_t t2 = now_ns();
    for (long i = 0; i < n; i++) {
        fs[i] = fut_pool_submit(pool, kernel_job, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_pool_submit");
    }
    int rc = future_gather(fs, (size_t)n, NULL, FUT_FOREVER);
    uint64_t sum = 0;
    for (long i = 0; i < n; i++)
        sum += res[i];
    for (long i = 0; i < n; i++)
        future_release(fs[i]);
    uint64_t t3 = now_ns();
    CHECK(rc == 0, "future_gather");
    CHECK(sum == ref, "sum");

    char label[64];
    report("W2", bench_label(label, sizeof label,
                             cr ? "libfutures-pool-callerruns" : "libfutures-pool", n, 2000,
                             nt, ncpus()),
           "speedup", (double)(t1 - t0) / (double)(t3 - t2), "x");
    fut_pool_free(pool);
    free(fs);
    free(res);
    return 0;
}
