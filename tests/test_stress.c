/* SPDX-License-Identifier: MIT */
/*
 * test_stress.c - races, hammered for thousands of rounds
 *
 * Completion against waiting, registration and other completions from
 * several threads; cancel against start on a pool; shutdown against
 * submit; nested waits.  Each round checks the outcome exactly: one
 * completion wins, every waiter sees it, every callback runs once, a job
 * cancelled with 0 never runs.
 *
 * Rounds come from TU_ROUNDS (see testutil.h): thousands in a plain
 * build, a tenth under ThreadSanitizer, a quarter under AddressSanitizer.
 * Threads that take part in every round are started once and meet at a
 * barrier twice a round (start, end), so the cost is the race itself.
 */
#include "testutil.h"

#define V(n) ((void *)(uintptr_t)(n))
#define SENTINEL V(0xdeadbeef)

/* ---------------------------------------------------------------------
 * A crew of threads meeting at a barrier every round.
 * ------------------------------------------------------------------- */

struct crew;
typedef void (*crew_fn)(struct crew *c, int who, long round);

struct crew {
    pthread_barrier_t start, end;
    int n;                  /* worker threads (main is one more) */
    long rounds;
    crew_fn fn;
    void *ctx;
    pthread_t t[8];
    int who[8];
};

struct crew_arg {
    struct crew *c;
    int who;
};

static struct crew_arg crew_args[8];

static void *crew_main(void *arg)
{
    struct crew_arg *a = arg;
    struct crew *c = a->c;
    for (long r = 0; r < c->rounds; r++) {
        pthread_barrier_wait(&c->start);
        c->fn(c, a->who, r);
        pthread_barrier_wait(&c->end);
    }
    return NULL;
}

static void crew_start(struct crew *c, int n, long rounds, crew_fn fn, void *ctx)
{
    ck_assert_int_le(n, 8);
    c->n = n;
    c->rounds = rounds;
    c->fn = fn;
    c->ctx = ctx;
    pthread_barrier_init(&c->start, NULL, (unsigned)n + 1);
    pthread_barrier_init(&c->end, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        crew_args[i] = (struct crew_arg){ c, i };
        c->t[i] = tu_thread(crew_main, &crew_args[i]);
    }
}

static void crew_join(struct crew *c)
{
    for (int i = 0; i < c->n; i++)
        tu_join(c->t[i]);
    pthread_barrier_destroy(&c->start);
    pthread_barrier_destroy(&c->end);
}

