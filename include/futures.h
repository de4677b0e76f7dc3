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
 *   5. Cancellation that flows, and task groups
 *                       structured concurrency: what a cancelled coroutine
 *                       awaits is cancelled too; timeouts that cancel;
 *                       results in completion order; groups that fail and
 *                       cancel together
 *   6. Channels         values passed between coroutines and threads
 *   7. Waiting on the outside world
 *                       descriptors (sockets, pipes), child processes and
 *                       signals: a coroutine waits, its loop keeps serving
 *
 * The same future_t works in both worlds: a coroutine can wait on a pool
 * job's future, and a thread can wait on a coroutine's.
 *
 * Link with `-lfutures -pthread`, or `pkg-config --cflags --libs libfutures`.
 */
#ifndef FUTURES_H
#define FUTURES_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

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
 *   EPIPE      the channel is closed
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
 * to NULL.  `value` may be NULL.  The call that delivers a coroutine's
 * cancellation also cancels f (section 5).  May wait. */
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
 * and ECANCELED as future_wait (values is then not written).  The call
 * that delivers a coroutine's cancellation also cancels the futures not
 * complete and returns once all have ended (section 5).  May wait. */
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
    bool caller_runs;   /* false (the default): only the pool's threads run
                           its jobs.  true: a plain thread (not a pool's,
                           not in a coroutine) that waits (future_get,
                           future_wait, future_gather, fut_pool_map) for
                           jobs of this pool that have not started runs them
                           itself first, as oneTBB's task_group::wait does:
                           the waiting thread works instead of sleeping, so
                           a pool of T threads may run T + 1 jobs at once (a
                           1-thread pool is no longer one cook).  A
                           coroutine never does (it would hold its loop). */
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
 * future_gather, future_wait_any, fut_sleep, fut_yield, a
 * fut_pool_submit waiting for room, and a channel's send and receive.
 * Inside a coroutine these suspend only
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

/* A new loop, not yet running.  opts may be NULL.  A loop holds two
 * descriptors (its epoll instance and an eventfd, close-on-exec) until
 * fut_loop_free.  Returns NULL with errno ENOMEM (also for a stack_size no
 * address space can hold, such as SIZE_MAX), EMFILE or ENFILE (no
 * descriptor left), or EINVAL for a stack_size below 16 KiB. */
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

/* ======================================================================
 * 5. Cancellation that flows, and task groups (structured concurrency)
 * ======================================================================
 *
 * asyncio's rules, so that a Python reader's intuition holds; doc/
 * cancellation.md explains the model and maps every asyncio and Trio
 * construct to its form here.
 *
 * Delivery.  A coroutine's cancellation (future_cancel on its future, its
 * loop finishing, a group cancelling its members) is delivered at the
 * waiting call it is suspended in, or, if it is not waiting when
 * cancelled, at its next waiting call: that call returns ECANCELED.
 *
 * Cancellation flows into what a coroutine awaits.  If the call that
 * delivers the cancellation is future_get(f), future_wait_for(f, ...) or
 * future_gather(fs, ...), the library also cancels f (each of fs not yet
 * complete), as `await f` and `await asyncio.gather(...)` do: a queued pool
 * job then never runs, a promise ends FUTURE_CANCELLED, a child coroutine
 * is woken with ECANCELED; a pool job already running cannot be stopped
 * (EBUSY) and runs to its end.  future_get and future_wait_for return
 * ECANCELED at once; future_gather returns ECANCELED (values not written)
 * only after every future it was given has completed, those it could not
 * stop included, whatever its timeout: nothing is left running behind the
 * caller's back.  future_wait, future_wait_any, future_wait_next and
 * fut_sleep never cancel what they wait on (as asyncio.wait).
 *
 * Cancellation stays delivered: every later waiting call of a cancelled
 * coroutine returns ECANCELED at once, without cancelling what it was
 * given, except inside a shielded section (fut_cancel_shield).  Its future
 * ends FUTURE_CANCELLED whatever it returns.
 *
 * Deliberate differences from Python:
 *   - asyncio raises CancelledError once, and a task that catches it may
 *     go on awaiting; here the cancellation stays delivered at every later
 *     wait (as a Trio cancel scope), and cleanup that must wait turns the
 *     shield on (fut_cancel_shield), as Trio's shielded scope.
 *   - `return fut_raise(ECANCELED);` in a job or coroutine that was not
 *     cancelled ends its future FUTURE_FAILED with ECANCELED, not
 *     FUTURE_CANCELLED: only future_cancel cancels.  future_get returns
 *     ECANCELED for both; future_state tells them apart.
 *   - asyncio.gather returns at the first error and leaves the other
 *     children running; future_gather waits for all of them (nothing is
 *     left running behind the caller) and returns the lowest-index
 *     failure, cancelling nothing.  A task group is the tool for "the
 *     first failure cancels the rest".
 *   - A task group's first failure cancels the other members, not the
 *     coroutine that waits on the group (asyncio.TaskGroup also cancels
 *     the parent task); fut_group_wait then returns that failure's code
 *     instead of an ExceptionGroup of all of them.
 */

