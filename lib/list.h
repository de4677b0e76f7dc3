/* SPDX-License-Identifier: MIT */
/*
 * list.h - the library's two intrusive containers
 *
 *   fut__dlist  a doubly-linked list with first and last pointers: O(1)
 *               append, prepend, removal of any node, FIFO pop.  Used for
 *               the waiters and callbacks of a future, a pool's idle workers
 *               and room waiters, a loop's live coroutines and remote
 *               wake-ups, a channel's senders and receivers.
 *   fut__fifo   a singly-linked FIFO of futures through future->qnext: the
 *               loop's run queue and spawn hand-over, a pool worker's batch,
 *               the jobs a cancelling shutdown collects.
 *
 * Neither locks anything: the owner of each list says which lock guards it.
 * A node that is not on a list has next == prev == NULL and `on` false, so
 * "is it still linked?" is answered by the node itself (under the guard).
 */
#ifndef FUT_LIST_H
#define FUT_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define fut__container_of(p, type, member) \
    ((type *)(void *)((char *)(p) - offsetof(type, member)))

struct fut__dnode {
    struct fut__dnode *next, *prev;
    bool on;                          /* linked in some list */
};

struct fut__dlist {
    struct fut__dnode *first, *last;
};

static inline void fut__dlist_init(struct fut__dlist *l)
{
    l->first = l->last = NULL;
}

static inline bool fut__dlist_empty(const struct fut__dlist *l)
{
    return l->first == NULL;
}

static inline void fut__dlist_append(struct fut__dlist *l, struct fut__dnode *n)
{
    n->next = NULL;
    n->prev = l->last;
    if (l->last)
        l->last->next = n;
    else
        l->first = n;
    l->last = n;
    n->on = true;
}

static inline void fut__dlist_prepend(struct fut__dlist *l, struct fut__dnode *n)
{
    n->prev = NULL;
    n->next = l->first;
    if (l->first)
        l->first->prev = n;
    else
        l->last = n;
    l->first = n;
    n->on = true;
}

/* Removes n, which must be on l. */
static inline void fut__dlist_remove(struct fut__dlist *l, struct fut__dnode *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->first = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->last = n->prev;
    n->next = n->prev = NULL;
    n->on = false;
}

static inline struct fut__dnode *fut__dlist_pop(struct fut__dlist *l)
{
    struct fut__dnode *n = l->first;
    if (n)
        fut__dlist_remove(l, n);
    return n;
}

/* Detaches the whole list and returns its first node; the nodes keep their
 * next links (walk them with a saved next) and are marked not linked. */
static inline struct fut__dnode *fut__dlist_take(struct fut__dlist *l)
{
    struct fut__dnode *n = l->first;
    for (struct fut__dnode *m = n; m; m = m->next)
        m->on = false;
    l->first = l->last = NULL;
    return n;
}

/* ---- FIFO of futures through future->qnext ------------------------- */

struct future;

struct fut__fifo {
    struct future *head, *tail;
};

#endif /* FUT_LIST_H */
