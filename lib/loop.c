/*
 * loop.c - the cooperative loop: one thread, many stackful coroutines
 *
 * A coroutine is a future of kind FUT__CORO plus, once started, a
 * struct fut__coro that lives at the top of its own stack (so a coroutine
 * that only sleeps touches one page: its control block and first frames).
 * Spawning makes only the future; the loop allocates the stack when it
 * first runs it, so a coroutine cancelled before it starts costs no stack.
 *
 * Phases of one turn of the loop (fut_loop_run):
 *
 *   1. remote    take what other threads handed over under loop->mu:
 *                new spawns, and wake-ups of waiting coroutines
 *   2. timers    make ready every waiting coroutine whose deadline passed
 *   3. run       switch to each coroutine ready now, in FIFO order
 *   4. finish    once main's future is complete, cancel every coroutine
 *                still alive (each runs to its end) and every spawn not
 *                yet started
 *   5. sleep     nothing ready: wait on loop->cv until the next deadline or
 *                a remote hand-over (no polling)
 *
 * Threads.  Everything is touched by the loop's thread only, except the
 * fields marked "guarded by mu": the remote lists, `sleeping`,
 * `finishing`, and future->coro.  Another thread never switches to a
 * coroutine: it hands the wake-up to the loop thread (PITFALLS: TLS
 * addresses cached across a switch would be wrong on another thread).
 *
 * Waking a waiting coroutine.  A waiting call registers a fut__waiter
 * (kind FUT__W_CORO) and suspends in fut__coro_wait.  A completer fires
 * it: on the loop thread it makes the coroutine ready directly; elsewhere
 * it queues the coroutine on loop->remote (deduplicated by remote_queued)
 * and signals the loop if it sleeps.  The loop acts on a queued wake-up
 * only if the coroutine is still WAITING and its current waiter has fired
 * or it was cancelled, so a late wake-up for an earlier wait is harmless.
 * A finished coroutine is taken off loop->remote before its memory goes.
 *
 * Cancellation.  future_cancel on a started coroutine sets cancel_req
 * (atomic) and wakes it through the remote path: its current and every
 * later waiting call returns ECANCELED, and its future ends CANCELLED.
 */
#include "internal.h"
#include "heap.h"
#include "stack.h"
#include "coro/ctx.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STACK (64u * 1024u)
/* A suspending coroutine switches straight to the next ready one (one
 * context switch instead of two through the scheduler), at most this many
 * times in a row: then the scheduler runs its other phases (remote
 * hand-over, timers), so they are delayed by at most that many steps. */
#define DIRECT_MAX 64
#define MIN_STACK (16u * 1024u)

enum coro_state {
    C_READY,     /* on the run queue */
    C_RUNNING,   /* executing (the loop's current) */
    C_WAITING,   /* suspended in fut__coro_wait */
    C_DONE       /* its body returned; freed by the scheduler */
};

struct fut__coro {
    struct fut__ctx ctx;            /* loop thread only */
    struct fut_loop *loop;          /* const */
    future_t *fut;                  /* const; the loop's reference */
    struct fut__task task;          /* fut_raise / EDEADLK context */
    struct fut__stack stack;        /* const */
    enum coro_state st;             /* loop thread only */
    struct fut__waiter *waiting;    /* the waiter it is suspended on; loop thread */
    int wake_reason;                /* 0, ETIMEDOUT, ECANCELED; loop thread */
    struct fut__hnode timer;        /* armed in loop->timers while a wait has
                                       a deadline */
    atomic_bool cancel_req;         /* set once by future_cancel, any thread */
    bool remote_queued;             /* on loop->remote; guarded by loop->mu */
    struct fut__coro *rnext, *rprev;    /* loop->remote links; guarded by loop->mu */
    struct fut__coro *lnext, *lprev;    /* loop->live links; loop thread */
};

struct fut_loop {
    struct fut__stacks stacks;      /* loop thread (or any thread while not running) */
    struct fut__ctx sched;          /* the scheduler's context */
    struct fut__task *outer_task;   /* the thread's task when run started */

    /* run queue: futures of new coroutines and of ready ones (qnext) */
    future_t *rq_head, *rq_tail;    /* loop thread */
    struct fut__coro *live;         /* started, not finished; loop thread */
    size_t nlive;                   /* loop thread */
    struct fut__heap timers;        /* loop thread */

