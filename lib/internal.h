/*
 * internal.h - the one internal header of libfutures
 *
 * Structures, their invariants and their guards; hidden fut__ prototypes
 * shared between lib/future.c, lib/pool.c, lib/loop.c, lib/stack.c and the
 * context-switch back ends in lib/coro/.
 *
 * Names: future_/fut_ are public, fut__ are internal but shared between
 * files (hidden visibility), statics are plain.
 *
 * Lock order (a thread holding a lock on the left may take one on the
 * right, never the reverse):
 *
 *     pool->mu  -->  future->lock  -->  parker->mu | loop->mu
 *
 * A completer holds future->lock while it notifies waiters (so a waiter that
 * unlinks itself under future->lock knows no completer still touches it
 * afterwards), and runs callbacks with no lock held.
 */
#ifndef FUT_INTERNAL_H
#define FUT_INTERNAL_H

#include "futures.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define FUT_HIDDEN __attribute__((visibility("hidden")))

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FUT_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define FUT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define FUT_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUT_ASAN 1
#endif

/* Thread-locals of the library: initial-exec, so that the shared library
 * reads them with one instruction instead of a __tls_get_addr call (the
 * loop reads them on every switch).  libfutures is linked at start-up, not
 * dlopen'ed, in the usual case; glibc keeps static TLS surplus for the
 * few bytes used here otherwise. */
#define FUT_TLS _Thread_local __attribute__((tls_model("initial-exec")))

#define FUT_LIKELY(x) __builtin_expect(!!(x), 1)
#define FUT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* A cpu-relax hint for spin loops. */
static inline void fut__pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* ---------------------------------------------------------------------
 * Allocation.  Every allocation of the library goes through these, so the
 * tests can make the Nth one fail (fut__test_fail_alloc) and check that
 * each ENOMEM path reports the error and loses nothing.
 * ------------------------------------------------------------------- */

FUT_HIDDEN extern atomic_long fut__alloc_fail_in;   /* 0: off */
FUT_HIDDEN bool fut__alloc_fails(void);

static inline void *fut__malloc(size_t n)
{
    if (FUT_UNLIKELY(atomic_load_explicit(&fut__alloc_fail_in, memory_order_relaxed)) &&
        fut__alloc_fails())
        return NULL;
    return malloc(n);
}

static inline void *fut__calloc(size_t k, size_t n)
{
    if (FUT_UNLIKELY(atomic_load_explicit(&fut__alloc_fail_in, memory_order_relaxed)) &&
        fut__alloc_fails())
        return NULL;
    return calloc(k, n);
}

static inline void *fut__realloc(void *p, size_t n)
{
    if (FUT_UNLIKELY(atomic_load_explicit(&fut__alloc_fail_in, memory_order_relaxed)) &&
        fut__alloc_fails())
        return NULL;
    return realloc(p, n);
}

/* Test hook: the n-th allocation from now fails (n > 0), then all succeed
 * again; n == 0 turns it off.  Not in the public header. */
FUT_HIDDEN void fut__test_fail_alloc(long n);

/* ---------------------------------------------------------------------
 * Time (CLOCK_MONOTONIC, nanoseconds)
 * ------------------------------------------------------------------- */

#define FUT_NO_DEADLINE UINT64_MAX

FUT_HIDDEN uint64_t fut__now_ns(void);
/* The deadline for timeout_ms from now; FUT_FOREVER gives FUT_NO_DEADLINE.
 * Clamps instead of wrapping. */
FUT_HIDDEN uint64_t fut__deadline(long timeout_ms);
FUT_HIDDEN struct timespec fut__timespec(uint64_t ns);

/* ---------------------------------------------------------------------
 * Parker: a thread's own mutex + condition variable (CLOCK_MONOTONIC).
 *
 * One per thread, created on first use, destroyed at thread exit.  Every
 * blocking wait of a thread in the library sleeps on its parker, so a
 * wait never initialises or allocates a synchronisation object.
 * `signalled` is a hint guarded by mu: a sleeper always rechecks its own
 * condition, so a stale signal only costs one spurious wake-up.
 * ------------------------------------------------------------------- */

