/* SPDX-License-Identifier: MIT */
/*
 * waiter.c - the waiter: how every wait of the library is notified, fired,
 * blocked on and left (the protocol is described in internal.h, "Waiters")
 *
 * A worked example of why `word` carries references.  A thread gathers two
 * futures with a timeout.  Future A's completer detaches the waiter's node
 * under A's lock, drops the lock, and is preempted before it notifies.
 * The deadline passes: the waiter unlinks its node from B (still linked),
 * and drops B's reference and its guard.  One reference is left, A's, so
 * the waiter waits in fut__waiter_leave.  A's completer resumes, notifies
 * (its last access), the references reach zero, and the waiter returns.
 * Without the count it would have returned at once, and A's completer
 * would have written into a dead stack frame.
 */
#include "internal.h"

static inline uint32_t refs_of(uint64_t word) { return (uint32_t)word; }
static inline uint32_t notes_of(uint64_t word) { return (uint32_t)(word >> 32); }

void fut__waiter_init(struct fut__waiter *w, uint32_t nodes, uint32_t need)
{
    assert(nodes < FUT__W_MAX);
    struct fut__sched *s = fut__sched_self();
    /* One reference per node, plus the waiter's guard. */
    atomic_init(&w->word, (uint64_t)nodes + 1);
    w->need = need;
    atomic_init(&w->fired, 0);
    w->sched = s;
    w->who = s->ops->who(s);
}

/* Publishes fired and wakes the owner, through the owner's scheduler,
 * which knows what it may touch once fired is visible (internal.h). */
static void fire(struct fut__waiter *w)
{
    w->sched->ops->wake(w);
}

void fut__waiter_notify(struct fut__waiter *w)
{
    /* need is read before the add: once the add has dropped our reference
     * the waiter may have returned and its stack slot hold a newer waiter
     * (found by the soak: a stale read fired that newer wait). */
    uint32_t need = w->need;
    /* One add: notes + 1, refs - 1.  acq_rel: the completer's writes (the
     * future's outcome) happen before the waiter's acquire of the count
     * or of fired. */
    uint64_t old = atomic_fetch_add_explicit(&w->word, FUT__W_NOTE - FUT__W_REF,
                                             memory_order_acq_rel);
    if (notes_of(old) + 1 == need)
        fire(w);
    /* else: that add was our last access to w */
}

void fut__waiter_skip(struct fut__waiter *w, uint32_t k)
{
    if (!k)
        return;
    uint64_t old = atomic_fetch_add_explicit(&w->word, k * (FUT__W_NOTE - FUT__W_REF),
                                             memory_order_acq_rel);
    uint32_t before = notes_of(old);
    if (before < w->need && before + k >= w->need)
        atomic_store_explicit(&w->fired, 1, memory_order_release);   /* our own */
}

int fut__waiter_block(struct fut__waiter *w, uint64_t deadline)
{
    if (fut__waiter_fired(w))
        return 0;
    return w->sched->ops->block(w->sched, w, deadline);
}

void fut__waiter_leave(struct fut__waiter *w, uint32_t unlinked)
{
    uint64_t drop = (uint64_t)unlinked + 1;          /* those, and the guard */
    uint64_t word = atomic_fetch_sub_explicit(&w->word, drop, memory_order_acq_rel) - drop;
    /* Completers that detached a node and have not notified yet: each is a
     * few instructions from its add (no lock, no wake in between), so
     * spinning, then yielding, is cheap and rare. */
    for (unsigned i = 0; refs_of(word) != 0; i++) {
        if (i < 64)
            fut__pause();
        else
            sched_yield();
        word = atomic_load_explicit(&w->word, memory_order_acquire);
    }
    /* A firer committed (its add reached need): its wake may still be in
     * flight.  It fired on its own stack of accesses; let it finish. */
    if (notes_of(word) >= w->need && w->need > 0)
        w->sched->ops->settle(w);
}
