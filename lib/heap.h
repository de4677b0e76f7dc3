/*
 * heap.h - an intrusive binary min-heap of timers
 *
 * Invariant: for every node at index i > 0, its parent at (i - 1) / 2 is
 * not later: (when, seq) of the parent <= (when, seq) of the child.  Ties
 * in `when` are broken by `seq`, a counter taken at insertion, so timers
 * due at the same moment fire in the order they were set (as libuv does).
 * Each node knows its own index, so removing any timer is O(log n).
 *
 * Not thread-safe: a loop's heap is touched by its thread only.
 */
#ifndef FUT_HEAP_H
#define FUT_HEAP_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define FUT__HEAP_NONE SIZE_MAX   /* idx of a node not in a heap */

struct fut__hnode {
    uint64_t when;   /* deadline, CLOCK_MONOTONIC ns */
    uint64_t seq;    /* insertion order, breaks ties */
    size_t idx;      /* position in the heap, or FUT__HEAP_NONE */
};

struct fut__heap {
    struct fut__hnode **v;
    size_t len, cap;
    uint64_t seq;
};

static inline int fut__heap_less(const struct fut__hnode *a, const struct fut__hnode *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void fut__heap_set(struct fut__heap *h, size_t i, struct fut__hnode *n)
{
    h->v[i] = n;
    n->idx = i;
}

static inline void fut__heap_up(struct fut__heap *h, size_t i)
{
    struct fut__hnode *n = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!fut__heap_less(n, h->v[parent]))
            break;
        fut__heap_set(h, i, h->v[parent]);
        i = parent;
    }
    fut__heap_set(h, i, n);
}

static inline void fut__heap_down(struct fut__heap *h, size_t i)
{
    struct fut__hnode *n = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && fut__heap_less(h->v[c + 1], h->v[c]))
            c++;
        if (!fut__heap_less(h->v[c], n))
            break;
        fut__heap_set(h, i, h->v[c]);
        i = c;
    }
    fut__heap_set(h, i, n);
}

/* Adds n due at `when`.  Returns 0 or ENOMEM (n is then not in the heap). */
static inline int fut__heap_push(struct fut__heap *h, struct fut__hnode *n, uint64_t when)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct fut__hnode **v = fut__realloc(h->v, cap * sizeof *v);
        if (!v)
            return ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    n->when = when;
    n->seq = h->seq++;
    h->v[h->len] = n;
    n->idx = h->len++;
    fut__heap_up(h, n->idx);
    return 0;
}

/* The earliest node, or NULL. */
static inline struct fut__hnode *fut__heap_min(const struct fut__heap *h)
{
    return h->len ? h->v[0] : NULL;
}

/* Removes n (which must be in h). */
static inline void fut__heap_remove(struct fut__heap *h, struct fut__hnode *n)
{
    size_t i = n->idx;
    struct fut__hnode *last = h->v[--h->len];
    n->idx = FUT__HEAP_NONE;
    if (i == h->len)
        return;
    fut__heap_set(h, i, last);
    if (i > 0 && fut__heap_less(last, h->v[(i - 1) / 2]))
        fut__heap_up(h, i);
    else
        fut__heap_down(h, i);
}

static inline void fut__heap_free(struct fut__heap *h)
{
    free(h->v);
    h->v = NULL;
    h->len = h->cap = 0;
}

#endif /* FUT_HEAP_H */
