/* SPDX-License-Identifier: MIT */
/*
 * heap.h - the loop's timers: a binary min-heap with the keys in the array
 *
 * Each entry holds its deadline, its sequence number and the timer it
 * belongs to.  Invariant: for every entry at index i > 0, its parent at
 * (i - 1) / 2 is not later: (when, seq) of the parent <= (when, seq) of the
 * child.  Ties in `when` are broken by `seq`, taken from a counter at
 * insertion, so timers due at the same moment fire in the order they were
 * set (as libuv does).
 *
 * Why the keys live in the array.  A timer node sits in its coroutine's
 * control block at the top of that coroutine's stack, one page per
 * coroutine.  Sifting with keys read through node pointers touched one such
 * page per heap level: with 100,000 sleepers (W5), 31% of the run went to
 * those cache and TLB misses in fut__heap_remove.  Here a sift touches only
 * the contiguous array.
 *
 * Lazy removal.  A node records the seq of its armed entry (0: none).
 * Cancelling a timer clears that; its entry stays in the array, stale, and
 * is dropped when it reaches the top (its seq no longer matches the
 * node's).  Seqs are never reused, so a stale entry whose node memory now
 * belongs to a newer timer (a reused stack) is still recognised.  When
 * stale entries outnumber live ones, the array is compacted (O(n)), so
 * memory stays proportional to the armed timers.  Node memory must stay
 * mapped while the heap lives (the loop's stacks are unmapped only when the
 * loop is freed, with the heap).
 *
 * Not thread-safe: a loop's heap is touched by its thread only.
 */
#ifndef FUT_HEAP_H
#define FUT_HEAP_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

struct fut__hnode {
    uint64_t seq;    /* seq of this timer's live entry; 0: not armed */
};

struct fut__hent {
    uint64_t when;              /* deadline, CLOCK_MONOTONIC ns */
    uint64_t seq;               /* insertion order, breaks ties; unique */
    struct fut__hnode *node;
};

struct fut__heap {
    struct fut__hent *v;
    size_t len, cap;
    size_t stale;               /* entries whose timer was cancelled */
    uint64_t seq;               /* last seq handed out */
};

static inline int fut__heap_less(const struct fut__hent *a, const struct fut__hent *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline int fut__heap_live(const struct fut__hent *e)
{
    return e->node->seq == e->seq;
}

static inline void fut__heap_up(struct fut__heap *h, size_t i)
{
    struct fut__hent e = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!fut__heap_less(&e, &h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = e;
}

static inline void fut__heap_down(struct fut__heap *h, size_t i)
{
    struct fut__hent e = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && fut__heap_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!fut__heap_less(&h->v[c], &e))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    h->v[i] = e;
}

/* Removes the root entry. */
static inline void fut__heap_pop_root(struct fut__heap *h)
{
    h->v[0] = h->v[--h->len];
    if (h->len)
        fut__heap_down(h, 0);
}

/* Drops stale entries and restores the heap order: O(n). */
static inline void fut__heap_compact(struct fut__heap *h)
{
    size_t k = 0;
    for (size_t i = 0; i < h->len; i++)
        if (fut__heap_live(&h->v[i]))
            h->v[k++] = h->v[i];
    h->len = k;
    h->stale = 0;
    for (size_t i = k / 2; i-- > 0;)
        fut__heap_down(h, i);
}

/* Arms n at `when` (n must not be armed).  Returns 0 or ENOMEM (n is then
 * not armed). */
static inline int fut__heap_push(struct fut__heap *h, struct fut__hnode *n, uint64_t when)
{
    if (h->len == h->cap) {
        if (h->stale)
            fut__heap_compact(h);
        if (h->len == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 64;
            struct fut__hent *v = fut__realloc(h->v, cap * sizeof *v);
            if (!v)
                return ENOMEM;
            h->v = v;
            h->cap = cap;
        }
    }
    n->seq = ++h->seq;
    h->v[h->len] = (struct fut__hent){when, n->seq, n};
    fut__heap_up(h, h->len++);
    return 0;
}

/* Disarms n if it is armed. */
static inline void fut__heap_cancel(struct fut__heap *h, struct fut__hnode *n)
{
    if (!n->seq)
        return;
    n->seq = 0;
    if (++h->stale > 64 && h->stale > h->len / 2)
        fut__heap_compact(h);
}

/* The earliest live entry, or NULL (stale entries at the top are dropped
 * on the way). */
static inline const struct fut__hent *fut__heap_min(struct fut__heap *h)
{
    while (h->len && !fut__heap_live(&h->v[0])) {
        fut__heap_pop_root(h);
        h->stale--;
    }
    return h->len ? &h->v[0] : NULL;
}

/* Removes and returns the earliest timer if it is due by `now`, else NULL. */
static inline struct fut__hnode *fut__heap_pop_due(struct fut__heap *h, uint64_t now)
{
    const struct fut__hent *e = fut__heap_min(h);
    if (!e || e->when > now)
        return NULL;
    struct fut__hnode *n = e->node;
    n->seq = 0;
    fut__heap_pop_root(h);
    return n;
}

static inline void fut__heap_free(struct fut__heap *h)
{
    free(h->v);
    h->v = NULL;
    h->len = h->cap = h->stale = 0;
}

#endif /* FUT_HEAP_H */
