/* SPDX-License-Identifier: MIT */
/*
 * test_core.c - the waiting core under thread churn: minimal reproducers
 * of what the soak (make stress) found
 *
 * Each case is the smallest program that shows one failure the soak
 * reported, with the soak op or feature that found it:
 *
 *   core_short_lived_waiters_exit_after_wake     short_threads
 *   core_then_chain_200k_links_on_a_thread       deep_chains
 *   core_then_chain_10k_links_in_a_coroutine     coro_chains
 *   core_cancel_shutdown_callback_shuts_down_pool  cb_shutdown
 *   core_callback_drops_last_reference           cb_release (ASan)
 *   core_loop_in_pool_job_runs_pool_jobs         loop_in_job
 *   core_einval_means_complete                   einval_done
 *   core_notifier_leaves_returned_waiter_alone   jobs (TSan: a data race)
 *
 * A case whose failure would be a hang waits with a time limit instead
 * and fails with a message; a crash fails the case (Check forks each).
 */
#include "testutil.h"

#define V(n) ((void *)(uintptr_t)(n))

/* ---------------------------------------------------------------------
 * core_short_lived_waiters_exit_after_wake: a thread waits once on a
 * promise that another thread resolves, and exits as soon as its wait
 * returns.  The completer must be done with the waiter's memory (its
 * parker) before the waiter can see the result, or the exiting thread
 * frees what the completer is about to lock.
 * ------------------------------------------------------------------- */

struct once_waiter {
    future_t *f;
    int rc;
    void *v;
};

static void *wait_once(void *arg)
{
    struct once_waiter *w = arg;
    w->rc = future_get(w->f, &w->v);
    return NULL;   /* exit at once: the thread's parker is freed now */
}

struct churn {
    long rounds;
    atomic_int bad;
};

static void *churn_waiters(void *arg)
{
    struct churn *c = arg;
    for (long r = 0; r < c->rounds; r++) {
        struct once_waiter w = { future_new(), -1, NULL };
        pthread_t t;
        if (!w.f || pthread_create(&t, NULL, wait_once, &w) != 0) {
            atomic_store(&c->bad, 1);
            return NULL;
        }
        /* Let the waiter park sometimes, race it other times. */
        if (r & 1)
            sched_yield();
        future_resolve(w.f, V(r + 1));
        pthread_join(t, NULL);
        if (w.rc != 0 || w.v != V(r + 1))
            atomic_store(&c->bad, 1);
        future_release(w.f);
    }
    return NULL;
}

START_TEST(core_short_lived_waiters_exit_after_wake)
{
    struct churn c = { TU_ROUNDS(20000), 0 };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        t[i] = tu_thread(churn_waiters, &c);
    for (int i = 0; i < 4; i++)
        tu_join(t[i]);
    ck_assert_int_eq(atomic_load(&c.bad), 0);
}
END_TEST

/* ---------------------------------------------------------------------
 * Then-chains must complete iteratively: as deep as you like, on a
 * thread's 8 MiB stack or a coroutine's 64 KiB one, in order.
 * ------------------------------------------------------------------- */

struct chain {
    atomic_long ran;
    long bad_at;   /* first step that saw a wrong value; -1 none */
};

static void *chain_step(void *value, void *arg)
{
    struct chain *c = arg;
    long i = atomic_fetch_add(&c->ran, 1);
    if ((uintptr_t)value != (uintptr_t)i + 1 && c->bad_at < 0)
        c->bad_at = i;
    return V((uintptr_t)value + 1);
}

/* Builds n links on a new promise, resolves it here, checks the end. */
static void chain_run(long n)
{
    struct chain c = { 0, -1 };
    future_t *root = future_new();
    ck_assert_ptr_nonnull(root);
    future_t *prev = future_retain(root);
    for (long i = 0; i < n; i++) {
        future_t *next = future_then(prev, chain_step, &c);
        ck_assert_ptr_nonnull(next);
        future_release(prev);
        prev = next;
    }
    tu_assert_rc(future_resolve(root, V(1)), 0);
    /* Every link completes in the resolving call. */
    ck_assert(future_done(prev));
    ck_assert_int_eq(atomic_load(&c.ran), n);
    ck_assert_int_eq(c.bad_at, -1);
    void *v = NULL;
    tu_assert_rc(future_get(prev, &v), 0);
    ck_assert_ptr_eq(v, V(n + 1));
    future_release(prev);
    future_release(root);
}

static void *chain_thread(void *arg)
{
    chain_run((long)(intptr_t)arg);
    return NULL;
}

