/* SPDX-License-Identifier: MIT */
/*
 * futures.h - libfutures: futures, a fixed thread pool and a cooperative loop
 *
 * One header, read top to bottom:
 *
 *   1. Conventions      errors, timeouts, ownership
 *   2. Futures          one result that will exist later (also a promise)
 *   3. The thread pool  parallelism: a fixed set of threads running jobs
 *   4. The cooperative loop
 *                       concurrency: one thread, many stackful coroutines that
 *                       step aside only inside the library's waiting calls
 *
 * The same future_t works in both worlds: a coroutine can wait on a pool
 * job's future, and a thread can wait on a coroutine's.
 *
 * Link with `-lfutures -pthread`, or `pkg-config --cflags --libs libfutures`.
 */
#ifndef FUTURES_H
#define FUTURES_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(FUT_STATIC)
#define FUT_API __attribute__((visibility("default")))
#else
#define FUT_API
#endif

/* ======================================================================
 * Version
 * ======================================================================
 *
 * libfutures follows semantic versioning: a new MINOR adds to the API and
 * keeps every existing call working, a new PATCH only fixes; while MAJOR
 * is 0, a MINOR may also change the API (CHANGELOG.md says how).  The
 * shared library's soname is libfutures.so.MAJOR.  These macros are the
 * one place the version is written: the build, libfutures.pc, the CMake
 * package and the library's file names all derive from them.
 */
#define FUTURES_VERSION_MAJOR 0
#define FUTURES_VERSION_MINOR 2
#define FUTURES_VERSION_PATCH 0

/* The version as one number, (MAJOR << 16) | (MINOR << 8) | PATCH, for
 * compile-time comparisons: #if FUTURES_VERSION >= 0x000200 */
#define FUTURES_VERSION                                                   \
    ((FUTURES_VERSION_MAJOR << 16) | (FUTURES_VERSION_MINOR << 8) |       \
     FUTURES_VERSION_PATCH)

/* The FUTURES_VERSION of the library actually linked (which may be newer
 * than the header a program was compiled with, when a shared library was
 * upgraded).  Never fails; does not wait. */
FUT_API unsigned fut_version(void);

/* The linked library's version as "MAJOR.MINOR.PATCH", a static string
 * that is never freed.  Never fails; does not wait. */
FUT_API const char *fut_version_string(void);

/* ======================================================================
 * 1. Conventions
 * ======================================================================
 *
 * Errors.  A function that can fail returns 0 or a positive errno code, and
 * never sets errno.  A function that returns a pointer returns NULL and sets
 * errno.  Arguments are checked before anything changes: a call that fails
 * with EINVAL has done nothing.  The library never prints, aborts or exits
 * because of bad input.  The codes used:
 *
 *   EINVAL     bad argument: NULL object, zero count, negative timeout other
 *              than FUT_FOREVER, second completion of a future
 *   ENOMEM     out of memory; nothing was changed
 *   ETIMEDOUT  the timeout ran out first
 *   ECANCELED  the future was cancelled, or the calling coroutine was
 *   EAGAIN     a bounded queue is full (try-submit)
 *   EBUSY      a pool job is already running and cannot be cancelled
 *   EDEADLK    the call would wait for itself (a job or coroutine waiting
 *              on its own future, a pool shut down from one of its threads)
 *   ESHUTDOWN  the pool is shut down
 *   EPERM      the call needs to run inside a coroutine and does not
 *
 * Whose code is it?  future_get and future_gather return either the
 * waiting call's own code (ETIMEDOUT, ECANCELED, EDEADLK, EINVAL, ENOMEM)
 * or the code a job failed with, and a job may fail with any code,
 * ETIMEDOUT included.  future_state(f) tells them apart: FUTURE_FAILED or
 * FUTURE_CANCELLED means the code is the future's outcome; a future still
 * PENDING or RUNNING means the wait itself gave up.
 *
 * Timeouts.  `long timeout_ms`: FUT_FOREVER waits without limit, 0 only
 * checks, a positive value waits at most that long.  Waits are measured on
 * CLOCK_MONOTONIC, so changing the wall clock moves no deadline.
 *
 * Ownership.  Every function that returns a future_t * hands the caller one
 * reference, dropped with future_release().  Futures passed in arrays are
 * borrowed for the duration of the call.  Values are void *, owned by the
 * user: the library stores and returns them, and never frees them.
 *
 * Threads.  Every function is thread-safe unless its comment says
 * otherwise.  "May wait" marks the calls that can block the calling thread,
 * or, inside a coroutine, suspend the calling coroutine.
 */

