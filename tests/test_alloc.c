/* SPDX-License-Identifier: MIT */
/*
 * test_alloc.c - every allocation failure is reported and loses nothing
 *
 * The library routes its allocations through one hook (lib/internal.h);
 * fut__test_fail_alloc(k) makes the k-th allocation from now fail.  Each
 * case below runs one operation with k = 1, 2, ... until the operation no
 * longer reaches a k-th allocation, and checks at every step that it
 * either succeeded completely or failed with ENOMEM (or the documented
 * code) and left everything usable.  Under ASan, LeakSanitizer checks at
 * the end of each forked case that nothing leaked on those paths.
 */
#include "testutil.h"

#include <futures.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

/* Hidden test hooks of the library (linked statically). */
void fut__test_fail_alloc(long n);
extern atomic_long fut__alloc_fail_in;

#define MAX_STEPS 64

/* True when the armed failure was not reached: the operation makes fewer
 * allocations than k, so the walk is over. */
static bool fault_unused(void)
{
    bool unused = atomic_load(&fut__alloc_fail_in) > 0;
    fut__test_fail_alloc(0);
    return unused;
}

#define V(x) ((void *)(uintptr_t)(x))

START_TEST(alloc_future_new_enomem)
{
    for (long k = 1; k < MAX_STEPS; k++) {
        fut__test_fail_alloc(k);
        errno = 0;
        future_t *f = future_new();
        int err = errno;
        bool done = fault_unused();
        if (f) {
            ck_assert_int_eq(future_resolve(f, V(1)), 0);
            future_release(f);
        } else {
            ck_assert_int_eq(err, ENOMEM);
        }
        if (done)
            return;
    }
    ck_abort_msg("future_new made more than %d allocations", MAX_STEPS);
}
END_TEST

static void count_cb(future_t *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

START_TEST(alloc_on_done_enomem_never_runs)
{
    for (long k = 1; k < MAX_STEPS; k++) {
        future_t *f = future_new();
        ck_assert_ptr_nonnull(f);
        atomic_int ran;
        atomic_init(&ran, 0);
        fut__test_fail_alloc(k);
        int rc = future_on_done(f, count_cb, &ran);
        bool done = fault_unused();
        ck_assert(rc == 0 || rc == ENOMEM);
        ck_assert_int_eq(future_resolve(f, V(2)), 0);
        /* A failed registration never runs its callback (libuv's rule). */
        ck_assert_int_eq(atomic_load(&ran), rc == 0 ? 1 : 0);
        future_release(f);
        if (done)
            return;
    }
    ck_abort_msg("future_on_done made more than %d allocations", MAX_STEPS);
}
END_TEST

static void *add_one(void *v, void *arg)
{
    (void)arg;
    return V((uintptr_t)v + 1);
}

START_TEST(alloc_then_enomem)
{
    for (long k = 1; k < MAX_STEPS; k++) {
        future_t *f = future_new();
        ck_assert_ptr_nonnull(f);
        fut__test_fail_alloc(k);
        errno = 0;
        future_t *g = future_then(f, add_one, NULL);
        int err = errno;
        bool done = fault_unused();
        ck_assert_int_eq(future_resolve(f, V(41)), 0);
        if (g) {
            void *v = NULL;
            ck_assert_int_eq(future_get(g, &v), 0);
            ck_assert_ptr_eq(v, V(42));
            future_release(g);
        } else {
            ck_assert_int_eq(err, ENOMEM);
        }
        future_release(f);
        if (done)
            return;
    }
    ck_abort_msg("future_then made more than %d allocations", MAX_STEPS);
}
END_TEST

START_TEST(alloc_gather_large_enomem)
{
    enum { N = 40 };   /* above the on-stack node count: one allocation */
    for (long k = 1; k < MAX_STEPS; k++) {
        future_t *fs[N];
        for (int i = 0; i < N; i++) {
            fs[i] = future_new();
            ck_assert_ptr_nonnull(fs[i]);
        }
        fut__test_fail_alloc(k);
        int rc = future_gather(fs, N, NULL, 10);
        bool done = fault_unused();
        ck_assert_msg(rc == ETIMEDOUT || rc == ENOMEM, "gather: %d", rc);
        /* Nothing stays linked on the futures: completing them is safe. */
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(future_resolve(fs[i], V(i)), 0);
            future_release(fs[i]);
        }
        if (done)
            return;
    }
    ck_abort_msg("future_gather made more than %d allocations", MAX_STEPS);
}
END_TEST

