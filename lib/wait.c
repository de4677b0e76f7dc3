/* SPDX-License-Identifier: MIT */
/*
 * wait.c - the waiting calls on futures: wait, get, gather, wait_any
 *
 * Each is one waiter record (waiter.c) and one node per pending future,
 * however many futures: a gather of a million sleeps once.  How the caller
 * sleeps is its scheduler's business (a thread parks, a pool thread helps,
 * a coroutine suspends); this file never asks which.
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

/* EDEADLK if any of fs is running lower on the calling thread's own stack
 * (the calling job or coroutine itself, or a job this pool thread was
 * running when it began helping): that wait could never end, since the
 * outer frame resumes only when we return.  ECANCELED if the calling
 * coroutine has a cancellation to deliver. */
static int check_self_wait(future_t *const fs[], size_t n)
{
    struct fut__sched *s = fut__sched_self();
    int rc = s->ops->cancelled(s);
    if (rc)
        return rc;
    for (struct fut__task *t = fut__task_current(); t; t = t->outer) {
        if (!t->fut)
            continue;
        for (size_t i = 0; i < n; i++)
            if (fs[i] == t->fut && !complete(fs[i]))
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

/* Waits until all (any == false) or one (any == true) of fs[0..n) are
 * complete.  The core of wait, get, gather and wait_any.  Returns 0,
 * ETIMEDOUT, ECANCELED (the calling coroutine was cancelled) or ENOMEM. */
static int wait_futures(future_t *const fs[], size_t n, bool any, long timeout_ms)
{
    /* Fast path: already satisfied, no record needed. */
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (complete(fs[i])) {
            done++;
            if (any)
                return 0;
        }
    }
    if (done == n)
        return 0;
    if (timeout_ms == 0)
        return ETIMEDOUT;
    if (n >= FUT__W_MAX)
        return ENOMEM;
    uint64_t deadline = fut__deadline(timeout_ms);
    struct fut__sched *s = fut__sched_self();
    if (!any && s->ops->before_wait) {
        s->ops->before_wait(s, fs, n);
        done = 0;
        for (size_t i = 0; i < n; i++)
            done += complete(fs[i]);
        if (done == n)
            return 0;
    }

    struct fut__wnode stack_nodes[STACK_NODES];
    struct fut__wnode *nodes = stack_nodes;
    if (n > STACK_NODES) {
        nodes = fut__malloc(n * sizeof *nodes);
        if (!nodes)
            return ENOMEM;
    }

    struct fut__waiter w;
    fut__waiter_init(&w, (uint32_t)n, any ? 1 : (uint32_t)n);
    uint32_t skipped = 0, attempted = 0;
    for (size_t i = 0; i < n; i++) {
        attempted++;
        if (!link_node(fs[i], &nodes[i], &w)) {
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
    uint32_t unlinked = (uint32_t)n - attempted;
    if (rc != 0 || any) {
        for (uint32_t i = 0; i < attempted; i++)
            unlinked += unlink_node(fs[i], &nodes[i]);
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
        if (complete(fs[i])) {
            *index = i;
            return 0;
        }
    }
    assert(!"wait_any woke with nothing complete");
    return EINVAL;
}
