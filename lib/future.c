/* SPDX-License-Identifier: MIT */
/*
 * future.c - futures: the state machine, memory, completion, callbacks,
 * continuations
 *
 * Lifetimes.  A future is freed when its last reference is dropped.  The
 * creator's reference is handed to the caller; a queued job or a live
 * coroutine holds one more, dropped when it has completed the future; a
 * future_then continuation holds one on the future it will complete; a
 * completion holds one while it runs the callbacks (a callback may drop
 * the caller's last).  Waiters borrow: a waiting call never takes a
 * reference, so the caller keeps the futures it waits on alive for the
 * duration of the call.
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
 * Completion detaches the waiter list under f->lock and releases the lock
 * before notifying anyone (the waiter protocol of internal.h keeps each
 * waiter alive until its notification), then runs the callbacks in
 * registration order with no lock held.  Callbacks of futures completed
 * from inside a callback are queued on the thread and run by the outermost
 * completion, one after the other (a trampoline): a chain of a million
 * future_then links resolves in constant stack depth.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum { FUT__COMPLETING = 5 };   /* internal state between claim and publish */

/* Completion order (future_wait_next, a group's first failure): every
 * completion takes the next number between its claim and its publish.  If
 * one completion happens before another, its fetch_add comes first in the
 * counter's modification order, so its number is smaller: the order of
 * the numbers agrees with every order a program can observe.  Relaxed: the
 * number is published with the state.  64 bits never wrap. */
static atomic_uint_fast64_t completion_seq;

/* ---------------------------------------------------------------------
 * The running task (fut_raise)
 * ------------------------------------------------------------------- */

void *fut_raise(int err)
{
    struct fut__task *t = fut__task_current();
    if (t)
        t->raised = err > 0 ? err : EINVAL;
    return NULL;
}

/* ---------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------- */

/*
 * A thread carves the futures it creates from its own chunk of
 * CHUNK_FUTURES slots, so an allocation is a pointer bump and a free one
 * atomic decrement (malloc and free were half the instructions of a W1
 * task).  A chunk's `live` counts the slots not yet freed plus one while it
 * is some thread's current chunk; it starts at all slots + 1 and the owner
 * gives back the unused slots when it retires the chunk, so the bump needs
 * no atomic.  The last decrement frees the chunk: memory goes back to
 * malloc once every future of a chunk is released (one long-lived future
 * keeps its chunk).  A future is freed from any thread.  Under
 * AddressSanitizer every future is its own malloc, so a use after free is
 * caught exactly.
 */
#define CHUNK_FUTURES 168

struct fut__chunk {
    atomic_uint live;
    future_t slot[CHUNK_FUTURES];
};

static void chunk_put(struct fut__chunk *c, unsigned n)
{
    /* acq_rel: every use of the chunk's slots happens before the free in
     * whichever thread gives back the last of them. */
    if (atomic_fetch_sub_explicit(&c->live, n, memory_order_acq_rel) == n)
        free(c);
}

void fut__chunk_thread_exit(struct fut__thread *t)
{
    if (t->chunk) {
        chunk_put(t->chunk, (CHUNK_FUTURES - t->chunk_next) + 1);
        t->chunk = NULL;
    }
}

static future_t *future_mem(void)
{
#if defined(FUT_ASAN)
    future_t *f = fut__malloc(sizeof *f);
    if (f)
        f->chunk = NULL;
    return f;
#else
    struct fut__thread *t = fut__self();
    if (FUT_UNLIKELY(!t->chunk || t->chunk_next == CHUNK_FUTURES)) {
        if (fut__thread_attach() != 0)
            return NULL;
        struct fut__chunk *c = fut__malloc(sizeof *c);
        if (!c)
            return NULL;
        fut__chunk_thread_exit(t);     /* retire the full one */
        atomic_init(&c->live, CHUNK_FUTURES + 1);
        t->chunk = c;
        t->chunk_next = 0;
    }
    future_t *f = &t->chunk->slot[t->chunk_next++];
    f->chunk = t->chunk;
    return f;
#endif
}

static void future_mem_free(future_t *f)
{
    if (f->chunk) {
        chunk_put(f->chunk, 1);
        return;
    }
    free(f);
}