static void *ident(void *a) { return a; }

START_TEST(alloc_pool_new_enomem)
{
    for (long k = 1; k < MAX_STEPS; k++) {
        fut__test_fail_alloc(k);
        errno = 0;
        fut_pool_t *p = fut_pool_new(&(fut_pool_opts){.threads = 2});
        int err = errno;
        bool done = fault_unused();
        if (p) {
            /* Workers whose parker could not be made still run jobs. */
            future_t *f = fut_pool_submit(p, ident, V(7));
            ck_assert_ptr_nonnull(f);
            void *v = NULL;
            ck_assert_int_eq(future_get(f, &v), 0);
            ck_assert_ptr_eq(v, V(7));
            future_release(f);
            fut_pool_free(p);
        } else {
            ck_assert_msg(err == ENOMEM || err == EAGAIN, "errno %d", err);
        }
        if (done)
            return;
    }
    ck_abort_msg("fut_pool_new made more than %d allocations", MAX_STEPS);
}
END_TEST

START_TEST(alloc_pool_submit_and_map_enomem)
{
    fut_pool_t *p = fut_pool_new(&(fut_pool_opts){.threads = 2});
    ck_assert_ptr_nonnull(p);
    /* Warm the submitting thread's own parker so only the call's
     * allocations are counted. */
    future_t *w = fut_pool_submit(p, ident, V(0));
    future_get(w, NULL);
    future_release(w);
    for (long k = 1; k < MAX_STEPS; k++) {
        fut__test_fail_alloc(k);
        errno = 0;
        future_t *f = fut_pool_submit(p, ident, V(k));
        int err = errno;
        bool done = fault_unused();
        if (f) {
            void *v = NULL;
            ck_assert_int_eq(future_get(f, &v), 0);
            ck_assert_ptr_eq(v, V(k));
            future_release(f);
        } else {
            ck_assert_int_eq(err, ENOMEM);
        }
        if (done)
            break;
    }
    enum { N = 16 };
    void *args[N], *res[N];
    for (int i = 0; i < N; i++)
        args[i] = V(i + 1);
    for (long k = 1; k < MAX_STEPS; k++) {
        fut__test_fail_alloc(k);
        int rc = fut_pool_map(p, ident, args, res, N);
        bool done = fault_unused();
        ck_assert_msg(rc == 0 || rc == ENOMEM, "map: %d", rc);
        if (rc == 0)
            for (int i = 0; i < N; i++)
                ck_assert_ptr_eq(res[i], V(i + 1));
        if (done) {
            fut_pool_free(p);
            return;
        }
    }
    ck_abort_msg("fut_pool_map made more than %d allocations", MAX_STEPS);
}
END_TEST

static void *sleepy(void *a)
{
    fut_sleep(1);
    return a;
}

static void *three_and_gather(void *a)
{
    (void)a;
    future_t *fs[3];
    int made = 0;
    for (int i = 0; i < 3; i++) {
        fs[i] = fut_spawn(sleepy, V(i + 1));
        if (!fs[i]) {
            int err = errno;
            for (int j = 0; j < made; j++)
                future_release(fs[j]);
            return fut_raise(err);
        }
        made++;
    }
    void *v[3];
    int rc = future_gather(fs, (size_t)made, v, FUT_FOREVER);
    for (int i = 0; i < made; i++)
        future_release(fs[i]);
    if (rc)
        return fut_raise(rc);
    return V((uintptr_t)v[0] + (uintptr_t)v[1] + (uintptr_t)v[2]);
}

