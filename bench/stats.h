/* SPDX-License-Identifier: MIT */
/*
 * stats.h - small helpers for the issue-6 programs (sequential baselines,
 * loop variants, the growth sweeps), beside bench.h (the peers' common.h
 * copy, which stays identical to its original).  C and C++.
 */
#ifndef FUT_BENCH_STATS_H
#define FUT_BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of n doubles (sorts in place). */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* CPU time of the calling thread, ns: what the loop's thread spent, not
 * counting the time it slept waiting for a deadline. */
static inline uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a deterministic pseudo-random sequence per seed. */
static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif /* FUT_BENCH_STATS_H */