future_t *fut__future_alloc(const struct fut__exec *exec)
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
    atomic_init(&f->xflag, 0);
    atomic_init(&f->qnext, NULL);
    atomic_init(&f->name, NULL);
    f->err = 0;
    f->value = NULL;
    f->seq = 0;
    fut__dlist_init(&f->waiters);
    f->exec = exec;
    f->fn = NULL;
    f->arg = NULL;
    f->xdata = NULL;
    return f;
}

future_t *future_new(void)
{
    return fut__future_alloc(NULL);
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
         * only promises get here.  The completion holds a reference while
         * it runs the callbacks and drops it at the end: that frees f. */
        atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
        fut__complete(f, -1, FUTURE_CANCELLED, NULL, ECANCELED);
        if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
            return;
    }
    assert(fut__dlist_empty(&f->waiters));
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

/* The state once any completion in progress is published.  COMPLETING
 * lasts two stores of its winner, so this waits a few instructions (or a
 * preempted winner's time slice): it makes "EINVAL: already complete"
 * and future_state() agree with future_done() right after. */
static int settled_state(const future_t *f)
{
    int s = load_state(f);
    for (unsigned i = 0; s == FUT__COMPLETING; i++) {
        if (i < 64)
            fut__pause();
        else
            sched_yield();
        s = load_state(f);
    }
    return s;
}

enum future_state future_state(const future_t *f)
{
    if (!f)
        return FUTURE_CANCELLED;
    return (enum future_state)settled_state(f);
}

bool future_done(const future_t *f)
{
    return f && fut__is_terminal(load_state(f));
}

bool fut__start(future_t *f)
{
    int expect = FUTURE_PENDING;
    return atomic_compare_exchange_strong_explicit(&f->state, &expect, FUTURE_RUNNING,
                                                   memory_order_acq_rel, memory_order_acquire);
}

/* ---------------------------------------------------------------------
 * Completion
 * ------------------------------------------------------------------- */

/* The thread's deferred queue links callbacks through their node's next
 * pointer, free once the node has been detached from its future. */
static inline struct fut__cb *cb_next(const struct fut__cb *cb)
{
    struct fut__dnode *n = cb->node.link.next;
    return n ? fut__container_of(n, struct fut__cb, node.link) : NULL;
}

static inline void cb_set_next(struct fut__cb *cb, struct fut__cb *next)
{
    cb->node.link.next = next ? &next->node.link : NULL;
}

/* Runs the thread's deferred callbacks, in the order they were queued;
 * callbacks they cause are appended and run by this same loop.  Each
 * queued callback holds a reference to its future, except a borrowed one,
 * whose registrar keeps the future alive until it has run. */
static void drain_callbacks(struct fut__thread *t)
{
    struct fut__cb *cb;
    while ((cb = t->cbs.head)) {
        t->cbs.head = cb_next(cb);
        if (!t->cbs.head)
            t->cbs.tail = NULL;
        future_t *f = cb->f;
        /* A borrowed node may be gone once fn returns (a group freed by
         * the waiter it wakes): read the flag before. */
        bool owned = !cb->borrowed;
        cb->fn(f, cb->arg);
        if (owned) {
            free(cb);
            future_release(f);
        }
    }
}

