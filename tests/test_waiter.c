/* SPDX-License-Identifier: MIT */
/*
 * test_waiter.c - the waiting core: one test per finding of the review
 * that reshaped it (thread churn, deep chains, user code under locks,
 * callbacks dropping references, a loop inside a pool job, the CPU count,
 * header/code consistency), each of which failed on the earlier core.
 */
#include "testutil.h"

#include <sched.h>
#include <sys/wait.h>

/* ---------------------------------------------------------------------
 * 1. A thread that waits once and exits at once
 * ------------------------------------------------------------------- */

struct churn {
    future_t *f;
    pthread_barrier_t go;
    atomic_int got;
};

static void *churn_waiter(void *arg)
{
    struct churn *c = arg;
    void *v = NULL;
    pthread_barrier_wait(&c->go);
    if (future_get(c->f, &v) == 0 && v == (void *)7)
        atomic_fetch_add(&c->got, 1);
    return NULL;   /* exits at once: its parker goes back */
}

/* Short-lived threads each wait on a promise resolved from another thread
 * a moment after they start waiting (while they spin, or just after they
 * park), and exit as soon as the wait returns.  On the earlier core the
 * completer locked the waiter's parker after the waiter could already have
 * returned and its thread freed the parker (heap corruption; under ASan a
 * use after free). */
START_TEST(waiter_thread_exits_right_after_wait)
{
    long rounds = TU_ROUNDS(6000);
    enum { K = 4 };
    struct churn c;
    atomic_init(&c.got, 0);
    pthread_barrier_init(&c.go, NULL, K + 1);
    for (long i = 0; i < rounds; i++) {
        c.f = future_new();
        ck_assert_ptr_nonnull(c.f);
        pthread_t t[K];
        for (int k = 0; k < K; k++)
            ck_assert_int_eq(pthread_create(&t[k], NULL, churn_waiter, &c), 0);
        pthread_barrier_wait(&c.go);
        /* 0 to ~8 us: lands in the waiters' spin or right after it */
        uint64_t until = tu_now_ns() + (uint64_t)(i % 9) * 1000u;
        while (tu_now_ns() < until) {
        }
        ck_assert_int_eq(future_resolve(c.f, (void *)7), 0);
        for (int k = 0; k < K; k++)
            pthread_join(t[k], NULL);
        future_release(c.f);
    }
    pthread_barrier_destroy(&c.go);
    ck_assert_int_eq(atomic_load(&c.got), rounds * K);
}
END_TEST

static void *churn_timed_waiter(void *arg)
{
    struct churn *c = arg;
    /* A timeout racing the completion: the waiter may give up while the
     * completer is between detaching its node and notifying it. */
    int rc = future_wait(c->f, 0 + (long)(rand() % 2));
    if (rc == 0)
        atomic_fetch_add(&c->got, 1);
    return NULL;
}

START_TEST(waiter_timeout_races_completion_and_exit)
{
    long rounds = TU_ROUNDS(3000);
    struct churn c;
    atomic_init(&c.got, 0);
    pthread_barrier_init(&c.go, NULL, 1);
    for (long i = 0; i < rounds; i++) {
        c.f = future_new();
        pthread_t t[2];
        for (int k = 0; k < 2; k++)
            ck_assert_int_eq(pthread_create(&t[k], NULL, churn_timed_waiter, &c), 0);
        ck_assert_int_eq(future_resolve(c.f, NULL), 0);
        for (int k = 0; k < 2; k++)
            pthread_join(t[k], NULL);
        future_release(c.f);
    }
    pthread_barrier_destroy(&c.go);
    ck_assert_int_le(atomic_load(&c.got), rounds * 2);
}
END_TEST

/* Coroutines waiting on promises that other threads resolve, each loop
 * short-lived: the wake path through the loop must not touch a finished
 * coroutine or a freed loop. */
struct coro_churn {
    future_t *p;
};

static void *coro_get_promise(void *arg)
{
    struct coro_churn *cc = arg;
    void *v = NULL;
    int rc = future_get(cc->p, &v);
    return rc == 0 ? v : fut_raise(rc);
}

static void *resolver(void *arg)
{
    future_resolve(arg, (void *)9);
    return NULL;
}

START_TEST(waiter_coroutine_woken_from_thread_then_loop_ends)
{
    long rounds = TU_ROUNDS(1500);
    for (long i = 0; i < rounds; i++) {
        struct coro_churn cc = {future_new()};
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, resolver, cc.p), 0);
        void *v = NULL;
        ck_assert_int_eq(fut_run(coro_get_promise, &cc, &v), 0);
        ck_assert_ptr_eq(v, (void *)9);
        pthread_join(t, NULL);
        future_release(cc.p);
    }
}
END_TEST

