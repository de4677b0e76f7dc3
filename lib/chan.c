/* SPDX-License-Identifier: MIT */
/*
 * chan.c - channels: values passed between coroutines and threads
 *
 * A channel is a ring buffer of `cap` values (none for an unbuffered
 * channel) and two FIFO queues of waiting calls: senders with a value to
 * give, receivers waiting for one.  Part of the core: it waits and wakes
 * only through the waiter protocol (internal.h, "Waiters") and never asks
 * whether the caller is a plain thread, a pool worker or a coroutine.
 *
 * One waiting call, one record on the caller's stack (struct chan_op): a
 * fut__waiter, one fut__wnode linked into c->senders or c->receivers, and
 * the value being exchanged.  A partner that completes the call does all
 * of it under c->mu: it detaches the node, moves the value (into the
 * receiver's record, or out of the sender's), and marks the record taken
 * (result = 0).  It notifies the waiter only after releasing c->mu.
 *
 * Invariants (all under c->mu):
 *
 *   - receivers non-empty  =>  count == 0 and not closed
 *     (a value arriving with a receiver waiting goes straight to it)
 *   - senders non-empty    =>  count == cap and not closed
 *     (a sender waits only when there is no room; unbuffered: always)
 *   - so at most one of the two queues is non-empty
 *   - values leave the buffer in the order they entered it; when a
 *     receiver frees a slot of a full buffer, the first waiting sender's
 *     value moves into the buffer behind the others: FIFO holds across the
 *     buffer and the queue of senders, and no later sender can overtake a
 *     waiting one (it finds the buffer full again)
 *
 * Cancellation and timeouts lose or duplicate no value: a waiter that
 * gives up (ETIMEDOUT, ECANCELED) retakes c->mu and looks at its own node.
 * Still linked: nobody took it, it unlinks and reports the error (nothing
 * was sent / taken).  Not linked: a partner completed the exchange before
 * it could give up, so it honours that and returns 0 (or EPIPE from a
 * close).  The partner's side is already final either way.
 *
 * Lifetime.  c->refs counts the owner's reference (dropped by
 * fut_chan_free) and one per waiting call, from the moment its node is
 * linked until it has finished with c after waking.  fut_chan_free closes
 * the channel (every waiter wakes with EPIPE) and drops the owner's
 * reference; the last reference frees c, so a waiter still on its way out
 * never touches freed memory, and free never waits.
 *
 * Locks: c->mu is a leaf.  Nothing else is locked while it is held, and
 * nobody is notified under it (a waiter's wake-up may take a parker's or a
 * loop's lock).
 */
#include "internal.h"

#include <stdint.h>
#include <string.h>

struct fut_chan {
    pthread_mutex_t mu;                /* guards everything below but cap,
                                          refs and buf's slots outside
                                          [head, head + count) */
    size_t cap;                        /* slots in buf; 0: unbuffered; const */
    size_t head;                       /* buf index of the oldest value;
                                          guarded by mu */
    size_t count;                      /* values buffered, <= cap; guarded
                                          by mu */
    bool closed;                       /* set once by close or free;
                                          guarded by mu */
    struct fut__dlist senders;         /* waiting sends (chan_op.node.link),
                                          in arrival order; guarded by mu */
    struct fut__dlist receivers;       /* waiting receives, in arrival
                                          order; guarded by mu */
    atomic_size_t refs;                /* the owner's + one per waiting
                                          call; the last drop frees c */
    void *buf[];                       /* the ring: cap slots */
};

/* One waiting send or receive, on the waiting caller's stack. */
struct chan_op {
    struct fut__wnode node;            /* in c->senders or c->receivers;
                                          link guarded by c->mu */
    void *value;                       /* send: the value offered; receive:
                                          the value handed over.  Written
                                          under c->mu by whoever holds the
                                          node (the caller until linked, the
                                          partner that detaches it) */
    int result;                        /* EPIPE until a partner takes the
                                          call (0), under c->mu: a node
                                          detached with EPIPE was detached
                                          by close */
};

static inline struct chan_op *op_of(struct fut__dnode *n)
{
    return fut__container_of(n, struct chan_op, node.link);
}

static bool valid_timeout(long timeout_ms)
{
    return timeout_ms >= 0 || timeout_ms == FUT_FOREVER;
}

/* ---------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------- */

