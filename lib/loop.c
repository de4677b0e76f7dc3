/* SPDX-License-Identifier: MIT */
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
 *   5. sleep     nothing ready: sleep until the next deadline, a ready
 *                descriptor or a remote hand-over.  On a plain thread that
 *                is one epoll_wait on the loop's epoll set (ioset.c), the
 *                next timer giving its timeout; remote hand-overs write the
 *                set's eventfd.  A loop run inside a pool job sleeps through
 *                the worker's scheduler instead, which keeps running the
 *                pool's jobs (see loop_sleep for its descriptors)
 *
 * Descriptors.  A coroutine waiting on a descriptor (the scheduler's fd_wait,
 * for io.c) links a fut__fdwait, which embeds the core's waiter node, into
 * the loop's epoll set and suspends in coro_block like any other wait; the
 * loop collects readiness once per turn while coroutines wait on
 * descriptors (with a zero timeout when others are ready to run) and in
 * phase 5, and notifies the waiters, which makes them ready.
 *
 * The loop as the core sees it: an executor (struct fut__exec: cancelling
 * a started coroutine wakes it with ECANCELED) and, while a coroutine runs,
 * the thread's scheduler (struct fut__sched: a wait suspends the running
 * coroutine).  Between coroutines the thread's scheduler is the one it had
 * before fut_loop_run (`outer`).
 *
 * Threads.  Everything is touched by the loop's thread only, except the
 * fields marked "guarded by mu": the spawn and remote hand-over lists,
 * `sleeper`, `finishing`, and future->xdata (the coroutine).  Another
 * thread never switches to a coroutine: it hands the wake-up to the loop
 * thread (PITFALLS: TLS addresses cached across a switch would be wrong on
 * another thread).
 *
 * Waking a waiting coroutine.  A waiting call registers a fut__waiter and
 * suspends in coro_block.  Its firer, on the loop thread, publishes fired
 * and makes the coroutine ready directly; on another thread it does both
 * under loop->mu, queueing the coroutine on loop->remote (deduplicated by
 * its `on` flag) and waking the loop if it sleeps.  That lock is what makes
 * the coroutine's waiter safe to leave: the coroutine settles a committed
 * wake-up by taking loop->mu (coro_settle), and a finished coroutine is
 * taken off loop->remote under loop->mu before its stack goes.  The loop
 * acts on a queued wake-up only if the coroutine is still WAITING and its
 * current waiter has fired or it was cancelled, so a late wake-up for an
 * earlier wait is harmless.
 *
 * Cancellation.  future_cancel on a started coroutine sets cancel_req
 * (atomic) and wakes it through the remote path: its current and every
 * later waiting call returns ECANCELED, and its future ends CANCELLED.
 * The first waiting call to return ECANCELED delivers the cancellation
 * (cancel_delivered): the core's future_get and future_gather then cancel
 * what they were given (the scheduler's `deliver`), later calls do not.
 * While the coroutine's shield is on (fut_cancel_shield, or the core's own
 * waits that must finish, through the scheduler's `shield`), the
 * cancellation is neither delivered nor wakes it: consider_wake and
 * coro_block look at `shielded`, and a cancellation that arrived meanwhile
 * is delivered by the first waiting call after the shield goes off.
 */
#include "internal.h"
#include "heap.h"
#include "ioset.h"
#include "stack.h"
#include "coro/ctx.h"

#include <poll.h>
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
/* A loop nested in a pool job with coroutines waiting on descriptors cannot
 * sleep in epoll_wait (the worker must keep running jobs): it re-checks its
 * descriptors after this long, doubling up to the max while idle. */
#define NESTED_RECHECK_FIRST_NS 1000000u
#define NESTED_RECHECK_MAX_NS 10000000u

enum coro_state {
    C_READY,     /* on the run queue */
    C_RUNNING,   /* executing (the loop's current) */
    C_WAITING,   /* suspended in coro_block */
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
    bool cancel_delivered;          /* a waiting call returned ECANCELED
                                       for cancel_req; loop thread */
    bool shielded;                  /* fut_cancel_shield: cancel_req does not
                                       interrupt its waits; off at start, set
                                       by the coroutine itself; loop thread */
    struct fut__dnode rlink;        /* on loop->remote; guarded by loop->mu */
    struct fut__dnode llink;        /* on loop->live; loop thread */
    struct fut__cbstate cbs;        /* its callback trampoline while it is
                                       suspended inside a callback; loop
                                       thread */
};

struct fut_loop {
    struct fut__exec exec;          /* what the core sees of the loop's
                                       futures; const */
    struct fut__sched sched;        /* the thread's scheduler while a
                                       coroutine runs; outer set by run */
    struct fut__stacks stacks;      /* loop thread (or any thread while not running) */
    struct fut__ctx sched_ctx;      /* the scheduler's context */
    struct fut__task *outer_task;   /* the thread's task when run started */
    _Atomic(struct fut__thread *) thread;   /* the thread running the loop,
                                       NULL when not running; written by it */
    struct fut__coro *current;      /* the coroutine running; loop thread */

    struct fut__fifo rq;            /* futures of new coroutines and of
                                       ready ones (qnext); loop thread */
    struct fut__dlist live;         /* started, not finished; loop thread */
    size_t nlive;                   /* loop thread */
    size_t nnew;                    /* spawned on the loop thread and not yet
                                       taken off rq: how many stacks are
                                       wanted soon (a hint); loop thread */
    struct fut__heap timers;        /* loop thread */
    bool in_sleep;                  /* phase 5 in progress; loop thread */
    struct fut__ioset io;           /* epoll set and eventfd: loop thread,
                                       but the eventfd is written by anyone */
    uint64_t nested_recheck;        /* loop_sleep in a pool job; loop thread */

    pthread_mutex_t mu;
    struct fut__fifo spawned;       /* spawned by other threads; guarded by mu */
    struct fut__dlist remote;       /* wake-ups from other threads
                                       (fut__coro.rlink); guarded by mu */
    atomic_bool remote_pending;     /* spawned or remote non-empty: stored
                                       under mu, read without it as a hint */
    struct fut__wnode *sleeper;     /* the loop's waiter while it sleeps in
                                       phase 5; guarded by mu */
    bool finishing;                 /* run is cancelling leftovers; guarded by mu */
    atomic_bool running;            /* fut_loop_run in progress */

    uint64_t slow_ns;               /* debug: report steps longer than this; 0 off */
    unsigned direct_left;           /* direct switches left before the
                                       scheduler's turn; loop thread */
    bool direct_ok;                 /* direct switches allowed (not when
                                       steps are timed or traced) */
};

static const struct fut__sched_ops coro_ops;

/* The coroutine running on this thread, or NULL on a plain thread (or in
 * a loop's scheduler between coroutines). */
static struct fut__coro *coro_self(void)
{
    struct fut__sched *s = fut__self()->sched;
    if (s && s->ops == &coro_ops)
        return fut__container_of(s, struct fut_loop, sched)->current;
    return NULL;
}

static bool on_loop_thread(struct fut_loop *l)
{
    return atomic_load_explicit(&l->thread, memory_order_relaxed) == fut__self();
}

bool fut_in_coroutine(void) { return coro_self() != NULL; }

bool fut_cancel_shield(bool on)
{
    struct fut__coro *c = coro_self();
    if (!c)
        return false;
    bool old = c->shielded;
    c->shielded = on;
    return old;
}

/* ---------------------------------------------------------------------
 * Run queue, remote hand-over, the sleeper
 * ------------------------------------------------------------------- */

/* Takes the sleeping loop's waiter node off, for the caller to notify once
 * it has released mu.  mu held. */
static struct fut__wnode *take_sleeper_locked(struct fut_loop *l)
{
    struct fut__wnode *n = l->sleeper;
    l->sleeper = NULL;
    return n;
}

static void notify_sleeper(struct fut__wnode *n)
{
    if (n)
        fut__waiter_notify(n->w);
}

/* On the loop thread, in phase 5 only: a pool job run by the sleep (the
 * loop sleeps through a pool worker's scheduler) made something ready. */
static void wake_own_sleep(struct fut_loop *l)
{
    pthread_mutex_lock(&l->mu);
    struct fut__wnode *n = take_sleeper_locked(l);
    pthread_mutex_unlock(&l->mu);
    notify_sleeper(n);
}

/* Queues f to run, on the loop thread. */
static void rq_push(struct fut_loop *l, future_t *f)
{
    fut__fifo_push(&l->rq, f);
    if (FUT_UNLIKELY(l->in_sleep))
        wake_own_sleep(l);
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
    if (atomic_load_explicit(&c->cancel_req, memory_order_acquire) && !c->shielded)
        make_ready(l, c, ECANCELED);
    else if (c->waiting && fut__waiter_fired(c->waiting))
        make_ready(l, c, 0);
}

/* Queues a wake-up of c for its loop; returns the loop's sleeper to
 * notify after mu is released.  mu held. */
static struct fut__wnode *remote_queue_locked(struct fut_loop *l, struct fut__coro *c)
{
    if (!c->rlink.on) {
        fut__dlist_append(&l->remote, &c->rlink);
        atomic_store_explicit(&l->remote_pending, true, memory_order_relaxed);
    }
    return take_sleeper_locked(l);
}

/* Phase 1: takes what other threads handed over.  Loop thread.  The
 * wake-ups are acted on under mu: once a coroutine is off the remote list
 * another thread may queue it again, rewriting its links, so the detached
 * list must not be walked after the lock is dropped.  consider_wake
 * touches only loop-thread data and atomics. */
static void drain_remote(struct fut_loop *l)
{
    pthread_mutex_lock(&l->mu);
    struct fut__fifo nf = l->spawned;
    l->spawned.head = l->spawned.tail = NULL;
    struct fut__dnode *n;
    while ((n = fut__dlist_pop(&l->remote)))
        consider_wake(l, fut__container_of(n, struct fut__coro, rlink));
    atomic_store_explicit(&l->remote_pending, false, memory_order_relaxed);
    pthread_mutex_unlock(&l->mu);
    fut__fifo_splice(&l->rq, &nf);
}

/* ---------------------------------------------------------------------
 * The coroutine scheduler (the core's view of a waiting coroutine)
 * ------------------------------------------------------------------- */

/* Switches away from the running coroutine c, whose state the caller
 * has set (READY and queued, or WAITING): straight to the next ready
 * coroutine when that is allowed, else to the scheduler.  Whoever
 * switches to a coroutine sets l->current, its task and C_RUNNING; when
 * the scheduler regains control, l->current names the coroutine that gave
 * it back. */
static void suspend(struct fut_loop *l, struct fut__coro *c)
{
    struct fut__coro *n = NULL;
    future_t *f = l->rq.head;
    if (f && f->xdata && l->direct_left &&
        !atomic_load_explicit(&l->remote_pending, memory_order_relaxed)) {
        l->direct_left--;
        fut__fifo_pop(&l->rq);
        n = f->xdata;
        assert(n->st == C_READY);
        n->st = C_RUNNING;
        if (n == c)
            return;                    /* yielded with nobody else ready */
    }
    /* Suspended inside a callback: its trampoline stays with it, so the
     * others' completions run their callbacks at once meanwhile. */
    struct fut__thread *t = fut__self();
    if (FUT_UNLIKELY(t->cbs.depth)) {
        c->cbs = t->cbs;
        t->cbs = (struct fut__cbstate){0, NULL, NULL};
    }
    if (n) {
        l->current = n;
        fut__task_swap(&n->task);
        fut__ctx_switch(&c->ctx, &n->ctx);
    } else {
        l->direct_left = l->direct_ok ? DIRECT_MAX : 0;
        fut__ctx_switch(&c->ctx, &l->sched_ctx);
    }
    if (FUT_UNLIKELY(c->cbs.depth)) {
        t = fut__self();
        t->cbs = c->cbs;
        c->cbs = (struct fut__cbstate){0, NULL, NULL};
    }
}

static void *coro_who(struct fut__sched *s)
{
    return fut__container_of(s, struct fut_loop, sched)->current;
}

/* ECANCELED when the running coroutine has a cancellation and its shield
 * is off; that return delivers it.  *first (may be NULL): no waiting call
 * had delivered it before. */
static int coro_deliver(struct fut__sched *s, bool *first)
{
    struct fut__coro *c = fut__container_of(s, struct fut_loop, sched)->current;
    if (FUT_LIKELY(!atomic_load_explicit(&c->cancel_req, memory_order_acquire)) ||
        c->shielded)
        return 0;
    if (first)
        *first = !c->cancel_delivered;
    c->cancel_delivered = true;
    return ECANCELED;
}

static int coro_cancelled(struct fut__sched *s)
{
    return coro_deliver(s, NULL);
}

static bool coro_shield(struct fut__sched *s, bool on)
{
    struct fut__coro *c = fut__container_of(s, struct fut_loop, sched)->current;
    bool old = c->shielded;
    c->shielded = on;
    return old;
}

/* Suspends the calling coroutine until w fires, the deadline passes, or
 * the coroutine is cancelled.  Returns 0 (fired), ETIMEDOUT, ECANCELED,
 * ENOMEM (the timer could not be armed). */
static int coro_block(struct fut__sched *s, struct fut__waiter *w, uint64_t deadline)
{
    struct fut_loop *l = fut__container_of(s, struct fut_loop, sched);
    struct fut__coro *c = l->current;
    assert(c && c->st == C_RUNNING && w->who == c);
    if (coro_cancelled(s))
        return ECANCELED;
    if (fut__waiter_fired(w))
        return 0;
    if (deadline != FUT_NO_DEADLINE && fut__heap_push(&l->timers, &c->timer, deadline))
        return ENOMEM;
    c->waiting = w;
    c->wake_reason = 0;
    /* A firer on another thread may fire w from now on; it queues a
     * remote wake-up that the scheduler handles after we switched away,
     * when st is WAITING: no wake-up is lost. */
    c->st = C_WAITING;
    suspend(l, c);
    /* Resumed by consider_wake, a timer or cancellation. */
    fut__heap_cancel(&l->timers, &c->timer);   /* if woken before it fired */
    c->waiting = NULL;
    if (c->wake_reason == ECANCELED)
        c->cancel_delivered = true;
    return c->wake_reason;
}

static void coro_wake(struct fut__waiter *w)
{
    struct fut__coro *c = w->who;
    struct fut_loop *l = c->loop;
    if (on_loop_thread(l)) {
        atomic_store_explicit(&w->fired, 1, memory_order_release);
        consider_wake(l, c);
        return;
    }
    /* Under mu: the coroutine settles by taking mu, and cannot be freed
     * while it is queued (coro_destroy takes it off under mu). */
    pthread_mutex_lock(&l->mu);
    atomic_store_explicit(&w->fired, 1, memory_order_release);
    struct fut__wnode *sl = remote_queue_locked(l, c);
    pthread_mutex_unlock(&l->mu);
    notify_sleeper(sl);   /* the loop cannot leave its sleep before this */
}

static void coro_settle(struct fut__waiter *w)
{
    struct fut_loop *l = ((struct fut__coro *)w->who)->loop;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        bool fired = fut__waiter_fired(w);
        pthread_mutex_unlock(&l->mu);
        if (fired)
            return;
        sched_yield();
    }
}

