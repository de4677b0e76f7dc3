/* SPDX-License-Identifier: MIT */
/*
 * GLib's GThreadPool on BENCH.md's pool workloads, set up as
 * ../shared/peers/src/w{1,2,3,6}_glib.c do (a fair setup, written here
 * again): g_thread_pool_new(exclusive = TRUE) with one thread per core,
 * and, since GThreadPool has no futures, the cheapest sensible completion:
 * one count-down latch for a fan-out (W1-W3, results in per-job slots), a
 * mutex + condition variable future for a single round trip (W6).  The
 * submitting thread is a third thread beside the T workers, as in
 * libfutures' pool.
 *
 *   glib w1 [N=1000000] [threads=ncpus] [rounds=1]
 *            rounds > 1: the W1-scale rows (warm median, cold first round)
 *   glib w2 [N=2000] [iters=26000] [threads=ncpus]   speedup
 *   glib w3 [N=1000] [ms=10] [threads=2]              wall
 *   glib w6 [N=20000] [threads=ncpus]                 median / p99 round trip
 */
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "bench.h"
#include "stats.h"

/* ---- a latch and a one-value future (mutex + condvar) ---------------- */
typedef struct {
    atomic_long pending;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} latch_t;

static void latch_init(latch_t *l, long n)
{
    atomic_init(&l->pending, n);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->done = n == 0;
}

