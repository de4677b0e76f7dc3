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
 * Members.  Each member has a record: a borrowed callback node linked
 * into its future's waiter list until the future completes, and a slot
 * holding the group's own reference to the future.  Records live in chunks
 * that never move (a node linked into a future must stay where it is):
 * chunk k holds CHUNK0 << k records, so record i is found by arithmetic,
 * the chunk table never grows, and a group of n members makes O(log n)
 * allocations.  A chunk keeps its nodes (one cache line each, aligned) and
 * its slots (zeroed, eight to a line) apart, so the passes over the
 * futures (cancelling, freeing) read one line per eight members.  An add reserves the next index, makes the index's chunk
 * if it is missing (one CAS installs it), creates the member, then
 * publishes its future in the record (`f`; a record whose spawn failed
 * stays NULL).  Readers walk records [0, nidx) and skip missing chunks and
 * NULL records.
 *
 * Counting.  `word` holds, in one atomic (so that an add costs one CAS):
 * the number of records reserved (nidx, bits 32-62), the number of
 * members whose end has not been counted plus adds in progress (pending,
 * bits 0-31: an add reserves before it creates the member, so the group
 * cannot end under it), and the FINAL bit (63).  An add adds one to both
 * by CAS unless FINAL is set (then EINVAL).  A member's end
 * decrements pending by CAS while that leaves it above zero; the decrement
 * that takes it to zero is made under the lock, which also detaches the waiters
 * to notify.  A waiter decides that the group has ended only under the
 * lock, where it sets FINAL by CAS from pending 0: so the last
 * decrementer's unlock is its last access to the group, and the group may
 * be freed as soon as a waiter has returned.  Once FINAL is set, pending
 * stays 0 for good.
 *
 * Cancelling.  `cancelling` goes true once (an exchange: fut_group_cancel,
 * the first failure, a deadline, the waiter's cancellation,
 * fut_group_free); the one that set it reads nidx (word) and cancels records
 * [0, nidx) with no lock held (future_cancel runs callbacks).  An add
 * publishes its record's future, then reads `cancelling` and cancels its
 * member itself if it is set.  All four accesses are seq_cst: either the
 * add sees `cancelling`, or the canceller sees the record (store-buffering
 * pattern).  A cancel from inside a member's callback (the first failure)
 * runs while that member is still counted, so the group cannot go.
 *
 * A member waiting on its own group (EDEADLK).  A waiting call looks at
 * the tasks running on its thread's stack (their futures) for the group's
 * callback node, after linking its waiter node and counting itself in
 * `nwaiters`.  A job may start, and wait on its group, before its add has
 * linked that node (fut_pool_submit returns after the job is queued); so an
 * add, after linking a member's node, looks at `nwaiters` and, if anyone
 * waits, wakes every waiter whose task chain holds that member: it looks
 * again and finds itself.  Each side publishes, then looks (the future's
 * lock orders the node, nwaiters is seq_cst), so one sees the other.
 *
 * Lock: `lock`, a byte spin lock held for a few field updates only (as a
 * future's), never across an allocation, a wake-up, or a call that runs
 * user code.  It is a leaf: nothing is taken while it is held.  It guards
 * the waiters, the failure record and the result.  The common path of an
 * add and of a member's end does not take it.
 *
 * Result (fut_group_wait): 0, the first failure in completion order (the
 * failed member with the smallest completion number), ETIMEDOUT (the
 * deadline passed first and the members were cancelled and waited for),
 * ECANCELED (the waiting coroutine was cancelled).  Once a wait has
 * returned one of these, later adds give EINVAL and later waits return the
 * same result at once.
 */
#include "internal.h"

#include <string.h>

#define CHUNK0 32u                     /* records in chunk 0 */
#define NCHUNKS 40                     /* chunk k: CHUNK0 << k records */
#define FINAL ((uint64_t)1 << 63)      /* in word: the group has ended */
#define IDX_ONE ((uint64_t)1 << 32)    /* in word: one record reserved */
#define IDX_MAX 0x7fffffffu            /* records a group may reserve */
#define PENDING(w) ((uint32_t)(w))     /* in word: not counted down */
#define NIDX(w) ((size_t)(((w) >> 32) & IDX_MAX))

/* Record i of a chunk of n: the callback node cbs[i] (linked in the
 * member's waiters until it ends; arg is the group) and the slot fs[i]
 * (the group's reference; NULL until published, then const). */
struct chunk {
    struct fut__cb *cbs;               /* n nodes, 64-byte aligned */
    _Atomic(future_t *) *fs;           /* n slots, zeroed */
};

/* A waiting call's node in g->waiters. */
struct gwait {
    struct fut__wnode node;
    struct fut__task *task;            /* the waiter's task chain; valid
                                          while the node is linked */
};

struct fut_group {
    _Atomic uint64_t word;             /* FINAL | nidx | pending: see
                                          "Counting" */
    atomic_bool cancelling;            /* only false -> true */
    atomic_uint nwaiters;              /* waiting calls with a linked node */
    atomic_uchar lock;                 /* see "Lock" above */
    bool have_result;                  /* result is set; guarded by lock */
    bool timed_out;                    /* a deadline cancelled it; lock */
    bool waiter_cancelled;             /* a waiter's cancellation did; lock */
    int result;                        /* once have_result; guarded by lock */
    uint64_t fail_seq;                 /* completion number of the first
                                          failure; 0: none; guarded by lock */
    int fail_err;                      /* its code; guarded by lock */
    struct fut__dlist waiters;         /* struct gwait; guarded by lock */
    _Atomic(struct chunk *) chunk[NCHUNKS];    /* set once by CAS; seq_cst */
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

/* Record i: its chunk (NULL if the chunk does not exist, yet or for
 * good) and its offset there. */
static struct chunk *record(struct fut_group *g, size_t i, size_t *off)
{
    unsigned k = chunk_of(i, off);
    /* seq_cst, as the install: a canceller that finds no chunk is ordered
     * against the add that makes it (see "Cancelling"). */
    return k < NCHUNKS ? atomic_load(&g->chunk[k]) : NULL;
}

/* One allocation: the header, the nodes (aligned), the slots. */
static struct chunk *chunk_new(size_t n)
{
    size_t head = (sizeof(struct chunk) + 63) & ~(size_t)63;
    void *mem = NULL;
    if (fut__alloc_fails() ||
        posix_memalign(&mem, 64, head + n * (sizeof(struct fut__cb) + sizeof(future_t *))))
        return NULL;
    struct chunk *c = mem;
    c->cbs = (struct fut__cb *)((char *)mem + head);
    c->fs = (_Atomic(future_t *) *)(void *)(c->cbs + n);
    for (size_t i = 0; i < n; i++)
        atomic_init(&c->fs[i], NULL);
    return c;
}

/* Record i's chunk, made if needed.  NULL on ENOMEM. */
static struct chunk *record_make(struct fut_group *g, size_t i, size_t *off)
{
    unsigned k = chunk_of(i, off);
    if (k >= NCHUNKS)
        return NULL;
    struct chunk *c = atomic_load(&g->chunk[k]);
    if (FUT_LIKELY(c != NULL))
        return c;
    /* Slots zeroed before anyone can see them. */
    struct chunk *mine = chunk_new((size_t)CHUNK0 << k);
    if (!mine)
        return NULL;
    if (atomic_compare_exchange_strong(&g->chunk[k], &c, mine))
        return mine;
    free(mine);                        /* another add made it meanwhile */
    return c;
}

static future_t *member_future(struct fut_group *g, size_t i)
{
    size_t off;
    struct chunk *c = record(g, i, &off);
    return c ? atomic_load(&c->fs[off]) : NULL;   /* seq_cst: see "Cancelling" */
}

/* ---------------------------------------------------------------------
 * Counting down, cancelling
 * ------------------------------------------------------------------- */

/* Notifies the detached waiter nodes from n on (chained through next); no
 * lock held. */
static void notify_all(struct fut__dnode *n)
{
    while (n) {
        struct fut__dnode *next = n->next;   /* n may die once notified */
        fut__waiter_notify(fut__container_of(n, struct gwait, node.link)->node.w);
        n = next;
    }
}

/* One member (or reservation) less.  See "Counting". */
static void count_down(struct fut_group *g)
{
    uint64_t w = atomic_load_explicit(&g->word, memory_order_relaxed);
    while (PENDING(w) > 1) {
        if (atomic_compare_exchange_weak_explicit(&g->word, &w, w - 1, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return;                    /* not the last: no access after this */
    }
    glock(g);
    struct fut__dnode *n = NULL;
    if (PENDING(atomic_fetch_sub_explicit(&g->word, 1, memory_order_acq_rel)) == 1)
        n = fut__dlist_take(&g->waiters);
    gunlock(g);                        /* the last access to g */
    notify_all(n);
}

/* Sets `cancelling` once; returns how many records the caller must cancel
 * (0 if it was set before). */
static size_t begin_cancel(struct fut_group *g)
{
    if (atomic_exchange(&g->cancelling, true))
        return 0;
    return NIDX(atomic_load(&g->word));
}

static void cancel_members(struct fut_group *g, size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        future_t *f = member_future(g, i);
        if (f && !future_done(f))
            (void)future_cancel(f);    /* a running pool job: EBUSY, runs on */
    }
}

/* One member has ended: the first failure cancels the others, then it is
 * counted down.  Runs as the member's callback (any thread), or in the
 * adder for a member complete when added. */
static void member_done(future_t *f, void *arg)
{
    struct fut_group *g = arg;
    int st = future_state(f);
    if (st != FUTURE_DONE) {
        int err = st == FUTURE_CANCELLED ? ECANCELED : f->err;
        uint64_t seq = f->seq;         /* published with the state */
        glock(g);
        if (!g->fail_seq || seq < g->fail_seq) {
            g->fail_seq = seq;
            g->fail_err = err;
        }
        gunlock(g);
        /* Still counted: g cannot go while we cancel. */
        cancel_members(g, begin_cancel(g));
    }
    count_down(g);
}

/* ---------------------------------------------------------------------
 * Adding
 * ------------------------------------------------------------------- */

/* Reserves record *idx and counts the member-to-be.  Returns 0, EINVAL
 * (the group has ended: its wait returned a final result) or ENOMEM. */
static int reserve(struct fut_group *g, size_t *idx)
{
    uint64_t w = atomic_load_explicit(&g->word, memory_order_relaxed);
    do {
        if (w & FINAL)
            return EINVAL;
        if (NIDX(w) == IDX_MAX)
            return ENOMEM;             /* 2^31 - 1 members: no more records */
        /* seq_cst: see "Cancelling" */
    } while (!atomic_compare_exchange_weak(&g->word, &w, w + IDX_ONE + 1));
    size_t i = NIDX(w), off;
    if (!record_make(g, i, &off)) {
        count_down(g);                 /* the record stays empty */
        return ENOMEM;
    }
    *idx = i;
    return 0;
}

static bool chain_holds(const struct fut__task *t, const future_t *f)
{
    for (; t; t = t->outer)
        if (t->fut == f)
            return true;
    return false;
}

/* Wakes the waiters whose task chain holds f (now known as a member). */
static void wake_self_waiters(struct fut_group *g, future_t *f)
{
    struct fut__dnode *wake = NULL;    /* detached (on == false) under the
                                          lock, chained through next */
    glock(g);
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
    gunlock(g);
    notify_all(wake);
}

/* Publishes f in its reserved record (the group takes its own reference)
 * and registers the member's callback; then cancels f at once if the group
 * is being cancelled, and wakes a waiter that is f itself. */
static void fill(struct fut_group *g, size_t idx, future_t *f)
{
    size_t off;
    struct chunk *c = record(g, idx, &off);     /* made by reserve */
    struct fut__cb *cb = &c->cbs[off];
    cb->fn = member_done;
    cb->arg = g;
    cb->f = NULL;
    cb->node.link.next = cb->node.link.prev = NULL;
    cb->node.link.on = false;
    atomic_store(&c->fs[off], future_retain(f));   /* seq_cst: see "Cancelling" */
    bool linked = fut__on_done_node(f, cb);
    if (atomic_load(&g->cancelling))
        (void)future_cancel(f);        /* complete already: EINVAL, harmless */
    if (linked && atomic_load(&g->nwaiters))
        wake_self_waiters(g, f);
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

/* If every member has been counted down, makes the group final (a CAS
 * from 0, which adds in progress make fail).  Lock held.  True if final. */
static bool try_final_locked(struct fut_group *g)
{
    uint64_t w = atomic_load(&g->word);
    if (w & FINAL)
        return true;
    return PENDING(w) == 0 && atomic_compare_exchange_strong(&g->word, &w, w | FINAL);
}

/* Waits until the group has ended or the deadline; the waiter's
 * cancellation is seen unless shielded.  Returns 0 (the group is final:
 * then the lock is HELD on return), ETIMEDOUT, ECANCELED, ENOMEM or
 * EDEADLK (the caller is a member; lock not held). */
static int wait_final(struct fut_group *g, uint64_t deadline)
{
    for (;;) {
        struct fut__waiter w;
        struct gwait gw;
        glock(g);
        if (try_final_locked(g))
            return 0;                  /* lock held */
        fut__waiter_init(&w, 1, 1);
        gw.node.w = &w;
        gw.task = fut__task_current();
        fut__dlist_append(&g->waiters, &gw.node.link);
        atomic_fetch_add(&g->nwaiters, 1);     /* seq_cst: see "A member..." */
        gunlock(g);
        /* Published first, then looked. */
        int rc = check_self(g);
        if (!rc)
            rc = fut__waiter_block(&w, deadline);
        glock(g);
        uint32_t unlinked = gw.node.link.on;
        if (unlinked)
            fut__dlist_remove(&g->waiters, &gw.node.link);
        atomic_fetch_sub(&g->nwaiters, 1);
        gunlock(g);
        fut__waiter_leave(&w, unlinked);
        if (rc)
            return rc;
        /* fired: the count reached 0 (an add may have raised it again), or
         * an add found this waiter among the members: look again */
    }
}

/* Cancels every member and waits, shielded, until all have ended: 0 with
 * the lock held (the group final); or EDEADLK (lock not held), the caller
 * being a member, which would wait for itself.  Nothing else can fail: no
 * deadline, no cancellation. */
static int cancel_and_drain(struct fut_group *g)
{
    cancel_members(g, begin_cancel(g));
    struct fut__sched *s = fut__sched_self();
    bool old = s->ops->shield ? s->ops->shield(s, true) : false;
    int rc;
    while ((rc = wait_final(g, FUT_NO_DEADLINE)) != 0 && rc != EDEADLK)
        ;
    if (s->ops->shield)
        s->ops->shield(s, old);
    return rc;
}

/* The result once final.  Lock held. */
static int result_locked(struct fut_group *g)
{
    if (!g->have_result) {
        g->have_result = true;
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
    atomic_init(&g->word, 0);
    atomic_init(&g->cancelling, false);
    atomic_init(&g->nwaiters, 0);
    atomic_init(&g->lock, 0);
    fut__dlist_init(&g->waiters);
    for (unsigned k = 0; k < NCHUNKS; k++)
        atomic_init(&g->chunk[k], NULL);
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
        count_down(g);                 /* the record stays empty */
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
        count_down(g);
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
    cancel_members(g, begin_cancel(g));
    return 0;
}

int fut_group_wait(fut_group_t *g, long timeout_ms)
{
    if (!g || (timeout_ms < 0 && timeout_ms != FUT_FOREVER))
        return EINVAL;
    if (atomic_load(&g->word) & FINAL) {
        glock(g);
        int r = result_locked(g);
        gunlock(g);
        return r;
    }
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
            rc = try_final_locked(g) ? result_locked(g) : ETIMEDOUT;
            gunlock(g);
            return rc;
        }
        rc = wait_final(g, fut__deadline(timeout_ms));
        if (rc == 0) {
            rc = result_locked(g);     /* lock held by wait_final */
            gunlock(g);
            return rc;
        }
        if (rc == ENOMEM || rc == EDEADLK)
            return rc;                 /* nothing changed */
    }
    /* ETIMEDOUT: the deadline for the whole group.  ECANCELED: the waiting
     * coroutine was cancelled.  Either way: cancel, wait, report. */
    glock(g);
    if (rc == ETIMEDOUT && try_final_locked(g)) {
        rc = result_locked(g);         /* the last end raced the deadline */
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
    rc = result_locked(g);             /* lock held by cancel_and_drain */
    gunlock(g);
    return rc;
}

void fut_group_free(fut_group_t *g)
{
    if (!g)
        return;
    /* Ended already (its wait returned): nothing to cancel or wait for. */
    if (!(atomic_load(&g->word) & FINAL)) {
        if (check_self(g) || cancel_and_drain(g) == EDEADLK) {
            errno = EDEADLK;           /* from inside a member: not freed */
            return;
        }
        gunlock(g);
    }
    size_t n = NIDX(atomic_load(&g->word));
    for (size_t i = 0; i < n; i++)
        future_release(member_future(g, i));   /* NULL: an empty record */
    for (unsigned k = 0; k < NCHUNKS; k++)
        free(atomic_load_explicit(&g->chunk[k], memory_order_relaxed));
    free(g);
}
