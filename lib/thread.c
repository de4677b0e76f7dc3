/* SPDX-License-Identifier: MIT */
/*
 * thread.c - what a thread carries: time, the parker, the per-thread
 * state, and how a plain thread waits
 *
 * Lifetimes.  struct fut__thread is the library's one thread-local.  The
 * first resource with a cleanup (a parker, a future chunk) registers a
 * pthread key destructor, which at thread exit hands the parker to the
 * process-wide free list and retires the future chunk.  Parkers are never
 * freed (see internal.h, "Parker"): a process holds at most as many as it
 * ever had threads waiting at once.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

FUT_TLS struct fut__thread fut__thr;

/* How long a thread spins on a waiter before sleeping: enough to catch a
 * job finishing on a spinning pool thread (a round trip of a few
 * microseconds) without burning a core when the wait is long. */
#define WAIT_SPIN_NS 4000u

/* ---------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------- */

uint64_t fut__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t fut__deadline(long timeout_ms)
{
    if (timeout_ms < 0)
        return FUT_NO_DEADLINE;
    uint64_t now = fut__now_ns();
    /* Clamp instead of wrapping: a deadline past UINT64_MAX is "never". */
    if ((uint64_t)timeout_ms > (FUT_NO_DEADLINE - now) / 1000000u)
        return FUT_NO_DEADLINE;
    return now + (uint64_t)timeout_ms * 1000000u;
}

struct timespec fut__timespec(uint64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

/* ---------------------------------------------------------------------
 * How many CPUs: the affinity mask, then a cgroup v2 quota
 * ------------------------------------------------------------------- */

/* The quota of one cgroup directory's cpu.max ("max 100000" or "QUOTA
 * PERIOD"), rounded up to whole CPUs; 0 when there is none. */
static size_t cgroup_quota(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", dir);
    FILE *fp = fopen(path, "re");
    if (!fp)
        return 0;
    char quota[32] = "";
    unsigned long period = 0;
    int n = fscanf(fp, "%31s %lu", quota, &period);
    fclose(fp);
    if (n != 2 || period == 0 || strcmp(quota, "max") == 0)
        return 0;
    char *end;
    unsigned long q = strtoul(quota, &end, 10);
    if (*end || q == 0)
        return 0;
    return (size_t)((q + period - 1) / period);
}

/* The smallest quota on the way from the process's cgroup to the root, as
 * Go's runtime does: a parent's limit applies to its children. */
static size_t cgroup_cpus(void)
{
    FILE *fp = fopen("/proc/self/cgroup", "re");
    if (!fp)
        return 0;
    char line[4096], dir[4096] = "";
    bool found = false;
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "0::", 3) == 0) {       /* the v2 hierarchy */
            snprintf(dir, sizeof dir, "%s", line + 3);
            dir[strcspn(dir, "\n")] = '\0';
            found = true;
            break;
        }
    }
    fclose(fp);
    if (!found)
        return 0;
    size_t best = 0;
    for (;;) {
        size_t q = cgroup_quota(strcmp(dir, "/") == 0 ? "" : dir);
        if (q && (!best || q < best))
            best = q;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            break;
        *slash = '\0';
    }
    size_t root = cgroup_quota("");
    if (root && (!best || root < best))
        best = root;
    return best;
}

size_t fut__cpu_count(void)
{
    size_t n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = (size_t)CPU_COUNT(&set);
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (size_t)c : 1;
    }
    size_t q = cgroup_cpus();
    if (q && q < n)
        n = q;
    return n ? n : 1;
}

/* ---------------------------------------------------------------------
 * Per-thread cleanup
 * ------------------------------------------------------------------- */

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static int thread_key_err;

static pthread_mutex_t parker_free_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fut__parker *parker_free;     /* guarded by parker_free_mu */

static void thread_exit(void *p)
{
    struct fut__thread *t = p;
    fut__chunk_thread_exit(t);
    if (t->parker) {
        pthread_mutex_lock(&parker_free_mu);
        t->parker->free_next = parker_free;
        parker_free = t->parker;
        pthread_mutex_unlock(&parker_free_mu);
        t->parker = NULL;
    }
    t->attached = false;
}

static void thread_key_init(void)
{
    thread_key_err = pthread_key_create(&thread_key, thread_exit);
}

int fut__thread_attach(void)
{
    struct fut__thread *t = &fut__thr;
    if (FUT_LIKELY(t->attached))
        return 0;
    if (pthread_once(&thread_once, thread_key_init) != 0 || thread_key_err != 0)
        return ENOMEM;
    if (pthread_setspecific(thread_key, t) != 0)
        return ENOMEM;
    t->attached = true;
    return 0;
}

/* ---------------------------------------------------------------------
 * Parker
 * ------------------------------------------------------------------- */

