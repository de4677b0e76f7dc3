/* SPDX-License-Identifier: MIT */
/*
 * soak.c - the seeded soak (make stress): driver, records, bodies, watchdog
 *
 *   make stress [SEED=n] [STRESS_SECONDS=s] [STRESS_THREADS=n] [STRESS_SKIP=a,b]
 *   build/stress/soak [--seed=n] [--seconds=s] [--threads=n] [--skip=a,b]
 *                     [--stall=s] [--list]
 *
 * See soak.h for the model (workers, ops, records) and how to add an op.
 * This file holds what every op shares:
 *
 *   - the records, which check that every body runs at most once, never
 *     after a cancel that returned 0, and that every future's outcome is
 *     the one its body chose (soak_settle);
 *   - the bodies the library runs (soak_job, soak_coro, soak_cb);
 *   - the shared world: three pools of different shapes and two loops,
 *     each run by a thread of its own;
 *   - the watchdog: a thread that, when a worker has made no progress for
 *     --stall seconds, prints the seed, the worker's op and step, every
 *     worker's state and the replay command, then aborts;
 *   - the accounting: at the end every future reference and allocation the
 *     harness made must have been given back, and every record freed.
 *
 * Exit status: 0 when the run was clean; a broken invariant aborts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "soak.h"

#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Configuration and state
 * ------------------------------------------------------------------- */

#ifndef SOAK_SANITIZE
#if defined(SOAK_TSAN)
#define SOAK_SANITIZE "thread"
#elif defined(SOAK_ASAN)
#define SOAK_SANITIZE "address"
#else
#define SOAK_SANITIZE ""
#endif
#endif

static struct {
    uint64_t seed;
    double seconds;
    int threads;
    double stall_s;
    char skip[512];            /* as given, for the replay line */
    bool skip_feature[SF_COUNT];
} cfg;

const char *const soak_feature_names[SF_COUNT] = {
    [SF_DEEP_CHAINS] = "deep_chains",
    [SF_CORO_CHAINS] = "coro_chains",
    [SF_CB_RELEASE] = "cb_release",
    [SF_CB_SHUTDOWN] = "cb_shutdown",
    [SF_LOOP_IN_JOB] = "loop_in_job",
    [SF_SHORT_THREADS] = "short_threads",
    [SF_EINVAL_DONE] = "einval_done",
};

static const char *const feature_what[SF_COUNT] = {
    [SF_DEEP_CHAINS] = "then-chains of 10^4..2*10^5 links resolved on a thread",
    [SF_CORO_CHAINS] = "then-chains of 10^3..10^4 links resolved inside a coroutine",
    [SF_CB_RELEASE] = "a callback drops the last reference of its future, more callbacks follow",
    [SF_CB_SHUTDOWN] = "a callback shuts down the pool whose job or shutdown runs it",
    [SF_LOOP_IN_JOB] = "a loop run inside a 1-thread pool job waits on a job of that pool",
    [SF_SHORT_THREADS] = "threads that wait once on a future completed elsewhere and exit",
    [SF_EINVAL_DONE] = ("check that future_cancel's EINVAL means future_done() is already "
                        "true (skipped: wait for it)"),
};

bool soak_feature_on(enum soak_feature f)
{
    return !cfg.skip_feature[f];
}

struct soak_world soak_world;

atomic_long soak_futures_live;
atomic_long soak_allocs_live;
atomic_ulong soak_futures_made;

static atomic_bool stop_flag;
static struct soak_worker *workers;
static struct soak_worker teardown_w;    /* the main thread, after the run */

/* The op tables of every ops file. */
static const struct soak_op *const op_tables[] = { soak_ops_core };

static const struct soak_op **ops;       /* enabled ops */
static size_t nops;
static unsigned total_weight;
static atomic_ulong *op_counts;          /* per enabled op */

static _Thread_local struct soak_worker *self_w;

struct soak_worker *soak_self(void) { return self_w; }
void soak_set_self(struct soak_worker *w) { self_w = w; }

/* ---------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------- */

uint64_t soak_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void soak_spin_us(unsigned us)
{
    uint64_t end = soak_now_ns() + (uint64_t)us * 1000u;
    while (soak_now_ns() < end) {
    }
}