START_TEST(alloc_loop_run_enomem)
{
    for (long k = 1; k < MAX_STEPS * 4; k++) {
        fut__test_fail_alloc(k);
        void *r = NULL;
        int rc = fut_run(three_and_gather, NULL, &r);
        bool done = fault_unused();
        ck_assert_msg(rc == 0 || rc == ENOMEM, "fut_run: %d (k=%ld)", rc, k);
        if (rc == 0)
            ck_assert_ptr_eq(r, V(6));
        if (done)
            return;
    }
    ck_abort_msg("fut_run made more than %d allocations", MAX_STEPS * 4);
}
END_TEST

START_TEST(alloc_set_name_enomem)
{
    future_t *f = future_new();
    ck_assert_ptr_nonnull(f);
    fut__test_fail_alloc(1);
    ck_assert_int_eq(future_set_name(f, "pasta"), ENOMEM);
    fault_unused();
    ck_assert_ptr_null(future_name(f));
    ck_assert_int_eq(future_set_name(f, "pasta"), 0);
    ck_assert_str_eq(future_name(f), "pasta");
    future_release(f);
}
END_TEST

/* ---- structured concurrency: shield, wait_next, wait_for, groups ---- */

START_TEST(alloc_shield_enomem)
{
    for (long k = 1; k < MAX_STEPS; k++) {
        future_t *f = future_new();
        ck_assert_ptr_nonnull(f);
        fut__test_fail_alloc(k);
        errno = 0;
        future_t *s = future_shield(f);
        int err = errno;
        bool done = fault_unused();
        ck_assert_int_eq(future_resolve(f, V(5)), 0);   /* f is untouched */
        if (s) {
            void *v = NULL;
            ck_assert_int_eq(future_get(s, &v), 0);
            ck_assert_ptr_eq(v, V(5));
            future_release(s);
        } else {
            ck_assert_int_eq(err, ENOMEM);
        }
        future_release(f);
        if (done)
            return;
    }
    ck_abort_msg("future_shield made more than %d allocations", MAX_STEPS);
}
END_TEST

START_TEST(alloc_wait_next_large_enomem)
{
    enum { N = 40 };   /* above the on-stack node count: one allocation */
    for (long k = 1; k < MAX_STEPS; k++) {
        future_t *fs[N];
        bool marks[N] = {false};
        for (int i = 0; i < N; i++)
            fs[i] = future_new();
        fut__test_fail_alloc(k);
        size_t idx = 99;
        int rc = future_wait_next(fs, N, marks, 5, &idx);
        bool done = fault_unused();
        ck_assert_msg(rc == ETIMEDOUT || rc == ENOMEM, "wait_next: %d", rc);
        ck_assert_int_eq((int)idx, 99);
        for (int i = 0; i < N; i++)
            ck_assert(!marks[i]);
        /* nothing stays linked: completing and waiting again work */
        ck_assert_int_eq(future_resolve(fs[7], V(1)), 0);
        ck_assert_int_eq(future_wait_next(fs, N, marks, 0, &idx), 0);
        ck_assert_int_eq((int)idx, 7);
        for (int i = 0; i < N; i++)
            future_release(fs[i]);
        if (done)
            return;
    }
    ck_abort_msg("future_wait_next made more than %d allocations", MAX_STEPS);
}
END_TEST

/* Adds past several chunk boundaries of the group's member records, then
 * a wait: each allocation in turn fails. */
