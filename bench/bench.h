/* SPDX-License-Identifier: MIT */
/*
 * bench.h - measurement helpers for the libfutures benchmarks (bench/wN_*.c)
 *
 * The helpers below are copies of those in ../shared/peers/src/common.h, the
 * peer harness every figure is compared against, with the SAME measurement
 * semantics: CLOCK_MONOTONIC timer, argv sizes, the one-line report format
 * "workload peer metric value unit", the W2 kernel, VmHWM/VmRSS readers and
 * the nearest-rank percentile.  They are copied (not #included) so that the
 * project's benches build without ../shared; keep them identical to
 * common.h if that file changes (bench/run.sh does not depend on it either).
 *
 * Names carry a bench_ prefix only where common.h's would clash with the
 * library or the compiler flags (-Wmissing-prototypes: all are static inline).
 */
#ifndef FUT_BENCH_H
#define FUT_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline long arg_long(int argc, char **argv, int idx, long dflt)
{
    if (argc > idx)
        return strtol(argv[idx], NULL, 10);
    return dflt;
}

static inline int ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* One result line: "workload peer metric value unit". */
static inline void report(const char *workload, const char *peer,
                          const char *metric, double value, const char *unit)
{
    printf("%s %s %s %.3f %s\n", workload, peer, metric, value, unit);
    fflush(stdout);
}

/* CPU-bound kernel for W2: a dependent chain of multiply/xor-shift steps
 * (identical to common.h: 26000 iterations are about 50 us on the 2-core
 * machine). */
/* noinline, and 64-byte aligned: every program then runs one copy of the
 * kernel's machine code, in its sequential loop and in its jobs alike.  As
 * an inline function each program had two copies, whose loops the compiler
 * placed differently; on the 16-core machine that made the "speedup" with
 * ONE worker 0.98 for one binary and 1.02 for another (GLib), i.e. the
 * W2 ratios carried a +-2 % code-placement artefact (doc/performance.md). */
__attribute__((noinline, aligned(64), unused))
static uint64_t hash_kernel(uint64_t seed, long iters)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (long i = 0; i < iters; i++) {
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 29;
    }
    return x;
}

/* Peak resident set size (VmHWM) and current RSS (VmRSS) in KB. */
static inline long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static inline int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentile (0..100) of an array of ns samples; sorts in place. */
static inline double percentile_us(uint64_t *v, size_t n, double pct)
{
    qsort(v, n, sizeof *v, cmp_u64);
    size_t idx = (size_t)((pct / 100.0) * (double)(n - 1) + 0.5);
    if (idx >= n)
        idx = n - 1;
    return (double)v[idx] / 1000.0;
}

#define CHECK(cond, msg)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "CHECK FAILED: %s (%s:%d)\n", msg, __FILE__,   \
                    __LINE__);                                             \
            exit(2);                                                       \
        }                                                                  \
    } while (0)

/* ---- libfutures-only helpers (not in common.h) ---------------------- */

/* The peer label: `base`, plus "-N<n>" when n differs from the workload's
 * default size (so a size sweep gives one table row per size) and "-<t>thr"
 * when the thread count differs from the default. */
static inline const char *bench_label(char *buf, size_t len, const char *base,
                                      long n, long n_default,
                                      long threads, long threads_default)
{
    int k = snprintf(buf, len, "%s", base);
    if (n != n_default && k > 0 && (size_t)k < len)
        k += snprintf(buf + k, len - (size_t)k, "-N%ld", n);
    if (threads != threads_default && k > 0 && (size_t)k < len)
        snprintf(buf + k, len - (size_t)k, "-%ldthr", threads);
    return buf;
}

#endif /* FUT_BENCH_H */
