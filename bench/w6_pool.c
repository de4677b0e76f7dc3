/*
 * W6 round trip, libfutures pool (BENCH.md): with the pool idle, submit one
 * job (returns arg + 1) and future_get its value; 20,000 times after 100
 * warm-up rounds.  One sample = submit .. value in hand (the release of the
 * future comes after the sample, as the peers destroy their futures after
 * theirs).  Pool: one thread per core, as the peers' pools.
 *
 *   w6_pool [N=20000] [threads=ncpus]
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
    CHECK(n > 0 && nt > 0, "usage: w6_pool [N] [threads]");

    fut_pool_opts opts = { .threads = (size_t)nt, .queue_max = 0, .name = "w6" };
    fut_pool_t *pool = fut_pool_new(&opts);
    CHECK(pool != NULL, "fut_pool_new");
    uint64_t *lat = malloc(sizeof *lat * (size_t)n);
    CHECK(lat != NULL, "malloc");

    for (long i = -100; i < n; i++) { /* 100 warm-up rounds */
        void *v = NULL;
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

    char label[64];
    bench_label(label, sizeof label, "libfutures-pool", n, 20000, nt, ncpus());
    report("W6", label, "median_rtt", percentile_us(lat, (size_t)n, 50), "us");
    report("W6", label, "p99_rtt", percentile_us(lat, (size_t)n, 99), "us");
    fut_pool_free(pool);
    free(lat);
    return 0;
}
