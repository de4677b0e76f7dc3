/*
 * pool.c - the fixed thread pool
 *
 * Design.  One FIFO queue of jobs per pool, guarded by pool->mu.  A job is
 * its future (kind FUT__JOB: fn, arg and the queue link live in it), so a
 * submit is one allocation.  Workers take jobs in small batches into a
 * private list, so a burst of submits costs the queue lock once per batch
 * on the worker side; the batch shrinks as the queue empties (queued / 2T,
 * at most BATCH_MAX) so that the tail of a run stays balanced.
 *
 * Idle workers.  A worker with nothing to do first spins for a short while
 * (at most one worker spins at a time, as Go's scheduler does), so a job
 * submitted right after the last one finished is picked up without a
 * futex wake; then it parks on its thread's parker, linked on pool->idle.
 * A submit that finds no spinner wakes one idle worker.  A worker that took
 * jobs and sees more queued wakes the next idle one, so a burst fans out.
 *
 * Waiting inside the pool.  A job that waits (get, gather, wait_any, a
 * full-queue submit) does not block its thread: fut__pool_help_wait runs
 * the thread's own batch, then queued jobs of the pool, and parks on the
 * idle list only when there is nothing to run, where both a new job and
 * the awaited completion wake it.  Every job held in a private batch is
 * therefore run by its holder even while the holder waits: waiting inside
 * the pool cannot deadlock it.
 *
 * Lock order: pool->shut_mu -> pool->mu -> future->mu -> parker->mu.
 * pool->mu is never held while a job runs.
 *
 * Shutdown.  accepting goes false (submits fail with ESHUTDOWN), stopping
 * goes true (workers exit once nothing is queued), every idle worker and
 * room waiter is woken.  FUT_CANCEL also sets cancel_all, which makes
 * workers cancel instead of run every job they have not started, and
 * detaches the queue to cancel it.  Then all threads are joined.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_MAX 32
/* How long one idle worker spins before parking. */
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
    pthread_mutex_t mu;
    struct future *head, *tail;        /* queued jobs (qnext); guarded by mu */
    size_t queued;                     /* length of that list; guarded by mu */
    atomic_size_t nq;                  /* copy of queued, stored under mu,
                                          read without it by the spinner */
    size_t queue_max;                  /* const; 0: unbounded */
    struct fut__wnode *room, *room_tail;   /* submitters waiting for room,
                                              FIFO; guarded by mu */
    struct worker *idle;               /* parked workers; guarded by mu */
    unsigned spinning;                 /* workers spinning; guarded by mu */
    bool accepting;                    /* guarded by mu */
    bool stopping;                     /* guarded by mu */
    atomic_bool cancel_all;            /* set once by FUT_CANCEL */

    pthread_mutex_t shut_mu;           /* serialises shutdown */
    bool joined;                       /* guarded by shut_mu */

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
}

/* Wakes one parked worker.  Under pool->mu: a worker on the idle list
 * cannot exit (it must retake mu first), so its parker is alive. */
static void wake_one(struct fut_pool *p)
{
    struct worker *w = p->idle;
    if (!w)
        return;
    idle_remove(p, w);
    fut__unpark(w->parker);
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
}

/* Wakes every submitter waiting for room; each rechecks and the losers
 * wait again.  Waking only as many as there are new slots could pick a
 * waiter deeper on the stack of the very thread that made the room (a
 * pool thread helping inside a full-queue submit) and leave the one that
 * can use it asleep. */
static void room_wake(struct fut_pool *p)
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

/* Moves up to `max` queued jobs into w's batch.  pool->mu held.  Returns
 * the number taken. */
static size_t take(struct fut_pool *p, struct worker *w, size_t max)
{
    if (!p->queued)
        return 0;
    size_t k = p->queued / (2 * p->nthreads) + 1;
    if (k > max)
        k = max;
    if (p->queue_max)
        k = 1;                         /* room must mean "not started" */
    struct future *first = p->head, *last = first;
    for (size_t i = 1; i < k; i++)
        last = last->qnext;
    p->head = last->qnext;
    if (!p->head)
        p->tail = NULL;
    last->qnext = NULL;
    p->queued -= k;
    atomic_store_explicit(&p->nq, p->queued, memory_order_relaxed);
    if (w->batch_tail)
        w->batch_tail->qnext = first;
    else
        w->batch = first;
    w->batch_tail = last;
    if (p->room)
        room_wake(p);
    /* Fan a burst out: more work than we took, nobody spinning. */
    if (p->queued && !p->spinning)
        wake_one(p);
    return k;
}