START_TEST(core_then_chain_200k_links_on_a_thread)
{
    /* A created thread has the default 8 MiB stack (the main thread's may
     * grow further). */
    tu_join(tu_thread(chain_thread, (void *)(intptr_t)200000));
}
END_TEST

static void *chain_coro(void *arg)
{
    chain_run((long)(intptr_t)arg);
    return V(7);
}

START_TEST(core_then_chain_10k_links_in_a_coroutine)
{
    void *res = NULL;
    /* The default stack: 64 KiB. */
    tu_assert_rc(fut_run(chain_coro, (void *)(intptr_t)10000, &res), 0);
    ck_assert_ptr_eq(res, V(7));
}
END_TEST

/* ---------------------------------------------------------------------
 * core_cancel_shutdown_callback_shuts_down_pool: FUT_CANCEL shutdown
 * completes the queued jobs; a callback of one of them shuts the same
 * pool down.  User code must not run under the shutdown's lock: the
 * inner call is harmless (0) and the outer one finishes.
 * ------------------------------------------------------------------- */

struct shut {
    fut_pool_t *p;
    atomic_int cb_rc;
    atomic_int cb_runs;
    int rc;
    tu_gate done;
};

static void cb_shutdown(future_t *f, void *arg)
{
    (void)f;
    struct shut *s = arg;
    atomic_store(&s->cb_rc, fut_pool_shutdown(s->p, FUT_DRAIN));
    atomic_fetch_add(&s->cb_runs, 1);
}

static void *shutdown_cancel(void *arg)
{
    struct shut *s = arg;
    s->rc = fut_pool_shutdown(s->p, FUT_CANCEL);
    tu_gate_open(&s->done);
    return NULL;
}

START_TEST(core_cancel_shutdown_callback_shuts_down_pool)
{
    fut_pool_opts o = { .threads = 1 };
    struct shut s = { .p = fut_pool_new(&o), .cb_rc = -1 };
    ck_assert_ptr_nonnull(s.p);
    tu_gate_init(&s.done);
    tu_blocker b;
    tu_blocker_init(&b, V(1));
    future_t *run = fut_pool_submit(s.p, tu_blocker_job, &b);
    tu_gate_wait(&b.started);
    future_t *queued = fut_pool_submit(s.p, tu_identity_job, V(2));
    ck_assert_ptr_nonnull(queued);
    tu_assert_rc(future_on_done(queued, cb_shutdown, &s), 0);
    pthread_t t = tu_thread(shutdown_cancel, &s);
    /* The queued job is cancelled (and its callback runs) before the
     * running one may end. */
    for (int i = 0; i < 2000 && !future_done(queued); i++)
        tu_sleep_ms(1);
    tu_assert_state(queued, FUTURE_CANCELLED);
    tu_gate_open(&b.release);
    ck_assert_msg(tu_gate_wait_ms(&s.done, 10000),
                  "fut_pool_shutdown(FUT_CANCEL) did not return in 10 s: a callback it ran "
                  "calls fut_pool_shutdown on the same pool");
    tu_join(t);
    tu_assert_rc(s.rc, 0);
    ck_assert_int_eq(atomic_load(&s.cb_runs), 1);
    tu_assert_rc(atomic_load(&s.cb_rc), 0);
    tu_assert_state(run, FUTURE_DONE);
    future_release(run);
    future_release(queued);
    fut_pool_free(s.p);
    tu_blocker_destroy(&b);
    tu_gate_destroy(&s.done);
}
END_TEST

/* ---------------------------------------------------------------------
 * core_callback_drops_last_reference: the first callback drops the only
 * reference (the caller's, during its own future_resolve); the later
 * callback and continuation still read the future.  The completer must
 * hold it alive until its callbacks are done.  Under SANITIZE=address a
 * use after free is reported; a plain build cannot see it.
 * ------------------------------------------------------------------- */

static void cb_release_it(future_t *f, void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    future_release(f);
}

static void cb_read_state(future_t *f, void *arg)
{
    if (future_state(f) == FUTURE_DONE)
        atomic_fetch_add((atomic_int *)arg, 1);
}

static void *then_plus_one(void *value, void *arg)
{
    (void)arg;
    return V((uintptr_t)value + 1);
}

