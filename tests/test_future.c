/* SPDX-License-Identifier: MIT */
/*
 * test_future.c - the "Conventions" and "Futures" sections of the contract
 *
 * Promises (future_new) completed by hand, from the calling thread and
 * from others: results, errors, second completions, bad input, timeouts on
 * CLOCK_MONOTONIC, gather, wait_any, on_done, then, retain/release.
 * Pool-specific behaviour lives in test_pool.c, races in test_stress.c.
 */
#include "testutil.h"

#define V(n) ((void *)(uintptr_t)(n))
#define SENTINEL V(0xdeadbeef)

/* A thread that completes a promise after a delay. */
struct completer {
    future_t *f;
    long delay_ms;
    enum { C_RESOLVE, C_FAIL, C_CANCEL } how;
    void *value;
    int err;
    int rc;                /* what the completing call returned */
    pthread_t self;
};

static void *completer_main(void *arg)
{
    struct completer *c = arg;
    c->self = pthread_self();
    if (c->delay_ms > 0)
        tu_sleep_ms(c->delay_ms);
    switch (c->how) {
    case C_RESOLVE: c->rc = future_resolve(c->f, c->value); break;
    case C_FAIL: c->rc = future_fail(c->f, c->err); break;
    case C_CANCEL: c->rc = future_cancel(c->f); break;
    }
    return NULL;
}

static pthread_t complete_later(struct completer *c, future_t *f, long delay_ms,
                                int how, void *value, int err)
{
    c->f = f;
    c->delay_ms = delay_ms;
    c->how = how;
    c->value = value;
    c->err = err;
    c->rc = -1;
    return tu_thread(completer_main, c);
}

/* ---------------------------------------------------------------------
 * Promises: the three outcomes
 * ------------------------------------------------------------------- */

START_TEST(future_new_is_pending)
{
    future_t *f = future_new();
    ck_assert_ptr_nonnull(f);
    tu_assert_state(f, FUTURE_PENDING);
    ck_assert(!future_done(f));
    tu_assert_rc(future_wait(f, 0), ETIMEDOUT);
    future_release(f);
}
END_TEST

START_TEST(future_resolve_done_with_value)
{
    future_t *f = future_new();
    tu_assert_rc(future_resolve(f, V(42)), 0);
    tu_assert_state(f, FUTURE_DONE);
    ck_assert(future_done(f));
    void *v = SENTINEL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(42));
    /* a NULL value is a value like any other */
    future_t *g = future_new();
    tu_assert_rc(future_resolve(g, NULL), 0);
    v = SENTINEL;
    tu_assert_rc(future_get(g, &v), 0);
    ck_assert_ptr_null(v);
    tu_assert_state(g, FUTURE_DONE);
    future_release(g);
    future_release(f);
}
END_TEST

START_TEST(future_fail_failed_with_code)
{
    future_t *f = future_new();
    tu_assert_rc(future_fail(f, EIO), 0);
    tu_assert_state(f, FUTURE_FAILED);
    ck_assert(future_done(f));
    void *v = SENTINEL;
    tu_assert_rc(future_get(f, &v), EIO);
    ck_assert_ptr_null(v);
    /* any positive code is carried as is, not only errno values */
    future_t *g = future_new();
    tu_assert_rc(future_fail(g, 12345), 0);
    tu_assert_rc(future_get(g, NULL), 12345);
    future_release(g);
    future_release(f);
}
END_TEST

START_TEST(future_cancel_promise_cancelled)
{
    future_t *f = future_new();
    tu_assert_rc(future_cancel(f), 0);
    tu_assert_state(f, FUTURE_CANCELLED);
    ck_assert(future_done(f));
    void *v = SENTINEL;
    tu_assert_rc(future_get(f, &v), ECANCELED);
    ck_assert_ptr_null(v);
    future_release(f);
}
END_TEST

START_TEST(future_get_value_null_ok)
{
    future_t *a = future_new(), *b = future_new(), *c = future_new();
    future_resolve(a, V(1));
    future_fail(b, EPIPE);
    future_cancel(c);
    tu_assert_rc(future_get(a, NULL), 0);
    tu_assert_rc(future_get(b, NULL), EPIPE);
    tu_assert_rc(future_get(c, NULL), ECANCELED);
    future_release(a);
    future_release(b);
    future_release(c);
}
END_TEST

START_TEST(future_wait_returns_0_whatever_outcome)
{
    future_t *a = future_new(), *b = future_new(), *c = future_new();
    future_resolve(a, V(1));
    future_fail(b, EIO);
    future_cancel(c);
    tu_assert_rc(future_wait(a, 0), 0);
    tu_assert_rc(future_wait(b, 0), 0);
    tu_assert_rc(future_wait(c, 0), 0);
    tu_assert_rc(future_wait(a, FUT_FOREVER), 0);
    tu_assert_rc(future_wait(b, FUT_FOREVER), 0);
    tu_assert_rc(future_wait(c, 1000), 0);
    future_release(a);
    future_release(b);
    future_release(c);
}
END_TEST

/* ---------------------------------------------------------------------
 * Exactly once: the first completion wins, later ones are EINVAL
 * ------------------------------------------------------------------- */

START_TEST(future_second_completion_einval)
{
    /* after resolve */
    future_t *f = future_new();
    tu_assert_rc(future_resolve(f, V(1)), 0);
    tu_assert_rc(future_resolve(f, V(2)), EINVAL);
    tu_assert_rc(future_fail(f, EIO), EINVAL);
    tu_assert_rc(future_cancel(f), EINVAL);
    tu_assert_state(f, FUTURE_DONE);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(1));
    future_release(f);

    /* after fail */
    f = future_new();
    tu_assert_rc(future_fail(f, EIO), 0);
    tu_assert_rc(future_resolve(f, V(2)), EINVAL);
    tu_assert_rc(future_fail(f, EPERM), EINVAL);
    tu_assert_rc(future_cancel(f), EINVAL);
    tu_assert_state(f, FUTURE_FAILED);
    tu_assert_rc(future_get(f, NULL), EIO);
    future_release(f);

    /* after cancel */
    f = future_new();
    tu_assert_rc(future_cancel(f), 0);
    tu_assert_rc(future_resolve(f, V(2)), EINVAL);
    tu_assert_rc(future_fail(f, EIO), EINVAL);
    tu_assert_rc(future_cancel(f), EINVAL);
    tu_assert_state(f, FUTURE_CANCELLED);
    tu_assert_rc(future_get(f, NULL), ECANCELED);
    future_release(f);
}
END_TEST