static void chan_destroy(struct fut_chan *c)
{
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Drops one reference; the last frees c.  acq_rel: every access to c by
 * the other holders happens before the free. */
static void chan_unref(struct fut_chan *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        chan_destroy(c);
}

fut_chan_t *fut_chan_new(size_t capacity)
{
    /* The ring must fit in one object malloc can return (PTRDIFF_MAX
     * bytes); beyond that the capacity cannot be allocated. */
    if (capacity > (PTRDIFF_MAX - sizeof(struct fut_chan)) / sizeof(void *)) {
        errno = ENOMEM;
        return NULL;
    }
    struct fut_chan *c = fut__malloc(sizeof *c + capacity * sizeof(void *));
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutexattr_t ma;
    int rc = pthread_mutexattr_init(&ma);
    if (rc == 0) {
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
        /* Held for a few pointer moves: a short spin beats sleeping. */
        pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
        rc = pthread_mutex_init(&c->mu, &ma);
        pthread_mutexattr_destroy(&ma);
    }
    if (rc != 0) {
        free(c);
        errno = rc == EAGAIN ? EAGAIN : ENOMEM;
        return NULL;
    }
    c->cap = capacity;
    c->head = 0;
    c->count = 0;
    c->closed = false;
    fut__dlist_init(&c->senders);
    fut__dlist_init(&c->receivers);
    atomic_init(&c->refs, 1);
    return c;
}

/* ---------------------------------------------------------------------
 * The ring (c->mu held)
 * ------------------------------------------------------------------- */

static inline void ring_push(struct fut_chan *c, void *v)
{
    assert(c->count < c->cap);
    size_t tail = c->head + c->count;
    if (tail >= c->cap)
        tail -= c->cap;
    c->buf[tail] = v;
    c->count++;
}

static inline void *ring_pop(struct fut_chan *c)
{
    assert(c->count > 0);
    void *v = c->buf[c->head];
    if (++c->head == c->cap)
        c->head = 0;
    c->count--;
    return v;
}

/* ---------------------------------------------------------------------
 * Completing a call without waiting (c->mu held)
 *
 * Each returns 0 (done), EPIPE (closed) or EAGAIN (the call would have to
 * wait).  When it took a waiting partner's node it sets *wake to the
 * partner's waiter, to notify once c->mu is released.
 * ------------------------------------------------------------------- */

static int send_now(struct fut_chan *c, void *value, struct fut__waiter **wake)
{
    if (c->closed)
        return EPIPE;
    struct fut__dnode *n = fut__dlist_pop(&c->receivers);
    if (n) {                           /* so count == 0: hand it over */
        struct chan_op *op = op_of(n);
        op->value = value;
        op->result = 0;
        *wake = op->node.w;
        return 0;
    }
    if (c->count < c->cap) {
        ring_push(c, value);
        return 0;
    }
    return EAGAIN;
}

static int recv_now(struct fut_chan *c, void **value, struct fut__waiter **wake)
{
    struct fut__dnode *n;
    if (c->count > 0) {
        *value = ring_pop(c);
        /* A slot is free: the first waiting sender's value takes it,
         * behind every value already buffered. */
        if ((n = fut__dlist_pop(&c->senders))) {
            struct chan_op *op = op_of(n);
            ring_push(c, op->value);
            op->result = 0;
            *wake = op->node.w;
        }
        return 0;
    }
    if ((n = fut__dlist_pop(&c->senders))) {   /* unbuffered: take it */
        struct chan_op *op = op_of(n);
        *value = op->value;
        op->result = 0;
        *wake = op->node.w;
        return 0;
    }
    return c->closed ? EPIPE : EAGAIN;
}

/* ---------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------- */

/* The calling coroutine's pending cancellation (ECANCELED), else 0. */
static int caller_cancelled(void)
{
    struct fut__sched *s = fut__sched_self();
    return s->ops->cancelled(s);
}

/* One send (send == true, *value in) or receive (*value out), waiting up
 * to timeout_ms (not 0) when it cannot complete at once. */
static int chan_op(struct fut_chan *c, bool send, void **value, long timeout_ms)
{
    int rc = caller_cancelled();
    if (rc)
        return rc;
    /* Prepared before taking c->mu: it asks the caller's scheduler for its
     * wake target (a thread's parker is made on its first wait). */
    struct chan_op op;
    struct fut__waiter w;
    fut__waiter_init(&w, 1, 1);
    op.node.w = &w;
    op.node.link.on = false;
    op.result = EPIPE;

    struct fut__waiter *wake = NULL;
    pthread_mutex_lock(&c->mu);
    rc = send ? send_now(c, *value, &wake) : recv_now(c, value, &wake);
    if (rc != EAGAIN) {
        pthread_mutex_unlock(&c->mu);
        if (wake)
            fut__waiter_notify(wake);
        fut__waiter_leave(&w, 1);      /* its node was never linked */
        return rc;
    }
    if (send)
        op.value = *value;
    fut__dlist_append(send ? &c->senders : &c->receivers, &op.node.link);
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);   /* under mu */
    pthread_mutex_unlock(&c->mu);

    rc = fut__waiter_block(&w, fut__deadline(timeout_ms));
    uint32_t unlinked = 0;
    if (rc != 0) {
        /* Gave up (ETIMEDOUT, ECANCELED, ENOMEM): unless a partner took
         * the node first, in which case the exchange stands. */
        pthread_mutex_lock(&c->mu);
        if (op.node.link.on) {
            fut__dlist_remove(send ? &c->senders : &c->receivers, &op.node.link);
            unlinked = 1;
        }
        pthread_mutex_unlock(&c->mu);
    }
    /* rc == 0: fired, so a partner or close detached the node and wrote
     * op (under c->mu, before its notify: the acquire of fired sees it). */
    fut__waiter_leave(&w, unlinked);
    chan_unref(c);                     /* c may be gone from here on */
    if (unlinked)
        return rc;
    if (op.result == 0 && !send)
        *value = op.value;
    return op.result;
}

