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
 *               makes the bound exact), decremented by take()
 *   nspinning   idle workers spinning on nq (at most one spins at a time)
 *   nidle       workers parked on the idle list
 *   submitting  submits between their `accepting` check and their push
 *
 * No lost wake-up.  A submit increments nq (seq_cst) and then reads
 * nspinning and nidle (seq_cst); a worker about to park increments nidle
 * (or, leaving its spin, decrements nspinning) and then rereads nq.  In the
 * single order of seq_cst operations one of the two sees the other: either
 * the worker sees the job and does not park, or the submit sees the
 * sleeper and wakes one idle worker.
 *
 * Waiting inside the pool.  A job that waits (get, gather, wait_any, a
 * full-queue submit) first runs the awaited jobs that have not started
 * (future.c), then fut__pool_help_wait runs the thread's own batch and
 * queued jobs of the pool, and parks on the idle list only when there is
 * nothing to run, where both a new job and the awaited completion wake it.
 * Every job held in a private batch is run by its holder even while the
 * holder waits, so waiting inside the pool cannot deadlock it.
 *
 * Locks: mu guards the idle list and the room waiters; cmu serialises the
 * consumers of the queue; shut_mu serialises shutdown.  Order:
 * shut_mu -> cmu -> mu -> future->lock -> parker->mu.  No lock is held
 * while a job runs.
 *
 * Shutdown.  `accepting` goes false, then shutdown waits until no submit
 * is between its check and its push (`submitting`), so nothing is pushed
 * after `stopping` goes true; workers exit once nothing is queued.
 * FUT_CANCEL also sets cancel_all, which makes workers cancel instead of
 * run every job they have not started, and drains the queue to cancel it.
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

struct worker {
    struct fut_pool *pool;             /* const */
    pthread_t tid;                     /* const after start */
    unsigned index;                    /* const */
    struct fut__parker *parker;        /* set by the thread before it can
                                          be idle; const afterwards */
    struct worker *idle_next, *idle_prev;  /* guarded by pool->mu */
    bool idle;                         /* on pool->idle; guarded by pool->mu */
    struct future *batch, *batch_tail; /* taken, not started: this thread only */
};

struct fut_pool {
    _Alignas(64) _Atomic(future_t *) tail;  /* producers' end of the queue */
    _Alignas(64) future_t *head;       /* consumers' end; guarded by cmu */
    pthread_mutex_t cmu;               /* serialises consumers */
    future_t stub;                     /* the queue's permanent stub node */
    _Alignas(64) atomic_size_t nq;     /* see "Counters" above */
    atomic_uint nspinning;
    atomic_uint nidle;
    atomic_uint submitting;
    atomic_uint nroom;                 /* room waiters linked on `room` */
    atomic_bool accepting;
    atomic_bool stopping;
    atomic_bool cancel_all;            /* set once by FUT_CANCEL */

    pthread_mutex_t mu;
    struct worker *idle;               /* parked workers; guarded by mu */
    struct fut__wnode *room, *room_tail;   /* submitters waiting for room,
                                              FIFO; guarded by mu */

    pthread_mutex_t shut_mu;           /* serialises shutdown */
    bool joined;                       /* guarded by shut_mu */

    size_t queue_max;                  /* const; 0: unbounded */
    size_t nthreads;                   /* const */
    struct worker *workers;            /* const array */
    char name[16];                     /* const */
};

static FUT_TLS struct worker *my_worker;