START_TEST(core_callback_drops_last_reference)
{
    atomic_int released = 0, seen = 0;
    future_t *f = future_new();
    ck_assert_ptr_nonnull(f);
    tu_assert_rc(future_on_done(f, cb_release_it, &released), 0);
    tu_assert_rc(future_on_done(f, cb_read_state, &seen), 0);
    future_t *g = future_then(f, then_plus_one, NULL);
    ck_assert_ptr_nonnull(g);
    tu_assert_rc(future_on_done(f, cb_read_state, &seen), 0);
    /* Our reference goes to cb_release_it: f is not touched after. */
    tu_assert_rc(future_resolve(f, V(41)), 0);
    ck_assert_int_eq(atomic_load(&released), 1);
    ck_assert_int_eq(atomic_load(&seen), 2);
    void *v = NULL;
    tu_assert_rc(future_get(g, &v), 0);
    ck_assert_ptr_eq(v, V(42));
    future_release(g);
}
END_TEST

/* ---------------------------------------------------------------------
 * core_loop_in_pool_job_runs_pool_jobs: a loop run inside the only
 * thread of a pool; its coroutine waits on a job of that pool.  While the
 * loop has nothing to run it sleeps on a pool thread, so it must run the
 * pool's queued jobs, as any waiting pool thread does.
 * ------------------------------------------------------------------- */

static fut_pool_t *lij_pool;

static void *lij_main(void *arg)
{
    (void)arg;
    future_t *j = fut_pool_submit(lij_pool, tu_identity_job, V(5));
    if (!j)
        return fut_raise(errno);
    int rc = future_wait(j, 5000);
    void *v = NULL;
    if (rc == 0)
        rc = future_get(j, &v);
    future_release(j);
    return rc ? fut_raise(rc) : v;
}

static void *lij_job(void *arg)
{
    (void)arg;
    void *res = NULL;
    int rc = fut_run(lij_main, NULL, &res);
    return rc ? fut_raise(rc) : res;
}

START_TEST(core_loop_in_pool_job_runs_pool_jobs)
{
    fut_pool_opts o = { .threads = 1 };
    lij_pool = fut_pool_new(&o);
    ck_assert_ptr_nonnull(lij_pool);
    future_t *f = fut_pool_submit(lij_pool, lij_job, NULL);
    ck_assert_ptr_nonnull(f);
    void *v = NULL;
    int rc = future_get(f, &v);
    ck_assert_msg(rc != ETIMEDOUT,
                  "the coroutine's wait on its pool's job timed out after 5 s: the loop "
                  "sleeping on the pool thread did not run the pool's queued job");
    tu_assert_rc(rc, 0);
    ck_assert_ptr_eq(v, V(5));
    future_release(f);
    fut_pool_free(lij_pool);
}
END_TEST

/* ---------------------------------------------------------------------
 * core_einval_means_complete: future_cancel's EINVAL says "already
 * complete", so future_done() must be true right after it; and a promise
 * being completed never reads FUTURE_RUNNING (a promise is PENDING until
 * complete).  Completers race cancellers and readers on shared promises;
 * the window is a completion's own few instructions, so this runs for a
 * bounded time and stops at the first disagreement.
 * ------------------------------------------------------------------- */

#define EMC_SLOTS 64

struct emc {
    _Atomic(future_t *) slot[EMC_SLOTS];
    atomic_bool stop;
    atomic_long einval_not_done;
    atomic_long promise_running;
    atomic_long checks;
};

static void *emc_completer(void *arg)
{
    struct emc *e = arg;
    unsigned i = 0;
    while (!atomic_load(&e->stop)) {
        future_t *f = atomic_exchange(&e->slot[i++ % EMC_SLOTS], NULL);
        if (!f)
            continue;
        future_resolve(f, V(1));
        future_release(f);
    }
    return NULL;
}

static void *emc_canceller(void *arg)
{
    struct emc *e = arg;
    unsigned i = 0;
    while (!atomic_load(&e->stop)) {
        unsigned k = i++ % EMC_SLOTS;
        future_t *f = future_new();
        if (!f)
            continue;
        future_t *mine = future_retain(f);
        future_t *old = atomic_exchange(&e->slot[k], f);
        if (old)
            future_release(old);
        /* Race the completers for it. */
        for (int n = 0; n < 64; n++) {
            enum future_state s = future_state(mine);
            if (s == FUTURE_RUNNING)
                atomic_fetch_add(&e->promise_running, 1);
            if (s != FUTURE_PENDING)
                break;
        }
        int rc = future_cancel(mine);
        if (rc == EINVAL && !future_done(mine))
            atomic_fetch_add(&e->einval_not_done, 1);
        atomic_fetch_add(&e->checks, 1);
        future_release(mine);
    }
    return NULL;
}

