/* SPDX-License-Identifier: MIT */
/*
 * chan_pingpong.c - what a channel costs per value (lib/chan.c)
 *
 * Four shapes, each timed over N values and repeated REPS times (the
 * median is printed):
 *
 *   coro-pingpong    two coroutines on one loop bounce a counter through
 *                    two unbuffered channels: every value is a rendezvous,
 *                    a suspension and a switch (compare W4's fut_yield)
 *   thread-pingpong  the same between two threads: every value is a
 *                    cross-thread hand-over, a wake-up of a waiting thread
 *                    (spinning first, then sleeping on its parker)
 *   coro-stream      one coroutine sends N values into a channel of 64,
 *                    another receives them: suspensions only when the
 *                    buffer fills or empties
 *   thread-stream    the same between two threads, channel of 1024
 *
 *   chan_pingpong [N=200000 [REPS=5 [SHAPE]]]   SHAPE: run only the shapes
 *                                               whose name contains it
 *
 * Prints lines `CHAN libfutures-<shape> ns_per_value X ns` (bench.h's
 * report format), and checks every value arrived in order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"
#include "stats.h"

static long n;

struct pp {
    fut_chan_t *ping, *pong;       /* pingpong: there and back */
    long bad;                      /* values out of order */
};

/* Sends 1..n on ping and expects each back, plus one, on pong. */
static void *pinger(void *arg)
{
    struct pp *p = arg;
    for (long i = 1; i <= n; i++) {
        void *v;
        if (fut_chan_send(p->ping, (void *)(uintptr_t)i, FUT_FOREVER) ||
            fut_chan_recv(p->pong, &v, FUT_FOREVER))
            return fut_raise(EPIPE);
        if ((uintptr_t)v != (uintptr_t)i + 1)
            p->bad++;
    }
    fut_chan_close(p->ping);
    return NULL;
}

static void *ponger(void *arg)
{
    struct pp *p = arg;
    void *v;
    while (fut_chan_recv(p->ping, &v, FUT_FOREVER) == 0)
        if (fut_chan_send(p->pong, (void *)((uintptr_t)v + 1), FUT_FOREVER))
            break;
    return NULL;
}

/* Streams 1..n through ping (buffered); the receiver checks the order. */
static void *streamer(void *arg)
{
    struct pp *p = arg;
    for (long i = 1; i <= n; i++)
        if (fut_chan_send(p->ping, (void *)(uintptr_t)i, FUT_FOREVER))
            return fut_raise(EPIPE);
    fut_chan_close(p->ping);
    return NULL;
}

static void *drainer(void *arg)
{
    struct pp *p = arg;
    void *v;
    long next = 1;
    while (fut_chan_recv(p->ping, &v, FUT_FOREVER) == 0)
        if ((uintptr_t)v != (uintptr_t)next++)
            p->bad++;
    if (next != n + 1)
        p->bad++;
    return NULL;
}

struct shape {
    const char *name;
    size_t cap;                    /* of ping */
    bool threads;
    fut_fn a, b;
    long values;                   /* values moved per run: 2n or n */
};

struct pair_arg {
    fut_fn a, b;
    struct pp *p;
};

static void *both_coros(void *arg)
{
    struct pair_arg *pa = arg;
    future_t *fs[2] = {fut_spawn(pa->a, pa->p), fut_spawn(pa->b, pa->p)};
    CHECK(fs[0] && fs[1], "fut_spawn");
    int rc = future_gather(fs, 2, NULL, FUT_FOREVER);
    future_release(fs[0]);
    future_release(fs[1]);
    return rc ? fut_raise(rc) : NULL;
}

static double run_once(const struct shape *s)
{
    struct pp p = {fut_chan_new(s->cap), fut_chan_new(0), 0};
    CHECK(p.ping && p.pong, "fut_chan_new");
    struct pair_arg pa = {s->a, s->b, &p};
    uint64_t t0 = now_ns();
    if (s->threads) {
        pthread_t ta, tb;
        CHECK(pthread_create(&tb, NULL, s->b, &p) == 0, "pthread_create");
        CHECK(pthread_create(&ta, NULL, s->a, &p) == 0, "pthread_create");
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
    } else {
        CHECK(fut_run(both_coros, &pa, NULL) == 0, "fut_run");
    }
    uint64_t t1 = now_ns();
    CHECK(p.bad == 0, "values arrived out of order");
    fut_chan_free(p.ping);
    fut_chan_free(p.pong);
    return (double)(t1 - t0) / (double)s->values;
}

int main(int argc, char **argv)
{
    n = arg_long(argc, argv, 1, 200000);
    long reps = arg_long(argc, argv, 2, 5);
    const char *only = argc > 3 ? argv[3] : NULL;
    CHECK(n > 0 && reps > 0 && reps <= 100, "usage: chan_pingpong [N [REPS [SHAPE]]]");
    const struct shape shapes[] = {
        {"libfutures-coro-pingpong", 0, false, pinger, ponger, 2 * n},
        {"libfutures-thread-pingpong", 0, true, pinger, ponger, 2 * n},
        {"libfutures-coro-stream64", 64, false, streamer, drainer, n},
        {"libfutures-thread-stream1024", 1024, true, streamer, drainer, n},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (only && !strstr(shapes[i].name, only))
            continue;
        double v[100];
        for (long r = 0; r < reps; r++)
            v[r] = run_once(&shapes[i]);
        char label[96];
        report("CHAN", bench_label(label, sizeof label, shapes[i].name, n, 200000, 0, 0),
               "ns_per_value", bench_median(v, (size_t)reps), "ns");
    }
    return 0;
}
