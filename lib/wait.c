/* SPDX-License-Identifier: MIT */
/*
 * wait.c - the waiting calls on futures: wait, get, gather, wait_any,
 * wait_for, wait_next
 *
 * Each is one waiter record (waiter.c) and one node per pending future,
 * however many futures: a gather of a million sleeps once.  How the caller
 * sleeps is its scheduler's business (a thread parks, a pool thread helps,
 * a coroutine suspends); this file never asks which.
 *
 * Cancellation that flows.  A coroutine's cancellation is delivered by the
 * first waiting call that returns ECANCELED for it (the scheduler's
 * `deliver` says whether this call is that one).  If that call is
 * future_get, future_wait_for or future_gather, it also cancels what it was
 * given, as `await f` does in asyncio: get returns at once, gather first
 * waits, shielded, until every future it was given has ended (a running
 * pool job cannot be stopped and runs to its end).  Later calls return
 * ECANCELED and cancel nothing.  wait, wait_any and wait_next never cancel
 * what they wait on (asyncio.wait).
 *
 * Completion order (wait_next) is the futures' completion numbers
 * (future.c): the smallest among those complete completed first.
 */
#include "internal.h"

#include <string.h>

static inline int load_state(const future_t *f)
{
    return atomic_load_explicit(&((future_t *)f)->state, memory_order_acquire);
}

static inline bool complete(const future_t *f)
{
    return fut__is_terminal(load_state(f));
}

static bool valid_timeout(long timeout_ms)
{
    return timeout_ms >= 0 || timeout_ms == FUT_FOREVER;
}

/* The calling context's cancellation, before a wait: 0, or ECANCELED,
 * with *first set when this call is the first to deliver it (a
 * future_get or future_gather then cancels what it was given). */
static int deliver(struct fut__sched *s, bool *first)
{
    *first = false;
    if (s->ops->deliver)
        return s->ops->deliver(s, first);
    return s->ops->cancelled(s);
}

/* ECANCELED if the calling coroutine has a cancellation to deliver
 * (*first as deliver).  EDEADLK if any of fs not marked in skip (may be
 * NULL) is running lower on the calling thread's own stack (the calling
 * job or coroutine itself, or a job this pool thread was running when it
 * began helping): that wait could never end, since the outer frame
 * resumes only when we return. */
static int check_self_wait(future_t *const fs[], size_t n, const bool *skip, bool *first)
{
    struct fut__sched *s = fut__sched_self();
    int rc = deliver(s, first);
    if (rc)
        return rc;
    for (struct fut__task *t = fut__task_current(); t; t = t->outer) {
        if (!t->fut)
            continue;
        for (size_t i = 0; i < n; i++)
            if (fs[i] == t->fut && !(skip && skip[i]) && !complete(fs[i]))
                return EDEADLK;
    }
    return 0;
}

/* Links node n (for waiter w) into f unless f is already complete.
 * Returns true if linked. */
static bool link_node(future_t *f, struct fut__wnode *n, struct fut__waiter *w)
{
    n->w = w;
    n->link.on = false;
    if (complete(f))
        return false;
    fut__flock(f);
    /* seq_cst store then load: see "Waking without a lock" in future.c. */
    atomic_store(&f->has_waiters, true);
    if (fut__is_terminal(atomic_load(&f->state))) {
        fut__funlock(f);
        return false;
    }
    fut__dlist_append(&f->waiters, &n->link);
    fut__funlock(f);
    return true;
}

/* Takes n back out of f if no completer has detached it.  Returns true if
 * it did (the node's reference is then the caller's to drop). */
static bool unlink_node(future_t *f, struct fut__wnode *n)
{
    bool was = false;
    fut__flock(f);
    if (n->link.on) {
        fut__dlist_remove(&f->waiters, &n->link);
        was = true;
    }
    fut__funlock(f);
    return was;
}

/* Small waits keep their nodes on the stack; larger ones allocate one
 * array for the whole call (never one allocation per future). */
#define STACK_NODES 8

/* Waits until all (any == false) or one (any == true) of the futures
 * fs[0..n) not marked in skip (may be NULL; only with any) are complete.
 * The core of every waiting call on futures.  Returns 0, ETIMEDOUT,
 * ECANCELED (the calling coroutine was cancelled) or ENOMEM. */