/* Waiting on a descriptor: below, with the epoll set. */
static int coro_fd_wait(struct fut__sched *s, int fd, uint32_t events, bool drained,
                        uint64_t deadline, uint32_t *revents);
static bool coro_fd_drained(struct fut__sched *s, int fd);
static void coro_fd_read_was_short(struct fut__sched *s, int fd, bool is_short);

static const struct fut__sched_ops coro_ops = {
    .who = coro_who,
    .block = coro_block,
    .wake = coro_wake,
    .settle = coro_settle,
    .cancelled = coro_cancelled,
    .deliver = coro_deliver,
    .shield = coro_shield,
    .before_wait = NULL,
    .fd_wait = coro_fd_wait,
    .fd_drained = coro_fd_drained,
    .fd_read_was_short = coro_fd_read_was_short,
};

/* The executor's cancel of a started coroutine (future_cancel). */
static int coro_cancel_running(future_t *f)
{
    struct fut_loop *l = fut__container_of(f->exec, struct fut_loop, exec);
    /* f is RUNNING, so its loop is running and alive.  f->xdata is set and
     * cleared under l->mu, so c cannot be freed while we hold the lock. */
    pthread_mutex_lock(&l->mu);
    struct fut__coro *c = f->xdata;
    if (!c) {
        /* Its body has returned and it is completing: too late. */
        pthread_mutex_unlock(&l->mu);
        return EINVAL;
    }
    atomic_store_explicit(&c->cancel_req, true, memory_order_release);
    bool here = on_loop_thread(l);
    struct fut__wnode *sl = here ? NULL : remote_queue_locked(l, c);
    pthread_mutex_unlock(&l->mu);
    if (here)
        consider_wake(l, c);   /* loop thread: c cannot finish meanwhile */
    notify_sleeper(sl);
    return 0;
}

