/* SPDX-License-Identifier: MIT */
/*
 * ops_core.c - the soak's operations on futures, the pool and the loop
 *
 * Each op_* draws its choices from w->rng, builds its own futures, races
 * them against the shared world and helper threads, checks what came out
 * and gives everything back (see soak.h).  The table at the end lists
 * them; `soak --list` prints it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "soak.h"

#include <sched.h>

/* ---------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------- */

static fut_pool_t *any_pool(soak_rng *g)
{
    return soak_world.pools[soak_below(g, SOAK_POOLS)];
}

static fut_loop_t *any_loop(soak_rng *g)
{
    return soak_world.loops[soak_below(g, SOAK_LOOPS)];
}

/* A helper thread acting for worker w with a PRNG forked from w's. */
struct helper {
    pthread_t t;
    struct soak_worker *w;
    soak_rng rng;
    void (*fn)(struct helper *h);
    void *ctx;
};

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    soak_set_self(h->w);
    h->fn(h);
    return NULL;
}

static void helper_start(struct helper *h, struct soak_worker *w, void (*fn)(struct helper *),
                         void *ctx)
{
    h->w = w;
    h->rng = soak_fork_rng(&w->rng);
    h->fn = fn;
    h->ctx = ctx;
    int rc;
    while ((rc = pthread_create(&h->t, NULL, helper_main, h)) == EAGAIN)
        soak_nap_us(1000);
    if (rc != 0)
        soak_fail("pthread_create: %d", rc);
}

static void helper_join(struct soak_worker *w, struct helper *h, const char *step)
{
    SOAK_STEP(w, step);
    pthread_join(h->t, NULL);
}

/* The outcome of a complete future, read on a plain thread. */
static int outcome(future_t *f, void **v)
{
    SOAK_CHECK(future_done(f), "outcome of an incomplete future");
    void *x = NULL;
    int rc = future_get(f, &x);
    if (v)
        *v = x;
    return rc;
}

/* gather's result against the futures' own outcomes: rc is the code of
 * the lowest-index one that did not succeed; values[i] its value or NULL. */
static void check_gather(future_t *const fs[], size_t n, int rc, void *const vals[],
                         const char *what)
{
    int want = 0;
    for (size_t i = 0; i < n; i++) {
        void *v;
        int r = outcome(fs[i], &v);
        if (r && !want)
            want = r;
        if (vals && vals[i] != v)
            soak_fail("%s: values[%zu] is %p, its future's value %p (rc %d)", what, i, vals[i],
                      v, r);
    }
    if (rc != want)
        soak_fail("%s returned %d, want %d (the lowest-index failure of %zu)", what, rc, want, n);
}

#define SENTINEL ((void *)(uintptr_t)0x5e17e1u)

/* Waits for all of fs[0..n) in a way drawn from g, checking each call's
 * result.  Every future is complete when it returns. */
static void wait_all(struct soak_worker *w, soak_rng *g, future_t *const fs[], size_t n)
{
    if (n == 0)
        return;
    /* Retries after a timeout draw from here, not from g. */
    soak_rng retry = soak_fork_rng(g);
    unsigned how = (unsigned)soak_below(g, 5);
    g = &retry;
    switch (how) {
    case 0:   /* get each */
        SOAK_STEP(w, "future_get on each");
        for (size_t i = 0; i < n; i++) {
            void *v = SENTINEL;
            int rc = future_get(fs[i], &v);
            SOAK_CHECK(future_done(fs[i]), "future_get returned on an incomplete future");
            void *v2;
            SOAK_CHECK(outcome(fs[i], &v2) == rc && v2 == v, "two gets disagree");
        }
        break;
    case 1: { /* one gather, no limit */
        SOAK_STEP(w, "future_gather(FUT_FOREVER)");
        void **vals = soak_alloc(n * sizeof *vals);
        int rc = future_gather(fs, n, vals, FUT_FOREVER);
        check_gather(fs, n, rc, vals, "future_gather");
        soak_free(vals);
        break;
    }
    case 2: { /* gathers with small timeouts until one ends */
        SOAK_STEP(w, "future_gather with timeouts of 0..2 ms");
        void **vals = soak_alloc(n * sizeof *vals);
        int rc;
        for (;;) {
            for (size_t i = 0; i < n; i++)
                vals[i] = SENTINEL;
            rc = future_gather(fs, n, vals, soak_range(g, 0, 2));
            if (rc != ETIMEDOUT)
                break;
            for (size_t i = 0; i < n; i++)
                SOAK_CHECK(vals[i] == SENTINEL, "gather wrote values[%zu] and timed out", i);
        }
        check_gather(fs, n, rc, vals, "future_gather (timed)");
        soak_free(vals);
        break;
    }
    case 3: { /* wait_any until every one is complete */
        SOAK_STEP(w, "future_wait_any until all are complete");
        future_t **left = soak_alloc(n * sizeof *left);
        memcpy(left, fs, n * sizeof *left);
        size_t m = n;
        while (m) {
            size_t idx = SIZE_MAX;
            long t = soak_chance(g, 50) ? FUT_FOREVER : soak_range(g, 0, 2);
            int rc = future_wait_any(left, m, t, &idx);
            if (rc == ETIMEDOUT) {
                SOAK_CHECK(t != FUT_FOREVER, "wait_any FOREVER timed out");
                continue;
            }
            SOAK_RC_IN(rc, "future_wait_any", 0);
            SOAK_CHECK(idx < m && future_done(left[idx]),
                       "wait_any gave index %zu of %zu, not complete", idx, m);
            left[idx] = left[--m];
        }
        soak_free(left);
        break;
    }
    default: /* timed waits on each */
        SOAK_STEP(w, "future_wait with timeouts of 0..2 ms on each");
        for (size_t i = 0; i < n; i++) {
            int rc;
            while ((rc = future_wait(fs[i], soak_range(g, 0, 2))) == ETIMEDOUT) {
            }
            SOAK_RC_IN(rc, "future_wait", 0);
            SOAK_CHECK(future_done(fs[i]), "future_wait returned 0 on an incomplete future");
        }
        break;
    }
}

/* A promise with a planned completion: resolve, fail or cancel. */
struct plan {
    future_t *f;                /* owned by the op */
    int action;                 /* 0 resolve, 1 fail, 2 cancel */
    uintptr_t value;
    int err;
    int rc;                     /* what the completing call returned */
};

static void plan_draw(struct plan *p, soak_rng *g)
{
    p->f = soak_own(future_new());
    SOAK_CHECK(p->f != NULL, "future_new");
    unsigned d = (unsigned)soak_below(g, 10);
    p->action = d < 6 ? 0 : d < 8 ? 1 : 2;
    p->value = soak_value(g);
    p->err = soak_err(g);
    p->rc = -1;
}

