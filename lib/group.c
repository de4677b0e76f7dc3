/* SPDX-License-Identifier: MIT */
/*
 * group.c - task groups: asyncio.TaskGroup, a Trio nursery
 *
 * A group is a set of member futures of any kind (coroutines of the
 * caller's loop, jobs of any pool, adopted futures) that end together: the
 * first member to fail or be cancelled cancels the others, and
 * fut_group_wait waits until every member has ended.  This file is part of
 * the core: it makes members with the public calls (fut_spawn,
 * fut_pool_submit), cancels them with future_cancel, learns of their ends
 * through callback nodes it owns (fut__on_done_node), and waits through the
 * waiter protocol, like every wait of the library.  It never names the pool
 * or the loop.
 *
 * Members.  Each member has a record (struct member) holding the group's
 * own reference to its future and a borrowed callback node linked into the
 * future's waiter list until it completes.  Records live in chunks that
 * never move (a node linked into a future must stay where it is): chunk k
 * holds CHUNK0 << k records, so record i is found by arithmetic, the chunk
 * table never grows, and a group of n members makes O(log n) allocations.
 * An add reserves record nidx++ (its chunk made first) under the lock,
 * creates the member, then publishes the future in the record (`f`,
 * atomic, NULL until then; a reservation whose spawn failed stays NULL for
 * good).  The chunk pointers are written under the lock before nidx covers
 * them, so whoever reads nidx under the lock may walk records [0, nidx)
 * without it, skipping the NULL ones.
 *
 * Counting.  `pending` counts members whose end has not been counted yet,
 * plus adds in progress (fut_group_spawn and fut_group_submit reserve one
 * before creating the member, so the group cannot finish under them).  A
 * member's callback decrements it under the lock and, at zero, takes the
 * waiters off, releases the lock and notifies them.  Every decision that
 * ends a wait (pending == 0, the result) is taken under the lock, and the
 * callback's last access to the group is its unlock: so a waiter that saw
 * pending == 0 under the lock may return and the group be freed at once.
 *
 * Cancelling.  `cancelling` goes true once (fut_group_cancel, the first
 * failure, a deadline, the waiter's cancellation, fut_group_free), under
 * the lock, with a snapshot of nidx; the records of that snapshot are then
 * cancelled with no lock held (future_cancel runs callbacks).  An add
 * publishes its record's future, then reads `cancelling` under the lock and
 * cancels its member itself if it is set: whichever of the two takes the
 * lock second sees the other's work, so every member is cancelled.  A cancel from inside a member's
 * callback (the first failure) runs while that member is still counted in
 * `pending`, so the group cannot be freed under it.
 *
 * Lock: `lock`, a byte spin lock held for a few field updates only (as a
 * future's), never across an allocation, a wake-up, or a call that runs
 * user code.  Order: it is a leaf; nothing is taken while it is held.
 *
 * A member waiting on its own group (EDEADLK).  A waiting call looks at
 * the tasks running on its thread's stack (their futures) for the group's
 * callback node, after linking its waiter node.  A job may start, and wait
 * on its group, before its add has linked that node (fut_pool_submit
 * returns after the job is queued); so an add, after linking a member's
 * node, wakes every waiter whose task chain holds that member: it looks
 * again and finds itself.  One of the two always sees the other (each
 * publishes, then looks).
 *
 * Result (fut_group_wait): 0, the first failure in completion order (the
 * failed member with the smallest completion number), ETIMEDOUT (the
 * deadline passed first and the members were cancelled and waited for),
 * ECANCELED (the waiting coroutine was cancelled).  Once a wait has
 * returned one of these, `final` is set: later adds give EINVAL and later
 * waits return the same result at once.
 */
#include "internal.h"

#include <string.h>

#define CHUNK0 32u                     /* records in chunk 0 */
#define NCHUNKS 40                     /* chunk k: CHUNK0 << k records */

struct member {
    struct fut__cb cb;                 /* linked in f's waiters until f ends;
                                          cb.arg is the group */
    _Atomic(future_t *) f;             /* the group's reference; NULL until
                                          published, then const (release by
                                          the add, acquire by the readers) */
};