/* A callback counting its runs in the atomic_int it is given. */
static void count_cb(future_t *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* A few iterations of nothing, different each round, to shift the race. */
static void jitter(long round, int who)
{
    unsigned k = (unsigned)((round * 7 + who * 13) % 23);
    for (volatile unsigned i = 0; i < k * 8; i++) {
    }
}

/* ---------------------------------------------------------------------
 * stress_complete_vs_waiters: one thread completes (resolve, fail or
 * cancel by round), four wait with get / wait+get / gather / wait_any.
 * ------------------------------------------------------------------- */

struct cw {
    future_t *f;
    int rc[4];
    void *v[4];
};

static void cw_round(struct crew *c, int who, long r)
{
    struct cw *x = c->ctx;
    future_t *f = x->f;
    jitter(r, who);
    if (who == 4) {
        switch (r % 3) {
        case 0: future_resolve(f, V(r + 1)); break;
        case 1: future_fail(f, (int)(r % 100) + 1); break;
        default: future_cancel(f); break;
        }
        return;
    }
    void *v = SENTINEL;
    int rc = -1;
    switch (who) {
    case 0:
        rc = future_get(f, &v);
        break;
    case 1:
        rc = future_wait(f, FUT_FOREVER);
        if (rc == 0)
            rc = future_get(f, &v);
        break;
    case 2: {
        future_t *fs[1] = { f };
        void *vals[1] = { SENTINEL };
        rc = future_gather(fs, 1, vals, FUT_FOREVER);
        v = vals[0];
        break;
    }
    case 3: {
        future_t *fs[1] = { f };
        size_t idx = 9;
        rc = future_wait_any(fs, 1, 60000, &idx);
        if (rc == 0 && idx != 0)
            rc = -2;
        if (rc == 0)
            rc = future_get(f, &v);
        break;
    }
    }
    x->rc[who] = rc;
    x->v[who] = v;
}

START_TEST(stress_complete_vs_waiters)
{
    long rounds = TU_ROUNDS(5000);
    struct cw x;
    struct crew c;
    crew_start(&c, 5, rounds, cw_round, &x);
    for (long r = 0; r < rounds; r++) {
        x.f = future_new();
        ck_assert_ptr_nonnull(x.f);
        for (int i = 0; i < 4; i++) {
            x.rc[i] = -1;
            x.v[i] = SENTINEL;
        }
        pthread_barrier_wait(&c.start);
        pthread_barrier_wait(&c.end);
        int want_rc = r % 3 == 0 ? 0 : r % 3 == 1 ? (int)(r % 100) + 1 : ECANCELED;
        void *want_v = r % 3 == 0 ? V(r + 1) : NULL;
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(x.rc[i] == want_rc, "round %ld waiter %d: rc %d, want %d", r, i,
                          x.rc[i], want_rc);
            ck_assert_msg(x.v[i] == want_v, "round %ld waiter %d: wrong value", r, i);
        }
        future_release(x.f);
    }
    crew_join(&c);
}
END_TEST

/* ---------------------------------------------------------------------
 * stress_on_done_vs_complete_exactly_once: two threads register
 * callbacks and continuations while a third completes; each runs once.
 * ------------------------------------------------------------------- */

struct od {
    future_t *f;
    atomic_int calls[4];       /* per registration */
    atomic_int bad_state;      /* a callback saw an incomplete future */
    atomic_int then_calls[2];
    future_t *then_f[2];
    int reg_rc[4];
};

static struct od *od_ctx;

static void od_cb_checked(future_t *f, void *arg)
{
    if (!future_done(f) || future_state(f) != FUTURE_DONE)
        atomic_store(&od_ctx->bad_state, 1);
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void *od_then(void *value, void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return V((uintptr_t)value + 1);
}

static void od_round(struct crew *c, int who, long r)
{
    struct od *x = c->ctx;
    jitter(r, who);
    if (who == 2) {
        future_resolve(x->f, V(r + 1));
        return;
    }
    /* who 0 and 1: two callbacks and one continuation each */
    x->reg_rc[2 * who] = future_on_done(x->f, od_cb_checked, &x->calls[2 * who]);
    x->then_f[who] = future_then(x->f, od_then, &x->then_calls[who]);
    x->reg_rc[2 * who + 1] = future_on_done(x->f, od_cb_checked, &x->calls[2 * who + 1]);
}

START_TEST(stress_on_done_vs_complete_exactly_once)
{
    long rounds = TU_ROUNDS(5000);
    struct od x;
    od_ctx = &x;
    struct crew c;
    crew_start(&c, 3, rounds, od_round, &x);
    for (long r = 0; r < rounds; r++) {
        x.f = future_new();
        for (int i = 0; i < 4; i++) {
            atomic_store(&x.calls[i], 0);
            x.reg_rc[i] = -1;
        }
        atomic_store(&x.bad_state, 0);
        for (int i = 0; i < 2; i++) {
            atomic_store(&x.then_calls[i], 0);
            x.then_f[i] = NULL;
        }
        pthread_barrier_wait(&c.start);
        pthread_barrier_wait(&c.end);
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(x.reg_rc[i], 0);
            ck_assert_msg(atomic_load(&x.calls[i]) == 1, "round %ld: callback %d ran %d times",
                          r, i, atomic_load(&x.calls[i]));
        }
        ck_assert_msg(!atomic_load(&x.bad_state), "round %ld: callback before completion", r);
        for (int i = 0; i < 2; i++) {
            ck_assert_ptr_nonnull(x.then_f[i]);
            void *v = NULL;
            tu_assert_rc(future_get(x.then_f[i], &v), 0);
            ck_assert_ptr_eq(v, V(r + 2));
            ck_assert_int_eq(atomic_load(&x.then_calls[i]), 1);
            future_release(x.then_f[i]);
        }
        future_release(x.f);
    }
    crew_join(&c);
}
END_TEST

