/* SPDX-License-Identifier: MIT */
/*
 * testutil.h - shared helpers for the libfutures Check suites
 *
 * Each tests/test_<area>.c builds one Suite and ends with
 *
 *     TU_MAIN(area_suite)
 *
 * which runs it forked (one process per case), with a per-case timeout
 * that is generous under the sanitizers, and exits non-zero on failure.
 *
 * Timeouts.  Check reads CK_DEFAULT_TIMEOUT when a TCase is created and
 * multiplies every timeout by CK_TIMEOUT_MULTIPLIER.  TU_MAIN sets
 * CK_DEFAULT_TIMEOUT (unless the caller already did) to TU_CASE_TIMEOUT
 * seconds before the suite is built; tu_tcase() applies the same policy to
 * one TCase with its own budget.  A hang therefore costs one timeout, not
 * the whole run.
 *
 * Rounds.  Stress loops size themselves with TU_ROUNDS(n): n in a plain
 * build, n / TU_SAN_DIV under a sanitizer, and n / $FUT_TEST_ROUNDS_DIV
 * when that environment variable is set (e.g. FUT_TEST_ROUNDS_DIV=100 for
 * a quick run).  Never below 1.
 *
 * Synchronisation.  A pool thread that waits through the library runs
 * queued jobs meanwhile, so a job that must stay "running" is held with a
 * tu_gate (a plain mutex + condition variable that the library knows
 * nothing about), never with a future.
 *
 * Threads.  Assertions are made on the test's main thread: helpers record
 * what happened in other threads and the case checks it afterwards.
 */
#ifndef FUT_TESTUTIL_H
#define FUT_TESTUTIL_H

#include <check.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "futures.h"

/* ---------------------------------------------------------------------
 * Build flavour
 * ------------------------------------------------------------------- */

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(TU_TSAN)
#define TU_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TU_ASAN)
#define TU_ASAN 1
#endif
#if defined(TU_TSAN) || defined(TU_ASAN)
#define TU_SANITIZED 1
#endif

/* Per-case timeout in seconds (before CK_TIMEOUT_MULTIPLIER). */
#ifndef TU_CASE_TIMEOUT
#if defined(TU_SANITIZED)
#define TU_CASE_TIMEOUT 90
#else
#define TU_CASE_TIMEOUT 30
#endif
#endif

/* How much stress loops shrink under a sanitizer. */
#ifndef TU_SAN_DIV
#if defined(TU_TSAN)
#define TU_SAN_DIV 10
#elif defined(TU_ASAN)
#define TU_SAN_DIV 4
#else
#define TU_SAN_DIV 1
#endif
#endif

static inline long tu_rounds(long n)
{
    long div = TU_SAN_DIV;
    const char *e = getenv("FUT_TEST_ROUNDS_DIV");
    if (e && *e) {
        long d = strtol(e, NULL, 10);
        if (d > 0)
            div = d;
    }
    n /= div;
    return n < 1 ? 1 : n;
}
#define TU_ROUNDS(n) tu_rounds(n)

/* True under CPU emulation (scripts/cross-aarch64.sh sets
 * FUT_TEST_EMULATED=1 for its qemu-user runs).  qemu-user does not model
 * page residency (mincore), page-fault counts, wall-clock story timing or
 * fork() of a process with running threads faithfully; the few cases that
 * measure those skip there, saying so. */
static inline bool tu_emulated(const char *what)
{
    const char *e = getenv("FUT_TEST_EMULATED");
    if (!e || strcmp(e, "1") != 0)
        return false;
    printf("%s: skipped under CPU emulation (FUT_TEST_EMULATED=1)\n", what);
    return true;
}

/* ---------------------------------------------------------------------
 * Time (CLOCK_MONOTONIC)
 * ------------------------------------------------------------------- */

static inline uint64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void tu_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---------------------------------------------------------------------
 * Gate: a one-shot event the library knows nothing about.
 * ------------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* CLOCK_MONOTONIC */
    int open;            /* guarded by mu */
} tu_gate;

static inline void tu_gate_init(tu_gate *g)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    g->open = 0;
}