static const struct fut__exec_ops coro_exec_ops = {
    .what = "coroutine",
    .trace_kind = 'c',
    .cancel_running = coro_cancel_running,
};

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
    f->xdata = NULL;                   /* no cancel can reach c from now on */
    pthread_mutex_unlock(&l->mu);
    if (atomic_load_explicit(&c->cancel_req, memory_order_acquire))
        fut__complete(f, FUTURE_RUNNING, FUTURE_CANCELLED, NULL, ECANCELED);
    else if (c->task.raised)
        fut__complete(f, FUTURE_RUNNING, FUTURE_FAILED, NULL, c->task.raised);
    else
        fut__complete(f, FUTURE_RUNNING, FUTURE_DONE, v, 0);
    c->st = C_DONE;
    fut__ctx_exit(&c->ctx, &l->sched_ctx);
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
    fut__dlist_remove(&l->live, &c->llink);
    l->nlive--;
    pthread_mutex_lock(&l->mu);
    if (c->rlink.on)
        fut__dlist_remove(&l->remote, &c->rlink);
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
    struct fut__coro *c = f->xdata;
    if (!c) {
        /* A new coroutine: make it, then start it unless it was cancelled
         * (or completed by hand) while queued. */
        if (l->nnew)
            l->nnew--;
        if (future_done(f)) {
            future_release(f);
            return;
        }
        /* The stacks of the new ones queued behind it are wanted next:
         * their first pages are populated in one call, not faulted in one
         * by one. */
        fut__stacks_expect(&l->stacks, l->nnew + 1);
        c = coro_create(l, f);
        if (!c) {
            fut__complete(f, FUTURE_PENDING, FUTURE_FAILED, NULL, ENOMEM);
            future_release(f);
            return;
        }
        /* xdata before the start: a canceller reads it (under mu) only
         * after it has seen RUNNING, which the start's CAS publishes. */
        f->xdata = c;
        if (!fut__start(f)) {
            f->xdata = NULL;           /* nobody saw RUNNING: nobody read it */
            fut__ctx_release(&c->ctx);
            struct fut__stack st = c->stack;
            fut__stack_put(&l->stacks, &st);
            future_release(f);
            return;
        }
        fut__dlist_prepend(&l->live, &c->llink);
        l->nlive++;
        if (l->finishing)
            atomic_store_explicit(&c->cancel_req, true, memory_order_relaxed);
    }
    assert(c->st == C_READY);
    struct fut__thread *t = fut__self();
    c->st = C_RUNNING;
    l->current = c;
    t->sched = &l->sched;
    fut__task_swap(&c->task);
    bool tracing = fut__tracing();
    uint64_t t0 = l->slow_ns || tracing ? fut__now_ns() : 0;
    fut__ctx_switch(&l->sched_ctx, &c->ctx);
    /* Back from whichever coroutine gave control back (after direct
     * switches, not necessarily c); f is the one we started with. */
    c = l->current;
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
    t->sched = l->sched.outer;
    l->current = NULL;
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
        struct fut__coro *c = fut__container_of(n, struct fut__coro, timer);
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
    for (struct fut__dnode *n = l->live.first; n; n = n->next) {
        struct fut__coro *c = fut__container_of(n, struct fut__coro, llink);
        atomic_store_explicit(&c->cancel_req, true, memory_order_release);
        if (c->st == C_WAITING && !c->shielded)
            make_ready(l, c, ECANCELED);
    }
    for (future_t *f = l->rq.head; f; f = fut__qnext(f))
        if (!f->xdata)
            fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
}