/* ---------------------------------------------------------------------
 * stress_complete_vs_complete: resolve, fail and cancel race; exactly one
 * wins with 0, the others get EINVAL, and the state is the winner's.
 * ------------------------------------------------------------------- */

struct cc {
    future_t *f;
    int rc[3];
};

static void cc_round(struct crew *c, int who, long r)
{
    struct cc *x = c->ctx;
    jitter(r, who);
    switch (who) {
    case 0: x->rc[0] = future_resolve(x->f, V(r + 1)); break;
    case 1: x->rc[1] = future_fail(x->f, EIO); break;
    default: x->rc[2] = future_cancel(x->f); break;
    }
}

START_TEST(stress_complete_vs_complete)
{
    long rounds = TU_ROUNDS(5000);
    struct cc x;
    struct crew c;
    crew_start(&c, 3, rounds, cc_round, &x);
    int wins[3] = { 0, 0, 0 };
    for (long r = 0; r < rounds; r++) {
        x.f = future_new();
        atomic_int cb = 0;
        future_on_done(x.f, count_cb, &cb);
        pthread_barrier_wait(&c.start);
        pthread_barrier_wait(&c.end);
        int winner = -1, zeros = 0;
        for (int i = 0; i < 3; i++) {
            if (x.rc[i] == 0) {
                zeros++;
                winner = i;
            } else {
                ck_assert_msg(x.rc[i] == EINVAL, "round %ld: loser %d got %d", r, i, x.rc[i]);
            }
        }
        ck_assert_msg(zeros == 1, "round %ld: %d completions won", r, zeros);
        wins[winner]++;
        void *v = SENTINEL;
        int rc = future_get(x.f, &v);
        if (winner == 0) {
            tu_assert_state(x.f, FUTURE_DONE);
            ck_assert_int_eq(rc, 0);
            ck_assert_ptr_eq(v, V(r + 1));
        } else if (winner == 1) {
            tu_assert_state(x.f, FUTURE_FAILED);
            ck_assert_int_eq(rc, EIO);
        } else {
            tu_assert_state(x.f, FUTURE_CANCELLED);
            ck_assert_int_eq(rc, ECANCELED);
        }
        ck_assert_int_eq(atomic_load(&cb), 1);
        future_release(x.f);
    }
    crew_join(&c);
    ck_assert_int_eq(wins[0] + wins[1] + wins[2], rounds);
}
END_TEST

/* ---------------------------------------------------------------------
 * stress_release_vs_complete: the creator drops its reference at once;
 * one thread registers a callback, completes and releases, another waits
 * and releases.  Sanitizers catch any use after free or leak.
 * ------------------------------------------------------------------- */

struct rc_ctx {
    future_t *f;
    atomic_int cb;
    int get_rc;
    void *v;
};

static void rc_round(struct crew *c, int who, long r)
{
    struct rc_ctx *x = c->ctx;
    future_t *f = x->f;
    jitter(r, who);
    if (who == 0) {
        future_on_done(f, count_cb, &x->cb);
        future_resolve(f, V(r + 5));
    } else {
        x->get_rc = future_get(f, &x->v);
    }
    future_release(f);
}