/* A waiting call's node in g->waiters. */
struct gwait {
    struct fut__wnode node;
    struct fut__task *task;            /* the waiter's task chain; valid
                                          while the node is linked */
};

struct fut_group {
    atomic_uchar lock;                 /* see "Lock" above */
    bool cancelling;                   /* guarded by lock; only false -> true */
    bool final;                        /* a wait returned `result`; guarded by lock */
    bool timed_out;                    /* a deadline cancelled it; guarded by lock */
    bool waiter_cancelled;             /* a waiter's cancellation cancelled it; lock */
    int result;                        /* valid once final; guarded by lock */
    size_t nidx;                       /* records reserved; guarded by lock */
    size_t pending;                    /* see "Counting"; guarded by lock */
    uint64_t fail_seq;                 /* completion number of the first
                                          failure; 0: none; guarded by lock */
    int fail_err;                      /* its code; guarded by lock */
    struct fut__dlist waiters;         /* struct gwait of waiting calls; lock */
    struct member *chunk[NCHUNKS];     /* written once under lock, before
                                          nidx covers them */
};

/* ---------------------------------------------------------------------
 * The lock and the records
 * ------------------------------------------------------------------- */

static void glock(struct fut_group *g)
{
    if (FUT_LIKELY(!atomic_exchange_explicit(&g->lock, 1, memory_order_acquire)))
        return;
    for (unsigned i = 0;; i++) {
        if (!atomic_load_explicit(&g->lock, memory_order_relaxed) &&
            !atomic_exchange_explicit(&g->lock, 1, memory_order_acquire))
            return;
        if (i < 64)
            fut__pause();
        else
            sched_yield();
    }
}

static void gunlock(struct fut_group *g)
{
    atomic_store_explicit(&g->lock, 0, memory_order_release);
}

/* Chunk k holds records [CHUNK0 * (2^k - 1), CHUNK0 * (2^(k+1) - 1)). */
static unsigned chunk_of(size_t i, size_t *off)
{
    size_t q = i / CHUNK0 + 1;         /* in [2^k, 2^(k+1)) */
    unsigned k = (unsigned)(63 - __builtin_clzll((unsigned long long)q));
    *off = i - (size_t)CHUNK0 * (((size_t)1 << k) - 1);
    return k;
}

static struct member *record(struct fut_group *g, size_t i)
{
    size_t off;
    unsigned k = chunk_of(i, &off);
    return &g->chunk[k][off];
}

/* Makes sure record `i` has a chunk.  Lock held on entry and on return;
 * dropped around the allocation.  Returns 0 or ENOMEM. */
static int ensure_chunk_locked(struct fut_group *g, size_t i)
{
    size_t off;
    unsigned k = chunk_of(i, &off);
    if (k >= NCHUNKS)
        return ENOMEM;
    if (g->chunk[k])
        return 0;
    gunlock(g);
    size_t cnt = (size_t)CHUNK0 << k;
    struct member *c = fut__malloc(cnt * sizeof *c);
    glock(g);
    if (!c)
        return g->chunk[k] ? 0 : ENOMEM;
    if (g->chunk[k])
        free(c);                       /* another add made it meanwhile */
    else
        g->chunk[k] = c;
    return 0;
}

/* ---------------------------------------------------------------------
 * Members' ends
 * ------------------------------------------------------------------- */

static void notify_all(struct fut__dnode *n);

static future_t *member_future(struct fut_group *g, size_t i)
{
    return atomic_load_explicit(&record(g, i)->f, memory_order_acquire);
}

static void cancel_members(struct fut_group *g, size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        future_t *f = member_future(g, i);
        if (f && !future_done(f))
            (void)future_cancel(f);    /* a running pool job: EBUSY, runs on */
    }
}

/* Sets `cancelling` (if not yet) and returns how many records the caller
 * must cancel (0 if someone else does).  Lock held. */
static size_t begin_cancel_locked(struct fut_group *g)
{
    if (g->cancelling)
        return 0;
    g->cancelling = true;
    return g->nidx;
}