/* The loop's own sleep (phase 5 on a plain thread): its waiter is fired
 * by writing the eventfd its epoll_wait watches.  The eventfd is written
 * before fired is published: once the loop sees fired it may leave, finish
 * and free itself, so the firer touches nothing after that store. */
static void epsleep_wake(struct fut__waiter *w)
{
    struct fut_loop *l = w->who;
    fut__ioset_wake(&l->io);
    atomic_store_explicit(&w->fired, 1, memory_order_release);
}

static void epsleep_settle(struct fut__waiter *w)
{
    while (!fut__waiter_fired(w))
        sched_yield();
}

/* Only wake and settle are used: the loop waits in epoll_wait itself. */
static const struct fut__sched_ops epsleep_ops = {
    .who = NULL,
    .block = NULL,
    .wake = epsleep_wake,
    .settle = epsleep_settle,
    .cancelled = NULL,
    .before_wait = NULL,
};
static struct fut__sched epsleep_sched = {&epsleep_ops, NULL};

/* Phase 5: sleeps until the next deadline, a ready descriptor or a
 * hand-over.  The sleeper node is published under mu; whoever hands
 * something over takes it off and notifies it (take_sleeper_locked /
 * notify_sleeper).
 *
 * On a plain thread the sleep is the epoll_wait that collects readiness,
 * and the notification writes the eventfd it watches: one sleeping call
 * for everything.
 *
 * Inside a pool job (the thread's outer scheduler is a pool worker's) the
 * loop sleeps through the worker's block, which keeps running the pool's
 * jobs while it waits (a job of that pool may be what a coroutine waits
 * for) and is woken by hand-overs, new jobs and the deadline, but not by a
 * descriptor.  So while coroutines wait on descriptors, such a loop first
 * collects readiness without waiting, and then sleeps at most
 * nested_recheck (1 ms, doubling to 10 ms while nothing comes): a
 * descriptor that becomes ready is noticed within that bound.  That is a
 * bounded re-check, not a busy loop; a loop on a plain thread never does
 * it. */
