/* SPDX-License-Identifier: MIT */
/*
 * group.c - what a task group costs (issue 10), in one run:
 *
 *   per member   N coroutines spawned through a group and waited for
 *                (fut_group_spawn + fut_group_wait + fut_group_free)
 *                against fut_spawn + one future_gather; N jobs submitted
 *                through a group (fut_group_submit) against fut_pool_submit
 *                + one future_gather.  Trivial bodies (return the
 *                argument + 1; the sum is checked), so what is measured is
 *                the library's cost per member.  N = 10^3, 10^4, 10^5, 10^6
 *                (QUICK=1: up to 10^5).  The two forms alternate round by
 *                round, so that both see the same machine; the median
 *                round of each is reported.  Timed: creating, waiting,
 *                releasing the futures (and the group).
 *   cancel       10^5 coroutines spawned into a group, each sleeping 60 s:
 *                the time to spawn them until all are asleep (the spawns
 *                plus the one yield that starts them), against the time to
 *                cancel the group and wait until every one has ended
 *                (fut_group_cancel + fut_group_wait).  QUICK=1: 10^4.
 *
 *   group [rounds=5]
 *
 * Prints lines "GROUP <peer> <metric> <value> <unit>" (BENCH.md's format):
 *
 *   GROUP libfutures-loop-gather-N<n>  ns_per_member  X ns
 *   GROUP libfutures-loop-group-N<n>   ns_per_member  X ns
 *   GROUP libfutures-loop-group-N<n>   ratio_to_plain X x
 *   GROUP libfutures-pool-gather-N<n>  ns_per_member  X ns   (and -group-, ratio)
 *   GROUP libfutures-cancel-N<n>       spawn_ms / cancel_ms / cancel_to_spawn
 *
 * Targets (issue 10): ratio_to_plain <= 1.2 at every N; cancel_to_spawn
 * <= 2 at N = 10^5.
 */
#include <errno.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"
#include "stats.h"

static void *inc(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

static uintptr_t expected_sum(long n)
{
    return (uintptr_t)n * (uintptr_t)(n + 1) / 2;
}

/* ---- one round of each form ---------------------------------------- */

static future_t **fs;                  /* n slots, reused by every round */
static void **vals;

/* In a coroutine: fut_spawn n, gather, release.  ns per member. */
static double loop_plain(long n)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        fs[i] = fut_spawn(inc, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_spawn");
    }
    int rc = future_gather(fs, (size_t)n, vals, FUT_FOREVER);
    uintptr_t sum = 0;
    for (long i = 0; i < n; i++) {
        sum += (uintptr_t)vals[i];
        future_release(fs[i]);
    }
    uint64_t t1 = now_ns();
    CHECK(rc == 0 && sum == expected_sum(n), "gather");
    return (double)(t1 - t0) / (double)n;
}

/* In a coroutine: a group of n spawned coroutines, waited for; then the
 * values are read (one future_gather of complete futures). */
static double loop_group(long n)
{
    uint64_t t0 = now_ns();
    fut_group_t *g = fut_group_new();
    CHECK(g != NULL, "fut_group_new");
    for (long i = 0; i < n; i++) {
        fs[i] = fut_group_spawn(g, inc, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_group_spawn");
    }
    int rc = fut_group_wait(g, FUT_FOREVER);
    /* The values, as the plain form gets them: every member is complete,
     * so this gather only reads them. */
    int rc2 = future_gather(fs, (size_t)n, vals, 0);
    uintptr_t sum = 0;
    for (long i = 0; i < n; i++) {
        sum += (uintptr_t)vals[i];
        future_release(fs[i]);
    }
    fut_group_free(g);
    uint64_t t1 = now_ns();
    CHECK(rc == 0 && rc2 == 0 && sum == expected_sum(n), "group");
    return (double)(t1 - t0) / (double)n;
}

static double pool_plain(fut_pool_t *p, long n)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        fs[i] = fut_pool_submit(p, inc, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_pool_submit");
    }
    int rc = future_gather(fs, (size_t)n, vals, FUT_FOREVER);
    uintptr_t sum = 0;
    for (long i = 0; i < n; i++) {
        sum += (uintptr_t)vals[i];
        future_release(fs[i]);
    }
    uint64_t t1 = now_ns();
    CHECK(rc == 0 && sum == expected_sum(n), "pool gather");
    return (double)(t1 - t0) / (double)n;
}