/* One member has ended: counted under the lock, and the first failure
 * cancels the others.  Runs as the member's callback (any thread), or in
 * the adder for a member complete when added. */
static void member_done(future_t *f, void *arg)
{
    struct fut_group *g = arg;
    int st = future_state(f);
    size_t upto = 0;
    if (st != FUTURE_DONE) {
        int err = st == FUTURE_CANCELLED ? ECANCELED : f->err;
        uint64_t seq = f->seq;         /* published with the state */
        glock(g);
        if (!g->fail_seq || seq < g->fail_seq) {
            g->fail_seq = seq;
            g->fail_err = err;
        }
        upto = begin_cancel_locked(g);
        gunlock(g);
        /* Still counted in pending: g cannot go while we cancel. */
        cancel_members(g, upto);
    }
    glock(g);
    struct fut__dnode *n = NULL;
    if (--g->pending == 0)
        n = fut__dlist_take(&g->waiters);
    gunlock(g);                        /* our last access to g */
    notify_all(n);
}

/* Notifies the detached waiter nodes from n on; no lock held. */
static void notify_all(struct fut__dnode *n)
{
    while (n) {
        struct fut__dnode *next = n->next;   /* n may die once notified */
        fut__waiter_notify(fut__container_of(n, struct gwait, node.link)->node.w);
        n = next;
    }
}

/* Drops one reservation that did not become a member (its record stays
 * empty). */
static void unreserve(struct fut_group *g)
{
    glock(g);
    struct fut__dnode *n = NULL;
    if (--g->pending == 0)
        n = fut__dlist_take(&g->waiters);
    gunlock(g);
    notify_all(n);
}

/* Reserves record *idx and counts the member-to-be in pending.  Returns
 * 0, EINVAL (the group's wait has returned its result) or ENOMEM. */
static int reserve(struct fut_group *g, size_t *idx)
{
    glock(g);
    if (g->final) {
        gunlock(g);
        return EINVAL;
    }
    int rc = ensure_chunk_locked(g, g->nidx);
    if (!rc && g->final)
        rc = EINVAL;                   /* finished while we allocated */
    if (rc) {
        gunlock(g);
        return rc;
    }
    /* Empty until fill publishes the future: written before nidx covers
     * it, so readers of nidx see NULL or the future, never garbage. */
    atomic_store_explicit(&record(g, g->nidx)->f, NULL, memory_order_relaxed);
    *idx = g->nidx++;
    g->pending++;
    gunlock(g);
    return 0;
}

static bool chain_holds(const struct fut__task *t, const future_t *f)
{
    for (; t; t = t->outer)
        if (t->fut == f)
            return true;
    return false;
}

/* Publishes f in its reserved record (the group takes its own reference)
 * and registers the member's callback; then cancels f at once if the group
 * is being cancelled, and wakes a waiter that is f itself (see "A member
 * waiting on its own group"). */
static void fill(struct fut_group *g, size_t idx, future_t *f)
{
    struct member *m = record(g, idx);
    m->cb.fn = member_done;
    m->cb.arg = g;
    m->cb.f = NULL;
    m->cb.qnext = NULL;
    m->cb.node.link.next = m->cb.node.link.prev = NULL;
    m->cb.node.link.on = false;
    atomic_store_explicit(&m->f, future_retain(f), memory_order_release);
    bool linked = fut__on_done_node(f, &m->cb);
    struct fut__dnode *wake = NULL;    /* detached (on == false) under the
                                          lock, chained through next */
    glock(g);
    bool cancel = g->cancelling;
    if (linked) {
        for (struct fut__dnode *n = g->waiters.first; n;) {
            struct fut__dnode *next = n->next;
            struct gwait *gw = fut__container_of(n, struct gwait, node.link);
            if (chain_holds(gw->task, f)) {
                fut__dlist_remove(&g->waiters, n);
                n->next = wake;
                wake = n;
            }
            n = next;
        }
    }
    gunlock(g);
    notify_all(wake);
    if (cancel)
        (void)future_cancel(f);        /* complete already: EINVAL, harmless */
    if (!linked)
        member_done(f, g);             /* complete already: count it now */
}