    pthread_mutex_t mu;
    pthread_cond_t cv;              /* CLOCK_MONOTONIC; the loop sleeps here */
    future_t *new_head, *new_tail;  /* spawned by other threads; guarded by mu */
    struct fut__coro *remote;       /* wake-ups from other threads; guarded by mu */
    atomic_bool remote_pending;     /* new or remote non-empty: stored under
                                       mu, read without it as a hint */
    bool sleeping;                  /* the loop waits on cv; guarded by mu */
    bool finishing;                 /* run is cancelling leftovers; guarded by mu */
    atomic_bool running;            /* fut_loop_run in progress */

    uint64_t slow_ns;               /* debug: report steps longer than this; 0 off */
    unsigned direct_left;           /* direct switches left before the
                                       scheduler's turn; loop thread */
    bool direct_ok;                 /* direct switches allowed (not when
                                       steps are timed or traced) */
};

static FUT_TLS struct fut_loop *cur_loop;   /* the loop this thread runs */
static FUT_TLS struct fut__coro *cur_coro;  /* the coroutine running here */

struct fut__coro *fut__coro_self(void) { return cur_coro; }

bool fut_in_coroutine(void) { return cur_coro != NULL; }

/* ---------------------------------------------------------------------
 * Run queue and remote hand-over
 * ------------------------------------------------------------------- */

static void rq_push(struct fut_loop *l, future_t *f)
{
    fut__set_qnext(f, NULL);
    if (l->rq_tail)
        fut__set_qnext(l->rq_tail, f);
    else
        l->rq_head = f;
    l->rq_tail = f;
}

static future_t *rq_pop(struct fut_loop *l)
{
    future_t *f = l->rq_head;
    if (f) {
        l->rq_head = fut__qnext(f);
        if (!l->rq_head)
            l->rq_tail = NULL;
        fut__set_qnext(f, NULL);
    }
    return f;
}

static void make_ready(struct fut_loop *l, struct fut__coro *c, int reason)
{
    assert(c->st == C_WAITING);
    c->wake_reason = reason;
    c->st = C_READY;
    rq_push(l, c->fut);
}

/* Acts on a wake-up of c on the loop thread (see "Waking" at the top). */
static void consider_wake(struct fut_loop *l, struct fut__coro *c)
{
    if (c->st != C_WAITING)
        return;
    if (atomic_load_explicit(&c->cancel_req, memory_order_acquire))
        make_ready(l, c, ECANCELED);
    else if (c->waiting && atomic_load_explicit(&c->waiting->fired, memory_order_acquire))
        make_ready(l, c, 0);
}

static void remote_unlink(struct fut_loop *l, struct fut__coro *c)
{
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        l->remote = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    c->remote_queued = false;
}

/* Queues a wake-up of c for its loop and signals the loop if it sleeps.
 * l->mu held. */
static void remote_queue_locked(struct fut_loop *l, struct fut__coro *c)
{
    if (!c->remote_queued) {
        c->remote_queued = true;
        c->rprev = NULL;
        c->rnext = l->remote;
        if (l->remote)
            l->remote->rprev = c;
        l->remote = c;
        atomic_store_explicit(&l->remote_pending, true, memory_order_relaxed);
    }
    if (l->sleeping)
        pthread_cond_signal(&l->cv);
}

/* Hands a wake-up of c to its loop from another thread.  The caller
 * guarantees c is alive (it holds the lock of the future c waits on). */
static void remote_wake(struct fut_loop *l, struct fut__coro *c)
{
    pthread_mutex_lock(&l->mu);
    remote_queue_locked(l, c);
    pthread_mutex_unlock(&l->mu);
}

/* Phase 1: takes what other threads handed over.  Loop thread.  The
 * wake-ups are acted on under mu: once a coroutine's remote_queued flag is
 * clear another thread may queue it again, rewriting its links, so the
 * detached list must not be walked after the lock is dropped.
 * consider_wake touches only loop-thread data and atomics. */
static void drain_remote(struct fut_loop *l)
{
    pthread_mutex_lock(&l->mu);
    future_t *nf = l->new_head;
    l->new_head = l->new_tail = NULL;
    struct fut__coro *r = l->remote;
    l->remote = NULL;
    while (r) {
        struct fut__coro *next = r->rnext;
        r->remote_queued = false;
        consider_wake(l, r);
        r = next;
    }
    atomic_store_explicit(&l->remote_pending, false, memory_order_relaxed);
    pthread_mutex_unlock(&l->mu);
    while (nf) {
        future_t *next = fut__qnext(nf);
        rq_push(l, nf);
        nf = next;
    }
}