START_TEST(future_fail_nonpositive_err_einval)
{
    future_t *f = future_new();
    tu_assert_rc(future_fail(f, 0), EINVAL);
    tu_assert_rc(future_fail(f, -5), EINVAL);
    tu_assert_rc(future_fail(f, INT_MIN), EINVAL);
    /* nothing changed: still pending and completable */
    tu_assert_state(f, FUTURE_PENDING);
    tu_assert_rc(future_resolve(f, V(7)), 0);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(7));
    future_release(f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Bad input: every NULL, zero count, negative timeout
 * ------------------------------------------------------------------- */

static void cb_count(future_t *f, void *arg);

static void *then_ident(void *value, void *arg)
{
    (void)arg;
    return value;
}

START_TEST(future_null_object_einval)
{
    void *v = SENTINEL;
    size_t idx = 99;
    tu_assert_rc(future_resolve(NULL, V(1)), EINVAL);
    tu_assert_rc(future_fail(NULL, EIO), EINVAL);
    tu_assert_rc(future_cancel(NULL), EINVAL);
    tu_assert_rc(future_wait(NULL, 0), EINVAL);
    tu_assert_rc(future_wait(NULL, FUT_FOREVER), EINVAL);
    tu_assert_rc(future_get(NULL, &v), EINVAL);
    ck_assert_ptr_null(v);           /* "on any error *value is set to NULL" */
    tu_assert_rc(future_get(NULL, NULL), EINVAL);
    tu_assert_rc(future_on_done(NULL, cb_count, NULL), EINVAL);
    tu_assert_null_errno(future_then(NULL, then_ident, NULL), EINVAL);
    ck_assert_int_eq(future_state(NULL), FUTURE_CANCELLED);
    ck_assert(!future_done(NULL));
    ck_assert_ptr_null(future_retain(NULL));
    future_release(NULL);

    tu_assert_rc(future_gather(NULL, 2, NULL, FUT_FOREVER), EINVAL);
    tu_assert_rc(future_wait_any(NULL, 2, FUT_FOREVER, &idx), EINVAL);
}
END_TEST

START_TEST(future_null_callback_einval)
{
    future_t *f = future_new();
    tu_assert_rc(future_on_done(f, NULL, NULL), EINVAL);
    tu_assert_null_errno(future_then(f, NULL, NULL), EINVAL);
    /* nothing was registered: completion still works */
    tu_assert_rc(future_resolve(f, V(1)), 0);
    tu_assert_rc(future_on_done(f, NULL, NULL), EINVAL);
    tu_assert_null_errno(future_then(f, NULL, NULL), EINVAL);
    future_release(f);
}
END_TEST

START_TEST(future_gather_null_entry_einval)
{
    future_t *a = future_new();
    future_resolve(a, V(1));
    future_t *fs[3] = { a, NULL, a };
    void *vals[3] = { SENTINEL, SENTINEL, SENTINEL };
    tu_assert_rc(future_gather(fs, 3, vals, FUT_FOREVER), EINVAL);
    tu_assert_rc(future_gather(fs, 3, vals, 0), EINVAL);
    tu_assert_rc(future_gather(fs, 3, NULL, 100), EINVAL);
    /* a failing call did nothing */
    ck_assert_ptr_eq(vals[0], SENTINEL);
    ck_assert_ptr_eq(vals[2], SENTINEL);
    future_release(a);
}
END_TEST

START_TEST(future_wait_any_bad_input_einval)
{
    future_t *a = future_new();
    future_resolve(a, V(1));
    future_t *fs[2] = { a, NULL };
    future_t *ok[1] = { a };
    size_t idx = 77;
    /* zero count is an error for wait_any (not for gather) */
    tu_assert_rc(future_wait_any(ok, 0, FUT_FOREVER, &idx), EINVAL);
    tu_assert_rc(future_wait_any(ok, 0, 0, &idx), EINVAL);
    /* NULL index */
    tu_assert_rc(future_wait_any(ok, 1, FUT_FOREVER, NULL), EINVAL);
    /* NULL entry (even after a complete one) */
    tu_assert_rc(future_wait_any(fs, 2, FUT_FOREVER, &idx), EINVAL);
    tu_assert_rc(future_wait_any(NULL, 1, 0, &idx), EINVAL);
    ck_assert_uint_eq(idx, 77);
    future_release(a);
}
END_TEST

START_TEST(future_negative_timeout_einval)
{
    future_t *f = future_new();
    future_t *fs[1] = { f };
    void *vals[1] = { SENTINEL };
    size_t idx;
    const long bad[] = { -2, -1000, LONG_MIN };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_assert_rc(future_wait(f, bad[i]), EINVAL);
        tu_assert_rc(future_gather(fs, 1, vals, bad[i]), EINVAL);
        tu_assert_rc(future_wait_any(fs, 1, bad[i], &idx), EINVAL);
    }
    ck_assert_ptr_eq(vals[0], SENTINEL);
    tu_assert_state(f, FUTURE_PENDING);
    /* the same calls are fine once f is complete, except for the timeout */
    future_resolve(f, V(3));
    tu_assert_rc(future_wait(f, -2), EINVAL);
    tu_assert_rc(future_gather(fs, 1, vals, -2), EINVAL);
    tu_assert_rc(future_wait_any(fs, 1, -2, &idx), EINVAL);
    ck_assert_ptr_eq(vals[0], SENTINEL);
    future_release(f);
}
END_TEST