START_TEST(core_einval_means_complete)
{
    struct emc *e = calloc(1, sizeof *e);
    ck_assert_ptr_nonnull(e);
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        t[i] = tu_thread(i < 4 ? emc_completer : emc_canceller, e);
    uint64_t end = tu_now_ns() + 1500000000u;
    while (tu_now_ns() < end && !atomic_load(&e->einval_not_done) &&
           !atomic_load(&e->promise_running))
        tu_sleep_ms(10);
    atomic_store(&e->stop, true);
    for (int i = 0; i < 6; i++)
        tu_join(t[i]);
    for (int i = 0; i < EMC_SLOTS; i++)
        future_release(atomic_load(&e->slot[i]));
    ck_assert_msg(atomic_load(&e->einval_not_done) == 0,
                  "future_cancel returned EINVAL (already complete) %ld times while "
                  "future_done() was still false (of %ld cancels)",
                  atomic_load(&e->einval_not_done), atomic_load(&e->checks));
    ck_assert_msg(atomic_load(&e->promise_running) == 0,
                  "a promise being completed read FUTURE_RUNNING %ld times",
                  atomic_load(&e->promise_running));
    free(e);
}
END_TEST

/* ---------------------------------------------------------------------
 * core_notifier_leaves_returned_waiter_alone: a completer that notifies a
 * waiter without firing it must not read the waiter after its
 * notification (it may be the last reference: the waiter returns, and its
 * next wait reuses the same stack memory).  Two completers race on a
 * gather of two; the same call then waits 1 ms on a promise nobody
 * completes, with its waiter at the same address: a late read of the old
 * waiter that took the new one for its own would fire it, and the wait
 * would return 0 on an incomplete future.  ThreadSanitizer reports the
 * late read itself.
 * ------------------------------------------------------------------- */

struct nlw {
    pthread_barrier_t go;
    future_t *f[2];
    long rounds;
};

static void *nlw_completer(void *arg)
{
    struct nlw *x = arg;
    static atomic_int who;
    int me = atomic_fetch_add(&who, 1) & 1;
    for (long r = 0; r < x->rounds; r++) {
        pthread_barrier_wait(&x->go);
        /* Let the gather link its nodes first (a few microseconds), and
         * vary which completer comes second. */
        uint64_t until = tu_now_ns() + 20000u + (uint64_t)((r * 7 + me * 3) % 11) * 1000u;
        while (tu_now_ns() < until) {
        }
        future_resolve(x->f[me], V(r + 1));
        pthread_barrier_wait(&x->go);
    }
    return NULL;
}

/* Both waits through one frame, so their waiter records share an address. */
static int nlw_gather(future_t *const fs[], size_t n, long timeout_ms)
{
    return future_gather(fs, n, NULL, timeout_ms);
}

START_TEST(core_notifier_leaves_returned_waiter_alone)
{
    struct nlw x = { .rounds = TU_ROUNDS(4000) };
    pthread_barrier_init(&x.go, NULL, 3);
    pthread_t t[2] = { tu_thread(nlw_completer, &x), tu_thread(nlw_completer, &x) };
    future_t *never = future_new();
    ck_assert_ptr_nonnull(never);
    long spurious = 0;
    for (long r = 0; r < x.rounds; r++) {
        x.f[0] = future_new();
        x.f[1] = future_new();
        pthread_barrier_wait(&x.go);
        tu_assert_rc(nlw_gather(x.f, 2, FUT_FOREVER), 0);
        future_t *const one[1] = { never };
        if (nlw_gather(one, 1, 1) == 0)
            spurious++;
        pthread_barrier_wait(&x.go);
        future_release(x.f[0]);
        future_release(x.f[1]);
    }
    tu_join(t[0]);
    tu_join(t[1]);
    ck_assert_msg(spurious == 0, "a wait on a promise nobody completes returned 0 %ld times",
                  spurious);
    future_release(never);
    pthread_barrier_destroy(&x.go);
}
END_TEST

/* ------------------------------------------------------------------- */

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tu_tcase(s, "churn", 60);
    tcase_add_test(tc, core_short_lived_waiters_exit_after_wake);
    tcase_add_test(tc, core_einval_means_complete);
    tcase_add_test(tc, core_notifier_leaves_returned_waiter_alone);

    tc = tu_tcase(s, "chains", 60);
    tcase_add_test(tc, core_then_chain_200k_links_on_a_thread);
    tcase_add_test(tc, core_then_chain_10k_links_in_a_coroutine);

    tc = tu_tcase(s, "user_code", 30);
    tcase_add_test(tc, core_cancel_shutdown_callback_shuts_down_pool);
    tcase_add_test(tc, core_callback_drops_last_reference);
    tcase_add_test(tc, core_loop_in_pool_job_runs_pool_jobs);
    return s;
}

TU_MAIN(core_suite)
