/* SPDX-License-Identifier: MIT */
/*
 * How the cost per task grows with the number of tasks (issue 6, BENCH.md
 * "also measured"): a fan-out of N trivial tasks (return arg + 1) on the
 * pool or on the loop, repeated `rounds` times in one process, with the
 * time of each phase per task:
 *
 *   pool:  submit   the N fut_pool_submit calls (the workers run jobs
 *                   meanwhile: completing overlaps submitting)
 *          wait     future_gather after the last submit: the jobs still
 *                   queued complete, the gather wakes
 *          release  the N future_release calls (the futures are freed)
 *   loop:  spawn    the N fut_spawn calls (futures only; no stack yet)
 *          wait     future_gather: the loop starts, runs and completes
 *                   every coroutine (stack from the free list, two
 *                   switches), then resumes the gatherer
 *          release  as for the pool
 *
 * and their sum, ns_per_task.  The first round is reported apart as
 * cold_ns_per_task (it pays the first touch of the heap pages the N
 * futures occupy: 10-40 us per fresh page on the 2-core VM); the other
 * rounds' median is the warm cost.  O(1) per task means every metric stays
 * flat as N goes 10^2 -> 10^6 (BENCH.md: within 1.5x).
 *
 *   scale pool N [rounds=5] [threads=ncpus]
 *   scale loop N [rounds=5]
 *
 * Prints: W1-scale libfutures-{pool,loop}-N<n> <phase>_ns_per_task X ns
 */
#include <errno.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"
#include "stats.h"

enum { PH_SUBMIT, PH_WAIT, PH_RELEASE, PH_TOTAL, NPH };

static long n_tasks, rounds;
static future_t **fs;
static void **vals;
static double *ph[NPH];

static void *inc(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

/* One round: submit (or spawn), gather, sum, release; fills ph[*][r]. */
static void one_round(fut_pool_t *pool, long r)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < n_tasks; i++) {
        fs[i] = pool ? fut_pool_submit(pool, inc, (void *)(uintptr_t)i)
                     : fut_spawn(inc, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "submit/spawn");
    }
    uint64_t t1 = now_ns();
    int rc = future_gather(fs, (size_t)n_tasks, vals, FUT_FOREVER);
    uint64_t t2 = now_ns();
    uintptr_t sum = 0;
    for (long i = 0; i < n_tasks; i++)
        sum += (uintptr_t)vals[i];
    for (long i = 0; i < n_tasks; i++)
        future_release(fs[i]);
    uint64_t t3 = now_ns();
    CHECK(rc == 0, "future_gather");
    CHECK(sum == (uintptr_t)n_tasks * (uintptr_t)(n_tasks + 1) / 2, "sum");
    double n = (double)n_tasks;
    ph[PH_SUBMIT][r] = (double)(t1 - t0) / n;
    ph[PH_WAIT][r] = (double)(t2 - t1) / n;
    ph[PH_RELEASE][r] = (double)(t3 - t2) / n;
    ph[PH_TOTAL][r] = (double)(t3 - t0) / n;
}

static void *loop_main(void *unused)
{
    (void)unused;
    void *v = NULL;
    future_t *w = fut_spawn(inc, (void *)(uintptr_t)41); /* warm-up */
    CHECK(w != NULL && future_get(w, &v) == 0 && (uintptr_t)v == 42, "warm-up");
    future_release(w);
    for (long r = 0; r < rounds; r++)
        one_round(NULL, r);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int is_pool = strcmp(mode, "pool") == 0;
    CHECK(is_pool || strcmp(mode, "loop") == 0, "usage: scale pool|loop N [rounds] [threads]");
    n_tasks = arg_long(argc, argv, 2, 100000);
    rounds = arg_long(argc, argv, 3, 5);
    long nt = arg_long(argc, argv, 4, ncpus());
    CHECK(n_tasks > 0 && rounds >= 2 && nt > 0, "N > 0, rounds >= 2, threads > 0");

    fs = malloc(sizeof *fs * (size_t)n_tasks);
    vals = malloc(sizeof *vals * (size_t)n_tasks);
    CHECK(fs && vals, "malloc");
    memset(fs, 0, sizeof *fs * (size_t)n_tasks);   /* touched before timing */
    memset(vals, 0, sizeof *vals * (size_t)n_tasks);
    for (int p = 0; p < NPH; p++) {
        ph[p] = malloc(sizeof(double) * (size_t)rounds);
        CHECK(ph[p] != NULL, "malloc");
    }

    if (is_pool) {
        fut_pool_opts opts = { .threads = (size_t)nt, .queue_max = 0, .name = "scale" };
        fut_pool_t *pool = fut_pool_new(&opts);
        CHECK(pool != NULL, "fut_pool_new");
        void *v = NULL;
        future_t *w = fut_pool_submit(pool, inc, (void *)(uintptr_t)41); /* warm-up */
        CHECK(w != NULL && future_get(w, &v) == 0 && (uintptr_t)v == 42, "warm-up");
        future_release(w);
        for (long r = 0; r < rounds; r++)
            one_round(pool, r);
        fut_pool_free(pool);
    } else {
        CHECK(fut_run(loop_main, NULL, NULL) == 0, "fut_run");
    }

    char base[48], label[64];
    snprintf(base, sizeof base, "libfutures-%s-N%ld", is_pool ? "pool" : "loop", n_tasks);
    bench_label(label, sizeof label, base, 0, 0, is_pool ? nt : 0, is_pool ? ncpus() : 0);
    static const char *names[NPH] = { NULL, "wait_ns_per_task", "release_ns_per_task",
                                      "ns_per_task" };
    double cold = ph[PH_TOTAL][0];
    for (int p = 0; p < NPH; p++) {
        const char *name = p == PH_SUBMIT ? (is_pool ? "submit_ns_per_task" : "spawn_ns_per_task")
                                          : names[p];
        report("W1-scale", label, name, bench_median(ph[p] + 1, (size_t)rounds - 1), "ns");
    }
    report("W1-scale", label, "cold_ns_per_task", cold, "ns");
    for (int p = 0; p < NPH; p++)
        free(ph[p]);
    free(fs);
    free(vals);
    return 0;
}
