/*
 * future.c - futures: the state machine, waiting, callbacks, continuations
 *
 * Lifetimes.  A future is freed when its last reference is dropped.  The
 * creator's reference is handed to the caller; a queued job or a live
 * coroutine holds one more, dropped when it has completed the future; a
 * future_then continuation holds one on the future it will complete.
 * Waiters borrow: a waiting call never takes a reference, so the caller
 * must keep the futures it waits on alive for the duration of the call.
 *
 * State machine (f->state, atomic):
 *
 *     PENDING --start--> RUNNING --+
 *        |                         +--claim--> COMPLETING --publish--> DONE
 *        +----------------claim----+                                   FAILED
 *                                                                      CANCELLED
 *
 * Every transition is a CAS on f->state, so exactly one completion wins
 * the claim.  COMPLETING is private to the winner: it writes value and err,
 * then publishes the terminal state with a seq_cst store (a release for the
 * readers' acquire loads).  Readers treat COMPLETING as "not complete yet".
 *
 * Waking without a lock when nobody waits.  Registering a waiter or a
 * callback stores f->has_waiters = true (seq_cst) under f->lock and then
 * loads f->state; a completer publishes the state (seq_cst) and then loads
 * f->has_waiters.  By sequential consistency at least one of the two sees
 * the other's store: either the registrar sees the terminal state and does
 * not link, or the completer sees has_waiters and takes f->lock, which the
 * registrar holds until its node is linked.  So a completion with nobody
 * waiting costs two atomic operations and no lock.
 *
 * Lock order: pool->mu -> future->lock -> (parker->mu | loop->mu).  A
 * completer fires waiters while holding f->lock; a waiter that gives up
 * (timeout, wait_any) unlinks its nodes under each f->lock, so once it has
 * done that, no completer can still be touching its stack-allocated record.
 * Callbacks run after f->lock is released, in registration order.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum { FUT__COMPLETING = 5 };   /* internal state between claim and publish */

/* How long a thread spins on a waiter before sleeping: enough to catch a
 * job finishing on a spinning pool thread (a round trip of a few
 * microseconds) without burning a core when the wait is long. */
#define WAIT_SPIN_NS 4000u

/* ---------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------- */

uint64_t fut__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t fut__deadline(long timeout_ms)
{
    if (timeout_ms < 0)
        return FUT_NO_DEADLINE;
    uint64_t now = fut__now_ns();
    /* Clamp instead of wrapping: a deadline past UINT64_MAX is "never". */
    if ((uint64_t)timeout_ms > (FUT_NO_DEADLINE - now) / 1000000u)
        return FUT_NO_DEADLINE;
    return now + (uint64_t)timeout_ms * 1000000u;
}

