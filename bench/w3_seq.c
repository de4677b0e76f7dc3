/* SPDX-License-Identifier: MIT */
/*
 * W3 sleep-bound, sequential baseline: N waits of 10 ms one after the other
 * (nanosleep), as a program without any concurrency would do them.
 * Ideal N x 10 ms; nanosleep overshoots by ~0.1 ms each on the 2-core VM.
 *
 *   w3_seq [N=1000] [ms=10]
 *
 * Prints: W3 sequential wall X ms   (-N<n> when N != 1000).
 */
#include <stdint.h>
#include "bench.h"

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 1000);
    long ms = arg_long(argc, argv, 2, 10);
    CHECK(n > 0 && ms >= 0, "usage: w3_seq [N] [ms]");
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    uintptr_t sum = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        nanosleep(&ts, NULL);
        sum += (uintptr_t)i;
    }
    uint64_t t1 = now_ns();
    CHECK(sum == (uintptr_t)n * (uintptr_t)(n - 1) / 2, "sum");
    char label[64];
    report("W3", bench_label(label, sizeof label, "sequential", n, 1000, 0, 0), "wall",
           (double)(t1 - t0) / 1e6, "ms");
    return 0;
}