/* A completer whose notification does not fire the waiter must not touch
 * the waiter after its add: the waiter may return at once and its next
 * wait reuse the same stack slot.  The completers of one gather are not
 * joined before the next gather begins (at the same address), so under
 * TSan a read of the record after the add (once: of `need`) is a race. */
static void *resolver_late(void *arg)
{
    tu_sleep_ms(1);                    /* so that the gather is waiting */
    future_resolve(arg, (void *)9);
    return NULL;
}

START_TEST(waiter_notify_does_not_touch_record_after_add)
{
    long rounds = TU_ROUNDS(500);
    pthread_t prev[3];
    future_t *prevf[3];
    bool have_prev = false;
    for (long i = 0; i < rounds; i++) {
        future_t *f[3];
        pthread_t t[3];
        for (int k = 0; k < 3; k++) {
            f[k] = future_new();
            ck_assert_ptr_nonnull(f[k]);
            ck_assert_int_eq(pthread_create(&t[k], NULL, resolver_late, f[k]), 0);
        }
        ck_assert_int_eq(future_gather(f, 3, NULL, FUT_FOREVER), 0);
        if (have_prev) {
            for (int k = 0; k < 3; k++) {
                pthread_join(prev[k], NULL);
                future_release(prevf[k]);
            }
        }
        memcpy(prev, t, sizeof t);
        memcpy(prevf, f, sizeof f);
        have_prev = true;
    }
    for (int k = 0; k < 3; k++) {
        pthread_join(prev[k], NULL);
        future_release(prevf[k]);
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * 2. Long then-chains complete iteratively
 * ------------------------------------------------------------------- */

static void *inc(void *v, void *arg)
{
    (void)arg;
    return (void *)((uintptr_t)v + 1);
}

/* Builds a chain of n links on root; returns the last (one reference). */
static future_t *chain(future_t *root, long n)
{
    future_t *cur = future_retain(root);
    for (long i = 0; i < n; i++) {
        future_t *next = future_then(cur, inc, NULL);
        ck_assert_ptr_nonnull(next);
        future_release(cur);   /* each link keeps its successor alive */
        cur = next;
    }
    return cur;
}

START_TEST(waiter_then_chain_million_on_thread)
{
    long n = TU_ROUNDS(1000000);
    future_t *root = future_new();
    future_t *last = chain(root, n);
    ck_assert_int_eq(future_resolve(root, (void *)0), 0);
    void *v = NULL;
    ck_assert_int_eq(future_get(last, &v), 0);
    ck_assert_uint_eq((uintptr_t)v, (uintptr_t)n);
    future_release(last);
    future_release(root);
}
END_TEST

struct chain_arg {
    future_t *root;
    long n;
};

static void *resolve_in_coroutine(void *arg)
{
    struct chain_arg *a = arg;
    future_resolve(a->root, (void *)0);   /* runs the whole chain here */
    return NULL;
}

START_TEST(waiter_then_chain_resolved_in_coroutine)
{
    long n = TU_ROUNDS(100000);
    future_t *root = future_new();
    future_t *last = chain(root, n);
    struct chain_arg a = {root, n};
    ck_assert_int_eq(fut_run(resolve_in_coroutine, &a, NULL), 0);
    void *v = NULL;
    ck_assert_int_eq(future_get(last, &v), 0);
    ck_assert_uint_eq((uintptr_t)v, (uintptr_t)n);
    future_release(last);
    future_release(root);
}
END_TEST

/* Callbacks of one future still run in registration order, and those a
 * callback causes run after it, in order. */
static char order_log[16];
static atomic_int order_n;

static void log_cb(future_t *f, void *arg)
{
    (void)f;
    order_log[atomic_fetch_add(&order_n, 1)] = (char)(uintptr_t)arg;
}

static void resolving_cb(future_t *f, void *arg)
{
    log_cb(f, (void *)'a');
    future_resolve(arg, NULL);   /* its callbacks are deferred until we return */
    log_cb(f, (void *)'b');
}

START_TEST(waiter_callbacks_nested_run_after_in_order)
{
    atomic_store(&order_n, 0);
    future_t *f = future_new(), *g = future_new();
    ck_assert_int_eq(future_on_done(g, log_cb, (void *)'x'), 0);
    ck_assert_int_eq(future_on_done(g, log_cb, (void *)'y'), 0);
    ck_assert_int_eq(future_on_done(f, resolving_cb, g), 0);
    ck_assert_int_eq(future_on_done(f, log_cb, (void *)'c'), 0);
    ck_assert_int_eq(future_resolve(f, NULL), 0);
    order_log[atomic_load(&order_n)] = '\0';
    ck_assert_str_eq(order_log, "abcxy");
    future_release(f);
    future_release(g);
}
END_TEST

/* A coroutine suspended inside a callback takes its callback trampoline
 * along: meanwhile another coroutine's completions still run their
 * callbacks at once, not after the first callback returns. */
struct tramp {
    future_t *p, *q;
    atomic_int q_cb_ran;
    int seen_by_b;
};

static void sleepy_cb(future_t *f, void *arg)
{
    (void)f;
    (void)arg;
    fut_sleep(20);                     /* suspends coroutine A in a callback */
}

static void flag_cb(future_t *f, void *arg)
{
    (void)f;
    atomic_store(&((struct tramp *)arg)->q_cb_ran, 1);
}

static void *coro_a(void *arg)
{
    struct tramp *t = arg;
    future_resolve(t->p, NULL);        /* runs sleepy_cb here */
    return NULL;
}

static void *coro_b(void *arg)
{
    struct tramp *t = arg;
    future_resolve(t->q, NULL);
    t->seen_by_b = atomic_load(&t->q_cb_ran);
    return NULL;
}

static void *tramp_main(void *arg)
{
    future_t *a = fut_spawn(coro_a, arg);
    future_t *b = fut_spawn(coro_b, arg);
    future_t *fs[2] = {a, b};
    future_gather(fs, 2, NULL, FUT_FOREVER);
    future_release(a);
    future_release(b);
    return NULL;
}

START_TEST(waiter_callback_suspended_keeps_its_trampoline)
{
    struct tramp t = {future_new(), future_new(), 0, 0};
    ck_assert_int_eq(future_on_done(t.p, sleepy_cb, &t), 0);
    ck_assert_int_eq(future_on_done(t.q, flag_cb, &t), 0);
    ck_assert_int_eq(fut_run(tramp_main, &t, NULL), 0);
    ck_assert_int_eq(t.seen_by_b, 1);
    future_release(t.p);
    future_release(t.q);
}
END_TEST

/* ---------------------------------------------------------------------
 * 3. No user code under a library lock
 * ------------------------------------------------------------------- */

struct shut_cb {
    fut_pool_t *pool;
    atomic_int calls, rc_sum;
};

static void shutdown_from_callback(future_t *f, void *arg)
{
    (void)f;
    struct shut_cb *s = arg;
    atomic_fetch_add(&s->rc_sum, fut_pool_shutdown(s->pool, FUT_CANCEL));
    atomic_fetch_add(&s->calls, 1);
}

static void *release_after_50ms(void *arg)
{
    tu_sleep_ms(50);
    tu_gate_open(&((tu_blocker *)arg)->release);
    return NULL;
}

/* FUT_CANCEL completes the queued jobs, which runs their callbacks: one
 * that shuts the same pool down again must not hang (it returns 0). */
START_TEST(waiter_pool_cancel_callback_shuts_down_same_pool)
{
    fut_pool_opts o = {.threads = 1};
    fut_pool_t *p = fut_pool_new(&o);
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    future_t *run = fut_pool_submit(p, tu_blocker_job, &b);
    tu_gate_wait(&b.started);
    struct shut_cb s = {.pool = p};
    future_t *queued[4];
    for (int i = 0; i < 4; i++) {
        queued[i] = fut_pool_submit(p, tu_identity_job, NULL);
        ck_assert_int_eq(future_on_done(queued[i], shutdown_from_callback, &s), 0);
    }
    pthread_t rel;
    ck_assert_int_eq(pthread_create(&rel, NULL, release_after_50ms, &b), 0);
    ck_assert_int_eq(fut_pool_shutdown(p, FUT_CANCEL), 0);
    pthread_join(rel, NULL);
    ck_assert_int_eq(atomic_load(&s.calls), 4);
    ck_assert_int_eq(atomic_load(&s.rc_sum), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(future_state(queued[i]), FUTURE_CANCELLED);
        future_release(queued[i]);
    }
    future_release(run);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* A callback that waits for another thread which needs the future's lock
 * (registering on the same future) must not deadlock: callbacks run with
 * no lock held. */
struct reg_arg {
    future_t *f;
    tu_gate registered;
};

static void noop_cb(future_t *f, void *arg)
{
    (void)f;
    (void)arg;
}

static void *register_later(void *arg)
{
    struct reg_arg *r = arg;
    future_on_done(r->f, noop_cb, NULL);
    tu_gate_open(&r->registered);
    return NULL;
}

static void cb_waits_for_registrar(future_t *f, void *arg)
{
    (void)f;
    struct reg_arg *r = arg;
    pthread_t t;
    pthread_create(&t, NULL, register_later, r);
    tu_gate_wait_ms(&r->registered, 5000);
    pthread_join(t, NULL);
}

START_TEST(waiter_callback_runs_without_future_lock)
{
    struct reg_arg r;
    r.f = future_new();
    tu_gate_init(&r.registered);
    ck_assert_int_eq(future_on_done(r.f, cb_waits_for_registrar, &r), 0);
    ck_assert_int_eq(future_resolve(r.f, NULL), 0);
    ck_assert(tu_gate_is_open(&r.registered));
    tu_gate_destroy(&r.registered);
    future_release(r.f);
}
END_TEST

/* ---------------------------------------------------------------------
 * 4. A callback may drop the last reference
 * ------------------------------------------------------------------- */

static atomic_int after_release_ran;

static void drop_caller_ref(future_t *f, void *arg)
{
    (void)arg;
    future_release(f);   /* the caller's one reference */
}

static void runs_after(future_t *f, void *arg)
{
    (void)arg;
    /* f must still be readable here */
    if (future_state(f) == FUTURE_DONE)
        atomic_fetch_add(&after_release_ran, 1);
}

START_TEST(waiter_callback_drops_last_reference)
{
    atomic_store(&after_release_ran, 0);
    future_t *f = future_new();
    ck_assert_int_eq(future_on_done(f, drop_caller_ref, NULL), 0);
    ck_assert_int_eq(future_on_done(f, runs_after, NULL), 0);
    ck_assert_int_eq(future_on_done(f, runs_after, NULL), 0);
    ck_assert_int_eq(future_resolve(f, NULL), 0);   /* f is freed after the callbacks */
    ck_assert_int_eq(atomic_load(&after_release_ran), 2);
}
END_TEST

/* ---------------------------------------------------------------------
 * 5. A loop running inside a pool job keeps helping its pool
 * ------------------------------------------------------------------- */

struct nested {
    fut_pool_t *pool;
};

static void *square(void *x)
{
    return (void *)((uintptr_t)x * (uintptr_t)x);
}

static void *coro_submits_to_own_pool(void *arg)
{
    struct nested *n = arg;
    future_t *f = fut_pool_submit(n->pool, square, (void *)12);
    if (!f)
        return fut_raise(errno);
    void *v = NULL;
    int rc = future_get(f, &v);   /* the loop sleeps: it must run f itself */
    future_release(f);
    return rc ? fut_raise(rc) : v;
}

static void *job_runs_loop(void *arg)
{
    void *v = NULL;
    int rc = fut_run(coro_submits_to_own_pool, arg, &v);
    return rc ? fut_raise(rc) : v;
}

START_TEST(waiter_loop_in_pool_job_runs_pool_jobs)
{
    fut_pool_opts o = {.threads = 1};
    struct nested n = {fut_pool_new(&o)};
    future_t *f = fut_pool_submit(n.pool, job_runs_loop, &n);
    ck_assert_int_eq(future_wait(f, 20000), 0);
    void *v = NULL;
    ck_assert_int_eq(future_get(f, &v), 0);
    ck_assert_uint_eq((uintptr_t)v, 144);
    future_release(f);
    fut_pool_free(n.pool);
}
END_TEST

static void *coro_shutdown_own_pool(void *arg)
{
    struct nested *n = arg;
    return (void *)(intptr_t)fut_pool_shutdown(n->pool, FUT_DRAIN);
}

static void *job_runs_loop_shutdown(void *arg)
{
    void *v = NULL;
    fut_run(coro_shutdown_own_pool, arg, &v);
    return v;
}

/* Inside a coroutine of a loop that runs in a pool job, the pool is still
 * "its own": shutting it down from there is EDEADLK, not a hang. */
START_TEST(waiter_loop_in_pool_job_shutdown_edeadlk)
{
    fut_pool_opts o = {.threads = 1};
    struct nested n = {fut_pool_new(&o)};
    future_t *f = fut_pool_submit(n.pool, job_runs_loop_shutdown, &n);
    void *v = NULL;
    ck_assert_int_eq(future_get(f, &v), 0);
    ck_assert_int_eq((int)(intptr_t)v, EDEADLK);
    future_release(f);
    fut_pool_free(n.pool);
}
END_TEST

/* ---------------------------------------------------------------------
 * 6. The default thread count follows the affinity mask
 * ------------------------------------------------------------------- */

START_TEST(waiter_default_threads_follow_affinity)
{
    /* In a child, so the test runner's own affinity is left alone. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            _exit(2);
        fut_pool_t *p = fut_pool_new(NULL);
        size_t n = fut_pool_threads(p);
        fut_pool_free(p);
        _exit(n == 1 ? 0 : 1);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* ---------------------------------------------------------------------
 * 7. The header and the code agree
 * ------------------------------------------------------------------- */

START_TEST(waiter_loop_new_huge_stack_enomem)
{
    fut_loop_opts o = {.stack_size = SIZE_MAX};
    errno = 0;
    ck_assert_ptr_null(fut_loop_new(&o));
    ck_assert_int_eq(errno, ENOMEM);
    o.stack_size = 1024;
    ck_assert_ptr_null(fut_loop_new(&o));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static void *free_own_loop(void *arg)
{
    errno = 0;
    fut_loop_free(arg);                 /* running: refused */
    return (void *)(intptr_t)errno;
}

START_TEST(waiter_loop_free_running_ebusy)
{
    fut_loop_t *l = fut_loop_new(NULL);
    void *v = NULL;
    ck_assert_int_eq(fut_loop_run(l, free_own_loop, l, &v), 0);
    ck_assert_int_eq((int)(intptr_t)v, EBUSY);
    fut_loop_free(l);
}
END_TEST

static void *fail_etimedout(void *arg)
{
    (void)arg;
    return fut_raise(ETIMEDOUT);
}

/* A job that fails with ETIMEDOUT is told apart from a wait that timed
 * out by the future's state, as the header says. */
START_TEST(waiter_job_error_vs_wait_code_by_state)
{
    fut_pool_t *p = fut_pool_new(NULL);
    future_t *f = fut_pool_submit(p, fail_etimedout, NULL);
    ck_assert_int_eq(future_get(f, NULL), ETIMEDOUT);
    ck_assert_int_eq(future_state(f), FUTURE_FAILED);   /* the job's own code */
    future_t *q = future_new();
    ck_assert_int_eq(future_wait(q, 1), ETIMEDOUT);
    ck_assert_int_eq(future_state(q), FUTURE_PENDING);  /* the wait's code */
    future_release(q);
    future_release(f);
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * waiter_einval_means_complete: future_cancel's EINVAL says "already
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
        future_resolve(f, (void *)1);
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

START_TEST(waiter_einval_means_complete)
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

static Suite *waiter_suite(void)
{
    Suite *s = suite_create("waiter");
    TCase *tc;

    tc = tu_tcase(s, "churn", 60);
    tcase_add_test(tc, waiter_thread_exits_right_after_wait);
    tcase_add_test(tc, waiter_timeout_races_completion_and_exit);
    tcase_add_test(tc, waiter_coroutine_woken_from_thread_then_loop_ends);
    tcase_add_test(tc, waiter_notify_does_not_touch_record_after_add);

    tc = tu_tcase(s, "chains", 60);
    tcase_add_test(tc, waiter_then_chain_million_on_thread);
    tcase_add_test(tc, waiter_then_chain_resolved_in_coroutine);
    tcase_add_test(tc, waiter_callbacks_nested_run_after_in_order);
    tcase_add_test(tc, waiter_callback_suspended_keeps_its_trampoline);

    tc = tu_tcase(s, "locks", 30);
    tcase_add_test(tc, waiter_pool_cancel_callback_shuts_down_same_pool);
    tcase_add_test(tc, waiter_callback_runs_without_future_lock);
    tcase_add_test(tc, waiter_callback_drops_last_reference);

    tc = tu_tcase(s, "nested", 30);
    tcase_add_test(tc, waiter_loop_in_pool_job_runs_pool_jobs);
    tcase_add_test(tc, waiter_loop_in_pool_job_shutdown_edeadlk);

    tc = tu_tcase(s, "contract", 30);
    tcase_add_test(tc, waiter_default_threads_follow_affinity);
    tcase_add_test(tc, waiter_loop_new_huge_stack_enomem);
    tcase_add_test(tc, waiter_loop_free_running_ebusy);
    tcase_add_test(tc, waiter_job_error_vs_wait_code_by_state);
    tcase_add_test(tc, waiter_einval_means_complete);
    return s;
}

TU_MAIN(waiter_suite)
