/* SPDX-License-Identifier: MIT */
/*
 * W6 round trip, libfutures pool (BENCH.md): with the pool idle, submit one
 * job (returns arg + 1) and future_get its value; 20,000 times after 100
 * warm-up rounds.  One sample = submit .. value in hand (the release of the
 * future comes after the sample, as the peers destroy their futures after
 * theirs).  Pool: one thread per core, as the peers' pools.
 *
 *   w6_pool [N=20000] [threads=ncpus] [gap_us=0] [caller_runs=0]
 *
 * gap_us > 0 sleeps that long (untimed) before every round, so that the
 * pool's threads have gone from spinning to parked when the job arrives:
 * the round trip then includes a real wake-up (the peers' workers park at
 * once; libfutures' spin for a while first, so back-to-back rounds, the
 * BENCH.md workload, may never sleep).  The label gets -gap<g>us.
 *
 * Prints: W6 libfutures-pool median_rtt X us / W6 libfutures-pool p99_rtt X us
 */
#include <stdint.h>
#include <futures.h>
#include "bench.h"

static void *inc(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 20000);
    long nt = arg_long(argc, argv, 2, ncpus());
    long gap_us = arg_long(argc, argv, 3, 0);
    long cr = arg_long(argc, argv, 4, 0);
    CHECK(n > 0 && nt > 0 && gap_us >= 0, "usage: w6_pool [N] [threads] [gap_us] [caller_runs]");
    struct timespec gap = { gap_us / 1000000, (gap_us % 1000000) * 1000L };

    /* caller_runs=1: the waiting thread runs the job when no worker has
     * taken it yet (then it is mostly not a round trip: label -callerruns) */
    fut_pool_opts opts = { .threads = (size_t)nt, .queue_max = 0, .name = "w6",
                           .caller_runs = cr != 0 };
    fut_pool_t *pool = fut_pool_new(&opts);
    CHECK(pool != NULL, "fut_pool_new");
    uint64_t *lat = malloc(sizeof *lat * (size_t)n);
    CHECK(lat != NULL, "malloc");

    for (long i = -100; i < n; i++) { /* 100 warm-up rounds */
        void *v = NULL;
        if (gap_us)
            nanosleep(&gap, NULL);
        uint64_t t0 = now_ns();
        future_t *f = fut_pool_submit(pool, inc, (void *)(intptr_t)i);
        CHECK(f != NULL, "fut_pool_submit");
        int rc = future_get(f, &v);
        uint64_t t1 = now_ns();
        CHECK(rc == 0 && (intptr_t)v == i + 1, "value");
        future_release(f);
        if (i >= 0)
            lat[i] = t1 - t0;
    }

    char base[64], label[96];
    if (gap_us)
        snprintf(base, sizeof base, "libfutures-pool%s-gap%ldus", cr ? "-callerruns" : "",
                 gap_us);
    else
        snprintf(base, sizeof base, "libfutures-pool%s", cr ? "-callerruns" : "");
    bench_label(label, sizeof label, base, n, 20000, nt, ncpus());
    report("W6", label, "median_rtt", percentile_us(lat, (size_t)n, 50), "us");
    report("W6", label, "p99_rtt", percentile_us(lat, (size_t)n, 99), "us");
    fut_pool_free(pool);
    free(lat);
    return 0;
}