START_TEST(stress_release_vs_complete)
{
    long rounds = TU_ROUNDS(5000);
    struct rc_ctx x;
    struct crew c;
    crew_start(&c, 2, rounds, rc_round, &x);
    for (long r = 0; r < rounds; r++) {
        future_t *f = future_new();
        x.f = future_retain(future_retain(f));
        atomic_store(&x.cb, 0);
        x.get_rc = -1;
        x.v = NULL;
        future_release(f);                      /* two references left */
        pthread_barrier_wait(&c.start);
        pthread_barrier_wait(&c.end);
        ck_assert_int_eq(atomic_load(&x.cb), 1);
        ck_assert_int_eq(x.get_rc, 0);
        ck_assert_ptr_eq(x.v, V(r + 5));
    }
    crew_join(&c);
}
END_TEST

/* ---------------------------------------------------------------------
 * stress_gather_vs_completers and stress_wait_any_vs_completer
 * ------------------------------------------------------------------- */

#define GN 8

struct gc {
    future_t *fs[GN];
};

static void gc_round(struct crew *c, int who, long r)
{
    struct gc *x = c->ctx;
    jitter(r, who);
    /* thread 0 completes the even indices, thread 1 the odd ones, from
     * the top down; in every fourth round index 5 fails and index 6 is
     * cancelled */
    for (int i = GN - 2 + who; i >= 0; i -= 2) {
        if (r % 4 == 3 && i == 5)
            future_fail(x->fs[i], EBADMSG);
        else if (r % 4 == 3 && i == 6)
            future_cancel(x->fs[i]);
        else
            future_resolve(x->fs[i], V(r * GN + i + 1));
    }
}

START_TEST(stress_gather_vs_completers)
{
    long rounds = TU_ROUNDS(3000);
    struct gc x;
    struct crew c;
    crew_start(&c, 2, rounds, gc_round, &x);
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < GN; i++)
            x.fs[i] = future_new();
        void *vals[GN];
        pthread_barrier_wait(&c.start);
        int rc = future_gather(x.fs, GN, vals, FUT_FOREVER);
        for (int i = 0; i < GN; i++)
            ck_assert_msg(future_done(x.fs[i]), "round %ld: gather returned before %d", r, i);
        pthread_barrier_wait(&c.end);
        if (r % 4 == 3) {
            ck_assert_int_eq(rc, EBADMSG);
            ck_assert_ptr_null(vals[5]);
            ck_assert_ptr_null(vals[6]);
        } else {
            ck_assert_int_eq(rc, 0);
        }
        for (int i = 0; i < GN; i++) {
            if (r % 4 != 3 || (i != 5 && i != 6))
                ck_assert_ptr_eq(vals[i], V(r * GN + i + 1));
            future_release(x.fs[i]);
        }
    }
    crew_join(&c);
}
END_TEST

struct wa {
    future_t *fs[4];
};

static void wa_round(struct crew *c, int who, long r)
{
    struct wa *x = c->ctx;
    jitter(r, who);
    future_resolve(x->fs[r % 4], V(r));
}

START_TEST(stress_wait_any_vs_completer)
{
    long rounds = TU_ROUNDS(5000);
    struct wa x;
    struct crew c;
    crew_start(&c, 1, rounds, wa_round, &x);
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < 4; i++)
            x.fs[i] = future_new();
        pthread_barrier_wait(&c.start);
        size_t idx = 99;
        int rc = future_wait_any(x.fs, 4, FUT_FOREVER, &idx);
        pthread_barrier_wait(&c.end);
        ck_assert_int_eq(rc, 0);
        ck_assert_msg(idx == (size_t)(r % 4), "round %ld: index %zu", r, idx);
        for (int i = 0; i < 4; i++) {
            if (i != r % 4)
                ck_assert(!future_done(x.fs[i]));
            future_release(x.fs[i]);   /* pending promises dropped: freed */
        }
    }
    crew_join(&c);
}
END_TEST

/* ---------------------------------------------------------------------
 * Pools
 * ------------------------------------------------------------------- */