static double pool_group(fut_pool_t *p, long n)
{
    uint64_t t0 = now_ns();
    fut_group_t *g = fut_group_new();
    CHECK(g != NULL, "fut_group_new");
    for (long i = 0; i < n; i++) {
        fs[i] = fut_group_submit(g, p, inc, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_group_submit");
    }
    int rc = fut_group_wait(g, FUT_FOREVER);
    /* The values, as the plain form gets them: every member is complete,
     * so this gather only reads them. */
    int rc2 = future_gather(fs, (size_t)n, vals, 0);
    uintptr_t sum = 0;
    for (long i = 0; i < n; i++) {
        sum += (uintptr_t)vals[i];
        future_release(fs[i]);
    }
    fut_group_free(g);
    uint64_t t1 = now_ns();
    CHECK(rc == 0 && rc2 == 0 && sum == expected_sum(n), "pool group");
    return (double)(t1 - t0) / (double)n;
}

/* ---- the sweep ------------------------------------------------------ */

static long sizes[] = {1000, 10000, 100000, 1000000};
static int nsizes;
static int rounds;
static fut_pool_t *pool;

static void report_pair(const char *kind, long n, double *plain, double *group, int k)
{
    char label[64];
    double mp = bench_median(plain, (size_t)k), mg = bench_median(group, (size_t)k);
    snprintf(label, sizeof label, "libfutures-%s-gather-N%ld", kind, n);
    report("GROUP", label, "ns_per_member", mp, "ns");
    snprintf(label, sizeof label, "libfutures-%s-group-N%ld", kind, n);
    report("GROUP", label, "ns_per_member", mg, "ns");
    report("GROUP", label, "ratio_to_plain", mg / mp, "x");
}

/* Rounds per size: enough members in total (about 2 * 10^6) for the small
 * sizes to be timed well, at least `rounds`. */
static int rounds_for(long n)
{
    long r = 2000000 / n;
    if (r < rounds)
        r = rounds;
    if (r > 200)
        r = 200;
    return (int)r;
}

static void *loop_sweep(void *arg)
{
    (void)arg;
    for (int s = 0; s < nsizes; s++) {
        long n = sizes[s];
        int k = rounds_for(n);
        double *a = malloc(sizeof *a * (size_t)k), *b = malloc(sizeof *b * (size_t)k);
        CHECK(a && b, "malloc");
        loop_plain(n);                 /* warm: stacks, chunks, pages */
        loop_group(n);
        for (int r = 0; r < k; r++) {
            a[r] = loop_plain(n);
            b[r] = loop_group(n);
        }
        report_pair("loop", n, a, b, k);
        free(a);
        free(b);
    }
    return NULL;
}

static void pool_sweep(void)
{
    for (int s = 0; s < nsizes; s++) {
        long n = sizes[s];
        int k = rounds_for(n);
        double *a = malloc(sizeof *a * (size_t)k), *b = malloc(sizeof *b * (size_t)k);
        CHECK(a && b, "malloc");
        pool_plain(pool, n);
        pool_group(pool, n);
        for (int r = 0; r < k; r++) {
            a[r] = pool_plain(pool, n);
            b[r] = pool_group(pool, n);
        }
        report_pair("pool", n, a, b, k);
        free(a);
        free(b);
    }
}

/* ---- cancelling a group of sleeping coroutines ---------------------- */

static long cancel_n;

static void *sleeper(void *arg)
{
    (void)arg;
    int rc = fut_sleep(60000);
    return rc == ECANCELED ? NULL : fut_raise(EPROTO);
}

static void *cancel_round(void *arg)
{
    double *out = arg;                 /* spawn ms, cancel ms */
    fut_group_t *g = fut_group_new();
    CHECK(g != NULL, "fut_group_new");
    uint64_t t0 = now_ns();
    for (long i = 0; i < cancel_n; i++) {
        future_t *f = fut_group_spawn(g, sleeper, NULL);
        CHECK(f != NULL, "fut_group_spawn");
        future_release(f);
    }
    CHECK(fut_yield() == 0, "fut_yield");   /* every one starts and sleeps */
    uint64_t t1 = now_ns();
    CHECK(fut_group_cancel(g) == 0, "fut_group_cancel");
    int rc = fut_group_wait(g, FUT_FOREVER);
    uint64_t t2 = now_ns();
    CHECK(rc == ECANCELED, "the group's wait after a cancel");
    fut_group_free(g);
    out[0] = (double)(t1 - t0) / 1e6;
    out[1] = (double)(t2 - t1) / 1e6;
    return NULL;
}

static void cancel_bench(void)
{
    int k = rounds;
    double *sp = malloc(sizeof *sp * (size_t)k), *ca = malloc(sizeof *ca * (size_t)k);
    CHECK(sp && ca, "malloc");
    fut_loop_t *l = fut_loop_new(NULL);
    CHECK(l != NULL, "fut_loop_new");
    double warm[2];
    CHECK(fut_loop_run(l, cancel_round, warm, NULL) == 0, "warm-up round");
    for (int r = 0; r < k; r++) {
        double out[2];
        CHECK(fut_loop_run(l, cancel_round, out, NULL) == 0, "cancel round");
        sp[r] = out[0];
        ca[r] = out[1];
    }
    fut_loop_free(l);
    char label[64];
    snprintf(label, sizeof label, "libfutures-cancel-N%ld", cancel_n);
    double ms = bench_median(sp, (size_t)k), mc = bench_median(ca, (size_t)k);
    report("GROUP", label, "spawn_ms", ms, "ms");
    report("GROUP", label, "cancel_ms", mc, "ms");
    report("GROUP", label, "cancel_to_spawn", mc / ms, "x");
    free(sp);
    free(ca);
}

int main(int argc, char **argv)
{
    rounds = (int)arg_long(argc, argv, 1, 5);
    CHECK(rounds > 0, "usage: group [rounds]");
    const char *q = getenv("QUICK");
    bool quick = q && *q && *q != '0';
    nsizes = quick ? 3 : 4;
    cancel_n = quick ? 10000 : 100000;
    long maxn = sizes[nsizes - 1];
    fs = malloc(sizeof *fs * (size_t)maxn);
    vals = malloc(sizeof *vals * (size_t)maxn);
    CHECK(fs && vals, "malloc");

    CHECK(fut_run(loop_sweep, NULL, NULL) == 0, "loop sweep");
    pool = fut_pool_new(NULL);
    CHECK(pool != NULL, "fut_pool_new");
    pool_sweep();
    fut_pool_free(pool);
    cancel_bench();
    free(fs);
    free(vals);
    return 0;
}