static int plan_complete(struct plan *p)
{
    switch (p->action) {
    case 0: return p->rc = future_resolve(p->f, (void *)p->value);
    case 1: return p->rc = future_fail(p->f, p->err);
    default: return p->rc = future_cancel(p->f);
    }
}

/* The promise ended as planned (when its planned completion won). */
static void plan_check(struct plan *p)
{
    SOAK_RC_IN(p->rc, "completing a promise", 0);
    void *v;
    int rc = outcome(p->f, &v);
    int want = p->action == 0 ? 0 : p->action == 1 ? p->err : ECANCELED;
    if (rc != want || (rc == 0 && v != (void *)p->value))
        soak_fail("a promise completed with action %d gives rc %d value %p, want %d", p->action,
                  rc, v, want);
    /* Exactly once: a second completion changes nothing. */
    SOAK_RC_IN(future_resolve(p->f, NULL), "a second future_resolve", EINVAL);
    SOAK_RC_IN(future_fail(p->f, EIO), "future_fail after completion", EINVAL);
    SOAK_RC_IN(future_cancel(p->f), "future_cancel after completion", EINVAL);
    void *v2;
    SOAK_CHECK(outcome(p->f, &v2) == rc && v2 == v, "a second completion changed the outcome");
}

/* Completes plans in a drawn order, napping now and then. */
struct plan_set {
    struct plan *p;
    size_t n;
};