/* A new future that completes as f does (same value, error or
 * cancellation); cancelling it, or a coroutine awaiting it, does not
 * cancel f (asyncio.shield): the shield is a promise of its own and ends
 * FUTURE_CANCELLED alone.  Share one future among many waiters this way.
 * Returns the new future (one reference), or NULL with errno EINVAL (NULL
 * f) or ENOMEM.  Does not wait. */
FUT_API future_t *future_shield(future_t *f);

/* In a coroutine: turns its cancellation shield on or off.  While on, its
 * waiting calls are not interrupted by its cancellation (cleanup that must
 * wait: flush, close, tell a peer); a cancellation that arrives meanwhile
 * is delivered at the first waiting call after the shield is turned off
 * (and flows, if that call is a get or gather).  Off when a coroutine
 * starts; not inherited by what it spawns.  future_cancel on a shielded
 * coroutine still returns 0, and its future still ends FUTURE_CANCELLED.
 * Returns the previous setting.  Outside a coroutine it does nothing and
 * returns false.  Does not wait. */
FUT_API bool fut_cancel_shield(bool on);

/* As asyncio.wait_for: like future_get, but waits at most timeout_ms.  If
 * the time runs out first, cancels f, waits for it to end (a running pool
 * job runs to its end; a coroutine runs to its end), and returns ETIMEDOUT
 * with *value = NULL whatever f's outcome.  A timeout of 0 cancels f at
 * once unless it is complete.  Returns 0 with *value; f's error code or
 * ECANCELED (f failed or was cancelled); ETIMEDOUT; EINVAL (NULL f, bad
 * timeout); EDEADLK (f is the caller's own future); ECANCELED (the calling
 * coroutine was cancelled: cancels f the first time, as future_get);
 * ENOMEM (a coroutine's timer could not be armed; nothing was cancelled).
 * value may be NULL.  May wait. */
FUT_API int future_wait_for(future_t *f, long timeout_ms, void **value);

/* As asyncio.as_completed, one result per call: waits until one of the
 * futures not yet marked in done[] is complete, picks, among those
 * complete, the one that completed first (completion order, not index
 * order: the library numbers every completion), sets *index and
 * done[*index] = true.  Call it n times with done[] zeroed first to take
 * all n in the order they completed.  Returns 0; ETIMEDOUT (none
 * completed in time; nothing is marked); ECANCELED (the calling coroutine
 * was cancelled: nothing is cancelled); EDEADLK (an unmarked one is the
 * caller's own future); ENOMEM (the wait record for a large n); EINVAL
 * (NULL fs, done or index, a NULL entry, n == 0, every future already
 * marked, bad timeout).  May wait. */
FUT_API int future_wait_next(future_t *const fs[], size_t n, bool done[],
                             long timeout_ms, size_t *index);