struct fut_pool *fut__pool_self(void)
{
    return my_worker ? my_worker->pool : NULL;
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
 * Idle list and room waiters (pool->mu held)
 * ------------------------------------------------------------------- */

static void idle_push(struct fut_pool *p, struct worker *w)
{
    assert(!w->idle);
    w->idle = true;
    w->idle_prev = NULL;
    w->idle_next = p->idle;
    if (p->idle)
        p->idle->idle_prev = w;
    p->idle = w;
    atomic_fetch_add(&p->nidle, 1);    /* seq_cst: see "No lost wake-up" */
}

static void idle_remove(struct fut_pool *p, struct worker *w)
{
    assert(w->idle);
    if (w->idle_prev)
        w->idle_prev->idle_next = w->idle_next;
    else
        p->idle = w->idle_next;
    if (w->idle_next)
        w->idle_next->idle_prev = w->idle_prev;
    w->idle = false;
    atomic_fetch_sub_explicit(&p->nidle, 1, memory_order_relaxed);
}

/* Wakes one parked worker.  Under pool->mu: a worker on the idle list
 * cannot exit (it must retake mu first), so its parker is alive. */
static void wake_one_locked(struct fut_pool *p)
{
    struct worker *w = p->idle;
    if (!w)
        return;
    idle_remove(p, w);
    fut__unpark(w->parker);
}

/* After work was queued: wake a parked worker unless one is spinning and
 * will find it.  Costs two loads when nobody sleeps. */
static void maybe_wake(struct fut_pool *p)
{
    if (atomic_load(&p->nspinning) == 0 && atomic_load(&p->nidle) > 0) {
        pthread_mutex_lock(&p->mu);
        wake_one_locked(p);
        pthread_mutex_unlock(&p->mu);
    }
}

static void room_link(struct fut_pool *p, struct fut__wnode *n, struct fut__waiter *w)
{
    n->w = w;
    n->next = NULL;
    n->prev = p->room_tail;
    if (p->room_tail)
        p->room_tail->next = n;
    else
        p->room = n;
    p->room_tail = n;
    n->linked = true;
    atomic_fetch_add(&p->nroom, 1);    /* seq_cst: pairs with take's nq decrement */
}

static void room_unlink(struct fut_pool *p, struct fut__wnode *n)
{
    if (!n->linked)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        p->room = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        p->room_tail = n->prev;
    n->linked = false;
    atomic_fetch_sub_explicit(&p->nroom, 1, memory_order_relaxed);
}

/* Wakes every submitter waiting for room; each rechecks and the losers
 * wait again.  Waking only as many as there are new slots could pick a
 * waiter deeper on the stack of the very thread that made the room (a
 * pool thread helping inside a full-queue submit) and leave the one that
 * can use it asleep.  pool->mu held. */
static void room_wake_locked(struct fut_pool *p)
{
    while (p->room) {
        struct fut__wnode *n = p->room;
        room_unlink(p, n);
        fut__waiter_fire(n->w);
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
        return atomic_load_explicit(&p->nq, memory_order_relaxed);
    /* seq_cst: a room waiter links itself, bumps nroom and rereads nq. */
    size_t left = atomic_fetch_sub(&p->nq, k) - k;
    if (atomic_load(&p->nroom)) {
        pthread_mutex_lock(&p->mu);
        room_wake_locked(p);
        pthread_mutex_unlock(&p->mu);
    }
    return left;
}

/* Moves up to `max` queued jobs into w's batch.  Returns the number taken
 * (0: nothing queued, or only half-done pushes: the caller looks at nq
 * again before sleeping). */
static size_t take(struct fut_pool *p, struct worker *w, size_t max)
{
    size_t avail = atomic_load_explicit(&p->nq, memory_order_relaxed);
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
        counted += !atomic_exchange_explicit(&f->dequeued, 1, memory_order_relaxed);
        atomic_store_explicit(&f->qnext, NULL, memory_order_relaxed);
        if (w->batch_tail)
            atomic_store_explicit(&w->batch_tail->qnext, f, memory_order_relaxed);
        else
            w->batch = f;
        w->batch_tail = f;
        got++;
    }
    pthread_mutex_unlock(&p->cmu);
    if (!got)
        return 0;
    if (uncount(p, counted))
        maybe_wake(p);                 /* fan a burst out */
    return got;
}

static struct future *batch_pop(struct worker *w)
{
    struct future *f = w->batch;
    if (f) {
        w->batch = fut__qnext(f);
        if (!w->batch)
            w->batch_tail = NULL;
        fut__set_qnext(f, NULL);
    }
    return f;
}

/* Runs a job whose future this thread has just moved to RUNNING. */
static void execute(future_t *f)
{
    struct fut__task task = {f, 0, fut__task_current()};
    struct fut__task *prev = fut__task_swap(&task);
    uint64_t t0 = fut__tracing() ? fut__now_ns() : 0;
    void *v = f->fn(f->arg);
    if (FUT_UNLIKELY(t0))
        fut__trace_slice(f, t0);
    fut__task_swap(prev);
    /* May fail (EINVAL) if the user completed the future by hand while
     * the job ran: the first completion wins. */
    if (task.raised)
        fut__complete(f, FUTURE_RUNNING, FUTURE_FAILED, NULL, task.raised);
    else
        fut__complete(f, FUTURE_RUNNING, FUTURE_DONE, v, 0);
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
        execute(f);
    future_release(f);
}

bool fut__pool_run_inline(struct fut_pool *p, future_t *f)
{
    if (atomic_load_explicit(&p->cancel_all, memory_order_relaxed) || !fut__start(f))
        return false;
    /* The queue entry keeps its reference and is skipped when taken; the
     * job leaves the count of queued jobs now, making room. */
    if (!atomic_exchange_explicit(&f->dequeued, 1, memory_order_relaxed))
        uncount(p, 1);
    execute(f);
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

/* Spins until a job is queued, the pool stops, or the spin budget is
 * spent. */
static void idle_spin(struct fut_pool *p)
{
    uint64_t end = fut__now_ns() + IDLE_SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&p->nq, memory_order_relaxed) ||
            atomic_load_explicit(&p->stopping, memory_order_relaxed))
            return;
        fut__pause();
        if ((i & 63) == 0 && fut__now_ns() >= end)
            return;
    }
}

