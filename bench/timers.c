/* SPDX-License-Identifier: MIT */
/*
 * Timer cost against the number of sleeping coroutines (issue 6: "sleeping
 * coroutines cost O(log n) or better per timer").  N coroutines are spawned
 * and parked on a promise, woken once (first_wake_ns_per_coro: the first
 * wake of each new coroutine, apart) and parked again; then, with the loop thread's CPU clock
 * (CLOCK_THREAD_CPUTIME_ID, which does not run while the loop sleeps
 * waiting for a deadline) read at each phase boundary:
 *
 *   yield phase  every coroutine calls fut_yield() K times (no timer: the
 *                control, the cost of a switch among N coroutines)
 *   sleep phase  every coroutine calls fut_sleep(1 + r % max_ms) K times,
 *                r pseudo-random per coroutine (so deadlines arrive in
 *                random order and the heap really reorders)
 *
 * cpu_ns_per_yield and cpu_ns_per_sleep are the phases' CPU time over N*K;
 * ns_per_timer = their difference: arming, firing and removing one timer
 * (heap push + pop, the clock reads, the loop's wake-ups from its timed
 * wait), the cost of the switch among N stacks taken out.  A binary heap
 * makes it O(log N); the loop's wake-ups are shared by every timer due at
 * once, so it should fall as N grows.
 *
 *   timers N [K=8] [max_ms=4] [K_yield=K]
 *
 * (K_yield and K apart let bench/growth.sh difference two callgrind runs:
 * instructions per yield and per sleep without the spawning.)
 *
 * Prints: W5-timers libfutures-loop-N<n> cpu_ns_per_yield / cpu_ns_per_sleep
 *         / ns_per_timer X ns, and sleep_wall X ms (the sleep phase's wall).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>
#include <futures.h>
#include "bench.h"
#include "stats.h"

static long n_co, k_yield, k_sleep, max_ms;
static long arrived, rearrived, yielded, slept;
static future_t *all_in, *go_warm, *all_in2, *go_yield, *yield_done, *go_sleep, *sleep_done;

static void *worker(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    uint64_t seed = i * 7919u + 1;
    if (++arrived == n_co)
        future_resolve(all_in, NULL);
    if (future_wait(go_warm, FUT_FOREVER) != 0)
        return fut_raise(ECANCELED);
    if (++rearrived == n_co)
        future_resolve(all_in2, NULL);
    if (future_wait(go_yield, FUT_FOREVER) != 0)
        return fut_raise(ECANCELED);
    for (long k = 0; k < k_yield; k++)
        if (fut_yield() != 0)
            return fut_raise(ECANCELED);
    if (++yielded == n_co)
        future_resolve(yield_done, NULL);
    if (future_wait(go_sleep, FUT_FOREVER) != 0)
        return fut_raise(ECANCELED);
    for (long k = 0; k < k_sleep; k++)
        if (fut_sleep(1 + (long)(bench_rand(&seed) % (uint64_t)max_ms)) != 0)
            return fut_raise(ECANCELED);
    if (++slept == n_co)
        future_resolve(sleep_done, NULL);
    return arg;
}

static uint64_t cw0, cw1, c0, c1, c2, w1, w2;
static long f0, f1, f2;     /* minor page faults at the phase boundaries */

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt;
}

static void *main_coro(void *unused)
{
    (void)unused;
    future_t **fs = malloc(sizeof *fs * (size_t)n_co);
    void **vals = malloc(sizeof *vals * (size_t)n_co);
    if (!fs || !vals) {
        free(fs);
        free(vals);
        return fut_raise(ENOMEM);
    }
    for (long i = 0; i < n_co; i++) {
        fs[i] = fut_spawn(worker, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_spawn");
    }
    CHECK(future_wait(all_in, FUT_FOREVER) == 0, "all_in");
    /* The first wake of each new coroutine, apart: on the 2-core VM the
     * loop's first access to a coroutine's stack page after the coroutine
     * was created costs several us (see doc/performance.md); it belongs to
     * creating a coroutine, not to a timer or a switch. */
    cw0 = thread_cpu_ns();
    future_resolve(go_warm, NULL);
    cw1 = thread_cpu_ns();
    CHECK(future_wait(all_in2, FUT_FOREVER) == 0, "all_in2");
    f0 = minflt();
    c0 = thread_cpu_ns();
    future_resolve(go_yield, NULL);
    CHECK(future_wait(yield_done, FUT_FOREVER) == 0, "yield_done");
    c1 = thread_cpu_ns();
    f1 = minflt();
    w1 = now_ns();
    future_resolve(go_sleep, NULL);
    CHECK(future_wait(sleep_done, FUT_FOREVER) == 0, "sleep_done");
    c2 = thread_cpu_ns();
    f2 = minflt();
    w2 = now_ns();
    int rc = future_gather(fs, (size_t)n_co, vals, FUT_FOREVER);
    CHECK(rc == 0, "future_gather");
    uintptr_t sum = 0;
    for (long i = 0; i < n_co; i++) {
        sum += (uintptr_t)vals[i];
        future_release(fs[i]);
    }
    free(fs);
    free(vals);
    return (void *)sum;
}

int main(int argc, char **argv)
{
    n_co = arg_long(argc, argv, 1, 10000);
    k_sleep = arg_long(argc, argv, 2, 8);
    max_ms = arg_long(argc, argv, 3, 4);
    k_yield = arg_long(argc, argv, 4, k_sleep);
    CHECK(n_co > 0 && k_sleep >= 0 && k_yield >= 0 && max_ms > 0,
          "usage: timers N [K] [max_ms] [K_yield]");
    all_in = future_new();
    go_warm = future_new();
    all_in2 = future_new();
    go_yield = future_new();
    yield_done = future_new();
    go_sleep = future_new();
    sleep_done = future_new();
    CHECK(all_in && go_warm && all_in2 && go_yield && yield_done && go_sleep && sleep_done,
          "future_new");

    void *res = NULL;
    CHECK(fut_run(main_coro, NULL, &res) == 0, "fut_run");
    CHECK((uintptr_t)res == (uintptr_t)n_co * (uintptr_t)(n_co - 1) / 2, "sum");

    double y = k_yield ? (double)(c1 - c0) / ((double)n_co * (double)k_yield) : 0;
    double s = k_sleep ? (double)(c2 - c1) / ((double)n_co * (double)k_sleep) : 0;
    char label[64];
    snprintf(label, sizeof label, "libfutures-loop-N%ld", n_co);
    if (k_yield)
        report("W5-timers", label, "cpu_ns_per_yield", y, "ns");
    if (k_sleep)
        report("W5-timers", label, "cpu_ns_per_sleep", s, "ns");
    if (k_yield && k_sleep)
        report("W5-timers", label, "ns_per_timer", s - y, "ns");
    report("W5-timers", label, "first_wake_ns_per_coro", (double)(cw1 - cw0) / (double)n_co, "ns");
    report("W5-timers", label, "faults_per_coro_yield", (double)(f1 - f0) / (double)n_co, "faults");
    report("W5-timers", label, "faults_per_coro_sleep", (double)(f2 - f1) / (double)n_co, "faults");
    report("W5-timers", label, "sleep_wall", (double)(w2 - w1) / 1e6, "ms");
    future_release(all_in);
    future_release(go_warm);
    future_release(all_in2);
    future_release(go_yield);
    future_release(yield_done);
    future_release(go_sleep);
    future_release(sleep_done);
    return 0;
}
