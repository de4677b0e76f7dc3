/* SPDX-License-Identifier: MIT */
/*
 * pool.c - the fixed thread pool
 *
 * The queue.  One intrusive MPSC queue of jobs per pool (Vyukov's: a
 * producer links its node with one atomic exchange on `tail`; consumers
 * pop at `head` under `cmu`).  A job is its future (kind FUT__JOB: fn,
 * arg and the queue link live in it), so a submit is one allocation, one
 * counter increment and one exchange, and never takes a lock the workers
 * hold.  Workers take jobs in small batches into a private list; a batch
 * is nq / 2T jobs, at most BATCH_MAX, so that the tail of a run stays
 * balanced between threads.
 *
 * Counters and flags (all atomic):
 *   nq          jobs submitted and not yet taken: incremented before the
 *               push (a CAS against queue_max for a bounded pool, which
 *               makes the bound exact), decremented by take(); its top bit
 *               (NQ_CLOSED) is set once by shutdown: a submit that finds it
 *               there takes its increment back and fails
 *   nspinning   idle workers spinning on nq (at most one spins at a time),
 *               plus workers woken from the idle list that have not looked
 *               at the queue yet: the waker counts the woken one, which
 *               takes itself out of the count just before it looks
 *   nidle       workers parked on the idle list
 *
 * Waking one at a time.  A submit wakes a parked worker only when nothing
 * is counted in nspinning, and the woken worker counts there until it
 * looks at the queue; then, if jobs are left after its take, it wakes the
 * next (take's "fan a burst out").  So a burst of jobs wakes workers one
 * after the other, each one only while there is work for it (the rule of
 * Go's scheduler), instead of one per submit: a fan-out of 100 tiny jobs
 * on 16 threads woke all 16, which then queued on the pool's locks to go
 * back to sleep.
 *
 * No lost wake-up.  A submit increments nq (seq_cst) and then reads
 * nspinning and nidle (seq_cst); a worker about to park increments nidle
 * (or, leaving its spin, decrements nspinning) and then rereads nq.  In the
 * single order of seq_cst operations one of the two sees the other: either
 * the worker sees the job and does not park, or the submit sees the
 * sleeper and wakes one idle worker.
 *
 * The pool as the core sees it.  The pool is an executor (struct
 * fut__exec: a running job cannot be cancelled, EBUSY) and each worker
 * thread's scheduler (struct fut__sched: how a job waits).  The core calls
 * it only through those two tables.
 *
 * Waiting inside the pool.  A job that waits (get, gather, wait_any, a
 * full-queue submit) first runs the awaited jobs of its pool that have not
 * started (the scheduler's before_wait), then its block runs the thread's
 * own batch and queued jobs of the pool, and parks on the idle list only
 * when there is nothing to run, where both a new job and the awaited
 * completion wake it.  Every job held in a private batch is run by its
 * holder even while the holder waits, so waiting inside the pool cannot
 * deadlock it.  A loop run inside a job sleeps through the same block
 * (its scheduler's outer), so it keeps running the pool's jobs too.
 *
 * Locks: mu guards the idle list and the room waiters; cmu serialises the
 * consumers of the queue; shut_mu guards the shutdown state.  Order:
 * shut_mu -> cmu -> mu -> parker->mu (internal.h has the whole list).  No
 * lock is held while a job or a callback runs, or while anyone is woken
 * except a parked worker (parker->mu).
 *
 * Shutdown.  `accepting` goes false, NQ_CLOSED is set in nq (after that
 * no submit can reserve a place: the check and the reservation are one
 * atomic operation, so a submit costs no extra one), then `stopping` goes
 * true.  Every reservation made before the close is counted in nq, so a
 * worker that sees `stopping` and then an nq of zero knows that nothing
 * more will be pushed, and exits (a push half done keeps nq above zero).
 * FUT_CANCEL also sets cancel_all, which makes workers cancel instead of
 * run every job they have not started, and drains the queue to cancel it.
 * The state (shut_state) changes under shut_mu, but the work (cancelling,
 * which runs callbacks, and joining) is done with no lock held: a callback
 * may call fut_pool_shutdown on the same pool (it returns 0 at once), and
 * other threads that call it meanwhile wait on `joined_f`.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_MAX 32
/* How long one idle worker spins before parking: long enough that a job
 * submitted right after the previous one finished is picked up without a
 * futex wake (W6), short enough not to matter to other processes. */