static void loop_sleep(struct fut_loop *l)
{
    const struct fut__hent *e = fut__heap_min(&l->timers);
    uint64_t deadline = e ? e->when : FUT_NO_DEADLINE;
    uint64_t check = fut__ioset_next_check(&l->io);
    if (check < deadline)
        deadline = check;
    bool plain = l->sched.outer == NULL;
    if (!plain && l->io.nwait) {
        if (fut__ioset_poll(&l->io, 0) || l->rq.head) {
            l->nested_recheck = NESTED_RECHECK_FIRST_NS;
            return;
        }
        uint64_t cap = fut__now_ns() + l->nested_recheck;
        if (cap < deadline)
            deadline = cap;
        if (l->nested_recheck < NESTED_RECHECK_MAX_NS)
            l->nested_recheck *= 2;
    }
    struct fut__waiter w;
    struct fut__wnode node;
    fut__waiter_init(&w, 1, 1);        /* the outer scheduler's waiter */
    if (plain) {
        w.sched = &epsleep_sched;      /* fired through the eventfd */
        w.who = l;
    }
    node.w = &w;
    pthread_mutex_lock(&l->mu);
    bool idle = !l->spawned.head && fut__dlist_empty(&l->remote);
    if (idle)
        l->sleeper = &node;
    pthread_mutex_unlock(&l->mu);
    uint32_t unlinked = 1;
    if (idle) {
        if (plain) {
            fut__ioset_poll(&l->io, deadline);
        } else {
            l->in_sleep = true;
            fut__waiter_block(&w, deadline);
            l->in_sleep = false;
        }
        pthread_mutex_lock(&l->mu);
        unlinked = l->sleeper == &node;
        if (unlinked)
            l->sleeper = NULL;
        pthread_mutex_unlock(&l->mu);
    }
    fut__waiter_leave(&w, unlinked);
}