/* ---------------------------------------------------------------------
 * Self-wait detection
 * ------------------------------------------------------------------- */

/* True if f carries g's member callback: f is a member of g not yet
 * complete (a complete member's node is gone, and waiting on it is fine). */
static bool is_member(struct fut_group *g, future_t *f)
{
    bool found = false;
    fut__flock(f);
    for (struct fut__dnode *n = f->waiters.first; n && !found; n = n->next) {
        struct fut__wnode *wn = fut__container_of(n, struct fut__wnode, link);
        if (!wn->w) {
            struct fut__cb *cb = fut__container_of(wn, struct fut__cb, node);
            found = cb->fn == member_done && cb->arg == g;
        }
    }
    fut__funlock(f);
    return found;
}

/* EDEADLK if a task running on the calling thread's stack (the caller
 * itself, or a job this pool thread was running when it began helping) is
 * a member of g: the group cannot end before it returns. */
static int check_self(struct fut_group *g)
{
    for (struct fut__task *t = fut__task_current(); t; t = t->outer)
        if (t->fut && is_member(g, t->fut))
            return EDEADLK;
    return 0;
}

/* ---------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------- */

enum { UNTIL_DONE, CHECK_ONLY };

/* Waits until pending is 0 or the deadline; the waiter's cancellation is
 * seen unless shielded.  Returns 0 (pending reached 0: then the lock is
 * HELD on return), ETIMEDOUT, ECANCELED, ENOMEM or EDEADLK (the caller is
 * a member; lock not held). */
static int wait_empty(struct fut_group *g, uint64_t deadline)
{
    for (;;) {
        struct fut__waiter w;
        struct gwait gw;
        glock(g);
        if (g->pending == 0)
            return 0;                  /* lock held */
        fut__waiter_init(&w, 1, 1);
        gw.node.w = &w;
        gw.task = fut__task_current();
        fut__dlist_append(&g->waiters, &gw.node.link);
        gunlock(g);
        /* Linked first, then looked: see "A member waiting on its own
         * group". */
        int rc = check_self(g);
        if (!rc)
            rc = fut__waiter_block(&w, deadline);
        glock(g);
        uint32_t unlinked = gw.node.link.on;
        if (unlinked)
            fut__dlist_remove(&g->waiters, &gw.node.link);
        gunlock(g);
        fut__waiter_leave(&w, unlinked);
        if (rc)
            return rc;
        /* fired: pending reached 0 (adds may have raised it again), or an
         * add found this waiter among the members: look again */
    }
}

/* Cancels every member and waits, shielded, until all have ended: 0 with
 * the lock held; or EDEADLK (lock not held), the caller being a member,
 * which would wait for itself.  Nothing else can fail: no deadline, no
 * cancellation. */
static int cancel_and_drain(struct fut_group *g)
{
    glock(g);
    size_t upto = begin_cancel_locked(g);
    gunlock(g);
    cancel_members(g, upto);
    struct fut__sched *s = fut__sched_self();
    bool old = s->ops->shield ? s->ops->shield(s, true) : false;
    int rc;
    while ((rc = wait_empty(g, FUT_NO_DEADLINE)) != 0 && rc != EDEADLK)
        ;
    if (s->ops->shield)
        s->ops->shield(s, old);
    return rc;
}

/* The result once pending is 0.  Lock held; sets final. */
static int finish_locked(struct fut_group *g)
{
    if (!g->final) {
        g->final = true;
        /* timed_out is set only when no failure came first; the members
         * the deadline cancelled then count as failures after it. */
        if (g->waiter_cancelled)
            g->result = ECANCELED;
        else if (g->timed_out)
            g->result = ETIMEDOUT;
        else if (g->fail_seq)
            g->result = g->fail_err;
        else
            g->result = 0;
    }
    return g->result;
}

/* ---------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------- */

fut_group_t *fut_group_new(void)
{
    struct fut_group *g = fut__calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&g->lock, 0);
    fut__dlist_init(&g->waiters);
    return g;
}

