/* SPDX-License-Identifier: MIT */
/*
 * test_cancel.c - "Cancellation that flows" (the contract's section on
 * structured concurrency, without the groups: tests/test_group.c)
 *
 * One case per sentence of the contract, each of which fails if that
 * sentence is broken; several are ports, in spirit, of CPython's
 * Lib/test/test_asyncio/test_tasks.py (named where they are):
 *
 *   flow        a coroutine's cancellation, delivered by future_get,
 *               future_wait_for or future_gather, cancels what it awaits:
 *               a promise, a queued job (never runs), a child coroutine
 *               (woken with ECANCELED), and not a running job (EBUSY: it
 *               finishes); get returns at once, gather only once all have
 *               ended; wait, wait_any, wait_next and fut_sleep cancel
 *               nothing
 *   delivered   the cancellation stays delivered at every later wait,
 *               cancelling nothing, except inside a shielded section
 *   shield      future_shield and fut_cancel_shield
 *   wait_for    the timeout that cancels
 *   wait_next   completion order
 *   stress      the flow racing completions from other threads
 */
#include "cotest.h"

/* ---------------------------------------------------------------------
 * Pieces
 * ------------------------------------------------------------------- */

/* A coroutine that waits in one call and records what it returned. */
enum how { GET, GATHER, WAIT, WAIT_ANY, WAIT_NEXT, WAIT_FOR, SLEEP };

struct waiter {
    enum how how;
    future_t *fs[8];
    size_t n;
    long timeout_ms;
    atomic_int waiting;        /* set just before the call */
    int rc;
    void *value;               /* get / wait_for */
    void *values[8];           /* gather */
    bool done_at_return[8];    /* future_done of each when the call returned */
    int after_rc;              /* a later future_get(after) */
    future_t *after;           /* NULL: no later call */
};

static void waiter_init(struct waiter *w, enum how how)
{
    memset(w, 0, sizeof *w);
    w->how = how;
    w->timeout_ms = FUT_FOREVER;
    atomic_init(&w->waiting, 0);
    w->rc = -1;
    w->after_rc = -1;
    w->value = SENTINEL;
    for (int i = 0; i < 8; i++)
        w->values[i] = SENTINEL;
}

static void *waiter_body(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->waiting, 1);
    switch (w->how) {
    case GET:
        w->rc = future_get(w->fs[0], &w->value);
        break;
    case GATHER:
        w->rc = future_gather(w->fs, w->n, w->values, w->timeout_ms);
        break;
    case WAIT:
        w->rc = future_wait(w->fs[0], w->timeout_ms);
        break;
    case WAIT_ANY: {
        size_t idx;
        w->rc = future_wait_any(w->fs, w->n, w->timeout_ms, &idx);
        break;
    }
    case WAIT_NEXT: {
        bool done[8] = {false};
        size_t idx;
        w->rc = future_wait_next(w->fs, w->n, done, w->timeout_ms, &idx);
        break;
    }
    case WAIT_FOR:
        w->rc = future_wait_for(w->fs[0], w->timeout_ms, &w->value);
        break;
    case SLEEP:
        w->rc = fut_sleep(60000);
        break;
    }
    for (size_t i = 0; i < w->n; i++)
        w->done_at_return[i] = future_done(w->fs[i]);
    if (w->after)
        w->after_rc = future_get(w->after, NULL);
    return V(1);
}

/* A child coroutine: sleeps long, or waits on a promise; records the rc. */
struct child {
    future_t *p;               /* NULL: sleep */
    atomic_int started, ended;
    int rc;
};

static void child_init(struct child *c, future_t *p)
{
    memset(c, 0, sizeof *c);
    c->p = p;
    atomic_init(&c->started, 0);
    atomic_init(&c->ended, 0);
    c->rc = -1;
}

static void *child_body(void *arg)
{
    struct child *c = arg;
    atomic_store(&c->started, 1);
    c->rc = c->p ? future_get(c->p, NULL) : fut_sleep(60000);
    atomic_store(&c->ended, 1);
    return V(2);
}