struct timespec fut__timespec(uint64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

/* ---------------------------------------------------------------------
 * Parker: one per thread, created on first use (see internal.h)
 * ------------------------------------------------------------------- */

static pthread_key_t parker_key;
static pthread_once_t parker_once = PTHREAD_ONCE_INIT;
static int parker_key_err;
static FUT_TLS struct fut__parker *my_parker;

static void parker_destroy(void *p)
{
    struct fut__parker *pk = p;
    pthread_cond_destroy(&pk->cv);
    pthread_mutex_destroy(&pk->mu);
    free(pk);
}

static void parker_key_init(void)
{
    parker_key_err = pthread_key_create(&parker_key, parker_destroy);
}

struct fut__parker *fut__parker_self(void)
{
    if (FUT_LIKELY(my_parker != NULL))
        return my_parker;
    if (pthread_once(&parker_once, parker_key_init) != 0 || parker_key_err != 0)
        return NULL;
    struct fut__parker *pk = fut__calloc(1, sizeof *pk);
    if (!pk)
        return NULL;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        goto fail;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&pk->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        goto fail;
    if (pthread_mutex_init(&pk->mu, NULL) != 0) {
        pthread_cond_destroy(&pk->cv);
        goto fail;
    }
    if (pthread_setspecific(parker_key, pk) != 0) {
        parker_destroy(pk);
        return NULL;
    }
    my_parker = pk;
    return pk;
fail:
    free(pk);
    return NULL;
}

void fut__unpark(struct fut__parker *pk)
{
    pthread_mutex_lock(&pk->mu);
    pk->signalled = 1;
    pthread_cond_signal(&pk->cv);
    pthread_mutex_unlock(&pk->mu);
}

/* Sleeps on pk until signalled or the deadline; clears the signal.
 * Returns 0 if signalled, ETIMEDOUT.  `stop` is checked under pk->mu
 * before sleeping so that a firing that happened before we took the lock
 * is not slept through (the firer stores it before taking pk->mu). */
int fut__park(struct fut__parker *pk, atomic_int *stop, uint64_t deadline)
{
    int rc = 0;
    pthread_mutex_lock(&pk->mu);
    while (!pk->signalled && !(stop && atomic_load_explicit(stop, memory_order_acquire))) {
        if (deadline == FUT_NO_DEADLINE) {
            pthread_cond_wait(&pk->cv, &pk->mu);
        } else {
            struct timespec ts = fut__timespec(deadline);
            if (pthread_cond_timedwait(&pk->cv, &pk->mu, &ts) == ETIMEDOUT) {
                rc = pk->signalled ? 0 : ETIMEDOUT;
                break;
            }
        }
    }
    pk->signalled = 0;
    pthread_mutex_unlock(&pk->mu);
    return rc;
}

/* ---------------------------------------------------------------------
 * The running task (fut_raise, EDEADLK)
 * ------------------------------------------------------------------- */

static FUT_TLS struct fut__task *cur_task;

struct fut__task *fut__task_current(void) { return cur_task; }

struct fut__task *fut__task_swap(struct fut__task *t)
{
    struct fut__task *old = cur_task;
    cur_task = t;
    return old;
}

void *fut_raise(int err)
{
    struct fut__task *t = cur_task;
    if (t)
        t->raised = err > 0 ? err : EINVAL;
    return NULL;
}

/* ---------------------------------------------------------------------
 * Allocation and references
 * ------------------------------------------------------------------- */

/*
 * Future memory.  A thread carves the futures it creates from its own
 * chunk of CHUNK_FUTURES slots, so an allocation is a pointer bump and a
 * free one atomic decrement (malloc and free were half the instructions of
 * a W1 task).  A chunk's `live` counts the slots not yet freed plus one
 * while it is some thread's current chunk; it starts at all slots + 1 and
 * the owner gives back the unused slots when it retires the chunk, so the
 * bump needs no atomic.  The last decrement frees the chunk: memory goes
 * back to malloc once every future of a chunk is released (one long-lived
 * future keeps its 16 KiB chunk).  A future is freed from any thread.
 * Under AddressSanitizer every future is its own malloc, so a use after
 * free is caught exactly.
 */
#define CHUNK_FUTURES 168

#if !defined(FUT_ASAN)
struct fut__chunk {
    atomic_uint live;
    future_t slot[CHUNK_FUTURES];
};

struct chunk_cursor {
    struct fut__chunk *cur;          /* this thread's current chunk */
    unsigned next;                   /* next unused slot in cur */
};

static FUT_TLS struct chunk_cursor my_chunk;
static pthread_key_t chunk_key;
static pthread_once_t chunk_once = PTHREAD_ONCE_INIT;
static int chunk_key_err;

static void chunk_put(struct fut__chunk *c, unsigned n)
{
    /* acq_rel: every use of the chunk's slots happens before the free in
     * whichever thread gives back the last of them. */
    if (atomic_fetch_sub_explicit(&c->live, n, memory_order_acq_rel) == n)
        free(c);
}

/* Retires the thread's current chunk: gives back its unused slots and the
 * current-chunk count. */
static void chunk_retire(struct chunk_cursor *cc)
{
    if (cc->cur) {
        chunk_put(cc->cur, (CHUNK_FUTURES - cc->next) + 1);
        cc->cur = NULL;
    }
}

static void chunk_thread_exit(void *p)
{
    (void)p;
    chunk_retire(&my_chunk);
}

static void chunk_key_init(void)
{
    chunk_key_err = pthread_key_create(&chunk_key, chunk_thread_exit);
}
#endif /* !FUT_ASAN */

static future_t *future_mem(void)
{
#if defined(FUT_ASAN)
    future_t *f = fut__malloc(sizeof *f);
    if (f)
        f->chunk = NULL;
    return f;
#else
    struct chunk_cursor *cc = &my_chunk;
    if (FUT_UNLIKELY(!cc->cur || cc->next == CHUNK_FUTURES)) {
        if (pthread_once(&chunk_once, chunk_key_init) != 0 || chunk_key_err != 0)
            return NULL;
        struct fut__chunk *c = fut__malloc(sizeof *c);
        if (!c)
            return NULL;
        if (!cc->cur && pthread_setspecific(chunk_key, cc) != 0) {
            free(c);
            return NULL;
        }
        chunk_retire(cc);
        atomic_init(&c->live, CHUNK_FUTURES + 1);
        cc->cur = c;
        cc->next = 0;
    }
    future_t *f = &cc->cur->slot[cc->next++];
    f->chunk = cc->cur;
    return f;
#endif
}

static void future_mem_free(future_t *f)
{
#if !defined(FUT_ASAN)
    if (f->chunk) {
        chunk_put(f->chunk, 1);
        return;
    }
#endif
    free(f);
}

future_t *fut__future_alloc(enum fut__kind kind)
{
    future_t *f = future_mem();
    if (!f) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&f->state, FUTURE_PENDING);
    atomic_init(&f->refs, 1);
    atomic_init(&f->has_waiters, false);
    atomic_init(&f->lock, 0);
    atomic_init(&f->dequeued, 0);
    atomic_init(&f->qnext, NULL);
    atomic_init(&f->name, NULL);
    f->kind = kind;
    f->err = 0;
    f->value = NULL;
    f->waiters = NULL;
    f->cbs = NULL;
    f->fn = NULL;
    f->arg = NULL;
    f->owner.pool = NULL;
    f->coro = NULL;
    return f;
}