/* ---------------------------------------------------------------------
 * Waiting on a descriptor (io.c's way in; ioset.h)
 * ------------------------------------------------------------------- */

static bool coro_fd_drained(struct fut__sched *s, int fd)
{
    return fut__ioset_drained(&fut__container_of(s, struct fut_loop, sched)->io, fd);
}

static void coro_fd_read_was_short(struct fut__sched *s, int fd, bool is_short)
{
    fut__ioset_set_drained(&fut__container_of(s, struct fut_loop, sched)->io, fd, is_short);
}

static int coro_fd_wait(struct fut__sched *s, int fd, uint32_t events, bool drained,
                        uint64_t deadline, uint32_t *revents)
{
    struct fut_loop *l = fut__container_of(s, struct fut_loop, sched);
    int rc = coro_cancelled(s);
    if (rc)
        return rc;
    struct fut__waiter w;
    struct fut__fdwait fw;
    memset(&fw, 0, sizeof fw);
    fw.fd = fd;
    fw.events = events;
    fw.drained = drained;
    fut__waiter_init(&w, 1, 1);
    fw.node.w = &w;
    rc = fut__ioset_add(&l->io, &fw);
    if (rc) {
        fut__waiter_leave(&w, 1);
        if (rc != EPERM)
            return rc;
        *revents = events;             /* a regular file: always ready (poll) */
        return 0;
    }
    /* If the descriptor is closed under us, the loop's check of long waits
     * ends this one with POLLNVAL (ioset.h). */
    rc = fut__waiter_block(&w, deadline);
    bool unlinked = fut__ioset_del(&l->io, &fw);
    fut__waiter_leave(&w, unlinked);
    if (!unlinked && rc == ETIMEDOUT)
        rc = 0;                        /* ready as time ran out: it counts */
    if (rc == 0) {
        if (fw.revents & POLLNVAL)
            return EBADF;
        *revents = fw.revents;
        return 0;
    }
    return rc;
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
    rc = fut__ioset_init(&l->io);
    if (rc) {
        fut__stacks_destroy(&l->stacks);
        free(l);
        errno = rc;
        return NULL;
    }
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        fut__ioset_destroy(&l->io);
        fut__stacks_destroy(&l->stacks);
        free(l);
        errno = ENOMEM;
        return NULL;
    }
    l->nested_recheck = NESTED_RECHECK_FIRST_NS;
    l->stacks.cache = true;            /* warm stacks for the process's next loop */
    l->exec.ops = &coro_exec_ops;
    l->sched.ops = &coro_ops;
    fut__dlist_init(&l->live);
    fut__dlist_init(&l->remote);
    atomic_init(&l->thread, NULL);
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
}