/* A task group: asyncio.TaskGroup, a Trio nursery.  Members are
 * coroutines spawned on the calling coroutine's loop, jobs of any pool,
 * and adopted futures of any kind.
 *
 *   - The first member to fail or be cancelled cancels all the others (a
 *     running pool job still runs to its end).  Members added once the
 *     group is being cancelled (fut_group_cancel, a failure, a deadline,
 *     the waiter's cancellation) are cancelled at once.
 *   - Members keep their own references: the futures fut_group_spawn and
 *     fut_group_submit return are the caller's to release, as usual; the
 *     group holds one more on each member until fut_group_free.
 *   - Members may be added from any thread, from inside members too, until
 *     fut_group_wait has returned a final result (any result but the
 *     ETIMEDOUT of a timeout of 0); after that adding gives EINVAL.
 *   - Groups nest: a member may open its own group, and cancelling the
 *     outer group reaches the inner group's members through the coroutine
 *     that waits on them (its fut_group_wait is interrupted and cancels
 *     them).
 *   - Thread-safe, except that fut_group_free must not run concurrently
 *     with, or before, any other call on the same group: using a group
 *     after (or while) it is freed is the caller's bug, not detected.
 */
typedef struct fut_group fut_group_t;

/* A new empty group.  NULL with errno ENOMEM.  Does not wait. */
FUT_API fut_group_t *fut_group_new(void);

/* Spawns fn(arg) as a coroutine on the calling coroutine's loop, as a
 * member of g, and returns its future (one reference, the caller's).
 * Returns NULL with errno EINVAL (NULL g or fn, or g's wait has returned
 * its final result), EPERM (not called from a coroutine), ENOMEM, or
 * fut_spawn's errors (ESHUTDOWN: the loop is finishing).  Does not wait. */
FUT_API future_t *fut_group_spawn(fut_group_t *g, fut_fn fn, void *arg);

/* Submits fn(arg) as a job of pool p, as a member of g, and returns its
 * future (one reference, the caller's).  Returns NULL with errno EINVAL
 * (NULL g, p or fn, or g's wait has returned its final result), ENOMEM, or
 * fut_pool_submit's errors (ESHUTDOWN, ECANCELED).  May wait as
 * fut_pool_submit does (a bounded pool's full queue). */
FUT_API future_t *fut_group_submit(fut_group_t *g, fut_pool_t *p, fut_fn fn,
                                   void *arg);

/* Adopts f (a promise, a spawn, a job, another group's member...) as a
 * member of g; the group takes its own reference.  A complete f counts at
 * once (a failed one cancels the other members).  Returns 0, EINVAL (NULL
 * g or f, or g's wait has returned its final result), ENOMEM.  Does not
 * wait. */
FUT_API int fut_group_add(fut_group_t *g, future_t *f);

/* Cancels every member not complete (a running pool job runs to its end),
 * and every member added later, at once.  The group's wait then returns
 * ECANCELED unless a member failed first.  Returns 0, EINVAL (NULL g).
 * Does not wait. */
FUT_API int fut_group_cancel(fut_group_t *g);

/* Waits until every member of g is complete.  Returns:
 *   0          every member succeeded (also for a group with no member);
 *   the code of the first member to fail, in completion order (ECANCELED
 *              if the first was cancelled): it cancelled all the others,
 *              and they have all ended;
 *   ETIMEDOUT  timeout_ms ran out before every member ended and before any
 *              failed: the members were cancelled and waited for (a
 *              deadline for the whole group, as asyncio.timeout);
 *              a timeout of 0 only checks: ETIMEDOUT while members are
 *              running, and nothing is cancelled (that ETIMEDOUT is not
 *              final);
 *   ECANCELED  the waiting coroutine was cancelled (now, or before the
 *              call, whatever the timeout): the members were cancelled and
 *              waited for;
 *   EDEADLK    called from inside one of g's members (the group could
 *              never end first);
 *   EINVAL     NULL g, bad timeout;
 *   ENOMEM     a coroutine's timer could not be armed (nothing changed).
 * Once it has returned a final result (any of the first four but the
 * ETIMEDOUT of a timeout of 0), later calls return the same result at once
 * and adding gives EINVAL.  The waits after cancelling are not cut short
 * by the waiter's own cancellation.  May wait. */
FUT_API int fut_group_wait(fut_group_t *g, long timeout_ms);

/* Cancels the members not complete, waits for all of them to end, drops
 * the group's references and frees g.  NULL is fine.  Called from inside
 * one of g's members it does not free g (errno EDEADLK): it would wait for
 * itself.  May wait. */
FUT_API void fut_group_free(fut_group_t *g);