/* Wait without a time limit. */
#define FUT_FOREVER (-1L)

/* A job for the pool, a coroutine's body, or a continuation's step.  Its
 * return value becomes the future's value. */
typedef void *(*fut_fn)(void *arg);

/* In a job, coroutine or future_then() step, `return fut_raise(EIO);` ends
 * the running future FUTURE_FAILED with that error code.  Returns NULL.
 * Once called, the value the function returns is ignored.  An err <= 0 is
 * recorded as EINVAL.  Outside a job or coroutine it does nothing. */
FUT_API void *fut_raise(int err);

/* ======================================================================
 * 2. Futures
 * ======================================================================
 *
 * A future is one result that will exist later: a value, an error code, or
 * a cancellation.  It moves through
 *
 *     PENDING --> RUNNING --> DONE | FAILED | CANCELLED
 *        \___________________/^
 *
 * and is completed exactly once: the first completion wins, and any later
 * one returns EINVAL and changes nothing.  RUNNING means a pool job or a
 * coroutine is executing for it; a promise (future_new) is PENDING until
 * completed by hand.  Reading a complete future takes no lock.
 */

typedef struct future future_t;

enum future_state {
    FUTURE_PENDING,   /* not started (a queued job, a promise, a new coroutine) */
    FUTURE_RUNNING,   /* its job or coroutine is executing */
    FUTURE_DONE,      /* complete with a value */
    FUTURE_FAILED,    /* complete with an error code */
    FUTURE_CANCELLED  /* complete by cancellation */
};

/* A promise: a pending future completed by hand with future_resolve(),
 * future_fail() or future_cancel().  Returns a new future (one reference),
 * or NULL with errno ENOMEM. */
FUT_API future_t *future_new(void);

/* Completes f FUTURE_DONE with `value`.  Wakes every waiter, then runs the
 * callbacks in the calling thread.  Returns 0; EINVAL if f is NULL or
 * already complete.  (Meant for promises; on a job's or coroutine's future
 * the first completion wins, and a job completed by hand before it starts
 * never runs.) */
FUT_API int future_resolve(future_t *f, void *value);

/* Completes f FUTURE_FAILED with `err` (> 0).  Returns 0; EINVAL if f is
 * NULL, err <= 0, or f is already complete. */
FUT_API int future_fail(future_t *f, int err);

/* Cancels f.  Returns:
 *   0        f had not started (a promise, a queued job, a coroutine not yet
 *            run): it ends FUTURE_CANCELLED and its job never runs; or f is
 *            a coroutine that has started: it is woken with ECANCELED from
 *            its current waiting call and every later one, runs to its end,
 *            and its future then ends FUTURE_CANCELLED whatever it returns.
 *   EBUSY    f is a pool job already running: it cannot be stopped.
 *   EINVAL   f is NULL or already complete. */
FUT_API int future_cancel(future_t *f);

/* The current state.  Lock-free; a NULL f reads as FUTURE_CANCELLED. */
FUT_API enum future_state future_state(const future_t *f);

/* true when f is DONE, FAILED or CANCELLED.  Lock-free; false for NULL. */
FUT_API bool future_done(const future_t *f);

/* Waits until f is complete.  May wait.  Returns 0 once complete (whatever
 * the outcome), ETIMEDOUT if timeout_ms ran out first, EINVAL for a NULL f
 * or a bad timeout, EDEADLK if f is the calling job's or coroutine's own
 * future, ECANCELED if the calling coroutine is cancelled, ENOMEM if a
 * coroutine's timer could not be armed. */
FUT_API int future_wait(future_t *f, long timeout_ms);

/* Waits for f (no time limit) and returns its outcome: 0 with *value set
 * to its value; the job's error code (FAILED); ECANCELED (CANCELLED); or
 * EINVAL / EDEADLK / ECANCELED as future_wait.  On any error *value is set
 * to NULL.  `value` may be NULL.  May wait. */