/* A spawn while the loop is finishing: f was never queued. */
static future_t *spawn_refused(future_t *f)
{
    atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
    f->exec = NULL;
    future_release(f);                 /* cancels it */
    errno = ESHUTDOWN;
    return NULL;
}

future_t *fut_loop_spawn(fut_loop_t *l, fut_fn fn, void *arg)
{
    if (!l || !fn) {
        errno = EINVAL;
        return NULL;
    }
    future_t *f = fut__future_alloc(&l->exec);
    if (!f)
        return NULL;
    f->fn = fn;
    f->arg = arg;
    atomic_store_explicit(&f->refs, 2, memory_order_relaxed);   /* caller + loop */
    if (on_loop_thread(l)) {
        /* finishing is written by the loop thread only: no lock here. */
        if (FUT_UNLIKELY(l->finishing))
            return spawn_refused(f);
        l->nnew++;
        rq_push(l, f);
        return f;
    }
    pthread_mutex_lock(&l->mu);
    if (l->finishing) {
        pthread_mutex_unlock(&l->mu);
        return spawn_refused(f);
    }
    fut__fifo_push(&l->spawned, f);
    atomic_store_explicit(&l->remote_pending, true, memory_order_relaxed);
    struct fut__wnode *sl = take_sleeper_locked(l);
    pthread_mutex_unlock(&l->mu);
    notify_sleeper(sl);
    return f;
}