/* Parks w on the idle list until a submit or a completion wakes it, unless
 * work is visible after it has published itself as idle (see "No lost
 * wake-up").  `fired` (may be NULL) is a waiter's flag that also ends the
 * sleep.  Returns when it should look for work again. */
static void park(struct fut_pool *p, struct worker *w, atomic_int *fired, uint64_t deadline)
{
    if (!w->parker) {
        /* No parker could be made (ENOMEM at thread start): poll. */
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        return;
    }
    pthread_mutex_lock(&p->mu);
    idle_push(p, w);
    pthread_mutex_unlock(&p->mu);
    if (!atomic_load(&p->nq) && !atomic_load(&p->stopping))
        fut__park(w->parker, fired, deadline);
    pthread_mutex_lock(&p->mu);
    if (w->idle)                       /* not woken by a submit */
        idle_remove(p, w);
    pthread_mutex_unlock(&p->mu);
}

static void run_batch(struct fut_pool *p, struct worker *w)
{
    struct future *f;
    while ((f = batch_pop(w)))
        run_job(p, f);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct fut_pool *p = w->pool;
    my_worker = w;
    set_thread_name(p, w->index);
    w->parker = fut__parker_self();    /* NULL only on ENOMEM: park polls */

    for (;;) {
        if (take(p, w, BATCH_MAX)) {
            run_batch(p, w);
            continue;
        }
        if (atomic_load(&p->nq))
            continue;                  /* a push is half done: retry */
        if (atomic_load(&p->stopping))
            break;                     /* nothing queued, nothing will be */
        /* One worker spins; the others park at once. */
        if (atomic_fetch_add(&p->nspinning, 1) == 0)
            idle_spin(p);
        atomic_fetch_sub(&p->nspinning, 1);   /* seq_cst, then reread nq */
        if (atomic_load(&p->nq) || atomic_load(&p->stopping))
            continue;
        park(p, w, NULL, FUT_NO_DEADLINE);
    }
    return NULL;
}

int fut__pool_help_wait(struct fut_pool *p, struct fut__waiter *wt, uint64_t deadline)
{
    struct worker *w = my_worker;
    assert(w && w->pool == p);
    for (;;) {
        if (atomic_load_explicit(&wt->fired, memory_order_acquire))
            return 0;
        struct future *f = batch_pop(w);
        if (f) {
            run_job(p, f);
            continue;
        }
        if (take(p, w, 1))
            continue;
        if (fut__now_ns() >= deadline)
            return atomic_load_explicit(&wt->fired, memory_order_acquire) ? 0 : ETIMEDOUT;
        if (atomic_load(&p->nq))
            continue;                  /* a push is half done: retry */
        park(p, w, &wt->fired, deadline);
    }
}