void fut__coro_wake(struct fut__coro *c)
{
    struct fut_loop *l = c->loop;
    if (cur_loop == l)
        consider_wake(l, c);
    else
        remote_wake(l, c);
}

/* ---------------------------------------------------------------------
 * Suspending
 * ------------------------------------------------------------------- */

/* Switches away from the running coroutine c, whose state the caller
 * has set (READY and queued, or WAITING): straight to the next ready
 * coroutine when that is allowed, else to the scheduler.  Whoever
 * switches to a coroutine sets cur_coro, its task and C_RUNNING; when the
 * scheduler regains control, cur_coro names the coroutine that gave it
 * back. */
static void suspend(struct fut_loop *l, struct fut__coro *c)
{
    future_t *f = l->rq_head;
    if (f && f->coro && l->direct_left &&
        !atomic_load_explicit(&l->remote_pending, memory_order_relaxed)) {
        l->direct_left--;
        rq_pop(l);
        struct fut__coro *n = f->coro;
        assert(n->st == C_READY);
        n->st = C_RUNNING;
        if (n == c)
            return;                    /* yielded with nobody else ready */
        cur_coro = n;
        fut__task_swap(&n->task);
        fut__ctx_switch(&c->ctx, &n->ctx);
        return;
    }
    l->direct_left = l->direct_ok ? DIRECT_MAX : 0;
    fut__ctx_switch(&c->ctx, &l->sched);
}

int fut__coro_cancelled(struct fut__coro *c)
{
    return atomic_load_explicit(&c->cancel_req, memory_order_acquire) ? ECANCELED : 0;
}

int fut__coro_wait(struct fut__coro *c, struct fut__waiter *w, uint64_t deadline)
{
    struct fut_loop *l = c->loop;
    assert(c == cur_coro && c->st == C_RUNNING);
    if (fut__coro_cancelled(c))
        return ECANCELED;
    if (atomic_load_explicit(&w->fired, memory_order_acquire))
        return 0;
    if (deadline != FUT_NO_DEADLINE && fut__heap_push(&l->timers, &c->timer, deadline))
        return ENOMEM;
    c->waiting = w;
    c->wake_reason = 0;
    /* A completer on another thread may fire w from now on; it queues a
     * remote wake-up that the scheduler handles after we switched away,
     * when st is WAITING: no wake-up is lost. */
    c->st = C_WAITING;
    suspend(l, c);
    /* Resumed by consider_wake, a timer or cancellation. */
    fut__heap_cancel(&l->timers, &c->timer);   /* if woken before it fired */
    c->waiting = NULL;
    return c->wake_reason;
}

int fut__coro_cancel(future_t *f)
{
    struct fut_loop *l = f->owner.loop;
    /* f is RUNNING, so its loop is running and alive.  f->coro is set and
     * cleared under l->mu, so c cannot be freed while we hold the lock. */
    pthread_mutex_lock(&l->mu);
    struct fut__coro *c = f->coro;
    if (!c) {
        /* Its body has returned and it is completing: too late. */
        pthread_mutex_unlock(&l->mu);
        return EINVAL;
    }
    atomic_store_explicit(&c->cancel_req, true, memory_order_release);
    bool here = cur_loop == l;
    if (!here)
        remote_queue_locked(l, c);
    pthread_mutex_unlock(&l->mu);
    if (here)
        consider_wake(l, c);   /* loop thread: c cannot finish meanwhile */
    return 0;
}

/* ---------------------------------------------------------------------
 * Starting, running and finishing coroutines
 * ------------------------------------------------------------------- */

static void coro_main(void *arg) __attribute__((noreturn));

static void coro_main(void *arg)
{
    struct fut__coro *c = arg;
    struct fut_loop *l = c->loop;
    future_t *f = c->fut;
    void *v = f->fn(f->arg);

    pthread_mutex_lock(&l->mu);
    f->coro = NULL;                    /* no cancel can reach c from now on */
    pthread_mutex_unlock(&l->mu);
    if (atomic_load_explicit(&c->cancel_req, memory_order_acquire))
        fut__complete(f, FUTURE_RUNNING, FUTURE_CANCELLED, NULL, ECANCELED);
    else if (c->task.raised)
        fut__complete(f, FUTURE_RUNNING, FUTURE_FAILED, NULL, c->task.raised);
    else
        fut__complete(f, FUTURE_RUNNING, FUTURE_DONE, v, 0);
    c->st = C_DONE;
    fut__ctx_exit(&c->ctx, &l->sched);
    __builtin_unreachable();
}