void soak_nap_us(unsigned us)
{
    struct timespec ts = { us / 1000000u, (long)(us % 1000000u) * 1000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long soak_patience_ms(void)
{
    /* Half the stall limit: a bounded wait that runs out is reported with
     * its own message before the watchdog would fire. */
    return (long)(cfg.stall_s * 500.0);
}

/* ---------------------------------------------------------------------
 * Failing
 * ------------------------------------------------------------------- */

static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;

static char replay[768];        /* "soak: seed N; replay: make stress ...\n" */
static atomic_bool reported;    /* soak_fail or the watchdog printed it */

static void make_replay(void)
{
    int n = snprintf(replay, sizeof replay,
                     "soak: seed %" PRIu64 "; replay: make stress SEED=%" PRIu64
                     " STRESS_SECONDS=%g STRESS_THREADS=%d",
                     cfg.seed, cfg.seed, cfg.seconds, cfg.threads);
    if (cfg.skip[0] && n > 0 && (size_t)n < sizeof replay)
        n += snprintf(replay + n, sizeof replay - (size_t)n, " STRESS_SKIP=%s", cfg.skip);
    if (SOAK_SANITIZE[0] && n > 0 && (size_t)n < sizeof replay)
        n += snprintf(replay + n, sizeof replay - (size_t)n, " SANITIZE=%s", SOAK_SANITIZE);
    if (n > 0 && (size_t)n < sizeof replay - 1)
        snprintf(replay + n, sizeof replay - (size_t)n, "\n");
}

static void print_replay(FILE *out)
{
    atomic_store(&reported, true);
    fputs(replay, out);
}

/* A crash the soak did not report itself (glibc's heap checks abort, a
 * sanitizer's report, a fault): the replay line, then the default action.
 * SIGSEGV is left alone: the library reports coroutine stack overflows
 * from its own handler, installed only while SIGSEGV is at SIG_DFL. */
/* write(2) all of s, as a signal handler may. */
static void say(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t k = write(2, s, n);
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

static void on_fatal(int sig)
{
    if (!atomic_load(&reported)) {
        say("\nsoak: died by a signal; ");
        say(replay);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

#if defined(SOAK_TSAN) || defined(SOAK_ASAN)
#include <sanitizer/common_interface_defs.h>

/* A sanitizer's report ends the run (TSan: at the first report); print
 * the replay line after it. */
static void on_sanitizer_death(void)
{
    if (!atomic_load(&reported)) {
        say("\nsoak: stopped by a sanitizer report; ");
        say(replay);
    }
}
#endif

#if defined(SOAK_TSAN)
/* TSAN_OPTIONS still overrides these. */
const char *__tsan_default_options(void) __attribute__((visibility("default")));
const char *__tsan_default_options(void)
{
    return "halt_on_error=1:second_deadlock_stack=1";
}
#endif

static void catch_fatal(void)
{
#if defined(SOAK_TSAN) || defined(SOAK_ASAN)
    __sanitizer_set_death_callback(on_sanitizer_death);
#endif
    static const int sigs[] = { SIGABRT, SIGBUS, SIGILL, SIGFPE };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

static void print_worker(FILE *out, const struct soak_worker *w)
{
    const char *op = atomic_load(&((struct soak_worker *)w)->op);
    const char *step = atomic_load(&((struct soak_worker *)w)->step);
    if (w == &teardown_w)
        fprintf(out, "  main thread (teardown): step '%s'\n", step ? step : "-");
    else
        fprintf(out, "  worker %d: op '%s' (op #%lu of this worker), step '%s'\n", w->index,
                op ? op : "-", atomic_load(&((struct soak_worker *)w)->opseq),
                step ? step : "-");
}

_Noreturn void soak_fail_at(const char *file, int line, const char *fmt, ...)
{
    pthread_mutex_lock(&fail_mu);   /* never unlocked: one report */
    fflush(stdout);
    fprintf(stderr, "\nsoak: FAILED at %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    struct soak_worker *w = self_w;
    if (w)
        print_worker(stderr, w);
    else
        fprintf(stderr, "  (in a thread acting for no worker)\n");
    print_replay(stderr);
    fflush(stderr);
    abort();
}

/* ---------------------------------------------------------------------
 * Accounting
 * ------------------------------------------------------------------- */

void *soak_alloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p)
        soak_fail("out of memory (%zu bytes)", n);
    atomic_fetch_add_explicit(&soak_allocs_live, 1, memory_order_relaxed);
    return p;
}

void soak_free(void *p)
{
    if (p) {
        atomic_fetch_sub_explicit(&soak_allocs_live, 1, memory_order_relaxed);
        free(p);
    }
}

/* ---------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------- */

#define PART_RECS 2048u
#define GEN_BITS 40
#define GEN_MASK ((UINT64_C(1) << GEN_BITS) - 1)

struct soak_part {
    pthread_mutex_t mu;
    uint32_t nfree;             /* guarded by mu */
    uint32_t free[PART_RECS];   /* indices; guarded by mu */
};

static struct soak_rec *recs;   /* threads * PART_RECS */
static size_t nrecs;

static const char *const state_names[] = { "FREE", "ARMED", "RUNNING", "RAN", "DEAD" };
static const char *const fstate_names[] = { "PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED" };

static inline uint64_t word_gen(uint64_t w) { return w >> 8; }
static inline unsigned word_state(uint64_t w) { return (unsigned)(w & 0xff); }
static inline uint64_t mkword(uint64_t gen, unsigned st) { return gen << 8 | st; }

static const char *kind_name(enum soak_kind k)
{
    return k == K_JOB ? "job" : k == K_CORO ? "coroutine" : "callback";
}

struct soak_rec *soak_rec_new(struct soak_worker *w, enum soak_kind kind, enum soak_how how)
{
    struct soak_part *pt = w->part;
    pthread_mutex_lock(&pt->mu);
    if (pt->nfree == 0) {
        pthread_mutex_unlock(&pt->mu);
        return NULL;
    }
    uint32_t idx = pt->free[--pt->nfree];
    pthread_mutex_unlock(&pt->mu);
    struct soak_rec *r = &recs[idx];
    uint64_t old = atomic_load(&r->word);
    if (word_state(old) != R_FREE)
        soak_fail("record %u handed out in state %s", idx, state_names[word_state(old)]);
    /* Everything but the word and the constant fields. */
    r->kind = kind;
    r->how = how;
    r->value = 0;
    r->err = 0;
    r->spin_us = 0;
    r->count = 0;
    r->pool = NULL;
    r->target = NULL;
    r->may_cancel = false;
    atomic_store(&r->hold, 0);
    atomic_store(&r->cancel_won, false);
    r->cb_rc = -1;
    r->cb_seen_state = -1;
    r->cb_seen_value = 0;
    r->out = NULL;
    r->out_rec = NULL;
    r->nkids = 0;
    atomic_store(&r->word, mkword((word_gen(old) + 1) & GEN_MASK, R_ARMED));
    return r;
}

void *soak_rec_arg(const struct soak_rec *r)
{
    uint64_t w = atomic_load(&((struct soak_rec *)r)->word);
    return (void *)(uintptr_t)((uint64_t)r->index << GEN_BITS | (word_gen(w) & GEN_MASK));
}

static void rec_free(struct soak_rec *r)
{
    uint64_t w = atomic_load(&r->word);
    atomic_store(&r->word, mkword(word_gen(w), R_FREE));
    struct soak_part *pt = r->owner->part;
    pthread_mutex_lock(&pt->mu);
    pt->free[pt->nfree++] = r->index;
    pthread_mutex_unlock(&pt->mu);
}

void soak_rec_drop(struct soak_rec *r)
{
    if (r->nkids)
        soak_fail("dropping a record with kids");
    rec_free(r);
}

void soak_rec_finish(struct soak_rec *r)
{
    uint64_t w = atomic_load(&r->word);
    if (word_state(w) != R_RAN)
        soak_fail("a %s whose result was handed out is in state %s", kind_name(r->kind),
                  state_names[word_state(w)]);
    rec_free(r);
}

struct soak_rec *soak_rec_enter(void *arg, const char *who)
{
    uint64_t a = (uint64_t)(uintptr_t)arg;
    uint64_t idx = a >> GEN_BITS, gen = a & GEN_MASK;
    if (idx >= nrecs)
        soak_fail("%s called with an argument the harness never gave (%#" PRIx64 ")", who, a);
    struct soak_rec *r = &recs[idx];
    self_w = r->owner;
    uint64_t expect = mkword(gen, R_ARMED);
    if (atomic_compare_exchange_strong(&r->word, &expect, mkword(gen, R_RUNNING)))
        return r;
    if (word_gen(expect) != gen)
        soak_fail("a %s ran after its op had settled it (record %" PRIu64 " generation %" PRIu64
                  ", now %" PRIu64 " in state %s): it ran twice, or after a cancel that returned 0",
                  who, idx, gen, word_gen(expect), state_names[word_state(expect)]);
    switch (word_state(expect)) {
    case R_RUNNING:
    case R_RAN:
        soak_fail("a %s ran twice (record %" PRIu64 " is %s)", who, idx,
                  state_names[word_state(expect)]);
    case R_DEAD:
        soak_fail("a %s ran although future_cancel had returned 0 for it, or after its future "
                  "was seen complete CANCELLED (record %" PRIu64 ")", who, idx);
    default:
        soak_fail("a %s ran on a record in state %s (record %" PRIu64 ")", who,
                  state_names[word_state(expect)], idx);
    }
}

void soak_rec_leave(struct soak_rec *r)
{
    uint64_t w = atomic_load(&r->word);
    if (word_state(w) != R_RUNNING)
        soak_fail("a %s left its record in state %s", kind_name(r->kind),
                  state_names[word_state(w)]);
    atomic_store(&r->word, mkword(word_gen(w), R_RAN));
}

void soak_rec_cancelled(struct soak_rec *r)
{
    atomic_store(&r->cancel_won, true);
    if (r->kind != K_JOB)
        return;                 /* a started coroutine still runs to its end */
    uint64_t w = atomic_load(&r->word);
    uint64_t expect = mkword(word_gen(w), R_ARMED);
    if (!atomic_compare_exchange_strong(&r->word, &expect, mkword(word_gen(w), R_DEAD)))
        soak_fail("future_cancel returned 0 for a job that has started (record %u is %s)",
                  r->index, state_names[word_state(expect)]);
}

void soak_wait_done(struct soak_worker *w, future_t *f, const char *step)
{
    if (future_done(f))
        return;
    SOAK_STEP(w, step);
    int rc = future_wait(f, FUT_FOREVER);
    if (rc != 0)
        soak_fail("future_wait(FUT_FOREVER) for '%s' returned %d (%s)", step, rc, strerror(rc));
    SOAK_CHECK(future_done(f), "future_wait returned 0 on an incomplete future");
}

void soak_settle(struct soak_rec *r, future_t *f)
{
    struct soak_worker *w = r->owner;
    if (fut_in_coroutine())
        soak_fail("soak_settle called inside a coroutine");
    if (!future_done(f))
        soak_fail("settling a %s whose future is not complete (state %s)", kind_name(r->kind),
                  fstate_names[future_state(f)]);
    enum future_state st = future_state(f);
    void *v = (void *)1;
    int rc = future_get(f, &v);
    /* future_get on a complete future agrees with its state. */
    switch (st) {
    case FUTURE_DONE:
        SOAK_CHECK(rc == 0, "future_get on a DONE future returned %d", rc);
        break;
    case FUTURE_FAILED:
        SOAK_CHECK(rc > 0 && rc != ECANCELED && v == NULL,
                   "future_get on a FAILED future returned %d", rc);
        break;
    case FUTURE_CANCELLED:
        SOAK_CHECK(rc == ECANCELED && v == NULL,
                   "future_get on a CANCELLED future returned %d", rc);
        break;
    default:
        soak_fail("future_done but state %d", (int)st);
    }
    uint64_t word = atomic_load(&r->word);
    bool cancel_won = atomic_load(&r->cancel_won);
    const char *k = kind_name(r->kind);
    switch (word_state(word)) {
    case R_RAN:
        if (r->kind == K_JOB && cancel_won)
            soak_fail("a job ran although future_cancel had returned 0 for it");
        if (st == FUTURE_CANCELLED) {
            if (r->kind != K_CORO || !(cancel_won || r->may_cancel))
                soak_fail("a %s ran to its end but its future is CANCELLED (nobody could "
                          "cancel it: cancel_won %d, may_cancel %d)", k, cancel_won,
                          r->may_cancel);
        } else if (r->kind == K_CORO && cancel_won) {
            soak_fail("a coroutine cancelled with 0 (after it started) ended %s, not CANCELLED",
                      fstate_names[st]);
        } else if (r->err) {
            if (st != FUTURE_FAILED || rc != r->err)
                soak_fail("a %s raised %d but its future is %s with %d", k, r->err,
                          fstate_names[st], rc);
        } else if (st != FUTURE_DONE || (uintptr_t)v != r->value) {
            soak_fail("a %s returned %#" PRIxPTR " but its future is %s with rc %d value %p", k,
                      r->value, fstate_names[st], rc, v);
        }
        break;
    case R_ARMED: {
        if (st != FUTURE_CANCELLED)
            soak_fail("a %s never ran but its future is %s", k, fstate_names[st]);
        if (!cancel_won && !r->may_cancel)
            soak_fail("a %s's future is CANCELLED but nobody cancelled it", k);
        uint64_t expect = word;
        if (!atomic_compare_exchange_strong(&r->word, &expect,
                                            mkword(word_gen(word), R_DEAD)))
            soak_fail("a %s started after its future was complete CANCELLED (record is %s)", k,
                      state_names[word_state(expect)]);
        break;
    }
    case R_DEAD:
        if (st != FUTURE_CANCELLED)
            soak_fail("a %s cancelled with 0 ended %s", k, fstate_names[st]);
        break;
    case R_RUNNING:
        soak_fail("a %s's future is complete (%s) while its body still runs", k,
                  fstate_names[st]);
    default:
        soak_fail("settling a record in state %s", state_names[word_state(word)]);
    }
    for (int i = 0; i < r->nkids; i++) {
        soak_wait_done(w, r->kids[i], "waiting for a future a coroutine started");
        soak_settle(r->kid_recs[i], r->kids[i]);
    }
    r->nkids = 0;
    if (r->target)
        soak_rel(r->target);
    r->target = NULL;
    rec_free(r);
    soak_rel(f);
}

void soak_cb_wait(struct soak_worker *w, struct soak_rec *r)
{
    uint64_t word = atomic_load(&r->word);
    if (word_state(word) != R_RAN) {
        SOAK_STEP(w, "waiting for a callback to run after its future completed");
        uint64_t end = soak_now_ns() + (uint64_t)soak_patience_ms() * 1000000u;
        for (unsigned i = 0; word_state(word = atomic_load(&r->word)) != R_RAN; i++) {
            if (word_state(word) != R_ARMED && word_state(word) != R_RUNNING)
                soak_fail("callback record in state %s", state_names[word_state(word)]);
            if (soak_now_ns() > end)
                soak_fail("a callback (how %d) had not run %ld ms after its future completed",
                          (int)r->how, soak_patience_ms());
            if (i < 100)
                sched_yield();
            else
                soak_nap_us(50);
        }
    }
}

void soak_settle_cb(struct soak_worker *w, struct soak_rec *r)
{
    soak_cb_wait(w, r);
    if (r->cb_seen_state < FUTURE_DONE)
        soak_fail("a callback saw its future in state %s",
                  r->cb_seen_state < 0 ? "?" : fstate_names[r->cb_seen_state]);
    switch (r->how) {
    case CB_CANCEL:
    case CB_RESOLVE:
        SOAK_RC_IN(r->cb_rc, r->how == CB_CANCEL ? "future_cancel in a callback"
                                                 : "future_resolve in a callback", 0, EINVAL);
        break;
    case CB_SHUTDOWN:
        SOAK_RC_IN(r->cb_rc, "fut_pool_shutdown in a callback", 0, EDEADLK);
        break;
    case CB_SUBMIT:
        if (r->out) {
            soak_wait_done(w, r->out, "waiting for a job a callback submitted");
            soak_settle(r->out_rec, r->out);
        } else {
            SOAK_RC_IN(r->cb_rc, "fut_pool_submit in a callback", ESHUTDOWN);
        }
        break;
    default:
        break;
    }
    rec_free(r);
}

/* ---------------------------------------------------------------------
 * Bodies
 * ------------------------------------------------------------------- */

struct soak_rec *soak_job_rec(struct soak_worker *w, soak_rng *rng, fut_pool_t *pool,
                              bool allow_hold)
{
    unsigned d = (unsigned)soak_below(rng, 100);
    enum soak_how how = d < 40 ? H_RETURN : d < 60 ? H_RAISE : (d < 95 || !allow_hold) ? H_SPIN
                                                                                       : H_HOLD;
    struct soak_rec *r = soak_rec_new(w, K_JOB, how);
    if (!r)
        return NULL;
    r->value = soak_value(rng);
    r->err = how == H_RAISE ? soak_err(rng) : 0;
    r->spin_us = how == H_SPIN ? (unsigned)soak_range(rng, 1, 150) : 0;
    r->pool = pool;
    if (how == H_HOLD)
        atomic_store(&r->hold, 1);
    return r;
}

future_t *soak_submit(fut_pool_t *p, struct soak_rec *r, bool try_)
{
    future_t *f = try_ ? fut_pool_try_submit(p, soak_job, soak_rec_arg(r))
                       : fut_pool_submit(p, soak_job, soak_rec_arg(r));
    if (!f) {
        int e = errno;
        soak_rec_drop(r);
        errno = e;
        return NULL;
    }
    return soak_own(f);
}

/* H_NEST: children on the same pool, gathered from inside the job: the
 * waiting pool thread runs queued jobs meanwhile. */
static void job_nest(struct soak_rec *r)
{
    soak_rng rng = { r->value ^ 0x6e657374u };
    future_t *fs[3];
    struct soak_rec *rs[3];
    size_t n = 0;
    for (long i = 0; i < r->count && n < 3; i++) {
        struct soak_rec *c = soak_job_rec(r->owner, &rng, r->pool, false);
        if (!c)
            break;
        future_t *f = soak_submit(r->pool, c, false);
        if (!f) {
            if (errno != ESHUTDOWN)
                soak_fail("fut_pool_submit from a job: errno %d", errno);
            break;
        }
        fs[n] = f;
        rs[n++] = c;
    }
    void *vals[3];
    int rc = future_gather(fs, n, vals, FUT_FOREVER);
    int want = 0;
    for (size_t i = 0; i < n; i++) {
        if (rs[i]->err && !want)
            want = rs[i]->err;
        if (!rs[i]->err && vals[i] != (void *)rs[i]->value)
            soak_fail("gather in a job: value %zu is %p, want %#" PRIxPTR, i, vals[i],
                      rs[i]->value);
    }
    if (rc != want)
        soak_fail("gather in a job returned %d, want %d (lowest-index failure)", rc, want);
    for (size_t i = 0; i < n; i++)
        soak_settle(rs[i], fs[i]);
}

/* H_LOOP: a loop inside a pool job whose coroutine waits on a job of the
 * same pool.  With one pool thread, only the loop's thread can run it. */
static void *loop_in_job_main(void *arg)
{
    struct soak_rec *r = arg;
    soak_rng rng = { r->value ^ 0x6c6f6f70u };
    struct soak_rec *c = soak_job_rec(r->owner, &rng, r->pool, false);
    if (!c)
        return NULL;
    future_t *f = soak_submit(r->pool, c, false);
    if (!f)
        soak_fail("fut_pool_submit from a loop inside a job: errno %d", errno);
    int rc = future_wait(f, soak_patience_ms());
    if (rc == ETIMEDOUT)
        soak_fail("a loop running inside a 1-thread pool job waited %ld ms on a job queued to "
                  "that pool and it never ran: a sleeping loop on a pool thread must run the "
                  "pool's queued jobs",
                  soak_patience_ms());
    SOAK_RC_IN(rc, "future_wait in a loop inside a job", 0);
    /* Settled on the pool thread, after fut_run returns. */
    r->out = f;
    r->out_rec = c;
    return (void *)r->value;
}

static void job_loop(struct soak_rec *r)
{
    void *res = NULL;
    int rc = fut_run(loop_in_job_main, r, &res);
    SOAK_RC_IN(rc, "fut_run inside a pool job", 0);
    SOAK_CHECK(res == (void *)r->value || !r->out, "fut_run result %p", res);
    if (r->out) {
        soak_settle(r->out_rec, r->out);
        r->out = NULL;
    }
}

void *soak_job(void *arg)
{
    struct soak_rec *r = soak_rec_enter(arg, "pool job");
    if (r->kind != K_JOB)
        soak_fail("soak_job on a %s record", kind_name(r->kind));
    SOAK_CHECK(fut_current() != NULL, "fut_current() is NULL inside a job");
    switch (r->how) {
    case H_RETURN:
    case H_RAISE:
        break;
    case H_SPIN:
        soak_spin_us(r->spin_us);
        break;
    case H_HOLD: {
        uint64_t end = soak_now_ns() + (uint64_t)soak_patience_ms() * 1000000u;
        while (atomic_load(&r->hold)) {
            if (soak_now_ns() > end)
                soak_fail("a held job was never released");
            soak_nap_us(20);
        }
        break;
    }
    case H_NEST:
        job_nest(r);
        break;
    case H_LOOP:
        job_loop(r);
        break;
    default:
        soak_fail("soak_job with how %d", (int)r->how);
    }
    int err = r->err;
    void *v = (void *)r->value;
    soak_rec_leave(r);
    return err ? fut_raise(err) : v;
}

/* --- coroutines ------------------------------------------------------ */

struct soak_rec *soak_coro_rec(struct soak_worker *w, soak_rng *rng, bool may_cancel)
{
    static const enum soak_how scripts[] = {
        C_RETURN, C_SLEEP, C_YIELD, C_AWAIT_JOBS, C_AWAIT_JOBS, C_AWAIT_PROMISE, C_SPAWN,
        C_CHAIN, C_TIMED, C_WAIT_ANY,
    };
    enum soak_how how = scripts[soak_below(rng, sizeof scripts / sizeof scripts[0])];
    struct soak_rec *r = soak_rec_new(w, K_CORO, how);
    if (!r)
        return NULL;
    r->value = soak_value(rng);
    r->err = soak_chance(rng, 20) ? soak_err(rng) : 0;
    r->may_cancel = may_cancel;
    r->spin_us = (unsigned)soak_range(rng, 0, 2000);   /* C_SLEEP: 0..2 ms */
    r->pool = soak_world.pools[soak_below(rng, SOAK_POOLS)];
    switch (how) {
    case C_CHAIN:
        if (soak_feature_on(SF_CORO_CHAINS) && soak_chance(rng, 10))
            r->count = soak_range(rng, 1000, 10000);
        else
            r->count = soak_range(rng, 1, 64);
        break;
    case C_YIELD:
        r->count = soak_range(rng, 1, 8);
        break;
    default:
        r->count = soak_range(rng, 1, 3);
        break;
    }
    return r;
}

void soak_coro_prepare(struct soak_rec *r)
{
    if (r->how == C_AWAIT_PROMISE && !r->target) {
        r->target = soak_own(future_new());
        SOAK_CHECK(r->target != NULL, "future_new");
    }
}

void soak_coro_release(struct soak_rec *r, soak_rng *rng)
{
    if (r->how == C_AWAIT_PROMISE && r->target) {
        if (soak_chance(rng, 30))
            soak_nap_us((unsigned)soak_range(rng, 0, 300));
        int rc = future_resolve(r->target, (void *)(r->value ^ 0xf0));
        /* A cancelled coroutine's future_get cancels the promise it awaits
         * (cancellation flows into what a coroutine awaits). */
        if (rc == EINVAL && r->may_cancel)
            SOAK_CHECK(future_state(r->target) == FUTURE_CANCELLED,
                       "a promise that refused its value is not cancelled: state %d",
                       (int)future_state(r->target));
        else
            SOAK_RC_IN(rc, "future_resolve of a promise a coroutine awaits", 0);
    }
}

/* A wait inside a coroutine returned rc: true to go on, false when the
 * coroutine was cancelled (allowed only when it may be). */
static bool coro_ok(struct soak_rec *r, int rc, const char *what)
{
    self_w = r->owner;          /* other coroutines ran meanwhile */
    if (rc == 0)
        return true;
    if (rc == ECANCELED && r->may_cancel)
        return false;
    soak_fail("%s in a coroutine returned %d (%s)%s", what, rc, strerror(rc),
              rc == ECANCELED ? " although nobody cancels it" : "");
}

static void coro_kid(struct soak_rec *r, future_t *f, struct soak_rec *k)
{
    if (r->nkids >= SOAK_KIDS)
        soak_fail("too many kids");
    r->kids[r->nkids] = f;
    r->kid_recs[r->nkids++] = k;
}

/* The outcome a job or coroutine record says its future must have. */
static void check_outcome(struct soak_rec *k, int rc, void *v, const char *what)
{
    if (k->err ? rc != k->err : (rc != 0 || v != (void *)k->value)) {
        if (rc == ECANCELED && k->may_cancel)
            return;
        soak_fail("%s: rc %d value %p, want rc %d value %#" PRIxPTR, what, rc, v, k->err,
                  k->err ? (uintptr_t)0 : k->value);
    }
}

static void *chain_step(void *value, void *arg)
{
    struct soak_chain *c = arg;
    self_w = c->owner;
    long i = atomic_fetch_add(&c->ran, 1);
    if ((uintptr_t)value != c->base + (uintptr_t)i)
        soak_fail("then-chain step %ld of %ld got %p, want %#" PRIxPTR
                  " (steps out of order or twice)", i, c->len, value, c->base + (uintptr_t)i);
    if (i == c->raise_at)
        return fut_raise(EILSEQ);
    return (void *)(c->base + (uintptr_t)i + 1);
}

struct soak_chain *soak_chain_new(struct soak_worker *w, soak_rng *rng, future_t *root,
                                  uintptr_t base, long len)
{
    struct soak_chain *c = soak_alloc(sizeof *c);
    c->len = len;
    c->raise_at = soak_chance(rng, 30) ? soak_range(rng, 0, len - 1) : -1;
    c->base = base;
    c->owner = w;
    future_t *prev = soak_retain(root);
    for (long i = 0; i < len; i++) {
        future_t *next = soak_own(future_then(prev, chain_step, c));
        if (!next)
            soak_fail("future_then: errno %d", errno);
        soak_rel(prev);         /* the continuation holds what it needs */
        prev = next;
    }
    c->last = prev;
    return c;
}

void soak_chain_check(struct soak_chain *c, int root_rc)
{
    if (!fut_in_coroutine())
        soak_wait_done(c->owner, c->last, "waiting for the last link of a then-chain");
    if (!future_done(c->last))
        soak_fail("the last link of a chain of %ld is not complete although its root is "
                  "(in a coroutine: every link runs in the completing call)", c->len);
    long want_ran = root_rc ? 0 : c->raise_at >= 0 ? c->raise_at + 1 : c->len;
    if (atomic_load(&c->ran) != want_ran)
        soak_fail("a then-chain of %ld links ran %ld steps, want %ld (root rc %d)", c->len,
                  atomic_load(&c->ran), want_ran, root_rc);
    enum future_state want = root_rc == ECANCELED ? FUTURE_CANCELLED
                             : root_rc || c->raise_at >= 0 ? FUTURE_FAILED : FUTURE_DONE;
    enum future_state st = future_state(c->last);
    if (st != want)
        soak_fail("a then-chain of %ld links ended in state %d, want %d (root rc %d)", c->len,
                  (int)st, (int)want, root_rc);
    void *v = (void *)1;
    int rc = future_get(c->last, &v);
    bool cancelled_coro = rc == ECANCELED && fut_in_coroutine() && want != FUTURE_CANCELLED;
    if (!cancelled_coro) {
        int want_rc = root_rc ? root_rc : c->raise_at >= 0 ? EILSEQ : 0;
        if (rc != want_rc || (rc == 0 && v != (void *)(c->base + (uintptr_t)c->len)))
            soak_fail("a then-chain of %ld links gave rc %d value %p, want rc %d value %#" PRIxPTR,
                      c->len, rc, v, want_rc, c->base + (uintptr_t)c->len);
    }
    soak_rel(c->last);
    soak_free(c);
}

static void coro_chain(struct soak_rec *r, soak_rng *rng)
{
    future_t *root = soak_own(future_new());
    SOAK_CHECK(root != NULL, "future_new");
    uintptr_t base = r->value & ~(uintptr_t)0xffffff;
    struct soak_chain *c = soak_chain_new(r->owner, rng, root, base, r->count);
    SOAK_CHECK(future_resolve(root, (void *)base) == 0, "resolve the chain's root");
    /* Every link ran here, in this call, on this coroutine's stack. */
    soak_chain_check(c, 0);
    soak_rel(root);
}

void *soak_coro(void *arg)
{
    struct soak_rec *r = soak_rec_enter(arg, "coroutine");
    if (r->kind != K_CORO)
        soak_fail("soak_coro on a %s record", kind_name(r->kind));
    SOAK_CHECK(fut_in_coroutine(), "fut_in_coroutine() false in a coroutine");
    SOAK_CHECK(fut_current() != NULL, "fut_current() NULL in a coroutine");
    soak_rng rng = { r->value ^ 0x636f726fu };
    switch (r->how) {
    case C_RETURN:
        break;
    case C_SLEEP:
        coro_ok(r, fut_sleep((long)(r->spin_us / 1000u)), "fut_sleep");
        break;
    case C_YIELD:
        for (long i = 0; i < r->count; i++)
            if (!coro_ok(r, fut_yield(), "fut_yield"))
                break;
        break;
    case C_AWAIT_JOBS: {
        future_t *fs[3];
        struct soak_rec *ks[3];
        int n = 0;
        for (long i = 0; i < r->count && n < 3; i++) {
            struct soak_rec *k = soak_job_rec(r->owner, &rng, r->pool, false);
            if (!k)
                break;
            k->may_cancel = r->may_cancel;
            future_t *f = soak_submit(r->pool, k, false);
            self_w = r->owner;
            if (!f) {
                /* A bounded pool's submit suspends; a cancelled coroutine
                 * gets ECANCELED. */
                if (errno == ECANCELED && r->may_cancel)
                    break;
                soak_fail("fut_pool_submit in a coroutine: errno %d", errno);
            }
            fs[n] = f;
            ks[n++] = k;
            coro_kid(r, f, k);
        }
        if (soak_chance(&rng, 50)) {
            void *vals[3];
            int rc = future_gather(fs, (size_t)n, vals, FUT_FOREVER);
            self_w = r->owner;
            /* Bodies never raise ECANCELED: it is this coroutine's
             * cancellation (or, with cancellation flowing into what it
             * awaits, a job's). */
            if (rc == ECANCELED && r->may_cancel)
                break;
            int want = 0;
            for (int i = 0; i < n; i++) {
                if (ks[i]->err) {
                    want = want ? want : ks[i]->err;
                    SOAK_CHECK(vals[i] == NULL, "gather: failed entry's value not NULL");
                } else {
                    SOAK_CHECK(vals[i] == (void *)ks[i]->value,
                               "gather in a coroutine: value %d wrong", i);
                }
            }
            SOAK_CHECK(rc == want, "gather in a coroutine returned %d, want %d", rc, want);
        } else {
            for (int i = 0; i < n; i++) {
                void *v;
                int rc = future_get(fs[i], &v);
                self_w = r->owner;
                if (rc == ECANCELED && r->may_cancel)
                    break;
                check_outcome(ks[i], rc, v, "future_get of a job in a coroutine");
            }
        }
        break;
    }
    case C_AWAIT_PROMISE: {
        void *v;
        int rc = future_get(r->target, &v);
        if (!coro_ok(r, rc, "future_get on a promise resolved by a thread"))
            break;
        SOAK_CHECK(v == (void *)(r->value ^ 0xf0), "promise value %p", v);
        break;
    }
    case C_SPAWN: {
        struct soak_rec *k = soak_rec_new(r->owner, K_CORO,
                                          soak_chance(&rng, 50) ? C_YIELD : C_SLEEP);
        if (!k)
            break;
        k->value = soak_value(&rng);
        k->err = soak_chance(&rng, 20) ? soak_err(&rng) : 0;
        k->count = soak_range(&rng, 1, 4);
        k->spin_us = (unsigned)soak_range(&rng, 0, 1500);
        k->may_cancel = r->may_cancel;
        future_t *f = soak_own(fut_spawn(soak_coro, soak_rec_arg(k)));
        if (!f) {
            /* A loop that is finishing refuses new coroutines. */
            if (errno == ESHUTDOWN && r->may_cancel) {
                soak_rec_drop(k);
                break;
            }
            soak_fail("fut_spawn in a coroutine: errno %d", errno);
        }
        coro_kid(r, f, k);
        void *v;
        int rc = future_get(f, &v);
        self_w = r->owner;
        if (rc == ECANCELED && r->may_cancel)
            break;
        check_outcome(k, rc, v, "future_get of a child coroutine");
        break;
    }
    case C_CHAIN:
        coro_chain(r, &rng);
        break;
    case C_TIMED: {
        struct soak_rec *k = soak_job_rec(r->owner, &rng, r->pool, false);
        if (!k)
            break;
        k->may_cancel = r->may_cancel;
        future_t *f = soak_submit(r->pool, k, false);
        self_w = r->owner;
        if (!f) {
            if (errno == ECANCELED && r->may_cancel)
                break;
            soak_fail("fut_pool_submit in a coroutine: errno %d", errno);
        }
        coro_kid(r, f, k);
        int rc;
        while ((rc = future_wait(f, soak_range(&rng, 1, 2))) == ETIMEDOUT) {
        }
        if (!coro_ok(r, rc, "future_wait (timed)"))
            break;
        SOAK_CHECK(future_done(f), "future_wait returned 0 but the job is not complete");
        break;
    }
    case C_WAIT_ANY: {
        future_t *fs[3];
        int n = 0;
        for (long i = 0; i < r->count + 1 && n < 3; i++) {
            struct soak_rec *k = soak_job_rec(r->owner, &rng, r->pool, false);
            if (!k)
                break;
            k->may_cancel = r->may_cancel;
            future_t *f = soak_submit(r->pool, k, false);
            self_w = r->owner;
            if (!f) {
                if (errno == ECANCELED && r->may_cancel)
                    break;
                soak_fail("fut_pool_submit in a coroutine: errno %d", errno);
            }
            fs[n++] = f;
            coro_kid(r, f, k);
        }
        while (n > 0) {
            size_t idx = 99;
            int rc = future_wait_any(fs, (size_t)n, soak_chance(&rng, 50) ? FUT_FOREVER : 1,
                                     &idx);
            if (rc == ETIMEDOUT)
                continue;
            if (!coro_ok(r, rc, "future_wait_any"))
                break;                 /* cancelled: the op settles the jobs */
            SOAK_CHECK(idx < (size_t)n && future_done(fs[idx]),
                       "wait_any index %zu of %d not complete", idx, n);
            for (size_t i = 0; i < idx; i++)
                SOAK_CHECK(fs[i] != fs[idx], "duplicate");
            fs[idx] = fs[--n];
        }
        break;
    }
    default:
        soak_fail("soak_coro with how %d", (int)r->how);
    }
    self_w = r->owner;
    int err = r->err;
    void *v = (void *)r->value;
    soak_rec_leave(r);
    return err ? fut_raise(err) : v;
}

/* --- callbacks ------------------------------------------------------- */

void soak_cb(future_t *f, void *arg)
{
    struct soak_rec *r = soak_rec_enter(arg, "callback");
    if (r->kind != K_CB)
        soak_fail("soak_cb on a %s record", kind_name(r->kind));
    if (!future_done(f))
        soak_fail("a callback ran on a future that is not complete (state %s)",
                  fstate_names[future_state(f)]);
    r->cb_seen_state = (int)future_state(f);
    switch (r->how) {
    case CB_COUNT:
        break;
    case CB_RELEASE:
        soak_rel(f);            /* maybe the last reference: later callbacks still get f */
        break;
    case CB_SUBMIT: {
        soak_rng rng = { r->value };
        struct soak_rec *k = soak_job_rec(r->owner, &rng, r->pool, false);
        if (k) {
            r->out = soak_submit(r->pool, k, false);
            if (r->out)
                r->out_rec = k;
            else
                r->cb_rc = errno;
        } else {
            r->cb_rc = ESHUTDOWN;   /* nothing submitted; settled as such */
        }
        break;
    }
    case CB_CANCEL:
        r->cb_rc = future_cancel(r->target);
        break;
    case CB_RESOLVE:
        r->cb_rc = future_resolve(r->target, (void *)r->value);
        break;
    case CB_SHUTDOWN:
        r->cb_rc = fut_pool_shutdown(r->pool, r->err ? FUT_CANCEL : FUT_DRAIN);
        break;
    default:
        soak_fail("soak_cb with how %d", (int)r->how);
    }
    soak_rec_leave(r);
}

/* ---------------------------------------------------------------------
 * The shared world
 * ------------------------------------------------------------------- */

static future_t *loop_stop[SOAK_LOOPS];
static pthread_t loop_threads[SOAK_LOOPS];

static void *loop_main(void *arg)
{
    void *v = NULL;
    int rc = future_get(arg, &v);
    if (rc != 0)
        soak_fail("a shared loop's main coroutine: future_get(stop) returned %d", rc);
    return v;
}

static void *loop_thread(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    void *res = NULL;
    int rc = fut_loop_run(soak_world.loops[i], loop_main, loop_stop[i], &res);
    if (rc != 0 || res != (void *)(uintptr_t)(i + 1))
        soak_fail("shared loop %zu: fut_loop_run returned %d, result %p", i, rc, res);
    return NULL;
}

static void world_up(void)
{
    static const fut_pool_opts popts[SOAK_POOLS] = {
        { .threads = 2, .queue_max = 0, .name = "soak-u" },
        { .threads = 1, .queue_max = 2, .name = "soak-b1" },
        { .threads = 3, .queue_max = 8, .name = "soak-b3" },
    };
    for (size_t i = 0; i < SOAK_POOLS; i++) {
        soak_world.pools[i] = fut_pool_new(&popts[i]);
        if (!soak_world.pools[i])
            soak_fail("fut_pool_new: errno %d", errno);
    }
    for (size_t i = 0; i < SOAK_LOOPS; i++) {
        soak_world.loops[i] = fut_loop_new(NULL);
        loop_stop[i] = soak_own(future_new());
        if (!soak_world.loops[i] || !loop_stop[i])
            soak_fail("fut_loop_new: errno %d", errno);
        if (pthread_create(&loop_threads[i], NULL, loop_thread, (void *)(uintptr_t)i) != 0)
            soak_fail("pthread_create");
    }
}

static void world_down(void)
{
    for (size_t i = 0; i < SOAK_LOOPS; i++) {
        SOAK_STEP(&teardown_w, "stopping a shared loop (fut_loop_run returning)");
        SOAK_CHECK(future_resolve(loop_stop[i], (void *)(uintptr_t)(i + 1)) == 0, "stop");
        pthread_join(loop_threads[i], NULL);
        soak_rel(loop_stop[i]);
        fut_loop_free(soak_world.loops[i]);
    }
    for (size_t i = 0; i < SOAK_POOLS; i++) {
        SOAK_STEP(&teardown_w, "freeing a shared pool (FUT_DRAIN shutdown)");
        fut_pool_free(soak_world.pools[i]);
    }
}

/* ---------------------------------------------------------------------
 * Workers and the watchdog
 * ------------------------------------------------------------------- */

static const struct soak_op *pick_op(soak_rng *r, size_t *which)
{
    unsigned x = (unsigned)soak_below(r, total_weight);
    for (size_t i = 0; i < nops; i++) {
        if (x < ops[i]->weight) {
            *which = i;
            return ops[i];
        }
        x -= ops[i]->weight;
    }
    *which = nops - 1;
    return ops[nops - 1];
}

/* The digest of the first DIGEST_OPS choices of every worker (which op,
 * and the PRNG state it starts from): equal in two runs with one seed. */
#define DIGEST_OPS 100
static uint64_t choice_digest(void)
{
    uint64_t d = 0;
    for (int i = 0; i < cfg.threads; i++)
        d = d * 0x100000001b3u ^ workers[i].digest;
    return d;
}

static void *worker_main(void *arg)
{
    struct soak_worker *w = arg;
    self_w = w;
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        size_t which;
        const struct soak_op *op = pick_op(&w->rng, &which);
        /* The op draws from a stream of its own, forked with one draw: how
         * many draws an op makes (a wait retried after a timeout draws
         * again) never shifts the ops after it. */
        soak_rng stream = w->rng, op_rng = soak_fork_rng(&stream);
        if (w->ops_done < DIGEST_OPS)
            w->digest = (w->digest ^ which ^ op_rng.s) * 0x100000001b3u;
        w->rng = op_rng;
        atomic_fetch_add(&w->opseq, 1);
        atomic_store(&w->op, op->name);
        SOAK_STEP(w, "starting");
        op->fn(w);
        w->rng = stream;
        self_w = w;
        atomic_store(&w->op, NULL);
        SOAK_STEP(w, "between ops");
        w->ops_done++;
        atomic_fetch_add_explicit(&op_counts[which], 1, memory_order_relaxed);
    }
    atomic_store(&w->step, "finished");
    return NULL;
}

static atomic_bool watchdog_stop;

static void *watchdog_main(void *arg)
{
    (void)arg;
    int n = cfg.threads + 1;   /* the workers, then teardown_w */
    unsigned long *last = calloc((size_t)n, sizeof *last);
    uint64_t *since = calloc((size_t)n, sizeof *since);
    if (!last || !since)
        soak_fail("watchdog: out of memory");
    uint64_t stall_ns = (uint64_t)(cfg.stall_s * 1e9);
    while (!atomic_load(&watchdog_stop)) {
        soak_nap_us(200000);
        uint64_t now = soak_now_ns();
        for (int i = 0; i < n; i++) {
            struct soak_worker *w = i < cfg.threads ? &workers[i] : &teardown_w;
            unsigned long p = atomic_load(&w->progress);
            const char *step = atomic_load(&w->step);
            bool idle = step && (!strcmp(step, "finished") || !strcmp(step, "idle"));
            if (p != last[i] || since[i] == 0 || idle) {
                last[i] = p;
                since[i] = now;
                continue;
            }
            if (now - since[i] > stall_ns) {
                pthread_mutex_lock(&fail_mu);
                fflush(stdout);
                fprintf(stderr, "\nsoak: HANG: no progress for %.0f s\n", cfg.stall_s);
                print_worker(stderr, w);
                fprintf(stderr, "soak: every worker:\n");
                for (int j = 0; j < cfg.threads; j++)
                    print_worker(stderr, &workers[j]);
                print_worker(stderr, &teardown_w);
                print_replay(stderr);
                fflush(stderr);
                abort();
            }
        }
    }
    free(last);
    free(since);
    return NULL;
}

/* ---------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: soak [--seed=N] [--seconds=S] [--threads=N] [--skip=a,b] [--stall=S] "
            "[--list]\n"
            "  (make stress SEED=N STRESS_SECONDS=S STRESS_THREADS=N STRESS_SKIP=a,b)\n");
}

static void list_ops(void)
{
    printf("ops (skip by name):\n");
    for (size_t t = 0; t < sizeof op_tables / sizeof op_tables[0]; t++)
        for (const struct soak_op *o = op_tables[t]; o->name; o++)
            printf("  %-16s weight %-3u %s\n", o->name, o->weight, o->what);
    printf("features (skip by name):\n");
    for (int i = 0; i < SF_COUNT; i++)
        printf("  %-16s %s\n", soak_feature_names[i], feature_what[i]);
}

static bool skipped_op(const char *name)
{
    char buf[sizeof cfg.skip];
    snprintf(buf, sizeof buf, "%s", cfg.skip);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!strcmp(t, name))
            return true;
    return false;
}

static void parse_skip(void)
{
    char buf[sizeof cfg.skip];
    snprintf(buf, sizeof buf, "%s", cfg.skip);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool known = false;
        for (int i = 0; i < SF_COUNT; i++)
            if (!strcmp(t, soak_feature_names[i]))
                known = cfg.skip_feature[i] = true;
        for (size_t k = 0; k < sizeof op_tables / sizeof op_tables[0]; k++)
            for (const struct soak_op *o = op_tables[k]; o->name; o++)
                if (!strcmp(t, o->name))
                    known = true;
        if (!known) {
            fprintf(stderr, "soak: unknown name '%s' in the skip list (see --list)\n", t);
            exit(2);
        }
    }
}

static const char *opt(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

static void parse(int argc, char **argv)
{
    cfg.seconds = 20;
    cfg.threads = 4;
#if defined(SOAK_TSAN) || defined(SOAK_ASAN)
    cfg.stall_s = 180;
#else
    cfg.stall_s = 60;
#endif
    bool seeded = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = opt(argv[i], "--seed"))) {
            if (*v) {                  /* empty: time-based */
                cfg.seed = strtoull(v, NULL, 0);
                seeded = true;
            }
        } else if ((v = opt(argv[i], "--seconds"))) {
            if (*v)
                cfg.seconds = strtod(v, NULL);
        } else if ((v = opt(argv[i], "--threads"))) {
            if (*v)
                cfg.threads = atoi(v);
        } else if ((v = opt(argv[i], "--skip"))) {
            snprintf(cfg.skip, sizeof cfg.skip, "%s", v);
        } else if ((v = opt(argv[i], "--stall"))) {
            if (*v)
                cfg.stall_s = strtod(v, NULL);
        } else if (!strcmp(argv[i], "--list")) {
            list_ops();
            exit(0);
        } else {
            usage(stderr);
            exit(2);
        }
    }
    if (!seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        cfg.seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^
                   ((uint64_t)getpid() << 32);
        cfg.seed %= 1000000000000u;   /* short enough to type */
    }
    if (cfg.seconds < 0 || cfg.threads < 1 || cfg.threads > 64 || cfg.stall_s < 1) {
        usage(stderr);
        exit(2);
    }
    parse_skip();
}