struct fut__parker {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* CLOCK_MONOTONIC */
    int signalled;       /* guarded by mu */
};

/* The calling thread's parker, or NULL if it could not be created. */
FUT_HIDDEN struct fut__parker *fut__parker_self(void);
/* Sets signalled and wakes the parker's thread. */
FUT_HIDDEN void fut__unpark(struct fut__parker *pk);
/* Sleeps on pk until it is signalled, *stop is set (may be NULL) or the
 * deadline passes; clears the signal.  Returns 0 or ETIMEDOUT. */
FUT_HIDDEN int fut__park(struct fut__parker *pk, atomic_int *stop, uint64_t deadline);

/* ---------------------------------------------------------------------
 * Waiter: the one record a waiting call puts on the futures it waits for.
 *
 * A waiting call (wait, get, gather, wait_any) builds one fut__waiter on
 * its own stack and links one fut__wnode per pending future into that
 * future's waiter list.  Each completion decrements `remaining`; the one
 * that brings it to zero fires the waiter, which wakes it one of two ways:
 *
 *   FUT__W_THREAD  unpark the waiting thread's parker
 *   FUT__W_CORO    make the suspended coroutine ready on its loop
 *                  (from any thread; the loop thread switches to it)
 *
 * wait_any uses remaining = 1.  Firing happens under the completing
 * future's mu; see the lock order above.
 * ------------------------------------------------------------------- */

enum fut__wkind { FUT__W_THREAD, FUT__W_CORO };

struct fut__coro;

struct fut__waiter {
    enum fut__wkind kind;          /* set once before linking */
    atomic_size_t remaining;       /* completions still needed to fire */
    atomic_int fired;              /* 0 -> 1 once, by the firing completer;
                                      release, pairs with the waiter's acquire */
    union {
        struct fut__parker *parker;   /* FUT__W_THREAD */
        struct fut__coro *coro;       /* FUT__W_CORO */
    } u;
    struct fut_pool *help_pool;    /* a pool thread waiting runs this pool's
                                      queued jobs; NULL otherwise */
};

struct fut__wnode {                /* links a waiter into one future */
    struct fut__wnode *next, *prev;   /* guarded by future->lock */
    struct fut__waiter *w;
    bool linked;                      /* guarded by future->lock */
};

/* ---------------------------------------------------------------------
 * Futures
 *
 * state: atomic.  Moves PENDING -> RUNNING -> terminal or PENDING ->
 * terminal, only by CAS, only forward; a terminal state never changes.
 * value/err are written before the release store of a terminal state and
 * read after an acquire load of it, so a complete future is read without
 * a lock.
 * ------------------------------------------------------------------- */

enum fut__kind {
    FUT__PROMISE,   /* future_new, future_then */
    FUT__JOB,       /* a pool job */
    FUT__CORO       /* a coroutine */
};

struct fut__cb {                   /* a future_on_done registration */
    struct fut__cb *next;
    void (*fn)(future_t *f, void *arg);
    void *arg;
};

struct future {
    atomic_int state;              /* enum future_state, see above */
    atomic_uint refs;              /* references; the last release frees */
    atomic_uchar lock;             /* fut__flock: guards waiters and cbs */
    atomic_bool has_waiters;       /* waiters or cbs may be non-empty:
                                      lets completion skip the lock */
    unsigned char kind;            /* enum fut__kind, set at creation */
    atomic_uchar dequeued;         /* FUT__JOB: taken out of the pool's
                                      count of queued jobs (by a worker's
                                      take or an inline run), once */
    int err;                       /* FAILED/CANCELLED code; see state */
    void *value;                   /* DONE value; see state */
    struct fut__wnode *waiters;    /* guarded by lock; emptied at completion */
    struct fut__cb *cbs;           /* guarded by lock; taken at completion */