static void complete_plans(struct helper *h)
{
    struct plan_set *s = h->ctx;
    size_t *order = malloc(s->n * sizeof *order);
    if (!order)
        soak_fail("out of memory");
    for (size_t i = 0; i < s->n; i++)
        order[i] = i;
    for (size_t i = s->n; i > 1; i--) {
        size_t j = (size_t)soak_below(&h->rng, i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (soak_chance(&h->rng, 30))
            soak_nap_us((unsigned)soak_range(&h->rng, 0, 200));
        plan_complete(&s->p[order[i]]);
    }
    free(order);
}

/* ---------------------------------------------------------------------
 * jobs: submit (or try-submit) to a shared pool, with callbacks and short
 * then-chains on some, and wait in one of five ways
 * ------------------------------------------------------------------- */

static void op_jobs(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    fut_pool_t *p = any_pool(g);
    enum { N = 12 };
    future_t *fs[N];
    struct soak_rec *rs[N], *cbs[N];
    struct soak_chain *ch[N];
    size_t k = 0, ncb = 0;
    int n = (int)soak_range(g, 1, N);
    bool try_ = soak_chance(g, 20);
    SOAK_STEP(w, try_ ? "fut_pool_try_submit" : "fut_pool_submit (may wait for room)");
    for (int i = 0; i < n; i++) {
        struct soak_rec *r = soak_job_rec(w, g, p, false);
        if (!r)
            break;
        /* Drawn before the submit, whose refusal (a full queue) depends
         * on timing. */
        bool with_cb = soak_chance(g, 25), cb_submit = soak_chance(g, 30);
        uintptr_t cb_value = soak_value(g);
        bool with_chain = soak_chance(g, 15);
        long chain_len = soak_range(g, 1, 8);
        soak_rng chain_rng = soak_fork_rng(g);
        future_t *f = soak_submit(p, r, try_);
        if (!f) {
            if (!try_ || errno != EAGAIN)
                soak_fail("%s: errno %d", try_ ? "fut_pool_try_submit" : "fut_pool_submit",
                          errno);
            continue;
        }
        fs[k] = f;
        rs[k] = r;
        ch[k] = NULL;
        if (with_cb) {
            struct soak_rec *cb = soak_rec_new(w, K_CB, cb_submit ? CB_SUBMIT : CB_COUNT);
            if (cb) {
                cb->pool = soak_world.pools[0];
                cb->value = cb_value;
                SOAK_RC_IN(future_on_done(f, soak_cb, soak_rec_arg(cb)), "future_on_done", 0);
                cbs[ncb++] = cb;
            }
        }
        if (with_chain)
            ch[k] = soak_chain_new(w, &chain_rng, f, r->value, chain_len);
        k++;
    }
    wait_all(w, g, fs, k);
    SOAK_STEP(w, "settling");
    for (size_t i = 0; i < k; i++) {
        if (ch[i])
            soak_chain_check(ch[i], rs[i]->err);
        soak_settle(rs[i], fs[i]);
    }
    for (size_t i = 0; i < ncb; i++)
        soak_settle_cb(w, cbs[i]);
}

/* ---------------------------------------------------------------------
 * try_submit: bursts on the bounded pools; a refusal is EAGAIN
 * ------------------------------------------------------------------- */

static void op_try_submit(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    fut_pool_t *p = soak_world.pools[1 + soak_below(g, 2)];
    enum { N = 16 };
    future_t *fs[N];
    struct soak_rec *rs[N];
    size_t k = 0;
    int n = (int)soak_range(g, 1, N), refused = 0;
    SOAK_STEP(w, "fut_pool_try_submit burst");
    for (int i = 0; i < n; i++) {
        struct soak_rec *r = soak_job_rec(w, g, p, false);
        if (!r)
            break;
        future_t *f = soak_submit(p, r, true);
        if (!f) {
            SOAK_RC_IN(errno, "fut_pool_try_submit", EAGAIN);
            refused++;
            continue;
        }
        fs[k] = f;
        rs[k++] = r;
    }
    wait_all(w, g, fs, k);
    SOAK_STEP(w, "settling");
    for (size_t i = 0; i < k; i++)
        soak_settle(rs[i], fs[i]);
}

/* ---------------------------------------------------------------------
 * cancel: cancel queued and running jobs at drawn moments; a held job is
 * cancelled while it runs (EBUSY)
 * ------------------------------------------------------------------- */

static uint64_t rec_state(const struct soak_rec *r)
{
    return atomic_load(&((struct soak_rec *)r)->word) & 0xff;
}

/* EINVAL from a completing call says "already complete": future_done()
 * must agree at once (feature einval_done), or at least soon. */
static void einval_means_done(future_t *f, const char *what)
{
    if (future_done(f))
        return;
    if (soak_feature_on(SF_EINVAL_DONE))
        soak_fail("%s returned EINVAL (already complete) but future_done() is false "
                  "(state %d)", what, (int)future_state(f));
    soak_wait_done(soak_self(), f, "waiting for a future whose cancel said EINVAL");
}

static void cancel_one(struct soak_rec *r, future_t *f)
{
    int rc = future_cancel(f);
    SOAK_RC_IN(rc, "future_cancel on a job", 0, EBUSY, EINVAL);
    if (rc == 0) {
        soak_rec_cancelled(r);
        SOAK_CHECK(future_state(f) == FUTURE_CANCELLED, "cancel returned 0, state %d",
                   (int)future_state(f));
        SOAK_RC_IN(future_cancel(f), "a second future_cancel", EINVAL);
    } else if (rc == EINVAL) {
        einval_means_done(f, "future_cancel on a job");
    }
}

static void op_cancel(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    fut_pool_t *p = any_pool(g);
    enum { N = 8 };
    future_t *fs[N];
    struct soak_rec *rs[N];
    int when[N] = { 0 };        /* 0 never, 1 at once, 2 after the burst */
    size_t k = 0;
    int n = (int)soak_range(g, 1, N);
    SOAK_STEP(w, "fut_pool_submit (may wait for room)");
    for (int i = 0; i < n; i++) {
        struct soak_rec *r = soak_job_rec(w, g, p, false);
        if (!r)
            break;
        future_t *f = soak_submit(p, r, false);
        if (!f)
            soak_fail("fut_pool_submit: errno %d", errno);
        fs[k] = f;
        rs[k] = r;
        when[k] = (int)soak_below(g, 3);
        if (when[k] == 1)
            cancel_one(r, f);
        k++;
    }
    if (soak_chance(g, 30))
        soak_nap_us((unsigned)soak_range(g, 0, 300));
    for (size_t i = 0; i < k; i++)
        if (when[i] == 2)
            cancel_one(rs[i], fs[i]);
    /* A held job, submitted last (so no submit of ours waits behind it),
     * cancelled once it runs: EBUSY, and it completes as it chose. */
    if (k < N && soak_chance(g, 30)) {
        struct soak_rec *r = soak_rec_new(w, K_JOB, H_HOLD);
        if (r) {
            r->value = soak_value(g);
            r->err = soak_chance(g, 30) ? soak_err(g) : 0;
            atomic_store(&r->hold, 1);
            future_t *f = soak_submit(p, r, false);
            if (!f)
                soak_fail("fut_pool_submit: errno %d", errno);
            SOAK_STEP(w, "waiting for a held job to start");
            uint64_t end = soak_now_ns() + (uint64_t)soak_patience_ms() * 1000000u;
            while (rec_state(r) == R_ARMED) {
                if (soak_now_ns() > end)
                    soak_fail("a job queued to a shared pool did not start in %ld ms",
                              soak_patience_ms());
                soak_nap_us(20);
            }
            SOAK_RC_IN(future_cancel(f), "future_cancel on a running job", EBUSY);
            atomic_store(&r->hold, 0);
            fs[k] = f;
            rs[k++] = r;
        }
    }
    wait_all(w, g, fs, k);
    SOAK_STEP(w, "settling");
    for (size_t i = 0; i < k; i++)
        soak_settle(rs[i], fs[i]);
}

/* ---------------------------------------------------------------------
 * gather / wait_any: promises completed by a helper thread in a drawn
 * order, mixed with jobs; arrays above the 8 a wait keeps on its stack
 * ------------------------------------------------------------------- */

static void gather_like(struct soak_worker *w, bool any)
{
    soak_rng *g = &w->rng;
    size_t n = soak_chance(g, 20) ? (size_t)soak_range(g, 9, 40) : (size_t)soak_range(g, 1, 8);
    future_t **fs = soak_alloc(n * sizeof *fs);
    struct soak_rec **rs = soak_alloc(n * sizeof *rs);
    struct plan *plans = soak_alloc(n * sizeof *plans);
    size_t *pi = soak_alloc(n * sizeof *pi);
    size_t np = 0;
    fut_pool_t *p = soak_world.pools[soak_chance(g, 50) ? 0 : 2];
    SOAK_STEP(w, "making promises and submitting jobs");
    for (size_t i = 0; i < n; i++) {
        struct soak_rec *r = NULL;
        future_t *f = NULL;
        if (soak_chance(g, 35) && (r = soak_job_rec(w, g, p, false))) {
            f = soak_submit(p, r, false);
            if (!f)
                soak_fail("fut_pool_submit: errno %d", errno);
        } else {
            r = NULL;
            plan_draw(&plans[np], g);
            f = plans[np].f;
            pi[np++] = i;
        }
        fs[i] = f;
        rs[i] = r;
    }
    /* Some promises complete before the wait, the others meanwhile. */
    size_t before = np ? (size_t)soak_below(g, np + 1) : 0;
    for (size_t i = 0; i < before; i++)
        plan_complete(&plans[i]);
    struct plan_set rest = { plans + before, np - before };
    struct helper h;
    helper_start(&h, w, complete_plans, &rest);
    if (!any) {
        wait_all(w, g, fs, n);
    } else {
        SOAK_STEP(w, "future_wait_any while a helper completes promises");
        size_t idx = SIZE_MAX;
        long t = soak_chance(g, 50) ? FUT_FOREVER : soak_range(g, 0, 3);
        int rc = future_wait_any(fs, n, t, &idx);
        if (rc == 0)
            SOAK_CHECK(idx < n && future_done(fs[idx]), "wait_any index %zu not complete", idx);
        else
            SOAK_RC_IN(rc, "future_wait_any", ETIMEDOUT);
        SOAK_CHECK(rc == 0 || t != FUT_FOREVER, "wait_any FOREVER gave %d", rc);
        wait_all(w, g, fs, n);
    }
    helper_join(w, &h, "joining the helper completing promises");
    SOAK_STEP(w, "settling");
    for (size_t i = 0; i < np; i++)
        plan_check(&plans[i]);
    for (size_t i = 0; i < n; i++) {
        if (rs[i])
            soak_settle(rs[i], fs[i]);
    }
    for (size_t i = 0; i < np; i++)
        soak_rel(plans[i].f);
    soak_free(pi);
    soak_free(plans);
    soak_free(rs);
    soak_free(fs);
}

static void op_gather(struct soak_worker *w) { gather_like(w, false); }
static void op_wait_any(struct soak_worker *w) { gather_like(w, true); }

/* ---------------------------------------------------------------------
 * promises: two or three threads race to complete the same promises in
 * different ways while the op waits; exactly one completion wins each
 * ------------------------------------------------------------------- */

enum { RACE_MAX = 6, RACERS = 3 };

struct race {
    size_t n;
    future_t *f[RACE_MAX];
    struct plan plan[RACERS][RACE_MAX];   /* each racer's own plan per promise */
};

struct racer {
    struct race *race;
    int who;
};

static struct racer racers_ctx[64][RACERS];   /* per worker: no allocation */

static void race_run(struct helper *h)
{
    struct racer *rc = h->ctx;
    struct race *r = rc->race;
    for (size_t i = 0; i < r->n; i++) {
        if (soak_chance(&h->rng, 20))
            sched_yield();
        plan_complete(&r->plan[rc->who][i]);
    }
}

static void op_promises(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    struct race r;
    r.n = (size_t)soak_range(g, 1, RACE_MAX);
    int nr = (int)soak_range(g, 2, RACERS);
    for (size_t i = 0; i < r.n; i++) {
        r.f[i] = soak_own(future_new());
        SOAK_CHECK(r.f[i] != NULL, "future_new");
        for (int t = 0; t < nr; t++) {
            struct plan *p = &r.plan[t][i];
            unsigned d = (unsigned)soak_below(g, 10);
            p->f = r.f[i];
            p->action = d < 5 ? 0 : d < 8 ? 1 : 2;
            p->value = soak_value(g);
            p->err = soak_err(g);
            p->rc = -1;
        }
    }
    struct helper hs[RACERS];
    for (int t = 0; t < nr; t++) {
        racers_ctx[w->index][t] = (struct racer){ &r, t };
        helper_start(&hs[t], w, race_run, &racers_ctx[w->index][t]);
    }
    wait_all(w, g, r.f, r.n);
    for (int t = 0; t < nr; t++)
        helper_join(w, &hs[t], "joining the racing completers");
    SOAK_STEP(w, "checking the winners");
    for (size_t i = 0; i < r.n; i++) {
        int winner = -1;
        for (int t = 0; t < nr; t++) {
            int rc = r.plan[t][i].rc;
            SOAK_RC_IN(rc, "a racing completion", 0, EINVAL);
            if (rc == 0) {
                if (winner >= 0)
                    soak_fail("two completions of one promise both returned 0");
                winner = t;
            }
        }
        if (winner < 0)
            soak_fail("no completion of a promise returned 0");
        else
            plan_check(&r.plan[winner][i]);
        soak_rel(r.f[i]);
    }
}

/* ---------------------------------------------------------------------
 * callbacks: callbacks that count, submit, cancel or resolve other
 * promises, or drop the last reference, registered before and after
 * completion, on promises and jobs
 * ------------------------------------------------------------------- */

static void complete_one_plan(struct helper *h)
{
    struct plan *p = h->ctx;
    if (soak_chance(&h->rng, 50))
        soak_nap_us((unsigned)soak_range(&h->rng, 0, 100));
    plan_complete(p);
}

static void op_callbacks(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    enum { NCB = 6, NT = 2 };
    struct soak_rec *cbs[NCB];
    size_t ncb = 0;
    struct plan target[NT];
    for (int i = 0; i < NT; i++)
        plan_draw(&target[i], g);
    bool is_job = soak_chance(g, 40);
    struct plan pl = { 0 };
    struct soak_rec *jr = NULL;
    future_t *f;
    if (is_job) {
        fut_pool_t *p = any_pool(g);
        jr = soak_job_rec(w, g, p, false);
        if (!jr) {
            for (int i = 0; i < NT; i++)
                soak_rel(target[i].f);
            return;
        }
        SOAK_STEP(w, "fut_pool_submit");
        f = soak_submit(p, jr, false);
        if (!f)
            soak_fail("fut_pool_submit: errno %d", errno);
    } else {
        plan_draw(&pl, g);
        f = pl.f;
    }
    /* Dropping the last reference from a callback: the op hands its own
     * reference to that callback and completes the promise itself, so the
     * callbacks after it run on a future nobody else holds. */
    bool give_away = !is_job && soak_feature_on(SF_CB_RELEASE) && soak_chance(g, 25);
    int nbefore = (int)soak_range(g, give_away ? 2 : 1, 4);
    int release_at = give_away ? (int)soak_below(g, (uint64_t)nbefore - 1) : -1;
    for (int i = 0; i < nbefore && ncb < NCB; i++) {
        enum soak_how how;
        if (i == release_at)
            how = CB_RELEASE;
        else {
            static const enum soak_how hows[] = { CB_COUNT, CB_SUBMIT, CB_CANCEL, CB_RESOLVE };
            how = hows[soak_below(g, 4)];
        }
        struct soak_rec *cb = soak_rec_new(w, K_CB, how);
        if (!cb)
            break;
        cb->pool = soak_world.pools[0];
        cb->value = soak_value(g);
        cb->target = target[soak_below(g, NT)].f;
        SOAK_RC_IN(future_on_done(f, soak_cb, soak_rec_arg(cb)), "future_on_done", 0);
        cbs[ncb++] = cb;
    }
    /* After the release: a continuation, whose step reads the future. */
    struct soak_chain *chain = NULL;
    if (give_away && soak_chance(g, 50))
        chain = soak_chain_new(w, g, f, pl.value, soak_range(g, 1, 3));
    if (give_away) {
        SOAK_STEP(w, "completing a promise whose callback drops its last reference");
        plan_complete(&pl);
        SOAK_RC_IN(pl.rc, "completing a promise", 0);
    } else {
        struct helper h;
        bool helped = !is_job && soak_chance(g, 50);
        if (helped)
            helper_start(&h, w, complete_one_plan, &pl);
        else if (!is_job)
            plan_complete(&pl);
        /* Callbacks registered while or after it completes. */
        int nafter = (int)soak_range(g, 0, 2);
        for (int i = 0; i < nafter && ncb < NCB; i++) {
            struct soak_rec *cb = soak_rec_new(w, K_CB, soak_chance(g, 50) ? CB_COUNT : CB_SUBMIT);
            if (!cb)
                break;
            cb->pool = soak_world.pools[0];
            cb->value = soak_value(g);
            bool was_done = future_done(f);
            SOAK_RC_IN(future_on_done(f, soak_cb, soak_rec_arg(cb)), "future_on_done", 0);
            if (was_done)
                SOAK_CHECK(rec_state(cb) == R_RAN,
                           "future_on_done on a complete future returned before running cb");
            cbs[ncb++] = cb;
        }
        if (helped)
            helper_join(w, &h, "joining the completing helper");
        soak_wait_done(w, f, "waiting for the future the callbacks are on");
        if (is_job)
            soak_settle(jr, f);
        else {
            plan_check(&pl);
            soak_rel(f);
        }
    }
    SOAK_STEP(w, "waiting for the callbacks");
    for (size_t i = 0; i < ncb; i++)
        soak_cb_wait(w, cbs[i]);
    if (chain)
        soak_chain_check(chain, pl.action == 0 ? 0 : pl.action == 1 ? pl.err : ECANCELED);
    /* The targets: whoever completed each first won; the op cancels what
     * is left.  Exactly one completion returned 0. */
    for (int t = 0; t < NT; t++) {
        int wins = 0, resolved = 0;
        uintptr_t rv = 0;
        for (size_t i = 0; i < ncb; i++) {
            if (cbs[i]->target != target[t].f || cbs[i]->cb_rc != 0)
                continue;
            if (cbs[i]->how == CB_CANCEL || cbs[i]->how == CB_RESOLVE) {
                wins++;
                if (cbs[i]->how == CB_RESOLVE) {
                    resolved = 1;
                    rv = cbs[i]->value;
                }
            }
        }
        int rc = future_cancel(target[t].f);
        SOAK_RC_IN(rc, "future_cancel on a target", 0, EINVAL);
        wins += rc == 0;
        if (wins != 1)
            soak_fail("a promise targeted by callbacks was completed %d times", wins);
        void *v;
        int orc = outcome(target[t].f, &v);
        if (resolved ? orc != 0 || v != (void *)rv : orc != ECANCELED)
            soak_fail("a promise targeted by callbacks ended rc %d, want %s", orc,
                      resolved ? "its callback's value" : "CANCELLED");
        soak_rel(target[t].f);
    }
    for (size_t i = 0; i < ncb; i++)
        soak_settle_cb(w, cbs[i]);
}

/* ---------------------------------------------------------------------
 * then: chains on promises, jobs and coroutines; deep ones (feature
 * deep_chains) resolved on this thread
 * ------------------------------------------------------------------- */

static void op_then(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    long len = soak_range(g, 1, 64);
    bool deep = soak_feature_on(SF_DEEP_CHAINS) && soak_chance(g, 3);
    if (deep)
        len = soak_range(g, 10000, 200000);
    unsigned kind = deep ? 0 : (unsigned)soak_below(g, 3);
    if (kind == 0) {
        struct plan pl;
        plan_draw(&pl, g);
        bool early = !deep && soak_chance(g, 20);   /* complete before chaining */
        if (early)
            plan_complete(&pl);
        SOAK_STEP(w, deep ? "building a deep then-chain" : "building a then-chain");
        struct soak_chain *c = soak_chain_new(w, g, pl.f, pl.value, len);
        if (!early) {
            if (!deep && soak_chance(g, 50)) {
                struct helper h;
                helper_start(&h, w, complete_one_plan, &pl);
                helper_join(w, &h, "joining the helper completing a chain's root");
            } else {
                SOAK_STEP(w, deep ? "resolving the root of a deep then-chain on this thread"
                                  : "completing a chain's root");
                plan_complete(&pl);
            }
        }
        int root_rc = pl.action == 0 ? 0 : pl.action == 1 ? pl.err : ECANCELED;
        soak_chain_check(c, root_rc);
        plan_check(&pl);
        soak_rel(pl.f);
    } else if (kind == 1) {
        fut_pool_t *p = any_pool(g);
        struct soak_rec *r = soak_job_rec(w, g, p, false);
        if (!r)
            return;
        SOAK_STEP(w, "fut_pool_submit");
        future_t *f = soak_submit(p, r, false);
        if (!f)
            soak_fail("fut_pool_submit: errno %d", errno);
        struct soak_chain *c = soak_chain_new(w, g, f, r->value, len);
        soak_wait_done(w, f, "waiting for a chain's root job");
        soak_chain_check(c, r->err);
        soak_settle(r, f);
    } else {
        struct soak_rec *r = soak_coro_rec(w, g, false);
        if (!r)
            return;
        soak_coro_prepare(r);
        future_t *f = soak_own(fut_loop_spawn(any_loop(g), soak_coro, soak_rec_arg(r)));
        if (!f)
            soak_fail("fut_loop_spawn: errno %d", errno);
        struct soak_chain *c = soak_chain_new(w, g, f, r->value, len);
        soak_coro_release(r, g);
        soak_wait_done(w, f, "waiting for a chain's root coroutine");
        soak_chain_check(c, r->err);
        soak_settle(r, f);
    }
}

/* ---------------------------------------------------------------------
 * coro: coroutines on the shared loops, awaited by this thread (get,
 * gather, wait_any, timed waits); some cancelled at drawn moments
 * ------------------------------------------------------------------- */

static void op_coro(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    enum { N = 4 };
    future_t *fs[N];
    struct soak_rec *rs[N];
    bool cancel[N] = { false };
    size_t k = 0;
    int n = (int)soak_range(g, 1, N);
    SOAK_STEP(w, "fut_loop_spawn");
    for (int i = 0; i < n; i++) {
        bool c = soak_chance(g, 20);
        struct soak_rec *r = soak_coro_rec(w, g, c);
        if (!r)
            break;
        soak_coro_prepare(r);
        future_t *f = soak_own(fut_loop_spawn(any_loop(g), soak_coro, soak_rec_arg(r)));
        if (!f)
            soak_fail("fut_loop_spawn: errno %d", errno);
        fs[k] = f;
        rs[k] = r;
        cancel[k++] = c;
    }
    for (size_t i = 0; i < k; i++)
        soak_coro_release(rs[i], g);
    for (size_t i = 0; i < k; i++) {
        if (!cancel[i])
            continue;
        if (soak_chance(g, 50))
            soak_nap_us((unsigned)soak_range(g, 0, 500));
        int rc = future_cancel(fs[i]);
        SOAK_RC_IN(rc, "future_cancel on a coroutine", 0, EINVAL);
        if (rc == 0)
            soak_rec_cancelled(rs[i]);
        else
            einval_means_done(fs[i], "future_cancel on a coroutine");
    }
    wait_all(w, g, fs, k);
    SOAK_STEP(w, "settling");
    for (size_t i = 0; i < k; i++)
        soak_settle(rs[i], fs[i]);
}

/* ---------------------------------------------------------------------
 * short_threads: threads that wait once on a future completed elsewhere
 * and exit at once
 * ------------------------------------------------------------------- */

enum { SHORT_MAX = 8 };

struct short_waiter {
    pthread_t t;
    struct soak_worker *w;
    future_t *f;
    int mode;
    int rc;
    void *v;
};

static void *short_main(void *arg)
{
    struct short_waiter *s = arg;
    soak_set_self(s->w);
    future_t *fs[1] = { s->f };
    switch (s->mode) {
    case 0:
        s->rc = future_get(s->f, &s->v);
        break;
    case 1:
        s->rc = future_wait(s->f, FUT_FOREVER);
        break;
    case 2: {
        void *vals[1] = { SENTINEL };
        s->rc = future_gather(fs, 1, vals, FUT_FOREVER);
        s->v = vals[0];
        break;
    }
    case 3: {
        size_t idx = 7;
        s->rc = future_wait_any(fs, 1, FUT_FOREVER, &idx);
        if (s->rc == 0 && idx != 0)
            s->rc = -2;
        break;
    }
    default:
        s->rc = future_wait(s->f, soak_patience_ms());
        break;
    }
    return NULL;                /* and the thread is gone */
}

static void op_short_threads(struct soak_worker *w)
{
    if (!soak_feature_on(SF_SHORT_THREADS))
        return;
    soak_rng *g = &w->rng;
    struct short_waiter sw[SHORT_MAX];
    struct plan plans[SHORT_MAX];
    struct soak_rec *rs[SHORT_MAX];
    future_t *fs[SHORT_MAX];
    size_t n = (size_t)soak_range(g, 2, SHORT_MAX), np = 0;
    unsigned what = (unsigned)soak_below(g, 4);   /* 0 one promise, 1 one each, 2 jobs, 3 coros */
    SOAK_STEP(w, "preparing futures for short-lived waiters");
    for (size_t i = 0; i < n; i++) {
        rs[i] = NULL;
        if (what == 0 && i > 0) {
            fs[i] = fs[0];
        } else if (what <= 1) {
            plan_draw(&plans[np], g);
            fs[i] = plans[np++].f;
        } else if (what == 2) {
            fut_pool_t *p = any_pool(g);
            rs[i] = soak_job_rec(w, g, p, false);
            fs[i] = rs[i] ? soak_submit(p, rs[i], false) : NULL;
            if (rs[i] && !fs[i])
                soak_fail("fut_pool_submit: errno %d", errno);
        } else {
            rs[i] = soak_coro_rec(w, g, false);
            if (rs[i]) {
                soak_coro_prepare(rs[i]);
                fs[i] = soak_own(fut_loop_spawn(any_loop(g), soak_coro, soak_rec_arg(rs[i])));
                if (!fs[i])
                    soak_fail("fut_loop_spawn: errno %d", errno);
            } else {
                fs[i] = NULL;
            }
        }
        if (!fs[i]) {
            n = i;
            break;
        }
    }
    SOAK_STEP(w, "starting short-lived waiters");
    for (size_t i = 0; i < n; i++) {
        sw[i] = (struct short_waiter){ .w = w, .f = fs[i], .mode = (int)soak_below(g, 5),
                                       .rc = -1, .v = SENTINEL };
        int rc;
        while ((rc = pthread_create(&sw[i].t, NULL, short_main, &sw[i])) == EAGAIN)
            soak_nap_us(1000);
        if (rc)
            soak_fail("pthread_create: %d", rc);
    }
    /* Complete the promises from here, from a helper, or both in turn. */
    SOAK_STEP(w, "completing what the short-lived waiters wait on");
    if (np && soak_chance(g, 50)) {
        struct plan_set s = { plans, np };
        struct helper h;
        helper_start(&h, w, complete_plans, &s);
        helper_join(w, &h, "joining the helper completing promises");
    } else {
        for (size_t i = 0; i < np; i++) {
            if (soak_chance(g, 30))
                soak_nap_us((unsigned)soak_range(g, 0, 100));
            plan_complete(&plans[i]);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (rs[i] && rs[i]->kind == K_CORO)
            soak_coro_release(rs[i], g);
    SOAK_STEP(w, "joining short-lived waiters");
    for (size_t i = 0; i < n; i++)
        pthread_join(sw[i].t, NULL);
    SOAK_STEP(w, "checking what the short-lived waiters saw");
    for (size_t i = 0; i < n; i++) {
        SOAK_CHECK(future_done(fs[i]), "a waiter returned before its future completed");
        void *v;
        int want = outcome(fs[i], &v);
        switch (sw[i].mode) {
        case 0:
            SOAK_CHECK(sw[i].rc == want && sw[i].v == v,
                       "a short-lived future_get gave %d %p, want %d %p", sw[i].rc, sw[i].v,
                       want, v);
            break;
        case 2:
            SOAK_CHECK(sw[i].rc == want && sw[i].v == v,
                       "a short-lived gather gave %d %p, want %d %p", sw[i].rc, sw[i].v, want,
                       v);
            break;
        default:
            SOAK_RC_IN(sw[i].rc, "a short-lived wait", 0);
            break;
        }
    }
    for (size_t i = 0; i < np; i++) {
        plan_check(&plans[i]);
        soak_rel(plans[i].f);
    }
    for (size_t i = 0; i < n; i++)
        if (rs[i])
            soak_settle(rs[i], fs[i]);
}

/* ---------------------------------------------------------------------
 * pool_churn: a pool created, raced by submitting threads, and shut down
 * (FUT_DRAIN or FUT_CANCEL, maybe twice at once, maybe from a callback)
 * ------------------------------------------------------------------- */

enum { CHURN_SUB = 24 };

struct churn_sub {
    fut_pool_t *p;
    bool try_;
    bool may_cancel;
    size_t n;
    future_t *f[CHURN_SUB];
    struct soak_rec *r[CHURN_SUB];
};

static void churn_submitter(struct helper *h)
{
    struct churn_sub *s = h->ctx;
    while (s->n < CHURN_SUB) {
        struct soak_rec *r = soak_job_rec(h->w, &h->rng, s->p, false);
        if (!r)
            return;
        r->may_cancel = s->may_cancel;
        future_t *f = soak_submit(s->p, r, s->try_);
        if (!f) {
            if (errno == ESHUTDOWN)
                return;
            if (s->try_ && errno == EAGAIN) {
                sched_yield();
                continue;
            }
            soak_fail("a submit racing shutdown failed with errno %d", errno);
        }
        s->f[s->n] = f;
        s->r[s->n++] = r;
        if (soak_chance(&h->rng, 30))
            soak_nap_us((unsigned)soak_range(&h->rng, 0, 50));
    }
}

struct churn_shut {
    fut_pool_t *p;
    enum fut_shutdown how;
    int rc;
};

static void churn_shutter(struct helper *h)
{
    struct churn_shut *s = h->ctx;
    s->rc = fut_pool_shutdown(s->p, s->how);
}

static void op_pool_churn(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    fut_pool_opts o = { .threads = (size_t)soak_range(g, 1, 3),
                        .queue_max = soak_chance(g, 50) ? 0 : (size_t)soak_range(g, 1, 4),
                        .name = "soak-churn" };
    enum fut_shutdown how = soak_chance(g, 50) ? FUT_DRAIN : FUT_CANCEL;
    bool second = soak_chance(g, 25);
    enum fut_shutdown how2 = soak_chance(g, 50) ? FUT_DRAIN : FUT_CANCEL;
    bool cb_shut = soak_feature_on(SF_CB_SHUTDOWN) && soak_chance(g, 30);
    bool cb_cancel = soak_chance(g, 50);
    bool may_cancel = how == FUT_CANCEL || (second && how2 == FUT_CANCEL) ||
                      (cb_shut && cb_cancel);
    SOAK_STEP(w, "fut_pool_new");
    fut_pool_t *p = fut_pool_new(&o);
    if (!p) {
        SOAK_RC_IN(errno, "fut_pool_new", EAGAIN);   /* threads could not start: loaded */
        return;
    }
    SOAK_CHECK(fut_pool_threads(p) == o.threads, "fut_pool_threads %zu", fut_pool_threads(p));
    int nsub = (int)soak_range(g, 0, 2);
    struct churn_sub subs[2];
    struct helper hs[2];
    for (int i = 0; i < nsub; i++) {
        subs[i] = (struct churn_sub){ .p = p, .try_ = soak_chance(g, 40), .may_cancel = may_cancel };
        helper_start(&hs[i], w, churn_submitter, &subs[i]);
    }
    struct churn_sub own = { .p = p, .may_cancel = may_cancel };
    struct soak_rec *cb = NULL;
    int n = (int)soak_range(g, 0, 8);
    SOAK_STEP(w, "submitting to a pool that is about to shut down");
    for (int i = 0; i < n && own.n < CHURN_SUB; i++) {
        struct soak_rec *r = soak_job_rec(w, g, p, false);
        if (!r)
            break;
        r->may_cancel = may_cancel;
        future_t *f = soak_submit(p, r, false);
        if (!f) {
            /* A callback below may have shut it down already. */
            SOAK_RC_IN(errno, "fut_pool_submit", ESHUTDOWN);
            break;
        }
        own.f[own.n] = f;
        own.r[own.n++] = r;
        if (cb_shut && !cb) {
            cb = soak_rec_new(w, K_CB, CB_SHUTDOWN);
            if (cb) {
                cb->pool = p;
                cb->err = cb_cancel;
                SOAK_RC_IN(future_on_done(f, soak_cb, soak_rec_arg(cb)), "future_on_done", 0);
            }
        }
    }
    if (soak_chance(g, 50))
        soak_nap_us((unsigned)soak_range(g, 0, 300));
    struct churn_shut sh2 = { p, how2, -1 };
    struct helper h2;
    if (second)
        helper_start(&h2, w, churn_shutter, &sh2);
    SOAK_STEP(w, how == FUT_DRAIN ? "fut_pool_shutdown(FUT_DRAIN)"
                                  : cb ? "fut_pool_shutdown(FUT_CANCEL) with a callback that "
                                         "shuts the same pool down"
                                       : "fut_pool_shutdown(FUT_CANCEL)");
    SOAK_RC_IN(fut_pool_shutdown(p, how), "fut_pool_shutdown", 0);
    if (second) {
        helper_join(w, &h2, "joining a concurrent fut_pool_shutdown");
        SOAK_RC_IN(sh2.rc, "a concurrent fut_pool_shutdown", 0);
    }
    for (int i = 0; i < nsub; i++)
        helper_join(w, &hs[i], "joining submitters racing shutdown");
    SOAK_STEP(w, "checking a pool after shutdown");
    errno = 0;
    SOAK_CHECK(fut_pool_submit(p, soak_job, NULL) == NULL && errno == ESHUTDOWN,
               "submit after shutdown: errno %d", errno);
    errno = 0;
    SOAK_CHECK(fut_pool_try_submit(p, soak_job, NULL) == NULL && errno == ESHUTDOWN,
               "try_submit after shutdown: errno %d", errno);
    SOAK_RC_IN(fut_pool_shutdown(p, FUT_DRAIN), "a later fut_pool_shutdown", 0);
    /* Shutdown has returned: every job it took is complete, none waits. */
    struct churn_sub *all[3] = { &own, &subs[0], &subs[1] };
    for (int s = 0; s < 1 + nsub; s++)
        for (size_t i = 0; i < all[s]->n; i++)
            if (!future_done(all[s]->f[i]))
                soak_fail("a job of a pool that has shut down is not complete (state %d)",
                          (int)future_state(all[s]->f[i]));
    for (int s = 0; s < 1 + nsub; s++)
        for (size_t i = 0; i < all[s]->n; i++)
            soak_settle(all[s]->r[i], all[s]->f[i]);
    if (cb)
        soak_settle_cb(w, cb);
    SOAK_STEP(w, "fut_pool_free");
    fut_pool_free(p);
}

/* ---------------------------------------------------------------------
 * loop_churn: a loop of its own, spawned into before and (by a helper)
 * while it runs, run on this thread; leftovers are cancelled at the end
 * ------------------------------------------------------------------- */

enum { CHURN_CO = 8 };

struct churn_spawn {
    fut_loop_t *l;
    struct soak_rec *main_rec;
    size_t n;
    future_t *f[CHURN_CO];
    struct soak_rec *r[CHURN_CO];
    struct soak_rec *pre[CHURN_CO];     /* spawned before the run */
    size_t npre;
};

static void churn_spawner(struct helper *h)
{
    struct churn_spawn *s = h->ctx;
    /* Promises awaited by the coroutines spawned before the run, and by
     * main, are resolved from here, since the op's thread runs the loop. */
    soak_coro_release(s->main_rec, &h->rng);
    for (size_t i = 0; i < s->npre; i++)
        soak_coro_release(s->pre[i], &h->rng);
    size_t n = (size_t)soak_range(&h->rng, 0, CHURN_CO);
    for (size_t i = 0; i < n; i++) {
        struct soak_rec *r = soak_coro_rec(h->w, &h->rng, true);
        if (!r)
            return;
        if (r->how == C_AWAIT_PROMISE)
            r->how = C_YIELD;   /* nobody is left to resolve it */
        future_t *f = soak_own(fut_loop_spawn(s->l, soak_coro, soak_rec_arg(r)));
        if (!f) {
            SOAK_RC_IN(errno, "fut_loop_spawn while the loop finishes", ESHUTDOWN);
            soak_rec_drop(r);
            continue;
        }
        s->f[s->n] = f;
        s->r[s->n++] = r;
        if (soak_chance(&h->rng, 40))
            soak_nap_us((unsigned)soak_range(&h->rng, 0, 200));
    }
}

static void op_loop_churn(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    static const size_t stacks[] = { 0, 65536, 262144 };
    fut_loop_opts o = { .stack_size = stacks[soak_below(g, 3)] };
    SOAK_STEP(w, "fut_loop_new");
    fut_loop_t *l = fut_loop_new(&o);
    if (!l)
        soak_fail("fut_loop_new: errno %d", errno);
    struct churn_spawn s = { .l = l };
    future_t *pre[CHURN_CO];
    size_t npre = (size_t)soak_range(g, 0, 4);
    for (size_t i = 0; i < npre; i++) {
        struct soak_rec *r = soak_coro_rec(w, g, true);
        if (!r) {
            npre = i;
            break;
        }
        soak_coro_prepare(r);
        pre[i] = soak_own(fut_loop_spawn(l, soak_coro, soak_rec_arg(r)));
        if (!pre[i])
            soak_fail("fut_loop_spawn before run: errno %d", errno);
        s.pre[i] = r;
    }
    s.npre = npre;
    struct soak_rec *m = soak_coro_rec(w, g, false);
    if (!m) {
        fut_loop_free(l);
        for (size_t i = 0; i < npre; i++) {
            soak_coro_release(s.pre[i], g);
            soak_settle(s.pre[i], pre[i]);
        }
        return;
    }
    soak_coro_prepare(m);
    s.main_rec = m;
    struct helper h;
    helper_start(&h, w, churn_spawner, &s);
    SOAK_STEP(w, "fut_loop_run of a loop of its own");
    void *res = SENTINEL;
    int rc = fut_loop_run(l, soak_coro, soak_rec_arg(m), &res);
    if (m->err ? rc != m->err || res != NULL : rc != 0 || res != (void *)m->value)
        soak_fail("fut_loop_run gave rc %d result %p; main %s %#" PRIxPTR, rc, res,
                  m->err ? "raised" : "returned", m->err ? (uintptr_t)m->err : m->value);
    helper_join(w, &h, "joining the helper spawning into a running loop");
    if (m->target) {
        soak_rel(m->target);
        m->target = NULL;
    }
    /* main's kids are settled by hand: its future is fut_loop_run's. */
    for (int i = 0; i < m->nkids; i++) {
        soak_wait_done(w, m->kids[i], "waiting for a future main started");
        soak_settle(m->kid_recs[i], m->kids[i]);
    }
    m->nkids = 0;
    soak_rec_finish(m);
    SOAK_STEP(w, "fut_loop_free");
    fut_loop_free(l);
    SOAK_STEP(w, "settling the loop's coroutines");
    for (size_t i = 0; i < npre; i++) {
        soak_wait_done(w, pre[i], "a coroutine of a freed loop");
        soak_settle(s.pre[i], pre[i]);
    }
    for (size_t i = 0; i < s.n; i++) {
        soak_wait_done(w, s.f[i], "a coroutine of a freed loop");
        soak_settle(s.r[i], s.f[i]);
    }
}

/* ---------------------------------------------------------------------
 * loop_in_job: a loop inside a 1-thread pool's job waits on that pool
 * ------------------------------------------------------------------- */

static void op_loop_in_job(struct soak_worker *w)
{
    if (!soak_feature_on(SF_LOOP_IN_JOB))
        return;
    soak_rng *g = &w->rng;
    fut_pool_opts o = { .threads = 1, .name = "soak-lij" };
    SOAK_STEP(w, "fut_pool_new");
    fut_pool_t *p = fut_pool_new(&o);
    if (!p) {
        SOAK_RC_IN(errno, "fut_pool_new", EAGAIN);
        return;
    }
    struct soak_rec *r = soak_rec_new(w, K_JOB, H_LOOP);
    if (r) {
        r->value = soak_value(g);
        r->pool = p;
        future_t *f = soak_submit(p, r, false);
        if (!f)
            soak_fail("fut_pool_submit: errno %d", errno);
        soak_wait_done(w, f, "waiting for a job that runs a loop waiting on its own pool");
        soak_settle(r, f);
    }
    SOAK_STEP(w, "fut_pool_free");
    fut_pool_free(p);
}

/* ---------------------------------------------------------------------
 * nest: jobs that submit to their own pool and gather the children
 * ------------------------------------------------------------------- */

static void op_nest(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    fut_pool_t *p = any_pool(g);
    future_t *fs[3];
    struct soak_rec *rs[3];
    size_t k = 0, n = (size_t)soak_range(g, 1, 3);
    SOAK_STEP(w, "fut_pool_submit of nesting jobs");
    for (size_t i = 0; i < n; i++) {
        struct soak_rec *r = soak_rec_new(w, K_JOB, H_NEST);
        if (!r)
            break;
        r->value = soak_value(g);
        r->err = soak_chance(g, 20) ? soak_err(g) : 0;
        r->count = soak_range(g, 1, 3);
        r->pool = p;
        future_t *f = soak_submit(p, r, false);
        if (!f)
            soak_fail("fut_pool_submit: errno %d", errno);
        fs[k] = f;
        rs[k++] = r;
    }
    wait_all(w, g, fs, k);
    SOAK_STEP(w, "settling");
    for (size_t i = 0; i < k; i++)
        soak_settle(rs[i], fs[i]);
}

/* ---------------------------------------------------------------------
 * map: fut_pool_map over records
 * ------------------------------------------------------------------- */

static void op_map(struct soak_worker *w)
{
    soak_rng *g = &w->rng;
    fut_pool_t *p = any_pool(g);
    enum { N = 10 };
    struct soak_rec *rs[N];
    void *args[N], *res[N];
    size_t n = (size_t)soak_range(g, 1, N), k = 0;
    for (size_t i = 0; i < n; i++) {
        rs[k] = soak_job_rec(w, g, p, false);
        if (!rs[k])
            break;
        args[k] = soak_rec_arg(rs[k]);
        res[k++] = SENTINEL;
    }
    SOAK_STEP(w, "fut_pool_map");
    int rc = fut_pool_map(p, soak_job, args, res, k);
    int want = 0;
    for (size_t i = 0; i < k; i++) {
        if (rs[i]->err) {
            want = want ? want : rs[i]->err;
            SOAK_CHECK(res[i] == NULL, "map: a failed job's result is %p", res[i]);
        } else {
            SOAK_CHECK(res[i] == (void *)rs[i]->value, "map: results[%zu] is %p", i, res[i]);
        }
        soak_rec_finish(rs[i]);
    }
    if (rc != want)
        soak_fail("fut_pool_map returned %d, want %d", rc, want);
}

/* ---------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------- */

const struct soak_op soak_ops_core[] = {
    { "jobs", 12, op_jobs, "submit/try-submit to a shared pool, callbacks, chains, 5 ways to wait" },
    { "try_submit", 4, op_try_submit, "try-submit bursts on the bounded pools (EAGAIN)" },
    { "cancel", 8, op_cancel, "cancel queued and running jobs; cancel-0 jobs never run" },
    { "gather", 8, op_gather, "gather promises (completed by a helper) and jobs, n up to 40" },
    { "wait_any", 5, op_wait_any, "wait_any over promises and jobs, then the rest" },
    { "promises", 6, op_promises, "2-3 threads race to complete the same promises" },
    { "callbacks", 8, op_callbacks, "callbacks that count, submit, cancel, resolve, release" },
    { "then", 6, op_then, "then-chains on promises, jobs, coroutines; deep ones (feature)" },
    { "coro", 12, op_coro, "coroutines on shared loops awaited (and cancelled) by threads" },
    { "short_threads", 5, op_short_threads, "threads that wait once and exit at once" },
    { "pool_churn", 5, op_pool_churn, "pools created, raced by submitters, shut down" },
    { "loop_churn", 4, op_loop_churn, "loops created, spawned into while running, freed" },
    { "loop_in_job", 1, op_loop_in_job, "a loop in a 1-thread pool job waits on that pool" },
    { "nest", 4, op_nest, "jobs gathering children on their own pool" },
    { "map", 3, op_map, "fut_pool_map" },
    { NULL, 0, NULL, NULL },
};
