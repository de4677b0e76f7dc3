/* SPDX-License-Identifier: MIT */
/*
 * W1 fanout-empty, sequential baseline: call the trivial job (argument + 1)
 * N times through a function pointer, store every result, sum and check.
 * No library: the floor any task system is measured against.
 *
 *   w1_seq [N=1000000]
 *
 * Prints: W1 sequential ns_per_task X ns   (-N<n> when N != 10^6).
 */
#include <stdint.h>
#include "bench.h"

__attribute__((noinline)) static uintptr_t job(uintptr_t arg)
{
    __asm__ volatile("");
    return arg + 1;
}

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 1000000);
    CHECK(n > 0, "usage: w1_seq [N]");
    uintptr_t *res = malloc(sizeof *res * (size_t)n);
    CHECK(res != NULL, "malloc");
    memset(res, 0, sizeof *res * (size_t)n); /* touched before timing, as w1_pool */
    uintptr_t (*volatile fp)(uintptr_t) = job;

    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        res[i] = fp((uintptr_t)i);
    uintptr_t sum = 0;
    for (long i = 0; i < n; i++)
        sum += res[i];
    uint64_t t1 = now_ns();
    CHECK(sum == (uintptr_t)n * (uintptr_t)(n + 1) / 2, "sum");

    char label[64];
    report("W1", bench_label(label, sizeof label, "sequential", n, 1000000, 0, 0),
           "ns_per_task", (double)(t1 - t0) / (double)n, "ns");
    free(res);
    return 0;
}