static int wait_futures(future_t *const fs[], size_t n, const bool *skip, bool any,
                        long timeout_ms)
{
    /* Fast path: already satisfied, no record needed. */
    size_t done = 0, want = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip && skip[i])
            continue;
        want++;
        if (complete(fs[i])) {
            done++;
            if (any)
                return 0;
        }
    }
    if (done == want)
        return 0;
    if (timeout_ms == 0)
        return ETIMEDOUT;
    if (want >= FUT__W_MAX)
        return ENOMEM;
    uint64_t deadline = fut__deadline(timeout_ms);
    struct fut__sched *s = fut__sched_self();
    if (!any && s->ops->before_wait && s->ops->before_wait(s, fs, n)) {
        done = 0;
        for (size_t i = 0; i < n; i++)
            done += complete(fs[i]);
        if (done == n)
            return 0;
    }

    struct fut__wnode stack_nodes[STACK_NODES];
    struct fut__wnode *nodes = stack_nodes;
    if (want > STACK_NODES) {
        nodes = fut__malloc(want * sizeof *nodes);
        if (!nodes)
            return ENOMEM;
    }

    struct fut__waiter w;
    fut__waiter_init(&w, (uint32_t)want, any ? 1 : (uint32_t)want);
    uint32_t skipped = 0, attempted = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip && skip[i])
            continue;
        if (!link_node(fs[i], &nodes[attempted++], &w)) {
            skipped++;
            if (any)
                break;                 /* one is complete: stop here */
        }
    }
    /* Nodes never linked: the complete ones count as notifications, the
     * ones not attempted (wait_any stopped early) are simply dropped. */
    fut__waiter_skip(&w, skipped);
    int rc = fut__waiter_block(&w, deadline);
    /* Take back every node still linked (timeout, cancel, wait_any): each
     * one taken back is a reference the leave drops. */
    uint32_t unlinked = (uint32_t)want - attempted;
    if (rc != 0 || any) {
        uint32_t k = 0;
        for (size_t i = 0; i < n && k < attempted; i++) {
            if (skip && skip[i])
                continue;
            unlinked += unlink_node(fs[i], &nodes[k++]);
        }
    }
    fut__waiter_leave(&w, unlinked);
    if (nodes != stack_nodes)
        free(nodes);
    if (rc == ETIMEDOUT && !any) {
        /* The last completion may have raced the deadline. */
        for (size_t i = 0; i < n && rc; i++)
            if (!complete(fs[i]))
                return rc;
        rc = 0;
    }
    return rc;
}

/* Cancels each of fs not complete (a running pool job says EBUSY and runs
 * on): cancellation flowing into what a cancelled coroutine awaited. */
static void cancel_each(future_t *const fs[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!complete(fs[i]))
            (void)future_cancel(fs[i]);
}

/* Waits until every one of fs is complete, with the caller's cancellation
 * shielded: the wait of a call that cancelled them and must not return
 * before they have ended.  Cannot fail: no deadline (no timer to arm), no
 * cancellation, and if the one-record wait cannot get its nodes, one
 * future at a time (on-stack nodes). */
static void wait_all_shielded(future_t *const fs[], size_t n)
{
    struct fut__sched *s = fut__sched_self();
    bool old = s->ops->shield ? s->ops->shield(s, true) : false;
    if (wait_futures(fs, n, NULL, false, FUT_FOREVER) != 0) {
        for (size_t i = 0; i < n; i++)
            while (!complete(fs[i]))
                (void)wait_futures(&fs[i], 1, NULL, false, FUT_FOREVER);
    }
    if (s->ops->shield)
        s->ops->shield(s, old);
}

int future_wait(future_t *f, long timeout_ms)
{
    if (!f || !valid_timeout(timeout_ms))
        return EINVAL;
    future_t *const fs[1] = {f};
    bool first;
    int rc = check_self_wait(fs, 1, NULL, &first);
    if (rc)
        return rc;
    return wait_futures(fs, 1, NULL, false, timeout_ms);
}

