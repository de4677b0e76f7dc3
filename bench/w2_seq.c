/* SPDX-License-Identifier: MIT */
/*
 * W2 fanout-cpu, sequential baseline: the N kernels (hash_kernel(i, iters),
 * ~50 us each at 26000 iterations) one after the other; the time of one.
 * The pool and loop programs run the same loop in their own process and
 * report their speedup over it.
 *
 *   w2_seq [N=2000] [iters=26000]
 *
 * Prints: W2 sequential us_per_job X us
 */
#include <stdint.h>
#include "bench.h"

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 2000);
    long iters = arg_long(argc, argv, 2, 26000);
    CHECK(n > 0 && iters > 0, "usage: w2_seq [N] [iters]");
    uint64_t sum = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        sum += hash_kernel((uint64_t)i, iters);
    uint64_t t1 = now_ns();
    CHECK(sum != 0, "sum");
    report("W2", "sequential", "us_per_job", (double)(t1 - t0) / (double)n / 1000.0, "us");
    return 0;
}