static struct future *batch_pop(struct worker *w)
{
    struct future *f = w->batch;
    if (f) {
        w->batch = f->qnext;
        if (!w->batch)
            w->batch_tail = NULL;
        f->qnext = NULL;
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
    /* The queue entry keeps its reference and is skipped when taken. */
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

/* Spins until a job is queued or the spin budget is spent.  pool->mu is
 * NOT held; the caller rechecks the queue under it afterwards. */
static void idle_spin(struct fut_pool *p)
{
    uint64_t end = fut__now_ns() + IDLE_SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&p->nq, memory_order_relaxed))
            return;
        fut__pause();
        if ((i & 63) == 0 && fut__now_ns() >= end)
            return;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct fut_pool *p = w->pool;
    my_worker = w;
    set_thread_name(p, w->index);
    /* Without a parker the worker could not sleep; fut_pool_new made sure
     * the parker key works, so this only fails on ENOMEM: then it spins
     * politely on the queue (see below). */
    w->parker = fut__parker_self();

    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (take(p, w, BATCH_MAX)) {
            pthread_mutex_unlock(&p->mu);
            struct future *f;
            while ((f = batch_pop(w)))
                run_job(p, f);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (p->stopping)
            break;
        if (!p->spinning) {
            p->spinning++;
            pthread_mutex_unlock(&p->mu);
            idle_spin(p);
            pthread_mutex_lock(&p->mu);
            p->spinning--;
            if (p->queued || p->stopping)
                continue;
        }
        if (!w->parker) {
            pthread_mutex_unlock(&p->mu);
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        idle_push(p, w);
        pthread_mutex_unlock(&p->mu);
        fut__park(w->parker, NULL, FUT_NO_DEADLINE);
        pthread_mutex_lock(&p->mu);
        if (w->idle)                   /* a stale signal woke us */
            idle_remove(p, w);
    }
    pthread_mutex_unlock(&p->mu);
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
        pthread_mutex_lock(&p->mu);
        if (take(p, w, 1)) {
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        if (fut__now_ns() >= deadline) {
            pthread_mutex_unlock(&p->mu);
            return atomic_load_explicit(&wt->fired, memory_order_acquire) ? 0 : ETIMEDOUT;
        }
        if (!w->parker) {
            pthread_mutex_unlock(&p->mu);
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            continue;
        }
        idle_push(p, w);
        pthread_mutex_unlock(&p->mu);
        fut__park(w->parker, &wt->fired, deadline);
        pthread_mutex_lock(&p->mu);
        if (w->idle)
            idle_remove(p, w);
        pthread_mutex_unlock(&p->mu);
    }
}

/* ---------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------- */

static void pool_destroy(struct fut_pool *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->shut_mu);
    free(p->workers);
    free(p);
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
    struct fut_pool *p = calloc(1, sizeof *p);
    struct worker *ws = n <= SIZE_MAX / sizeof *ws ? calloc(n, sizeof *ws) : NULL;
    if (!p || !ws) {
        free(p);
        free(ws);
        errno = ENOMEM;
        return NULL;
    }
    /* pool->mu is held for a few instructions at a time by the submitter
     * and every worker: spinning briefly on contention beats sleeping in
     * the kernel (measured: W1, see doc/performance.md). */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    int mrc = pthread_mutex_init(&p->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    if (mrc != 0) {
        free(p);
        free(ws);
        errno = ENOMEM;
        return NULL;
    }
    if (pthread_mutex_init(&p->shut_mu, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        free(ws);
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&p->nq, 0);
    atomic_init(&p->cancel_all, false);
    p->queue_max = opts ? opts->queue_max : 0;
    p->accepting = true;
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
            pthread_mutex_lock(&p->mu);
            p->accepting = false;
            p->stopping = true;
            while (p->idle)
                wake_one(p);
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

static future_t *submit(fut_pool_t *p, fut_fn fn, void *arg, bool wait_for_room)
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
    f->pool = p;
    atomic_store_explicit(&f->refs, 2, memory_order_relaxed);  /* caller + queue */

    int err = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (!p->accepting) {
            err = ESHUTDOWN;
            break;
        }
        if (!p->queue_max || p->queued < p->queue_max)
            break;
        if (!wait_for_room) {
            err = EAGAIN;
            break;
        }
        /* Full: wait for room as a thread, a coroutine, or (on one of
         * this pool's threads) by running queued jobs meanwhile. */
        struct fut__waiter w;
        struct fut__wnode node;
        fut__waiter_init(&w, 1);
        room_link(p, &node, &w);
        pthread_mutex_unlock(&p->mu);
        int rc = fut__waiter_block(&w, FUT_NO_DEADLINE);
        pthread_mutex_lock(&p->mu);
        room_unlink(p, &node);
        if (rc) {
            err = rc;
            break;
        }
    }
    if (err) {
        pthread_mutex_unlock(&p->mu);
        atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
        f->kind = FUT__PROMISE;        /* never queued: nothing will run it */
        fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
        future_release(f);
        errno = err;
        return NULL;
    }
    if (p->tail)
        p->tail->qnext = f;
    else
        p->head = f;
    p->tail = f;
    p->queued++;
    atomic_store_explicit(&p->nq, p->queued, memory_order_relaxed);
    if (!p->spinning)
        wake_one(p);
    pthread_mutex_unlock(&p->mu);
    return f;
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
    future_t **fs = n <= SIZE_MAX / sizeof *fs ? malloc(n * sizeof *fs) : NULL;
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
    struct future *cancelled = NULL;
    pthread_mutex_lock(&p->mu);
    p->accepting = false;
    p->stopping = true;
    if (how == FUT_CANCEL) {
        atomic_store(&p->cancel_all, true);
        cancelled = p->head;
        p->head = p->tail = NULL;
        p->queued = 0;
        atomic_store_explicit(&p->nq, 0, memory_order_relaxed);
    }
    while (p->idle)
        wake_one(p);
    room_wake(p);
    pthread_mutex_unlock(&p->mu);

    while (cancelled) {
        struct future *next = cancelled->qnext;
        cancelled->qnext = NULL;
        fut__complete(cancelled, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED);
        future_release(cancelled);
        cancelled = next;
    }
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->workers[i].tid, NULL);
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