int fut__complete(future_t *f, int from, enum future_state st, void *value, int err)
{
    assert(fut__is_terminal((int)st));
    int s = atomic_load_explicit(&f->state, memory_order_relaxed);
    for (;;) {
        if (s != FUTURE_PENDING && s != FUTURE_RUNNING) {
            settled_state(f);          /* EINVAL means complete, visibly */
            return EINVAL;
        }
        if (from >= 0 && s != from)
            return EINVAL;
        if (atomic_compare_exchange_weak_explicit(&f->state, &s, FUT__COMPLETING,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            break;
    }
    f->value = st == FUTURE_DONE ? value : NULL;
    f->err = st == FUTURE_DONE ? 0 : err;
    f->seq = atomic_fetch_add_explicit(&completion_seq, 1, memory_order_relaxed) + 1;
    /* seq_cst: publishes value/err (release) and orders against the load
     * of has_waiters below (the Dekker pairing described at the top). */
    atomic_store(&f->state, (int)st);
    if (!atomic_load(&f->has_waiters))
        return 0;

    fut__flock(f);
    struct fut__dnode *n = fut__dlist_take(&f->waiters);
    fut__funlock(f);

    /* Waiters first (each node may die once notified: read next before),
     * collecting the callbacks in order. */
    struct fut__cb *cb_head = NULL, *cb_tail = NULL;
    size_t ncb = 0;
    while (n) {
        struct fut__dnode *next = n->next;
        struct fut__wnode *wn = fut__container_of(n, struct fut__wnode, link);
        if (wn->w) {
            fut__waiter_notify(wn->w);
        } else {
            struct fut__cb *cb = fut__container_of(wn, struct fut__cb, node);
            cb->f = f;
            cb_set_next(cb, NULL);     /* n's next was read above */
            if (cb_tail)
                cb_set_next(cb_tail, cb);
            else
                cb_head = cb;
            cb_tail = cb;
            ncb += !cb->borrowed;
        }
        n = next;
    }
    if (!cb_head)
        return 0;

    /* Each queued callback keeps f alive until it has run (a borrowed one's
     * registrar does). */
    if (ncb)
        atomic_fetch_add_explicit(&f->refs, (unsigned)ncb, memory_order_relaxed);
    struct fut__thread *t = fut__self();
    if (t->cbs.tail)
        cb_set_next(t->cbs.tail, cb_head);
    else
        t->cbs.head = cb_head;
    t->cbs.tail = cb_tail;
    if (t->cbs.depth == 0) {
        t->cbs.depth++;
        drain_callbacks(t);
        t->cbs.depth--;
    }
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
        if (s == FUTURE_RUNNING && f->exec) {
            int rc = f->exec->ops->cancel_running(f);
            if (rc != EINVAL)
                return rc;
            /* Too late: it is completing (a coroutine whose body has
             * returned).  Report it once that is visible. */
            while (!fut__is_terminal(settled_state(f)))
                sched_yield();
            return EINVAL;
        }
        settled_state(f);              /* EINVAL means complete, visibly */
        return EINVAL;
    }
}

void fut__run_task(future_t *f)
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

/* ---------------------------------------------------------------------
 * Callbacks and continuations
 * ------------------------------------------------------------------- */

int future_on_done(future_t *f, void (*cb)(future_t *f, void *arg), void *arg)
{
    if (!f || !cb)
        return EINVAL;
    if (!fut__is_terminal(load_state(f))) {
        struct fut__cb *node = fut__malloc(sizeof *node);
        if (!node)
            return ENOMEM;
        node->node.w = NULL;
        node->fn = cb;
        node->arg = arg;
        node->borrowed = false;
        fut__flock(f);
        atomic_store(&f->has_waiters, true);   /* seq_cst, see the top */
        if (!fut__is_terminal(atomic_load(&f->state))) {
            fut__dlist_append(&f->waiters, &node->node.link);
            fut__funlock(f);
            return 0;
        }
        fut__funlock(f);
        free(node);
    }
    cb(f, arg);   /* already complete: run it here, now */
    return 0;
}

bool fut__on_done_node(future_t *f, struct fut__cb *cb)
{
    cb->node.w = NULL;
    cb->borrowed = true;
    if (fut__is_terminal(load_state(f)))
        return false;
    fut__flock(f);
    atomic_store(&f->has_waiters, true);   /* seq_cst, see the top */
    if (fut__is_terminal(atomic_load(&f->state))) {
        fut__funlock(f);
        return false;
    }
    fut__dlist_append(&f->waiters, &cb->node.link);
    fut__funlock(f);
    return true;
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
            struct fut__task task = {g, 0, fut__task_current()};
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
    future_t *g = t ? fut__future_alloc(NULL) : NULL;
    if (!t || !g) {
        free(t);
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

/* ---------------------------------------------------------------------
 * Shield
 * ------------------------------------------------------------------- */

/* f's outcome, copied to the shield g (unless g was cancelled first). */
static void shield_step(future_t *f, void *p)
{
    future_t *g = p;
    int s = load_state(f);
    fut__complete(g, -1, (enum future_state)s, f->value, f->err);
    future_release(g);
}

future_t *future_shield(future_t *f)
{
    if (!f) {
        errno = EINVAL;
        return NULL;
    }
    /* g is a promise: cancelling it (by hand, or by a coroutine that
     * awaits it and is cancelled) completes g alone; nothing reaches f. */
    future_t *g = fut__future_alloc(NULL);
    if (!g)
        return NULL;
    future_retain(g);                  /* the callback's */
    int rc = future_on_done(f, shield_step, g);
    if (rc) {
        future_release(g);
        future_release(g);             /* the last: cancels and frees it */
        errno = rc;
        return NULL;
    }
    return g;
}