/* The outcome of a complete future: 0 and its value, or its error. */
static int outcome(const future_t *f, void **value)
{
    int s = load_state(f);
    assert(fut__is_terminal(s));
    if (s == FUTURE_DONE) {
        if (value)
            *value = f->value;
        return 0;
    }
    if (value)
        *value = NULL;
    return s == FUTURE_CANCELLED ? ECANCELED : (f->err > 0 ? f->err : EINVAL);
}

/* future_get and future_wait_for: waits for f at most timeout_ms.  A
 * cancellation this call delivers cancels f and returns at once; a timeout
 * (wait_for) cancels f and waits for it to end. */
static int get_for(future_t *f, long timeout_ms, void **value)
{
    future_t *const fs[1] = {f};
    bool first;
    int rc = check_self_wait(fs, 1, NULL, &first);
    if (!rc) {
        rc = wait_futures(fs, 1, NULL, false, timeout_ms);
        /* The pre-check saw no cancellation to deliver (or a shield, which
         * block honours too), so one that cut this wait short is new. */
        first = rc == ECANCELED;
    }
    if (rc == ECANCELED && first)
        cancel_each(fs, 1);
    if (rc == ETIMEDOUT) {
        cancel_each(fs, 1);
        wait_all_shielded(fs, 1);
    }
    if (rc)
        return rc;
    return outcome(f, value);
}

int future_get(future_t *f, void **value)
{
    if (value)
        *value = NULL;
    if (!f)
        return EINVAL;
    return get_for(f, FUT_FOREVER, value);
}

int future_wait_for(future_t *f, long timeout_ms, void **value)
{
    if (value)
        *value = NULL;
    if (!f || !valid_timeout(timeout_ms))
        return EINVAL;
    return get_for(f, timeout_ms, value);
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
    if (rc)
        return rc;
    bool first;
    rc = check_self_wait(fs, n, NULL, &first);
    if (!rc) {
        rc = wait_futures(fs, n, NULL, false, timeout_ms);
        first = rc == ECANCELED;       /* as in get_for */
    }
    if (rc == ECANCELED && first) {
        /* As `await asyncio.gather(...)`: cancel the children, and as
         * gather always does, leave nothing running behind the caller. */
        cancel_each(fs, n);
        wait_all_shielded(fs, n);
    }
    if (rc)
        return rc;
    int firsterr = 0;
    for (size_t i = 0; i < n; i++) {
        int r = outcome(fs[i], values ? &values[i] : NULL);
        if (r && !firsterr)
            firsterr = r;
    }
    return firsterr;
}

int future_wait_any(future_t *const fs[], size_t n, long timeout_ms, size_t *index)
{
    if (n == 0 || !index || !valid_timeout(timeout_ms))
        return EINVAL;
    int rc = check_array(fs, n);
    bool first;
    if (!rc)
        rc = check_self_wait(fs, n, NULL, &first);
    if (!rc)
        rc = wait_futures(fs, n, NULL, true, timeout_ms);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (complete(fs[i])) {
            *index = i;
            return 0;
        }
    }
    assert(!"wait_any woke with nothing complete");
    return EINVAL;
}

/* The complete future among those not marked in done[] that completed
 * first (smallest completion number), or n if none is complete. */
static size_t first_completed(future_t *const fs[], size_t n, const bool done[])
{
    size_t best = n;
    uint64_t best_seq = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (done[i] || !complete(fs[i]))
            continue;
        uint64_t q = fs[i]->seq;       /* published with the state */
        if (q < best_seq) {
            best_seq = q;
            best = i;
        }
    }
    return best;
}

int future_wait_next(future_t *const fs[], size_t n, bool done[], long timeout_ms,
                     size_t *index)
{
    if (n == 0 || !done || !index || !valid_timeout(timeout_ms))
        return EINVAL;
    int rc = check_array(fs, n);
    if (rc)
        return rc;
    size_t left = 0;
    for (size_t i = 0; i < n; i++)
        left += !done[i];
    if (!left)
        return EINVAL;
    bool first;
    rc = check_self_wait(fs, n, done, &first);
    if (rc)
        return rc;
    size_t k = first_completed(fs, n, done);
    if (k == n) {
        rc = wait_futures(fs, n, done, true, timeout_ms);
        if (rc)
            return rc;
        k = first_completed(fs, n, done);
        assert(k < n);
    }
    done[k] = true;
    *index = k;
    return 0;
}