    /* FUT__JOB and FUT__CORO: the function, owned by the pool or loop
     * until it runs */
    fut_fn fn;
    void *arg;
    _Atomic(struct future *) qnext;    /* queue link: the pool's MPSC queue
                                          or the loop's run queue */
    union {
        struct fut_pool *pool;     /* FUT__JOB: the pool it was submitted to */
        struct fut_loop *loop;     /* FUT__CORO: the loop it was spawned on */
    } owner;                       /* const */
    struct fut__coro *coro;        /* FUT__CORO: set when it starts, cleared
                                      when its body returns; guarded by
                                      loop->mu */
    _Atomic(char *) name;          /* for traces; set once (NULL -> copy),
                                      freed with the future */
    struct fut__chunk *chunk;      /* the block it was carved from (NULL:
                                      its own malloc); const */
};

/* The future's lock: a byte, held for a few pointer moves (and the
 * wake-ups of a completion), so spinning beats a 40-byte pthread mutex in
 * every future.  Yields after a short spin so that a preempted holder on a
 * 2-core machine gets the CPU back. */
static inline void fut__flock(future_t *f)
{
    if (FUT_LIKELY(!atomic_exchange_explicit(&f->lock, 1, memory_order_acquire)))
        return;
    for (unsigned i = 0;; i++) {
        if (!atomic_load_explicit(&f->lock, memory_order_relaxed) &&
            !atomic_exchange_explicit(&f->lock, 1, memory_order_acquire))
            return;
        if (i < 64)
            fut__pause();
        else
            sched_yield();
    }
}

static inline void fut__funlock(future_t *f)
{
    atomic_store_explicit(&f->lock, 0, memory_order_release);
}

/* Relaxed accessors of the queue link, for the single-threaded run queue
 * of the loop (the pool's MPSC queue uses explicit orders). */
static inline struct future *fut__qnext(const struct future *f)
{
    return atomic_load_explicit(&((struct future *)f)->qnext, memory_order_relaxed);
}
static inline void fut__set_qnext(struct future *f, struct future *n)
{
    atomic_store_explicit(&f->qnext, n, memory_order_relaxed);
}

/* Allocates a future of that kind in state PENDING with one reference. */
FUT_HIDDEN future_t *fut__future_alloc(enum fut__kind kind);
/* Completes f with a terminal state (DONE, FAILED or CANCELLED).  Returns
 * 0, or EINVAL if f was already complete.  `from` is the state the caller
 * expects f to leave (PENDING or RUNNING); -1 accepts either. */
FUT_HIDDEN int fut__complete(future_t *f, int from, enum future_state st,
                             void *value, int err);
/* PENDING -> RUNNING; false if f was completed (e.g. cancelled) first. */
FUT_HIDDEN bool fut__start(future_t *f);

/* Prepares w for the calling thread or coroutine, to fire after
 * `remaining` notifications. */
FUT_HIDDEN void fut__waiter_init(struct fut__waiter *w, size_t remaining);
/* Marks w fired and wakes its owner.  The caller holds the lock that
 * guards the node through which it reached w. */
FUT_HIDDEN void fut__waiter_fire(struct fut__waiter *w);
/* Blocks the thread (running its pool's jobs if it is a pool thread) or
 * suspends the coroutine until w fires or the deadline passes.  Returns 0,
 * ETIMEDOUT or ECANCELED. */
FUT_HIDDEN int fut__waiter_block(struct fut__waiter *w, uint64_t deadline);

/* ---------------------------------------------------------------------
 * The running task: what fut_raise() and EDEADLK detection look at.
 * One per thread, saved and restored around nested runs (a pool thread
 * that waits runs other jobs inside the wait).
 * ------------------------------------------------------------------- */

struct fut__task {
    future_t *fut;       /* the future being computed */
    int raised;          /* set by fut_raise(), 0 otherwise */
    struct fut__task *outer;   /* the task this one runs nested in, on this
                                  thread's stack (a pool thread helping
                                  while it waits); NULL for a coroutine */
};