/* ======================================================================
 * 6. Channels: values between coroutines and threads
 * ======================================================================
 *
 * A channel carries void * values from senders to receivers, first in,
 * first out, as Go's channels and asyncio.Queue do.  Any number of senders
 * and receivers, in any mix of coroutines (a waiting call suspends only the
 * coroutine) and threads (a waiting call blocks the thread; a pool job runs
 * queued jobs of its pool meanwhile, so a pool never deadlocks on its own
 * channel traffic).
 *
 *   - Bounded: fut_chan_new(n) with n > 0 buffers up to n values; a send
 *     waits only while the buffer is full.
 *   - Unbuffered: fut_chan_new(0); a send completes only when a receiver
 *     takes the value (a rendezvous, as Go).
 *
 * Order.  Values are received in the order their sends completed (for one
 * sender: the order it sent them), each by exactly one receiver.  Waiting
 * senders are served in the order they began to wait, and so are waiting
 * receivers; a sender that arrives later never overtakes one that waits.
 *
 * Closing.  After fut_chan_close, sends fail with EPIPE; receives get the
 * values still buffered, then EPIPE.  Every waiting call wakes at once:
 * waiting receivers with EPIPE (nothing is buffered while they wait),
 * waiting senders with EPIPE (their values were not sent).
 *
 * Exactly once under cancellation and timeouts.  A waiting send or receive
 * that gives up (ETIMEDOUT, ECANCELED) had no effect: the value was not
 * sent, nothing was taken.  If a partner completed the exchange just before
 * the call could give up, the exchange stands and the call returns 0 (a
 * coroutine's cancellation is then delivered at its next waiting call).
 * No value is ever lost or received twice.
 *
 * Values are owned by the user: the library never frees them, also not
 * the ones still buffered when the channel is freed.
 *
 * Return codes of send and receive: 0, ETIMEDOUT (a timeout of 0 that would
 * wait included), ECANCELED (the calling coroutine was cancelled, now or
 * earlier: nothing was sent or taken), EPIPE (closed), EINVAL (NULL
 * channel, a negative timeout other than FUT_FOREVER), ENOMEM (a coroutine's
 * timer could not be armed: nothing was sent or taken).
 */

typedef struct fut_chan fut_chan_t;

/* A new, open channel buffering up to `capacity` values; 0 makes it
 * unbuffered.  The buffer is allocated at once (capacity pointers).
 * Returns the channel, owned by the caller until fut_chan_free, or NULL
 * with errno ENOMEM (also for a capacity too large to allocate) or EAGAIN
 * (the system lacks the resources for its mutex). */
FUT_API fut_chan_t *fut_chan_new(size_t capacity);

/* Sends value (any pointer, NULL included): hands it to the first waiting
 * receiver, else buffers it if there is room, else waits (at most
 * timeout_ms; FUT_FOREVER: no limit; 0: only tries) until a receiver takes
 * it (unbuffered) or room frees up (bounded).  Returns 0 once the value is
 * in the channel or taken.  Otherwise nothing was sent, and it returns
 * ETIMEDOUT (the time ran out, or 0 and it would wait), ECANCELED (the
 * calling coroutine is cancelled), EPIPE (c is closed), EINVAL (NULL c, a
 * negative timeout other than FUT_FOREVER) or ENOMEM (a coroutine's timer
 * could not be armed).  May wait. */
FUT_API int fut_chan_send(fut_chan_t *c, void *value, long timeout_ms);

/* Receives the oldest value: from the buffer (then the first waiting
 * sender's value moves into the freed slot), else from the first waiting
 * sender, else waits (at most timeout_ms) for a sender.  Returns 0 with
 * *value set.  Otherwise nothing was taken, *value is set to NULL, and it
 * returns EPIPE (c is closed and empty), ETIMEDOUT, ECANCELED, EINVAL or
 * ENOMEM as fut_chan_send.  `value` may be NULL: the value received is
 * dropped.  May wait. */
FUT_API int fut_chan_recv(fut_chan_t *c, void **value, long timeout_ms);

/* As fut_chan_send, but never waits: 0 when the value could be handed to
 * a waiting receiver (on an unbuffered channel too) or buffered at once;
 * EAGAIN when it would have to wait (nothing sent); EPIPE; EINVAL (NULL
 * c).  Not a waiting call: a cancelled coroutine may still use it. */
