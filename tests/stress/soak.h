/* SPDX-License-Identifier: MIT */
/*
 * soak.h - the seeded soak's framework (make stress), shared by its
 * operation files
 *
 * The soak runs STRESS_THREADS worker threads for STRESS_SECONDS.  Each
 * worker draws operations ("ops") from a weighted table with its own PRNG
 * (seeded from SEED and the worker's index), and every op creates its own
 * objects, races them against the shared pools and loops and against
 * helper threads it starts, checks what came out, and releases everything
 * before it returns.  The choices are a function of the seed: each worker's
 * sequence of ops, and each op's parameters, since an op draws from a
 * stream of its own forked from the worker's with one draw.  Inside an op,
 * a choice made after a timing-dependent branch (a queue that was full)
 * may differ between runs; retry loops draw from a stream of their own.
 * The interleavings are not a function of the seed, so a replay re-runs
 * the same mix of operations, not the same schedule.  The run ends by
 * printing a digest of each worker's first 100 choices: two runs with one
 * seed and one thread count print the same.
 *
 * Adding an operation (for a new area such as channels or I/O):
 *
 *   1. write `static void op_NAME(struct soak_worker *w)` in an ops file
 *      (ops_core.c, or a new ops_AREA.c listed in the Makefile's
 *      STRESS_SRC and in soak.c's table of tables);
 *   2. draw every choice from w->rng (soak_below, soak_chance), never
 *      from time or addresses;
 *   3. name each step that may wait with SOAK_STEP(w, "...") so that the
 *      watchdog can say where it hung;
 *   4. give every job, coroutine and callback a record (soak_rec_new) and
 *      settle every future (soak_settle) once it is complete: the record
 *      checks that the body ran at most once, never after a cancel that
 *      returned 0, and that the future's outcome is the one the body chose;
 *   5. count every future you hold with soak_own() / soak_rel() and every
 *      allocation with soak_alloc() / soak_free(): the run ends with a
 *      check that both counts are back to zero (the library's own leaks
 *      are LeakSanitizer's, under SANITIZE=address);
 *   6. add a row { "NAME", weight, op_NAME, "what it does" } to the file's
 *      table.
 *
 * A broken invariant calls soak_fail(), which prints the seed, the worker,
 * its op and step, and the command that replays the run, then aborts.
 */
#ifndef SOAK_H
#define SOAK_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "futures.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SOAK_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(SOAK_TSAN)
#define SOAK_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SOAK_ASAN)
#define SOAK_ASAN 1
#endif

_Static_assert(sizeof(void *) == 8, "the soak packs record handles into pointers");

/* ---------------------------------------------------------------------
 * PRNG: splitmix64, one per worker (and per helper thread, seeded from a
 * draw of its owner's)
 * ------------------------------------------------------------------- */

typedef struct { uint64_t s; } soak_rng;