START_TEST(future_fut_raise_outside_job_does_nothing)
{
    ck_assert_ptr_null(fut_raise(EIO));
    ck_assert_ptr_null(fut_raise(0));
    ck_assert_ptr_null(fut_raise(-1));
    /* and leaves nothing behind that a later promise could pick up */
    future_t *f = future_new();
    tu_assert_rc(future_resolve(f, V(5)), 0);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(5));
    future_release(f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Waiting and timeouts (CLOCK_MONOTONIC)
 * ------------------------------------------------------------------- */

#define MS (1000000ull)
/* A generous upper bound for a short timed wait on a loaded machine. */
#if defined(TU_SANITIZED)
#define UPPER_NS (15000ull * MS)
#else
#define UPPER_NS (5000ull * MS)
#endif

START_TEST(future_wait_zero_only_checks)
{
    future_t *f = future_new();
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(future_wait(f, 0), ETIMEDOUT);
    ck_assert_uint_lt(tu_now_ns() - t0, UPPER_NS);
    future_resolve(f, V(1));
    tu_assert_rc(future_wait(f, 0), 0);
    future_release(f);
}
END_TEST

START_TEST(future_wait_timeout_50ms_monotonic)
{
    future_t *f = future_new();
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(future_wait(f, 50), ETIMEDOUT);
    uint64_t dt = tu_now_ns() - t0;
    ck_assert_msg(dt >= 50 * MS, "returned after %" PRIu64 " ns (< 50 ms)", dt);
    ck_assert_msg(dt < UPPER_NS, "returned after %" PRIu64 " ns", dt);
    tu_assert_state(f, FUTURE_PENDING);
    future_release(f);
}
END_TEST

START_TEST(future_gather_timeout_50ms_monotonic)
{
    future_t *a = future_new(), *b = future_new();
    future_resolve(a, V(1));
    future_t *fs[2] = { a, b };
    void *vals[2] = { SENTINEL, SENTINEL };
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(future_gather(fs, 2, vals, 50), ETIMEDOUT);
    uint64_t dt = tu_now_ns() - t0;
    ck_assert_msg(dt >= 50 * MS, "returned after %" PRIu64 " ns (< 50 ms)", dt);
    ck_assert_uint_lt(dt, UPPER_NS);
    /* values is not written on ETIMEDOUT, not even for the complete one */
    ck_assert_ptr_eq(vals[0], SENTINEL);
    ck_assert_ptr_eq(vals[1], SENTINEL);
    future_release(a);
    future_release(b);
}
END_TEST

START_TEST(future_wait_any_timeout_50ms_monotonic)
{
    future_t *a = future_new(), *b = future_new();
    future_t *fs[2] = { a, b };
    size_t idx = 0;
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(future_wait_any(fs, 2, 50, &idx), ETIMEDOUT);
    uint64_t dt = tu_now_ns() - t0;
    ck_assert_msg(dt >= 50 * MS, "returned after %" PRIu64 " ns (< 50 ms)", dt);
    ck_assert_uint_lt(dt, UPPER_NS);
    tu_assert_rc(future_wait_any(fs, 2, 0, &idx), ETIMEDOUT);
    future_release(a);
    future_release(b);
}
END_TEST

START_TEST(future_wait_woken_by_other_thread)
{
    future_t *f = future_new();
    struct completer c;
    pthread_t t = complete_later(&c, f, 20, C_RESOLVE, V(9), 0);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(9));
    tu_join(t);
    tu_assert_rc(c.rc, 0);
    future_release(f);
}
END_TEST

START_TEST(future_wait_timeout_then_completes)
{
    /* a timed wait that completes before its deadline returns 0 early */
    future_t *f = future_new();
    struct completer c;
    pthread_t t = complete_later(&c, f, 10, C_FAIL, NULL, ENOSPC);
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(future_wait(f, 60000), 0);
    ck_assert_uint_lt(tu_now_ns() - t0, 30000ull * MS);
    tu_assert_rc(future_get(f, NULL), ENOSPC);
    tu_join(t);
    future_release(f);
}
END_TEST

START_TEST(future_wait_huge_timeout_clamps)
{
    /* LONG_MAX ms must clamp, not wrap into a past deadline */
    future_t *f = future_new();
    struct completer c;
    pthread_t t = complete_later(&c, f, 30, C_RESOLVE, V(1), 0);
    tu_assert_rc(future_wait(f, LONG_MAX), 0);
    ck_assert(future_done(f));
    tu_join(t);
    future_t *g = future_new();
    future_t *fs[1] = { g };
    size_t idx = 5;
    t = complete_later(&c, g, 30, C_RESOLVE, V(2), 0);
    tu_assert_rc(future_wait_any(fs, 1, LONG_MAX, &idx), 0);
    ck_assert_uint_eq(idx, 0);
    tu_join(t);
    future_t *h = future_new();
    fs[0] = h;
    void *vals[1] = { NULL };
    t = complete_later(&c, h, 30, C_RESOLVE, V(3), 0);
    tu_assert_rc(future_gather(fs, 1, vals, LONG_MAX - 1), 0);
    ck_assert_ptr_eq(vals[0], V(3));
    tu_join(t);
    future_release(f);
    future_release(g);
    future_release(h);
}
END_TEST

struct getter {
    future_t *f;
    int rc;
    void *v;
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    g->rc = future_get(g->f, &g->v);
    return NULL;
}

START_TEST(future_resolve_wakes_every_waiter)
{
    enum { N = 6 };
    future_t *f = future_new();
    struct getter g[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        g[i] = (struct getter){ f, -1, SENTINEL };
        t[i] = tu_thread(getter_main, &g[i]);
    }
    tu_sleep_ms(20);
    tu_assert_rc(future_resolve(f, V(33)), 0);
    for (int i = 0; i < N; i++) {
        tu_join(t[i]);
        tu_assert_rc(g[i].rc, 0);
        ck_assert_ptr_eq(g[i].v, V(33));
    }
    future_release(f);
}
END_TEST

