/* SPDX-License-Identifier: MIT */
/*
 * test_group.c - task groups (fut_group_*), the contract's structured
 * concurrency section
 *
 * One case per sentence of the contract about groups, each of which fails
 * if that sentence is broken; several are ports, in spirit, of CPython's
 * Lib/test/test_asyncio/test_taskgroups.py (named where they are):
 *
 *   members     spawn (the caller's loop; EPERM outside a coroutine),
 *               submit (any pool), add (any future); the members' own
 *               references
 *   wait        waits for all; 0; the first failure in completion order
 *               cancels the others; ECANCELED first; the deadline; timeout
 *               0 only checks; the waiter's cancellation; the same result
 *               again; EINVAL once final; EDEADLK from a member
 *   cancel      fut_group_cancel, members added after it
 *   nest        an outer group's cancel reaching an inner group's members
 *   free        cancels, waits; NULL; from a member
 *   edges       bad input, 100,000 members, members spawning members while
 *               the group is cancelled, adds from threads racing the end
 */
#include "cotest.h"

static future_t *promise(void)
{
    future_t *p = future_new();
    ck_assert_ptr_nonnull(p);
    return p;
}

static fut_group_t *group(void)
{
    fut_group_t *g = fut_group_new();
    ck_assert_msg(g != NULL, "fut_group_new: %s", strerror(errno));
    return g;
}

/* Members' bodies. */
static void *returns_arg(void *arg) { return arg; }

static void *sleeps_long(void *arg)
{
    atomic_int *rc = arg;
    int r = fut_sleep(60000);
    if (rc)
        atomic_store(rc, r);
    return NULL;
}

static void *sleeps_then_fails(void *arg)
{
    long ms = (long)(intptr_t)arg;
    int r = fut_sleep(ms);
    if (r)
        return fut_raise(r);
    return fut_raise(EIO);
}

static void *fails_eio(void *arg)
{
    (void)arg;
    return fut_raise(EIO);
}

/* ---------------------------------------------------------------------
 * members
 * ------------------------------------------------------------------- */

struct where {
    pthread_t loop_thread;
    atomic_int same_thread, in_coroutine, ran;
};

static void *records_where(void *arg)
{
    struct where *w = arg;
    atomic_store(&w->same_thread, pthread_equal(pthread_self(), w->loop_thread) ? 1 : 2);
    atomic_store(&w->in_coroutine, fut_in_coroutine() ? 1 : 2);
    atomic_fetch_add(&w->ran, 1);
    return V(3);
}

static void *spawn_main(void *arg)
{
    struct where *w = arg;
    w->loop_thread = pthread_self();
    fut_group_t *g = fut_group_new();
    CO_CHECK(g != NULL);
    future_t *f = fut_group_spawn(g, records_where, w);
    CO_CHECK(f != NULL);
    future_release(f);                 /* the group keeps its own */
    CO_CHECK_RC(fut_group_wait(g, FUT_FOREVER), 0);
    fut_group_free(g);
    return NULL;
}

/* test_taskgroups.py: test_taskgroup_01 (children run, the group waits). */
START_TEST(members_spawn_runs_on_the_callers_loop)
{
    struct where w;
    memset(&w, 0, sizeof w);
    run_ok(spawn_main, &w);
    ck_assert_int_eq(atomic_load(&w.ran), 1);
    ck_assert_int_eq(atomic_load(&w.same_thread), 1);
    ck_assert_int_eq(atomic_load(&w.in_coroutine), 1);
}
END_TEST

static void *spawn_in_job(void *arg)
{
    fut_group_t *g = arg;
    errno = 0;
    future_t *f = fut_group_spawn(g, returns_arg, NULL);
    return V(f == NULL && errno == EPERM);
}

START_TEST(members_spawn_outside_coroutine_eperm)
{
    fut_group_t *g = group();
    tu_assert_null_errno(fut_group_spawn(g, returns_arg, NULL), EPERM);
    fut_pool_t *p = pool(1, "eperm");
    future_t *j = fut_pool_submit(p, spawn_in_job, g);
    void *v = NULL;
    tu_assert_rc(future_get(j, &v), 0);
    ck_assert_ptr_eq(v, V(1));
    future_release(j);
    fut_pool_free(p);
    tu_assert_rc(fut_group_wait(g, 0), 0);   /* nothing was added */
    fut_group_free(g);
}
END_TEST

START_TEST(members_submit_runs_on_any_pool)
{
    fut_pool_t *p1 = pool(1, "gp1"), *p2 = pool(2, "gp2");
    fut_group_t *g = group();
    struct where w;
    memset(&w, 0, sizeof w);
    w.loop_thread = pthread_self();
    future_t *a = fut_group_submit(g, p1, records_where, &w);
    future_t *b = fut_group_submit(g, p2, returns_arg, V(4));
    ck_assert(a && b);
    tu_assert_rc(fut_group_wait(g, FUT_FOREVER), 0);
    ck_assert(future_done(a) && future_done(b));
    ck_assert_int_eq(atomic_load(&w.same_thread), 2);     /* a pool thread */
    void *v = NULL;
    tu_assert_rc(future_get(b, &v), 0);
    ck_assert_ptr_eq(v, V(4));
    future_release(a);
    future_release(b);
    fut_group_free(g);
    fut_pool_free(p1);
    fut_pool_free(p2);
}
END_TEST

static void *resolve_later(void *arg)
{
    tu_sleep_ms(20);
    future_resolve(arg, V(1));
    return NULL;
}

START_TEST(members_add_adopts_any_future)
{
    fut_group_t *g = group();
    future_t *p = promise();
    future_t *done = promise();
    ck_assert_int_eq(future_resolve(done, V(2)), 0);
    tu_assert_rc(fut_group_add(g, p), 0);
    tu_assert_rc(fut_group_add(g, done), 0);   /* complete: counts at once */
    pthread_t t = tu_thread(resolve_later, p);
    tu_assert_rc(fut_group_wait(g, FUT_FOREVER), 0);
    tu_assert_state(p, FUTURE_DONE);
    tu_join(t);
    fut_group_free(g);
    /* the caller's references are still its own */
    tu_assert_state(p, FUTURE_DONE);
    future_release(p);
    future_release(done);
}
END_TEST

/* Members keep their own references: the caller may drop its reference at
 * once (the group holds one), and the caller's reference outlives the
 * group. */
