/* SPDX-License-Identifier: MIT */
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
 * Layering.  The core knows neither the pool nor the loop:
 *
 *     thread.c   time, the parker, the per-thread state, the plain
 *                thread's scheduler
 *     waiter.c   the waiter: one record per waiting call, how it is
 *                notified, fired, blocked on and left
 *     future.c   futures: state machine, memory, completion, callbacks,
 *                continuations
 *     wait.c     the waiting calls: wait, get, gather, wait_any,
 *                wait_for, wait_next; cancellation that flows into what a
 *                cancelled coroutine awaits
 *     group.c    task groups: members of any executor, first failure
 *                cancels the rest (public calls and the waiter only)
 *     chan.c     channels (struct fut_chan is private to it)
 *     io.c       waiting on descriptors, child processes and signals:
 *                through the scheduler's fd_wait (a coroutine), else
 *                poll(2) on the calling thread
 *     ioset.c    an epoll set with its eventfd (the loop's, ioset.h)
 *     pool.c     the thread pool (an executor and a scheduler)
 *     loop.c     the cooperative loop (an executor and a scheduler)
 *
 * pool.c and loop.c call the core, never each other; the core reaches them
 * only through the operation tables struct fut__sched_ops and struct
 * fut__exec_ops below.
 *
 * Invariants that hold everywhere:
 *   - No user code (a job, a coroutine body, a callback, a continuation)
 *     runs while any library lock is held.
 *   - No spinning lock (future->lock) is held across a call that can block
 *     or take another lock.
 *   - A waiter's memory outlives every completer that can still reach it
 *     (see "Waiters" below).
 *
 * Lock order, the one list (a thread holding a lock on the left may take
 * one on its right, never the reverse):
 *
 *     pool->shut_mu -> pool->cmu -> pool->mu -> parker->mu
 *     loop->mu -> parker->mu
 *     future->lock: a leaf, taken alone
 *     chan->mu: a leaf, taken alone (waiters notified after it is released)
 *
 * A pool's and a loop's locks are never held together.
 */
#ifndef FUT_INTERNAL_H
#define FUT_INTERNAL_H

#include "futures.h"
#include "list.h"

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
 * Time (CLOCK_MONOTONIC, nanoseconds) -- thread.c
 * ------------------------------------------------------------------- */

#define FUT_NO_DEADLINE UINT64_MAX

FUT_HIDDEN uint64_t fut__now_ns(void);
/* The deadline for timeout_ms from now; FUT_FOREVER gives FUT_NO_DEADLINE.
 * Clamps instead of wrapping. */
FUT_HIDDEN uint64_t fut__deadline(long timeout_ms);
FUT_HIDDEN struct timespec fut__timespec(uint64_t ns);
/* The number of CPUs this process may use: the affinity mask, capped by a
 * cgroup v2 CPU quota (cpu.max of the process's cgroup and its ancestors,
 * rounded up); at least 1. */
FUT_HIDDEN size_t fut__cpu_count(void);

/* Spins until cond(arg) is true or about `ns` nanoseconds have passed,
 * giving the CPU away (sched_yield) between looks.  Returns cond's last
 * value.  The one spin of the library: waiters, idle pool workers and
 * lock-free hand-offs use it before they sleep.
 *
 * Why yield rather than pause: a spinner that shares its CPU with the
 * thread it waits for (the submitter of the next job, the worker running
 * the awaited one: three threads on two cores in W1, a caller and a
 * spinning worker on one vCPU in W6) holds that CPU until the scheduler's
 * tick with a pause loop; sched_yield hands it over at once, and returns
 * at once when nothing else is runnable (a look every ~0.2-0.4 us).
 * Measured on the 16-core machine against a pause loop (doc/performance.md):
 * W1 at 2 cores 288 -> 251 ns per task, W6 at 16 cores 2.0 -> 1.0 us median
 * and 13.7 -> 4.3 us p99. */
static inline bool fut__spin(bool (*cond)(void *), void *arg, uint64_t ns)
{
    if (cond(arg))
        return true;
    uint64_t end = fut__now_ns() + ns;
    for (;;) {
        sched_yield();
        if (cond(arg))
            return true;
        if (fut__now_ns() >= end)
            return cond(arg);
    }
}

/* ---------------------------------------------------------------------
 * Parker -- thread.c
 *
 * A thread's own mutex + condition variable (CLOCK_MONOTONIC).  Every
 * blocking wait of a thread in the library sleeps on its parker, so a wait
 * never initialises or allocates a synchronisation object.
 *
 * Parkers are type-stable: created on a thread's first wait, never freed.
 * At thread exit a parker goes on a process-wide free list and the next
 * new thread reuses it.  So a waker that reached a parker through a waiter
 * that has since returned (and whose thread may have exited) still touches
 * a live mutex: at worst it delivers one spurious wake-up to the parker's
 * next owner, who rechecks its own condition.  That is what makes "a
 * thread that waits once and exits at once" safe (PITFALLS: a waiter's
 * memory must outlive its waker).
 * ------------------------------------------------------------------- */

struct fut__parker {
    pthread_mutex_t mu;
    pthread_cond_t cv;                 /* CLOCK_MONOTONIC */
    int signalled;                     /* guarded by mu; a hint: sleepers
                                          recheck their condition */
    struct fut__parker *free_next;     /* on the free list; guarded by its lock */
};

/* The calling thread's parker, or NULL if none could be created (ENOMEM). */
FUT_HIDDEN struct fut__parker *fut__parker_self(void);
/* Sets signalled and wakes the parker's thread.  Any thread; pk need not
 * belong to a live waiter (see above). */
FUT_HIDDEN void fut__unpark(struct fut__parker *pk);
/* Sleeps on pk until it is signalled, *stop is set (may be NULL) or the
 * deadline passes; clears the signal.  Returns 0 or ETIMEDOUT. */
FUT_HIDDEN int fut__park(struct fut__parker *pk, atomic_int *stop, uint64_t deadline);

/* ---------------------------------------------------------------------
 * Schedulers: how the calling context waits -- thread.c, pool.c, loop.c
 *
 * The core (futures, waiting, channels, I/O) never names the pool or the
 * loop.  It asks the calling thread's current scheduler, a small table of
 * operations that whoever runs code on the thread installs:
 *
 *   plain thread   (sched == NULL): spin briefly, then sleep on the parker
 *   pool worker    spin, then run the pool's queued jobs while waiting,
 *                  sleeping on the pool's idle list when there are none
 *   loop           while a coroutine runs: suspend that coroutine and let
 *                  the loop run others
 *
 * `outer` chains schedulers nested on one thread: a loop run inside a pool
 * job has the worker's scheduler as outer, and sleeps through it when it
 * has nothing to run, so it keeps helping its pool.
 * ------------------------------------------------------------------- */

struct fut__waiter;
struct fut__sched;

struct fut__sched_ops {
    /* The wake target a waiter of the calling context records (its parker,
     * its coroutine). */
    void *(*who)(struct fut__sched *s);
    /* Blocks the caller until w has fired, the deadline passes, or (a
     * coroutine) it is cancelled.  Returns 0, ETIMEDOUT, ECANCELED, or
     * ENOMEM (a coroutine's timer could not be armed). */
    int (*block)(struct fut__sched *s, struct fut__waiter *w, uint64_t deadline);
    /* Fires w: publishes w->fired (release) and wakes its owner.  Called
     * once, by the firer, from any thread.  After the store of fired it may
     * touch only memory that outlives the owner's observation of fired
     * (see "Waiters"). */
    void (*wake)(struct fut__waiter *w);
    /* Returns once a wake-up of w that was committed is complete (the
     * waiter is about to return and its memory to go). */
    void (*settle)(struct fut__waiter *w);
    /* ECANCELED if the caller has a cancellation to deliver (pending or
     * delivered before, and not shielded: see loop.c), else 0.  A
     * context that returns ECANCELED from here or from block has
     * delivered its cancellation. */
    int (*cancelled)(struct fut__sched *s);
    /* As cancelled, and sets *first to true when no waiting call has
     * delivered this cancellation before (future_get and future_gather
     * then cancel what they were given: "cancellation flows").  May be
     * NULL: a context that is never cancelled. */
    int (*deliver)(struct fut__sched *s, bool *first);
    /* Turns the caller's cancellation shield on or off and returns the
     * previous setting: while on, cancelled/deliver return 0 and block is
     * not interrupted by a cancellation (fut_cancel_shield; the core's own
     * waits that must not be cut short, e.g. a cancelled gather waiting
     * for what it cancelled).  May be NULL: nothing to shield. */
    bool (*shield)(struct fut__sched *s, bool on);
    /* Before waiting for fs: an executor may run awaited work here (a pool
     * worker runs its pool's awaited jobs that have not started; a plain
     * thread, those of pools made with caller_runs).  Returns true if it
     * may have completed some of fs (the caller looks again).  May be
     * NULL. */
    bool (*before_wait)(struct fut__sched *s, future_t *const fs[], size_t n);
    /* Waits in the calling context until fd is ready for `events`
     * (EPOLLIN, EPOLLOUT) or the deadline: 0 with *revents (poll(2)'s
     * bits), ETIMEDOUT, ECANCELED, EBADF, EINVAL, ENOMEM.  `drained`: the
     * caller has just seen EAGAIN on fd.  NULL: the context cannot wait on
     * descriptors itself and io.c blocks the thread in poll(2). */
    int (*fd_wait)(struct fut__sched *s, int fd, uint32_t events, bool drained,
                   uint64_t deadline, uint32_t *revents);
    /* The short-read hint (io.c, ioset.h): whether a read of fd should wait
     * for readiness first, and what the last read said.  NULL with fd_wait. */
    bool (*fd_drained)(struct fut__sched *s, int fd);
    void (*fd_read_was_short)(struct fut__sched *s, int fd, bool is_short);
};

struct fut__sched {
    const struct fut__sched_ops *ops;  /* const */
    struct fut__sched *outer;          /* the scheduler this one runs inside,
                                          on the same thread; NULL */
};

/* The plain thread's scheduler (sched == NULL means this one). */
FUT_HIDDEN extern struct fut__sched fut__plain_sched;
/* Its operations that a pool worker shares: the waiter's target is the
 * thread's parker, woken by unparking it. */
FUT_HIDDEN void *fut__parker_who(struct fut__sched *s);
FUT_HIDDEN void fut__parker_wake(struct fut__waiter *w);
FUT_HIDDEN void fut__parker_settle(struct fut__waiter *w);

/* ---------------------------------------------------------------------
 * The running task: what fut_raise() and EDEADLK detection look at.
 * ------------------------------------------------------------------- */

struct fut__task {
    future_t *fut;       /* the future being computed */
    int raised;          /* set by fut_raise(), 0 otherwise */
    struct fut__task *outer;   /* the task this one runs nested in, on this
                                  thread's stack (a pool thread helping
                                  while it waits); NULL for a coroutine */
};

/* ---------------------------------------------------------------------
 * Per-thread state -- thread.c
 *
 * The library's one thread-local: everything a thread carries, in one
 * struct, initial-exec TLS.  Fields are touched by their own thread only.
 * Resources with a cleanup (the parker, the future chunk) register one
 * pthread key destructor on first use (fut__thread_attach).
 * ------------------------------------------------------------------- */

struct fut__chunk;
struct fut__cb;

/* The callback trampoline of one thread of control (a thread, or a
 * coroutine suspended inside a callback): callbacks of futures completed
 * while `depth` > 0 are queued and run by the outermost completion. */
struct fut__cbstate {
    unsigned depth;                    /* callback drains running now */
    struct fut__cb *head, *tail;       /* deferred callbacks, FIFO */
};

struct fut__thread {
    struct fut__sched *sched;          /* how this thread waits now; NULL:
                                          a plain thread */
    struct fut__task *task;            /* the innermost running task */
    struct fut__parker *parker;        /* NULL until the first wait */
    struct fut__chunk *chunk;          /* future.c: current allocation chunk */
    unsigned chunk_next;               /* next unused slot in chunk */
    struct fut__cbstate cbs;           /* future.c: the callback trampoline
                                          (a coroutine that suspends inside
                                          a callback takes it along) */
    int trace_tid;                     /* trace.c: index + 1; 0: none yet */
    unsigned alt_refs;                 /* stack.c: nesting of the signal stack */
    void *alt_mine;                    /* stack.c: the one we installed */
    size_t alt_len;
    void *asan_leaving;                /* coro/ctx.c: context being left */
    bool attached;                     /* exit destructor registered */
};

FUT_HIDDEN extern FUT_TLS struct fut__thread fut__thr;

/* The calling thread's state.  The empty asm hides where the pointer came
 * from: UBSan's null check on it otherwise reuses the flags of the
 * initial-exec `add` that the linker may relax into a flag-less `lea`,
 * and reports a null pointer that is not there. */
static inline struct fut__thread *fut__self(void)
{
    struct fut__thread *t = &fut__thr;
    __asm__("" : "+r"(t));
    return t;
}

static inline struct fut__sched *fut__sched_self(void)
{
    struct fut__sched *s = fut__thr.sched;
    return s ? s : &fut__plain_sched;
}

/* Registers the thread-exit cleanup; 0 or ENOMEM. */
FUT_HIDDEN int fut__thread_attach(void);
/* future.c's part of the thread-exit cleanup. */
FUT_HIDDEN void fut__chunk_thread_exit(struct fut__thread *t);

static inline struct fut__task *fut__task_current(void) { return fut__thr.task; }

static inline struct fut__task *fut__task_swap(struct fut__task *t)
{
    struct fut__task *old = fut__thr.task;
    fut__thr.task = t;
    return old;
}

/* ---------------------------------------------------------------------
 * Waiters -- waiter.c
 *
 * Every wait and wake of the library goes through one record: a waiting
 * call builds a fut__waiter on its own stack and links one fut__wnode into
 * each object it waits on (a future's list, a pool's room list, a loop's
 * sleeper slot, a channel's queues), under that object's lock.  A completer
 * detaches nodes under the object's lock, releases the lock, then notifies
 * each node's waiter; the notification that brings the count to `need`
 * fires the waiter: it publishes `fired` and wakes the owner through the
 * owner's scheduler.
 *
 * Lifetime protocol (why a waiter may return and its stack die safely):
 * `word` holds two counts.  Its low 32 bits are references: one per node
 * that a completer may still notify, plus the waiter's own guard.  Its high
 * 32 bits count notifications.  A completer notifies with ONE atomic add
 * (notifications + 1, references - 1); that add is its last access to the
 * waiter unless it fired it.  The firer's remaining accesses are the
 * store of `fired` and the scheduler's wake, which touches only memory that
 * outlives the waiter's observation of `fired` (a type-stable parker; for a
 * coroutine, loop state under the loop's lock, see loop.c).
 * The waiter leaves (fut__waiter_leave) by unlinking the nodes still
 * linked, dropping their references and its guard, waiting until the
 * references reach zero (completers between their detach and their add:
 * a few instructions), and then, if the notifications reached `need`,
 * settling the committed wake-up.  After that nothing can reach it.
 * ------------------------------------------------------------------- */

#define FUT__W_REF   ((uint64_t)1)
#define FUT__W_NOTE  ((uint64_t)1 << 32)
#define FUT__W_MAX   0x7fffffffu       /* most nodes one waiter may have */

struct fut__waiter {
    _Atomic uint64_t word;             /* refs (low 32) | notes (high 32) */
    uint32_t need;                     /* notes that fire it; const */
    atomic_int fired;                  /* 0 -> 1 once; release by the
                                          firer, acquire by the owner */
    struct fut__sched *sched;          /* the owner's scheduler; const */
    void *who;                         /* wake target of sched (parker or
                                          coroutine); const */
};

struct fut__wnode {
    struct fut__dnode link;            /* in the waited object's list;
                                          guarded by that object's lock */
    struct fut__waiter *w;             /* NULL: a future callback (fut__cb) */
};

/* Prepares w, owned by the calling context, with `nodes` references for
 * the nodes the caller may link and firing after `need` notifications. */
FUT_HIDDEN void fut__waiter_init(struct fut__waiter *w, uint32_t nodes, uint32_t need);
/* One notification of w by a completer that detached one of its nodes
 * (no lock need be held). */
FUT_HIDDEN void fut__waiter_notify(struct fut__waiter *w);
/* The waiter itself counts k nodes that it will not link because their
 * objects were complete already; fires w in place if that reaches need. */
FUT_HIDDEN void fut__waiter_skip(struct fut__waiter *w, uint32_t k);
/* Blocks the calling context until w fires, the deadline passes or (a
 * coroutine) cancellation.  0, ETIMEDOUT, ECANCELED, ENOMEM. */
FUT_HIDDEN int fut__waiter_block(struct fut__waiter *w, uint64_t deadline);
/* Ends the wait: `unlinked` is how many nodes the caller took back itself
 * (nodes never linked count too).  Returns once no completer can reach w. */
FUT_HIDDEN void fut__waiter_leave(struct fut__waiter *w, uint32_t unlinked);

static inline bool fut__waiter_fired(struct fut__waiter *w)
{
    return atomic_load_explicit(&w->fired, memory_order_acquire) != 0;
}

/* ---------------------------------------------------------------------
 * Futures -- future.c
 *
 * state: atomic.  Moves PENDING -> RUNNING -> terminal or PENDING ->
 * terminal, only by CAS, only forward; a terminal state never changes.
 * value/err are written before the release store of a terminal state and
 * read after an acquire load of it, so a complete future is read without
 * a lock.
 * ------------------------------------------------------------------- */

/* What runs a future: a pool or a loop (NULL for a promise).  Executors
 * embed one and point their futures at it; the core calls them only
 * through these operations. */
struct fut__exec_ops {
    const char *what;                  /* "job", "coroutine": for labels */
    char trace_kind;                   /* 'j', 'c' */
    /* future_cancel on a RUNNING future of this executor: 0 (it will end
     * CANCELLED), EBUSY (cannot be stopped) or EINVAL (it is completing). */
    int (*cancel_running)(future_t *f);
    /* A plain thread is about to wait for f, which has not started: the
     * executor may run it on that thread, now (a pool made with
     * caller_runs).  Returns true if it did.  May be NULL. */
    bool (*run_waited)(future_t *f);
};

/* Set once a pool with caller_runs exists: plain threads' waits then look
 * for jobs to run themselves (thread.c; one relaxed load otherwise). */
FUT_HIDDEN extern atomic_bool fut__caller_runs_used;

struct fut__exec {
    const struct fut__exec_ops *ops;   /* const */
};

struct fut__cb {                       /* a future_on_done registration */
    struct fut__wnode node;            /* node.w == NULL marks a callback */
    void (*fn)(future_t *f, void *arg);
    void *arg;
    future_t *f;                       /* set when queued to run; while
                                          queued, node.link.next links the
                                          thread's deferred queue */
    bool borrowed;                     /* owned by the registrar (a task
                                          group's member record): not freed
                                          after it runs, and it takes no
                                          reference on f (the registrar
                                          keeps f alive until it has run);
                                          const */
};

struct future {
    atomic_int state;              /* enum future_state, see above */
    atomic_uint refs;              /* references; the last release frees */
    atomic_uchar lock;             /* fut__flock: guards `waiters` */
    atomic_bool has_waiters;       /* waiters may be non-empty: lets
                                      completion skip the lock */
    atomic_uchar xflag;            /* the executor's flag (pool: taken out
                                      of the count of queued jobs) */
    int err;                       /* FAILED/CANCELLED code; see state */
    void *value;                   /* DONE value; see state */
    uint64_t seq;                  /* completion order: stamped from one
                                      global counter between claim and
                                      publish, read after an acquire of a
                                      terminal state; 0 while not complete */
    struct fut__dlist waiters;     /* fut__wnode and fut__cb, in
                                      registration order; guarded by lock;
                                      emptied at completion */
    const struct fut__exec *exec;  /* NULL: a promise; const */
    fut_fn fn;                     /* job / coroutine body; const */
    void *arg;
    _Atomic(struct future *) qnext;    /* queue link: the pool's MPSC queue,
                                          a fut__fifo */
    void *xdata;                   /* the executor's (loop: the coroutine,
                                      once started; guarded as loop.c says) */
    _Atomic(char *) name;          /* for traces; set once (NULL -> copy),
                                      freed with the future */
    struct fut__chunk *chunk;      /* the block it was carved from (NULL:
                                      its own malloc); const */
};

/* The future's lock: a byte, held for a few pointer moves only (linking or
 * unlinking a node, detaching the list), never across a wake-up or any
 * call that can block, so spinning beats a 40-byte pthread mutex in every
 * future.  Yields after a short spin so that a preempted holder on a
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

/* ---- FIFO of futures through qnext (single-threaded users) ---------- */

static inline struct future *fut__qnext(const struct future *f)
{
    return atomic_load_explicit(&((struct future *)f)->qnext, memory_order_relaxed);
}
static inline void fut__set_qnext(struct future *f, struct future *n)
{
    atomic_store_explicit(&f->qnext, n, memory_order_relaxed);
}
static inline void fut__fifo_push(struct fut__fifo *q, struct future *f)
{
    fut__set_qnext(f, NULL);
    if (q->tail)
        fut__set_qnext(q->tail, f);
    else
        q->head = f;
    q->tail = f;
}
static inline struct future *fut__fifo_pop(struct fut__fifo *q)
{
    struct future *f = q->head;
    if (f) {
        q->head = fut__qnext(f);
        if (!q->head)
            q->tail = NULL;
        fut__set_qnext(f, NULL);
    }
    return f;
}
/* Moves all of src to the end of dst. */
static inline void fut__fifo_splice(struct fut__fifo *dst, struct fut__fifo *src)
{
    if (!src->head)
        return;
    if (dst->tail)
        fut__set_qnext(dst->tail, src->head);
    else
        dst->head = src->head;
    dst->tail = src->tail;
    src->head = src->tail = NULL;
}

static inline bool fut__is_terminal(int s)
{
    return s == FUTURE_DONE || s == FUTURE_FAILED || s == FUTURE_CANCELLED;
}

/* Allocates a future run by exec (NULL: a promise) in state PENDING with
 * one reference. */
FUT_HIDDEN future_t *fut__future_alloc(const struct fut__exec *exec);
/* Completes f with a terminal state (DONE, FAILED or CANCELLED): wakes its
 * waiters, then runs its callbacks with no lock held (deferred to the
 * outermost completion on this thread when called from inside a callback,
 * so chains of any length run iteratively).  Returns 0, or EINVAL if f was
 * already complete.  `from` is the state the caller expects f to leave
 * (PENDING or RUNNING); -1 accepts either. */
FUT_HIDDEN int fut__complete(future_t *f, int from, enum future_state st,
                             void *value, int err);
/* PENDING -> RUNNING; false if f was completed (e.g. cancelled) first. */
FUT_HIDDEN bool fut__start(future_t *f);
/* Runs fn(arg) as the task computing f on this thread (fut_raise and
 * EDEADLK see it), then completes f from RUNNING with the outcome. */
FUT_HIDDEN void fut__run_task(future_t *f);
/* Registers cb (caller-owned: cb->borrowed is set, and cb must stay
 * valid, and f alive, until it has run) to run as future_on_done would,
 * without an allocation.  Returns false, registering nothing, if f is already
 * complete: the caller then runs its callback itself. */
FUT_HIDDEN bool fut__on_done_node(future_t *f, struct fut__cb *cb);

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