future_t *fut_spawn(fut_fn fn, void *arg)
{
    struct fut__coro *c = coro_self();
    if (!c) {
        errno = EPERM;
        return NULL;
    }
    return fut_loop_spawn(c->loop, fn, arg);
}

int fut_loop_run(fut_loop_t *l, fut_fn main_fn, void *arg, void **result)
{
    if (result)
        *result = NULL;
    if (!l || !main_fn)
        return EINVAL;
    if (coro_self())
        return EPERM;
    bool expect = false;
    if (!atomic_compare_exchange_strong(&l->running, &expect, true))
        return EBUSY;
    /* Behind the spawns handed over before the run: FIFO. */
    future_t *mainf = fut_loop_spawn(l, main_fn, arg);
    if (!mainf) {
        int e = errno;
        atomic_store(&l->running, false);
        return e;
    }
    struct fut__thread *t = fut__self();
    atomic_store_explicit(&l->thread, t, memory_order_relaxed);
    int trc = fut__stacks_thread_init();
    (void)trc;   /* without an alternate signal stack, overflow reports are lost; the loop still runs */
    l->sched.outer = t->sched;
    l->outer_task = fut__task_current();
    /* Run from inside a callback: the loop's coroutines start with a
     * trampoline of their own. */
    struct fut__cbstate outer_cbs = t->cbs;
    t->cbs = (struct fut__cbstate){0, NULL, NULL};
    fut__ctx_self(&l->sched_ctx);

    bool finishing = false;
    for (;;) {
        if (atomic_load_explicit(&l->remote_pending, memory_order_relaxed))
            drain_remote(l);
        run_timers(l);
        /* Readiness once per turn while coroutines wait on descriptors and
         * others are ready (when none is, phase 5 collects it). */
        if (FUT_UNLIKELY(l->io.nwait) && l->rq.head)
            fut__ioset_poll(&l->io, 0);
        /* Checked every turn, not only when idle: a leftover that keeps
         * yielding is always ready and must still be cancelled. */
        if (!finishing && future_done(mainf)) {
            finishing = true;
            begin_finish(l);
        }
        future_t *f = fut__fifo_pop(&l->rq);
        if (f) {
            run_one(l, f);
            continue;
        }
        if (finishing && l->nlive == 0 && !l->rq.head) {
            pthread_mutex_lock(&l->mu);
            bool more = l->spawned.head != NULL || !fut__dlist_empty(&l->remote);
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
    fut__ctx_release(&l->sched_ctx);
    t->cbs = outer_cbs;
    if (trc == 0)
        fut__stacks_thread_fini();
    atomic_store_explicit(&l->thread, NULL, memory_order_relaxed);
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
    for (future_t *f; (f = fut__fifo_pop(&l->spawned));) {
        fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
        future_release(f);
    }
    fut__heap_free(&l->timers);
    fut__ioset_destroy(&l->io);
    fut__stacks_destroy(&l->stacks);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int fut_run(fut_fn main_fn, void *arg, void **result)
{
    if (result)
        *result = NULL;
    if (!main_fn)
        return EINVAL;
    if (coro_self())
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
    struct fut__coro *c = coro_self();
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
    fut__waiter_init(&w, 0, 1);       /* no node: only the timer ends it */
    int rc = fut__waiter_block(&w, fut__deadline(ms));
    fut__waiter_leave(&w, 0);
    return rc == ETIMEDOUT ? 0 : rc;
}

int fut_yield(void)
{
    struct fut__coro *c = coro_self();
    if (!c) {
        sched_yield();
        return 0;
    }
    struct fut_loop *l = c->loop;
    int rc = coro_cancelled(&l->sched);
    if (rc)
        return rc;
    c->st = C_READY;
    fut__fifo_push(&l->rq, c->fut);
    suspend(l, c);
    return coro_cancelled(&l->sched);
}