FUT_API int future_get(future_t *f, void **value);

/* Waits until all n futures are complete, sleeping on one condition
 * variable (or suspending the coroutine once) however large n is.
 * Returns 0 if all succeeded; ETIMEDOUT if time ran out first (values is
 * then not written); otherwise the code of the lowest-index future that
 * did not succeed (its error, or ECANCELED).  It always waits for all of
 * them: nothing is left running behind the caller's back.  values may be
 * NULL; values[i] is NULL for a future that did not succeed.  n == 0
 * returns 0 at once; a NULL fs with n > 0 or a NULL entry gives EINVAL.
 * ENOMEM if the wait record for a large n cannot be allocated; EDEADLK
 * and ECANCELED as future_wait (values is then not written).  May wait. */
FUT_API int future_gather(future_t *const fs[], size_t n, void *values[],
                          long timeout_ms);

/* Waits until at least one of the n futures is complete.  Returns 0 with
 * *index set to the lowest index among the complete ones; ETIMEDOUT;
 * EINVAL if fs or index is NULL, an entry is NULL, or n == 0; ENOMEM,
 * EDEADLK and ECANCELED as future_gather.  May wait. */
FUT_API int future_wait_any(future_t *const fs[], size_t n, long timeout_ms,
                            size_t *index);

/* Runs cb(f, arg) exactly once when f completes: at once in the calling
 * thread if f is already complete, otherwise in the thread that completes
 * it, after its waiters are woken.  Callbacks of one future run in the
 * order they were registered, with no library lock held, and f stays
 * alive until the last has returned (a callback may release the caller's
 * last reference).  A future completed from inside a callback runs its
 * own callbacks after the current one returns, in order, on the same
 * thread: chains of any length use constant stack.  So a callback must
 * not wait for a future whose completion it caused, nor on f's completer.
 * Returns 0; EINVAL for a NULL f or cb; ENOMEM (cb will never run). */
FUT_API int future_on_done(future_t *f, void (*cb)(future_t *f, void *arg),
                           void *arg);

/* A new future that holds fn(value, arg) once f succeeds (fn runs in the
 * thread that completes f, and may fut_raise()).  If f fails or is
 * cancelled, the new future ends the same way and fn is not called.
 * Returns the new future (one reference), or NULL with errno EINVAL (NULL f
 * or fn) or ENOMEM. */
FUT_API future_t *future_then(future_t *f, void *(*fn)(void *value, void *arg),
                              void *arg);

/* Gives f a name, shown in traces (FUT_TRACE) and in the loop's debug
 * reports; the string is copied.  A future is named once: a second name
 * gives EBUSY.  Name a job or coroutine right after submitting or
 * spawning it, or from inside it with fut_current().  Returns 0, EINVAL
 * (NULL f or name), ENOMEM, EBUSY. */
FUT_API int future_set_name(future_t *f, const char *name);

/* f's name, or NULL if it has none (or f is NULL).  Valid while f is. */
FUT_API const char *future_name(const future_t *f);

/* The future of the job or coroutine running in the calling thread (the
 * innermost one), borrowed: no reference is taken.  NULL outside jobs and
 * coroutines.  As asyncio.current_task(). */
FUT_API future_t *fut_current(void);

/* Takes one more reference to f and returns f (NULL stays NULL). */
FUT_API future_t *future_retain(future_t *f);

/* Drops one reference; the last one frees f.  A pending job or coroutine
 * keeps its own reference, so releasing early is safe.  NULL is fine. */
FUT_API void future_release(future_t *f);

/* ======================================================================
 * 3. The thread pool: parallelism
 * ======================================================================
 *
 * A fixed number of threads, started at creation and joined at shutdown,
 * running submitted jobs in roughly the order they were submitted.
 *
 * A job that waits (future_get, future_wait, future_gather,
 * future_wait_any, a full-queue submit) runs queued jobs of its own pool
 * meanwhile, so waiting inside the pool never deadlocks it, even with every
 * thread busy: a recursive parallel Fibonacci finishes on one thread.
 *
 * fork(): only the forking thread exists in the child; a pool (or a loop
 * with waiters on other threads) inherited across fork() must not be used
 * or freed in the child.  Create new ones there.
 */

