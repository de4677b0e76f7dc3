/* SPDX-License-Identifier: MIT */
/*
 * W4 ctx-switch, libfutures cooperative loop (BENCH.md): two coroutines
 * alternately fut_yield() (through the loop's scheduler); N = 2,000,000
 * switches in total, one switch = one fut_yield.  As the Boost.Fiber peer
 * (w4_bfiber.cc) the clock runs from before the two are spawned until both
 * are joined (here: future_gather in the main coroutine).
 *
 *   w4_loop [N=2000000]
 *
 * Prints: W4 libfutures-yield ns_per_switch X ns   (-N<n> when N differs).
 */
#include <errno.h>
#include <stdint.h>
#include <futures.h>
#include "bench.h"

/* The Makefile builds this program twice: against the default library
 * (assembly switch) and against a CORO=ucontext one, labelled apart. */
#ifndef W4_LABEL
#define W4_LABEL "libfutures-yield"
#endif

static long half;
static long count[2];
static uint64_t t0, t1;

static void *pinger(void *arg)
{
    long *c = arg;
    for (long i = 0; i < half; i++) {
        (*c)++;
        if (fut_yield() != 0)
            return fut_raise(ECANCELED);
    }
    return NULL;
}

static void *main_coro(void *unused)
{
    (void)unused;
    t0 = now_ns();
    future_t *fs[2];
    fs[0] = fut_spawn(pinger, &count[0]);
    fs[1] = fut_spawn(pinger, &count[1]);
    CHECK(fs[0] && fs[1], "fut_spawn");
    int rc = future_gather(fs, 2, NULL, FUT_FOREVER);
    t1 = now_ns();
    CHECK(rc == 0, "future_gather");
    future_release(fs[0]);
    future_release(fs[1]);
    return NULL;
}

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 2000000);
    half = n / 2;
    CHECK(half > 0, "usage: w4_loop [N]");
    int rc = fut_run(main_coro, NULL, NULL);
    CHECK(rc == 0, "fut_run");
    CHECK(count[0] == half && count[1] == half, "counter");

    char label[64];
    report("W4", bench_label(label, sizeof label, W4_LABEL, n, 2000000, 0, 0),
           "ns_per_switch", (double)(t1 - t0) / (double)(2 * half), "ns");
    return 0;
}