START_TEST(members_keep_their_own_references)
{
    fut_pool_t *p = pool(2, "refs");
    fut_group_t *g = group();
    future_t *kept = fut_group_submit(g, p, returns_arg, V(7));
    ck_assert_ptr_nonnull(kept);
    for (int i = 0; i < 50; i++) {
        future_t *f = fut_group_submit(g, p, returns_arg, V(i));
        ck_assert_ptr_nonnull(f);
        future_release(f);
    }
    future_t *pr = promise();
    tu_assert_rc(fut_group_add(g, pr), 0);
    future_release(pr);                /* the group's reference keeps it */
    tu_assert_rc(future_wait(kept, FUT_FOREVER), 0);
    tu_assert_rc(fut_group_wait(g, 0), ETIMEDOUT);
    fut_group_free(g);                 /* cancels the promise, drops its refs */
    void *v = NULL;
    tu_assert_rc(future_get(kept, &v), 0);
    ck_assert_ptr_eq(v, V(7));
    future_release(kept);
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * wait
 * ------------------------------------------------------------------- */

struct all {
    future_t *f[6];
    int rc;
    bool all_done;
};

static void *all_main(void *arg)
{
    struct all *a = arg;
    fut_group_t *g = fut_group_new();
    CO_CHECK(g != NULL);
    for (int i = 0; i < 6; i++) {
        a->f[i] = fut_group_spawn(g, returns_arg, V(i));
        CO_CHECK(a->f[i] != NULL);
    }
    a->rc = fut_group_wait(g, FUT_FOREVER);
    a->all_done = true;
    for (int i = 0; i < 6; i++)
        a->all_done &= future_done(a->f[i]);
    fut_group_free(g);
    return NULL;
}

START_TEST(wait_all_succeeded_returns_0_after_all)
{
    struct all a;
    memset(&a, 0, sizeof a);
    run_ok(all_main, &a);
    tu_assert_rc(a.rc, 0);
    ck_assert(a.all_done);
    for (int i = 0; i < 6; i++) {
        void *v = NULL;
        tu_assert_rc(future_get(a.f[i], &v), 0);
        ck_assert_ptr_eq(v, V(i));
        future_release(a.f[i]);
    }
}
END_TEST

START_TEST(wait_empty_group_returns_0)
{
    fut_group_t *g = group();
    tu_assert_rc(fut_group_wait(g, 0), 0);
    tu_assert_rc(fut_group_wait(g, FUT_FOREVER), 0);
    future_t *x = promise();
    tu_assert_rc(fut_group_add(g, x), EINVAL);   /* final */
    fut_group_free(g);
    tu_assert_state(x, FUTURE_PENDING);
    future_release(x);
}
END_TEST

/* test_taskgroups.py: test_taskgroup_03/05 (a child fails: the others are
 * cancelled, the group reports the failure): a sleeping coroutine, a
 * promise, a queued job, a running job, and a member that fails. */
struct first_fail {
    fut_pool_t *p;
    tu_blocker b;
    atomic_int queued_runs;
    atomic_int sleeper_rc;
    future_t *sleeper, *prom, *queued, *running, *failer;
    int rc;
    bool done_before_release;
    bool all_done;
};

static void *first_fail_main(void *arg)
{
    struct first_fail *s = arg;
    fut_group_t *g = fut_group_new();
    CO_CHECK(g != NULL);
    s->sleeper = fut_group_spawn(g, sleeps_long, &s->sleeper_rc);
    CO_CHECK_RC(fut_group_add(g, s->prom), 0);
    CO_CHECK_RC(fut_group_add(g, s->running), 0);
    s->queued = fut_group_submit(g, s->p, tu_count_job, &s->queued_runs);
    s->failer = fut_group_spawn(g, sleeps_then_fails, V(5));
    CO_CHECK(s->sleeper && s->queued && s->failer);
    /* The failure cancels the others even before anyone waits. */
    CO_CHECK_RC(future_wait(s->failer, FUT_FOREVER), 0);
    CO_CHECK_RC(future_wait(s->sleeper, FUT_FOREVER), 0);
    CO_CHECK_STATE(s->prom, FUTURE_CANCELLED);
    CO_CHECK_STATE(s->queued, FUTURE_CANCELLED);
    CO_CHECK_RC(fut_group_wait(g, 0), ETIMEDOUT);    /* the job still runs */
    s->done_before_release = future_done(s->running);
    tu_gate_open(&s->b.release);
    s->rc = fut_group_wait(g, FUT_FOREVER);
    s->all_done = future_done(s->running);
    fut_group_free(g);
    return NULL;
}

START_TEST(wait_first_failure_cancels_the_others)
{
    struct first_fail s;
    memset(&s, 0, sizeof s);
    s.p = pool(1, "ff");
    tu_blocker_init(&s.b, V(9));
    atomic_init(&s.queued_runs, 0);
    atomic_init(&s.sleeper_rc, -1);
    s.prom = promise();
    s.running = fut_pool_submit(s.p, tu_blocker_job, &s.b);
    ck_assert_ptr_nonnull(s.running);
    tu_gate_wait(&s.b.started);
    run_ok(first_fail_main, &s);
    tu_assert_rc(s.rc, EIO);
    tu_assert_state(s.failer, FUTURE_FAILED);
    tu_assert_state(s.sleeper, FUTURE_CANCELLED);
    tu_assert_rc(atomic_load(&s.sleeper_rc), ECANCELED);   /* woken */
    tu_assert_state(s.prom, FUTURE_CANCELLED);
    tu_assert_state(s.queued, FUTURE_CANCELLED);
    ck_assert(!s.done_before_release);
    ck_assert(s.all_done);
    tu_assert_state(s.running, FUTURE_DONE);   /* ran to its end */
    fut_pool_free(s.p);
    ck_assert_int_eq(atomic_load(&s.queued_runs), 0);
    future_release(s.sleeper);
    future_release(s.prom);
    future_release(s.queued);
    future_release(s.running);
    future_release(s.failer);
    tu_blocker_destroy(&s.b);
}
END_TEST

/* The first failure in completion order, not index order nor the order
 * the callbacks ran: b failed (EIO) before a (EDOM); a is added first. */
START_TEST(wait_first_failure_in_completion_order)
{
    future_t *a = promise(), *b = promise(), *c = promise();
    ck_assert_int_eq(future_fail(b, EIO), 0);
    ck_assert_int_eq(future_fail(a, EDOM), 0);
    fut_group_t *g = group();
    tu_assert_rc(fut_group_add(g, c), 0);
    tu_assert_rc(fut_group_add(g, a), 0);
    tu_assert_rc(fut_group_add(g, b), 0);
    tu_assert_state(c, FUTURE_CANCELLED);      /* a's failure cancelled it */
    tu_assert_rc(fut_group_wait(g, FUT_FOREVER), EIO);
    fut_group_free(g);
    future_release(a);
    future_release(b);
    future_release(c);
}
END_TEST

/* The first to end is a cancellation: ECANCELED, the others cancelled. */
START_TEST(wait_first_cancelled_gives_ecanceled)
{
    fut_pool_t *p = pool(1, "fc");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    fut_group_t *g = group();
    future_t *x = promise(), *y = promise();
    future_t *j = fut_group_submit(g, p, tu_blocker_job, &b);
    ck_assert_ptr_nonnull(j);
    tu_gate_wait(&b.started);
    tu_assert_rc(fut_group_add(g, x), 0);
    tu_assert_rc(fut_group_add(g, y), 0);
    tu_assert_rc(future_cancel(y), 0);
    tu_assert_state(x, FUTURE_CANCELLED);
    tu_assert_state(j, FUTURE_RUNNING);             /* EBUSY: runs on */
    tu_gate_open(&b.release);
    tu_assert_rc(fut_group_wait(g, FUT_FOREVER), ECANCELED);
    tu_assert_state(j, FUTURE_DONE);
    fut_group_free(g);
    future_release(x);
    future_release(y);
    future_release(j);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* The deadline for the whole group (asyncio.timeout around a TaskGroup):
 * cancels the members, waits for them all (a running job to its end), and
 * returns ETIMEDOUT; again ETIMEDOUT at once; adding then gives EINVAL. */
static void *release_after(void *arg)
{
    tu_blocker *b = arg;
    tu_sleep_ms(60);
    tu_gate_open(&b->release);
    return NULL;
}

struct deadline {
    fut_pool_t *p;
    tu_blocker b;
    atomic_int sleeper_rc;
    future_t *sleeper, *job, *prom;
    int rc, rc_again, rc_add, spawn_errno;
    double ms, ms_again;
    bool all_done;
};

static void *deadline_main(void *arg)
{
    struct deadline *d = arg;
    fut_group_t *g = fut_group_new();
    CO_CHECK(g != NULL);
    d->sleeper = fut_group_spawn(g, sleeps_long, &d->sleeper_rc);
    d->job = fut_group_submit(g, d->p, tu_blocker_job, &d->b);
    CO_CHECK(d->sleeper && d->job);
    tu_gate_wait(&d->b.started);       /* running: cannot be stopped */
    CO_CHECK_RC(fut_group_add(g, d->prom), 0);
    uint64_t t0 = tu_now_ns();
    d->rc = fut_group_wait(g, 20);
    d->ms = ms_since(t0);
    d->all_done = future_done(d->sleeper) && future_done(d->job) && future_done(d->prom);
    t0 = tu_now_ns();
    d->rc_again = fut_group_wait(g, FUT_FOREVER);
    d->ms_again = ms_since(t0);
    future_t *late = future_new();
    d->rc_add = fut_group_add(g, late);
    future_release(late);
    errno = 0;
    CO_CHECK(fut_group_spawn(g, returns_arg, NULL) == NULL);
    d->spawn_errno = errno;
    fut_group_free(g);
    return NULL;
}

START_TEST(wait_deadline_cancels_waits_etimedout)
{
    struct deadline d;
    memset(&d, 0, sizeof d);
    d.p = pool(1, "dl");
    tu_blocker_init(&d.b, V(1));
    atomic_init(&d.sleeper_rc, -1);
    d.prom = promise();
    pthread_t t = tu_thread(release_after, &d.b);
    run_ok(deadline_main, &d);
    tu_join(t);
    tu_assert_rc(d.rc, ETIMEDOUT);
    ck_assert_msg(d.ms >= 20.0, "returned after %.1f ms", d.ms);
    ck_assert(d.all_done);
    tu_assert_state(d.sleeper, FUTURE_CANCELLED);
    tu_assert_rc(atomic_load(&d.sleeper_rc), ECANCELED);
    tu_assert_state(d.prom, FUTURE_CANCELLED);
    tu_assert_state(d.job, FUTURE_DONE);
    tu_assert_rc(d.rc_again, ETIMEDOUT);
    ck_assert_msg(d.ms_again < (double)BOUND_MS, "second wait took %.0f ms", d.ms_again);
    tu_assert_rc(d.rc_add, EINVAL);
    tu_assert_rc(d.spawn_errno, EINVAL);
    future_release(d.sleeper);
    future_release(d.job);
    future_release(d.prom);
    fut_pool_free(d.p);
    tu_blocker_destroy(&d.b);
}
END_TEST

/* A failure before the deadline wins: the deadline then reports it. */
START_TEST(wait_failure_before_deadline_wins)
{
    fut_pool_t *p = pool(1, "fbd");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    fut_group_t *g = group();
    future_t *j = fut_group_submit(g, p, tu_blocker_job, &b);
    tu_gate_wait(&b.started);
    future_t *x = promise();
    tu_assert_rc(fut_group_add(g, x), 0);
    ck_assert_int_eq(future_fail(x, EPIPE), 0);
    pthread_t t = tu_thread(release_after, &b);
    tu_assert_rc(fut_group_wait(g, 10), EPIPE);   /* deadline passes meanwhile */
    tu_join(t);
    tu_assert_rc(fut_group_wait(g, 0), EPIPE);
    fut_group_free(g);
    future_release(j);
    future_release(x);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* A timeout of 0 only checks: ETIMEDOUT while members run, nothing is
 * cancelled, and the group is still open for members. */
START_TEST(wait_timeout_0_only_checks)
{
    fut_group_t *g = group();
    future_t *x = promise();
    tu_assert_rc(fut_group_add(g, x), 0);
    tu_assert_rc(fut_group_wait(g, 0), ETIMEDOUT);
    tu_assert_rc(fut_group_wait(g, 0), ETIMEDOUT);
    tu_assert_state(x, FUTURE_PENDING);
    future_t *y = promise();
    tu_assert_rc(fut_group_add(g, y), 0);          /* not final */
    ck_assert_int_eq(future_resolve(x, V(1)), 0);
    ck_assert_int_eq(future_resolve(y, V(2)), 0);
    tu_assert_rc(fut_group_wait(g, 0), 0);
    tu_assert_rc(fut_group_add(g, x), EINVAL);     /* final now */
    fut_group_free(g);
    future_release(x);
    future_release(y);
}
END_TEST

/* test_taskgroups.py: test_taskgroup_07/10 (the parent is cancelled while
 * it waits on the group: the children are cancelled and awaited, and the
 * parent sees the cancellation). */
struct waiter_cancel {
    fut_pool_t *p;
    tu_blocker b;
    atomic_int sleeper_rc;
    future_t *sleeper, *job;
    atomic_int waiting;
    int rc, rc_again;
    bool all_done_at_return;
    bool pre_cancelled;        /* cancel itself before the wait */
};

static void *group_waiter(void *arg)
{
    struct waiter_cancel *w = arg;
    fut_group_t *g = fut_group_new();
    CO_CHECK(g != NULL);
    w->sleeper = fut_group_spawn(g, sleeps_long, &w->sleeper_rc);
    w->job = fut_group_submit(g, w->p, tu_blocker_job, &w->b);
    CO_CHECK(w->sleeper && w->job);
    tu_gate_wait(&w->b.started);       /* running: cannot be stopped */
    CO_CHECK_RC(fut_yield(), 0);       /* the sleeper sleeps now */
    if (w->pre_cancelled) {
        CO_CHECK_RC(future_cancel(fut_current()), 0);
        CO_CHECK_RC(fut_yield(), ECANCELED);       /* delivered before */
    }
    atomic_store(&w->waiting, 1);
    w->rc = fut_group_wait(g, FUT_FOREVER);
    w->all_done_at_return = future_done(w->sleeper) && future_done(w->job);
    w->rc_again = fut_group_wait(g, 0);
    fut_group_free(g);
    return NULL;
}

static void *waiter_cancel_main(void *arg)
{
    struct waiter_cancel *w = arg;
    future_t *f = fut_spawn(group_waiter, w);
    CO_CHECK(f != NULL);
    co_until(&w->waiting);
    if (!w->pre_cancelled)
        CO_CHECK_RC(future_cancel(f), 0);
    CO_CHECK_RC(future_wait(f, 20), ETIMEDOUT);   /* the job holds it */
    tu_gate_open(&w->b.release);
    CO_CHECK_RC(future_wait(f, FUT_FOREVER), 0);
    CO_CHECK_STATE(f, FUTURE_CANCELLED);
    future_release(f);
    return NULL;
}

static void waiter_cancel_run(bool pre)
{
    struct waiter_cancel w;
    memset(&w, 0, sizeof w);
    w.p = pool(1, "wc");
    tu_blocker_init(&w.b, NULL);
    atomic_init(&w.sleeper_rc, -1);
    atomic_init(&w.waiting, 0);
    w.pre_cancelled = pre;
    run_ok(waiter_cancel_main, &w);
    tu_assert_rc(w.rc, ECANCELED);
    tu_assert_rc(w.rc_again, ECANCELED);
    ck_assert(w.all_done_at_return);
    tu_assert_state(w.sleeper, FUTURE_CANCELLED);
    tu_assert_rc(atomic_load(&w.sleeper_rc), ECANCELED);
    tu_assert_state(w.job, FUTURE_DONE);
    future_release(w.sleeper);
    future_release(w.job);
    fut_pool_free(w.p);
    tu_blocker_destroy(&w.b);
}

START_TEST(wait_waiter_cancelled_cancels_members_waits_ecanceled)
{
    waiter_cancel_run(false);
}
END_TEST

START_TEST(wait_waiter_cancelled_before_the_call_cancels_members)
{
    waiter_cancel_run(true);
}
END_TEST

/* Even a wait with a timeout of 0 (which only checks) delivers the
 * waiter's cancellation: the members are cancelled and waited for. */
struct check_cancelled {
    future_t *prom;
    atomic_int sleeper_rc;
    int rc, rc_again;
};

static void *cancelled_checker(void *arg)
{
    struct check_cancelled *c = arg;
    fut_group_t *g = fut_group_new();
    CO_CHECK(g != NULL);
    future_t *s = fut_group_spawn(g, sleeps_long, &c->sleeper_rc);
    CO_CHECK(s != NULL);
    CO_CHECK_RC(fut_group_add(g, c->prom), 0);
    CO_CHECK_RC(fut_yield(), 0);       /* the sleeper sleeps */
    CO_CHECK_RC(future_cancel(fut_current()), 0);
    c->rc = fut_group_wait(g, 0);
    CO_CHECK(future_done(s));
    c->rc_again = fut_group_wait(g, FUT_FOREVER);
    future_release(s);
    fut_group_free(g);
    return NULL;
}

static void *check_cancelled_main(void *arg)
{
    future_t *f = fut_spawn(cancelled_checker, arg);
    CO_CHECK(f != NULL);
    CO_CHECK_RC(future_wait(f, FUT_FOREVER), 0);
    future_release(f);
    return NULL;
}

START_TEST(wait_timeout_0_in_cancelled_coroutine_cancels_members)
{
    struct check_cancelled c;
    memset(&c, 0, sizeof c);
    c.prom = promise();
    atomic_init(&c.sleeper_rc, -1);
    run_ok(check_cancelled_main, &c);
    tu_assert_rc(c.rc, ECANCELED);
    tu_assert_rc(c.rc_again, ECANCELED);
    tu_assert_state(c.prom, FUTURE_CANCELLED);
    tu_assert_rc(atomic_load(&c.sleeper_rc), ECANCELED);
    future_release(c.prom);
}
END_TEST

/* A second wait returns the same result at once, for every final result;
 * adding then gives EINVAL from any of the three calls. */
START_TEST(wait_second_wait_same_result_add_einval)
{
    fut_pool_t *p = pool(1, "2nd");
    int codes[3] = {0, EIO, ECANCELED};
    for (int k = 0; k < 3; k++) {
        fut_group_t *g = group();
        future_t *x = promise();
        tu_assert_rc(fut_group_add(g, x), 0);
        if (k == 0)
            future_resolve(x, NULL);
        else if (k == 1)
            future_fail(x, EIO);
        else
            fut_group_cancel(g);
        tu_assert_rc(fut_group_wait(g, FUT_FOREVER), codes[k]);
        tu_assert_rc(fut_group_wait(g, FUT_FOREVER), codes[k]);
        tu_assert_rc(fut_group_wait(g, 0), codes[k]);
        future_t *y = promise();
        tu_assert_rc(fut_group_add(g, y), EINVAL);
        tu_assert_state(y, FUTURE_PENDING);        /* not adopted, not cancelled */
        future_release(y);
        tu_assert_null_errno(fut_group_submit(g, p, returns_arg, NULL), EINVAL);
        fut_group_free(g);
        future_release(x);
    }
    fut_pool_free(p);
}
END_TEST

/* A member waiting on its own group gets EDEADLK (a coroutine, a job, and
 * fut_group_free from a member). */
struct self_wait {
    fut_group_t *g;
    atomic_int rc_co, rc_job, free_errno;
};

static void *waits_own_group(void *arg)
{
    struct self_wait *s = arg;
    atomic_store(&s->rc_co, fut_group_wait(s->g, FUT_FOREVER));
    errno = 0;
    fut_group_free(s->g);              /* refused: it would wait for itself */
    atomic_store(&s->free_errno, errno);
    return NULL;
}

static void *job_waits_own_group(void *arg)
{
    struct self_wait *s = arg;
    atomic_store(&s->rc_job, fut_group_wait(s->g, 100));
    return NULL;
}

static void *self_wait_main(void *arg)
{
    struct self_wait *s = arg;
    fut_pool_t *p = fut_pool_new(&(fut_pool_opts){.threads = 1});
    CO_CHECK(p != NULL);
    future_t *a = fut_group_spawn(s->g, waits_own_group, s);
    future_t *b = fut_group_submit(s->g, p, job_waits_own_group, s);
    CO_CHECK(a && b);
    CO_CHECK_RC(fut_group_wait(s->g, FUT_FOREVER), 0);
    future_release(a);
    future_release(b);
    fut_pool_free(p);
    return NULL;
}

START_TEST(wait_member_waiting_on_own_group_edeadlk)
{
    struct self_wait s;
    memset(&s, 0, sizeof s);
    s.g = group();
    atomic_init(&s.rc_co, -1);
    atomic_init(&s.rc_job, -1);
    atomic_init(&s.free_errno, 0);
    run_ok(self_wait_main, &s);
    tu_assert_rc(atomic_load(&s.rc_co), EDEADLK);
    tu_assert_rc(atomic_load(&s.rc_job), EDEADLK);
    tu_assert_rc(atomic_load(&s.free_errno), EDEADLK);
    fut_group_free(s.g);               /* still alive: the refused free did nothing */
}
END_TEST

/* A job may start, and wait on its group without a time limit, before its
 * fut_group_submit has registered it as a member: it must still get
 * EDEADLK, never hang.  Many rounds, on two threads. */
static void *job_waits_forever_on_group(void *arg)
{
    fut_group_t *g = arg;
    return V(fut_group_wait(g, FUT_FOREVER));
}

START_TEST(wait_job_waiting_before_its_add_completes_edeadlk)
{
    fut_pool_t *p = pool(2, "race");
    long rounds = TU_ROUNDS(2000);
    for (long k = 0; k < rounds; k++) {
        fut_group_t *g = group();
        future_t *j = fut_group_submit(g, p, job_waits_forever_on_group, g);
        ck_assert_ptr_nonnull(j);
        tu_assert_rc(fut_group_wait(g, FUT_FOREVER), 0);
        void *v = NULL;
        tu_assert_rc(future_get(j, &v), 0);
        ck_assert_int_eq((int)(uintptr_t)v, EDEADLK);
        future_release(j);
        fut_group_free(g);
    }
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * Adding from anywhere until the wait returns
 * ------------------------------------------------------------------- */

struct adders {
    fut_group_t *g;
    fut_pool_t *p;
    atomic_int added, children_ran;
    int per;
};

static void *count_child(void *arg)
{
    struct adders *a = arg;
    atomic_fetch_add(&a->children_ran, 1);
    return NULL;
}

/* A coroutine member that adds members (coroutines and jobs) to its own
 * group, from inside. */
static void *adds_from_inside(void *arg)
{
    struct adders *a = arg;
    for (int i = 0; i < 3; i++) {
        fut_sleep(1);
        future_t *c = fut_group_spawn(a->g, count_child, a);
        future_t *j = fut_group_submit(a->g, a->p, count_child, a);
        if (c && j)
            atomic_fetch_add(&a->added, 2);
        future_release(c);
        future_release(j);
    }
    return NULL;
}

/* A job member that adds jobs to its own group. */
static void *job_adds_from_inside(void *arg)
{
    struct adders *a = arg;
    for (int i = 0; i < 3; i++) {
        future_t *j = fut_group_submit(a->g, a->p, count_child, a);
        if (j)
            atomic_fetch_add(&a->added, 1);
        future_release(j);
    }
    return NULL;
}

static void *thread_adds(void *arg)
{
    struct adders *a = arg;
    for (int i = 0; i < a->per; i++) {
        future_t *x = future_new();
        if (fut_group_add(a->g, x) == 0)
            atomic_fetch_add(&a->added, 1);
        future_resolve(x, NULL);
        future_release(x);
        future_t *j = fut_group_submit(a->g, a->p, count_child, a);
        if (j)
            atomic_fetch_add(&a->added, 1);
        future_release(j);
    }
    return NULL;
}

static void *adders_main(void *arg)
{
    struct adders *a = arg;
    future_t *m = fut_group_spawn(a->g, adds_from_inside, a);
    future_t *j = fut_group_submit(a->g, a->p, job_adds_from_inside, a);
    CO_CHECK(m && j);
    atomic_fetch_add(&a->added, 2);
    future_release(m);
    future_release(j);
    CO_CHECK_RC(fut_group_wait(a->g, FUT_FOREVER), 0);
    return NULL;
}

START_TEST(adds_from_threads_and_members_until_the_wait_returns)
{
    struct adders a;
    memset(&a, 0, sizeof a);
    a.g = group();
    a.p = pool(2, "add");
    a.per = (int)TU_ROUNDS(500);
    atomic_init(&a.added, 0);
    atomic_init(&a.children_ran, 0);
    /* a member the threads' adds race: the group cannot end before it */
    future_t *gate = promise();
    tu_assert_rc(fut_group_add(a.g, gate), 0);
    pthread_t t[2] = {tu_thread(thread_adds, &a), tu_thread(thread_adds, &a)};
    tu_join(t[0]);
    tu_join(t[1]);
    future_resolve(gate, NULL);
    run_ok(adders_main, &a);
    /* everything added before the wait returned was waited for */
    ck_assert_int_eq(atomic_load(&a.children_ran), 2 * a.per + 3 * 2 + 3);
    ck_assert_int_eq(atomic_load(&a.added), 4 * a.per + 2 + 6 + 3);
    fut_group_free(a.g);
    fut_pool_free(a.p);
    future_release(gate);
}
END_TEST

/* Adds from threads racing the group's end: each add either joins (and is
 * waited for) or gives EINVAL after the wait returned, never in between. */
struct race_add {
    fut_group_t *g;
    atomic_int go, accepted, refused;
    future_t *late[64];
    atomic_int late_state[64];
};

static void *race_adder(void *arg)
{
    struct race_add *r = arg;
    while (!atomic_load(&r->go))
        sched_yield();
    for (int i = 0; i < 64; i++) {
        int rc = fut_group_add(r->g, r->late[i]);
        if (rc == 0)
            atomic_fetch_add(&r->accepted, 1);
        else if (rc == EINVAL)
            atomic_fetch_add(&r->refused, 1);
        atomic_store(&r->late_state[i], rc == 0 ? 1 : 2);
        future_resolve(r->late[i], NULL);
    }
    return NULL;
}

START_TEST(adds_racing_the_end_join_or_einval)
{
    long rounds = TU_ROUNDS(300);
    for (long k = 0; k < rounds; k++) {
        struct race_add r;
        memset(&r, 0, sizeof r);
        r.g = group();
        for (int i = 0; i < 64; i++)
            r.late[i] = promise();
        future_t *x = promise();
        tu_assert_rc(fut_group_add(r.g, x), 0);
        pthread_t t = tu_thread(race_adder, &r);
        atomic_store(&r.go, 1);
        future_resolve(x, NULL);
        tu_assert_rc(fut_group_wait(r.g, FUT_FOREVER), 0);
        /* every member accepted before the wait returned is complete */
        for (int i = 0; i < 64; i++)
            if (atomic_load(&r.late_state[i]) == 1)
                ck_assert(future_done(r.late[i]));
        tu_join(t);
        ck_assert_int_eq(atomic_load(&r.accepted) + atomic_load(&r.refused), 64);
        fut_group_free(r.g);
        future_release(x);
        for (int i = 0; i < 64; i++)
            future_release(r.late[i]);
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * cancel
 * ------------------------------------------------------------------- */

struct cancel_case {
    fut_pool_t *p;
    tu_blocker b;
    atomic_int runs;
    future_t *before, *after_p, *after_co, *after_job, *running;
    atomic_int after_co_ran;
    int rc;
};

static void *marks_ran(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

static void *cancel_case_main(void *arg)
{
    struct cancel_case *c = arg;
    fut_group_t *g = fut_group_new();
    CO_CHECK(g != NULL);
    c->before = fut_group_spawn(g, sleeps_long, NULL);
    c->running = fut_group_submit(g, c->p, tu_blocker_job, &c->b);
    CO_CHECK(c->before && c->running);
    tu_gate_wait(&c->b.started);
    CO_CHECK_RC(fut_group_cancel(g), 0);
    /* members added after the cancel are cancelled at once */
    c->after_p = future_new();
    CO_CHECK_RC(fut_group_add(g, c->after_p), 0);
    CO_CHECK_STATE(c->after_p, FUTURE_CANCELLED);
    c->after_co = fut_group_spawn(g, marks_ran, &c->after_co_ran);
    CO_CHECK(c->after_co != NULL);
    CO_CHECK_STATE(c->after_co, FUTURE_CANCELLED);
    c->after_job = fut_group_submit(g, c->p, tu_count_job, &c->runs);
    CO_CHECK(c->after_job != NULL);
    CO_CHECK_STATE(c->after_job, FUTURE_CANCELLED);
    CO_CHECK_RC(fut_group_cancel(g), 0);           /* again: harmless */
    tu_gate_open(&c->b.release);
    c->rc = fut_group_wait(g, FUT_FOREVER);
    fut_group_free(g);
    return NULL;
}

START_TEST(cancel_cancels_members_and_later_ones_at_once)
{
    struct cancel_case c;
    memset(&c, 0, sizeof c);
    c.p = pool(1, "gc");
    tu_blocker_init(&c.b, NULL);
    atomic_init(&c.runs, 0);
    atomic_init(&c.after_co_ran, 0);
    run_ok(cancel_case_main, &c);
    tu_assert_rc(c.rc, ECANCELED);
    tu_assert_state(c.before, FUTURE_CANCELLED);
    tu_assert_state(c.running, FUTURE_DONE);       /* ran to its end */
    fut_pool_free(c.p);
    ck_assert_int_eq(atomic_load(&c.runs), 0);
    ck_assert_int_eq(atomic_load(&c.after_co_ran), 0);
    future_release(c.before);
    future_release(c.running);
    future_release(c.after_p);
    future_release(c.after_co);
    future_release(c.after_job);
    tu_blocker_destroy(&c.b);
}
END_TEST

/* Members that keep spawning members while the group is being cancelled
 * (they ignore their own cancellation for a while): every member added
 * after the cancel is cancelled at once, and the wait ends. */
struct spawner {
    fut_group_t *g;
    atomic_int spawned, cancelled_at_once, refused;
};

static void *spawns_while_it_can(void *arg)
{
    struct spawner *s = arg;
    int dead = 0;
    while (dead < 20) {
        future_t *f = fut_group_spawn(s->g, sleeps_long, NULL);
        if (!f) {
            atomic_fetch_add(&s->refused, 1);
            return NULL;
        }
        atomic_fetch_add(&s->spawned, 1);
        if (future_state(f) == FUTURE_CANCELLED) {
            atomic_fetch_add(&s->cancelled_at_once, 1);
            dead++;
        }
        future_release(f);
        (void)fut_yield();             /* ECANCELED once cancelled: ignored */
    }
    return NULL;
}

static void *spawner_main(void *arg)
{
    struct spawner *s = arg;
    s->g = fut_group_new();
    CO_CHECK(s->g != NULL);
    for (int i = 0; i < 4; i++) {
        future_t *f = fut_group_spawn(s->g, spawns_while_it_can, s);
        CO_CHECK(f != NULL);
        future_release(f);
    }
    CO_CHECK_RC(fut_sleep(5), 0);
    CO_CHECK_RC(fut_group_cancel(s->g), 0);
    CO_CHECK_RC(fut_group_wait(s->g, FUT_FOREVER), ECANCELED);
    fut_group_free(s->g);
    return NULL;
}

START_TEST(cancel_while_members_spawn_members)
{
    struct spawner s;
    memset(&s, 0, sizeof s);
    run_ok(spawner_main, &s);
    ck_assert_int_gt(atomic_load(&s.spawned), 4);
    ck_assert_int_eq(atomic_load(&s.cancelled_at_once), 4 * 20);
    ck_assert_int_eq(atomic_load(&s.refused), 0);
}
END_TEST

/* The same with the group's first failure as the cancel, and members
 * adding from pool threads at the same time. */
static void *job_submits_until_refused(void *arg)
{
    struct adders *a = arg;
    for (int i = 0; i < 200; i++) {
        future_t *j = fut_group_submit(a->g, a->p, count_child, a);
        if (!j)
            return NULL;
        bool dead = future_state(j) == FUTURE_CANCELLED;
        future_release(j);
        if (dead)
            return NULL;
    }
    return NULL;
}

START_TEST(cancel_by_failure_while_jobs_add_jobs)
{
    struct adders a;
    memset(&a, 0, sizeof a);
    a.g = group();
    a.p = pool(2, "fj");
    atomic_init(&a.children_ran, 0);
    for (int i = 0; i < 4; i++) {
        future_t *j = fut_group_submit(a.g, a.p, job_submits_until_refused, &a);
        ck_assert_ptr_nonnull(j);
        future_release(j);
    }
    future_t *f = fut_group_submit(a.g, a.p, fails_eio, NULL);
    ck_assert_ptr_nonnull(f);
    tu_assert_rc(fut_group_wait(a.g, FUT_FOREVER), EIO);
    tu_assert_state(f, FUTURE_FAILED);
    future_release(f);
    fut_group_free(a.g);
    fut_pool_free(a.p);
}
END_TEST

/* ---------------------------------------------------------------------
 * nest
 * ------------------------------------------------------------------- */

/* test_taskgroups.py: test_taskgroup_15/16 (nested groups: cancelling the
 * outer one cancels the inner one's children through the task that waits
 * on it). */
struct nest {
    fut_pool_t *p;
    tu_blocker b;              /* occupies the pool: inner job stays queued */
    atomic_int inner_rc[2];
    atomic_int inner_job_runs;
    atomic_int inner_waiting;
    int inner_wait_rc;
    future_t *inner_members[3];
};

static void *opens_inner_group(void *arg)
{
    struct nest *n = arg;
    fut_group_t *g = fut_group_new();
    if (!g)
        return fut_raise(ENOMEM);
    n->inner_members[0] = fut_group_spawn(g, sleeps_long, &n->inner_rc[0]);
    n->inner_members[1] = fut_group_spawn(g, sleeps_long, &n->inner_rc[1]);
    n->inner_members[2] = fut_group_submit(g, n->p, tu_count_job, &n->inner_job_runs);
    atomic_store(&n->inner_waiting, 1);
    n->inner_wait_rc = fut_group_wait(g, FUT_FOREVER);
    fut_group_free(g);
    return NULL;
}

static void *nest_main(void *arg)
{
    struct nest *n = arg;
    fut_group_t *outer = fut_group_new();
    CO_CHECK(outer != NULL);
    future_t *m = fut_group_spawn(outer, opens_inner_group, n);
    future_t *s = fut_group_spawn(outer, sleeps_long, NULL);
    CO_CHECK(m && s);
    co_until(&n->inner_waiting);
    CO_CHECK_RC(fut_group_cancel(outer), 0);
    CO_CHECK_RC(fut_group_wait(outer, FUT_FOREVER), ECANCELED);
    CO_CHECK_STATE(m, FUTURE_CANCELLED);
    CO_CHECK_STATE(s, FUTURE_CANCELLED);
    future_release(m);
    future_release(s);
    fut_group_free(outer);
    return NULL;
}

START_TEST(nest_outer_cancel_reaches_inner_members)
{
    struct nest n;
    memset(&n, 0, sizeof n);
    n.p = pool(1, "nest");
    tu_blocker_init(&n.b, NULL);
    future_t *blk = fut_pool_submit(n.p, tu_blocker_job, &n.b);
    tu_gate_wait(&n.b.started);
    atomic_init(&n.inner_waiting, 0);
    atomic_init(&n.inner_rc[0], -1);
    atomic_init(&n.inner_rc[1], -1);
    atomic_init(&n.inner_job_runs, 0);
    run_ok(nest_main, &n);
    tu_assert_rc(n.inner_wait_rc, ECANCELED);
    for (int i = 0; i < 3; i++) {
        tu_assert_state(n.inner_members[i], FUTURE_CANCELLED);
        future_release(n.inner_members[i]);
    }
    tu_assert_rc(atomic_load(&n.inner_rc[0]), ECANCELED);
    tu_assert_rc(atomic_load(&n.inner_rc[1]), ECANCELED);
    tu_gate_open(&n.b.release);
    fut_pool_free(n.p);
    ck_assert_int_eq(atomic_load(&n.inner_job_runs), 0);
    future_release(blk);
    tu_blocker_destroy(&n.b);
}
END_TEST

/* An inner failure propagates outward: the inner wait returns it, the
 * member returns it, the outer group cancels its other members. */
static void *inner_fails(void *arg)
{
    (void)arg;
    fut_group_t *g = fut_group_new();
    if (!g)
        return fut_raise(ENOMEM);
    future_t *a = fut_group_spawn(g, sleeps_long, NULL);
    future_t *b = fut_group_spawn(g, sleeps_then_fails, V(2));
    future_release(a);
    future_release(b);
    int rc = fut_group_wait(g, FUT_FOREVER);
    fut_group_free(g);
    return rc ? fut_raise(rc) : NULL;
}

static void *inner_fail_main(void *arg)
{
    int *rc = arg;
    fut_group_t *outer = fut_group_new();
    CO_CHECK(outer != NULL);
    future_t *m = fut_group_spawn(outer, inner_fails, NULL);
    future_t *s = fut_group_spawn(outer, sleeps_long, NULL);
    *rc = fut_group_wait(outer, FUT_FOREVER);
    CO_CHECK_STATE(s, FUTURE_CANCELLED);
    CO_CHECK_STATE(m, FUTURE_FAILED);
    future_release(m);
    future_release(s);
    fut_group_free(outer);
    return NULL;
}

START_TEST(nest_inner_failure_propagates_out)
{
    int rc = -1;
    run_ok(inner_fail_main, &rc);
    tu_assert_rc(rc, EIO);
}
END_TEST

/* ---------------------------------------------------------------------
 * free
 * ------------------------------------------------------------------- */

START_TEST(free_cancels_waits_null_fine)
{
    fut_group_free(NULL);
    fut_pool_t *p = pool(1, "free");
    tu_blocker b;
    tu_blocker_init(&b, V(3));
    fut_group_t *g = group();
    future_t *j = fut_group_submit(g, p, tu_blocker_job, &b);
    tu_gate_wait(&b.started);
    future_t *x = promise();
    tu_assert_rc(fut_group_add(g, x), 0);
    pthread_t t = tu_thread(release_after, &b);
    fut_group_free(g);                 /* cancels x, waits for the job */
    ck_assert(future_done(j));
    tu_assert_state(j, FUTURE_DONE);
    tu_assert_state(x, FUTURE_CANCELLED);
    tu_join(t);
    future_release(j);
    future_release(x);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* ---------------------------------------------------------------------
 * edges
 * ------------------------------------------------------------------- */

START_TEST(edges_bad_input)
{
    fut_group_t *g = group();
    fut_pool_t *p = pool(1, "bad");
    tu_assert_null_errno(fut_group_spawn(NULL, returns_arg, NULL), EINVAL);
    tu_assert_null_errno(fut_group_spawn(g, NULL, NULL), EINVAL);
    tu_assert_null_errno(fut_group_submit(NULL, p, returns_arg, NULL), EINVAL);
    tu_assert_null_errno(fut_group_submit(g, NULL, returns_arg, NULL), EINVAL);
    tu_assert_null_errno(fut_group_submit(g, p, NULL, NULL), EINVAL);
    tu_assert_rc(fut_group_add(NULL, NULL), EINVAL);
    tu_assert_rc(fut_group_add(g, NULL), EINVAL);
    tu_assert_rc(fut_group_cancel(NULL), EINVAL);
    tu_assert_rc(fut_group_wait(NULL, 0), EINVAL);
    tu_assert_rc(fut_group_wait(g, -7), EINVAL);
    /* nothing changed: the group is still open and empty */
    future_t *x = promise();
    tu_assert_rc(fut_group_add(g, x), 0);
    future_resolve(x, NULL);
    tu_assert_rc(fut_group_wait(g, FUT_FOREVER), 0);
    fut_group_free(g);
    future_release(x);
    /* a shut-down pool: the error is submit's; nothing is added */
    g = group();
    fut_pool_shutdown(p, FUT_DRAIN);
    tu_assert_null_errno(fut_group_submit(g, p, returns_arg, NULL), ESHUTDOWN);
    tu_assert_rc(fut_group_wait(g, 0), 0);
    fut_group_free(g);
    fut_pool_free(p);
}
END_TEST

/* 100,000 members: coroutines on the loop, jobs on a pool. */
static void *many_main(void *arg)
{
    long n = *(long *)arg;
    fut_group_t *g = fut_group_new();
    CO_CHECK(g != NULL);
    for (long i = 0; i < n; i++) {
        future_t *f = fut_group_spawn(g, returns_arg, V(i));
        CO_CHECK(f != NULL);
        future_release(f);
    }
    CO_CHECK_RC(fut_group_wait(g, FUT_FOREVER), 0);
    fut_group_free(g);
    /* and cancelled: 100,000 sleeping coroutines */
    g = fut_group_new();
    atomic_int dummy;
    atomic_init(&dummy, 0);
    for (long i = 0; i < n; i++) {
        future_t *f = fut_group_spawn(g, sleeps_long, NULL);
        CO_CHECK(f != NULL);
        future_release(f);
    }
    CO_CHECK_RC(fut_yield(), 0);       /* all asleep now */
    CO_CHECK_RC(fut_group_cancel(g), 0);
    CO_CHECK_RC(fut_group_wait(g, FUT_FOREVER), ECANCELED);
    fut_group_free(g);
    return NULL;
}

START_TEST(edges_100000_members)
{
    long n = coro_rounds(100000);
    run_ok(many_main, &n);
    fut_pool_t *p = pool(2, "many");
    fut_group_t *g = group();
    long jobs = TU_ROUNDS(100000);
    for (long i = 0; i < jobs; i++) {
        future_t *f = fut_group_submit(g, p, returns_arg, V(i));
        ck_assert_ptr_nonnull(f);
        future_release(f);
    }
    tu_assert_rc(fut_group_wait(g, FUT_FOREVER), 0);
    fut_group_free(g);
    fut_pool_free(p);
}
END_TEST

/* Failures, cancels and adds from several threads at once (TSan). */
struct storm {
    fut_group_t *g;
    fut_pool_t *p;
    uint32_t seed;
};

static void *storm_thread(void *arg)
{
    struct storm *s = arg;
    uint32_t seed = s->seed;
    for (int i = 0; i < 40; i++) {
        uint32_t r = xorshift(&seed) % 8;
        if (r < 4) {
            future_t *j = fut_group_submit(s->g, s->p, returns_arg, NULL);
            future_release(j);
        } else if (r < 6) {
            future_t *x = future_new();
            if (fut_group_add(s->g, x) == 0 && (r & 1))
                future_fail(x, EIO);
            else
                future_resolve(x, NULL);
            future_release(x);
        } else if (r == 6) {
            fut_group_cancel(s->g);
        } else {
            sched_yield();
        }
    }
    return NULL;
}

START_TEST(edges_storm_of_adds_failures_and_cancels)
{
    fut_pool_t *p = pool(2, "storm");
    long rounds = TU_ROUNDS(200);
    for (long k = 0; k < rounds; k++) {
        struct storm s[3];
        fut_group_t *g = group();
        future_t *hold = promise();
        tu_assert_rc(fut_group_add(g, hold), 0);
        pthread_t t[3];
        for (int i = 0; i < 3; i++) {
            s[i] = (struct storm){g, p, (uint32_t)(k * 3 + (long)i + 1) * 2654435761u};
            t[i] = tu_thread(storm_thread, &s[i]);
        }
        future_resolve(hold, NULL);
        int rc = fut_group_wait(g, FUT_FOREVER);
        ck_assert_msg(rc == 0 || rc == EIO || rc == ECANCELED, "wait: %d", rc);
        for (int i = 0; i < 3; i++)
            tu_join(t[i]);
        tu_assert_rc(fut_group_wait(g, 0), rc);
        fut_group_free(g);
        future_release(hold);
    }
    fut_pool_free(p);
}
END_TEST

static Suite *group_suite(void)
{
    Suite *s = suite_create("group");
    TCase *tc = tu_tcase(s, "members", 30);
    tcase_add_test(tc, members_spawn_runs_on_the_callers_loop);
    tcase_add_test(tc, members_spawn_outside_coroutine_eperm);
    tcase_add_test(tc, members_submit_runs_on_any_pool);
    tcase_add_test(tc, members_add_adopts_any_future);
    tcase_add_test(tc, members_keep_their_own_references);
    tc = tu_tcase(s, "wait", 30);
    tcase_add_test(tc, wait_all_succeeded_returns_0_after_all);
    tcase_add_test(tc, wait_empty_group_returns_0);
    tcase_add_test(tc, wait_first_failure_cancels_the_others);
    tcase_add_test(tc, wait_first_failure_in_completion_order);
    tcase_add_test(tc, wait_first_cancelled_gives_ecanceled);
    tcase_add_test(tc, wait_deadline_cancels_waits_etimedout);
    tcase_add_test(tc, wait_failure_before_deadline_wins);
    tcase_add_test(tc, wait_timeout_0_only_checks);
    tcase_add_test(tc, wait_timeout_0_in_cancelled_coroutine_cancels_members);
    tcase_add_test(tc, wait_waiter_cancelled_cancels_members_waits_ecanceled);
    tcase_add_test(tc, wait_waiter_cancelled_before_the_call_cancels_members);
    tcase_add_test(tc, wait_second_wait_same_result_add_einval);
    tcase_add_test(tc, wait_member_waiting_on_own_group_edeadlk);
    tcase_add_test(tc, wait_job_waiting_before_its_add_completes_edeadlk);
    tc = tu_tcase(s, "adds", 60);
    tcase_add_test(tc, adds_from_threads_and_members_until_the_wait_returns);
    tcase_add_test(tc, adds_racing_the_end_join_or_einval);
    tc = tu_tcase(s, "cancel", 30);
    tcase_add_test(tc, cancel_cancels_members_and_later_ones_at_once);
    tcase_add_test(tc, cancel_while_members_spawn_members);
    tcase_add_test(tc, cancel_by_failure_while_jobs_add_jobs);
    tc = tu_tcase(s, "nest", 30);
    tcase_add_test(tc, nest_outer_cancel_reaches_inner_members);
    tcase_add_test(tc, nest_inner_failure_propagates_out);
    tc = tu_tcase(s, "free", 30);
    tcase_add_test(tc, free_cancels_waits_null_fine);
    tc = tu_tcase(s, "edges", 120);
    tcase_add_test(tc, edges_bad_input);
    tcase_add_test(tc, edges_100000_members);
    tcase_add_test(tc, edges_storm_of_adds_failures_and_cancels);
    return s;
}

TU_MAIN(group_suite)