static struct fut__parker *parker_make(void)
{
    pthread_mutex_lock(&parker_free_mu);
    struct fut__parker *pk = parker_free;
    if (pk)
        parker_free = pk->free_next;
    pthread_mutex_unlock(&parker_free_mu);
    if (pk)
        return pk;
    pk = fut__calloc(1, sizeof *pk);
    if (!pk)
        return NULL;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        goto fail;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&pk->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        goto fail;
    if (pthread_mutex_init(&pk->mu, NULL) != 0) {
        pthread_cond_destroy(&pk->cv);
        goto fail;
    }
    return pk;
fail:
    free(pk);
    return NULL;
}

struct fut__parker *fut__parker_self(void)
{
    struct fut__thread *t = &fut__thr;
    if (FUT_LIKELY(t->parker != NULL))
        return t->parker;
    if (fut__thread_attach() != 0)
        return NULL;
    t->parker = parker_make();
    return t->parker;
}

void fut__unpark(struct fut__parker *pk)
{
    pthread_mutex_lock(&pk->mu);
    pk->signalled = 1;
    pthread_cond_signal(&pk->cv);
    pthread_mutex_unlock(&pk->mu);
}

/* `stop` is checked under pk->mu before sleeping so that a firing that
 * happened before we took the lock is not slept through (the firer
 * publishes it before taking pk->mu). */
int fut__park(struct fut__parker *pk, atomic_int *stop, uint64_t deadline)
{
    int rc = 0;
    pthread_mutex_lock(&pk->mu);
    while (!pk->signalled && !(stop && atomic_load_explicit(stop, memory_order_acquire))) {
        if (deadline == FUT_NO_DEADLINE) {
            pthread_cond_wait(&pk->cv, &pk->mu);
        } else {
            struct timespec ts = fut__timespec(deadline);
            if (pthread_cond_timedwait(&pk->cv, &pk->mu, &ts) == ETIMEDOUT) {
                rc = pk->signalled ? 0 : ETIMEDOUT;
                break;
            }
        }
    }
    pk->signalled = 0;
    pthread_mutex_unlock(&pk->mu);
    return rc;
}

/* ---------------------------------------------------------------------
 * The plain thread's scheduler: spin, then sleep on the parker
 * ------------------------------------------------------------------- */

static bool fired_cond(void *w)
{
    return fut__waiter_fired(w);
}

static int plain_block(struct fut__sched *s, struct fut__waiter *w, uint64_t deadline)
{
    (void)s;
    uint64_t now = fut__now_ns();
    uint64_t spin = deadline > now ? deadline - now : 0;
    if (fut__spin(fired_cond, w, spin < WAIT_SPIN_NS ? spin : WAIT_SPIN_NS))
        return 0;
    struct fut__parker *pk = w->who;
    if (!pk) {
        /* No parker could be made (out of memory): poll politely. */
        while (!fut__waiter_fired(w)) {
            if (fut__now_ns() >= deadline)
                return ETIMEDOUT;
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        return 0;
    }
    for (;;) {
        int rc = fut__park(pk, &w->fired, deadline);
        if (fut__waiter_fired(w))
            return 0;
        if (rc == ETIMEDOUT)
            return ETIMEDOUT;
    }
}

void fut__parker_wake(struct fut__waiter *w)
{
    struct fut__parker *pk = w->who;   /* read before fired: w may go */
    /* release: pairs with the owner's acquire load of fired. */
    atomic_store_explicit(&w->fired, 1, memory_order_release);
    if (pk)
        fut__unpark(pk);               /* type-stable: see "Parker" */
}

void fut__parker_settle(struct fut__waiter *w)
{
    /* The firer's last access to w is its store of fired; the unpark that
     * follows touches only the type-stable parker. */
    while (!fut__waiter_fired(w))
        sched_yield();
}

void *fut__parker_who(struct fut__sched *s)
{
    (void)s;
    return fut__parker_self();         /* NULL on ENOMEM: block then polls */
}

static int plain_cancelled(struct fut__sched *s)
{
    (void)s;
    return 0;
}

atomic_bool fut__caller_runs_used;

/* A plain thread about to wait runs the awaited jobs that have not started
 * of pools made with caller_runs (their executor's run_waited). */
static bool plain_before_wait(struct fut__sched *s, future_t *const fs[], size_t n)
{
    (void)s;
    if (FUT_LIKELY(!atomic_load_explicit(&fut__caller_runs_used, memory_order_relaxed)))
        return false;
    bool ran = false;
    for (size_t i = 0; i < n; i++) {
        const struct fut__exec *e = fs[i]->exec;
        if (e && e->ops->run_waited &&
            atomic_load_explicit(&fs[i]->state, memory_order_relaxed) == FUTURE_PENDING)
            ran |= e->ops->run_waited(fs[i]);
    }
    return ran;
}

static const struct fut__sched_ops plain_ops = {
    .who = fut__parker_who,
    .block = plain_block,
    .wake = fut__parker_wake,
    .settle = fut__parker_settle,
    .cancelled = plain_cancelled,
    .before_wait = plain_before_wait,
};

struct fut__sched fut__plain_sched = {&plain_ops, NULL};