static inline void tu_gate_destroy(tu_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static inline void tu_gate_open(tu_gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static inline bool tu_gate_is_open(tu_gate *g)
{
    pthread_mutex_lock(&g->mu);
    int o = g->open;
    pthread_mutex_unlock(&g->mu);
    return o != 0;
}

/* Waits at most ms milliseconds (ms < 0: forever); true once open. */
static inline bool tu_gate_wait_ms(tu_gate *g, long ms)
{
    struct timespec dl;
    if (ms >= 0) {
        uint64_t ns = tu_now_ns() + (uint64_t)ms * 1000000u;
        dl.tv_sec = (time_t)(ns / 1000000000u);
        dl.tv_nsec = (long)(ns % 1000000000u);
    }
    pthread_mutex_lock(&g->mu);
    while (!g->open) {
        if (ms < 0) {
            pthread_cond_wait(&g->cv, &g->mu);
        } else if (pthread_cond_timedwait(&g->cv, &g->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
    int o = g->open;
    pthread_mutex_unlock(&g->mu);
    return o != 0;
}

static inline void tu_gate_wait(tu_gate *g)
{
    (void)tu_gate_wait_ms(g, -1);
}

/* ---------------------------------------------------------------------
 * Blocker: a pool job that stays RUNNING until released.
 *
 *     tu_blocker b; tu_blocker_init(&b, (void *)42);
 *     future_t *f = fut_pool_submit(p, tu_blocker_job, &b);
 *     tu_gate_wait(&b.started);      // the job is running now
 *     ...
 *     tu_gate_open(&b.release);      // let it return b.ret
 * ------------------------------------------------------------------- */

typedef struct {
    tu_gate started;      /* opened by the job when it starts */
    tu_gate release;      /* the job returns once this opens */
    atomic_int runs;      /* times the job ran */
    atomic_int finished;  /* set just before the job returns */
    void *ret;            /* what the job returns */
} tu_blocker;

static inline void tu_blocker_init(tu_blocker *b, void *ret)
{
    tu_gate_init(&b->started);
    tu_gate_init(&b->release);
    atomic_init(&b->runs, 0);
    atomic_init(&b->finished, 0);
    b->ret = ret;
}

static inline void tu_blocker_destroy(tu_blocker *b)
{
    tu_gate_destroy(&b->started);
    tu_gate_destroy(&b->release);
}

static inline void *tu_blocker_job(void *arg)
{
    tu_blocker *b = arg;
    atomic_fetch_add(&b->runs, 1);
    tu_gate_open(&b->started);
    tu_gate_wait(&b->release);
    atomic_store(&b->finished, 1);
    return b->ret;
}

/* A job that counts its runs in the atomic_int it is given; returns arg. */
static inline void *tu_count_job(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return arg;
}

/* A job returning its argument. */
static inline void *tu_identity_job(void *arg)
{
    return arg;
}

/* ---------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------- */

static inline pthread_t tu_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    ck_assert_int_eq(rc, 0);
    return t;
}

static inline void *tu_join(pthread_t t)
{
    void *r = NULL;
    int rc = pthread_join(t, &r);
    ck_assert_int_eq(rc, 0);
    return r;
}

static inline long tu_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n;
}

/* ---------------------------------------------------------------------
 * Assertions
 * ------------------------------------------------------------------- */

/* A call returning a pointer failed with errno `e`. */
#define tu_assert_null_errno(expr, e)                                       \
    do {                                                                    \
        errno = 0;                                                          \
        const void *tu_p_ = (expr);                                         \
        int tu_e_ = errno;                                                  \
        ck_assert_msg(tu_p_ == NULL, "%s: expected NULL", #expr);          \
        ck_assert_msg(tu_e_ == (e), "%s: errno %d (%s), expected %d (%s)",  \
                      #expr, tu_e_, strerror(tu_e_), (int)(e),              \
                      strerror(e));                                         \
    } while (0)

/* An int-returning call gave errno code `e` (0 included). */
#define tu_assert_rc(expr, e)                                               \
    do {                                                                    \
        int tu_r_ = (expr);                                                 \
        ck_assert_msg(tu_r_ == (e), "%s: returned %d (%s), expected %d (%s)", \
                      #expr, tu_r_, strerror(tu_r_), (int)(e),              \
                      strerror(e));                                         \
    } while (0)

#define tu_assert_state(f, st)                                              \
    do {                                                                    \
        int tu_s_ = (int)future_state(f);                                   \
        ck_assert_msg(tu_s_ == (int)(st), "state of %s is %d, expected %s", \
                      #f, tu_s_, #st);                                      \
    } while (0)

/* ---------------------------------------------------------------------
 * Suites
 * ------------------------------------------------------------------- */

/* A TCase with a timeout of `seconds` in a plain build, scaled like the
 * default under sanitizers (x3). */
static inline TCase *tu_tcase(Suite *s, const char *name, double seconds)
{
    TCase *tc = tcase_create(name);
#if defined(TU_SANITIZED)
    seconds *= 3;
#endif
    tcase_set_timeout(tc, seconds);
    suite_add_tcase(s, tc);
    return tc;
}

static inline void tu_set_default_timeout(void)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d", TU_CASE_TIMEOUT);
    setenv("CK_DEFAULT_TIMEOUT", buf, 0);
}

static inline int tu_run_suite(Suite *(*make)(void))
{
    tu_set_default_timeout();
    SRunner *sr = srunner_create(make());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The whole main() of a test program. */
#define TU_MAIN(make_suite)                                                 \
    int main(void)                                                          \
    {                                                                       \
        return tu_run_suite(make_suite);                                    \
    }

#endif /* FUT_TESTUTIL_H */