/* ---------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------- */

int fut_chan_send(fut_chan_t *c, void *value, long timeout_ms)
{
    if (!c || !valid_timeout(timeout_ms))
        return EINVAL;
    if (timeout_ms == 0) {
        int rc = caller_cancelled();
        if (rc)
            return rc;
        rc = fut_chan_try_send(c, value);
        return rc == EAGAIN ? ETIMEDOUT : rc;
    }
    return chan_op(c, true, &value, timeout_ms);
}

int fut_chan_recv(fut_chan_t *c, void **value, long timeout_ms)
{
    void *v = NULL;
    if (value)
        *value = NULL;
    if (!c || !valid_timeout(timeout_ms))
        return EINVAL;
    int rc;
    if (timeout_ms == 0) {
        rc = caller_cancelled();
        if (rc)
            return rc;
        rc = fut_chan_try_recv(c, &v);
        if (rc == EAGAIN)
            rc = ETIMEDOUT;
    } else {
        rc = chan_op(c, false, &v, timeout_ms);
    }
    if (rc == 0 && value)
        *value = v;
    return rc;
}

int fut_chan_try_send(fut_chan_t *c, void *value)
{
    if (!c)
        return EINVAL;
    struct fut__waiter *wake = NULL;
    pthread_mutex_lock(&c->mu);
    int rc = send_now(c, value, &wake);
    pthread_mutex_unlock(&c->mu);
    if (wake)
        fut__waiter_notify(wake);
    return rc;
}

int fut_chan_try_recv(fut_chan_t *c, void **value)
{
    void *v = NULL;
    if (value)
        *value = NULL;
    if (!c)
        return EINVAL;
    struct fut__waiter *wake = NULL;
    pthread_mutex_lock(&c->mu);
    int rc = recv_now(c, &v, &wake);
    pthread_mutex_unlock(&c->mu);
    if (wake)
        fut__waiter_notify(wake);
    if (rc == 0 && value)
        *value = v;
    return rc;
}

/* Wakes every node of a detached list (their results are EPIPE: nobody
 * took them).  The next link is read before the notify: after it the
 * node's owner may return and its stack go. */
static void wake_all(struct fut__dnode *n)
{
    while (n) {
        struct fut__dnode *next = n->next;
        fut__waiter_notify(op_of(n)->node.w);
        n = next;
    }
}

/* Closes c if it is open; returns EINVAL if it was closed already. */
static int chan_close(struct fut_chan *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->closed) {
        pthread_mutex_unlock(&c->mu);
        return EINVAL;
    }
    c->closed = true;
    /* At most one of the two is non-empty (see the invariants): waiting
     * senders keep their values (not sent), waiting receivers have nothing
     * to drain (count == 0). */
    struct fut__dnode *s = fut__dlist_take(&c->senders);
    struct fut__dnode *r = fut__dlist_take(&c->receivers);
    pthread_mutex_unlock(&c->mu);
    wake_all(s);
    wake_all(r);
    return 0;
}

int fut_chan_close(fut_chan_t *c)
{
    if (!c)
        return EINVAL;
    return chan_close(c);
}

size_t fut_chan_len(const fut_chan_t *c)
{
    if (!c)
        return 0;
    struct fut_chan *m = (struct fut_chan *)c;   /* the lock is not the value */
    pthread_mutex_lock(&m->mu);
    size_t n = m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

void fut_chan_free(fut_chan_t *c)
{
    if (!c)
        return;
    (void)chan_close(c);               /* EINVAL: it was closed already */
    chan_unref(c);
}

/* Test hook (tests/test_chan.c): how many sends (receivers == false) or
 * receives are waiting in c now.  Not in the public header. */
FUT_HIDDEN size_t fut__chan_waiting(const fut_chan_t *c, bool receivers);

size_t fut__chan_waiting(const fut_chan_t *c, bool receivers)
{
    struct fut_chan *m = (struct fut_chan *)c;
    size_t n = 0;
    pthread_mutex_lock(&m->mu);
    for (struct fut__dnode *d = (receivers ? m->receivers : m->senders).first; d; d = d->next)
        n++;
    pthread_mutex_unlock(&m->mu);
    return n;
}