static void latch_count_down(latch_t *l)
{
    if (atomic_fetch_sub_explicit(&l->pending, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&l->mu);
        l->done = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
}

static void latch_wait(latch_t *l)
{
    pthread_mutex_lock(&l->mu);
    while (!l->done)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    long value;
} cfuture_t;

/* ---- jobs ------------------------------------------------------------ */
enum kind { K_INC, K_KERNEL, K_SLEEP, K_FUTURE };
typedef struct {
    long arg;
    uint64_t result;
    latch_t *latch;
    cfuture_t *fut;
} job_t;

static enum kind job_kind;
static long iters, sleep_ms;

static void worker(gpointer data, gpointer user)
{
    (void)user;
    job_t *j = data;
    switch (job_kind) {
    case K_INC:
        j->result = (uint64_t)j->arg + 1;
        break;
    case K_KERNEL:
        j->result = hash_kernel((uint64_t)j->arg, iters);
        break;
    case K_SLEEP: {
        struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        j->result = (uint64_t)j->arg;
        break;
    }
    case K_FUTURE:
        pthread_mutex_lock(&j->fut->mu);
        j->fut->value = j->arg + 1;
        j->fut->ready = 1;
        pthread_cond_signal(&j->fut->cv);
        pthread_mutex_unlock(&j->fut->mu);
        return;
    }
    latch_count_down(j->latch);
}

/* One fan-out of n jobs through the pool; returns the sum of the results. */
static uint64_t fanout(GThreadPool *pool, job_t *jobs, long n)
{
    latch_t latch;
    latch_init(&latch, n);
    for (long i = 0; i < n; i++) {
        jobs[i].arg = i;
        jobs[i].latch = &latch;
        g_thread_pool_push(pool, &jobs[i], NULL);
    }
    latch_wait(&latch);
    uint64_t sum = 0;
    for (long i = 0; i < n; i++)
        sum += jobs[i].result;
    pthread_mutex_destroy(&latch.mu);
    pthread_cond_destroy(&latch.cv);
    return sum;
}

static GThreadPool *new_pool(long nt)
{
    GError *err = NULL;
    GThreadPool *pool = g_thread_pool_new(worker, NULL, (gint)nt, TRUE, &err);
    CHECK(pool && !err, "g_thread_pool_new");
    return pool;
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    char label[64];
    if (strcmp(w, "w1") == 0) {
        long n = arg_long(argc, argv, 2, 1000000);
        long nt = arg_long(argc, argv, 3, ncpus());
        long rounds = arg_long(argc, argv, 4, 1);
        CHECK(n > 0 && nt > 0 && rounds > 0, "usage: glib w1 [N] [threads] [rounds]");
        job_kind = K_INC;
        GThreadPool *pool = new_pool(nt);
        job_t *jobs = calloc((size_t)n, sizeof *jobs); /* touched before timing */
        double *per = malloc(sizeof *per * (size_t)rounds);
        CHECK(jobs && per, "calloc");
        fanout(pool, jobs, 1); /* warm-up: a worker has run one job */
        for (long r = 0; r < rounds; r++) {
            uint64_t t0 = now_ns();
            uint64_t sum = fanout(pool, jobs, n);
            uint64_t t1 = now_ns();
            CHECK(sum == (uint64_t)n * (uint64_t)(n + 1) / 2, "sum");
            per[r] = (double)(t1 - t0) / (double)n;
        }
        if (rounds > 1) {
            snprintf(label, sizeof label, "glib-GThreadPool-N%ld", n);
            double cold = per[0];
            report("W1-scale", label, "ns_per_task", bench_median(per + 1, (size_t)rounds - 1), "ns");
            report("W1-scale", label, "cold_ns_per_task", cold, "ns");
        } else {
            report("W1", bench_label(label, sizeof label, "glib-GThreadPool", n, 1000000, nt, ncpus()),
                   "ns_per_task", per[0], "ns");
        }
        g_thread_pool_free(pool, FALSE, TRUE);
        free(jobs);
        free(per);
    } else if (strcmp(w, "w2") == 0) {
        long n = arg_long(argc, argv, 2, 2000);
        iters = arg_long(argc, argv, 3, 26000);
        long nt = arg_long(argc, argv, 4, ncpus());
        CHECK(n > 0 && iters > 0 && nt > 0, "usage: glib w2 [N] [iters] [threads]");
        job_kind = K_KERNEL;
        uint64_t ref = 0;
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            ref += hash_kernel((uint64_t)i, iters);
        uint64_t t1 = now_ns();
        GThreadPool *pool = new_pool(nt);
        job_t *jobs = calloc((size_t)n, sizeof *jobs);
        CHECK(jobs != NULL, "calloc");
        uint64_t t2 = now_ns();
        uint64_t sum = fanout(pool, jobs, n);
        uint64_t t3 = now_ns();
        CHECK(sum == ref, "sum");
        report("W2", bench_label(label, sizeof label, "glib-GThreadPool", n, 2000, nt, ncpus()),
               "speedup", (double)(t1 - t0) / (double)(t3 - t2), "x");
        g_thread_pool_free(pool, FALSE, TRUE);
        free(jobs);
    } else if (strcmp(w, "w3") == 0) {
        long n = arg_long(argc, argv, 2, 1000);
        sleep_ms = arg_long(argc, argv, 3, 10);
        long nt = arg_long(argc, argv, 4, 2);
        CHECK(n > 0 && sleep_ms >= 0 && nt > 0, "usage: glib w3 [N] [ms] [threads]");
        job_kind = K_SLEEP;
        GThreadPool *pool = new_pool(nt);
        job_t *jobs = calloc((size_t)n, sizeof *jobs);
        CHECK(jobs != NULL, "calloc");
        uint64_t t0 = now_ns();
        uint64_t sum = fanout(pool, jobs, n);
        uint64_t t1 = now_ns();
        CHECK(sum == (uint64_t)n * (uint64_t)(n - 1) / 2, "sum");
        char base[48];
        snprintf(base, sizeof base, "glib-GThreadPool-%ldthr", nt);
        report("W3", bench_label(label, sizeof label, base, n, 1000, 0, 0), "wall",
               (double)(t1 - t0) / 1e6, "ms");
        g_thread_pool_free(pool, FALSE, TRUE);
        free(jobs);
    } else if (strcmp(w, "w6") == 0) {
        long n = arg_long(argc, argv, 2, 20000);
        long nt = arg_long(argc, argv, 3, ncpus());
        CHECK(n > 0 && nt > 0, "usage: glib w6 [N] [threads]");
        job_kind = K_FUTURE;
        GThreadPool *pool = new_pool(nt);
        uint64_t *lat = malloc(sizeof *lat * (size_t)n);
        CHECK(lat != NULL, "malloc");
        job_t job;
        cfuture_t fut;
        job.fut = &fut;
        for (long i = -100; i < n; i++) { /* 100 warm-up rounds */
            uint64_t t0 = now_ns();
            pthread_mutex_init(&fut.mu, NULL);
            pthread_cond_init(&fut.cv, NULL);
            fut.ready = 0;
            job.arg = i;
            g_thread_pool_push(pool, &job, NULL);
            pthread_mutex_lock(&fut.mu);
            while (!fut.ready)
                pthread_cond_wait(&fut.cv, &fut.mu);
            long v = fut.value;
            pthread_mutex_unlock(&fut.mu);
            uint64_t t1 = now_ns();
            CHECK(v == i + 1, "value");
            pthread_mutex_destroy(&fut.mu);
            pthread_cond_destroy(&fut.cv);
            if (i >= 0)
                lat[i] = t1 - t0;
        }
        bench_label(label, sizeof label, "glib-GThreadPool+condfuture", n, 20000, nt, ncpus());
        report("W6", label, "median_rtt", percentile_us(lat, (size_t)n, 50), "us");
        report("W6", label, "p99_rtt", percentile_us(lat, (size_t)n, 99), "us");
        g_thread_pool_free(pool, FALSE, TRUE);
        free(lat);
    } else {
        fprintf(stderr, "usage: glib w1|w2|w3|w6 [sizes]\n");
        return 2;
    }
    return 0;
}