FUT_API int fut_chan_try_send(fut_chan_t *c, void *value);

/* As fut_chan_recv, but never waits: 0 with *value set when a value was
 * buffered or a sender was waiting (on an unbuffered channel too); EAGAIN
 * when it would have to wait; EPIPE (closed and empty); EINVAL (NULL c).
 * *value is NULL on error; `value` may be NULL. */
FUT_API int fut_chan_try_recv(fut_chan_t *c, void **value);

/* Closes c: see "Closing" above.  Returns 0; EINVAL if c is NULL or was
 * closed already.  Does not wait. */
FUT_API int fut_chan_close(fut_chan_t *c);

/* The number of values buffered now (always 0 on an unbuffered channel;
 * the values of waiting senders are not counted).  A snapshot: other
 * threads may change it at once.  0 for NULL. */
FUT_API size_t fut_chan_len(const fut_chan_t *c);

/* Closes c if it is open (every waiting call wakes with EPIPE) and frees
 * it; a waiting call still on its way out keeps the memory alive until it
 * has left, so freeing a channel that calls wait on is safe.  A call that
 * begins after fut_chan_free, or races it without having begun to wait,
 * uses freed memory: as with any object, stop using c before freeing it.
 * Buffered values are dropped (not freed).  Does not wait.  NULL is fine. */
FUT_API void fut_chan_free(fut_chan_t *c);

/* ======================================================================
 * 7. Waiting on the outside world: descriptors, child processes, signals
 * ======================================================================
 *
 * Where they wait.  In a coroutine these calls suspend only that coroutine
 * until the descriptor is ready; its loop waits for all its coroutines'
 * descriptors with one epoll_wait per turn, which is also where the loop
 * sleeps when it has nothing to run (a wake-up from another thread reaches
 * that call through an eventfd).  On a plain thread, and in a pool job,
 * they block the calling thread in poll(2) (a pool thread does not run
 * other jobs meanwhile).  "May wait" applies to every call below.
 *
 * Common rules.
 *   - Returns: 0 or an errno code; the system call's own codes pass through
 *     (read(2), write(2), accept(2), connect(2), waitpid(2)).  EINVAL: a
 *     NULL where a pointer is required, a timeout below FUT_FOREVER.  A
 *     negative descriptor is EBADF.
 *   - Timeouts: FUT_FOREVER, or milliseconds; 0 only checks (one attempt,
 *     or one poll(2) with a zero timeout): ETIMEDOUT when it would wait.
 *   - Cancellation: a coroutine cancelled while it waits in one of these
 *     calls is woken with ECANCELED, and the call has done nothing more to
 *     the descriptor than it had before it waited (fut_write: *written
 *     says what went out before).  A coroutine already cancelled gets
 *     ECANCELED at once, before the descriptor is touched.
 *   - Many coroutines and threads may wait on one descriptor at once, for
 *     the same or different events: each one whose event comes is woken.
 *   - Ownership: descriptors passed in stay the caller's.  The library
 *     never closes them and never changes their flags (O_NONBLOCK belongs
 *     to the open file, which other processes may share).
 *   - Thread-safety: every call is thread-safe.
 *
 * A blocking descriptor passed in never blocks the loop: sockets are read
 * and written with MSG_DONTWAIT; any other blocking descriptor is read
 * only once poll readiness says a read will not block, and written in
 * pieces of PIPE_BUF bytes after POLLOUT.  The one exception: another
 * reader (writer) of the same pipe emptying (filling) it between the
 * readiness and the call; give such descriptors O_NONBLOCK.
 *
 * A descriptor closed while a coroutine or thread waits on it.  Close a
 * descriptor after its waiters have returned (cancel them first): that is
 * the clean way.  If it is closed under a waiter anyway, the kernel drops
 * the loop's registration (poll(2) keeps watching the old file), so the
 * library checks each wait that has lasted a second, then at doubling
 * intervals up to 8 s: a wait whose descriptor was closed (or closed and
 * its number given to another file) returns EBADF, and the loop forgets
 * the registration.  If the file stays open through another descriptor (a
 * dup, a forked child), the kernel keeps the registration until that last
 * copy closes; it is one-shot, so it reports at most one more event, which
 * the loop recognises and drops: no stale wake-up, no busy loop.
 *
 * SIGPIPE.  Writing to a socket or pipe whose reader has gone returns EPIPE
 * and never raises SIGPIPE in the process: sockets are written with
 * MSG_NOSIGNAL; other descriptors with SIGPIPE blocked in the calling
 * thread for the write, the SIGPIPE it raised consumed.  The process's
 * signal dispositions are never changed.
 */