future_t *future_new(void)
{
    return fut__future_alloc(FUT__PROMISE);
}

future_t *future_retain(future_t *f)
{
    if (f)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void future_release(future_t *f)
{
    if (!f)
        return;
    /* acq_rel: our earlier uses of f happen before the free in whichever
     * thread drops the last reference. */
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (!future_done(f)) {
        /* A promise dropped without being completed: nobody can complete
         * it any more, so cancel it, which runs its callbacks (and so
         * completes its continuations) instead of leaking them.  Jobs and
         * coroutines hold their own reference until they complete, so
         * only promises get here.  Hold a reference while we do it. */
        atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
        fut__complete(f, -1, FUTURE_CANCELLED, NULL, ECANCELED);
        if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
            return;
    }
    assert(f->waiters == NULL && f->cbs == NULL);
    free(atomic_load_explicit(&f->name, memory_order_relaxed));
    future_mem_free(f);
}

/* ---------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------- */

static inline int load_state(const future_t *f)
{
    /* acquire: pairs with the publishing store in fut__complete, so the
     * value and err written before it are visible. */
    return atomic_load_explicit(&((future_t *)f)->state, memory_order_acquire);
}

static inline bool is_terminal(int s)
{
    return s == FUTURE_DONE || s == FUTURE_FAILED || s == FUTURE_CANCELLED;
}

enum future_state future_state(const future_t *f)
{
    if (!f)
        return FUTURE_CANCELLED;
    int s = load_state(f);
    return s == FUT__COMPLETING ? FUTURE_RUNNING : (enum future_state)s;
}

bool future_done(const future_t *f)
{
    return f && is_terminal(load_state(f));
}

bool fut__start(future_t *f)
{
    int expect = FUTURE_PENDING;
    return atomic_compare_exchange_strong_explicit(&f->state, &expect, FUTURE_RUNNING,
                                                   memory_order_acq_rel, memory_order_acquire);
}

/* ---------------------------------------------------------------------
 * Waiters
 * ------------------------------------------------------------------- */

void fut__waiter_init(struct fut__waiter *w, size_t remaining)
{
    struct fut__coro *c = fut__coro_self();
    atomic_init(&w->remaining, remaining);
    atomic_init(&w->fired, 0);
    if (c) {
        w->kind = FUT__W_CORO;
        w->u.coro = c;
        w->help_pool = NULL;
    } else {
        w->kind = FUT__W_THREAD;
        w->u.parker = fut__parker_self();
        w->help_pool = fut__pool_self();
    }
}

/* Wakes w's owner.  Called by the one completer that brought remaining to
 * zero (or by a pool handing out room), with the lock that guards w's node
 * held, so w is alive (see the lock-order note at the top). */
void fut__waiter_fire(struct fut__waiter *w)
{
    /* Read what we need before publishing `fired`: a spinning thread
     * waiter may return (and its stack frame die) as soon as it sees it. */
    enum fut__wkind kind = w->kind;
    void *who = kind == FUT__W_CORO ? (void *)w->u.coro : (void *)w->u.parker;
    /* release: pairs with the waiter's acquire load of fired. */
    atomic_store_explicit(&w->fired, 1, memory_order_release);
    if (kind == FUT__W_CORO)
        fut__coro_wake(who);
    else
        fut__unpark(who);
}

/* Counts one completion against w; fires it when it is the last. */
static inline void waiter_notify(struct fut__waiter *w)
{
    if (atomic_fetch_sub_explicit(&w->remaining, 1, memory_order_acq_rel) == 1)
        fut__waiter_fire(w);
}

static inline bool waiter_fired(struct fut__waiter *w)
{
    return atomic_load_explicit(&w->fired, memory_order_acquire) != 0;
}

/* Blocks the calling thread, or suspends the calling coroutine, until w
 * fires or the deadline passes.  Returns 0 (fired), ETIMEDOUT, ECANCELED
 * (coroutine cancelled). */
int fut__waiter_block(struct fut__waiter *w, uint64_t deadline)
{
    if (waiter_fired(w))
        return 0;
    if (w->kind == FUT__W_CORO)
        return fut__coro_wait(w->u.coro, w, deadline);
    /* A short spin catches results that are microseconds away. */
    uint64_t spin_end = fut__now_ns() + WAIT_SPIN_NS;
    if (spin_end > deadline)
        spin_end = deadline;
    for (unsigned i = 1;; i++) {
        if (waiter_fired(w))
            return 0;
        fut__pause();
        if ((i & 63) == 0 && fut__now_ns() >= spin_end)
            break;
    }
    if (w->help_pool)
        return fut__pool_help_wait(w->help_pool, w, deadline);
    if (!w->u.parker) {
        /* No parker could be made (out of memory): poll politely. */
        while (!waiter_fired(w)) {
            if (fut__now_ns() >= deadline)
                return ETIMEDOUT;
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        return 0;
    }
    for (;;) {
        int rc = fut__park(w->u.parker, &w->fired, deadline);
        if (waiter_fired(w))
            return 0;
        if (rc == ETIMEDOUT)
            return ETIMEDOUT;
    }
}

/* Links node n (for waiter w) into f unless f is already complete.
 * Returns true if linked. */
static bool waiter_link(future_t *f, struct fut__wnode *n, struct fut__waiter *w)
{
    n->w = w;
    n->linked = false;
    if (is_terminal(load_state(f)))
        return false;
    fut__flock(f);
    /* seq_cst store then load: see "Waking without a lock" above. */
    atomic_store(&f->has_waiters, true);
    if (is_terminal(atomic_load(&f->state))) {
        fut__funlock(f);
        return false;
    }
    n->prev = NULL;
    n->next = f->waiters;
    if (f->waiters)
        f->waiters->prev = n;
    f->waiters = n;
    n->linked = true;
    fut__funlock(f);
    return true;
}

static void waiter_unlink(future_t *f, struct fut__wnode *n)
{
    fut__flock(f);
    if (n->linked) {
        if (n->prev)
            n->prev->next = n->next;
        else
            f->waiters = n->next;
        if (n->next)
            n->next->prev = n->prev;
        n->linked = false;
    }
    fut__funlock(f);
}

/* ---------------------------------------------------------------------
 * Completion
 * ------------------------------------------------------------------- */

static void run_callbacks(future_t *f, struct fut__cb *cb)
{
    /* The list was built by pushing at the head: reverse it so callbacks
     * run in the order they were registered. */
    struct fut__cb *rev = NULL;
    while (cb) {
        struct fut__cb *next = cb->next;
        cb->next = rev;
        rev = cb;
        cb = next;
    }
    while (rev) {
        struct fut__cb *next = rev->next;
        rev->fn(f, rev->arg);
        free(rev);
        rev = next;
    }
}

int fut__complete(future_t *f, int from, enum future_state st, void *value, int err)
{
    assert(is_terminal((int)st));
    int s = atomic_load_explicit(&f->state, memory_order_relaxed);
    for (;;) {
        if (s != FUTURE_PENDING && s != FUTURE_RUNNING)
            return EINVAL;             /* complete, or being completed */
        if (from >= 0 && s != from)
            return EINVAL;
        if (atomic_compare_exchange_weak_explicit(&f->state, &s, FUT__COMPLETING,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            break;
    }
    f->value = st == FUTURE_DONE ? value : NULL;
    f->err = st == FUTURE_DONE ? 0 : err;
    /* seq_cst: publishes value/err (release) and orders against the load
     * of has_waiters below (the Dekker pairing described at the top). */
    atomic_store(&f->state, (int)st);
    if (!atomic_load(&f->has_waiters))
        return 0;

    fut__flock(f);
    struct fut__wnode *n = f->waiters;
    f->waiters = NULL;
    struct fut__cb *cbs = f->cbs;
    f->cbs = NULL;
    while (n) {
        struct fut__wnode *next = n->next;   /* n may die once notified */
        struct fut__waiter *w = n->w;
        n->linked = false;
        waiter_notify(w);
        n = next;
    }
    fut__funlock(f);
    if (cbs)
        run_callbacks(f, cbs);
    return 0;
}

int future_resolve(future_t *f, void *value)
{
    if (!f)
        return EINVAL;
    return fut__complete(f, -1, FUTURE_DONE, value, 0);
}

int future_fail(future_t *f, int err)
{
    if (!f || err <= 0)
        return EINVAL;
    return fut__complete(f, -1, FUTURE_FAILED, NULL, err);
}

int future_cancel(future_t *f)
{
    if (!f)
        return EINVAL;
    for (;;) {
        int s = load_state(f);
        if (s == FUTURE_PENDING) {
            /* Not started: cancel it; whoever would have started it (the
             * pool, the loop) finds it complete and skips it. */
            if (fut__complete(f, FUTURE_PENDING, FUTURE_CANCELLED, NULL, ECANCELED) == 0)
                return 0;
            continue;                  /* it started or completed meanwhile */
        }
        if (s == FUTURE_RUNNING) {
            if (f->kind == FUT__CORO)
                return fut__coro_cancel(f);
            if (f->kind == FUT__JOB)
                return EBUSY;
            /* A promise is never RUNNING. */
        }
        return EINVAL;                 /* complete, or being completed */
    }
}

/* ---------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------- */

static bool valid_timeout(long timeout_ms)
{
    return timeout_ms >= 0 || timeout_ms == FUT_FOREVER;
}

/* EDEADLK if any of fs is running lower on the calling thread's own stack
 * (the calling job or coroutine itself, or a job this pool thread was
 * running when it began helping): that wait could never end, since the
 * outer frame resumes only when we return.  ECANCELED if the calling
 * coroutine has been cancelled. */
static int check_self_wait(future_t *const fs[], size_t n)
{
    struct fut__coro *c = fut__coro_self();
    if (c) {
        int rc = fut__coro_cancelled(c);
        if (rc)
            return rc;
    }
    for (struct fut__task *t = cur_task; t; t = t->outer) {
        if (!t->fut)
            continue;
        for (size_t i = 0; i < n; i++)
            if (fs[i] == t->fut && !is_terminal(load_state(fs[i])))
                return EDEADLK;
    }
    return 0;
}

/* On a pool thread: run the awaited jobs of its pool that have not
 * started, here and now, before helping with anything else.  Running an
 * unrelated queued job first could nest a job that waits on ours above
 * us on this stack. */
static void run_awaited_inline(future_t *const fs[], size_t n)
{
    struct fut_pool *p = fut__pool_self();
    if (!p || fut__coro_self())
        return;
    for (size_t i = 0; i < n; i++)
        if (fs[i]->kind == FUT__JOB && fs[i]->owner.pool == p &&
            atomic_load_explicit(&fs[i]->state, memory_order_relaxed) == FUTURE_PENDING)
            fut__pool_run_inline(p, fs[i]);
}

/* Small waits keep their nodes on the stack; larger ones allocate one
 * array for the whole call (never one allocation per future). */
#define STACK_NODES 8

/* Waits until all (any == false) or one (any == true) of fs[0..n) are
 * complete.  The core of wait, get, gather and wait_any: one waiter
 * record, one node per pending future, one sleep.  Returns 0, ETIMEDOUT,
 * ECANCELED (the calling coroutine was cancelled) or ENOMEM. */
static int wait_futures(future_t *const fs[], size_t n, bool any, long timeout_ms)
{
    /* Fast path: already satisfied, no record needed. */
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_terminal(load_state(fs[i]))) {
            done++;
            if (any)
                return 0;
        }
    }
    if (done == n)
        return 0;
    if (timeout_ms == 0)
        return ETIMEDOUT;
    uint64_t deadline = fut__deadline(timeout_ms);
    if (!any) {
        run_awaited_inline(fs, n);
        done = 0;
        for (size_t i = 0; i < n; i++)
            done += is_terminal(load_state(fs[i]));
        if (done == n)
            return 0;
    }

    struct fut__wnode stack_nodes[STACK_NODES];
    struct fut__wnode *nodes = stack_nodes;
    if (n > STACK_NODES) {
        nodes = n <= SIZE_MAX / sizeof *nodes ? fut__malloc(n * sizeof *nodes) : NULL;
        if (!nodes)
            return ENOMEM;
    }

    /* remaining starts one above the most it can need (the guard), so no
     * completer can fire the waiter while we are still registering. */
    struct fut__waiter w;
    size_t need = any ? 1 : n;
    fut__waiter_init(&w, need + 1);
    size_t skipped = 0, registered = 0;
    bool satisfied = false;
    for (size_t i = 0; i < n; i++) {
        registered = i + 1;
        if (!waiter_link(fs[i], &nodes[i], &w)) {
            if (any) {
                satisfied = true;    /* one is complete: stop here */
                break;
            }
            skipped++;
        }
    }
    int rc = 0;
    if (!satisfied) {
        /* Drop the guard and the completions we saw ourselves.  If that
         * brings remaining to zero, everything completed while we were
         * registering and there is nothing to wait for. */
        size_t drop = any ? 1 : skipped + 1;
        if (atomic_fetch_sub_explicit(&w.remaining, drop, memory_order_acq_rel) == drop)
            atomic_store_explicit(&w.fired, 1, memory_order_relaxed);
        rc = fut__waiter_block(&w, deadline);
    }
    /* Take back every node still linked (timeout, cancel, wait_any).
     * After this no completer can reach w or nodes. */
    if (rc != 0 || any) {
        for (size_t i = 0; i < registered; i++)
            waiter_unlink(fs[i], &nodes[i]);
    }
    if (nodes != stack_nodes)
        free(nodes);
    return rc;
}

int future_wait(future_t *f, long timeout_ms)
{
    if (!f || !valid_timeout(timeout_ms))
        return EINVAL;
    future_t *const fs[1] = {f};
    int rc = check_self_wait(fs, 1);
    if (rc)
        return rc;
    return wait_futures(fs, 1, false, timeout_ms);
}

/* The outcome of a complete future: 0 and its value, or its error. */
static int outcome(const future_t *f, void **value)
{
    int s = load_state(f);
    assert(is_terminal(s));
    if (s == FUTURE_DONE) {
        if (value)
            *value = f->value;
        return 0;
    }
    if (value)
        *value = NULL;
    return s == FUTURE_CANCELLED ? ECANCELED : (f->err > 0 ? f->err : EINVAL);
}

int future_get(future_t *f, void **value)
{
    if (value)
        *value = NULL;
    if (!f)
        return EINVAL;
    future_t *const fs[1] = {f};
    int rc = check_self_wait(fs, 1);
    if (!rc)
        rc = wait_futures(fs, 1, false, FUT_FOREVER);
    if (rc)
        return rc;
    return outcome(f, value);
}

static int check_array(future_t *const fs[], size_t n)
{
    if (!fs)
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return EINVAL;
    return 0;
}

int future_gather(future_t *const fs[], size_t n, void *values[], long timeout_ms)
{
    if (n == 0)
        return 0;
    if (!valid_timeout(timeout_ms))
        return EINVAL;
    int rc = check_array(fs, n);
    if (!rc)
        rc = check_self_wait(fs, n);
    if (!rc)
        rc = wait_futures(fs, n, false, timeout_ms);
    if (rc)
        return rc;
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int r = outcome(fs[i], values ? &values[i] : NULL);
        if (r && !first)
            first = r;
    }
    return first;
}

int future_wait_any(future_t *const fs[], size_t n, long timeout_ms, size_t *index)
{
    if (n == 0 || !index || !valid_timeout(timeout_ms))
        return EINVAL;
    int rc = check_array(fs, n);
    if (!rc)
        rc = check_self_wait(fs, n);
    if (!rc)
        rc = wait_futures(fs, n, true, timeout_ms);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (is_terminal(load_state(fs[i]))) {
            *index = i;
            return 0;
        }
    }
    assert(!"wait_any woke with nothing complete");
    return EINVAL;
}