static future_t *promise(void)
{
    future_t *p = future_new();
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Spawns w's body, lets it reach its wait, cancels it, and waits for it
 * to end (its future: CANCELLED).  In a coroutine. */
static void cancel_waiting(struct waiter *w)
{
    future_t *f = fut_spawn(waiter_body, w);
    CO_CHECK(f != NULL);
    co_until(&w->waiting);
    CO_CHECK_RC(future_cancel(f), 0);
    CO_CHECK_RC(future_wait(f, FUT_FOREVER), 0);
    CO_CHECK_STATE(f, FUTURE_CANCELLED);
    future_release(f);
}

/* ---------------------------------------------------------------------
 * flow: future_get
 * ------------------------------------------------------------------- */

/* test_tasks.py: test_cancel_inner_future ("await fut" in a task that is
 * cancelled cancels fut). */
static void *get_promise_main(void *arg)
{
    struct waiter *w = arg;
    cancel_waiting(w);
    return NULL;
}

START_TEST(flow_get_cancels_awaited_promise)
{
    struct waiter w;
    waiter_init(&w, GET);
    w.fs[0] = promise();
    w.n = 1;
    run_ok(get_promise_main, &w);
    tu_assert_rc(w.rc, ECANCELED);
    ck_assert_ptr_null(w.value);
    tu_assert_state(w.fs[0], FUTURE_CANCELLED);
    future_release(w.fs[0]);
}
END_TEST

/* Cancelled while not waiting: delivered at its next waiting call, which
 * cancels what it awaits. */
struct self_cancel {
    future_t *p;
    int rc_cancel, rc_get, rc_later;
    future_t *later;
};

static void *self_cancel_body(void *arg)
{
    struct self_cancel *s = arg;
    s->rc_cancel = future_cancel(fut_current());
    s->rc_get = future_get(s->p, NULL);
    s->rc_later = future_get(s->later, NULL);
    return NULL;
}

static void *self_cancel_main(void *arg)
{
    future_t *f = fut_spawn(self_cancel_body, arg);
    CO_CHECK(f != NULL);
    CO_CHECK_RC(future_get(f, NULL), ECANCELED);
    future_release(f);
    return NULL;
}

START_TEST(flow_delivered_at_next_wait_when_not_waiting)
{
    struct self_cancel s = {promise(), -1, -1, -1, promise()};
    run_ok(self_cancel_main, &s);
    tu_assert_rc(s.rc_cancel, 0);
    tu_assert_rc(s.rc_get, ECANCELED);
    tu_assert_state(s.p, FUTURE_CANCELLED);       /* it delivered: flows */
    tu_assert_rc(s.rc_later, ECANCELED);
    tu_assert_state(s.later, FUTURE_PENDING);     /* delivered before: no flow */
    future_release(s.p);
    future_release(s.later);
}
END_TEST

/* The same from another thread: the coroutine is busy (no wait) when a
 * thread cancels it; its next call, a gather, delivers and cancels. */
struct busy_cancel {
    future_t *fs[2];
    _Atomic(future_t *) target;
    atomic_int armed;
    int rc;
};

static void *busy_body(void *arg)
{
    struct busy_cancel *b = arg;
    uint64_t t0 = tu_now_ns();
    while (!atomic_load(&b->armed) && ms_since(t0) < (double)BOUND_MS) {
    }                                  /* holds the loop: not waiting */
    b->rc = future_gather(b->fs, 2, NULL, FUT_FOREVER);
    return NULL;
}

static void *canceller_thread(void *arg)
{
    struct busy_cancel *b = arg;
    future_t *f;
    while (!(f = atomic_load(&b->target)))
        sched_yield();
    tu_sleep_ms(5);
    int rc = future_cancel(f);
    atomic_store(&b->armed, rc == 0 ? 1 : 2);
    return NULL;
}

static void *busy_cancel_main(void *arg)
{
    struct busy_cancel *b = arg;
    future_t *f = fut_spawn(busy_body, b);
    CO_CHECK(f != NULL);
    atomic_store(&b->target, f);
    CO_CHECK_RC(future_wait(f, FUT_FOREVER), 0);
    CO_CHECK_STATE(f, FUTURE_CANCELLED);
    future_release(f);
    return NULL;
}

START_TEST(flow_cancel_from_thread_delivered_at_next_gather)
{
    struct busy_cancel b;
    memset(&b, 0, sizeof b);
    b.fs[0] = promise();
    b.fs[1] = promise();
    atomic_init(&b.target, NULL);
    atomic_init(&b.armed, 0);
    b.rc = -1;
    pthread_t t = tu_thread(canceller_thread, &b);
    run_ok(busy_cancel_main, &b);
    tu_join(t);
    ck_assert_int_eq(atomic_load(&b.armed), 1);
    tu_assert_rc(b.rc, ECANCELED);
    tu_assert_state(b.fs[0], FUTURE_CANCELLED);
    tu_assert_state(b.fs[1], FUTURE_CANCELLED);
    future_release(b.fs[0]);
    future_release(b.fs[1]);
}
END_TEST

/* A queued pool job awaited by a cancelled coroutine never runs. */
struct queued_job {
    fut_pool_t *p;
    tu_blocker b;              /* occupies the pool's one thread */
    atomic_int runs;
    struct waiter w;
};

static void *queued_job_main(void *arg)
{
    struct queued_job *q = arg;
    cancel_waiting(&q->w);
    return NULL;
}

START_TEST(flow_get_cancels_queued_job_never_runs)
{
    struct queued_job q;
    memset(&q, 0, sizeof q);
    q.p = pool(1, "qj");
    tu_blocker_init(&q.b, NULL);
    atomic_init(&q.runs, 0);
    future_t *blk = fut_pool_submit(q.p, tu_blocker_job, &q.b);
    ck_assert_ptr_nonnull(blk);
    tu_gate_wait(&q.b.started);
    waiter_init(&q.w, GET);
    q.w.fs[0] = fut_pool_submit(q.p, tu_count_job, &q.runs);
    ck_assert_ptr_nonnull(q.w.fs[0]);
    q.w.n = 1;
    run_ok(queued_job_main, &q);
    tu_assert_rc(q.w.rc, ECANCELED);
    tu_assert_state(q.w.fs[0], FUTURE_CANCELLED);
    tu_gate_open(&q.b.release);
    fut_pool_free(q.p);                /* drains: a cancelled job is skipped */
    ck_assert_int_eq(atomic_load(&q.runs), 0);
    future_release(q.w.fs[0]);
    future_release(blk);
    tu_blocker_destroy(&q.b);
}
END_TEST

/* A child coroutine awaited by a cancelled coroutine is woken with
 * ECANCELED and ends CANCELLED. */
struct child_case {
    struct child c;
    struct waiter w;
    future_t *cf;
};

static void *child_case_main(void *arg)
{
    struct child_case *k = arg;
    k->cf = fut_spawn(child_body, &k->c);
    CO_CHECK(k->cf != NULL);
    co_until(&k->c.started);           /* the child sleeps now */
    k->w.fs[0] = k->cf;
    k->w.n = 1;
    cancel_waiting(&k->w);
    CO_CHECK_RC(future_wait(k->cf, FUT_FOREVER), 0);
    return NULL;
}

START_TEST(flow_get_cancels_child_coroutine)
{
    struct child_case k;
    memset(&k, 0, sizeof k);
    child_init(&k.c, NULL);
    waiter_init(&k.w, GET);
    run_ok(child_case_main, &k);
    tu_assert_rc(k.w.rc, ECANCELED);
    tu_assert_rc(k.c.rc, ECANCELED);   /* woken from its sleep */
    ck_assert(atomic_load(&k.c.ended));
    tu_assert_state(k.cf, FUTURE_CANCELLED);
    future_release(k.cf);
}
END_TEST

/* Through a chain: cancelling A, which awaits B, which awaits promise P,
 * cancels B, whose get then delivers and cancels P (test_tasks.py:
 * test_cancel_task_catching / chains of awaits). */
struct chain {
    future_t *p;
    struct child b;            /* b.p = p */
    future_t *bf;
    struct waiter a;           /* get(bf) */
};

static void *chain_main(void *arg)
{
    struct chain *k = arg;
    k->bf = fut_spawn(child_body, &k->b);
    CO_CHECK(k->bf != NULL);
    co_until(&k->b.started);
    k->a.fs[0] = k->bf;
    k->a.n = 1;
    cancel_waiting(&k->a);
    CO_CHECK_RC(future_wait(k->bf, FUT_FOREVER), 0);
    return NULL;
}

START_TEST(flow_through_a_chain_of_gets)
{
    struct chain k;
    memset(&k, 0, sizeof k);
    k.p = promise();
    child_init(&k.b, k.p);
    waiter_init(&k.a, GET);
    run_ok(chain_main, &k);
    tu_assert_rc(k.a.rc, ECANCELED);
    tu_assert_rc(k.b.rc, ECANCELED);
    tu_assert_state(k.bf, FUTURE_CANCELLED);
    tu_assert_state(k.p, FUTURE_CANCELLED);
    future_release(k.bf);
    future_release(k.p);
}
END_TEST

/* A running pool job cannot be stopped: the get returns ECANCELED at once,
 * while the job still runs; the job then finishes with its value. */
struct running_job {
    fut_pool_t *p;
    tu_blocker b;
    future_t *job;
    struct waiter w;
    bool job_done_when_waiter_ended;
    int rc_cancel_job;
};

static void *running_job_main(void *arg)
{
    struct running_job *r = arg;
    cancel_waiting(&r->w);             /* returns once the waiter ended */
    r->job_done_when_waiter_ended = future_done(r->job);
    r->rc_cancel_job = future_cancel(r->job);
    tu_gate_open(&r->b.release);
    return NULL;
}

START_TEST(flow_get_running_job_not_stopped_returns_at_once)
{
    struct running_job r;
    memset(&r, 0, sizeof r);
    r.p = pool(1, "rj");
    tu_blocker_init(&r.b, V(77));
    r.job = fut_pool_submit(r.p, tu_blocker_job, &r.b);
    ck_assert_ptr_nonnull(r.job);
    tu_gate_wait(&r.b.started);
    waiter_init(&r.w, GET);
    r.w.fs[0] = r.job;
    r.w.n = 1;
    run_ok(running_job_main, &r);
    tu_assert_rc(r.w.rc, ECANCELED);
    ck_assert(!r.w.done_at_return[0]);          /* at once */
    ck_assert(!r.job_done_when_waiter_ended);
    tu_assert_rc(r.rc_cancel_job, EBUSY);
    void *v = NULL;
    tu_assert_rc(future_get(r.job, &v), 0);     /* it finished */
    ck_assert_ptr_eq(v, V(77));
    ck_assert_int_eq(atomic_load(&r.b.runs), 1);
    future_release(r.job);
    fut_pool_free(r.p);
    tu_blocker_destroy(&r.b);
}
END_TEST

/* ---------------------------------------------------------------------
 * flow: future_gather
 * ------------------------------------------------------------------- */

/* test_tasks.py: test_gather_cancel... / "cancelling a task waiting in
 * gather cancels its children": a complete one stays as it was, a promise,
 * a sleeping child and a queued job are cancelled, a running job finishes,
 * and the gather returns ECANCELED only after all of them have ended,
 * without writing values. */
enum { G_DONE, G_PROMISE, G_CHILD, G_QUEUED, G_RUNNING, G_N };

struct gather_case {
    fut_pool_t *p;
    tu_blocker b;
    atomic_int queued_runs;
    struct child c;
    struct waiter w;
    bool waiter_done_before_release;
    int child_state_before_release;
};

static void *gather_case_main(void *arg)
{
    struct gather_case *g = arg;
    g->w.fs[G_CHILD] = fut_spawn(child_body, &g->c);
    CO_CHECK(g->w.fs[G_CHILD] != NULL);
    co_until(&g->c.started);
    future_t *wf = fut_spawn(waiter_body, &g->w);
    CO_CHECK(wf != NULL);
    co_until(&g->w.waiting);
    CO_CHECK_RC(future_cancel(wf), 0);
    /* The child was cancelled and runs to its end ... */
    CO_CHECK_RC(future_wait(g->w.fs[G_CHILD], FUT_FOREVER), 0);
    g->child_state_before_release = (int)future_state(g->w.fs[G_CHILD]);
    /* ... but the gather still waits for the running job. */
    CO_CHECK_RC(fut_sleep(20), 0);
    g->waiter_done_before_release = future_done(wf);
    tu_gate_open(&g->b.release);
    CO_CHECK_RC(future_wait(wf, FUT_FOREVER), 0);
    CO_CHECK_STATE(wf, FUTURE_CANCELLED);
    future_release(wf);
    return NULL;
}

static void gather_case_run(long timeout_ms)
{
    struct gather_case g;
    memset(&g, 0, sizeof g);
    g.p = pool(1, "gc");
    tu_blocker_init(&g.b, V(5));
    atomic_init(&g.queued_runs, 0);
    child_init(&g.c, NULL);
    waiter_init(&g.w, GATHER);
    g.w.timeout_ms = timeout_ms;
    g.w.n = G_N;
    g.w.fs[G_DONE] = promise();
    ck_assert_int_eq(future_resolve(g.w.fs[G_DONE], V(1)), 0);
    g.w.fs[G_PROMISE] = promise();
    g.w.fs[G_RUNNING] = fut_pool_submit(g.p, tu_blocker_job, &g.b);
    ck_assert_ptr_nonnull(g.w.fs[G_RUNNING]);
    tu_gate_wait(&g.b.started);
    g.w.fs[G_QUEUED] = fut_pool_submit(g.p, tu_count_job, &g.queued_runs);
    ck_assert_ptr_nonnull(g.w.fs[G_QUEUED]);

    run_ok(gather_case_main, &g);
    tu_assert_rc(g.w.rc, ECANCELED);
    for (int i = 0; i < G_N; i++) {
        ck_assert_msg(g.w.values[i] == SENTINEL, "values[%d] was written", i);
        ck_assert_msg(g.w.done_at_return[i], "future %d not complete when gather returned", i);
    }
    ck_assert_int_eq(g.child_state_before_release, FUTURE_CANCELLED);
    ck_assert_msg(!g.waiter_done_before_release,
                  "gather returned before the running job ended");
    tu_assert_state(g.w.fs[G_DONE], FUTURE_DONE);
    tu_assert_state(g.w.fs[G_PROMISE], FUTURE_CANCELLED);
    tu_assert_state(g.w.fs[G_CHILD], FUTURE_CANCELLED);
    tu_assert_rc(g.c.rc, ECANCELED);
    tu_assert_state(g.w.fs[G_QUEUED], FUTURE_CANCELLED);
    tu_assert_state(g.w.fs[G_RUNNING], FUTURE_DONE);
    fut_pool_free(g.p);
    ck_assert_int_eq(atomic_load(&g.queued_runs), 0);
    for (int i = 0; i < G_N; i++)
        future_release(g.w.fs[i]);
    tu_blocker_destroy(&g.b);
}

START_TEST(flow_gather_cancels_children_waits_for_running_job)
{
    gather_case_run(FUT_FOREVER);
}
END_TEST

/* The gather's own timeout does not cut the wait for what it cancelled
 * short: nothing is left running behind the caller's back. */
START_TEST(flow_gather_with_timeout_still_waits_for_all)
{
    gather_case_run(5);
}
END_TEST

/* ---------------------------------------------------------------------
 * flow: the waits that do not cancel
 * ------------------------------------------------------------------- */

static void *no_flow_main(void *arg)
{
    struct waiter *ws = arg;
    for (int i = 0; i < 4; i++)
        cancel_waiting(&ws[i]);
    return NULL;
}

/* future_wait, future_wait_any, future_wait_next and fut_sleep deliver the
 * cancellation and cancel nothing: neither what they waited on, nor what
 * the next waiting call is given (delivered already). */
START_TEST(flow_wait_wait_any_wait_next_sleep_cancel_nothing)
{
    struct waiter ws[4];
    enum how hows[4] = {WAIT, WAIT_ANY, WAIT_NEXT, SLEEP};
    for (int i = 0; i < 4; i++) {
        waiter_init(&ws[i], hows[i]);
        if (hows[i] != SLEEP) {
            ws[i].fs[0] = promise();
            ws[i].fs[1] = promise();
            ws[i].n = hows[i] == WAIT ? 1 : 2;
        }
        ws[i].after = promise();
    }
    run_ok(no_flow_main, ws);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(ws[i].rc == ECANCELED, "wait %d returned %d", i, ws[i].rc);
        tu_assert_rc(ws[i].after_rc, ECANCELED);
        tu_assert_state(ws[i].after, FUTURE_PENDING);
        future_release(ws[i].after);
        for (size_t k = 0; k < 2; k++) {
            if (ws[i].fs[k]) {
                tu_assert_state(ws[i].fs[k], FUTURE_PENDING);
                future_release(ws[i].fs[k]);
            }
        }
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * delivered: every later wait, cancelling nothing, except shielded
 * ------------------------------------------------------------------- */

struct later {
    future_t *first;
    future_t *p[4];            /* given to later calls */
    future_t *shielded_p;      /* resolved by a thread while shielded */
    future_t *after_shield;
    int rc_first, rc_get, rc_gather, rc_wait_for, rc_any, rc_yield, rc_sleep;
    int rc_shielded_get, rc_shielded_sleep, rc_after_shield;
    void *shielded_value;
    bool prev_on, prev_off;
    atomic_int go;
};

static void *later_body(void *arg)
{
    struct later *l = arg;
    l->rc_first = future_get(l->first, NULL);        /* cancelled in here */
    l->rc_get = future_get(l->p[0], NULL);
    l->rc_gather = future_gather(&l->p[1], 1, NULL, FUT_FOREVER);
    l->rc_wait_for = future_wait_for(l->p[2], 1000, NULL);
    size_t idx;
    l->rc_any = future_wait_any(&l->p[3], 1, 1000, &idx);
    l->rc_yield = fut_yield();
    l->rc_sleep = fut_sleep(1);
    l->prev_on = fut_cancel_shield(true);
    atomic_store(&l->go, 1);                          /* the thread resolves */
    l->rc_shielded_get = future_get(l->shielded_p, &l->shielded_value);
    l->rc_shielded_sleep = fut_sleep(1);
    l->prev_off = fut_cancel_shield(false);
    l->rc_after_shield = future_get(l->after_shield, NULL);
    return NULL;
}

static void *resolve_when_go(void *arg)
{
    struct later *l = arg;
    while (!atomic_load(&l->go))
        sched_yield();
    tu_sleep_ms(10);
    future_resolve(l->shielded_p, V(33));
    return NULL;
}

static void *later_main(void *arg)
{
    struct later *l = arg;
    future_t *f = fut_spawn(later_body, l);
    CO_CHECK(f != NULL);
    CO_CHECK_RC(fut_yield(), 0);       /* it waits on `first` now */
    CO_CHECK_RC(future_cancel(f), 0);
    CO_CHECK_RC(future_get(f, NULL), ECANCELED);
    future_release(f);
    return NULL;
}

START_TEST(delivered_stays_at_every_later_wait_except_shielded)
{
    struct later l;
    memset(&l, 0, sizeof l);
    l.first = promise();
    for (int i = 0; i < 4; i++)
        l.p[i] = promise();
    l.shielded_p = promise();
    l.after_shield = promise();
    atomic_init(&l.go, 0);
    pthread_t t = tu_thread(resolve_when_go, &l);
    run_ok(later_main, &l);
    tu_join(t);
    tu_assert_rc(l.rc_first, ECANCELED);
    tu_assert_state(l.first, FUTURE_CANCELLED);        /* the delivery flowed */
    tu_assert_rc(l.rc_get, ECANCELED);
    tu_assert_rc(l.rc_gather, ECANCELED);
    tu_assert_rc(l.rc_wait_for, ECANCELED);
    tu_assert_rc(l.rc_any, ECANCELED);
    tu_assert_rc(l.rc_yield, ECANCELED);
    tu_assert_rc(l.rc_sleep, ECANCELED);
    for (int i = 0; i < 4; i++)
        tu_assert_state(l.p[i], FUTURE_PENDING);       /* no flow any more */
    /* shielded: the waits work */
    ck_assert(!l.prev_on);
    tu_assert_rc(l.rc_shielded_get, 0);
    ck_assert_ptr_eq(l.shielded_value, V(33));
    tu_assert_rc(l.rc_shielded_sleep, 0);
    ck_assert(l.prev_off);
    /* off again: still delivered, and delivered before, so no flow */
    tu_assert_rc(l.rc_after_shield, ECANCELED);
    tu_assert_state(l.after_shield, FUTURE_PENDING);
    future_release(l.first);
    for (int i = 0; i < 4; i++)
        future_release(l.p[i]);
    future_release(l.shielded_p);
    future_release(l.after_shield);
}
END_TEST

/* `return fut_raise(ECANCELED)` ends a future FAILED, not CANCELLED (a
 * deliberate difference from Python, in the header). */
static void *raise_ecanceled(void *arg)
{
    (void)arg;
    return fut_raise(ECANCELED);
}

static void *raise_main(void *arg)
{
    future_t **out = arg;
    out[0] = fut_spawn(raise_ecanceled, NULL);
    CO_CHECK(out[0] != NULL);
    CO_CHECK_RC(future_wait(out[0], FUT_FOREVER), 0);
    return NULL;
}

START_TEST(delivered_raise_ecanceled_ends_failed)
{
    future_t *fs[1];
    run_ok(raise_main, fs);
    tu_assert_state(fs[0], FUTURE_FAILED);
    tu_assert_rc(future_get(fs[0], NULL), ECANCELED);
    future_release(fs[0]);
    fut_pool_t *p = pool(1, "raise");
    future_t *j = fut_pool_submit(p, raise_ecanceled, NULL);
    ck_assert_ptr_nonnull(j);
    tu_assert_rc(future_get(j, NULL), ECANCELED);
    tu_assert_state(j, FUTURE_FAILED);
    future_release(j);
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * shield: future_shield
 * ------------------------------------------------------------------- */

START_TEST(shield_completes_as_f_does)
{
    future_t *f[3] = {promise(), promise(), promise()};
    future_t *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = future_shield(f[i]);
        ck_assert_ptr_nonnull(s[i]);
        ck_assert_ptr_ne(s[i], f[i]);
        tu_assert_state(s[i], FUTURE_PENDING);
    }
    ck_assert_int_eq(future_resolve(f[0], V(9)), 0);
    ck_assert_int_eq(future_fail(f[1], EIO), 0);
    ck_assert_int_eq(future_cancel(f[2]), 0);
    void *v = NULL;
    tu_assert_rc(future_get(s[0], &v), 0);
    ck_assert_ptr_eq(v, V(9));
    tu_assert_rc(future_get(s[1], NULL), EIO);
    tu_assert_state(s[1], FUTURE_FAILED);
    tu_assert_state(s[2], FUTURE_CANCELLED);
    /* of a complete future: complete at once */
    future_t *s0 = future_shield(f[0]);
    ck_assert_ptr_nonnull(s0);
    tu_assert_state(s0, FUTURE_DONE);
    future_release(s0);
    for (int i = 0; i < 3; i++) {
        future_release(s[i]);
        future_release(f[i]);
    }
}
END_TEST

START_TEST(shield_cancelling_it_does_not_cancel_f)
{
    future_t *f = promise();
    future_t *s = future_shield(f);
    ck_assert_ptr_nonnull(s);
    tu_assert_rc(future_cancel(s), 0);
    tu_assert_state(s, FUTURE_CANCELLED);
    tu_assert_state(f, FUTURE_PENDING);
    ck_assert_int_eq(future_resolve(f, V(1)), 0);   /* the shield stays cancelled */
    tu_assert_state(s, FUTURE_CANCELLED);
    future_release(s);
    future_release(f);
    /* the shield may be released first; f's completion then frees it */
    f = promise();
    s = future_shield(f);
    future_release(s);
    ck_assert_int_eq(future_resolve(f, V(2)), 0);
    future_release(f);
}
END_TEST

/* test_tasks.py: test_shield_effect: a task awaiting shield(inner) is
 * cancelled; the shield is cancelled, inner is not and completes later. */
struct shield_wait {
    future_t *inner;
    struct waiter w;           /* get(shield(inner)) */
};

static void *shield_wait_main(void *arg)
{
    struct shield_wait *s = arg;
    cancel_waiting(&s->w);
    return NULL;
}

START_TEST(shield_coroutine_awaiting_it_cancelled_f_goes_on)
{
    struct shield_wait s;
    s.inner = promise();
    waiter_init(&s.w, GET);
    s.w.fs[0] = future_shield(s.inner);
    ck_assert_ptr_nonnull(s.w.fs[0]);
    s.w.n = 1;
    run_ok(shield_wait_main, &s);
    tu_assert_rc(s.w.rc, ECANCELED);
    tu_assert_state(s.w.fs[0], FUTURE_CANCELLED);
    tu_assert_state(s.inner, FUTURE_PENDING);
    ck_assert_int_eq(future_resolve(s.inner, V(4)), 0);
    future_release(s.w.fs[0]);
    future_release(s.inner);
}
END_TEST

START_TEST(shield_null_einval)
{
    tu_assert_null_errno(future_shield(NULL), EINVAL);
}
END_TEST

/* ---------------------------------------------------------------------
 * shield: fut_cancel_shield
 * ------------------------------------------------------------------- */

struct cleanup {
    future_t *p;               /* resolved by a thread during the cleanup */
    future_t *after;           /* the first wait after the shield goes off */
    future_t *later;           /* one more after that */
    atomic_int sleeping, go;
    bool prev_first, prev_second, prev_third;
    bool child_prev;
    int rc_sleep, rc_get, rc_after, rc_later;
    double sleep_ms;
    void *got;
};

static void *shield_child(void *arg)
{
    struct cleanup *c = arg;
    c->child_prev = fut_cancel_shield(false);
    return NULL;
}

static void *cleanup_body(void *arg)
{
    struct cleanup *c = arg;
    c->prev_first = fut_cancel_shield(true);
    c->prev_second = fut_cancel_shield(true);
    future_t *k = fut_spawn(shield_child, c);     /* not inherited */
    atomic_store(&c->sleeping, 1);
    uint64_t t0 = tu_now_ns();
    c->rc_sleep = fut_sleep(50);                    /* cancelled meanwhile */
    c->sleep_ms = ms_since(t0);
    atomic_store(&c->go, 1);
    c->rc_get = future_get(c->p, &c->got);          /* a thread resolves it */
    if (k) {
        future_wait(k, FUT_FOREVER);
        future_release(k);
    }
    c->prev_third = fut_cancel_shield(false);
    c->rc_after = future_get(c->after, NULL);       /* delivered here: flows */
    c->rc_later = future_get(c->later, NULL);       /* delivered before */
    return V(5);
}

static void *resolve_p_when_go(void *arg)
{
    struct cleanup *c = arg;
    while (!atomic_load(&c->go))
        sched_yield();
    tu_sleep_ms(10);
    future_resolve(c->p, V(8));
    return NULL;
}

static void *cleanup_main(void *arg)
{
    struct cleanup *c = arg;
    future_t *f = fut_spawn(cleanup_body, c);
    CO_CHECK(f != NULL);
    co_until(&c->sleeping);
    CO_CHECK_RC(future_cancel(f), 0);               /* still 0 when shielded */
    CO_CHECK_RC(future_wait(f, FUT_FOREVER), 0);
    CO_CHECK_STATE(f, FUTURE_CANCELLED);            /* whatever it returned */
    future_release(f);
    return NULL;
}

START_TEST(shield_waits_not_interrupted_delivered_after_off)
{
    struct cleanup c;
    memset(&c, 0, sizeof c);
    c.p = promise();
    c.after = promise();
    c.later = promise();
    atomic_init(&c.sleeping, 0);
    atomic_init(&c.go, 0);
    c.child_prev = true;
    pthread_t t = tu_thread(resolve_p_when_go, &c);
    run_ok(cleanup_main, &c);
    tu_join(t);
    ck_assert(!c.prev_first);          /* off when a coroutine starts */
    ck_assert(c.prev_second);          /* returns the previous setting */
    ck_assert(!c.child_prev);          /* not inherited */
    tu_assert_rc(c.rc_sleep, 0);       /* not interrupted: slept it all */
    ck_assert_msg(c.sleep_ms >= 50.0, "slept %.1f ms", c.sleep_ms);
    tu_assert_rc(c.rc_get, 0);
    ck_assert_ptr_eq(c.got, V(8));
    ck_assert(c.prev_third);
    tu_assert_rc(c.rc_after, ECANCELED);
    tu_assert_state(c.after, FUTURE_CANCELLED);   /* it delivered: flows */
    tu_assert_rc(c.rc_later, ECANCELED);
    tu_assert_state(c.later, FUTURE_PENDING);
    future_release(c.p);
    future_release(c.after);
    future_release(c.later);
}
END_TEST

/* A shielded coroutine waiting on a promise, cancelled from another
 * thread (the remote wake-up path): not woken; the promise's completion
 * wakes it. */
struct remote_shield {
    future_t *p;
    _Atomic(future_t *) target;
    atomic_int waiting;
    int rc_cancel, rc_get;
    void *got;
};

static void *remote_shield_body(void *arg)
{
    struct remote_shield *r = arg;
    fut_cancel_shield(true);
    atomic_store(&r->waiting, 1);
    r->rc_get = future_get(r->p, &r->got);
    return NULL;
}

static void *remote_canceller(void *arg)
{
    struct remote_shield *r = arg;
    future_t *f;
    while (!(f = atomic_load(&r->target)) || !atomic_load(&r->waiting))
        sched_yield();
    tu_sleep_ms(5);
    r->rc_cancel = future_cancel(f);
    tu_sleep_ms(30);                   /* a wrong wake-up would come now */
    future_resolve(r->p, V(3));
    return NULL;
}

static void *remote_shield_main(void *arg)
{
    struct remote_shield *r = arg;
    future_t *f = fut_spawn(remote_shield_body, r);
    CO_CHECK(f != NULL);
    atomic_store(&r->target, f);
    CO_CHECK_RC(future_wait(f, FUT_FOREVER), 0);
    CO_CHECK_STATE(f, FUTURE_CANCELLED);
    future_release(f);
    return NULL;
}

START_TEST(shield_remote_cancel_does_not_wake)
{
    struct remote_shield r;
    memset(&r, 0, sizeof r);
    r.p = promise();
    atomic_init(&r.target, NULL);
    atomic_init(&r.waiting, 0);
    r.rc_cancel = r.rc_get = -1;
    pthread_t t = tu_thread(remote_canceller, &r);
    run_ok(remote_shield_main, &r);
    tu_join(t);
    tu_assert_rc(r.rc_cancel, 0);
    tu_assert_rc(r.rc_get, 0);
    ck_assert_ptr_eq(r.got, V(3));
    future_release(r.p);
}
END_TEST

/* The loop's finish (main returned) cancels a leftover in a shielded
 * section: its wait is not cut short. */
struct leftover_shield {
    atomic_int in_shield;
    int rc_sleep, rc_after;
    double ms;
};

static void *leftover_shield_body(void *arg)
{
    struct leftover_shield *s = arg;
    fut_cancel_shield(true);
    atomic_store(&s->in_shield, 1);
    uint64_t t0 = tu_now_ns();
    s->rc_sleep = fut_sleep(40);
    s->ms = ms_since(t0);
    fut_cancel_shield(false);
    s->rc_after = fut_sleep(60000);
    return NULL;
}

static void *leftover_shield_main(void *arg)
{
    struct leftover_shield *s = arg;
    future_t *f = fut_spawn(leftover_shield_body, s);
    CO_CHECK(f != NULL);
    co_until(&s->in_shield);
    future_release(f);
    return V(1);                       /* the loop finishes: cancels it */
}

START_TEST(shield_loop_finish_does_not_cut_shielded_wait)
{
    struct leftover_shield s;
    memset(&s, 0, sizeof s);
    atomic_init(&s.in_shield, 0);
    s.rc_sleep = s.rc_after = -1;
    uint64_t t0 = tu_now_ns();
    run_ok(leftover_shield_main, &s);
    tu_assert_rc(s.rc_sleep, 0);
    ck_assert_msg(s.ms >= 40.0, "slept %.1f ms", s.ms);
    tu_assert_rc(s.rc_after, ECANCELED);
    ck_assert(ms_since(t0) < (double)BOUND_MS);
}
END_TEST

static void *shield_in_job(void *arg)
{
    bool *out = arg;
    out[0] = fut_cancel_shield(true);
    out[1] = fut_cancel_shield(true);
    return NULL;
}

START_TEST(shield_outside_coroutine_does_nothing_returns_false)
{
    ck_assert(!fut_cancel_shield(true));
    ck_assert(!fut_cancel_shield(true));
    ck_assert(!fut_cancel_shield(false));
    bool out[2] = {true, true};
    fut_pool_t *p = pool(1, "sh");
    future_t *j = fut_pool_submit(p, shield_in_job, out);
    ck_assert_ptr_nonnull(j);
    tu_assert_rc(future_get(j, NULL), 0);
    ck_assert(!out[0] && !out[1]);
    future_release(j);
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * wait_for
 * ------------------------------------------------------------------- */

START_TEST(wait_for_like_get_when_in_time)
{
    future_t *f = promise();
    ck_assert_int_eq(future_resolve(f, V(6)), 0);
    void *v = SENTINEL;
    tu_assert_rc(future_wait_for(f, 0, &v), 0);
    ck_assert_ptr_eq(v, V(6));
    tu_assert_rc(future_wait_for(f, FUT_FOREVER, NULL), 0);
    future_release(f);
    f = promise();
    ck_assert_int_eq(future_fail(f, EIO), 0);
    v = SENTINEL;
    tu_assert_rc(future_wait_for(f, 100, &v), EIO);
    ck_assert_ptr_null(v);
    future_release(f);
    f = promise();
    ck_assert_int_eq(future_cancel(f), 0);
    tu_assert_rc(future_wait_for(f, 100, NULL), ECANCELED);
    future_release(f);
    /* completed by a pool job while waiting */
    fut_pool_t *p = pool(1, "wf");
    future_t *j = fut_pool_submit(p, tu_identity_job, V(12));
    v = NULL;
    tu_assert_rc(future_wait_for(j, BOUND_MS, &v), 0);
    ck_assert_ptr_eq(v, V(12));
    future_release(j);
    fut_pool_free(p);
}
END_TEST

START_TEST(wait_for_timeout_cancels_promise)
{
    future_t *f = promise();
    void *v = SENTINEL;
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(future_wait_for(f, 20, &v), ETIMEDOUT);
    ck_assert(ms_since(t0) >= 20.0);
    ck_assert_ptr_null(v);
    tu_assert_state(f, FUTURE_CANCELLED);
    future_release(f);
    /* a timeout of 0 only checks, and cancels what is not complete */
    f = promise();
    tu_assert_rc(future_wait_for(f, 0, NULL), ETIMEDOUT);
    tu_assert_state(f, FUTURE_CANCELLED);
    future_release(f);
}
END_TEST

/* A running job is waited for to its end, and ETIMEDOUT is returned with
 * *value = NULL even though it succeeded (test_tasks.py:
 * test_wait_for_... "waits for the inner to be cancelled"). */
static void *release_after(void *arg)
{
    tu_blocker *b = arg;
    tu_sleep_ms(60);
    tu_gate_open(&b->release);
    return NULL;
}

START_TEST(wait_for_timeout_waits_for_running_job_etimedout)
{
    fut_pool_t *p = pool(1, "wfj");
    tu_blocker b;
    tu_blocker_init(&b, V(44));
    future_t *j = fut_pool_submit(p, tu_blocker_job, &b);
    ck_assert_ptr_nonnull(j);
    tu_gate_wait(&b.started);
    pthread_t t = tu_thread(release_after, &b);
    void *v = SENTINEL;
    tu_assert_rc(future_wait_for(j, 10, &v), ETIMEDOUT);
    ck_assert_ptr_null(v);
    ck_assert_msg(future_done(j), "wait_for returned before the job ended");
    ck_assert(atomic_load(&b.finished));
    tu_assert_state(j, FUTURE_DONE);   /* could not be stopped */
    tu_join(t);
    future_release(j);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* In a coroutine: a child coroutine is cancelled at the timeout, runs to
 * its end, and only then does wait_for return. */
struct wf_child {
    struct child c;
    future_t *cf;
    int rc;
    bool child_ended_at_return;
    void *v;
};

static void *wf_child_main(void *arg)
{
    struct wf_child *w = arg;
    w->cf = fut_spawn(child_body, &w->c);
    CO_CHECK(w->cf != NULL);
    w->v = SENTINEL;
    w->rc = future_wait_for(w->cf, 10, &w->v);
    w->child_ended_at_return = atomic_load(&w->c.ended) && future_done(w->cf);
    return NULL;
}

START_TEST(wait_for_timeout_cancels_child_coroutine_and_waits)
{
    struct wf_child w;
    memset(&w, 0, sizeof w);
    child_init(&w.c, NULL);
    run_ok(wf_child_main, &w);
    tu_assert_rc(w.rc, ETIMEDOUT);
    ck_assert_ptr_null(w.v);
    ck_assert(w.child_ended_at_return);
    tu_assert_rc(w.c.rc, ECANCELED);
    tu_assert_state(w.cf, FUTURE_CANCELLED);
    future_release(w.cf);
}
END_TEST

/* The timeout cancels a queued job, which never runs. */
START_TEST(wait_for_timeout_cancels_queued_job)
{
    fut_pool_t *p = pool(1, "wfq");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    future_t *blk = fut_pool_submit(p, tu_blocker_job, &b);
    tu_gate_wait(&b.started);
    atomic_int runs;
    atomic_init(&runs, 0);
    future_t *q = fut_pool_submit(p, tu_count_job, &runs);
    ck_assert_ptr_nonnull(q);
    tu_assert_rc(future_wait_for(q, 10, NULL), ETIMEDOUT);
    tu_assert_state(q, FUTURE_CANCELLED);
    tu_gate_open(&b.release);
    fut_pool_free(p);
    ck_assert_int_eq(atomic_load(&runs), 0);
    future_release(q);
    future_release(blk);
    tu_blocker_destroy(&b);
}
END_TEST

/* A coroutine cancelled in wait_for: as future_get, cancels f, returns
 * ECANCELED at once. */
START_TEST(wait_for_cancelled_coroutine_cancels_f)
{
    struct waiter w;
    waiter_init(&w, WAIT_FOR);
    w.fs[0] = promise();
    w.n = 1;
    w.timeout_ms = 60000;
    run_ok(get_promise_main, &w);
    tu_assert_rc(w.rc, ECANCELED);
    ck_assert_ptr_null(w.value);
    tu_assert_state(w.fs[0], FUTURE_CANCELLED);
    future_release(w.fs[0]);
}
END_TEST

static void *wait_for_self(void *arg)
{
    int *rc = arg;
    *rc = future_wait_for(fut_current(), 10, NULL);
    return NULL;
}

START_TEST(wait_for_bad_input)
{
    void *v = SENTINEL;
    tu_assert_rc(future_wait_for(NULL, 10, &v), EINVAL);
    ck_assert_ptr_null(v);
    future_t *f = promise();
    tu_assert_rc(future_wait_for(f, -2, NULL), EINVAL);
    tu_assert_state(f, FUTURE_PENDING);    /* nothing done */
    future_release(f);
    int rc = -1;
    ck_assert_int_eq(fut_run(wait_for_self, &rc, NULL), 0);
    tu_assert_rc(rc, EDEADLK);
}
END_TEST

/* ---------------------------------------------------------------------
 * wait_next
 * ------------------------------------------------------------------- */

/* Completed before the first call, in the order 3, 0, 2, 1: taken in that
 * order, not by index. */
START_TEST(wait_next_completion_order_not_index_order)
{
    enum { N = 4 };
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = promise();
    int order[N] = {3, 0, 2, 1};
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(future_resolve(fs[order[i]], V(order[i])), 0);
    bool done[N] = {false};
    for (int i = 0; i < N; i++) {
        size_t idx = 99;
        tu_assert_rc(future_wait_next(fs, N, done, 0, &idx), 0);
        ck_assert_int_eq((int)idx, order[i]);
        ck_assert(done[idx]);
    }
    size_t idx = 77;
    tu_assert_rc(future_wait_next(fs, N, done, 0, &idx), EINVAL);   /* all marked */
    ck_assert_int_eq((int)idx, 77);
    for (int i = 0; i < N; i++)
        future_release(fs[i]);
}
END_TEST

/* Waits until one not marked completes; ETIMEDOUT marks nothing; a marked
 * one still pending is not waited on. */
struct resolver {
    future_t **fs;
    int *order;
    int n;
    long gap_ms;
};

static void *resolve_in_order(void *arg)
{
    struct resolver *r = arg;
    for (int i = 0; i < r->n; i++) {
        tu_sleep_ms(r->gap_ms);
        future_resolve(r->fs[r->order[i]], V(r->order[i] + 1));
    }
    return NULL;
}

START_TEST(wait_next_waits_timeout_and_marks)
{
    enum { N = 3 };
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = promise();
    bool done[N] = {false};
    size_t idx = 55;
    tu_assert_rc(future_wait_next(fs, N, done, 0, &idx), ETIMEDOUT);
    tu_assert_rc(future_wait_next(fs, N, done, 10, &idx), ETIMEDOUT);
    ck_assert_int_eq((int)idx, 55);
    for (int i = 0; i < N; i++)
        ck_assert(!done[i]);
    /* fs[0] marked (pending, never completed here): ignored */
    done[0] = true;
    int order[2] = {2, 1};
    struct resolver r = {fs, order, 2, 10};
    pthread_t t = tu_thread(resolve_in_order, &r);
    tu_assert_rc(future_wait_next(fs, N, done, BOUND_MS, &idx), 0);
    ck_assert_int_eq((int)idx, 2);
    tu_assert_rc(future_wait_next(fs, N, done, BOUND_MS, &idx), 0);
    ck_assert_int_eq((int)idx, 1);
    tu_join(t);
    tu_assert_rc(future_wait_next(fs, N, done, 0, &idx), EINVAL);
    tu_assert_state(fs[0], FUTURE_PENDING);
    for (int i = 0; i < N; i++)
        future_release(fs[i]);
}
END_TEST

/* as_completed over coroutines: children waiting on promises the main
 * coroutine resolves in a chosen order; several complete between two
 * calls, taken still in their order. */
struct as_completed {
    future_t *p[5];
    int got[5];
};

static void *as_completed_main(void *arg)
{
    struct as_completed *a = arg;
    struct child c[5];
    future_t *fs[5];
    for (int i = 0; i < 5; i++) {
        child_init(&c[i], a->p[i]);
        fs[i] = fut_spawn(child_body, &c[i]);
        CO_CHECK(fs[i] != NULL);
    }
    CO_CHECK_RC(fut_yield(), 0);       /* all wait on their promise now */
    int order[5] = {4, 1, 3, 0, 2};
    bool done[5] = {false};
    future_resolve(a->p[order[0]], NULL);
    size_t idx;
    CO_CHECK_RC(future_wait_next(fs, 5, done, FUT_FOREVER, &idx), 0);
    a->got[0] = (int)idx;
    for (int i = 1; i < 5; i++)
        future_resolve(a->p[order[i]], NULL);
    /* let each child finish in turn: resumed in the order resolved */
    for (int i = 1; i < 5; i++) {
        CO_CHECK_RC(future_wait_next(fs, 5, done, FUT_FOREVER, &idx), 0);
        a->got[i] = (int)idx;
    }
    for (int i = 0; i < 5; i++)
        future_release(fs[i]);
    return NULL;
}

START_TEST(wait_next_as_completed_coroutines)
{
    struct as_completed a;
    for (int i = 0; i < 5; i++)
        a.p[i] = promise();
    run_ok(as_completed_main, &a);
    int order[5] = {4, 1, 3, 0, 2};
    for (int i = 0; i < 5; i++) {
        ck_assert_msg(a.got[i] == order[i], "call %d gave %d, expected %d", i, a.got[i],
                      order[i]);
        future_release(a.p[i]);
    }
}
END_TEST

/* Happens-before is respected across threads: each of T threads resolves
 * its own promises in sequence, all at once; wait_next must give each
 * thread's promises in that thread's order. */
struct hb_thread {
    future_t **fs;
    int from, to;
};

static void *hb_resolve(void *arg)
{
    struct hb_thread *h = arg;
    for (int i = h->from; i < h->to; i++)
        future_resolve(h->fs[i], V(i));
    return NULL;
}

START_TEST(wait_next_respects_each_threads_order)
{
    enum { T = 4 };
    int per = (int)TU_ROUNDS(2000);
    int n = T * per;
    future_t **fs = malloc(sizeof *fs * (size_t)n);
    bool *done = calloc((size_t)n, sizeof *done);
    ck_assert(fs && done);
    for (int i = 0; i < n; i++)
        fs[i] = promise();
    struct hb_thread h[T];
    pthread_t t[T];
    for (int k = 0; k < T; k++) {
        h[k] = (struct hb_thread){fs, k * per, (k + 1) * per};
        t[k] = tu_thread(hb_resolve, &h[k]);
    }
    int last[T];
    for (int k = 0; k < T; k++)
        last[k] = -1;
    for (int i = 0; i < n; i++) {
        size_t idx;
        tu_assert_rc(future_wait_next(fs, (size_t)n, done, BOUND_MS, &idx), 0);
        int k = (int)idx / per;
        ck_assert_msg((int)idx > last[k], "thread %d: %zu after %d", k, idx, last[k]);
        last[k] = (int)idx;
    }
    for (int k = 0; k < T; k++)
        tu_join(t[k]);
    for (int i = 0; i < n; i++)
        future_release(fs[i]);
    free(fs);
    free(done);
}
END_TEST

static void *wait_next_self(void *arg)
{
    int *rc = arg;
    future_t *fs[2] = {fut_current(), fut_current()};
    bool done[2] = {false, false};
    size_t idx;
    rc[0] = future_wait_next(fs, 2, done, 10, &idx);
    done[0] = done[1] = false;
    done[0] = true;
    rc[1] = future_wait_next(fs, 2, done, 10, &idx);
    return NULL;
}

START_TEST(wait_next_bad_input)
{
    future_t *fs[2] = {promise(), promise()};
    bool done[2] = {false, false};
    size_t idx;
    tu_assert_rc(future_wait_next(NULL, 2, done, 0, &idx), EINVAL);
    tu_assert_rc(future_wait_next(fs, 0, done, 0, &idx), EINVAL);
    tu_assert_rc(future_wait_next(fs, 2, NULL, 0, &idx), EINVAL);
    tu_assert_rc(future_wait_next(fs, 2, done, 0, NULL), EINVAL);
    tu_assert_rc(future_wait_next(fs, 2, done, -5, &idx), EINVAL);
    future_t *withnull[2] = {fs[0], NULL};
    tu_assert_rc(future_wait_next(withnull, 2, done, 0, &idx), EINVAL);
    done[0] = done[1] = true;
    tu_assert_rc(future_wait_next(fs, 2, done, 0, &idx), EINVAL);
    future_release(fs[0]);
    future_release(fs[1]);
    int rc[2] = {-1, -1};
    ck_assert_int_eq(fut_run(wait_next_self, rc, NULL), 0);
    tu_assert_rc(rc[0], EDEADLK);
    tu_assert_rc(rc[1], EDEADLK);
}
END_TEST

/* ---------------------------------------------------------------------
 * stress: the flow racing completions and cancels from threads
 * ------------------------------------------------------------------- */

enum { SK = 6 };

struct race {
    future_t *p[SK];
    _Atomic(future_t *) target;
    atomic_int phase;          /* 1: waiter running; 2: round over */
    int rc;
    bool all_done_at_return;
    void *values[SK];
    uint32_t seed;
};

static void *race_waiter(void *arg)
{
    struct race *r = arg;
    atomic_store(&r->phase, 1);
    for (int i = 0; i < SK; i++)
        r->values[i] = SENTINEL;
    r->rc = future_gather(r->p, SK, r->values, FUT_FOREVER);
    r->all_done_at_return = true;
    for (int i = 0; i < SK; i++)
        r->all_done_at_return &= future_done(r->p[i]);
    return NULL;
}

static void *race_thread(void *arg)
{
    struct race *r = arg;
    future_t *f;
    while (!(f = atomic_load(&r->target)) || !atomic_load(&r->phase))
        sched_yield();
    uint32_t s = r->seed;
    int cancel_at = (int)(xorshift(&s) % (SK + 1));
    for (int i = 0; i < SK; i++) {
        if (i == cancel_at)
            future_cancel(f);
        future_resolve(r->p[i], V(i + 1));     /* EINVAL if cancelled */
        if (xorshift(&s) & 1)
            sched_yield();
    }
    if (cancel_at == SK)
        future_cancel(f);              /* EINVAL once it ended */
    future_release(f);                 /* the reference race_main gave us */
    return NULL;
}

static void *race_main(void *arg)
{
    struct race *r = arg;
    future_t *f = fut_spawn(race_waiter, r);
    CO_CHECK(f != NULL);
    atomic_store(&r->target, future_retain(f));
    CO_CHECK_RC(future_wait(f, FUT_FOREVER), 0);
    future_release(f);
    return NULL;
}

START_TEST(stress_gather_cancel_races_completions)
{
    long rounds = coro_rounds(2000);
    int cancelled = 0, ok = 0;
    for (long k = 0; k < rounds; k++) {
        struct race r;
        memset(&r, 0, sizeof r);
        for (int i = 0; i < SK; i++)
            r.p[i] = promise();
        atomic_init(&r.target, NULL);
        atomic_init(&r.phase, 0);
        r.rc = -1;
        r.seed = (uint32_t)(k * 2654435761u + 1);
        pthread_t t = tu_thread(race_thread, &r);
        run_ok(race_main, &r);
        tu_join(t);
        ck_assert_msg(r.rc == 0 || r.rc == ECANCELED, "gather: %d", r.rc);
        ck_assert(r.all_done_at_return);
        if (r.rc == 0) {
            ok++;
            for (int i = 0; i < SK; i++)
                ck_assert_ptr_eq(r.values[i], V(i + 1));
        } else {
            cancelled++;
            for (int i = 0; i < SK; i++)
                ck_assert_ptr_eq(r.values[i], SENTINEL);
        }
        for (int i = 0; i < SK; i++) {
            ck_assert(future_done(r.p[i]));
            future_release(r.p[i]);
        }
    }
    ck_assert_int_eq(ok + cancelled, (int)rounds);
}
END_TEST

static Suite *cancel_suite(void)
{
    Suite *s = suite_create("cancel");
    TCase *tc = tu_tcase(s, "flow", 30);
    tcase_add_test(tc, flow_get_cancels_awaited_promise);
    tcase_add_test(tc, flow_delivered_at_next_wait_when_not_waiting);
    tcase_add_test(tc, flow_cancel_from_thread_delivered_at_next_gather);
    tcase_add_test(tc, flow_get_cancels_queued_job_never_runs);
    tcase_add_test(tc, flow_get_cancels_child_coroutine);
    tcase_add_test(tc, flow_through_a_chain_of_gets);
    tcase_add_test(tc, flow_get_running_job_not_stopped_returns_at_once);
    tcase_add_test(tc, flow_gather_cancels_children_waits_for_running_job);
    tcase_add_test(tc, flow_gather_with_timeout_still_waits_for_all);
    tcase_add_test(tc, flow_wait_wait_any_wait_next_sleep_cancel_nothing);
    tc = tu_tcase(s, "delivered", 30);
    tcase_add_test(tc, delivered_stays_at_every_later_wait_except_shielded);
    tcase_add_test(tc, delivered_raise_ecanceled_ends_failed);
    tc = tu_tcase(s, "shield", 30);
    tcase_add_test(tc, shield_completes_as_f_does);
    tcase_add_test(tc, shield_cancelling_it_does_not_cancel_f);
    tcase_add_test(tc, shield_coroutine_awaiting_it_cancelled_f_goes_on);
    tcase_add_test(tc, shield_null_einval);
    tcase_add_test(tc, shield_waits_not_interrupted_delivered_after_off);
    tcase_add_test(tc, shield_remote_cancel_does_not_wake);
    tcase_add_test(tc, shield_loop_finish_does_not_cut_shielded_wait);
    tcase_add_test(tc, shield_outside_coroutine_does_nothing_returns_false);
    tc = tu_tcase(s, "wait_for", 30);
    tcase_add_test(tc, wait_for_like_get_when_in_time);
    tcase_add_test(tc, wait_for_timeout_cancels_promise);
    tcase_add_test(tc, wait_for_timeout_waits_for_running_job_etimedout);
    tcase_add_test(tc, wait_for_timeout_cancels_child_coroutine_and_waits);
    tcase_add_test(tc, wait_for_timeout_cancels_queued_job);
    tcase_add_test(tc, wait_for_cancelled_coroutine_cancels_f);
    tcase_add_test(tc, wait_for_bad_input);
    tc = tu_tcase(s, "wait_next", 30);
    tcase_add_test(tc, wait_next_completion_order_not_index_order);
    tcase_add_test(tc, wait_next_waits_timeout_and_marks);
    tcase_add_test(tc, wait_next_as_completed_coroutines);
    tcase_add_test(tc, wait_next_respects_each_threads_order);
    tcase_add_test(tc, wait_next_bad_input);
    tc = tu_tcase(s, "stress", 60);
    tcase_add_test(tc, stress_gather_cancel_races_completions);
    return s;
}

TU_MAIN(cancel_suite)