START_TEST(alloc_group_add_enomem)
{
    enum { N = 200 };
    future_t *fs[N];
    for (long k = 1; k < MAX_STEPS; k++) {
        for (int i = 0; i < N; i++)
            fs[i] = future_new();
        fut__test_fail_alloc(k);
        errno = 0;
        fut_group_t *g = fut_group_new();
        int err = errno;
        int added = 0, enomem = 0;
        for (int i = 0; g && i < N; i++) {
            int rc = fut_group_add(g, fs[i]);
            ck_assert_msg(rc == 0 || rc == ENOMEM, "add: %d", rc);
            added += rc == 0;
            enomem += rc == ENOMEM;
        }
        bool done = fault_unused();
        if (!g)
            ck_assert_int_eq(err, ENOMEM);
        else
            ck_assert_int_eq(added + enomem, N);
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(future_resolve(fs[i], V(i)), 0);   /* none cancelled */
        if (g) {
            ck_assert_int_eq(fut_group_wait(g, FUT_FOREVER), 0);
            fut_group_free(g);
        }
        for (int i = 0; i < N; i++)
            future_release(fs[i]);
        if (done)
            return;
    }
    ck_abort_msg("fut_group_new/add made more than %d allocations", MAX_STEPS);
}
END_TEST

START_TEST(alloc_group_submit_enomem)
{
    fut_pool_t *p = fut_pool_new(&(fut_pool_opts){.threads = 2});
    ck_assert_ptr_nonnull(p);
    future_t *w = fut_pool_submit(p, ident, V(0));
    future_get(w, NULL);
    future_release(w);
    enum { N = 50 };
    for (long k = 1; k < MAX_STEPS; k++) {
        fut_group_t *g = fut_group_new();
        ck_assert_ptr_nonnull(g);
        fut__test_fail_alloc(k);
        int ok = 0;
        for (int i = 0; i < N; i++) {
            errno = 0;
            future_t *f = fut_group_submit(g, p, ident, V(i));
            if (f) {
                ok++;
                future_release(f);
            } else {
                ck_assert_int_eq(errno, ENOMEM);
            }
        }
        bool done = fault_unused();
        ck_assert_int_ge(ok, N - 1);
        ck_assert_int_eq(fut_group_wait(g, FUT_FOREVER), 0);
        fut_group_free(g);
        if (done) {
            fut_pool_free(p);
            return;
        }
    }
    ck_abort_msg("fut_group_submit made more than %d allocations", MAX_STEPS);
}
END_TEST

/* In a coroutine: a group of spawned coroutines with a deadline (a timer),
 * future_wait_for (a timer), a shield: every allocation of the run fails
 * in turn. */
static void *group_in_loop(void *a)
{
    (void)a;
    fut_group_t *g = fut_group_new();
    if (!g)
        return fut_raise(errno);
    int made = 0, err = 0;
    for (int i = 0; i < 3; i++) {
        future_t *f = fut_group_spawn(g, sleepy, V(i + 1));
        if (!f) {
            err = errno;
            continue;
        }
        made++;
        future_release(f);
    }
    int rc = fut_group_wait(g, 10000);
    fut_group_free(g);
    if (rc)
        return fut_raise(rc);
    if (err)
        return fut_raise(err);
    future_t *p = future_new();
    if (!p)
        return fut_raise(ENOMEM);
    future_t *s = future_shield(p);
    if (!s) {
        future_release(p);
        return fut_raise(ENOMEM);
    }
    rc = future_wait_for(s, 2, NULL);  /* ETIMEDOUT, or ENOMEM (timer) */
    int shield_state = future_state(s);
    future_release(s);
    int p_state = future_state(p);     /* never cancelled through the shield */
    future_release(p);
    if (p_state != FUTURE_PENDING)
        return fut_raise(EPROTO);
    if (rc == ETIMEDOUT && shield_state != FUTURE_CANCELLED)
        return fut_raise(EPROTO);
    if (rc != ETIMEDOUT)
        return fut_raise(rc);
    return V(made);
}