START_TEST(future_cancel_wakes_waiter_ecanceled)
{
    future_t *f = future_new();
    struct getter g = { f, -1, SENTINEL };
    pthread_t t = tu_thread(getter_main, &g);
    tu_sleep_ms(20);
    tu_assert_rc(future_cancel(f), 0);
    tu_join(t);
    tu_assert_rc(g.rc, ECANCELED);
    ck_assert_ptr_null(g.v);
    future_release(f);
}
END_TEST

START_TEST(future_fail_wakes_waiter_with_code)
{
    future_t *f = future_new();
    struct getter g = { f, -1, SENTINEL };
    pthread_t t = tu_thread(getter_main, &g);
    tu_sleep_ms(20);
    tu_assert_rc(future_fail(f, ECONNRESET), 0);
    tu_join(t);
    tu_assert_rc(g.rc, ECONNRESET);
    ck_assert_ptr_null(g.v);
    future_release(f);
}
END_TEST

/* ---------------------------------------------------------------------
 * future_gather
 * ------------------------------------------------------------------- */

START_TEST(future_gather_zero_returns_0_at_once)
{
    void *vals[1] = { SENTINEL };
    future_t *fs[1] = { NULL };
    tu_assert_rc(future_gather(NULL, 0, NULL, FUT_FOREVER), 0);
    tu_assert_rc(future_gather(NULL, 0, vals, 0), 0);
    tu_assert_rc(future_gather(fs, 0, vals, FUT_FOREVER), 0);
    ck_assert_ptr_eq(vals[0], SENTINEL);
}
END_TEST

START_TEST(future_gather_all_succeed_values)
{
    enum { N = 5 };
    future_t *fs[N];
    void *vals[N];
    for (int i = 0; i < N; i++) {
        fs[i] = future_new();
        vals[i] = SENTINEL;
    }
    for (int i = N - 1; i >= 0; i--)
        future_resolve(fs[i], V(100 + i));
    tu_assert_rc(future_gather(fs, N, vals, FUT_FOREVER), 0);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(vals[i], V(100 + i));
    /* values may be NULL */
    tu_assert_rc(future_gather(fs, N, NULL, 0), 0);
    for (int i = 0; i < N; i++)
        future_release(fs[i]);
}
END_TEST

START_TEST(future_gather_lowest_index_failure)
{
    enum { N = 5 };
    future_t *fs[N];
    void *vals[N];
    for (int i = 0; i < N; i++) {
        fs[i] = future_new();
        vals[i] = SENTINEL;
    }
    /* completion order differs from index order: the index decides */
    future_fail(fs[4], EPERM);
    future_cancel(fs[3]);
    future_resolve(fs[0], V(10));
    future_resolve(fs[2], V(12));
    future_fail(fs[1], EIO);
    tu_assert_rc(future_gather(fs, N, vals, FUT_FOREVER), EIO);
    ck_assert_ptr_eq(vals[0], V(10));
    ck_assert_ptr_null(vals[1]);
    ck_assert_ptr_eq(vals[2], V(12));
    ck_assert_ptr_null(vals[3]);
    ck_assert_ptr_null(vals[4]);
    /* without index 1, the lowest failure is the cancellation at 3 */
    future_t *rest[3] = { fs[2], fs[3], fs[4] };
    tu_assert_rc(future_gather(rest, 3, NULL, 0), ECANCELED);
    future_t *last[2] = { fs[4], fs[3] };
    tu_assert_rc(future_gather(last, 2, NULL, 0), EPERM);
    for (int i = 0; i < N; i++)
        future_release(fs[i]);
}
END_TEST

START_TEST(future_gather_waits_for_all_after_failure)
{
    future_t *a = future_new(), *b = future_new();
    future_fail(a, EIO);
    future_t *fs[2] = { a, b };
    void *vals[2] = { SENTINEL, SENTINEL };
    /* b is still pending: a quick check times out despite a's failure */
    tu_assert_rc(future_gather(fs, 2, vals, 0), ETIMEDOUT);
    ck_assert_ptr_eq(vals[0], SENTINEL);
    ck_assert_ptr_eq(vals[1], SENTINEL);
    struct completer c;
    pthread_t t = complete_later(&c, b, 50, C_RESOLVE, V(2), 0);
    tu_assert_rc(future_gather(fs, 2, vals, FUT_FOREVER), EIO);
    /* it returned only once b was complete */
    ck_assert(future_done(b));
    ck_assert_ptr_null(vals[0]);
    ck_assert_ptr_eq(vals[1], V(2));
    tu_join(t);
    future_release(a);
    future_release(b);
}
END_TEST

START_TEST(future_gather_woken_by_other_threads)
{
    enum { N = 4 };
    future_t *fs[N];
    struct completer c[N];
    pthread_t t[N];
    void *vals[N];
    for (int i = 0; i < N; i++)
        fs[i] = future_new();
    for (int i = 0; i < N; i++)
        t[i] = complete_later(&c[i], fs[i], 5 + 10 * (N - i), C_RESOLVE, V(i + 1), 0);
    tu_assert_rc(future_gather(fs, N, vals, FUT_FOREVER), 0);
    for (int i = 0; i < N; i++) {
        ck_assert(future_done(fs[i]));
        ck_assert_ptr_eq(vals[i], V(i + 1));
        tu_join(t[i]);
        future_release(fs[i]);
    }
}
END_TEST

/* Many futures completed by one thread while another gathers them all. */
struct bulk {
    future_t **fs;
    size_t n;
};

static void *bulk_resolve_main(void *arg)
{
    struct bulk *b = arg;
    for (size_t i = 0; i < b->n; i++)
        future_resolve(b->fs[b->n - 1 - i], V(b->n - 1 - i));
    return NULL;
}