/* ---------------------------------------------------------------------
 * Callbacks and continuations
 * ------------------------------------------------------------------- */

int future_on_done(future_t *f, void (*cb)(future_t *f, void *arg), void *arg)
{
    if (!f || !cb)
        return EINVAL;
    if (!is_terminal(load_state(f))) {
        struct fut__cb *node = fut__malloc(sizeof *node);
        if (!node)
            return ENOMEM;
        node->fn = cb;
        node->arg = arg;
        fut__flock(f);
        atomic_store(&f->has_waiters, true);   /* seq_cst, see the top */
        if (!is_terminal(atomic_load(&f->state))) {
            node->next = f->cbs;
            f->cbs = node;
            fut__funlock(f);
            return 0;
        }
        fut__funlock(f);
        free(node);
    }
    cb(f, arg);   /* already complete: run it here, now */
    return 0;
}

struct then_ctx {
    future_t *next;                       /* holds one reference */
    void *(*fn)(void *value, void *arg);
    void *arg;
};

static void then_step(future_t *f, void *p)
{
    struct then_ctx *t = p;
    future_t *g = t->next;
    int s = load_state(f);
    if (s == FUTURE_DONE) {
        if (!future_done(g)) {             /* g may have been cancelled */
            struct fut__task task = {g, 0, cur_task};
            struct fut__task *prev = fut__task_swap(&task);
            void *v = t->fn(f->value, t->arg);
            fut__task_swap(prev);
            if (task.raised)
                fut__complete(g, -1, FUTURE_FAILED, NULL, task.raised);
            else
                fut__complete(g, -1, FUTURE_DONE, v, 0);
        }
    } else {
        fut__complete(g, -1, (enum future_state)s, NULL, f->err);
    }
    future_release(g);
    free(t);
}

future_t *future_then(future_t *f, void *(*fn)(void *value, void *arg), void *arg)
{
    if (!f || !fn) {
        errno = EINVAL;
        return NULL;
    }
    struct then_ctx *t = fut__malloc(sizeof *t);
    future_t *g = fut__future_alloc(FUT__PROMISE);
    if (!t || !g) {
        free(t);
        future_release(g);
        errno = ENOMEM;
        return NULL;
    }
    t->next = future_retain(g);
    t->fn = fn;
    t->arg = arg;
    int rc = future_on_done(f, then_step, t);
    if (rc) {
        future_release(g);
        future_release(g);
        free(t);
        errno = rc;
        return NULL;
    }
    return g;
}