/* ---------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    parse(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);

    size_t maxops = 0;
    for (size_t t = 0; t < sizeof op_tables / sizeof op_tables[0]; t++)
        for (const struct soak_op *o = op_tables[t]; o->name; o++)
            maxops++;
    ops = calloc(maxops + 1, sizeof *ops);
    op_counts = calloc(maxops + 1, sizeof *op_counts);
    if (!ops || !op_counts)
        soak_fail("out of memory");
    for (size_t t = 0; t < sizeof op_tables / sizeof op_tables[0]; t++)
        for (const struct soak_op *o = op_tables[t]; o->name; o++)
            if (!skipped_op(o->name) && o->weight) {
                ops[nops++] = o;
                total_weight += o->weight;
            }
    if (!nops) {
        fprintf(stderr, "soak: every op is skipped\n");
        return 2;
    }

    make_replay();
    catch_fatal();
    printf("soak: seed %" PRIu64 ", %g s, %d workers%s%s%s%s\n", cfg.seed, cfg.seconds,
           cfg.threads, cfg.skip[0] ? ", skipping " : "", cfg.skip,
           SOAK_SANITIZE[0] ? ", SANITIZE=" : "", SOAK_SANITIZE);
    fputs(replay, stdout);

    nrecs = (size_t)cfg.threads * PART_RECS;
    recs = calloc(nrecs, sizeof *recs);
    workers = calloc((size_t)cfg.threads, sizeof *workers);
    struct soak_part *parts = calloc((size_t)cfg.threads, sizeof *parts);
    if (!recs || !workers || !parts)
        soak_fail("out of memory");
    for (int i = 0; i < cfg.threads; i++) {
        struct soak_worker *w = &workers[i];
        w->index = i;
        w->rng.s = cfg.seed ^ (0x9e3779b97f4a7c15u * (uint64_t)(i + 1));
        (void)soak_next(&w->rng);
        w->part = &parts[i];
        pthread_mutex_init(&parts[i].mu, NULL);
        for (uint32_t k = 0; k < PART_RECS; k++) {
            uint32_t idx = (uint32_t)i * PART_RECS + k;
            recs[idx].index = idx;
            recs[idx].owner = w;
            atomic_init(&recs[idx].word, mkword(0, R_FREE));
            parts[i].free[PART_RECS - 1 - k] = idx;
        }
        parts[i].nfree = PART_RECS;
    }
    teardown_w.index = -1;
    atomic_store(&teardown_w.step, "idle");

    pthread_t wd;
    if (pthread_create(&wd, NULL, watchdog_main, NULL) != 0)
        soak_fail("pthread_create");
    self_w = &teardown_w;
    SOAK_STEP(&teardown_w, "creating the shared pools and loops");
    world_up();
    atomic_store(&teardown_w.step, "idle");

    uint64_t t0 = soak_now_ns();
    pthread_t *tids = calloc((size_t)cfg.threads, sizeof *tids);
    for (int i = 0; i < cfg.threads; i++)
        if (pthread_create(&tids[i], NULL, worker_main, &workers[i]) != 0)
            soak_fail("pthread_create");
    uint64_t end = t0 + (uint64_t)(cfg.seconds * 1e9);
    uint64_t next_report = t0 + 10000000000u;
    for (uint64_t now; (now = soak_now_ns()) < end;) {
        soak_nap_us(50000);
        if (now >= next_report) {
            unsigned long total = 0;
            for (int i = 0; i < cfg.threads; i++)
                total += atomic_load(&workers[i].opseq);
            printf("soak: %.0f s, %lu ops started\n", (double)(now - t0) / 1e9, total);
            next_report += 10000000000u;
        }
    }
    atomic_store(&stop_flag, true);
    SOAK_STEP(&teardown_w, "joining the workers (their current ops must end)");
    for (int i = 0; i < cfg.threads; i++)
        pthread_join(tids[i], NULL);
    double secs = (double)(soak_now_ns() - t0) / 1e9;
    world_down();
    SOAK_STEP(&teardown_w, "checking the accounting");

    unsigned long total = 0;
    for (int i = 0; i < cfg.threads; i++)
        total += workers[i].ops_done;
    long fl = atomic_load(&soak_futures_live), al = atomic_load(&soak_allocs_live);
    size_t busy = 0;
    for (size_t i = 0; i < nrecs; i++)
        busy += word_state(atomic_load(&recs[i].word)) != R_FREE;
    if (fl != 0)
        soak_fail("the harness still holds %ld future references after the run", fl);
    if (al != 0)
        soak_fail("%ld harness allocations were not freed", al);
    if (busy != 0)
        soak_fail("%zu records were not settled", busy);

    printf("soak: per op:");
    for (size_t i = 0; i < nops; i++)
        printf(" %s %lu%s", ops[i]->name, atomic_load(&op_counts[i]), i + 1 < nops ? "," : "\n");
    printf("soak: choices of the first %d ops of each worker: digest %016" PRIx64
           " (the same in every run with seed %" PRIu64 " and %d workers)\n",
           DIGEST_OPS, choice_digest(), cfg.seed, cfg.threads);
    printf("soak: OK: %lu ops in %.1f s (%.0f ops/s), %lu futures (%.0f/s), seed %" PRIu64 "%s%s\n",
           total, secs, (double)total / secs, atomic_load(&soak_futures_made),
           (double)atomic_load(&soak_futures_made) / secs, cfg.seed,
           SOAK_SANITIZE[0] ? ", SANITIZE=" : "", SOAK_SANITIZE);

    atomic_store(&watchdog_stop, true);
    pthread_join(wd, NULL);
    free(tids);
    free(ops);
    free(op_counts);
    for (int i = 0; i < cfg.threads; i++)
        pthread_mutex_destroy(&parts[i].mu);
    free(parts);
    free(workers);
    free(recs);
    return 0;
}