/* Makes the coroutine for f, on a stack of its own.  NULL on ENOMEM. */
static struct fut__coro *coro_create(struct fut_loop *l, future_t *f)
{
    struct fut__stack st;
    if (fut__stack_get(&l->stacks, &st) != 0)
        return NULL;
    uintptr_t top = (uintptr_t)st.lo + st.size;
    struct fut__coro *c = (struct fut__coro *)((top - sizeof *c) & ~(uintptr_t)63);
    memset(c, 0, sizeof *c);
    c->loop = l;
    c->fut = f;
    c->task.fut = f;
    c->stack = st;
    c->st = C_READY;
    c->timer.seq = 0;
    atomic_init(&c->cancel_req, false);
    fut__ctx_make(&c->ctx, st.lo, (size_t)((uintptr_t)c - (uintptr_t)st.lo), coro_main, c);
    return c;
}

static void coro_destroy(struct fut_loop *l, struct fut__coro *c)
{
    future_t *f = c->fut;
    if (c->lprev)
        c->lprev->lnext = c->lnext;
    else
        l->live = c->lnext;
    if (c->lnext)
        c->lnext->lprev = c->lprev;
    l->nlive--;
    pthread_mutex_lock(&l->mu);
    if (c->remote_queued)
        remote_unlink(l, c);
    pthread_mutex_unlock(&l->mu);
    fut__heap_cancel(&l->timers, &c->timer);
    fut__ctx_release(&c->ctx);
    struct fut__stack st = c->stack;
    fut__stack_put(&l->stacks, &st);
    future_release(f);
}

/* Phase 3 for one entry of the run queue: start or resume it. */
static void run_one(struct fut_loop *l, future_t *f)
{
    struct fut__coro *c = f->coro;
    if (!c) {
        /* A new coroutine: make it, then start it unless it was cancelled
         * (or completed by hand) while queued. */
        if (future_done(f)) {
            future_release(f);
            return;
        }
        c = coro_create(l, f);
        if (!c) {
            fut__complete(f, FUTURE_PENDING, FUTURE_FAILED, NULL, ENOMEM);
            future_release(f);
            return;
        }
        pthread_mutex_lock(&l->mu);
        bool started = fut__start(f);
        if (started)
            f->coro = c;
        pthread_mutex_unlock(&l->mu);
        if (!started) {
            fut__ctx_release(&c->ctx);
            struct fut__stack st = c->stack;
            fut__stack_put(&l->stacks, &st);
            future_release(f);
            return;
        }
        c->lprev = NULL;
        c->lnext = l->live;
        if (l->live)
            l->live->lprev = c;
        l->live = c;
        l->nlive++;
        if (l->finishing)
            atomic_store_explicit(&c->cancel_req, true, memory_order_relaxed);
    }
    assert(c->st == C_READY);
    c->st = C_RUNNING;
    cur_coro = c;
    fut__task_swap(&c->task);
    bool tracing = fut__tracing();
    uint64_t t0 = l->slow_ns || tracing ? fut__now_ns() : 0;
    fut__ctx_switch(&l->sched, &c->ctx);
    /* Back from whichever coroutine gave control back (after direct
     * switches, not necessarily c); f is the one we started with. */
    c = cur_coro;
    if (FUT_UNLIKELY(tracing))
        fut__trace_slice(c->fut, t0);
    if (FUT_UNLIKELY(l->slow_ns)) {
        uint64_t dt = fut__now_ns() - t0;
        if (dt > l->slow_ns) {
            char buf[48];
            fut__future_label(c->fut, buf, sizeof buf);
            fprintf(stderr,
                    "libfutures: coroutine %s held the loop for %.1f ms without waiting "
                    "through the library (FUT_DEBUG_SLOW_MS=%.0f)\n",
                    buf, (double)dt / 1e6,
                    (double)l->slow_ns / 1e6);
        }
    }
    fut__task_swap(l->outer_task);
    cur_coro = NULL;
    if (c->st == C_DONE)
        coro_destroy(l, c);
}