future_t *fut_group_spawn(fut_group_t *g, fut_fn fn, void *arg)
{
    if (!g || !fn) {
        errno = EINVAL;
        return NULL;
    }
    if (!fut_in_coroutine()) {
        errno = EPERM;
        return NULL;
    }
    size_t idx;
    int rc = reserve(g, &idx);
    if (rc) {
        errno = rc;
        return NULL;
    }
    future_t *f = fut_spawn(fn, arg);
    if (!f) {
        int e = errno;
        unreserve(g);
        errno = e;
        return NULL;
    }
    fill(g, idx, f);
    return f;
}

future_t *fut_group_submit(fut_group_t *g, fut_pool_t *p, fut_fn fn, void *arg)
{
    if (!g || !p || !fn) {
        errno = EINVAL;
        return NULL;
    }
    size_t idx;
    int rc = reserve(g, &idx);
    if (rc) {
        errno = rc;
        return NULL;
    }
    future_t *f = fut_pool_submit(p, fn, arg);
    if (!f) {
        int e = errno;
        unreserve(g);
        errno = e;
        return NULL;
    }
    fill(g, idx, f);
    return f;
}

int fut_group_add(fut_group_t *g, future_t *f)
{
    if (!g || !f)
        return EINVAL;
    size_t idx;
    int rc = reserve(g, &idx);
    if (rc)
        return rc;
    fill(g, idx, f);
    return 0;
}

int fut_group_cancel(fut_group_t *g)
{
    if (!g)
        return EINVAL;
    glock(g);
    size_t upto = begin_cancel_locked(g);
    gunlock(g);
    cancel_members(g, upto);
    return 0;
}

int fut_group_wait(fut_group_t *g, long timeout_ms)
{
    if (!g || (timeout_ms < 0 && timeout_ms != FUT_FOREVER))
        return EINVAL;
    glock(g);
    if (g->final) {
        int r = g->result;
        gunlock(g);
        return r;
    }
    gunlock(g);
    int rc = check_self(g);
    if (rc)
        return rc;
    struct fut__sched *s = fut__sched_self();
    rc = s->ops->cancelled(s);
    if (!rc) {
        if (timeout_ms == 0) {
            /* Only checks: nothing is cancelled, nothing is final unless
             * every member has ended. */
            glock(g);
            if (g->pending) {
                gunlock(g);
                return ETIMEDOUT;
            }
            rc = finish_locked(g);
            gunlock(g);
            return rc;
        }
        rc = wait_empty(g, fut__deadline(timeout_ms));
        if (rc == 0) {
            rc = finish_locked(g);     /* lock held by wait_empty */
            gunlock(g);
            return rc;
        }
        if (rc == ENOMEM || rc == EDEADLK)
            return rc;                 /* nothing changed */
    }
    /* ETIMEDOUT: the deadline for the whole group.  ECANCELED: the waiting
     * coroutine was cancelled.  Either way: cancel, wait, report. */
    glock(g);
    if (rc == ETIMEDOUT && g->pending == 0) {
        rc = finish_locked(g);         /* the last end raced the deadline */
        gunlock(g);
        return rc;
    }
    if (rc == ECANCELED)
        g->waiter_cancelled = true;
    else if (!g->fail_seq)
        g->timed_out = true;           /* a failure that came first wins */
    gunlock(g);
    if (cancel_and_drain(g) == EDEADLK)
        return EDEADLK;                /* a member (its add came late) */
    rc = finish_locked(g);             /* lock held by cancel_and_drain */
    gunlock(g);
    return rc;
}

void fut_group_free(fut_group_t *g)
{
    if (!g)
        return;
    if (check_self(g) || cancel_and_drain(g) == EDEADLK) {
        errno = EDEADLK;               /* from inside a member: not freed */
        return;
    }
    gunlock(g);
    for (size_t i = 0; i < g->nidx; i++)
        future_release(member_future(g, i));   /* NULL: a failed spawn's */
    for (unsigned k = 0; k < NCHUNKS; k++)
        free(g->chunk[k]);
    free(g);
}