/* Waits until fd is ready for events (POLLIN and/or POLLOUT from <poll.h>;
 * any other bit, or neither, is EINVAL).  Returns 0 with *revents (may be
 * NULL) set as poll(2) would: the requested events that are ready, plus
 * POLLERR and POLLHUP; ETIMEDOUT; ECANCELED; EBADF (fd is not open, or was
 * closed while waiting); EINVAL.  A regular file is always ready. */
FUT_API int fut_io_wait(int fd, short events, long timeout_ms, short *revents);

/* Waits until at least one byte can be read from fd, then reads up to len
 * bytes into buf (one read).  Returns 0 with *got set (*got == 0: end of
 * file; also for len == 0, which does not wait); read(2)'s error codes
 * (ECONNRESET, EBADF, EISDIR...); ETIMEDOUT; ECANCELED (nothing was read);
 * EINVAL (got NULL, buf NULL with len > 0).  *got is 0 on any error. */
FUT_API int fut_read(int fd, void *buf, size_t len, size_t *got, long timeout_ms);

/* Writes all len bytes of buf to fd, waiting whenever it is full.  Returns
 * 0 once all are written; otherwise write(2)'s error code (EPIPE: the
 * reader has gone, with no SIGPIPE; ECONNRESET; EBADF...), ETIMEDOUT (a
 * peer that stopped reading) or ECANCELED, with *written (may be NULL)
 * saying how many bytes went out before it stopped. */
FUT_API int fut_write(int fd, const void *buf, size_t len, size_t *written, long timeout_ms);

/* Waits for a connection on listen_fd and accepts it: 0 with *fd the new
 * connection, non-blocking and close-on-exec, owned by the caller (*fd is
 * -1 on any error).  accept(2)'s codes: EMFILE/ENFILE (no descriptor left:
 * the connection stays queued; the caller decides when to try again),
 * EINVAL (not listening)...; connections that died in the queue are
 * skipped; ETIMEDOUT; ECANCELED.  A blocking listen_fd is accepted from
 * only after poll readiness (see "A blocking descriptor" above). */
FUT_API int fut_accept(int listen_fd, int *fd, long timeout_ms);

/* Connects the non-blocking socket fd to addr and waits until the
 * connection is made: 0, or its error code (ECONNREFUSED, ENETUNREACH,
 * EISCONN...).  EINVAL if fd is blocking (connect(2) would block the
 * caller) or addr is NULL.  On ETIMEDOUT or ECANCELED the attempt goes on
 * in the kernel: close fd, or call fut_connect again to wait for it. */
FUT_API int fut_connect(int fd, const struct sockaddr *addr, socklen_t len, long timeout_ms);

/* Waits for the child pid to exit and reaps it: 0 with *status (may be
 * NULL) as waitpid(2) sets it; ECHILD (pid is not an unreaped child of the
 * caller); ETIMEDOUT or ECANCELED (the child is left unreaped); EINVAL (pid
 * <= 0).  Waits on a pidfd (pidfd_open, Linux 5.3), a descriptor of its own
 * for the call; where there is none (an older kernel, a seccomp filter, no
 * descriptor left) it asks waitpid(WNOHANG) at intervals doubling from 1 ms
 * to 50 ms.  SIGCHLD set to SIG_IGN reaps children itself: then ECHILD. */
FUT_API int fut_waitpid(pid_t pid, int *status, long timeout_ms);

/* Waits for one of the signals in set and takes it: 0 with *signo (may be
 * NULL).  The caller must have blocked those signals in every thread
 * (pthread_sigmask before starting threads), or they are delivered as
 * usual and never seen here.  Uses a signalfd of its own for the call.
 * ETIMEDOUT; ECANCELED (no signal taken); EINVAL (set NULL or empty). */
FUT_API int fut_signal_wait(const sigset_t *set, int *signo, long timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* FUTURES_H */
