/* SPDX-License-Identifier: MIT */
/*
 * fuzz_api.c - libFuzzer harness: a sequence of API calls read from the
 * input, run against a model
 *
 *   make fuzz FUZZ_SECONDS=60        (clang, -fsanitize=fuzzer,address,undefined)
 *   build-fuzzer/fuzz/fuzz_api CRASH-FILE          replays one input
 *   FUZZ_SKIP=cb_take,thread_wait make fuzz        leaves parts out (below)
 *
 * The input is a program: each step is an opcode byte followed by its
 * argument bytes (a missing byte reads as 0).  It acts on 8 slots holding
 * futures (promises, pool jobs, coroutines, continuations), at most one
 * pool and one loop at a time (created on first use with shapes read from
 * the input), callbacks, short-lived waiting threads, and a table of calls
 * with bad arguments.  When the input ends, everything is completed and
 * torn down (promises cancelled, the loop and the pool freed) and checked:
 *
 *   - promises and their continuations: exactly as the model says (the
 *     harness completes promises on its own thread only, so the model is
 *     exact): the first completion wins and every later one is EINVAL;
 *   - jobs and coroutines: the body ran at most once, never after a cancel
 *     that returned 0 (nor after a completion by hand before it started),
 *     and the future holds the body's outcome, the winning hand
 *     completion's, or CANCELLED where cancelling was possible;
 *   - every callback ran exactly once, on a complete future;
 *   - gather and wait_any agree with the futures' outcomes;
 *   - the bad-argument calls return their documented codes;
 *   - nothing leaks (LeakSanitizer, after each input).
 *
 * Never a hang: every wait is bounded (0..2 ms), a future_get is made only
 * on a future known to end (complete, or a job of a running pool), and a
 * loop runs only until its main coroutine has yielded a few times.
 *
 * Adding an operation (channels, groups, I/O): write a step_* function that
 * reads its arguments with u8(), acts only on futures `usable()` returns,
 * keeps every wait bounded, and records in the model (struct fent, struct
 * body, struct cbrec) what finish() must check; give it the next opcode in
 * the switch of LLVMFuzzerTestOneInput and raise NOPS; add a seed to
 * fuzz/make_corpus.py (which lists the opcodes too) and rerun it.  Raising
 * NOPS re-maps the opcodes of saved inputs: the old corpus still runs, as
 * other programs.
 *
 * FUZZ_SKIP names parts that hit known library bugs, so the rest can be
 * fuzzed meanwhile: thread_wait (threads that wait once and exit),
 * coro_chains (long then-chains inside a coroutine), cb_take (a callback
 * dropping the last reference), cb_shutdown (a callback shutting down its
 * pool), loop_in_job (a loop in a pool job waiting on that pool),
 * einval_done (future_cancel's EINVAL means future_done() is true).
 */
#include <errno.h>
#include <inttypes.h>
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

#include "futures.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---------------------------------------------------------------------
 * Failing
 * ------------------------------------------------------------------- */

static _Noreturn __attribute__((format(printf, 2, 3))) void fail_at(int line, const char *fmt,
                                                                      ...);

