/* SPDX-License-Identifier: MIT */
/*
 * stack.h - coroutine stacks: a per-loop allocator carving stacks out of
 * large slabs, with guard pages where they are cheap
 *
 * One struct fut__stacks per loop, used only by that loop's thread: no
 * locking (the process-wide parts inside stack.c, the guard budget and the
 * slab registry the SIGSEGV handler reads, are atomic).  See stack.c for
 * the design and doc/coroutines-internals.md for the reasoning.
 *
 * A stack is [lo, lo + size); it grows down from lo + size, and a guard
 * region sits just below lo (when one could be installed).  The loop puts
 * its coroutine control block at the very top of the stack and makes the
 * context on what is below it, so a coroutine that only sleeps touches one
 * page.  The allocator itself never writes to stack memory: its free list
 * is a side array.
 */
#ifndef FUT_STACK_H
#define FUT_STACK_H

#include "internal.h"

#include <stddef.h>

struct fut__stack {
    void *lo;          /* lowest usable byte; page-aligned */
    size_t size;       /* usable bytes [lo, lo + size); top = lo + size */
};

struct fut__stack_slab;   /* private to stack.c */

/* A per-loop stack allocator.  Loop thread only.  Fields are private to
 * stack.c except the counters, which may be read for statistics. */
struct fut__stacks {
    size_t stack_size;              /* usable bytes per stack (page multiple) */
    size_t guard_size;              /* bytes of guard below each stack */
    size_t stride;                  /* guard_size + stack_size: one slot */
    struct fut__stack_slab *slabs;  /* every slab, newest first */
    char *carve;                    /* next never-used slot of slabs[0] */
    size_t carve_left;              /* never-used slots left in slabs[0] */
    size_t next_slots;              /* slots in the next slab (doubles, capped) */
    char *pop_end;                  /* never-used slots of slabs[0] in
                                       [carve, pop_end) have their top page
                                       populated (fut__stacks_expect) */
    void **free;                    /* LIFO of free stacks' lo (side array:
                                       keeps free stacks' pages untouched) */
    size_t nfree;                   /* entries in free */
    size_t free_cap;                /* capacity of free; >= carved, so that
                                       fut__stack_put never allocates */
    /* counters */
    size_t live;                    /* handed out and not put back */
    size_t carved;                  /* ever carved: live + nfree */
    size_t guarded;                 /* carved with a guard installed */
    size_t nslabs;                  /* slabs mapped */
    size_t mapped;                  /* bytes of address space reserved */
    size_t populated;               /* top pages populated in batches */
    size_t adopted;                 /* warm stacks taken from the process's
                                       cache of retired slabs */
    bool cache;                     /* destroy hands the slabs to that cache
                                       (a loop's allocator); set after init */
};

/* Sets up s for stacks of stack_size usable bytes, rounded up to the page
 * size.  Maps nothing yet.  Installs the process's SIGSEGV overflow
 * reporter if SIGSEGV is at its default disposition.  Returns 0, EINVAL
 * (s NULL, stack_size 0) or ENOMEM (a size no address space can hold). */
FUT_HIDDEN int fut__stacks_init(struct fut__stacks *s, size_t stack_size);

/* Hands out a stack: the most recently freed one if any (its pages are
 * warm), else a never-used slot, mapping a new slab when needed.  Returns
 * 0, or ENOMEM (nothing changed). */
FUT_HIDDEN int fut__stack_get(struct fut__stacks *s, struct fut__stack *out);

/* A hint: about n stacks will be asked for soon (the loop's coroutines
 * queued and not yet started).  When fewer than n are free and the slots
 * populated before are used up, populates the top page of the never-used
 * slots that the next calls will carve, as many as are wanted but no more
 * than the stacks in use now, all in one system call
 * (process_madvise(MADV_POPULATE_WRITE), Linux >= 6.13), instead of one
 * page fault per coroutine at its first touch.  Populates nothing where the
 * kernel refuses, or for fewer than 2 stacks.  May map the next slab.
 * Never fails (a hint). */
FUT_HIDDEN void fut__stacks_expect(struct fut__stacks *s, size_t n);

/* Takes back a stack from fut__stack_get of the same s.  Never fails,
 * never allocates, never touches the stack's memory. */
FUT_HIDDEN void fut__stack_put(struct fut__stacks *s, const struct fut__stack *st);

/* Unmaps every slab (the stacks need not all have been put back) and
 * frees the bookkeeping.  s may be initialised again afterwards.  With
 * s->cache set and every stack put back, keeps up to FUT__STACK_CACHE
 * stack slots of the slabs instead (their stacks trimmed to the top page)
 * for the next allocator of the same stack size in the process, which
 * takes them as warm free stacks: a program that runs loop after loop
 * (fut_run in a loop) pays the first touch of its stacks once. */
FUT_HIDDEN void fut__stacks_destroy(struct fut__stacks *s);

/* On the calling (loop) thread: makes sure the thread has an alternate
 * signal stack, so that the overflow reporter can run when a coroutine
 * has run off the end of its stack.  Installs one (mmap'd) only if the
 * thread has none; nests (a counter per thread).  Returns 0 or an errno
 * code (ENOMEM).  Every successful call is matched by
 * fut__stacks_thread_fini on the same thread, which removes and unmaps the
 * alternate stack if this pair installed it. */
FUT_HIDDEN int fut__stacks_thread_init(void);
FUT_HIDDEN void fut__stacks_thread_fini(void);

#define FUT__STACK_CACHE 1024

/* How guard regions are made in this process (decided once, at the first
 * fut__stacks_init). */
enum fut__guard_kind {
    FUT__GUARD_NONE,       /* none could be installed */
    FUT__GUARD_MADVISE,    /* madvise(MADV_GUARD_INSTALL): no extra mapping */
    FUT__GUARD_MPROTECT    /* mprotect(PROT_NONE): two mappings per stack,
                              so only within a budget (see stack.c) */
};
FUT_HIDDEN enum fut__guard_kind fut__stacks_guard_kind(void);
/* Tests only: force a strategy for the stacks carved from now on. */
FUT_HIDDEN void fut__stacks_set_guard_kind(enum fut__guard_kind k);
/* true if fut__stacks_init installed the overflow reporter (SIGSEGV was
 * at SIG_DFL then). */
FUT_HIDDEN bool fut__stacks_reporter_installed(void);

#endif /* FUT_STACK_H */
