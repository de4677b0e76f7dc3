/* SPDX-License-Identifier: MIT */
/*
 * W1 fanout-empty, libfutures pool (BENCH.md): one thread submits N trivial
 * jobs (each returns its argument + 1) to a pool of one thread per core,
 * gathers all futures with one future_gather, checks the sum.  Timed: the N
 * submits, the gather, the sum and the N future_release calls (a future is
 * the library's per-job allocation, so freeing it is part of the per-task
 * cost; the peers' TBB tasks are also freed inside their timed region).
 *
 *   w1_pool [N=1000000] [threads=ncpus] [rounds=1] [caller_runs=0]
 *
 * caller_runs=1 makes the pool with fut_pool_opts.caller_runs: the
 * gathering thread runs the jobs still queued itself (label
 * libfutures-pool-callerruns...).
 *
 * rounds > 1 repeats the fan-out back to back on the same pool and reports
 * the median round (used by bench/run.sh for the N = 10^2..10^6 sweep, where
 * one round of 100 jobs is too short to time alone).  Only the first round
 * pays the first touch of the heap pages the N futures occupy (on the 2-core
 * VM a fresh page costs 10-50 us, i.e. most of a cold round), so the median
 * round is the library's warm per-task cost; the row is labelled
 * libfutures-pool-warm-N<n>.  The pool is created and warmed (one job round
 * trip) before timing, as the peers' pools are.
 *
 * Prints: W1 libfutures-pool ns_per_task X ns   (label gets -N<n> / -<t>thr
 * when N or threads differ from the defaults).
 */
#include <stdint.h>
#include <futures.h>
#include "bench.h"

static void *inc(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

static double one_round(fut_pool_t *pool, long n, future_t **fs, void **vals)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        fs[i] = fut_pool_submit(pool, inc, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_pool_submit");
    }
    int rc = future_gather(fs, (size_t)n, vals, FUT_FOREVER);
    uintptr_t sum = 0;
    for (long i = 0; i < n; i++)
        sum += (uintptr_t)vals[i];
    for (long i = 0; i < n; i++)
        future_release(fs[i]);
    uint64_t t1 = now_ns();
    CHECK(rc == 0, "future_gather");
    CHECK(sum == (uintptr_t)n * (uintptr_t)(n + 1) / 2, "sum");
    return (double)(t1 - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 1000000);
    long nt = arg_long(argc, argv, 2, ncpus());
    long rounds = arg_long(argc, argv, 3, 1);
    long cr = arg_long(argc, argv, 4, 0);
    CHECK(n > 0 && nt > 0 && rounds > 0, "usage: w1_pool [N] [threads] [rounds] [caller_runs]");

    fut_pool_opts opts = { .threads = (size_t)nt, .queue_max = 0, .name = "w1",
                           .caller_runs = cr != 0 };
    fut_pool_t *pool = fut_pool_new(&opts);
    CHECK(pool != NULL, "fut_pool_new");
    future_t **fs = malloc(sizeof *fs * (size_t)n);
    void **vals = malloc(sizeof *vals * (size_t)n);
    double *per = malloc(sizeof *per * (size_t)rounds);
    CHECK(fs && vals && per, "malloc");
    /* The benchmark's own arrays are touched before timing (as TBB's result
     * vector is), so their first-touch page faults are not charged to the
     * library. */
    memset(fs, 0, sizeof *fs * (size_t)n);
    memset(vals, 0, sizeof *vals * (size_t)n);

    /* warm-up: the workers have started and run one job */
    void *v = NULL;
    future_t *w = fut_pool_submit(pool, inc, (void *)(uintptr_t)41);
    CHECK(w != NULL && future_get(w, &v) == 0 && (uintptr_t)v == 42, "warm-up");
    future_release(w);

    for (long r = 0; r < rounds; r++)
        per[r] = one_round(pool, n, fs, vals);
    qsort(per, (size_t)rounds, sizeof *per, cmp_double);

    /* One round (BENCH.md's figure): the label carries -N<n> only when N is
     * not the default.  Several rounds: "libfutures-pool-warm-N<n>", always
     * with N, since after the first round the pool, the heap pages and the
     * caches are warm (a different quantity from the cold single round). */
    char label[96];
    if (rounds > 1) {
        char base[64];
        snprintf(base, sizeof base, "libfutures-pool%s-warm-N%ld", cr ? "-callerruns" : "", n);
        bench_label(label, sizeof label, base, 0, 0, nt, ncpus());
    } else {
        bench_label(label, sizeof label, cr ? "libfutures-pool-callerruns" : "libfutures-pool",
                    n, 1000000, nt, ncpus());
    }
    report("W1", label, "ns_per_task", per[rounds / 2], "ns");
    fut_pool_free(pool);
    free(fs);
    free(vals);
    free(per);
    return 0;
}