START_TEST(alloc_group_in_loop_enomem)
{
    for (long k = 1; k < MAX_STEPS * 4; k++) {
        fut__test_fail_alloc(k);
        void *r = NULL;
        int rc = fut_run(group_in_loop, NULL, &r);
        bool done = fault_unused();
        ck_assert_msg(rc == 0 || rc == ENOMEM, "fut_run: %d (k=%ld)", rc, k);
        if (rc == 0)
            ck_assert_ptr_eq(r, V(3));
        if (done)
            return;
    }
    ck_abort_msg("the group run made more than %d allocations", MAX_STEPS * 4);
}
END_TEST

/* Futures are carved from per-thread chunks (lib/future.c): a chunk is
 * freed by whichever thread releases its last future, possibly after the
 * thread that carved it has exited. */
enum { HANDOFF = 2000 };

static void *make_promises(void *arg)
{
    future_t **out = arg;
    for (int i = 0; i < HANDOFF; i++)
        out[i] = future_new();
    return NULL;                       /* exits with its chunk still in use */
}

struct relay {
    future_t **slots;
    atomic_int *ready;
    int from, to;
};

static void *release_range(void *arg)
{
    struct relay *r = arg;
    for (int i = r->from; i < r->to; i++) {
        while (!atomic_load(&r->ready[i]))
            sched_yield();
        ck_assert_int_eq(future_resolve(r->slots[i], V(i)), 0);
        future_release(r->slots[i]);
    }
    return NULL;
}

START_TEST(alloc_futures_outlive_their_thread)
{
    static future_t *fs[HANDOFF];
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, make_promises, fs), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    for (int i = 0; i < HANDOFF; i++) {
        ck_assert_ptr_nonnull(fs[i]);
        ck_assert_int_eq(future_state(fs[i]), FUTURE_PENDING);
    }
    /* Release them from two other threads while this one makes more. */
    static atomic_int ready[HANDOFF];
    for (int i = 0; i < HANDOFF; i++)
        atomic_init(&ready[i], 1);
    struct relay a = {fs, ready, 0, HANDOFF / 2}, b = {fs, ready, HANDOFF / 2, HANDOFF};
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, release_range, &a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, release_range, &b), 0);
    for (int i = 0; i < HANDOFF; i++) {
        future_t *f = future_new();
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(future_fail(f, EIO), 0);
        future_release(f);
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
}
END_TEST

START_TEST(alloc_futures_cross_thread_churn)
{
    /* One thread creates, another releases, in a stream: chunks retire on
     * the creator and die on the releaser, thousands of times. */
    enum { N = 50000 };
    static future_t *slots[N];
    static atomic_int ready[N];
    for (int i = 0; i < N; i++)
        atomic_init(&ready[i], 0);
    struct relay r = {slots, ready, 0, TU_ROUNDS(N)};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, release_range, &r), 0);
    for (int i = 0; i < r.to; i++) {
        slots[i] = future_new();
        ck_assert_ptr_nonnull(slots[i]);
        atomic_store(&ready[i], 1);
    }
    pthread_join(t, NULL);
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("enomem");
    tcase_add_test(tc, alloc_future_new_enomem);
    tcase_add_test(tc, alloc_on_done_enomem_never_runs);
    tcase_add_test(tc, alloc_then_enomem);
    tcase_add_test(tc, alloc_gather_large_enomem);
    tcase_add_test(tc, alloc_pool_new_enomem);
    tcase_add_test(tc, alloc_pool_submit_and_map_enomem);
    tcase_add_test(tc, alloc_loop_run_enomem);
    tcase_add_test(tc, alloc_set_name_enomem);
    tcase_add_test(tc, alloc_shield_enomem);
    tcase_add_test(tc, alloc_wait_next_large_enomem);
    tcase_add_test(tc, alloc_group_add_enomem);
    tcase_add_test(tc, alloc_group_submit_enomem);
    tcase_add_test(tc, alloc_group_in_loop_enomem);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("memory");
    tcase_add_test(tm, alloc_futures_outlive_their_thread);
    tcase_add_test(tm, alloc_futures_cross_thread_churn);
    suite_add_tcase(s, tm);
    return s;
}

TU_MAIN(alloc_suite)