/* Phase 2: wakes every waiting coroutine whose deadline has passed. */
static void run_timers(struct fut_loop *l)
{
    if (!l->timers.len)
        return;
    uint64_t now = fut__now_ns();
    struct fut__hnode *n;
    while ((n = fut__heap_pop_due(&l->timers, now))) {
        struct fut__coro *c = (struct fut__coro *)((char *)n - offsetof(struct fut__coro, timer));
        if (c->st == C_WAITING)
            make_ready(l, c, ETIMEDOUT);
    }
}

/* Phase 4: cancel everything still alive or queued once main is done. */
static void begin_finish(struct fut_loop *l)
{
    pthread_mutex_lock(&l->mu);
    l->finishing = true;
    pthread_mutex_unlock(&l->mu);
    drain_remote(l);
    for (struct fut__coro *c = l->live; c; c = c->lnext) {
        atomic_store_explicit(&c->cancel_req, true, memory_order_release);
        if (c->st == C_WAITING)
            make_ready(l, c, ECANCELED);
    }
    for (future_t *f = l->rq_head; f; f = fut__qnext(f))
        if (!f->coro)
            fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
}

/* Phase 5: sleeps until the next deadline or a remote hand-over. */
static void loop_sleep(struct fut_loop *l)
{
    const struct fut__hent *e = fut__heap_min(&l->timers);
    uint64_t deadline = e ? e->when : FUT_NO_DEADLINE;
    pthread_mutex_lock(&l->mu);
    if (!l->new_head && !l->remote) {
        l->sleeping = true;
        if (deadline == FUT_NO_DEADLINE) {
            pthread_cond_wait(&l->cv, &l->mu);
        } else {
            struct timespec ts = fut__timespec(deadline);
            pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        }
        l->sleeping = false;
    }
    pthread_mutex_unlock(&l->mu);
}

/* ---------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------- */

fut_loop_t *fut_loop_new(const fut_loop_opts *opts)
{
    size_t ss = opts && opts->stack_size ? opts->stack_size : DEFAULT_STACK;
    if (ss < MIN_STACK) {
        errno = EINVAL;
        return NULL;
    }
    struct fut_loop *l = fut__calloc(1, sizeof *l);
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    int rc = fut__stacks_init(&l->stacks, ss);
    if (rc) {
        free(l);
        errno = rc;
        return NULL;
    }
    pthread_condattr_t ca;
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        goto fail_stacks;
    if (pthread_condattr_init(&ca) != 0)
        goto fail_mu;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        goto fail_mu;
    atomic_init(&l->remote_pending, false);
    atomic_init(&l->running, false);
    fut__trace_setup();
    /* Traced or timed, every step must come back to the scheduler. */
    l->direct_ok = !fut__tracing();
    const char *dbg = getenv("FUT_DEBUG_SLOW_MS");
    if (dbg) {
        long ms = strtol(dbg, NULL, 10);
        l->slow_ns = ms > 0 ? (uint64_t)ms * 1000000u : 100000000u;
        l->direct_ok = false;          /* every step is timed by run_one */
    }
    return l;
fail_mu:
    pthread_mutex_destroy(&l->mu);
fail_stacks:
    fut__stacks_destroy(&l->stacks);
    free(l);
    errno = ENOMEM;
    return NULL;
}

future_t *fut_loop_spawn(fut_loop_t *l, fut_fn fn, void *arg)
{
    if (!l || !fn) {
        errno = EINVAL;
        return NULL;
    }
    future_t *f = fut__future_alloc(FUT__CORO);
    if (!f)
        return NULL;
    f->fn = fn;
    f->arg = arg;
    f->owner.loop = l;
    atomic_store_explicit(&f->refs, 2, memory_order_relaxed);   /* caller + loop */
    pthread_mutex_lock(&l->mu);
    if (l->finishing) {
        pthread_mutex_unlock(&l->mu);
        atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
        future_release(f);             /* cancels it: never queued */
        errno = ESHUTDOWN;
        return NULL;
    }
    if (cur_loop == l) {
        pthread_mutex_unlock(&l->mu);
        rq_push(l, f);
        return f;
    }
    fut__set_qnext(f, NULL);
    if (l->new_tail)
        fut__set_qnext(l->new_tail, f);
    else
        l->new_head = f;
    l->new_tail = f;
    atomic_store_explicit(&l->remote_pending, true, memory_order_relaxed);
    if (l->sleeping)
        pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return f;
}