START_TEST(future_gather_large_n)
{
    size_t n = 20000;
    future_t **fs = calloc(n, sizeof *fs);
    void **vals = calloc(n, sizeof *vals);
    ck_assert(fs && vals);
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_nonnull(fs[i] = future_new());
    struct bulk b = { fs, n };
    pthread_t t = tu_thread(bulk_resolve_main, &b);
    tu_assert_rc(future_gather(fs, n, vals, FUT_FOREVER), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_eq(vals[i], V(i));
    tu_join(t);
    for (size_t i = 0; i < n; i++)
        future_release(fs[i]);
    free(fs);
    free(vals);
}
END_TEST

START_TEST(future_gather_failure_by_later_completion)
{
    /* the failure arrives while gather sleeps */
    future_t *a = future_new(), *b = future_new(), *c = future_new();
    future_resolve(a, V(1));
    future_t *fs[3] = { a, b, c };
    void *vals[3] = { SENTINEL, SENTINEL, SENTINEL };
    struct completer cb, cc;
    pthread_t tb = complete_later(&cb, b, 40, C_CANCEL, NULL, 0);
    pthread_t tc = complete_later(&cc, c, 10, C_FAIL, NULL, ENOEXEC);
    tu_assert_rc(future_gather(fs, 3, vals, FUT_FOREVER), ECANCELED);
    ck_assert_ptr_eq(vals[0], V(1));
    ck_assert_ptr_null(vals[1]);
    ck_assert_ptr_null(vals[2]);
    tu_join(tb);
    tu_join(tc);
    future_release(a);
    future_release(b);
    future_release(c);
}
END_TEST

/* ---------------------------------------------------------------------
 * future_wait_any
 * ------------------------------------------------------------------- */

START_TEST(future_wait_any_lowest_complete_index)
{
    enum { N = 5 };
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = future_new();
    future_resolve(fs[4], V(4));
    future_fail(fs[3], EIO);      /* failed counts as complete */
    future_cancel(fs[2]);
    size_t idx = 99;
    tu_assert_rc(future_wait_any(fs, N, FUT_FOREVER, &idx), 0);
    ck_assert_uint_eq(idx, 2);
    tu_assert_rc(future_wait_any(fs, N, 0, &idx), 0);
    ck_assert_uint_eq(idx, 2);
    future_resolve(fs[1], V(1));
    tu_assert_rc(future_wait_any(fs, N, 0, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    future_t *tail[2] = { fs[0], fs[3] };
    tu_assert_rc(future_wait_any(tail, 2, 100, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    for (int i = 0; i < N; i++)
        future_release(fs[i]);
}
END_TEST

START_TEST(future_wait_any_woken_by_other_thread)
{
    future_t *a = future_new(), *b = future_new(), *c = future_new();
    future_t *fs[3] = { a, b, c };
    struct completer cc;
    pthread_t t = complete_later(&cc, c, 30, C_FAIL, NULL, EIO);
    size_t idx = 99;
    tu_assert_rc(future_wait_any(fs, 3, FUT_FOREVER, &idx), 0);
    ck_assert_uint_eq(idx, 2);
    ck_assert(future_done(c));
    ck_assert(!future_done(a));
    ck_assert(!future_done(b));
    tu_join(t);
    /* after wait_any returned, the other futures are still usable */
    future_resolve(a, V(1));
    tu_assert_rc(future_wait_any(fs, 3, 0, &idx), 0);
    ck_assert_uint_eq(idx, 0);
    future_cancel(b);
    future_release(a);
    future_release(b);
    future_release(c);
}
END_TEST

/* ---------------------------------------------------------------------
 * future_on_done
 * ------------------------------------------------------------------- */

struct cbrec {
    atomic_int calls;
    future_t *seen_f;
    void *seen_arg;
    pthread_t thread;
    int state_in_cb;
};

static void cb_count(future_t *f, void *arg)
{
    struct cbrec *r = arg;
    if (!r)
        return;
    r->seen_f = f;
    r->seen_arg = arg;
    r->thread = pthread_self();
    r->state_in_cb = (int)future_state(f);
    atomic_fetch_add(&r->calls, 1);
}

START_TEST(future_on_done_runs_at_once_if_complete)
{
    const int outcomes[3] = { FUTURE_DONE, FUTURE_FAILED, FUTURE_CANCELLED };
    for (int k = 0; k < 3; k++) {
        future_t *f = future_new();
        if (outcomes[k] == FUTURE_DONE)
            future_resolve(f, V(1));
        else if (outcomes[k] == FUTURE_FAILED)
            future_fail(f, EIO);
        else
            future_cancel(f);
        struct cbrec r = { 0 };
        tu_assert_rc(future_on_done(f, cb_count, &r), 0);
        /* ran before on_done returned, in this thread, with f and arg */
        ck_assert_int_eq(atomic_load(&r.calls), 1);
        ck_assert_ptr_eq(r.seen_f, f);
        ck_assert_ptr_eq(r.seen_arg, &r);
        ck_assert(pthread_equal(r.thread, pthread_self()));
        ck_assert_int_eq(r.state_in_cb, outcomes[k]);
        future_release(f);
        ck_assert_int_eq(atomic_load(&r.calls), 1);
    }
}
END_TEST

START_TEST(future_on_done_runs_in_completing_thread)
{
    future_t *f = future_new();
    struct cbrec r = { 0 };
    tu_assert_rc(future_on_done(f, cb_count, &r), 0);
    ck_assert_int_eq(atomic_load(&r.calls), 0);   /* not before completion */
    struct completer c;
    pthread_t t = complete_later(&c, f, 0, C_RESOLVE, V(5), 0);
    tu_join(t);
    tu_assert_rc(c.rc, 0);
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    ck_assert(pthread_equal(r.thread, c.self));
    ck_assert_ptr_eq(r.seen_f, f);
    ck_assert_int_eq(r.state_in_cb, FUTURE_DONE);
    /* a failed second completion does not run it again */
    tu_assert_rc(future_resolve(f, V(6)), EINVAL);
    tu_assert_rc(future_cancel(f), EINVAL);
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    future_release(f);
}
END_TEST

START_TEST(future_on_done_every_callback_once)
{
    enum { N = 8 };
    const int outcomes[3] = { FUTURE_DONE, FUTURE_FAILED, FUTURE_CANCELLED };
    for (int k = 0; k < 3; k++) {
        future_t *f = future_new();
        struct cbrec r[N];
        memset(r, 0, sizeof r);
        for (int i = 0; i < N; i++)
            tu_assert_rc(future_on_done(f, cb_count, &r[i]), 0);
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(atomic_load(&r[i].calls), 0);
        if (outcomes[k] == FUTURE_DONE)
            future_resolve(f, V(1));
        else if (outcomes[k] == FUTURE_FAILED)
            future_fail(f, EIO);
        else
            future_cancel(f);
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(atomic_load(&r[i].calls), 1);
            ck_assert_int_eq(r[i].state_in_cb, outcomes[k]);
            ck_assert(pthread_equal(r[i].thread, pthread_self()));
        }
        future_release(f);
    }
}
END_TEST

/* A callback may drop the last reference the caller handed over. */
static void cb_release(future_t *f, void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    future_release(f);
}

START_TEST(future_on_done_callback_may_release)
{
    atomic_int calls = 0;
    future_t *f = future_new();
    future_t *g = future_retain(f);
    ck_assert_ptr_eq(g, f);
    tu_assert_rc(future_on_done(f, cb_release, &calls), 0);
    tu_assert_rc(future_resolve(f, V(1)), 0);
    ck_assert_int_eq(atomic_load(&calls), 1);
    future_release(f);
}
END_TEST

/* ---------------------------------------------------------------------
 * future_then
 * ------------------------------------------------------------------- */

struct thenrec {
    atomic_int calls;
    void *seen_value;
    void *seen_arg;
    pthread_t thread;
};

static void *then_add(void *value, void *arg)
{
    struct thenrec *r = arg;
    atomic_fetch_add(&r->calls, 1);
    r->seen_value = value;
    r->seen_arg = arg;
    r->thread = pthread_self();
    return V((uintptr_t)value + 1);
}

static void *then_double(void *value, void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return V((uintptr_t)value * 2);
}

static void *then_raise(void *value, void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    (void)value;
    fut_raise(EPROTO);
    return V(999);     /* ignored once fut_raise was called */
}

static void *then_raise_zero(void *value, void *arg)
{
    (void)value;
    (void)arg;
    return fut_raise(0);
}

START_TEST(future_then_chain_success)
{
    struct thenrec r = { 0 };
    atomic_int dbl = 0;
    future_t *p = future_new();
    future_t *t1 = future_then(p, then_add, &r);
    ck_assert_ptr_nonnull(t1);
    future_t *t2 = future_then(t1, then_double, &dbl);
    ck_assert_ptr_nonnull(t2);
    tu_assert_state(t1, FUTURE_PENDING);
    tu_assert_state(t2, FUTURE_PENDING);
    ck_assert_int_eq(atomic_load(&r.calls), 0);
    tu_assert_rc(future_resolve(p, V(5)), 0);
    void *v = NULL;
    tu_assert_rc(future_get(t2, &v), 0);
    ck_assert_ptr_eq(v, V(12));
    tu_assert_rc(future_get(t1, &v), 0);
    ck_assert_ptr_eq(v, V(6));
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    ck_assert_int_eq(atomic_load(&dbl), 1);
    ck_assert_ptr_eq(r.seen_value, V(5));
    ck_assert_ptr_eq(r.seen_arg, &r);
    tu_assert_state(t1, FUTURE_DONE);
    tu_assert_state(t2, FUTURE_DONE);
    future_release(t2);
    future_release(t1);
    future_release(p);
}
END_TEST

START_TEST(future_then_on_complete_future)
{
    struct thenrec r = { 0 };
    future_t *p = future_new();
    future_resolve(p, V(41));
    future_t *t = future_then(p, then_add, &r);
    ck_assert_ptr_nonnull(t);
    void *v = NULL;
    tu_assert_rc(future_get(t, &v), 0);
    ck_assert_ptr_eq(v, V(42));
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    future_release(t);
    future_release(p);
}
END_TEST

START_TEST(future_then_runs_in_completing_thread)
{
    struct thenrec r = { 0 };
    future_t *p = future_new();
    future_t *t = future_then(p, then_add, &r);
    struct completer c;
    pthread_t th = complete_later(&c, p, 0, C_RESOLVE, V(1), 0);
    void *v = NULL;
    tu_assert_rc(future_get(t, &v), 0);
    ck_assert_ptr_eq(v, V(2));
    tu_join(th);
    ck_assert(pthread_equal(r.thread, c.self));
    future_release(t);
    future_release(p);
}
END_TEST

START_TEST(future_then_failure_propagates_without_call)
{
    struct thenrec r = { 0 };
    atomic_int dbl = 0;
    future_t *p = future_new();
    future_t *t1 = future_then(p, then_add, &r);
    future_t *t2 = future_then(t1, then_double, &dbl);
    future_fail(p, ETXTBSY);
    void *v = SENTINEL;
    tu_assert_rc(future_get(t2, &v), ETXTBSY);
    ck_assert_ptr_null(v);
    tu_assert_rc(future_get(t1, NULL), ETXTBSY);
    tu_assert_state(t1, FUTURE_FAILED);
    tu_assert_state(t2, FUTURE_FAILED);
    ck_assert_int_eq(atomic_load(&r.calls), 0);
    ck_assert_int_eq(atomic_load(&dbl), 0);
    /* also when f had already failed before then() */
    future_t *t3 = future_then(p, then_add, &r);
    ck_assert_ptr_nonnull(t3);
    tu_assert_rc(future_get(t3, NULL), ETXTBSY);
    ck_assert_int_eq(atomic_load(&r.calls), 0);
    future_release(t3);
    future_release(t2);
    future_release(t1);
    future_release(p);
}
END_TEST

START_TEST(future_then_cancel_propagates_without_call)
{
    struct thenrec r = { 0 };
    atomic_int dbl = 0;
    future_t *p = future_new();
    future_t *t1 = future_then(p, then_add, &r);
    future_t *t2 = future_then(t1, then_double, &dbl);
    tu_assert_rc(future_cancel(p), 0);
    void *v = SENTINEL;
    tu_assert_rc(future_get(t2, &v), ECANCELED);
    ck_assert_ptr_null(v);
    tu_assert_state(t1, FUTURE_CANCELLED);
    tu_assert_state(t2, FUTURE_CANCELLED);
    ck_assert_int_eq(atomic_load(&r.calls), 0);
    ck_assert_int_eq(atomic_load(&dbl), 0);
    future_t *t3 = future_then(p, then_add, &r);
    tu_assert_rc(future_get(t3, NULL), ECANCELED);
    ck_assert_int_eq(atomic_load(&r.calls), 0);
    future_release(t3);
    future_release(t2);
    future_release(t1);
    future_release(p);
}
END_TEST

START_TEST(future_then_raise_fails_new_future)
{
    atomic_int raised = 0, dbl = 0;
    future_t *p = future_new();
    future_t *t1 = future_then(p, then_raise, &raised);
    future_t *t2 = future_then(t1, then_double, &dbl);
    future_resolve(p, V(1));
    void *v = SENTINEL;
    tu_assert_rc(future_get(t1, &v), EPROTO);
    ck_assert_ptr_null(v);
    tu_assert_state(t1, FUTURE_FAILED);
    tu_assert_rc(future_get(t2, NULL), EPROTO);
    ck_assert_int_eq(atomic_load(&raised), 1);
    ck_assert_int_eq(atomic_load(&dbl), 0);
    /* the raise does not leak into the thread: a later then succeeds */
    future_t *q = future_new();
    struct thenrec r = { 0 };
    future_t *t3 = future_then(q, then_add, &r);
    future_resolve(q, V(1));
    tu_assert_rc(future_get(t3, &v), 0);
    ck_assert_ptr_eq(v, V(2));
    future_release(t3);
    future_release(q);
    future_release(t2);
    future_release(t1);
    future_release(p);
}
END_TEST

START_TEST(future_then_raise_nonpositive_is_einval)
{
    future_t *p = future_new();
    future_t *t = future_then(p, then_raise_zero, NULL);
    future_resolve(p, V(1));
    tu_assert_rc(future_get(t, NULL), EINVAL);
    tu_assert_state(t, FUTURE_FAILED);
    future_release(t);
    future_release(p);
}
END_TEST

START_TEST(future_then_cancel_new_future_fn_never_runs)
{
    /* the new future is a future like any other: cancelled before f
     * completes, fn never runs and f is unaffected */
    struct thenrec r = { 0 };
    future_t *p = future_new();
    future_t *t = future_then(p, then_add, &r);
    tu_assert_rc(future_cancel(t), 0);
    tu_assert_state(t, FUTURE_CANCELLED);
    tu_assert_rc(future_resolve(p, V(1)), 0);
    ck_assert_int_eq(atomic_load(&r.calls), 0);
    tu_assert_state(t, FUTURE_CANCELLED);
    tu_assert_rc(future_get(t, NULL), ECANCELED);
    tu_assert_state(p, FUTURE_DONE);
    future_release(t);
    future_release(p);
}
END_TEST

START_TEST(future_then_release_early_still_runs)
{
    /* dropping the then-future before f completes: fn still runs once
     * (and under ASan nothing leaks or is used after free) */
    struct thenrec r = { 0 };
    future_t *p = future_new();
    future_t *t = future_then(p, then_add, &r);
    future_release(t);
    ck_assert_int_eq(atomic_load(&r.calls), 0);
    future_resolve(p, V(1));
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    /* and failing f with an abandoned then-future is fine too */
    future_t *q = future_new();
    t = future_then(q, then_add, &r);
    future_release(t);
    future_fail(q, EIO);
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    future_release(q);
    future_release(p);
}
END_TEST

START_TEST(future_then_many_on_one_future)
{
    enum { N = 10 };
    struct thenrec r[N];
    future_t *t[N];
    memset(r, 0, sizeof r);
    future_t *p = future_new();
    for (int i = 0; i < N; i++)
        t[i] = future_then(p, then_add, &r[i]);
    future_resolve(p, V(100));
    for (int i = 0; i < N; i++) {
        void *v = NULL;
        tu_assert_rc(future_get(t[i], &v), 0);
        ck_assert_ptr_eq(v, V(101));
        ck_assert_int_eq(atomic_load(&r[i].calls), 1);
        future_release(t[i]);
    }
    future_release(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * References
 * ------------------------------------------------------------------- */

START_TEST(future_retain_release_counts)
{
    future_t *f = future_new();
    ck_assert_ptr_eq(future_retain(f), f);
    ck_assert_ptr_eq(future_retain(f), f);
    future_release(f);
    future_release(f);
    /* one reference left: still fully usable (ASan catches a premature free) */
    tu_assert_rc(future_resolve(f, V(3)), 0);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(3));
    future_release(f);
}
END_TEST

START_TEST(future_values_owned_by_user)
{
    /* the library stores and returns values and never frees them: freeing
     * them here after the futures are gone is not a double free (ASan) */
    char *a = malloc(16), *b = malloc(16);
    ck_assert(a && b);
    memcpy(a, "value-a", sizeof "value-a");
    future_t *f = future_new();
    future_resolve(f, a);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, a);
    future_release(f);
    ck_assert_str_eq(a, "value-a");     /* still ours, still intact */
    future_t *g = future_new();
    future_t *gs[1] = { g };
    future_resolve(g, b);
    void *vals[1] = { NULL };
    tu_assert_rc(future_gather(gs, 1, vals, 0), 0);
    ck_assert_ptr_eq(vals[0], b);
    future_release(g);
    free(a);
    free(b);
}
END_TEST

/* A thread holding its own reference outlives the creator's release. */
static void *retained_resolver(void *arg)
{
    future_t *f = arg;
    tu_sleep_ms(10);
    int rc = future_resolve(f, V(8));
    future_release(f);
    return V(rc);
}

START_TEST(future_release_while_other_holds_ref)
{
    future_t *f = future_new();
    struct cbrec r = { 0 };
    future_on_done(f, cb_count, &r);
    pthread_t t = tu_thread(retained_resolver, future_retain(f));
    future_release(f);
    ck_assert_ptr_eq(tu_join(t), V(0));
    ck_assert_int_eq(atomic_load(&r.calls), 1);
}
END_TEST

/* ---------------------------------------------------------------------
 * Suite
 * ------------------------------------------------------------------- */

START_TEST(future_set_name_once)
{
    future_t *f = future_new();
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_null(future_name(f));
    char buf[16] = "pasta";
    ck_assert_int_eq(future_set_name(f, buf), 0);
    buf[0] = 'b';                                   /* the name was copied */
    ck_assert_str_eq(future_name(f), "pasta");
    ck_assert_int_eq(future_set_name(f, "meatloaf"), EBUSY);
    ck_assert_str_eq(future_name(f), "pasta");      /* unchanged */
    ck_assert_int_eq(future_resolve(f, NULL), 0);
    ck_assert_str_eq(future_name(f), "pasta");      /* outlives completion */
    future_release(f);
}
END_TEST

START_TEST(future_set_name_bad_input)
{
    future_t *f = future_new();
    ck_assert_int_eq(future_set_name(NULL, "x"), EINVAL);
    ck_assert_int_eq(future_set_name(f, NULL), EINVAL);
    ck_assert_ptr_null(future_name(f));
    ck_assert_ptr_null(future_name(NULL));
    future_release(f);
}
END_TEST

static void *report_current(void *arg)
{
    *(future_t **)arg = fut_current();
    return NULL;
}

START_TEST(future_current_in_job)
{
    ck_assert_ptr_null(fut_current());              /* a plain thread */
    fut_pool_t *p = fut_pool_new(&(fut_pool_opts){.threads = 1});
    future_t *seen = NULL;
    future_t *f = fut_pool_submit(p, report_current, &seen);
    ck_assert_int_eq(future_get(f, NULL), 0);
    ck_assert_ptr_eq(seen, f);                      /* the job's own future */
    future_release(f);
    fut_pool_free(p);
    ck_assert_ptr_null(fut_current());
}
END_TEST

static Suite *future_suite(void)
{
    Suite *s = suite_create("future");
    TCase *tc;

    tc = tu_tcase(s, "promise", 20);
    tcase_add_test(tc, future_new_is_pending);
    tcase_add_test(tc, future_resolve_done_with_value);
    tcase_add_test(tc, future_fail_failed_with_code);
    tcase_add_test(tc, future_cancel_promise_cancelled);
    tcase_add_test(tc, future_get_value_null_ok);
    tcase_add_test(tc, future_wait_returns_0_whatever_outcome);
    tcase_add_test(tc, future_second_completion_einval);
    tcase_add_test(tc, future_fail_nonpositive_err_einval);

    tc = tu_tcase(s, "badinput", 20);
    tcase_add_test(tc, future_null_object_einval);
    tcase_add_test(tc, future_null_callback_einval);
    tcase_add_test(tc, future_gather_null_entry_einval);
    tcase_add_test(tc, future_wait_any_bad_input_einval);
    tcase_add_test(tc, future_negative_timeout_einval);
    tcase_add_test(tc, future_fut_raise_outside_job_does_nothing);

    tc = tu_tcase(s, "wait", 20);
    tcase_add_test(tc, future_wait_zero_only_checks);
    tcase_add_test(tc, future_wait_timeout_50ms_monotonic);
    tcase_add_test(tc, future_gather_timeout_50ms_monotonic);
    tcase_add_test(tc, future_wait_any_timeout_50ms_monotonic);
    tcase_add_test(tc, future_wait_woken_by_other_thread);
    tcase_add_test(tc, future_wait_timeout_then_completes);
    tcase_add_test(tc, future_wait_huge_timeout_clamps);
    tcase_add_test(tc, future_resolve_wakes_every_waiter);
    tcase_add_test(tc, future_cancel_wakes_waiter_ecanceled);
    tcase_add_test(tc, future_fail_wakes_waiter_with_code);

    tc = tu_tcase(s, "gather", 20);
    tcase_add_test(tc, future_gather_zero_returns_0_at_once);
    tcase_add_test(tc, future_gather_all_succeed_values);
    tcase_add_test(tc, future_gather_lowest_index_failure);
    tcase_add_test(tc, future_gather_waits_for_all_after_failure);
    tcase_add_test(tc, future_gather_woken_by_other_threads);
    tcase_add_test(tc, future_gather_large_n);
    tcase_add_test(tc, future_gather_failure_by_later_completion);
    tcase_add_test(tc, future_wait_any_lowest_complete_index);
    tcase_add_test(tc, future_wait_any_woken_by_other_thread);

    tc = tu_tcase(s, "callbacks", 20);
    tcase_add_test(tc, future_on_done_runs_at_once_if_complete);
    tcase_add_test(tc, future_on_done_runs_in_completing_thread);
    tcase_add_test(tc, future_on_done_every_callback_once);
    tcase_add_test(tc, future_on_done_callback_may_release);
    tcase_add_test(tc, future_then_chain_success);
    tcase_add_test(tc, future_then_on_complete_future);
    tcase_add_test(tc, future_then_runs_in_completing_thread);
    tcase_add_test(tc, future_then_failure_propagates_without_call);
    tcase_add_test(tc, future_then_cancel_propagates_without_call);
    tcase_add_test(tc, future_then_raise_fails_new_future);
    tcase_add_test(tc, future_then_raise_nonpositive_is_einval);
    tcase_add_test(tc, future_then_cancel_new_future_fn_never_runs);
    tcase_add_test(tc, future_then_release_early_still_runs);
    tcase_add_test(tc, future_then_many_on_one_future);

    tc = tu_tcase(s, "refs", 20);
    tcase_add_test(tc, future_retain_release_counts);
    tcase_add_test(tc, future_release_while_other_holds_ref);
    tcase_add_test(tc, future_values_owned_by_user);

    tc = tu_tcase(s, "names", 20);
    tcase_add_test(tc, future_set_name_once);
    tcase_add_test(tc, future_set_name_bad_input);
    tcase_add_test(tc, future_current_in_job);
    return s;
}

TU_MAIN(future_suite)
