/* SPDX-License-Identifier: MIT */
/*
 * chan_pipeline.c - a pipeline of threads and coroutines joined by channels
 *
 *     producers --jobs--> workers --results--> collector
 *
 * Two producer threads and two producer coroutines send the numbers
 * 1..4N into `jobs`, a bounded channel: when it is full, a thread blocks
 * and a coroutine suspends (its loop runs the others meanwhile).  Two
 * worker threads and two worker coroutines take numbers from `jobs` and
 * send their squares into `results`, an unbuffered channel: each send
 * waits until the collector takes the value.  The collector, a coroutine,
 * adds them up.  Closing a channel is how "no more values" travels down
 * the pipeline: receivers drain what is buffered, then get EPIPE.
 *
 * Every number is squared exactly once, whichever worker took it, so the
 * sum is 1^2 + 2^2 + ... + (4N)^2 = M(M+1)(2M+1)/6 for M = 4N.
 *
 *     chan_pipeline [N]              default: N = 1000 numbers per producer
 *
 * The same pipeline with asyncio.Queue (coroutines only):
 *
 *     async def producer(k): for i in ...: await jobs.put(k * n + i)
 *     async def worker(): while (x := await jobs.get()) is not None:
 *                             await results.put(x * x)
 */
#include <futures.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fut_chan_t *jobs;            /* numbers, bounded */
static fut_chan_t *results;         /* squares, unbuffered */
static long n;                      /* numbers per producer */

/* ---------------------------------------------------------------------
 * The stages: the same functions run as threads and as coroutines
 * ------------------------------------------------------------------- */

/* Producer k sends k*n+1 .. k*n+n.  A full channel makes the call wait:
 * a thread blocks, a coroutine suspends. */
static void *producer(void *arg)
{
    uintptr_t k = (uintptr_t)arg;
    for (long i = 1; i <= n; i++) {
        int rc = fut_chan_send(jobs, (void *)(k * (uintptr_t)n + (uintptr_t)i), FUT_FOREVER);
        if (rc)
            return fut_raise(rc);
    }
    return NULL;
}

/* A worker squares numbers until `jobs` is closed and drained (EPIPE);
 * it returns how many it squared. */
static void *worker(void *arg)
{
    (void)arg;
    uintptr_t done = 0;
    void *v;
    int rc;
    while ((rc = fut_chan_recv(jobs, &v, FUT_FOREVER)) == 0) {
        uintptr_t x = (uintptr_t)v;
        if ((rc = fut_chan_send(results, (void *)(x * x), FUT_FOREVER)) != 0)
            break;
        done++;
    }
    return rc == EPIPE ? (void *)done : fut_raise(rc);
}

/* The collector adds squares until `results` is closed. */
static uint64_t sum;
static long received;

static void *collector(void *arg)
{
    (void)arg;
    void *v;
    while (fut_chan_recv(results, &v, FUT_FOREVER) == 0) {
        sum += (uintptr_t)v;
        received++;
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * Threads report their end through a promise, which a coroutine can
 * await without blocking its loop.
 * ------------------------------------------------------------------- */

struct thread_stage {
    fut_fn fn;
    void *arg;
    future_t *done;                 /* resolved with fn's result */
    pthread_t t;
};

static void *thread_main(void *arg)
{
    struct thread_stage *s = arg;
    void *r = s->fn(s->arg);
    future_resolve(s->done, r);
    return NULL;
}

static int thread_start(struct thread_stage *s, fut_fn fn, void *arg)
{
    s->fn = fn;
    s->arg = arg;
    s->done = future_new();
    if (!s->done)
        return ENOMEM;
    int rc = pthread_create(&s->t, NULL, thread_main, s);
    if (rc) {
        future_release(s->done);
        s->done = NULL;
    }
    return rc;
}

static struct thread_stage threads[4];   /* 2 producers, 2 workers */
static uintptr_t by_threads, by_coroutines;

/* The loop's main coroutine: spawns the coroutine stages, waits for each
 * stage to end, and closes the channel it fed. */
static void *pipeline(void *arg)
{
    (void)arg;
    future_t *prod[4] = {threads[0].done, threads[1].done,
                         fut_spawn(producer, (void *)2), fut_spawn(producer, (void *)3)};
    future_t *work[4] = {threads[2].done, threads[3].done,
                         fut_spawn(worker, NULL), fut_spawn(worker, NULL)};
    future_t *coll = fut_spawn(collector, NULL);
    if (!prod[2] || !prod[3] || !work[2] || !work[3] || !coll)
        return fut_raise(ENOMEM);   /* (the loop cancels what did start) */

    int rc = future_gather(prod, 4, NULL, FUT_FOREVER);   /* all sent */
    fut_chan_close(jobs);           /* workers drain it, then stop */
    void *counts[4];
    int rc2 = future_gather(work, 4, counts, FUT_FOREVER);
    fut_chan_close(results);        /* the collector stops */
    int rc3 = future_get(coll, NULL);

    by_threads = (uintptr_t)counts[0] + (uintptr_t)counts[1];
    by_coroutines = (uintptr_t)counts[2] + (uintptr_t)counts[3];
    for (int i = 2; i < 4; i++) {
        future_release(prod[i]);
        future_release(work[i]);
    }
    future_release(coll);
    rc = rc ? rc : rc2 ? rc2 : rc3;
    return rc ? fut_raise(rc) : NULL;
}

int main(int argc, char **argv)
{
    n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    if (n < 1 || n > 100000) {         /* the sum fits in 64 bits */
        fprintf(stderr, "usage: %s [N]   (1 <= N <= 100000)\n", argv[0]);
        return 2;
    }
    jobs = fut_chan_new(16);
    results = fut_chan_new(0);
    if (!jobs || !results) {
        perror("fut_chan_new");
        return 1;
    }
    for (int i = 0; i < 4; i++) {
        /* producers 0 and 1, then two workers */
        int rc = thread_start(&threads[i], i < 2 ? producer : worker,
                              i < 2 ? (void *)(uintptr_t)i : NULL);
        if (rc) {
            fprintf(stderr, "thread: %s\n", strerror(rc));
            return 1;       /* (a real program would stop those started) */
        }
    }

    int rc = fut_run(pipeline, NULL, NULL);

    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i].t, NULL);
        future_release(threads[i].done);
    }
    uint64_t m = 4 * (uint64_t)n;
    uint64_t expected = m * (m + 1) * (2 * m + 1) / 6;
    printf("producers: 2 threads + 2 coroutines sent %llu numbers into a channel of %zu\n",
           (unsigned long long)m, (size_t)16);
    printf("workers:   2 threads squared %llu, 2 coroutines squared %llu\n",
           (unsigned long long)by_threads, (unsigned long long)by_coroutines);
    printf("collector: %ld results, sum of squares %llu (expected %llu)\n", received,
           (unsigned long long)sum, (unsigned long long)expected);
    fut_chan_free(jobs);
    fut_chan_free(results);
    if (rc) {
        fprintf(stderr, "chan_pipeline: %s\n", strerror(rc));
        return 1;
    }
    return sum == expected && (uint64_t)received == m ? 0 : 1;
}
