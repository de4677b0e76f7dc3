/* SPDX-License-Identifier: MIT */
/*
 * cotest.h - helpers for suites whose checks run inside coroutines and
 * pool jobs (test_cancel.c, test_group.c)
 *
 * A coroutine runs on its own stack and a job on another thread, so
 * neither calls ck_assert: they record the first broken expectation with
 * CO_CHECK / CO_CHECK_RC, and the case asserts co_assert_clean() on the
 * test's thread once the loop (or pool) has returned.  Each case runs in
 * its own forked process (Check), so the record starts empty.
 *
 * Time: nothing asserts that something happened quickly; elapsed times are
 * bounded from below, or from above only by BOUND_MS ("surely a hang").
 */
#ifndef FUT_COTEST_H
#define FUT_COTEST_H

#include "testutil.h"

#include <stdarg.h>

#define V(n) ((void *)(uintptr_t)(n))
#define U(p) ((uintptr_t)(p))
#define SENTINEL V(0xdeadbeef)
#define MS (1000000ull)
#if defined(TU_SANITIZED)
#define BOUND_MS 30000L
#else
#define BOUND_MS 10000L
#endif

static pthread_mutex_t co_fail_mu = PTHREAD_MUTEX_INITIALIZER;
static char co_fail_msg[512];   /* the first failure; guarded by co_fail_mu */
static int co_fail_count;       /* guarded by co_fail_mu */

static void co_failed(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void co_failed(const char *file, int line, const char *fmt, ...)
{
    pthread_mutex_lock(&co_fail_mu);
    if (co_fail_count++ == 0) {
        int k = snprintf(co_fail_msg, sizeof co_fail_msg, "%s:%d: ", file, line);
        va_list ap;
        va_start(ap, fmt);
        if (k > 0 && (size_t)k < sizeof co_fail_msg)
            vsnprintf(co_fail_msg + k, sizeof co_fail_msg - (size_t)k, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&co_fail_mu);
}

#define CO_CHECK(cond)                                                      \
    do {                                                                    \
        if (!(cond))                                                        \
            co_failed(__FILE__, __LINE__, "'%s' is false", #cond);          \
    } while (0)

#define CO_CHECK_RC(expr, e)                                                \
    do {                                                                    \
        int co_r_ = (expr);                                                 \
        if (co_r_ != (e))                                                   \
            co_failed(__FILE__, __LINE__, "%s: returned %d (%s), expected %d (%s)", \
                      #expr, co_r_, strerror(co_r_), (int)(e), strerror(e)); \
    } while (0)

#define CO_CHECK_STATE(f, st)                                               \
    do {                                                                    \
        int co_s_ = (int)future_state(f);                                   \
        if (co_s_ != (int)(st))                                             \
            co_failed(__FILE__, __LINE__, "state of %s is %d, expected %s", \
                      #f, co_s_, #st);                                      \
    } while (0)

#define co_assert_clean()                                                   \
    do {                                                                    \
        pthread_mutex_lock(&co_fail_mu);                                    \
        int co_n_ = co_fail_count;                                          \
        char co_m_[sizeof co_fail_msg];                                     \
        memcpy(co_m_, co_fail_msg, sizeof co_m_);                           \
        pthread_mutex_unlock(&co_fail_mu);                                  \
        ck_assert_msg(co_n_ == 0, "%d failure(s) off the test's stack; first: %s", \
                      co_n_, co_m_);                                        \
    } while (0)

static inline double ms_since(uint64_t t0)
{
    return (double)(tu_now_ns() - t0) / 1e6;
}

static inline fut_pool_t *pool(size_t threads, const char *name)
{
    fut_pool_opts o = { .threads = threads, .queue_max = 0, .name = name };
    fut_pool_t *p = fut_pool_new(&o);
    ck_assert_msg(p != NULL, "fut_pool_new: %s", strerror(errno));
    return p;
}

/* Runs main on a fresh loop on the test's thread; asserts it returned 0
 * and that nothing failed inside.  Returns main's value. */
static inline void *run_ok(fut_fn main_fn, void *arg)
{
    void *res = SENTINEL;
    int rc = fut_run(main_fn, arg, &res);
    co_assert_clean();
    ck_assert_msg(rc == 0, "fut_run returned %d (%s)", rc, strerror(rc));
    return res;
}

/* In a coroutine: yields until *flag is set (by another coroutine of the
 * loop, which then has run up to its next suspension). */
static inline void co_until(atomic_int *flag)
{
    uint64_t t0 = tu_now_ns();
    while (!atomic_load(flag)) {
        if (fut_yield() != 0 || ms_since(t0) > (double)BOUND_MS) {
            co_failed(__FILE__, __LINE__, "co_until: flag never set");
            return;
        }
    }
}

static inline uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 0x9e3779b9u;
}

/* Counts of coroutines: TU_ROUNDS, and five times fewer again under TSan,
 * where starting a coroutine costs milliseconds. */
static inline long coro_rounds(long n)
{
#if defined(TU_TSAN)
    n /= 5;
#endif
    return TU_ROUNDS(n < 1 ? 1 : n);
}

#endif /* FUT_COTEST_H */