future_t *fut_spawn(fut_fn fn, void *arg)
{
    if (!cur_coro) {
        errno = EPERM;
        return NULL;
    }
    return fut_loop_spawn(cur_coro->loop, fn, arg);
}

int fut_loop_run(fut_loop_t *l, fut_fn main_fn, void *arg, void **result)
{
    if (result)
        *result = NULL;
    if (!l || !main_fn)
        return EINVAL;
    if (cur_coro)
        return EPERM;
    bool expect = false;
    if (!atomic_compare_exchange_strong(&l->running, &expect, true))
        return EBUSY;
    future_t *mainf = fut_loop_spawn(l, main_fn, arg);
    if (!mainf) {
        int e = errno;
        atomic_store(&l->running, false);
        return e;
    }
    int trc = fut__stacks_thread_init();
    (void)trc;   /* without an alternate signal stack, overflow reports are lost; the loop still runs */
    struct fut_loop *outer_loop = cur_loop;
    cur_loop = l;
    l->outer_task = fut__task_current();
    fut__ctx_self(&l->sched);

    bool finishing = false;
    for (;;) {
        if (atomic_load_explicit(&l->remote_pending, memory_order_relaxed))
            drain_remote(l);
        run_timers(l);
        /* Checked every turn, not only when idle: a leftover that keeps
         * yielding is always ready and must still be cancelled. */
        if (!finishing && future_done(mainf)) {
            finishing = true;
            begin_finish(l);
        }
        future_t *f = rq_pop(l);
        if (f) {
            run_one(l, f);
            continue;
        }
        if (finishing && l->nlive == 0 && !l->rq_head) {
            pthread_mutex_lock(&l->mu);
            bool more = l->new_head != NULL || l->remote != NULL;
            pthread_mutex_unlock(&l->mu);
            if (!more)
                break;
            continue;
        }
        loop_sleep(l);
    }

    pthread_mutex_lock(&l->mu);
    l->finishing = false;
    pthread_mutex_unlock(&l->mu);
    fut__ctx_release(&l->sched);
    if (trc == 0)
        fut__stacks_thread_fini();
    cur_loop = outer_loop;
    atomic_store(&l->running, false);
    int rc = future_get(mainf, result);
    future_release(mainf);
    return rc;
}

void fut_loop_free(fut_loop_t *l)
{
    if (!l)
        return;
    if (atomic_load(&l->running)) {
        errno = EBUSY;                 /* freeing a running loop: refuse, leak */
        return;
    }
    /* Spawns that never ran: cancel them so their waiters wake. */
    future_t *f = l->new_head;
    while (f) {
        future_t *next = fut__qnext(f);
        fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
        future_release(f);
        f = next;
    }
    fut__heap_free(&l->timers);
    fut__stacks_destroy(&l->stacks);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int fut_run(fut_fn main_fn, void *arg, void **result)
{
    if (result)
        *result = NULL;
    if (!main_fn)
        return EINVAL;
    if (cur_coro)
        return EPERM;
    fut_loop_t *l = fut_loop_new(NULL);
    if (!l)
        return errno;
    int rc = fut_loop_run(l, main_fn, arg, result);
    fut_loop_free(l);
    return rc;
}

int fut_sleep(long ms)
{
    if (ms < 0)
        return EINVAL;
    struct fut__coro *c = cur_coro;
    if (!c) {
        uint64_t dl = fut__deadline(ms);
        struct timespec ts = fut__timespec(dl);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        return 0;
    }
    if (ms == 0)
        return fut_yield();
    struct fut__waiter w;
    fut__waiter_init(&w, 1);          /* never fired: only the timer ends it */
    int rc = fut__coro_wait(c, &w, fut__deadline(ms));
    return rc == ETIMEDOUT ? 0 : rc;
}

int fut_yield(void)
{
    struct fut__coro *c = cur_coro;
    if (!c) {
        sched_yield();
        return 0;
    }
    int rc = fut__coro_cancelled(c);
    if (rc)
        return rc;
    struct fut_loop *l = c->loop;
    c->st = C_READY;
    rq_push(l, c->fut);
    suspend(l, c);
    return fut__coro_cancelled(c);
}