/* ---------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------- */

static void pool_destroy(struct fut_pool *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->cmu);
    pthread_mutex_destroy(&p->shut_mu);
    free(p->workers);
    free(p);
}

/* Initialises a mutex; adaptive (a short spin before sleeping) where glibc
 * offers it: cmu and mu are held for a few instructions at a time. */
static int mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t ma;
    if (pthread_mutexattr_init(&ma) != 0)
        return ENOMEM;
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    int rc = pthread_mutex_init(m, &ma);
    pthread_mutexattr_destroy(&ma);
    return rc ? ENOMEM : 0;
}

fut_pool_t *fut_pool_new(const fut_pool_opts *opts)
{
    size_t n = opts ? opts->threads : 0;
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (size_t)c : 1;
    }
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
    if (!ws) {
        free(p);
        errno = ENOMEM;
        return NULL;
    }
    if (mutex_init(&p->mu)) {
        free(p);
        free(ws);
        errno = ENOMEM;
        return NULL;
    }
    if (mutex_init(&p->cmu)) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        free(ws);
        errno = ENOMEM;
        return NULL;
    }
    if (pthread_mutex_init(&p->shut_mu, NULL) != 0) {
        pthread_mutex_destroy(&p->cmu);
        pthread_mutex_destroy(&p->mu);
        free(p);
        free(ws);
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&p->stub.qnext, NULL);
    atomic_init(&p->tail, &p->stub);
    p->head = &p->stub;
    atomic_init(&p->nq, 0);
    atomic_init(&p->nspinning, 0);
    atomic_init(&p->nidle, 0);
    atomic_init(&p->submitting, 0);
    atomic_init(&p->nroom, 0);
    atomic_init(&p->accepting, true);
    atomic_init(&p->stopping, false);
    atomic_init(&p->cancel_all, false);
    p->queue_max = opts ? opts->queue_max : 0;
    p->workers = ws;
    p->nthreads = n;
    const char *name = opts && opts->name && opts->name[0] ? opts->name : "fut";
    snprintf(p->name, sizeof p->name, "%s", name);

    for (size_t i = 0; i < n; i++) {
        ws[i].pool = p;
        ws[i].index = (unsigned)i;
        int rc = pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
        if (rc != 0) {
            /* Stop and join the ones already started, then fail. */
            atomic_store(&p->accepting, false);
            atomic_store(&p->stopping, true);
            pthread_mutex_lock(&p->mu);
            while (p->idle)
                wake_one_locked(p);
            pthread_mutex_unlock(&p->mu);
            for (size_t j = 0; j < i; j++)
                pthread_join(ws[j].tid, NULL);
            pool_destroy(p);
            errno = rc == ENOMEM ? ENOMEM : EAGAIN;
            return NULL;
        }
    }
    return p;
}

/* Reserves a place in the queue: exact against queue_max.  Returns 0, or
 * EAGAIN when the queue is full. */