static fut_pool_t *mkpool(size_t threads, size_t queue_max)
{
    fut_pool_opts o = { .threads = threads, .queue_max = queue_max, .name = "stress" };
    fut_pool_t *p = fut_pool_new(&o);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Cancel against start: whatever cancel answers must match what happened.
 * Jobs spin for a varying while so that cancels land on queued, running
 * and finished jobs alike. */
struct cs_slot {
    atomic_int ran;
    unsigned spin;
};

static void *cs_job(void *arg)
{
    struct cs_slot *s = arg;
    atomic_fetch_add(&s->ran, 1);
    for (volatile unsigned i = 0; i < s->spin; i++) {
    }
    return arg;
}

START_TEST(stress_pool_cancel_vs_start)
{
    long n = TU_ROUNDS(20000);
    fut_pool_t *p = mkpool(2, 0);
    struct cs_slot *slot = calloc((size_t)n, sizeof *slot);
    future_t **fs = calloc((size_t)n, sizeof *fs);
    int *crc = calloc((size_t)n, sizeof *crc);
    ck_assert(slot && fs && crc);
    for (long i = 0; i < n; i++) {
        atomic_init(&slot[i].ran, 0);
        slot[i].spin = i % 3 == 1 ? 20000u : (unsigned)((i * 2654435761u) % 2048u);
        fs[i] = fut_pool_submit(p, cs_job, &slot[i]);
        ck_assert_ptr_nonnull(fs[i]);
        jitter(i, 0);
        if (i % 3 == 1) {
            /* wait until it starts (it then runs for a while), then cancel */
            for (unsigned k = 1; future_state(fs[i]) == FUTURE_PENDING; k++)
                if ((k & 1023) == 0)
                    sched_yield();
        }
        crc[i] = future_cancel(fs[i]);
    }
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    long cancelled = 0, busy = 0, late = 0;
    for (long i = 0; i < n; i++) {
        int r = atomic_load(&slot[i].ran);
        switch (crc[i]) {
        case 0:
            cancelled++;
            ck_assert_msg(r == 0, "job %ld ran after a successful cancel", i);
            tu_assert_state(fs[i], FUTURE_CANCELLED);
            break;
        case EBUSY:
            busy++;
            ck_assert_msg(r == 1, "job %ld: EBUSY but ran %d times", i, r);
            tu_assert_state(fs[i], FUTURE_DONE);
            break;
        case EINVAL:
            late++;
            ck_assert_msg(r == 1, "job %ld: complete but ran %d times", i, r);
            tu_assert_state(fs[i], FUTURE_DONE);
            break;
        default:
            ck_abort_msg("job %ld: cancel returned %d", i, crc[i]);
        }
        if (i % 3 == 1)
            ck_assert_msg(crc[i] != 0, "job %ld: started, yet cancel returned 0", i);
        future_release(fs[i]);
    }
    ck_assert_int_eq(cancelled + busy + late, n);
    printf("stress_pool_cancel_vs_start: %ld jobs: %ld cancelled before start, "
           "%ld running (EBUSY), %ld complete (EINVAL)\n", n, cancelled, busy, late);
    fut_pool_free(p);
    free(slot);
    free(fs);
    free(crc);
}
END_TEST

/* Cancel from another thread against a job that a pool thread is about
 * to run inline because it waits on it. */
struct ci {
    fut_pool_t *p;
    atomic_int ran;
    atomic_int cancel_rc;       /* -1 until the canceller has answered */
    future_t *child;
    pthread_barrier_t go;
};

static void *ci_parent_job(void *arg)
{
    struct ci *x = arg;
    x->child = fut_pool_submit(x->p, tu_count_job, &x->ran);
    if (!x->child)
        return fut_raise(errno);
    pthread_barrier_wait(&x->go);
    void *v = NULL;
    int rc = future_get(x->child, &v);
    return V(rc);
}

static void *ci_canceller(void *arg)
{
    struct ci *x = arg;
    pthread_barrier_wait(&x->go);
    atomic_store(&x->cancel_rc, future_cancel(x->child));
    return NULL;
}

START_TEST(stress_pool_cancel_vs_inline_run)
{
    long rounds = TU_ROUNDS(2000);
    fut_pool_t *p = mkpool(1, 0);
    for (long r = 0; r < rounds; r++) {
        struct ci x;
        x.p = p;
        atomic_init(&x.ran, 0);
        atomic_init(&x.cancel_rc, -1);
        x.child = NULL;
        pthread_barrier_init(&x.go, NULL, 2);
        pthread_t t = tu_thread(ci_canceller, &x);
        future_t *parent = fut_pool_submit(p, ci_parent_job, &x);
        void *v = SENTINEL;
        tu_assert_rc(future_get(parent, &v), 0);
        tu_join(t);
        int crc = atomic_load(&x.cancel_rc), got = (int)(intptr_t)v;
        if (crc == 0) {
            ck_assert_msg(got == ECANCELED, "round %ld: cancelled, parent got %d", r, got);
            tu_assert_state(x.child, FUTURE_CANCELLED);
        } else {
            ck_assert_msg(crc == EBUSY || crc == EINVAL, "round %ld: cancel %d", r, crc);
            ck_assert_int_eq(got, 0);
            tu_assert_state(x.child, FUTURE_DONE);
        }
        future_release(parent);
        /* the queue entry of an inline-run or cancelled child is gone
         * once a later job has run */
        future_t *after = fut_pool_submit(p, tu_identity_job, NULL);
        tu_assert_rc(future_get(after, NULL), 0);
        future_release(after);
        ck_assert_int_eq(atomic_load(&x.ran), crc == 0 ? 0 : 1);
        future_release(x.child);
        pthread_barrier_destroy(&x.go);
    }
    fut_pool_free(p);
}
END_TEST

/* Several threads submit to a small bounded queue at once. */
struct sub {
    fut_pool_t *p;
    long n;
    atomic_int *ran;
    int failed;
};

static void *sub_main(void *arg)
{
    struct sub *s = arg;
    future_t *batch[64];
    int k = 0;
    for (long i = 0; i < s->n; i++) {
        /* odd: a submit that waits for room; even: try first, then wait */
        future_t *f = NULL;
        if (i & 1) {
            f = fut_pool_submit(s->p, tu_count_job, s->ran);
        } else {
            f = fut_pool_try_submit(s->p, tu_count_job, s->ran);
            if (!f && errno == EAGAIN)
                f = fut_pool_submit(s->p, tu_count_job, s->ran);
        }
        if (!f) {
            s->failed++;
            continue;
        }
        batch[k++] = f;
        if (k == 64 || i == s->n - 1) {
            if (future_gather(batch, (size_t)k, NULL, FUT_FOREVER) != 0)
                s->failed++;
            for (int j = 0; j < k; j++)
                future_release(batch[j]);
            k = 0;
        }
    }
    return NULL;
}

START_TEST(stress_pool_bounded_submitters)
{
    enum { T = 3 };
    long n = TU_ROUNDS(6000);
    fut_pool_t *p = mkpool(2, 4);
    atomic_int ran = 0;
    struct sub s[T];
    pthread_t t[T];
    for (int i = 0; i < T; i++) {
        s[i] = (struct sub){ p, n, &ran, 0 };
        t[i] = tu_thread(sub_main, &s[i]);
    }
    for (int i = 0; i < T; i++) {
        tu_join(t[i]);
        ck_assert_int_eq(s[i].failed, 0);
    }
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    ck_assert_int_eq(atomic_load(&ran), T * n);
    fut_pool_free(p);
}
END_TEST

/* Shutdown against submit: every future a submit returned ends complete,
 * a FUT_DRAIN runs all of them, and a FUT_CANCEL never runs a cancelled
 * one.  Two submitters race the shutdown. */
#define SS_MAX 1000

struct ss {
    fut_pool_t *p;
    future_t *fs[SS_MAX];
    atomic_int ran[SS_MAX];
    long n;
    atomic_long submitted;
    int last_errno;
    atomic_int finished;
};

static void *ss_main(void *arg)
{
    struct ss *s = arg;
    for (s->n = 0; s->n < SS_MAX; s->n++) {
        future_t *f = fut_pool_submit(s->p, tu_count_job, &s->ran[s->n]);
        if (!f) {
            s->last_errno = errno;
            break;
        }
        s->fs[s->n] = f;
        atomic_store(&s->submitted, s->n + 1);
    }
    atomic_store(&s->finished, 1);
    return NULL;
}

START_TEST(stress_pool_shutdown_vs_submit)
{
    long rounds = TU_ROUNDS(300);
    struct ss *s = calloc(2, sizeof *s);
    ck_assert_ptr_nonnull(s);
    for (long r = 0; r < rounds; r++) {
        fut_pool_t *p = mkpool(2, r % 3 == 2 ? 8 : 0);
        pthread_t t[2];
        for (int k = 0; k < 2; k++) {
            s[k].p = p;
            s[k].n = 0;
            s[k].last_errno = 0;
            atomic_store(&s[k].submitted, 0);
            atomic_store(&s[k].finished, 0);
            for (long i = 0; i < SS_MAX; i++)
                atomic_store(&s[k].ran[i], 0);
            t[k] = tu_thread(ss_main, &s[k]);
        }
        long want = 10 + (r * 37) % 200;
        while (atomic_load(&s[0].submitted) < want && !atomic_load(&s[0].finished))
            sched_yield();
        enum fut_shutdown how = (r & 1) ? FUT_CANCEL : FUT_DRAIN;
        tu_assert_rc(fut_pool_shutdown(p, how), 0);
        for (int k = 0; k < 2; k++) {
            tu_join(t[k]);
            if (s[k].n < SS_MAX)
                ck_assert_int_eq(s[k].last_errno, ESHUTDOWN);
            for (long i = 0; i < s[k].n; i++) {
                int st = (int)future_state(s[k].fs[i]);
                int rn = atomic_load(&s[k].ran[i]);
                if (how == FUT_DRAIN)
                    ck_assert_msg(st == FUTURE_DONE && rn == 1,
                                  "round %ld job %d/%ld: state %d ran %d", r, k, i, st, rn);
                else
                    ck_assert_msg((st == FUTURE_DONE && rn == 1) ||
                                  (st == FUTURE_CANCELLED && rn == 0),
                                  "round %ld job %d/%ld: state %d ran %d", r, k, i, st, rn);
                future_release(s[k].fs[i]);
            }
        }
        fut_pool_free(p);
    }
    free(s);
}
END_TEST

/* The bound is exact: with the only thread held, concurrent try-submits
 * get exactly queue_max jobs in, however they interleave. */
struct bx {
    fut_pool_t *p;
    atomic_int ok;
    atomic_int other_err;
    future_t *got[4][64];
    int ngot[4];
};

static void bx_round(struct crew *c, int who, long r)
{
    struct bx *x = c->ctx;
    x->ngot[who] = 0;
    jitter(r, who);
    for (int i = 0; i < 50; i++) {
        errno = 0;
        future_t *f = fut_pool_try_submit(x->p, tu_identity_job, V(i));
        if (f) {
            atomic_fetch_add(&x->ok, 1);
            if (x->ngot[who] < 64)
                x->got[who][x->ngot[who]++] = f;
            else
                future_release(f);
        } else if (errno != EAGAIN) {
            atomic_store(&x->other_err, errno);
        }
    }
}

START_TEST(stress_pool_bound_exact_under_concurrent_try_submit)
{
    long rounds = TU_ROUNDS(1000);
    const size_t qmax = 3;
    struct bx x;
    memset(&x, 0, sizeof x);
    x.p = mkpool(1, qmax);
    struct crew c;
    crew_start(&c, 4, rounds, bx_round, &x);
    for (long r = 0; r < rounds; r++) {
        tu_blocker b;
        tu_blocker_init(&b, NULL);
        future_t *a = fut_pool_submit(x.p, tu_blocker_job, &b);
        ck_assert_ptr_nonnull(a);
        ck_assert(tu_gate_wait_ms(&b.started, 60000));
        atomic_store(&x.ok, 0);
        pthread_barrier_wait(&c.start);
        pthread_barrier_wait(&c.end);
        ck_assert_int_eq(atomic_load(&x.other_err), 0);
        ck_assert_msg(atomic_load(&x.ok) == (int)qmax, "round %ld: %d jobs got into a queue of %zu",
                      r, atomic_load(&x.ok), qmax);
        tu_gate_open(&b.release);
        tu_assert_rc(future_get(a, NULL), 0);
        for (int k = 0; k < 4; k++) {
            for (int i = 0; i < x.ngot[k]; i++) {
                tu_assert_rc(future_get(x.got[k][i], NULL), 0);
                future_release(x.got[k][i]);
            }
        }
        future_release(a);
        tu_blocker_destroy(&b);
    }
    crew_join(&c);
    fut_pool_free(x.p);
}
END_TEST

/* Nested waits: a tree of jobs, each waiting on its children, run many
 * times on a two-thread pool and on a bounded one. */
static fut_pool_t *tree_pool;

static void *tree_job(void *arg)
{
    long depth = (long)(intptr_t)arg;
    if (depth == 0)
        return V(1);
    future_t *fs[3];
    int k = 0;
    for (; k < 3; k++) {
        fs[k] = fut_pool_submit(tree_pool, tree_job, V(depth - 1));
        if (!fs[k])
            break;
    }
    void *vals[3] = { 0 };
    int rc = k == 3 ? future_gather(fs, 3, vals, FUT_FOREVER) : ENOMEM;
    for (int i = 0; i < k; i++)
        future_release(fs[i]);
    if (rc)
        return fut_raise(rc);
    return V((uintptr_t)vals[0] + (uintptr_t)vals[1] + (uintptr_t)vals[2]);
}

START_TEST(stress_pool_nested_trees)
{
    long rounds = TU_ROUNDS(100);
    for (int q = 0; q < 2; q++) {
        tree_pool = mkpool(2, q ? 2 : 0);
        for (long r = 0; r < rounds; r++) {
            future_t *f = fut_pool_submit(tree_pool, tree_job, V(5));   /* 3^5 leaves */
            int rc = future_wait(f, 60000);
            ck_assert_msg(rc == 0, "round %ld queue_max %d: %s", r, q ? 2 : 0, strerror(rc));
            void *v = NULL;
            tu_assert_rc(future_get(f, &v), 0);
            ck_assert_ptr_eq(v, V(243));
            future_release(f);
        }
        fut_pool_free(tree_pool);
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * Suite
 * ------------------------------------------------------------------- */

static Suite *stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = tu_tcase(s, "futures", 60);
    tcase_add_test(tc, stress_complete_vs_waiters);
    tcase_add_test(tc, stress_on_done_vs_complete_exactly_once);
    tcase_add_test(tc, stress_complete_vs_complete);
    tcase_add_test(tc, stress_release_vs_complete);
    tcase_add_test(tc, stress_gather_vs_completers);
    tcase_add_test(tc, stress_wait_any_vs_completer);
    tc = tu_tcase(s, "pool", 60);
    tcase_add_test(tc, stress_pool_cancel_vs_start);
    tcase_add_test(tc, stress_pool_cancel_vs_inline_run);
    tcase_add_test(tc, stress_pool_bounded_submitters);
    tcase_add_test(tc, stress_pool_shutdown_vs_submit);
    tcase_add_test(tc, stress_pool_bound_exact_under_concurrent_try_submit);
    tcase_add_test(tc, stress_pool_nested_trees);
    return s;
}

TU_MAIN(stress_suite)