#define IDLE_SPIN_NS 50000u
/* How long a waiting worker spins on its waiter before helping. */
#define WAIT_SPIN_NS 4000u

struct worker {
    struct fut__sched sched;           /* this thread's scheduler; const */
    struct fut_pool *pool;             /* const */
    pthread_t tid;                     /* const after start */
    unsigned index;                    /* const */
    struct fut__parker *parker;        /* set by the thread before it can
                                          be idle; const afterwards */
    struct fut__dnode idle_link;       /* on pool->idle; guarded by pool->mu */
    bool woken;                        /* taken off the idle list by
                                          wake_one_locked and counted in
                                          nspinning for it; guarded by mu */
    struct fut__fifo batch;            /* taken, not started: this thread only */
};

enum shut_state { SHUT_RUNNING, SHUT_STOPPING, SHUT_JOINED };

struct fut_pool {
    _Alignas(64) _Atomic(future_t *) tail;  /* producers' end of the queue */
    _Alignas(64) future_t *head;       /* consumers' end; guarded by cmu */
    pthread_mutex_t cmu;               /* serialises consumers */
    future_t stub;                     /* the queue's permanent stub node */
    _Alignas(64) atomic_size_t nq;     /* see "Counters" above */
    atomic_uint nspinning;
    atomic_uint nidle;
    atomic_uint nroom;                 /* room waiters linked on `room` */
    atomic_bool accepting;
    atomic_bool stopping;
    atomic_bool cancel_all;            /* set once by FUT_CANCEL */

    pthread_mutex_t mu;
    struct fut__dlist idle;            /* parked workers; guarded by mu */
    struct fut__dlist room;            /* submitters waiting for room
                                          (fut__wnode), FIFO; guarded by mu */

    pthread_mutex_t shut_mu;
    enum shut_state shut_state;        /* guarded by shut_mu; only forward */
    pthread_t shut_thread;             /* who shuts down; guarded by shut_mu */
    future_t *joined_f;                /* resolved once joined; const ptr */

    struct fut__exec exec;             /* what the core sees of the pool */
    size_t queue_max;                  /* const; 0: unbounded */
    bool caller_runs;                  /* const: opts.caller_runs */
    size_t nthreads;                   /* const */
    struct worker *workers;            /* const array */
    char name[16];                     /* const */
};

static const struct fut__sched_ops worker_ops;

/* nq's top bit: set by shutdown, no reservation succeeds afterwards. */
#define NQ_CLOSED (((size_t)-1 >> 1) + 1)

/* Jobs queued and not taken (nq without its closed bit); seq_cst. */
static inline size_t queued(struct fut_pool *p)
{
    return atomic_load(&p->nq) & ~NQ_CLOSED;
}

static inline size_t queued_relaxed(struct fut_pool *p)
{
    return atomic_load_explicit(&p->nq, memory_order_relaxed) & ~NQ_CLOSED;
}

/* The worker of the calling thread (also when a loop runs nested in one of
 * its jobs), or NULL. */
static struct worker *worker_self(void)
{
    for (struct fut__sched *s = fut__self()->sched; s; s = s->outer)
        if (s->ops == &worker_ops)
            return fut__container_of(s, struct worker, sched);
    return NULL;
}

static bool on_own_thread(const struct fut_pool *p)
{
    struct worker *w = worker_self();
    return w && w->pool == p;
}

/* ---------------------------------------------------------------------
 * The MPSC queue
 * ------------------------------------------------------------------- */

static void q_push(struct fut_pool *p, future_t *f)
{
    atomic_store_explicit(&f->qnext, NULL, memory_order_relaxed);
    /* acq_rel: orders the job's fields before its publication; the
     * consumer's acquire load of prev->qnext pairs with the release below. */
    future_t *prev = atomic_exchange_explicit(&p->tail, f, memory_order_acq_rel);
    atomic_store_explicit(&prev->qnext, f, memory_order_release);
}

/* Pops one job, or NULL if the queue is empty or a producer is between its
 * exchange and its link (the caller retries while nq says there is more).
 * cmu held. */