typedef struct fut_pool fut_pool_t;

typedef struct {
    size_t threads;     /* 0: one per CPU this process may use: the CPUs
                           of its affinity mask (taskset, cpusets), capped
                           by a cgroup v2 CPU quota (cpu.max, rounded up),
                           as Go's runtime and os.process_cpu_count() */
    size_t queue_max;   /* jobs queued and not started; 0: unbounded,
                           else submit waits for room when full */
    const char *name;   /* thread-name prefix seen in top -H, debuggers and
                           traces ("name-N", 15 bytes at most); NULL: "fut" */
} fut_pool_opts;

enum fut_shutdown {
    FUT_DRAIN,   /* finish every queued job, then stop */
    FUT_CANCEL   /* end queued jobs FUTURE_CANCELLED, then stop */
};

/* Starts a pool.  opts may be NULL for the defaults.  Returns the pool, or
 * NULL with errno ENOMEM or EAGAIN (threads could not be started; none is
 * left running). */
FUT_API fut_pool_t *fut_pool_new(const fut_pool_opts *opts);

/* Queues fn(arg) and returns its future (one reference).  If the queue is
 * full, waits for room (a thread blocks; a coroutine suspends; a job of the
 * same pool runs queued jobs meanwhile).  Returns NULL with errno EINVAL
 * (NULL p or fn), ESHUTDOWN (also for a submit still waiting for room when
 * shutdown begins), ENOMEM, or ECANCELED (the waiting coroutine was
 * cancelled).  May wait, only when the queue is bounded. */
FUT_API future_t *fut_pool_submit(fut_pool_t *p, fut_fn fn, void *arg);

/* As fut_pool_submit, but never waits: NULL with errno EAGAIN when the
 * queue is full. */
FUT_API future_t *fut_pool_try_submit(fut_pool_t *p, fut_fn fn, void *arg);

/* Runs fn(args[i]) for every i < n on the pool, waits for all, and fills
 * results[i] (results may be NULL).  Returns like future_gather with no
 * timeout; ESHUTDOWN or ENOMEM if not every job could be queued (those
 * queued are still waited for); EINVAL for a NULL p, fn or args with
 * n > 0.  n == 0 returns 0.  May wait. */
FUT_API int fut_pool_map(fut_pool_t *p, fut_fn fn, void *const args[],
                         void *results[], size_t n);

/* Stops taking jobs (later submits fail with ESHUTDOWN), then finishes
 * every queued job (FUT_DRAIN) or ends them FUTURE_CANCELLED (FUT_CANCEL);
 * both wait for running jobs and join the threads.  Cancelled jobs'
 * callbacks run in the calling thread, with no lock held.  Calling it
 * again is harmless and returns 0: after the shutdown, at once; while
 * another thread's is in progress, once that one is done; from a callback
 * that this very shutdown is running, at once (the shutdown continues
 * below it).  Returns EINVAL (NULL p or bad how), EDEADLK if called from
 * one of p's own threads, also from a coroutine of a loop running inside
 * one of p's jobs (nothing is done).  May wait. */
FUT_API int fut_pool_shutdown(fut_pool_t *p, enum fut_shutdown how);

/* FUT_DRAIN shutdown if still running, then frees p.  NULL is fine.  Called
 * from one of p's own threads it does nothing (errno EDEADLK); from a
 * callback that p's own shutdown is running (a FUT_CANCEL completing a
 * queued job) it does nothing (errno EBUSY).  May wait. */
FUT_API void fut_pool_free(fut_pool_t *p);

/* The number of threads (0 for NULL). */
FUT_API size_t fut_pool_threads(const fut_pool_t *p);