#define FAIL(...) fail_at(__LINE__, __VA_ARGS__)
#define CHECK(c, ...)                                                         \
    do {                                                                      \
        if (!(c))                                                             \
            fail_at(__LINE__, "check failed: " #c ": " __VA_ARGS__);          \
    } while (0)

#include <stdarg.h>

static _Noreturn void fail_at(int line, const char *fmt, ...)
{
    fprintf(stderr, "\nfuzz_api: FAILED at fuzz_api.c:%d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

/* ---------------------------------------------------------------------
 * Skippable parts
 * ------------------------------------------------------------------- */

enum { P_THREAD_WAIT, P_CORO_CHAINS, P_CB_TAKE, P_CB_SHUTDOWN, P_LOOP_IN_JOB, P_EINVAL_DONE,
       P_COUNT };
static const char *const part_names[P_COUNT] = {
    "thread_wait", "coro_chains", "cb_take", "cb_shutdown", "loop_in_job", "einval_done",
};
static bool part_off[P_COUNT];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *s = getenv("FUZZ_SKIP");
    if (!s)
        return 0;
    for (int i = 0; i < P_COUNT; i++) {
        const char *p = strstr(s, part_names[i]);
        size_t n = strlen(part_names[i]);
        if (p && (p == s || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            part_off[i] = true;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * The input
 * ------------------------------------------------------------------- */

static const uint8_t *in;
static size_t in_len, in_pos;

static uint8_t u8(void)
{
    return in_pos < in_len ? in[in_pos++] : 0;
}

static long small_timeout(void)
{
    return (long)(u8() % 3);   /* 0, 1 or 2 ms */
}

static uintptr_t value_of(uint8_t b)
{
    return 0x10000u + (uintptr_t)b * 16u;
}

static int err_of(uint8_t b)
{
    static const int errs[] = { EIO, ENOENT, EEXIST, ERANGE, EILSEQ, EPIPE, ENOSPC, EACCES };
    return errs[b % 8];
}

/* ---------------------------------------------------------------------
 * The world of one input
 * ------------------------------------------------------------------- */

#define NOPS 24      /* opcodes: a step's first byte is taken modulo NOPS */
#define NSLOT 8
#define MAXF 256     /* futures one input may make */
#define MAXB 256     /* job and coroutine bodies */
#define MAXCB 64     /* callbacks */
#define MAXT 8       /* short-lived threads */

enum fkind { F_PROMISE, F_JOB, F_CORO, F_THEN, F_EXTRA };

/* A body: a job or a coroutine. */
struct body {
    bool coro;
    int how;              /* what it does (see run_job / run_coro) */
    uintptr_t value;
    int err;              /* raises err if non-zero */
    unsigned param;
    fut_pool_t *pool;     /* a job's pool (alive while the job runs) */
    atomic_int runs;
    struct fent *fe;      /* its future's entry */
    bool cancel_ok;       /* CANCELLED is a right outcome without a cancel of ours */
};

/* A future the input made. */
struct fent {
    future_t *f;          /* valid while refs > 0 or taken (see cb_take) */
    enum fkind kind;
    int refs;             /* references the steps hold (released by a step) */
    int xrefs;            /* internal ones: continuations' roots, callbacks'
                             targets, waiting threads */
    bool taken;           /* a callback holds our last reference (promise) */
    bool gone;            /* every reference dropped: f may be freed */
    /* the model, exact for promises and continuations of promises */
    bool done;            /* completed (as far as the model knows) */
    int hand;             /* the completion by hand that won: 0, 1 resolve, 2 fail, 3 cancel */
    uintptr_t hv;
    int he;
    bool cancel_won;      /* future_cancel returned 0 */
    struct body *b;       /* jobs and coroutines */
    /* continuations */
    struct fent *root;    /* F_THEN: the future it continues */
    future_t *root_f;     /* F_THEN: our reference to it */
    bool step_raises;
    atomic_int step_runs;
    int pool_gen;         /* F_JOB: the pool it went to */
};

enum cbkind { CB_COUNT, CB_RESOLVE, CB_CANCEL, CB_TAKE, CB_SUBMIT, CB_SHUTDOWN, CB_KINDS };

struct cbrec {
    enum cbkind kind;
    atomic_int runs;
    int bad;              /* ran on an incomplete future */
    struct fent *src;
    struct fent *target;  /* CB_RESOLVE / CB_CANCEL: a promise */
    future_t *target_f;   /* our extra reference to it, dropped by the callback */
    uintptr_t value;
    atomic_int rc;
    future_t *sub;        /* CB_SUBMIT: the job it made */
    struct body *sub_b;
    fut_pool_t *pool;     /* CB_SHUTDOWN */
};

struct waiter_thread {
    pthread_t t;
    future_t *f;          /* our reference */
    int rc;
};

static struct world {
    struct fent fents[MAXF];
    int nf;
    struct body bodies[MAXB];
    int nb;
    struct cbrec cbs[MAXCB];
    int ncb;
    struct waiter_thread thr[MAXT];
    struct fent *thr_e[MAXT];
    int nthr;
    int slot[NSLOT];          /* fent index, -1 empty */
    fut_pool_t *pool;
    int pool_gen;             /* bumped by each new pool */
    bool pool_shut;           /* shut down (or freed) */
    bool pool_cancelled[256]; /* by generation: a FUT_CANCEL shutdown happened */
    size_t pool_threads;
    fut_loop_t *loop;
    bool in_loop;             /* the loop runs (in this thread) */
} W;

static struct fent *new_fent(future_t *f, enum fkind k)
{
    if (W.nf >= MAXF)
        FAIL("too many futures");
    struct fent *e = &W.fents[W.nf++];
    memset(e, 0, sizeof *e);
    e->f = f;
    e->kind = k;
    e->refs = 1;
    atomic_init(&e->step_runs, 0);
    return e;
}

static struct body *new_body(bool coro)
{
    if (W.nb >= MAXB)
        return NULL;
    struct body *b = &W.bodies[W.nb++];
    memset(b, 0, sizeof *b);
    b->coro = coro;
    atomic_init(&b->runs, 0);
    return b;
}

static struct fent *slot_get(uint8_t s)
{
    int i = W.slot[s % NSLOT];
    return i < 0 ? NULL : &W.fents[i];
}

/* The future of slot s, if we may use it now. */
static struct fent *usable(uint8_t s)
{
    struct fent *e = slot_get(s);
    if (!e || e->gone)
        return NULL;
    if (e->refs == 0 && !(e->taken && !e->done))
        return NULL;
    return e;
}

static void slot_put(uint8_t s, struct fent *e)
{
    W.slot[s % NSLOT] = (int)(e - W.fents);
}

static bool exact(const struct fent *e)
{
    if (e->kind == F_PROMISE)
        return true;
    if (e->kind == F_THEN)
        return exact(e->root);
    return false;
}

/* ---------------------------------------------------------------------
 * The model of completions by hand (promises, continuations: exact)
 * ------------------------------------------------------------------- */

/* Marks e complete with an outcome (hand: 1 done with v, 2 failed with
 * err, 3 cancelled); then the continuations of e, whose steps run in the
 * same call (step_raises: fut_raise(EILSEQ), else value + 1). */
static void model_complete(struct fent *e, int hand, uintptr_t v, int err)
{
    e->done = true;
    e->hand = hand;
    e->hv = hand == 1 ? v : 0;
    e->he = hand == 2 ? err : hand == 3 ? ECANCELED : 0;
    if (e->taken)
        e->gone = true;   /* the callback dropped our last reference */
    for (int i = 0; i < W.nf; i++) {
        struct fent *t = &W.fents[i];
        if (t->kind != F_THEN || t->root != e || t->done)
            continue;
        if (hand != 1)
            model_complete(t, hand, 0, e->he);
        else if (t->step_raises)
            model_complete(t, 2, 0, EILSEQ);
        else
            model_complete(t, 1, v + 1, 0);
    }
}

/* Drops one reference of e's future (refs or xrefs as `internal`): the
 * last one of a promise not yet complete cancels it, and its callbacks
 * run now, in this thread. */
static void put_ref(struct fent *e, bool internal)
{
    if (internal)
        e->xrefs--;
    else
        e->refs--;
    future_t *f = e->f;
    bool last = e->refs == 0 && e->xrefs == 0 && !e->taken;
    if (last && exact(e) && !e->done && e->kind == F_PROMISE)
        model_complete(e, 3, 0, 0);
    if (last)
        e->gone = true;
    future_release(f);
}

/* A completion call on e by hand (action 1 resolve, 2 fail, 3 cancel). */
static void hand_complete(struct fent *e, int action, uintptr_t v, int err)
{
    bool was = e->done;
    bool ex = exact(e);
    int rc;
    future_t *f = e->f;
    /* The model first: the callbacks run inside the call may complete
     * other promises, whose callbacks may try this one again. */
    if (ex && !was) {
        if (action == 3)
            e->cancel_won = true;
        model_complete(e, action, v, err);
    }
    switch (action) {
    case 1: rc = future_resolve(f, (void *)v); break;
    case 2: rc = future_fail(f, err); break;
    default: rc = future_cancel(f); break;
    }
    if (ex) {
        int want = was ? EINVAL : 0;
        if (rc != want)
            FAIL("completion %d of a %s gave %d, the model says %d", action,
                 e->kind == F_PROMISE ? "promise" : "continuation", rc, want);
        return;
    }
    /* A job or a coroutine: racing its own completion. */
    if (action == 3) {
        if (rc == 0) {
            e->cancel_won = true;
            e->hand = e->hand ? e->hand : 3;
        } else if (rc == EINVAL) {
            if (!part_off[P_EINVAL_DONE])
                CHECK(future_done(f), "future_cancel said EINVAL on an incomplete future");
        } else {
            CHECK(rc == EBUSY && e->kind == F_JOB, "future_cancel on a %s gave %d",
                  e->kind == F_JOB ? "job" : "coroutine", rc);
        }
    } else if (rc == 0) {
        if (e->hand)
            FAIL("two completions by hand of one future both returned 0");
        e->hand = action;
        e->hv = v;
        e->he = err;
    } else {
        CHECK(rc == EINVAL, "completion by hand gave %d", rc);
    }
}

/* ---------------------------------------------------------------------
 * Bodies
 * ------------------------------------------------------------------- */

static void spin_us(unsigned us)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < (long)us);
}

static void *lij_inner(void *arg)
{
    return arg;
}

struct lij {
    fut_pool_t *pool;
    uintptr_t v;
};

static void *lij_main(void *arg)
{
    struct lij *l = arg;
    future_t *j = fut_pool_submit(l->pool, lij_inner, (void *)l->v);
    if (!j)
        return fut_raise(errno);
    int rc = future_wait(j, 2000);
    if (rc == ETIMEDOUT)
        FAIL("a loop running in a pool job waited 2 s on a job of that pool: the sleeping "
             "loop did not run the pool's queued jobs");
    void *v = NULL;
    rc = future_get(j, &v);
    future_release(j);
    return rc ? fut_raise(rc) : v;
}

static void *run_job(void *arg)
{
    struct body *b = arg;
    if (atomic_fetch_add(&b->runs, 1) != 0)
        FAIL("a job ran twice");
    switch (b->how) {
    case 0:
        break;
    case 1:
        spin_us(b->param % 50);
        break;
    case 2: {   /* a loop inside the job, waiting on a job of this pool */
        struct lij l = { b->pool, b->value };
        void *res = NULL;
        int rc = fut_run(lij_main, &l, &res);
        /* ESHUTDOWN: the pool stopped taking jobs; ECANCELED: a FUT_CANCEL
         * shutdown cancelled the inner job. */
        if (rc == 0)
            CHECK(res == (void *)b->value, "loop in job result");
        else
            CHECK(rc == ESHUTDOWN || rc == ECANCELED, "fut_run in a job: %d", rc);
        break;
    }
    default:
        break;
    }
    return b->err ? fut_raise(b->err) : (void *)b->value;
}

struct chainc {
    atomic_long ran;
};

static void *chain_step(void *value, void *arg)
{
    struct chainc *c = arg;
    long i = atomic_fetch_add(&c->ran, 1);
    if ((uintptr_t)value != 1000u + (uintptr_t)i)
        FAIL("chain step %ld got %p", i, value);
    return (void *)((uintptr_t)value + 1);
}

static void *child_coro(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    fut_yield();
    return (void *)(v + 1);
}

/* A coroutine: its script is b->how. */
static void *run_coro(void *arg)
{
    struct body *b = arg;
    if (atomic_fetch_add(&b->runs, 1) != 0)
        FAIL("a coroutine ran twice");
    CHECK(fut_in_coroutine(), "fut_in_coroutine() false in a coroutine");
    switch (b->how) {
    case 0:
        break;
    case 1:
        for (unsigned i = 0; i < b->param % 4 + 1; i++)
            if (fut_yield() == ECANCELED)
                break;
        break;
    case 2: {
        int rc = fut_sleep((long)(b->param % 2));
        CHECK(rc == 0 || rc == ECANCELED, "fut_sleep %d", rc);
        break;
    }
    case 3: {   /* a job of the pool, awaited */
        if (!W.pool || W.pool_shut || W.nf >= MAXF)
            break;
        struct body *jb = new_body(false);
        if (!jb)
            break;
        jb->value = b->value ^ 0x40;
        jb->pool = W.pool;
        future_t *j = fut_pool_submit(W.pool, run_job, jb);
        if (!j) {
            CHECK(errno == ECANCELED || errno == ESHUTDOWN, "submit in a coroutine: %d", errno);
            break;
        }
        struct fent *je = new_fent(j, F_JOB);
        je->b = jb;
        jb->fe = je;
        je->pool_gen = W.pool_gen;
        je->refs = 1;
        jb->cancel_ok = true;   /* the coroutine may be cancelled as a leftover */
        void *v = NULL;
        int rc = future_get(j, &v);
        if (rc == 0)
            CHECK(v == (void *)jb->value, "a job awaited in a coroutine gave %p", v);
        else
            CHECK(rc == ECANCELED, "future_get of a job in a coroutine: %d", rc);
        break;
    }
    case 4: {   /* a chain resolved here */
        long n = part_off[P_CORO_CHAINS] ? (long)(b->param % 64) + 1
                                         : (long)(b->param % 16) * 256 + 1;
        struct chainc c = { 0 };
        future_t *root = future_new();
        if (!root)
            break;
        future_t *prev = future_retain(root);
        for (long i = 0; i < n; i++) {
            future_t *next = future_then(prev, chain_step, &c);
            CHECK(next != NULL, "future_then");
            future_release(prev);
            prev = next;
        }
        CHECK(future_resolve(root, (void *)1000u) == 0, "resolve");
        CHECK(future_done(prev) && atomic_load(&c.ran) == n, "a chain of %ld in a coroutine", n);
        future_release(prev);
        future_release(root);
        break;
    }
    case 5: {   /* a child coroutine, awaited */
        future_t *ch = fut_spawn(child_coro, (void *)b->value);
        if (!ch) {
            CHECK(errno == ESHUTDOWN, "fut_spawn: %d", errno);
            break;
        }
        void *v = NULL;
        int rc = future_get(ch, &v);
        if (rc == 0)
            CHECK(v == (void *)(b->value + 1), "child coroutine value");
        else
            CHECK(rc == ECANCELED, "future_get of a child: %d", rc);
        future_release(ch);
        break;
    }
    default: {  /* timed waits on a slot's future */
        struct fent *e = usable((uint8_t)b->param);
        if (!e)
            break;
        future_t *f = future_retain(e->f);
        int rc = future_wait(f, (long)(b->param % 3));
        CHECK(rc == 0 || rc == ETIMEDOUT || rc == ECANCELED || rc == EDEADLK,
              "future_wait in a coroutine: %d", rc);
        if (rc == 0)
            CHECK(future_done(f), "wait 0 on an incomplete future");
        future_release(f);
        break;
    }
    }
    return b->err ? fut_raise(b->err) : (void *)b->value;
}

/* ---------------------------------------------------------------------
 * Callbacks
 * ------------------------------------------------------------------- */

static void cb_fn(future_t *f, void *arg)
{
    struct cbrec *c = arg;
    if (atomic_fetch_add(&c->runs, 1) != 0)
        FAIL("a callback ran twice");
    if (!future_done(f))
        c->bad = 1;
    switch (c->kind) {
    case CB_COUNT:
        break;
    case CB_RESOLVE:
    case CB_CANCEL:
        /* Only on promises: runs on this thread, the model is exact. */
        hand_complete(c->target, c->kind == CB_RESOLVE ? 1 : 3, c->value, 0);
        c->target_f = NULL;
        put_ref(c->target, true);
        break;
    case CB_TAKE:
        future_release(f);   /* our last reference: later callbacks still get f */
        break;
    case CB_SUBMIT:
        /* Only on promises: runs on this thread, W is ours to read. */
        if (W.pool && !W.pool_shut && c->sub_b) {
            c->sub_b->pool = W.pool;
            c->sub_b->fe->pool_gen = W.pool_gen;
            c->sub = fut_pool_submit(W.pool, run_job, c->sub_b);
            atomic_store(&c->rc, c->sub ? 0 : errno);
        }
        break;
    case CB_SHUTDOWN:
        atomic_store(&c->rc, fut_pool_shutdown(c->pool, FUT_CANCEL));
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------------
 * Short-lived waiting threads
 * ------------------------------------------------------------------- */

static void *waiter_main(void *arg)
{
    struct waiter_thread *t = arg;
    t->rc = future_wait(t->f, 2);
    return NULL;
}

/* ---------------------------------------------------------------------
 * Bad arguments: each returns its documented code
 * ------------------------------------------------------------------- */

static void *noop_job(void *a) { return a; }
static void noop_cb(future_t *f, void *a) { (void)f; (void)a; }
static void *noop_then(void *v, void *a) { (void)a; return v; }

static void bad_call(uint8_t which)
{
    future_t *p = future_new();
    if (!p)
        return;
    future_t *fs[2] = { p, NULL };
    size_t idx = 5;
    void *v = (void *)1;
    switch (which % 24) {
    case 0: CHECK(future_resolve(NULL, NULL) == EINVAL, ""); break;
    case 1: CHECK(future_fail(NULL, EIO) == EINVAL && future_fail(p, 0) == EINVAL &&
                  future_fail(p, -3) == EINVAL && !future_done(p), ""); break;
    case 2: CHECK(future_cancel(NULL) == EINVAL, ""); break;
    case 3: CHECK(future_wait(NULL, 0) == EINVAL && future_wait(p, -2) == EINVAL, ""); break;
    case 4: CHECK(future_get(NULL, &v) == EINVAL && v == NULL, ""); break;
    case 5: CHECK(future_gather(NULL, 1, NULL, 0) == EINVAL &&
                  future_gather(fs, 2, NULL, 0) == EINVAL &&
                  future_gather(fs, 1, NULL, -7) == EINVAL &&
                  future_gather(NULL, 0, NULL, 0) == 0, ""); break;
    case 6: CHECK(future_wait_any(fs, 0, 0, &idx) == EINVAL &&
                  future_wait_any(fs, 1, 0, NULL) == EINVAL &&
                  future_wait_any(fs, 2, 0, &idx) == EINVAL &&
                  future_wait_any(NULL, 1, 0, &idx) == EINVAL, ""); break;
    case 7: CHECK(future_on_done(NULL, noop_cb, NULL) == EINVAL &&
                  future_on_done(p, NULL, NULL) == EINVAL, ""); break;
    case 8:
        errno = 0;
        CHECK(future_then(NULL, noop_then, NULL) == NULL && errno == EINVAL, "");
        errno = 0;
        CHECK(future_then(p, NULL, NULL) == NULL && errno == EINVAL, "");
        break;
    case 9: CHECK(future_set_name(NULL, "x") == EINVAL && future_set_name(p, NULL) == EINVAL &&
                  future_set_name(p, "a") == 0 && future_set_name(p, "b") == EBUSY &&
                  strcmp(future_name(p), "a") == 0 && future_name(NULL) == NULL, ""); break;
    case 10: CHECK(future_state(NULL) == FUTURE_CANCELLED && !future_done(NULL) &&
                   future_retain(NULL) == NULL, "");
        future_release(NULL);
        break;
    case 11:
        errno = 0;
        CHECK(fut_pool_submit(NULL, noop_job, NULL) == NULL && errno == EINVAL, "");
        errno = 0;
        CHECK(fut_pool_try_submit(NULL, noop_job, NULL) == NULL && errno == EINVAL, "");
        if (W.pool) {
            errno = 0;
            CHECK(fut_pool_submit(W.pool, NULL, NULL) == NULL && errno == EINVAL, "");
        }
        break;
    case 12: CHECK(fut_pool_map(NULL, noop_job, (void *const *)fs, NULL, 1) == EINVAL &&
                   fut_pool_map(NULL, noop_job, NULL, NULL, 0) == 0, ""); break;
    case 13: CHECK(fut_pool_shutdown(NULL, FUT_DRAIN) == EINVAL, "");
        if (W.pool)
            CHECK(fut_pool_shutdown(W.pool, (enum fut_shutdown)7) == EINVAL, "");
        break;
    case 14: fut_pool_free(NULL);
        CHECK(fut_pool_threads(NULL) == 0, "");
        break;
    case 15: {
        fut_loop_opts o = { .stack_size = 1000 };
        errno = 0;
        CHECK(fut_loop_new(&o) == NULL && errno == EINVAL, "");
        break;
    }
    case 16:
        errno = 0;
        CHECK(fut_loop_spawn(NULL, noop_job, NULL) == NULL && errno == EINVAL, "");
        if (W.loop) {
            errno = 0;
            CHECK(fut_loop_spawn(W.loop, NULL, NULL) == NULL && errno == EINVAL, "");
        }
        break;
    case 17: CHECK(fut_loop_run(NULL, noop_job, NULL, &v) == EINVAL && v == NULL, "");
        if (W.loop)
            CHECK(fut_loop_run(W.loop, NULL, NULL, NULL) == EINVAL, "");
        break;
    case 18: fut_loop_free(NULL);
        CHECK(fut_run(NULL, NULL, NULL) == EINVAL, "");
        break;
    case 19:
        errno = 0;
        CHECK(fut_spawn(noop_job, NULL) == NULL && errno == EPERM, "");
        break;
    case 20: CHECK(fut_sleep(-1) == EINVAL && fut_yield() == 0 && !fut_in_coroutine() &&
                   fut_current() == NULL, ""); break;
    case 21: CHECK(fut_raise(5) == NULL && fut_raise(-1) == NULL, ""); break;
    case 22: CHECK(future_wait(p, 0) == ETIMEDOUT && future_gather(fs, 1, NULL, 0) == ETIMEDOUT &&
                   future_wait_any(fs, 1, 0, &idx) == ETIMEDOUT, ""); break;
    default:
        /* A second completion of every kind is EINVAL and changes nothing. */
        CHECK(future_resolve(p, (void *)7) == 0 && future_resolve(p, NULL) == EINVAL &&
              future_fail(p, EIO) == EINVAL && future_cancel(p) == EINVAL &&
              future_get(p, &v) == 0 && v == (void *)7, "");
        break;
    }
    future_release(p);
}

/* ---------------------------------------------------------------------
 * Steps
 * ------------------------------------------------------------------- */

static void ensure_pool(void)
{
    if (W.pool)
        return;
    uint8_t b = u8();
    fut_pool_opts o = { .threads = (size_t)(b % 2) + 1, .queue_max = (size_t)(b / 2 % 4),
                        .name = "fuzz" };
    W.pool = fut_pool_new(&o);
    if (!W.pool) {
        CHECK(errno == EAGAIN || errno == ENOMEM, "fut_pool_new: %d", errno);
        return;
    }
    W.pool_threads = o.threads;
    W.pool_gen = (W.pool_gen + 1) % 256;
    W.pool_cancelled[W.pool_gen] = false;
    W.pool_shut = false;
}

static void ensure_loop(void)
{
    if (W.loop)
        return;
    W.loop = fut_loop_new(NULL);
    CHECK(W.loop != NULL, "fut_loop_new: %d", errno);
}

static void step_submit(bool try_)
{
    uint8_t s = u8(), how = u8(), vb = u8();
    ensure_pool();
    if (!W.pool || W.nf >= MAXF)
        return;
    struct body *b = new_body(false);
    if (!b)
        return;
    b->how = how % 8 == 7 && !part_off[P_LOOP_IN_JOB] ? 2 : how % 2;
    b->param = how;
    b->value = value_of(vb);
    b->err = vb % 5 == 0 ? err_of(vb) : 0;
    /* Fill in fe before the job can run. */
    struct fent *e = new_fent(NULL, F_JOB);
    e->b = b;
    e->pool_gen = W.pool_gen;
    b->fe = e;
    b->pool = W.pool;
    future_t *f = try_ ? fut_pool_try_submit(W.pool, run_job, b)
                       : fut_pool_submit(W.pool, run_job, b);
    if (!f) {
        int want = W.pool_shut ? ESHUTDOWN : try_ ? EAGAIN : -1;
        CHECK(errno == want || (try_ && !W.pool_shut && errno == EAGAIN),
              "%s: errno %d", try_ ? "try_submit" : "submit", errno);
        W.nf--;   /* never used */
        W.nb--;
        return;
    }
    CHECK(!W.pool_shut, "a submit to a shut-down pool succeeded");
    e->f = f;
    slot_put(s, e);
}

static void step_spawn(void)
{
    uint8_t s = u8(), how = u8(), vb = u8();
    ensure_loop();
    if (W.nf >= MAXF)
        return;
    struct body *b = new_body(true);
    if (!b)
        return;
    b->how = how % 7;
    b->param = (unsigned)u8();
    b->value = value_of(vb);
    b->err = vb % 5 == 0 ? err_of(vb) : 0;
    b->cancel_ok = true;   /* a leftover of a run, or of fut_loop_free */
    struct fent *e = new_fent(NULL, F_CORO);
    e->b = b;
    b->fe = e;
    future_t *f = fut_loop_spawn(W.loop, run_coro, b);
    CHECK(f != NULL, "fut_loop_spawn: %d", errno);
    e->f = f;
    slot_put(s, e);
}

static void *loop_main(void *arg)
{
    unsigned n = (unsigned)(uintptr_t)arg;
    for (unsigned i = 0; i < n; i++)
        fut_yield();
    return (void *)(uintptr_t)0x77;
}

static void step_run_loop(void)
{
    unsigned n = u8() % 6;
    ensure_loop();
    void *res = NULL;
    W.in_loop = true;
    int rc = fut_loop_run(W.loop, loop_main, (void *)(uintptr_t)n, &res);
    W.in_loop = false;
    CHECK(rc == 0 && res == (void *)(uintptr_t)0x77, "fut_loop_run: %d", rc);
    /* Every coroutine spawned so far has run to its end, or was cancelled. */
    for (int i = 0; i < W.nf; i++) {
        struct fent *e = &W.fents[i];
        if (e->kind == F_CORO && !e->gone && e->refs > 0)
            CHECK(future_done(e->f), "a coroutine is not complete after fut_loop_run");
    }
}

static void step_wait(void)
{
    struct fent *e = usable(u8());
    long t = small_timeout();
    if (!e)
        return;
    int rc = future_wait(e->f, t);
    CHECK(rc == 0 || rc == ETIMEDOUT, "future_wait: %d", rc);
    if (rc == 0)
        CHECK(future_done(e->f), "future_wait 0 on an incomplete future");
    if (exact(e))
        CHECK((rc == 0) == e->done, "future_wait %d, the model says done=%d", rc, e->done);
}

/* A future_get that cannot hang: complete, or a job of a running pool
 * (not a then of one: its root may be a promise). */
static void step_get(void)
{
    struct fent *e = usable(u8());
    if (!e)
        return;
    bool ends = future_done(e->f) || (e->kind == F_JOB && W.pool && !W.pool_shut &&
                                      e->pool_gen == W.pool_gen);
    if (exact(e))
        ends = e->done;
    if (!ends)
        return;
    void *v = (void *)1;
    int rc = future_get(e->f, &v);
    CHECK(future_done(e->f), "future_get returned on an incomplete future");
    if (exact(e)) {
        int want = e->hand == 1 ? 0 : e->hand == 2 ? e->he : ECANCELED;
        CHECK(rc == want && (rc || v == (void *)e->hv),
              "future_get gave %d %p, the model %d %p", rc, v, want, (void *)e->hv);
    }
    if (rc)
        CHECK(v == NULL, "value not NULL on error");
}

static int outcome_of(future_t *f, void **v)
{
    void *x = NULL;
    int rc = future_get(f, &x);
    if (v)
        *v = x;
    return rc;
}

static void step_gather(bool any)
{
    uint8_t mask = u8();
    long t = small_timeout();
    future_t *fs[NSLOT];
    struct fent *es[NSLOT];
    size_t n = 0;
    for (int s = 0; s < NSLOT; s++) {
        if (!(mask & (1u << s)))
            continue;
        struct fent *e = usable((uint8_t)s);
        if (e) {
            es[n] = e;
            fs[n++] = e->f;
        }
    }
    if (n == 0)
        return;
    if (any) {
        size_t idx = 99;
        int rc = future_wait_any(fs, n, t, &idx);
        CHECK(rc == 0 || rc == ETIMEDOUT, "wait_any: %d", rc);
        if (rc == 0)
            CHECK(idx < n && future_done(fs[idx]), "wait_any index %zu", idx);
        else
            CHECK(idx == 99, "wait_any wrote the index and timed out");
        bool some_done = false;
        for (size_t i = 0; i < n; i++)
            some_done |= exact(es[i]) && es[i]->done;
        if (some_done)
            CHECK(rc == 0, "wait_any timed out with a complete future");
        return;
    }
    void *vals[NSLOT];
    for (size_t i = 0; i < n; i++)
        vals[i] = (void *)3;
    int rc = future_gather(fs, n, vals, t);
    if (rc == ETIMEDOUT) {
        for (size_t i = 0; i < n; i++)
            CHECK(vals[i] == (void *)3, "gather wrote values and timed out");
        bool all = true;
        for (size_t i = 0; i < n; i++)
            all &= future_done(fs[i]);
        (void)all;   /* may have completed since */
        return;
    }
    int want = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(future_done(fs[i]), "gather returned with an incomplete future");
        void *v;
        int r = outcome_of(fs[i], &v);
        if (r && !want)
            want = r;
        CHECK(vals[i] == v, "gather values[%zu]", i);
    }
    CHECK(rc == want, "gather gave %d, want %d", rc, want);
}

static void step_complete(int action)
{
    struct fent *e = usable(u8());
    uint8_t vb = u8();
    if (!e)
        return;
    hand_complete(e, action, value_of(vb), err_of(vb));
}

static void step_on_done(void)
{
    uint8_t s = u8(), k = u8(), ts = u8();
    struct fent *e = usable(s);
    if (!e || W.ncb >= MAXCB)
        return;
    struct cbrec *c = &W.cbs[W.ncb];
    memset(c, 0, sizeof *c);
    atomic_init(&c->runs, 0);
    c->kind = (enum cbkind)(k % CB_KINDS);
    c->src = e;
    c->value = value_of(k);
    atomic_init(&c->rc, -1);
    switch (c->kind) {
    case CB_RESOLVE:
    case CB_CANCEL: {
        /* Both ends promises: all on this thread. */
        struct fent *t = usable(ts);
        if (e->kind != F_PROMISE || !t || t->kind != F_PROMISE || t == e || t->refs == 0) {
            c->kind = CB_COUNT;
            break;
        }
        c->target = t;
        c->target_f = future_retain(t->f);
        t->xrefs++;
        break;
    }
    case CB_TAKE:
        if (part_off[P_CB_TAKE] || e->kind != F_PROMISE || e->refs != 1 || e->done) {
            c->kind = CB_COUNT;
            break;
        }
        e->refs = 0;
        e->taken = true;
        break;
    case CB_SUBMIT:
        if (e->kind != F_PROMISE || W.nf >= MAXF || !(c->sub_b = new_body(false))) {
            c->kind = CB_COUNT;
            break;
        }
        c->sub_b->value = c->value;
        {
            struct fent *se = new_fent(NULL, F_EXTRA);
            se->refs = 0;
            se->b = c->sub_b;
            c->sub_b->fe = se;
        }
        break;
    case CB_SHUTDOWN:
        if (part_off[P_CB_SHUTDOWN] || !W.pool || W.pool_shut || e->kind != F_JOB) {
            c->kind = CB_COUNT;
            break;
        }
        c->pool = W.pool;
        /* It may cancel any job of this pool. */
        W.pool_cancelled[W.pool_gen] = true;
        break;
    default:
        break;
    }
    W.ncb++;
    bool was = future_done(e->f);
    future_t *f = e->f;
    int rc = future_on_done(f, cb_fn, c);
    CHECK(rc == 0, "future_on_done: %d", rc);
    if (was)
        CHECK(atomic_load(&c->runs) == 1, "on_done on a complete future did not run at once");
}

static void *plus_one(void *v, void *a)
{
    (void)a;
    return (void *)((uintptr_t)v + 1);
}

static void *raise_step(void *v, void *a)
{
    (void)v;
    (void)a;
    return fut_raise(EILSEQ);
}

static void step_then(void)
{
    uint8_t s = u8(), d = u8(), k = u8();
    struct fent *e = usable(s);
    if (!e || W.nf >= MAXF)
        return;
    struct fent *t = new_fent(NULL, F_THEN);
    t->root = e;
    t->step_raises = k & 1;
    future_t *g = future_then(e->f, t->step_raises ? raise_step : plus_one, NULL);
    CHECK(g != NULL, "future_then: %d", errno);
    t->f = g;
    /* A continuation holds no reference to its root.  Only where the model
     * cannot say the root's outcome (a job, a coroutine) do we keep one, to
     * read it at the end. */
    if (!exact(e)) {
        t->root_f = future_retain(e->f);
        e->xrefs++;
    }
    if (exact(e) && e->done) {
        /* It ran at once, in this call. */
        if (e->hand != 1)
            model_complete(t, e->hand, 0, e->he);
        else if (t->step_raises)
            model_complete(t, 2, 0, EILSEQ);
        else
            model_complete(t, 1, e->hv + 1, 0);
    }
    slot_put(d, t);
}

static void step_release(void)
{
    uint8_t s = u8();
    struct fent *e = slot_get(s);
    if (!e || e->refs == 0)
        return;
    put_ref(e, false);
    if (e->refs == 0 && !e->taken)
        W.slot[s % NSLOT] = -1;
}

static void step_retain(void)
{
    struct fent *e = usable(u8());
    if (!e || e->refs == 0)
        return;
    CHECK(future_retain(e->f) == e->f, "future_retain");
    e->refs++;
}

static void step_shutdown(void)
{
    uint8_t m = u8();
    if (!W.pool)
        return;
    enum fut_shutdown how = m & 1 ? FUT_CANCEL : FUT_DRAIN;
    if (how == FUT_CANCEL)
        W.pool_cancelled[W.pool_gen] = true;
    int rc = fut_pool_shutdown(W.pool, how);
    CHECK(rc == 0, "fut_pool_shutdown: %d", rc);
    W.pool_shut = true;
    for (int i = 0; i < W.nf; i++) {
        struct fent *e = &W.fents[i];
        if (e->kind == F_JOB && e->pool_gen == W.pool_gen && e->refs > 0)
            CHECK(future_done(e->f), "a job is incomplete after its pool's shutdown");
    }
    errno = 0;
    CHECK(fut_pool_submit(W.pool, noop_job, NULL) == NULL && errno == ESHUTDOWN,
          "submit after shutdown");
}

static void step_pool_free(void)
{
    if (!W.pool)
        return;
    fut_pool_free(W.pool);
    W.pool = NULL;
    W.pool_shut = true;
}

static void step_loop_free(void)
{
    if (!W.loop)
        return;
    fut_loop_free(W.loop);
    W.loop = NULL;
    for (int i = 0; i < W.nf; i++) {
        struct fent *e = &W.fents[i];
        if (e->kind == F_CORO && e->refs > 0 && !e->gone)
            CHECK(future_done(e->f), "a coroutine is incomplete after fut_loop_free");
    }
}

static void step_map(void)
{
    uint8_t n = u8() % 6;
    ensure_pool();
    if (!W.pool)
        return;
    struct body *bs[6];
    void *args[6], *res[6];
    size_t k = 0;
    for (; k < n; k++) {
        if (W.nf >= MAXF || !(bs[k] = new_body(false)))
            break;
        bs[k]->value = value_of((uint8_t)(k * 7));
        bs[k]->err = k == 3 ? EIO : 0;
        struct fent *e = new_fent(NULL, F_EXTRA);
        e->refs = 0;
        e->b = bs[k];
        bs[k]->fe = e;
        args[k] = bs[k];
    }
    int rc = fut_pool_map(W.pool, run_job, args, res, k);
    if (W.pool_shut) {
        CHECK(k == 0 ? rc == 0 : rc == ESHUTDOWN, "map on a shut-down pool: %d", rc);
        return;
    }
    int want = 0;
    for (size_t i = 0; i < k; i++) {
        CHECK(atomic_load(&bs[i]->runs) == 1, "map: job %zu ran %d times", i,
              atomic_load(&bs[i]->runs));
        if (bs[i]->err) {
            want = want ? want : bs[i]->err;
            CHECK(res[i] == NULL, "map: failed result");
        } else {
            CHECK(res[i] == (void *)bs[i]->value, "map: result %zu", i);
        }
    }
    CHECK(rc == want, "fut_pool_map: %d, want %d", rc, want);
}

static void step_thread_wait(void)
{
    struct fent *e = usable(u8());
    if (!e || part_off[P_THREAD_WAIT] || W.nthr >= MAXT || e->refs == 0)
        return;
    struct waiter_thread *t = &W.thr[W.nthr];
    t->f = future_retain(e->f);
    t->rc = -1;
    if (pthread_create(&t->t, NULL, waiter_main, t) != 0) {
        future_release(t->f);
        return;
    }
    e->xrefs++;
    W.thr_e[W.nthr++] = e;
}

static void step_state(void)
{
    struct fent *e = usable(u8());
    if (!e)
        return;
    enum future_state st = future_state(e->f);
    bool d = future_done(e->f);
    CHECK(d == (st >= FUTURE_DONE), "future_done %d but state %d", d, (int)st);
    if (exact(e)) {
        CHECK(d == e->done, "done %d, the model %d", d, e->done);
        if (e->kind == F_PROMISE && !d)
            CHECK(st == FUTURE_PENDING, "an incomplete promise reads %d", (int)st);
    }
}

/* ---------------------------------------------------------------------
 * The end of an input: complete, tear down, check
 * ------------------------------------------------------------------- */

static void check_body(struct fent *e, future_t *f)
{
    struct body *b = e->b;
    int runs = atomic_load(&b->runs);
    CHECK(runs <= 1, "a body ran %d times", runs);
    void *v;
    int rc = outcome_of(f, &v);
    if (e->cancel_won && !b->coro)
        CHECK(runs == 0, "a job ran although future_cancel returned 0");
    if (e->hand && e->hand != 3) {
        /* Completed by hand first: the hand's outcome. */
        int want = e->hand == 1 ? 0 : e->he;
        CHECK(rc == want && (rc || v == (void *)e->hv), "a %s completed by hand gave %d",
              b->coro ? "coroutine" : "job", rc);
        return;
    }
    if (rc == ECANCELED) {
        bool ok = e->cancel_won || b->cancel_ok ||
                  (!b->coro && W.pool_cancelled[e->pool_gen]);
        CHECK(ok, "a %s ended CANCELLED but nobody could cancel it (runs %d)",
              b->coro ? "coroutine" : "job", runs);
        if (!b->coro)
            CHECK(runs == 0, "a job that ran ended CANCELLED");
        return;
    }
    CHECK(runs == 1, "a %s never ran but ended with %d", b->coro ? "coroutine" : "job", rc);
    int want = b->err;
    CHECK(rc == want && (rc || v == (void *)b->value), "a %s gave %d %p, its body %d %p",
          b->coro ? "coroutine" : "job", rc, v, want, (void *)b->value);
}

static void finish(void)
{
    /* Short-lived threads: bounded waits. */
    for (int i = 0; i < W.nthr; i++) {
        pthread_join(W.thr[i].t, NULL);
        CHECK(W.thr[i].rc == 0 || W.thr[i].rc == ETIMEDOUT, "a waiting thread got %d",
              W.thr[i].rc);
        put_ref(W.thr_e[i], true);
    }
    /* Promises: cancel what is still pending (callbacks run here). */
    for (int i = 0; i < W.nf; i++) {
        struct fent *e = &W.fents[i];
        if (e->kind == F_PROMISE && !e->done && !e->gone && (e->refs > 0 || e->taken))
            hand_complete(e, 3, 0, 0);
    }
    if (W.loop) {
        fut_loop_free(W.loop);
        W.loop = NULL;
    }
    if (W.pool) {
        fut_pool_free(W.pool);
        W.pool = NULL;
    }
    /* Callbacks: each ran once on a complete future. */
    for (int i = 0; i < W.ncb; i++) {
        struct cbrec *c = &W.cbs[i];
        int runs = atomic_load(&c->runs);
        CHECK(runs == 1, "a callback (kind %d) ran %d times", (int)c->kind, runs);
        CHECK(!c->bad, "a callback ran on an incomplete future");
        int crc = atomic_load(&c->rc);
        if (c->kind == CB_SHUTDOWN)
            CHECK(crc == 0 || crc == EDEADLK, "fut_pool_shutdown in a callback: %d", crc);
        if (c->kind == CB_SUBMIT && !c->sub)
            CHECK(crc == -1 || crc == ESHUTDOWN, "fut_pool_submit in a callback: %d", crc);
        if (c->sub) {
            CHECK(future_done(c->sub), "a job a callback submitted is incomplete");
            struct fent *se = c->sub_b->fe;
            check_body(se, c->sub);
            future_release(c->sub);
        }
    }
    /* Futures we still hold. */
    for (int i = 0; i < W.nf; i++) {
        struct fent *e = &W.fents[i];
        if (e->kind == F_EXTRA)
            continue;
        if (e->kind == F_JOB || e->kind == F_CORO) {
            int runs = atomic_load(&e->b->runs);
            CHECK(runs <= 1, "a body ran %d times", runs);
            if (e->cancel_won && !e->b->coro)
                CHECK(runs == 0, "a job ran although future_cancel returned 0");
        }
        if (e->refs == 0)
            goto root;
        CHECK(future_done(e->f), "a future is incomplete after the teardown (kind %d)",
              (int)e->kind);
        if (exact(e)) {
            void *v;
            int rc = outcome_of(e->f, &v);
            int want = e->hand == 1 ? 0 : e->hand == 2 ? e->he : ECANCELED;
            CHECK(rc == want && (rc || v == (void *)e->hv),
                  "a %s gave %d %p, the model %d %p",
                  e->kind == F_PROMISE ? "promise" : "continuation", rc, v, want,
                  (void *)e->hv);
        } else if (e->kind == F_JOB || e->kind == F_CORO) {
            check_body(e, e->f);
        } else if (e->kind == F_THEN) {
            /* A continuation of a job or a coroutine: from its root. */
            void *rv, *v;
            int rrc = outcome_of(e->root_f, &rv);
            int rc = outcome_of(e->f, &v);
            if (!e->cancel_won && e->hand == 0) {
                int want = rrc ? rrc : e->step_raises ? EILSEQ : 0;
                CHECK(rc == want && (rc || v == (void *)((uintptr_t)rv + 1)),
                      "a continuation gave %d %p, want %d (root %d %p)", rc, v, want, rrc, rv);
            }
        }
        while (e->refs > 0)
            put_ref(e, false);
    root:
        if (e->kind == F_THEN && e->root_f) {
            e->root_f = NULL;
            put_ref(e->root, true);
        }
    }
    for (int i = 0; i < W.nb; i++)
        CHECK(atomic_load(&W.bodies[i].runs) <= 1, "a body ran twice");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&W, 0, sizeof W);
    for (int s = 0; s < NSLOT; s++)
        W.slot[s] = -1;
    in = data;
    in_len = size;
    in_pos = 0;
    int steps = 0;
    while (in_pos < in_len && steps++ < 200) {
        uint8_t op = u8();
        switch (op % NOPS) {
        case 0: {
            uint8_t s = u8();
            if (W.nf < MAXF) {
                future_t *f = future_new();
                CHECK(f != NULL, "future_new");
                slot_put(s, new_fent(f, F_PROMISE));
            }
            break;
        }
        case 1: step_complete(1); break;
        case 2: step_complete(2); break;
        case 3: step_complete(3); break;
        case 4: step_submit(false); break;
        case 5: step_submit(true); break;
        case 6: step_spawn(); break;
        case 7: step_run_loop(); break;
        case 8: step_wait(); break;
        case 9: step_get(); break;
        case 10: step_gather(false); break;
        case 11: step_gather(true); break;
        case 12: step_on_done(); break;
        case 13: step_then(); break;
        case 14: step_release(); break;
        case 15: step_retain(); break;
        case 16: step_shutdown(); break;
        case 17: step_pool_free(); break;
        case 18: step_loop_free(); break;
        case 19: step_map(); break;
        case 20: bad_call(u8()); break;
        case 21: step_thread_wait(); break;
        case 22: step_state(); break;
        default: {
            struct fent *e = usable(u8());
            if (e && e->refs > 0) {
                int rc = future_set_name(e->f, "fuzz");
                CHECK(rc == 0 || rc == EBUSY, "future_set_name: %d", rc);
            }
            break;
        }
        }
        /* A callback may have shut the pool down. */
        for (int i = 0; i < W.ncb; i++)
            if (W.cbs[i].kind == CB_SHUTDOWN && W.cbs[i].pool == W.pool && W.pool &&
                atomic_load(&W.cbs[i].runs) && atomic_load(&W.cbs[i].rc) == 0)
                W.pool_shut = true;
    }
    finish();
    return 0;
}