static future_t *q_pop(struct fut_pool *p)
{
    future_t *head = p->head;
    future_t *next = atomic_load_explicit(&head->qnext, memory_order_acquire);
    if (head == &p->stub) {
        if (!next)
            return NULL;
        p->head = head = next;
        next = atomic_load_explicit(&head->qnext, memory_order_acquire);
    }
    if (next) {
        p->head = next;
        return head;
    }
    if (head != atomic_load_explicit(&p->tail, memory_order_acquire))
        return NULL;                   /* a push is half done */
    q_push(p, &p->stub);               /* head is the last node: put the stub behind it */
    next = atomic_load_explicit(&head->qnext, memory_order_acquire);
    if (next) {
        p->head = next;
        return head;
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * Idle list and room waiters
 * ------------------------------------------------------------------- */

static void idle_push(struct fut_pool *p, struct worker *w)
{
    assert(!w->idle_link.on);
    fut__dlist_prepend(&p->idle, &w->idle_link);
    atomic_fetch_add(&p->nidle, 1);    /* seq_cst: see "No lost wake-up" */
}

static void idle_remove(struct fut_pool *p, struct worker *w)
{
    fut__dlist_remove(&p->idle, &w->idle_link);
    atomic_fetch_sub_explicit(&p->nidle, 1, memory_order_relaxed);
}

/* Wakes one parked worker, counting it in nspinning until it looks at the
 * queue ("Waking one at a time").  Under pool->mu: a worker on the idle
 * list cannot exit (it must retake mu first), so its parker is in use by
 * it. */
static void wake_one_locked(struct fut_pool *p)
{
    if (fut__dlist_empty(&p->idle))
        return;
    struct worker *w = fut__container_of(p->idle.first, struct worker, idle_link);
    idle_remove(p, w);
    w->woken = true;
    atomic_fetch_add(&p->nspinning, 1);
    fut__unpark(w->parker);
}

/* After work was queued: wake a parked worker unless one is spinning, or
 * was just woken, and will find it.  Costs two loads when nobody sleeps. */
static void maybe_wake(struct fut_pool *p)
{
    if (atomic_load(&p->nspinning) == 0 && atomic_load(&p->nidle) > 0) {
        pthread_mutex_lock(&p->mu);
        if (atomic_load(&p->nspinning) == 0)   /* another waker was first */
            wake_one_locked(p);
        pthread_mutex_unlock(&p->mu);
    }
}

/* A woken worker leaves the count of nspinning (seq_cst: it looks at nq
 * after this, see "No lost wake-up"). */
static void woken_looks(struct fut_pool *p)
{
    atomic_fetch_sub(&p->nspinning, 1);
}

/* Wakes every submitter waiting for room; each rechecks and the losers
 * wait again.  Waking only as many as there are new slots could pick a
 * waiter deeper on the stack of the very thread that made the room (a
 * pool thread helping inside a full-queue submit) and leave the one that
 * can use it asleep.  The nodes are detached under mu and notified after
 * it is released. */
static void room_wake(struct fut_pool *p)
{
    pthread_mutex_lock(&p->mu);
    struct fut__dnode *n = fut__dlist_take(&p->room);
    atomic_store_explicit(&p->nroom, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
    while (n) {
        struct fut__dnode *next = n->next;   /* n may die once notified */
        fut__waiter_notify(fut__container_of(n, struct fut__wnode, link)->w);
        n = next;
    }
}

/* ---------------------------------------------------------------------
 * Taking and running jobs
 * ------------------------------------------------------------------- */

/* Takes k jobs out of the count of queued ones and wakes the submitters
 * waiting for room.  Returns how many are still queued. */
static size_t uncount(struct fut_pool *p, size_t k)
{
    if (!k)
        return queued_relaxed(p);
    /* seq_cst: a room waiter links itself, bumps nroom and rereads nq. */
    size_t left = (atomic_fetch_sub(&p->nq, k) & ~NQ_CLOSED) - k;
    if (atomic_load(&p->nroom))
        room_wake(p);
    return left;
}

/* Moves up to `max` queued jobs into w's batch.  Returns the number taken
 * (0: nothing queued, or only half-done pushes: the caller looks at nq
 * again before sleeping). */
static size_t take(struct fut_pool *p, struct worker *w, size_t max)
{
    size_t avail = queued_relaxed(p);
    if (!avail)
        return 0;
    size_t k = avail / (2 * p->nthreads) + 1;
    if (k > max)
        k = max;
    size_t got = 0, counted = 0;
    pthread_mutex_lock(&p->cmu);
    while (got < k) {
        future_t *f = q_pop(p);
        if (!f)
            break;
        /* A job a waiter already ran inline left the count then. */
        counted += !atomic_exchange_explicit(&f->xflag, 1, memory_order_relaxed);
        fut__fifo_push(&w->batch, f);
        got++;
    }
    pthread_mutex_unlock(&p->cmu);
    if (!got)
        return 0;
    if (uncount(p, counted))
        maybe_wake(p);                 /* fan a burst out */
    return got;
}

/* Runs (or, after FUT_CANCEL, cancels) one job taken from the queue and
 * drops the queue's reference to its future.  A job that was cancelled,
 * completed by hand or run inline by a waiter before it got here is
 * skipped. */
static void run_job(struct fut_pool *p, future_t *f)
{
    if (FUT_UNLIKELY(atomic_load_explicit(&p->cancel_all, memory_order_relaxed)))
        fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
    else if (fut__start(f))
        fut__run_task(f);
    future_release(f);
}

/* On a thread of p (or, with caller_runs, a thread waiting for f): starts
 * f, a job of p that has not started, and runs it here, now.  Its queue
 * entry keeps its reference and is skipped when taken; the job leaves the
 * count of queued jobs now, making room.  Returns true if it ran f. */
static bool run_inline(struct fut_pool *p, future_t *f)
{
    if (atomic_load_explicit(&p->cancel_all, memory_order_relaxed) || !fut__start(f))
        return false;
    if (!atomic_exchange_explicit(&f->xflag, 1, memory_order_relaxed))
        uncount(p, 1);
    fut__run_task(f);
    return true;
}

static void set_thread_name(struct fut_pool *p, unsigned index)
{
    char suffix[12], name[16];
    int sl = snprintf(suffix, sizeof suffix, "-%u", index);
    int room = 15 - sl;                 /* Linux: 16 bytes with the NUL */
    snprintf(name, sizeof name, "%.*s%s", room, p->name, suffix);
    pthread_setname_np(pthread_self(), name);
}

static bool work_or_stop(void *arg)
{
    struct fut_pool *p = arg;
    return queued_relaxed(p) || atomic_load_explicit(&p->stopping, memory_order_relaxed);
}

/* Parks w on the idle list until a submit or a completion wakes it, unless
 * work is visible after it has published itself as idle (see "No lost
 * wake-up").  `fired` (may be NULL) is a waiter's flag that also ends the
 * sleep.  Returns when it should look for work again: true if it was woken
 * by wake_one_locked and so counts in nspinning (the caller calls
 * woken_looks before it looks at the queue). */
static bool park(struct fut_pool *p, struct worker *w, atomic_int *fired, uint64_t deadline)
{
    if (!w->parker) {
        /* No parker could be made (ENOMEM at thread start): poll. */
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        return false;
    }
    pthread_mutex_lock(&p->mu);
    idle_push(p, w);
    pthread_mutex_unlock(&p->mu);
    if (!queued(p) && !atomic_load(&p->stopping))
        fut__park(w->parker, fired, deadline);
    pthread_mutex_lock(&p->mu);
    bool woken = w->woken;
    w->woken = false;
    if (w->idle_link.on)               /* not woken by a submit */
        idle_remove(p, w);
    pthread_mutex_unlock(&p->mu);
    return woken;
}

static void run_batch(struct fut_pool *p, struct worker *w)
{
    struct future *f;
    while ((f = fut__fifo_pop(&w->batch)))
        run_job(p, f);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct fut_pool *p = w->pool;
    struct fut__thread *t = fut__self();
    t->sched = &w->sched;
    set_thread_name(p, w->index);
    w->parker = fut__parker_self();    /* NULL only on ENOMEM: park polls */

    bool woken = false;                /* counted in nspinning by our waker */
    for (;;) {
        if (woken) {
            woken_looks(p);            /* then take() looks at the queue */
            woken = false;
        }
        if (take(p, w, BATCH_MAX)) {
            run_batch(p, w);
            continue;
        }
        /* stopping first, then nq: every reservation made before the
         * close shows in nq once stopping does (see "Shutdown"). */
        if (atomic_load(&p->stopping)) {
            if (!queued(p))
                break;                 /* nothing queued, nothing will be */
            continue;                  /* a push is half done: retry */
        }
        if (queued(p))
            continue;                  /* a push is half done: retry */
        /* One worker spins; the others park at once. */
        if (atomic_fetch_add(&p->nspinning, 1) == 0)
            fut__spin(work_or_stop, p, IDLE_SPIN_NS);
        atomic_fetch_sub(&p->nspinning, 1);   /* seq_cst, then reread nq */
        if (queued(p) || atomic_load(&p->stopping))
            continue;
        woken = park(p, w, NULL, FUT_NO_DEADLINE);
    }
    t->sched = NULL;
    return NULL;
}

/* ---------------------------------------------------------------------
 * The worker's scheduler: how a job (or a loop nested in one) waits
 * ------------------------------------------------------------------- */

static bool fired_cond(void *wt)
{
    return fut__waiter_fired(wt);
}

/* Waits for wt to fire (or the deadline): runs queued jobs of the pool
 * meanwhile, and sleeps on the worker's parker when there is nothing to
 * run.  Returns 0 when fired, ETIMEDOUT. */
static int worker_block(struct fut__sched *s, struct fut__waiter *wt, uint64_t deadline)
{
    struct worker *w = fut__container_of(s, struct worker, sched);
    struct fut_pool *p = w->pool;
    uint64_t now = fut__now_ns();
    uint64_t spin = deadline > now ? deadline - now : 0;
    if (fut__spin(fired_cond, wt, spin < WAIT_SPIN_NS ? spin : WAIT_SPIN_NS))
        return 0;
    for (;;) {
        if (fut__waiter_fired(wt))
            return 0;
        struct future *f = fut__fifo_pop(&w->batch);
        if (f) {
            run_job(p, f);
            continue;
        }
        if (take(p, w, 1))
            continue;
        if (fut__now_ns() >= deadline)
            return fut__waiter_fired(wt) ? 0 : ETIMEDOUT;
        if (queued(p))
            continue;                  /* a push is half done: retry */
        if (park(p, w, &wt->fired, deadline)) {
            woken_looks(p);
            /* Woken for a job, but this wait may end first: pass the
             * job on rather than leave it to nobody. */
            if (queued(p))
                maybe_wake(p);
        }
    }
}

static int worker_cancelled(struct fut__sched *s)
{
    (void)s;
    return 0;
}

/* Runs the awaited jobs of this pool that have not started, here and now,
 * before helping with anything else: running an unrelated queued job first
 * could nest a job that waits on ours above us on this stack. */
static bool worker_before_wait(struct fut__sched *s, future_t *const fs[], size_t n)
{
    struct worker *w = fut__container_of(s, struct worker, sched);
    struct fut_pool *p = w->pool;
    bool ran = false;
    for (size_t i = 0; i < n; i++)
        if (fs[i]->exec == &p->exec &&
            atomic_load_explicit(&fs[i]->state, memory_order_relaxed) == FUTURE_PENDING)
            ran |= run_inline(p, fs[i]);
    return ran;
}

static const struct fut__sched_ops worker_ops = {
    .who = fut__parker_who,
    .block = worker_block,
    .wake = fut__parker_wake,
    .settle = fut__parker_settle,
    .cancelled = worker_cancelled,
    .before_wait = worker_before_wait,
};

/* The executor: a running job cannot be stopped. */
static int job_cancel_running(future_t *f)
{
    (void)f;
    return EBUSY;
}

static const struct fut__exec_ops job_ops = {
    .what = "job",
    .trace_kind = 'j',
    .cancel_running = job_cancel_running,
    .run_waited = NULL,
};

/* caller_runs: a plain thread about to wait for f runs it (wait.c asks
 * through the plain scheduler's before_wait). */
static bool job_run_waited(future_t *f)
{
    return run_inline(fut__container_of(f->exec, struct fut_pool, exec), f);
}

static const struct fut__exec_ops job_ops_caller_runs = {
    .what = "job",
    .trace_kind = 'j',
    .cancel_running = job_cancel_running,
    .run_waited = job_run_waited,
};

/* ---------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------- */

static void pool_destroy(struct fut_pool *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->cmu);
    pthread_mutex_destroy(&p->shut_mu);
    future_release(p->joined_f);
    free(p->workers);
    free(p);
}

/* Initialises a mutex; adaptive (a short spin before sleeping) where glibc
 * offers it: cmu and mu are held for a few instructions at a time. */
static int mutex_init(pthread_mutex_t *m, bool adaptive)
{
    pthread_mutexattr_t ma;
    if (pthread_mutexattr_init(&ma) != 0)
        return ENOMEM;
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    if (adaptive)
        pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#else
    (void)adaptive;
#endif
    int rc = pthread_mutex_init(m, &ma);
    pthread_mutexattr_destroy(&ma);
    return rc ? ENOMEM : 0;
}

/* Stops the workers started so far (first `started` of them) and joins
 * them: nothing was queued yet. */
static void stop_started(struct fut_pool *p, size_t started)
{
    atomic_store(&p->accepting, false);
    atomic_store(&p->stopping, true);
    pthread_mutex_lock(&p->mu);
    while (!fut__dlist_empty(&p->idle))
        wake_one_locked(p);
    pthread_mutex_unlock(&p->mu);
    for (size_t j = 0; j < started; j++)
        pthread_join(p->workers[j].tid, NULL);
}

fut_pool_t *fut_pool_new(const fut_pool_opts *opts)
{
    size_t n = opts ? opts->threads : 0;
    if (n == 0)
        n = fut__cpu_count();
    fut__trace_setup();
    /* Every worker and waiter sleeps on a parker: make sure they can be
     * made before starting threads that rely on them. */
    if (!fut__parker_self()) {
        errno = ENOMEM;
        return NULL;
    }
    struct fut_pool *p = NULL;
    if (fut__alloc_fails() || posix_memalign((void **)&p, 64, sizeof *p) != 0) {
        errno = ENOMEM;
        return NULL;
    }
    memset(p, 0, sizeof *p);
    struct worker *ws = n <= SIZE_MAX / sizeof *ws ? fut__calloc(n, sizeof *ws) : NULL;
    future_t *joined = ws ? future_new() : NULL;
    if (!joined)
        goto fail_mem;
    if (mutex_init(&p->mu, true))
        goto fail_mem;
    if (mutex_init(&p->cmu, true))
        goto fail_mu;
    if (mutex_init(&p->shut_mu, false))
        goto fail_cmu;
    atomic_init(&p->stub.qnext, NULL);
    atomic_init(&p->tail, &p->stub);
    p->head = &p->stub;
    atomic_init(&p->nq, 0);
    atomic_init(&p->nspinning, 0);
    atomic_init(&p->nidle, 0);
    atomic_init(&p->nroom, 0);
    atomic_init(&p->accepting, true);
    atomic_init(&p->stopping, false);
    atomic_init(&p->cancel_all, false);
    fut__dlist_init(&p->idle);
    fut__dlist_init(&p->room);
    p->shut_state = SHUT_RUNNING;
    p->joined_f = joined;
    p->caller_runs = opts && opts->caller_runs;
    p->exec.ops = p->caller_runs ? &job_ops_caller_runs : &job_ops;
    if (p->caller_runs)
        atomic_store_explicit(&fut__caller_runs_used, true, memory_order_relaxed);
    p->queue_max = opts ? opts->queue_max : 0;
    p->workers = ws;
    p->nthreads = n;
    const char *name = opts && opts->name && opts->name[0] ? opts->name : "fut";
    snprintf(p->name, sizeof p->name, "%s", name);

    for (size_t i = 0; i < n; i++) {
        ws[i].sched.ops = &worker_ops;
        ws[i].sched.outer = NULL;
        ws[i].pool = p;
        ws[i].index = (unsigned)i;
        int rc = pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
        if (rc != 0) {
            stop_started(p, i);
            pool_destroy(p);
            errno = rc == ENOMEM ? ENOMEM : EAGAIN;
            return NULL;
        }
    }
    return p;

fail_cmu:
    pthread_mutex_destroy(&p->cmu);
fail_mu:
    pthread_mutex_destroy(&p->mu);
fail_mem:
    future_release(joined);
    free(ws);
    free(p);
    errno = ENOMEM;
    return NULL;
}

/* Reserves a place in the queue: exact against queue_max.  Returns 0,
 * EAGAIN when the queue is full, or ESHUTDOWN once the pool is closed. */
static int reserve(struct fut_pool *p)
{
    if (!p->queue_max) {
        /* seq_cst: see "No lost wake-up" and "Shutdown". */
        if (FUT_LIKELY(!(atomic_fetch_add(&p->nq, 1) & NQ_CLOSED)))
            return 0;
        atomic_fetch_sub(&p->nq, 1);   /* closed: take it back */
        return ESHUTDOWN;
    }
    size_t n = atomic_load(&p->nq);
    do {
        if (n & NQ_CLOSED)
            return ESHUTDOWN;
        if (n >= p->queue_max)
            return EAGAIN;
    } while (!atomic_compare_exchange_weak(&p->nq, &n, n + 1));
    return 0;
}

/* Waits until the queue may have room or the pool stops taking jobs: as a
 * thread, a coroutine, or (on one of this pool's threads) by running
 * queued jobs meanwhile.  Returns 0 or ECANCELED. */
static int wait_for_room(struct fut_pool *p)
{
    struct fut__sched *s = fut__sched_self();
    int rc = s->ops->cancelled(s);
    if (rc)
        return rc;
    struct fut__waiter w;
    struct fut__wnode node;
    fut__waiter_init(&w, 1, 1);
    node.w = &w;
    pthread_mutex_lock(&p->mu);
    fut__dlist_append(&p->room, &node.link);
    atomic_fetch_add(&p->nroom, 1);    /* seq_cst: pairs with uncount's nq decrement */
    pthread_mutex_unlock(&p->mu);
    /* Recheck after publishing ourselves (uncount decrements nq, then reads
     * nroom): either we see the room, or it sees us and wakes us. */
    if (queued(p) >= p->queue_max && atomic_load(&p->accepting))
        rc = fut__waiter_block(&w, FUT_NO_DEADLINE);
    pthread_mutex_lock(&p->mu);
    uint32_t unlinked = 0;
    if (node.link.on) {
        fut__dlist_remove(&p->room, &node.link);
        atomic_fetch_sub_explicit(&p->nroom, 1, memory_order_relaxed);
        unlinked = 1;
    }
    pthread_mutex_unlock(&p->mu);
    fut__waiter_leave(&w, unlinked);
    return rc;
}

static future_t *submit(fut_pool_t *p, fut_fn fn, void *arg, bool may_wait)
{
    if (!p || !fn) {
        errno = EINVAL;
        return NULL;
    }
    future_t *f = fut__future_alloc(&p->exec);
    if (!f)
        return NULL;
    f->fn = fn;
    f->arg = arg;

    int err = 0;
    for (;;) {
        if ((err = reserve(p)) == 0) {
            atomic_store_explicit(&f->refs, 2, memory_order_relaxed);  /* caller + queue */
            q_push(p, f);
            maybe_wake(p);
            return f;
        }
        if (err != EAGAIN || !may_wait)
            break;
        if ((err = wait_for_room(p)) != 0)
            break;
    }
    /* Never queued: nothing will run it. */
    f->exec = NULL;
    fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
    future_release(f);
    errno = err;
    return NULL;
}

future_t *fut_pool_submit(fut_pool_t *p, fut_fn fn, void *arg)
{
    return submit(p, fn, arg, true);
}

future_t *fut_pool_try_submit(fut_pool_t *p, fut_fn fn, void *arg)
{
    return submit(p, fn, arg, false);
}

int fut_pool_map(fut_pool_t *p, fut_fn fn, void *const args[], void *results[], size_t n)
{
    if (n == 0)
        return 0;
    if (!p || !fn || !args)
        return EINVAL;
    future_t **fs = n <= SIZE_MAX / sizeof *fs ? fut__malloc(n * sizeof *fs) : NULL;
    if (!fs)
        return ENOMEM;
    size_t k = 0;
    int err = 0;
    for (; k < n; k++) {
        fs[k] = fut_pool_submit(p, fn, args[k]);
        if (!fs[k]) {
            err = errno;
            break;
        }
    }
    int rc = future_gather(fs, k, results, FUT_FOREVER);
    if (results)
        for (size_t i = k; i < n; i++)
            results[i] = NULL;
    for (size_t i = 0; i < k; i++)
        future_release(fs[i]);
    free(fs);
    return rc ? rc : err;
}

/* The work of a shutdown, with no lock held (see "Shutdown" at the top). */
static void shutdown_work(struct fut_pool *p, enum fut_shutdown how)
{
    atomic_store(&p->accepting, false);
    if (how == FUT_CANCEL)
        atomic_store(&p->cancel_all, true);
    /* No reservation succeeds after this; those made before are counted
     * in nq, and a worker exits only once they have been taken. */
    atomic_fetch_or(&p->nq, NQ_CLOSED);
    atomic_store(&p->stopping, true);

    struct fut__fifo cancelled = {NULL, NULL};
    if (how == FUT_CANCEL) {
        size_t got = 0;
        pthread_mutex_lock(&p->cmu);
        for (;;) {
            /* A push still half done is taken (and, cancel_all being
             * set, cancelled) by a worker, which cannot exit before. */
            future_t *f = q_pop(p);
            if (!f)
                break;
            got += !atomic_exchange_explicit(&f->xflag, 1, memory_order_relaxed);
            fut__fifo_push(&cancelled, f);
        }
        pthread_mutex_unlock(&p->cmu);
        atomic_fetch_sub(&p->nq, got);
    }
    pthread_mutex_lock(&p->mu);
    while (!fut__dlist_empty(&p->idle))
        wake_one_locked(p);
    pthread_mutex_unlock(&p->mu);
    room_wake(p);

    /* Completing runs the jobs' callbacks: no lock is held here. */
    for (future_t *f; (f = fut__fifo_pop(&cancelled));) {
        fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
        future_release(f);
    }
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->workers[i].tid, NULL);
    /* What is left in the queue are entries of jobs that waiters ran
     * inline (they left the count, so no worker popped them): drop the
     * queue's references. */
    pthread_mutex_lock(&p->cmu);
    struct fut__fifo left = {NULL, NULL};
    for (future_t *f; (f = q_pop(p));)
        fut__fifo_push(&left, f);
    pthread_mutex_unlock(&p->cmu);
    for (future_t *f; (f = fut__fifo_pop(&left));) {
        assert(future_done(f));
        future_release(f);
    }
}

int fut_pool_shutdown(fut_pool_t *p, enum fut_shutdown how)
{
    if (!p || (how != FUT_DRAIN && how != FUT_CANCEL))
        return EINVAL;
    if (on_own_thread(p))
        return EDEADLK;
    pthread_mutex_lock(&p->shut_mu);
    enum shut_state st = p->shut_state;
    bool mine = st == SHUT_STOPPING && pthread_equal(p->shut_thread, pthread_self());
    if (st == SHUT_RUNNING) {
        p->shut_state = SHUT_STOPPING;
        p->shut_thread = pthread_self();
    }
    pthread_mutex_unlock(&p->shut_mu);
    if (st == SHUT_JOINED || mine)
        return 0;          /* done, or being done lower on this stack (a callback) */
    if (st == SHUT_STOPPING)
        return future_wait(p->joined_f, FUT_FOREVER) == ECANCELED ? ECANCELED : 0;
    shutdown_work(p, how);
    pthread_mutex_lock(&p->shut_mu);
    p->shut_state = SHUT_JOINED;
    pthread_mutex_unlock(&p->shut_mu);
    future_resolve(p->joined_f, NULL);
    return 0;
}

void fut_pool_free(fut_pool_t *p)
{
    if (!p)
        return;
    if (on_own_thread(p)) {
        errno = EDEADLK;
        return;
    }
    pthread_mutex_lock(&p->shut_mu);
    bool nested = p->shut_state == SHUT_STOPPING &&
                  pthread_equal(p->shut_thread, pthread_self());
    pthread_mutex_unlock(&p->shut_mu);
    if (nested) {
        errno = EBUSY;     /* from a callback of its own shutdown: refuse */
        return;
    }
    fut_pool_shutdown(p, FUT_DRAIN);
    pool_destroy(p);
}

size_t fut_pool_threads(const fut_pool_t *p)
{
    return p ? p->nthreads : 0;
}