static inline uint64_t soak_next(soak_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t soak_below(soak_rng *r, uint64_t n)
{
    return soak_next(r) % n;
}

/* Uniform in [lo, hi]. */
static inline long soak_range(soak_rng *r, long lo, long hi)
{
    return lo + (long)soak_below(r, (uint64_t)(hi - lo + 1));
}

/* true with probability pct/100. */
static inline bool soak_chance(soak_rng *r, unsigned pct)
{
    return soak_below(r, 100) < pct;
}

static inline soak_rng soak_fork_rng(soak_rng *r)
{
    soak_rng c = { soak_next(r) };
    return c;
}

/* ---------------------------------------------------------------------
 * Workers, the shared world, features
 * ------------------------------------------------------------------- */

/* What an op may use besides its own objects; created before the workers
 * start and torn down after they stop. */
#define SOAK_POOLS 3
#define SOAK_LOOPS 2

struct soak_world {
    /* pools[0]: 2 threads, unbounded; pools[1]: 1 thread, queue_max 2;
     * pools[2]: 3 threads, queue_max 8 */
    fut_pool_t *pools[SOAK_POOLS];
    fut_loop_t *loops[SOAK_LOOPS];   /* each run by a thread of its own */
};

extern struct soak_world soak_world;

/* Named parts of the mix that STRESS_SKIP can switch off (besides whole
 * ops, by name): for library bugs that are known and being fixed, so the
 * rest can be soaked meanwhile. */
enum soak_feature {
    SF_DEEP_CHAINS,      /* then-chains of 10^4..2*10^5 links on a thread */
    SF_CORO_CHAINS,      /* then-chains of 10^3..10^4 links inside a coroutine */
    SF_CB_RELEASE,       /* a callback drops the last reference, more follow */
    SF_CB_SHUTDOWN,      /* a callback shuts down the pool that runs it */
    SF_LOOP_IN_JOB,      /* a loop inside a 1-thread pool job waits on that pool */
    SF_SHORT_THREADS,    /* threads that wait once and exit at once */
    SF_EINVAL_DONE,      /* a completion call's EINVAL ("already complete")
                            means future_done() is true right after it */
    SF_COUNT
};

extern const char *const soak_feature_names[SF_COUNT];

bool soak_feature_on(enum soak_feature f);

/* One worker: its PRNG and what the watchdog reads. */
struct soak_worker {
    int index;
    soak_rng rng;
    _Atomic(const char *) op;      /* the op running, or NULL */
    _Atomic(const char *) step;    /* what it is doing in that op */
    atomic_ulong progress;         /* bumped by every step */
    atomic_ulong opseq;            /* ops started by this worker */
    unsigned long ops_done;        /* worker only */
    uint64_t digest;               /* of its first choices; worker only */
    struct soak_part *part;        /* its records */
};

/* Marks what the worker does next, for the watchdog. */
#define SOAK_STEP(w, what)                                                   \
    do {                                                                     \
        atomic_store_explicit(&(w)->step, (what), memory_order_relaxed);     \
        atomic_fetch_add_explicit(&(w)->progress, 1, memory_order_relaxed);  \
    } while (0)

/* The worker on whose behalf this thread (a worker, a helper it started,
 * a pool thread or loop thread running its job, coroutine or callback)
 * acts: set by the record code, used by soak_fail to name the op. */
struct soak_worker *soak_self(void);
void soak_set_self(struct soak_worker *w);

/* An op: a name (for STRESS_SKIP and reports), a weight, the function. */
struct soak_op {
    const char *name;
    unsigned weight;
    void (*fn)(struct soak_worker *w);
    const char *what;
};

extern const struct soak_op soak_ops_core[];   /* ops_core.c; ends with {0} */

/* ---------------------------------------------------------------------
 * Failing
 * ------------------------------------------------------------------- */

_Noreturn void soak_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define soak_fail(...) soak_fail_at(__FILE__, __LINE__, __VA_ARGS__)

#define SOAK_CHECK(cond, ...)                                                \
    do {                                                                     \
        if (__builtin_expect(!(cond), 0))                                    \
            soak_fail_at(__FILE__, __LINE__, "check failed: " #cond ": " __VA_ARGS__); \
    } while (0)

/* rc must be one of the listed codes (0 included). */
#define SOAK_RC_IN(rc, what, ...)                                            \
    do {                                                                     \
        int soak_rc_ = (rc);                                                 \
        const int soak_ok_[] = { __VA_ARGS__ };                              \
        bool soak_hit_ = false;                                              \
        for (size_t soak_i_ = 0; soak_i_ < sizeof soak_ok_ / sizeof soak_ok_[0]; soak_i_++) \
            soak_hit_ |= soak_rc_ == soak_ok_[soak_i_];                      \
        if (!soak_hit_)                                                      \
            soak_fail_at(__FILE__, __LINE__, "%s returned %d (%s), expected one of " #__VA_ARGS__, \
                         (what), soak_rc_, strerror(soak_rc_));              \
    } while (0)

/* ---------------------------------------------------------------------
 * Accounting: what the harness holds must all be given back
 * ------------------------------------------------------------------- */

extern atomic_long soak_futures_live;   /* references the harness holds */
extern atomic_long soak_allocs_live;    /* harness allocations not freed */
extern atomic_ulong soak_futures_made;  /* futures the harness obtained */

/* Counts a reference the harness now holds (f may be NULL). */
static inline future_t *soak_own(future_t *f)
{
    if (f) {
        atomic_fetch_add_explicit(&soak_futures_live, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&soak_futures_made, 1, memory_order_relaxed);
    }
    return f;
}

static inline future_t *soak_retain(future_t *f)
{
    atomic_fetch_add_explicit(&soak_futures_live, 1, memory_order_relaxed);
    return future_retain(f);
}

static inline void soak_rel(future_t *f)
{
    if (f) {
        atomic_fetch_sub_explicit(&soak_futures_live, 1, memory_order_relaxed);
        future_release(f);
    }
}

void *soak_alloc(size_t n);     /* zeroed; never NULL (fails the run) */
void soak_free(void *p);

/* ---------------------------------------------------------------------
 * Records: one per job, coroutine or callback the harness starts
 *
 * A record lives in its worker's partition and is named, in the `arg`
 * handed to the library, by its index and a generation number.  Its word
 * moves
 *
 *     FREE --new--> ARMED --enter--> RUNNING --leave--> RAN --settle--> FREE
 *                     \--cancel returned 0 / settle of a cancelled one--> DEAD --> FREE
 *
 * by CAS.  A body that enters a record that is not ARMED in its own
 * generation ran twice, ran after a cancel that returned 0, or ran after
 * its op had finished: each is reported as such.
 * ------------------------------------------------------------------- */

enum soak_rec_state { R_FREE, R_ARMED, R_RUNNING, R_RAN, R_DEAD };

enum soak_kind { K_JOB, K_CORO, K_CB };

/* What a body does.  Jobs: */
enum soak_how {
    H_RETURN,        /* return value */
    H_RAISE,         /* fut_raise(err) */
    H_SPIN,          /* spin spin_us microseconds, then return value */
    H_HOLD,          /* spin until `hold` is cleared, then return value */
    H_NEST,          /* submit 1..3 children to `pool` and gather them */
    H_LOOP,          /* run a loop whose coroutine waits on a job of `pool` */
    /* coroutines: */
    C_RETURN,        /* return value (or raise err if err) */
    C_SLEEP,         /* fut_sleep(spin_us / 1000), then as C_RETURN */
    C_YIELD,         /* fut_yield a few times */
    C_AWAIT_JOBS,    /* submit 1..3 jobs to `pool`, get or gather them */
    C_AWAIT_PROMISE, /* future_get(target), resolved by the op's thread */
    C_SPAWN,         /* fut_spawn a child coroutine and get it */
    C_CHAIN,         /* build a then-chain of `count` links and resolve it here */
    C_TIMED,         /* timed waits on a job until it completes */
    C_WAIT_ANY,      /* wait_any over jobs until all are complete */
    /* callbacks: */
    CB_COUNT,        /* check the future is complete */
    CB_RELEASE,      /* drop one reference of the future (maybe the last) */
    CB_SUBMIT,       /* submit a job to `pool`; the op settles it */
    CB_CANCEL,       /* future_cancel(target) */
    CB_RESOLVE,      /* future_resolve(target, value) */
    CB_SHUTDOWN      /* fut_pool_shutdown(pool, err ? FUT_CANCEL : FUT_DRAIN) */
};

#define SOAK_KIDS 8

struct soak_rec {
    _Atomic uint64_t word;          /* gen << 8 | state */
    uint32_t index;
    struct soak_worker *owner;      /* const */
    /* Set by the op before the record is handed out; read-only after. */
    enum soak_kind kind;
    enum soak_how how;
    uintptr_t value;                /* what the body returns */
    int err;                        /* what it raises (0: it returns) */
    unsigned spin_us;
    long count;                     /* chain length, children, ... */
    fut_pool_t *pool;               /* the pool it submits to */
    future_t *target;               /* a future the body acts on: a coroutine's
                                       (owned by the record, released when it
                                       is settled); a callback's (borrowed:
                                       the op holds it) */
    bool may_cancel;                /* CANCELLED is a right outcome */
    /* Set while it runs. */
    atomic_int hold;                /* H_HOLD spins while non-zero */
    atomic_bool cancel_won;         /* future_cancel returned 0 on it */
    int cb_rc;                      /* what a callback's call returned */
    int cb_seen_state;              /* the state a callback saw */
    uintptr_t cb_seen_value;        /* the value it saw (CB_RELEASE) */
    future_t *out;                  /* a future the body made (CB_SUBMIT) */
    struct soak_rec *out_rec;
    /* Sub-futures a coroutine started, settled by the op (a cancelled
     * coroutine cannot wait for them). */
    int nkids;                      /* written by the body only */
    future_t *kids[SOAK_KIDS];
    struct soak_rec *kid_recs[SOAK_KIDS];
};

/* A fresh ARMED record of kind/how from w's partition, or NULL when the
 * partition is exhausted (the op then does less).  Any thread. */
struct soak_rec *soak_rec_new(struct soak_worker *w, enum soak_kind kind, enum soak_how how);

/* The `arg` that names r in its current generation. */
void *soak_rec_arg(const struct soak_rec *r);

/* A body's first act: ARMED -> RUNNING, or a report. */
struct soak_rec *soak_rec_enter(void *arg, const char *who);

/* A body's last act before returning: RUNNING -> RAN. */
void soak_rec_leave(struct soak_rec *r);

/* future_cancel returned 0 on r's job: it must never run.  ARMED -> DEAD
 * for a job (a report if it has started); noted for a coroutine. */
void soak_rec_cancelled(struct soak_rec *r);

/* Checks a complete future against its record, releases the record (and
 * settles its kids), and drops the harness's reference to f.  f must be
 * complete; only on a plain thread (not in a coroutine). */
void soak_settle(struct soak_rec *r, future_t *f);

/* Waits (spinning, watched) until callback record r has run. */
void soak_cb_wait(struct soak_worker *w, struct soak_rec *r);

/* soak_cb_wait, then checks what the callback did and frees r. */
void soak_settle_cb(struct soak_worker *w, struct soak_rec *r);

/* Frees a record that was never handed to the library. */
void soak_rec_drop(struct soak_rec *r);

/* The value a record's body should return, drawn once. */
static inline uintptr_t soak_value(soak_rng *r)
{
    return (uintptr_t)(soak_next(r) & 0x0000fffffffffff0u) | 0x8;
}

/* An error code for a body to raise: never one the library's waiting
 * calls return themselves (EINVAL, ENOMEM, ETIMEDOUT, ECANCELED, EAGAIN,
 * EBUSY, EDEADLK, ESHUTDOWN, EPERM), so an outcome says who produced it. */
static inline int soak_err(soak_rng *r)
{
    static const int errs[] = { EIO, ENOENT, EEXIST, ERANGE, EILSEQ, EPIPE, ENOSPC, EACCES,
                                E2BIG, EDOM, ENOTDIR, EROFS, EXDEV, ESPIPE, 200, 4095 };
    return errs[soak_below(r, sizeof errs / sizeof errs[0])];
}

/* A record whose body ran (state RAN) and whose outcome the op checked
 * itself (fut_pool_map hands out no futures): checks RAN and frees it. */
void soak_rec_finish(struct soak_rec *r);

/* ---------------------------------------------------------------------
 * Then-chains: `len` links of future_then on `root`; link i gets
 * base + i and returns base + i + 1, except link raise_at, which raises
 * EILSEQ.  The chain holds no reference to root.
 * ------------------------------------------------------------------- */

struct soak_chain {
    atomic_long ran;            /* links whose step ran */
    long len;
    long raise_at;              /* -1: none */
    uintptr_t base;             /* the value root resolves with, if it does */
    struct soak_worker *owner;
    future_t *last;             /* owned */
};

/* Builds the chain (raising at a random link with probability 30 %). */
struct soak_chain *soak_chain_new(struct soak_worker *w, soak_rng *rng, future_t *root,
                                  uintptr_t base, long len);

/* Once root is complete with outcome root_rc (0, its error, ECANCELED):
 * the chain's last future must be complete (waits for it on a thread),
 * with as many steps run as the outcome implies.  Frees the chain. */
void soak_chain_check(struct soak_chain *c, int root_rc);

/* ---------------------------------------------------------------------
 * Bodies (in soak.c): what the library runs
 * ------------------------------------------------------------------- */

void *soak_job(void *arg);              /* kind K_JOB */
void *soak_coro(void *arg);             /* kind K_CORO */
void soak_cb(future_t *f, void *arg);   /* kind K_CB */

/* Draws a job record: how in {RETURN, RAISE, SPIN} (and HOLD if
 * allow_hold), value, err, spin. */
struct soak_rec *soak_job_rec(struct soak_worker *w, soak_rng *rng, fut_pool_t *pool,
                              bool allow_hold);

/* Draws a coroutine record with a script. */
struct soak_rec *soak_coro_rec(struct soak_worker *w, soak_rng *rng, bool may_cancel);

/* Submits r's job to p (submit or try_submit as `try_`): the future
 * (owned), or NULL with errno, having dropped r. */
future_t *soak_submit(fut_pool_t *p, struct soak_rec *r, bool try_);

/* A coroutine record that awaits a promise needs it made and resolved by
 * the op: soak_coro_prepare makes it, soak_coro_release resolves it. */
void soak_coro_prepare(struct soak_rec *r);
void soak_coro_release(struct soak_rec *r, soak_rng *rng);

/* Waits on a complete-or-not future from a plain thread until it is
 * complete (future_wait FOREVER), naming the step. */
void soak_wait_done(struct soak_worker *w, future_t *f, const char *step);

/* Micro-sleep and spin helpers. */
void soak_spin_us(unsigned us);
void soak_nap_us(unsigned us);
uint64_t soak_now_ns(void);

/* Time limits in milliseconds for waits that must end (a hang is
 * reported with the step, not left to the watchdog). */
long soak_patience_ms(void);

#endif /* SOAK_H */