static int reserve(struct fut_pool *p)
{
    if (!p->queue_max) {
        atomic_fetch_add(&p->nq, 1);   /* seq_cst: see "No lost wake-up" */
        return 0;
    }
    size_t n = atomic_load(&p->nq);
    do {
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
    struct fut__waiter w;
    struct fut__wnode node;
    fut__waiter_init(&w, 1);
    pthread_mutex_lock(&p->mu);
    room_link(p, &node, &w);           /* nroom++ (seq_cst) */
    pthread_mutex_unlock(&p->mu);
    int rc = 0;
    /* Recheck after publishing ourselves (take decrements nq, then reads
     * nroom): either we see the room, or take sees us and wakes us. */
    if (atomic_load(&p->nq) >= p->queue_max && atomic_load(&p->accepting))
        rc = fut__waiter_block(&w, FUT_NO_DEADLINE);
    pthread_mutex_lock(&p->mu);
    room_unlink(p, &node);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static future_t *submit(fut_pool_t *p, fut_fn fn, void *arg, bool may_wait)
{
    if (!p || !fn) {
        errno = EINVAL;
        return NULL;
    }
    future_t *f = fut__future_alloc(FUT__JOB);
    if (!f)
        return NULL;
    f->fn = fn;
    f->arg = arg;
    f->owner.pool = p;

    int err = 0;
    for (;;) {
        atomic_fetch_add(&p->submitting, 1);
        if (!atomic_load(&p->accepting)) {
            err = ESHUTDOWN;
        } else if ((err = reserve(p)) == 0) {
            atomic_store_explicit(&f->refs, 2, memory_order_relaxed);  /* caller + queue */
            q_push(p, f);
            atomic_fetch_sub(&p->submitting, 1);
            maybe_wake(p);
            return f;
        }
        atomic_fetch_sub(&p->submitting, 1);
        if (err != EAGAIN || !may_wait)
            break;
        if ((err = wait_for_room(p)) != 0)
            break;
    }
    /* Never queued: nothing will run it. */
    f->kind = FUT__PROMISE;
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

int fut_pool_shutdown(fut_pool_t *p, enum fut_shutdown how)
{
    if (!p || (how != FUT_DRAIN && how != FUT_CANCEL))
        return EINVAL;
    if (my_worker && my_worker->pool == p)
        return EDEADLK;
    pthread_mutex_lock(&p->shut_mu);
    if (p->joined) {
        pthread_mutex_unlock(&p->shut_mu);
        return 0;
    }
    atomic_store(&p->accepting, false);
    if (how == FUT_CANCEL)
        atomic_store(&p->cancel_all, true);
    /* Let every submit that passed its `accepting` check finish its push:
     * after this, nothing new can enter the queue. */
    while (atomic_load(&p->submitting))
        sched_yield();
    atomic_store(&p->stopping, true);

    future_t *cancelled = NULL, *ctail = NULL;
    if (how == FUT_CANCEL) {
        size_t got = 0;
        pthread_mutex_lock(&p->cmu);
        for (;;) {
            /* No push is half done any more (submitting is 0), so an
             * empty pop means an empty queue. */
            future_t *f = q_pop(p);
            if (!f)
                break;
            got += !atomic_exchange_explicit(&f->dequeued, 1, memory_order_relaxed);
            atomic_store_explicit(&f->qnext, NULL, memory_order_relaxed);
            if (ctail)
                atomic_store_explicit(&ctail->qnext, f, memory_order_relaxed);
            else
                cancelled = f;
            ctail = f;
        }
        pthread_mutex_unlock(&p->cmu);
        atomic_fetch_sub(&p->nq, got);
    }
    pthread_mutex_lock(&p->mu);
    while (p->idle)
        wake_one_locked(p);
    room_wake_locked(p);
    pthread_mutex_unlock(&p->mu);

    while (cancelled) {
        future_t *next = fut__qnext(cancelled);
        fut__set_qnext(cancelled, NULL);
        fut__complete(cancelled, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
        future_release(cancelled);
        cancelled = next;
    }
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->workers[i].tid, NULL);
    /* What is left in the queue are entries of jobs that waiters ran
     * inline (they left the count, so no worker popped them): drop the
     * queue's references. */
    pthread_mutex_lock(&p->cmu);
    for (future_t *f; (f = q_pop(p));) {
        assert(future_done(f));
        future_release(f);
    }
    pthread_mutex_unlock(&p->cmu);
    p->joined = true;
    pthread_mutex_unlock(&p->shut_mu);
    return 0;
}

void fut_pool_free(fut_pool_t *p)
{
    if (!p)
        return;
    if (my_worker && my_worker->pool == p) {
        errno = EDEADLK;
        return;
    }
    fut_pool_shutdown(p, FUT_DRAIN);
    pool_destroy(p);
}

size_t fut_pool_threads(const fut_pool_t *p)
{
    return p ? p->nthreads : 0;
}