/* ======================================================================
 * 4. The cooperative loop: concurrency
 * ======================================================================
 *
 * One thread runs many coroutines, and switches between them only where a
 * coroutine waits through the library: future_get, future_wait,
 * future_gather, future_wait_any, fut_sleep, fut_yield, and a
 * fut_pool_submit waiting for room.  Inside a coroutine these suspend only
 * that coroutine; on a plain thread they block the thread.  A plain
 * blocking call (sleep(), CPU work) inside a coroutine holds the whole
 * loop: that is the lesson, not a bug.
 *
 * A coroutine always runs on its loop's thread.  Its stack is its own:
 * locals survive across waits.  The signal mask belongs to the thread, not
 * to the coroutine.
 *
 * Where the loop sleeps.  With nothing to run, the loop waits the way its
 * thread would: a plain thread sleeps; a pool thread (a loop run inside a
 * pool job) keeps running its pool's queued jobs meanwhile, so a coroutine
 * that waits on a job of that pool never deadlocks it.
 *
 * Resources.  A coroutine's stack is taken when the loop first runs it: a
 * coroutine that cannot get one then ends FUTURE_FAILED with ENOMEM (its
 * body never runs).  A coroutine's wait with a timeout arms a timer, and
 * returns ENOMEM if the timer heap cannot grow.
 *
 * Environment:
 *   FUT_DEBUG_SLOW_MS=N  report on stderr every coroutine step that held
 *                        the loop longer than N ms (empty or 0: 100 ms),
 *                        naming the coroutine: the blocking-call mistake
 *                        (as asyncio's debug mode does)
 *   FUT_TRACE=file.json  record which job or coroutine ran when, on which
 *                        thread, and write it at exit in the Chrome
 *                        trace-event format (Perfetto, chrome://tracing,
 *                        tools/trace2svg)
 */

typedef struct fut_loop fut_loop_t;

typedef struct {
    size_t stack_size;  /* per coroutine, bytes; 0: 64 KiB.  Only the pages a
                           coroutine touches cost memory. */
} fut_loop_opts;

/* A new loop, not yet running.  opts may be NULL.  Returns NULL with errno
 * ENOMEM (also for a stack_size no address space can hold, such as
 * SIZE_MAX), or EINVAL for a stack_size below 16 KiB. */
FUT_API fut_loop_t *fut_loop_new(const fut_loop_opts *opts);

/* Queues a new coroutine running fn(arg) on l, from any thread, and
 * returns its future (one reference).  It starts only when l runs it.
 * Returns NULL with errno EINVAL, ENOMEM, or ESHUTDOWN (l is finishing). */
FUT_API future_t *fut_loop_spawn(fut_loop_t *l, fut_fn fn, void *arg);

/* Spawns main(arg) on l and runs the loop in the calling thread until
 * main's future is complete; returns like future_get on it (result may be
 * NULL).  Coroutines still unfinished then are cancelled and run to their
 * end before it returns.  EINVAL (NULL l or main), EBUSY (l is already
 * running), EPERM (called from inside a coroutine).  May wait. */
FUT_API int fut_loop_run(fut_loop_t *l, fut_fn main, void *arg, void **result);

/* Frees a loop that is not running; spawns it never ran end
 * FUTURE_CANCELLED.  NULL is fine.  Called on a running loop (from one of
 * its coroutines, or another thread) it does nothing and sets errno EBUSY:
 * free it after fut_loop_run has returned. */
FUT_API void fut_loop_free(fut_loop_t *l);

/* fut_loop_new + fut_loop_run + fut_loop_free with default options. */
FUT_API int fut_run(fut_fn main, void *arg, void **result);

/* Inside a coroutine: spawns fn(arg) on the same loop; as fut_loop_spawn.
 * Outside one: NULL with errno EPERM. */
FUT_API future_t *fut_spawn(fut_fn fn, void *arg);

/* Waits ms milliseconds (ms >= 0).  In a coroutine it suspends, letting
 * others run; on a plain thread it sleeps.  Returns 0, EINVAL for ms < 0,
 * ECANCELED if the coroutine was cancelled, ENOMEM (see "Resources"). */
FUT_API int fut_sleep(long ms);

/* In a coroutine: lets every other ready coroutine run once, then
 * continues.  Returns 0, or ECANCELED.  On a plain thread: sched_yield(),
 * returns 0. */
FUT_API int fut_yield(void);

/* true when called from inside a coroutine. */
FUT_API bool fut_in_coroutine(void);

#ifdef __cplusplus
}
#endif
#endif /* FUTURES_H */