/* The calling thread's current task (inside a coroutine: the coroutine's). */
FUT_HIDDEN struct fut__task *fut__task_current(void);
FUT_HIDDEN struct fut__task *fut__task_swap(struct fut__task *t);

/* ---------------------------------------------------------------------
 * Tracing (trace.c): FUT_TRACE=file.json
 * ------------------------------------------------------------------- */

/* True once FUT_TRACE was found set; read without a lock on hot paths. */
FUT_HIDDEN extern atomic_bool fut__trace_on;
/* Reads FUT_TRACE once per process (pool and loop creation call it). */
FUT_HIDDEN void fut__trace_setup(void);
/* What to call f in traces and reports: its name, else its function's
 * symbol, else "job@0x..." / "coroutine@0x...". */
FUT_HIDDEN void fut__future_label(const future_t *f, char *out, size_t len);
/* Records a slice of f that ran on this thread from t0 until now. */
FUT_HIDDEN void fut__trace_slice(const future_t *f, uint64_t t0);

static inline bool fut__tracing(void)
{
    return atomic_load_explicit(&fut__trace_on, memory_order_relaxed);
}

/* ---------------------------------------------------------------------
 * Pool hooks used by the waiting path (pool.c)
 * ------------------------------------------------------------------- */

/* The pool whose worker is the calling thread, or NULL. */
FUT_HIDDEN struct fut_pool *fut__pool_self(void);
/* On a thread of p: if f is a job of p that has not started, starts it
 * and runs it here, now, and returns true (its queue entry is skipped
 * later).  A waiting pool thread does this for the jobs it waits on
 * before anything else. */
FUT_HIDDEN bool fut__pool_run_inline(struct fut_pool *p, future_t *f);
/* Waits for w to fire (or the deadline) on a pool worker: runs queued jobs
 * of the pool meanwhile, and sleeps on the worker's parker when there is
 * nothing to run.  Returns 0 when fired, ETIMEDOUT. */
FUT_HIDDEN int fut__pool_help_wait(struct fut_pool *p, struct fut__waiter *w,
                                   uint64_t deadline);

/* ---------------------------------------------------------------------
 * Loop hooks used by the waiting path (loop.c)
 * ------------------------------------------------------------------- */

/* The coroutine running on this thread, or NULL on a plain thread. */
FUT_HIDDEN struct fut__coro *fut__coro_self(void);
/* Suspends the calling coroutine until w fires, the deadline passes, or
 * the coroutine is cancelled.  Returns 0 (fired), ETIMEDOUT, ECANCELED. */
FUT_HIDDEN int fut__coro_wait(struct fut__coro *c, struct fut__waiter *w,
                              uint64_t deadline);
/* Makes the coroutine waiting on w ready (any thread). */
FUT_HIDDEN void fut__coro_wake(struct fut__coro *c);
/* Cancel hook for FUT__CORO futures that have started; see future_cancel. */
FUT_HIDDEN int fut__coro_cancel(future_t *f);
/* ECANCELED if the calling coroutine has been cancelled, else 0. */
FUT_HIDDEN int fut__coro_cancelled(struct fut__coro *c);

/* ---------------------------------------------------------------------
 * Context switching (lib/coro/): saving and restoring an execution
 * context.  Back end chosen at build time: switch_<arch>.S (default on
 * x86-64 and AArch64) or ucontext.c (CORO=ucontext, and other targets).
 * Sanitizer fiber annotations live in lib/coro/ctx.c around the switch.
 * ------------------------------------------------------------------- */

struct fut__ctx;   /* defined in lib/coro/ctx.h, included by loop.c */

/* ---------------------------------------------------------------------
 * Coroutine stacks (lib/stack.c): carved from large slabs, reused through
 * a free list, guard pages where they fit.  See lib/stack.c.
 * ------------------------------------------------------------------- */

struct fut__stacks;   /* defined in lib/stack.h */

#endif /* FUT_INTERNAL_H */
