/* SPDX-License-Identifier: MIT */
/*
 * onions.c - real hand work, where only parallelism helps.  Chapter 5 of
 * doc/tutorial.md.  Four onions, each 2 story minutes of CPU work on one
 * core (calibrated at start-up), chopped in 8 slices.
 *
 *     onions                 the loop, then pools of 1, 2, 3 and 4 threads
 *     onions coop 2          only the loop and a pool of 2 threads
 *     onions -w 3            a pool of 3 threads, one job per whole onion
 *     onions -w 2 3 4        the same on pools of 2, then 3, then 4 threads
 *
 * Without -w every slice is a job; with -w every onion is one job.
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>
#include <stdatomic.h>
#include <stdint.h>

enum { ONIONS = 4, SLICES = 8, MINUTES_PER_ONION = 2 };

/* ---------------------------------------------------------------------
 * The kernel: pure CPU work that no compiler can skip or shorten
 * ------------------------------------------------------------------- */

static uint64_t steps_per_slice;             /* set by calibrate(), then read-only */
static _Atomic uint64_t crumbs;              /* results, so the work is kept */

/* CPU time of the calling thread or the whole process, in ms. */
static double cpu_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One copy of the kernel, shared by the calibration and the chopping, so
 * that both time the very same machine code. */
#if defined(__GNUC__)
#define KERNEL_NOINLINE __attribute__((noinline))
#else
#define KERNEL_NOINLINE
#endif

/* A chain of xorshift steps: each depends on the one before, so the loop
 * can be neither vectorised nor skipped. */
KERNEL_NOINLINE static uint64_t chop_kernel(uint64_t x, uint64_t steps)
{
    for (uint64_t i = 0; i < steps; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

/* Times the kernel on this machine and sizes one slice: 2 minutes / 8
 * slices.  It counts the thread's CPU time, not the wall clock, so that
 * other programs on the machine do not shrink the onions, and it keeps
 * the best of 16 runs of about 10 ms, after one to warm up: in a virtual
 * machine, a busy host can slow the core for a moment, CPU time included
 * (we saw 1.73 ns per step, and bursts of 2.0 to 2.4 lasting ~150 ms). */
static void calibrate(void)
{
    uint64_t steps = 1u << 16;
    double best_ns_per_step = 0;
    for (int round = -1; round < 16; round++) {
        double t = cpu_ms(CLOCK_THREAD_CPUTIME_ID);
        atomic_fetch_add(&crumbs, chop_kernel(88172645463325252u + (unsigned)round, steps));
        double ns = (cpu_ms(CLOCK_THREAD_CPUTIME_ID) - t) * 1e6;
        if (ns < 10e6) {                     /* too short to time well: grow it */
            steps *= 2;
            round--;
            continue;
        }
        double per = ns / (double)steps;
        if (round >= 0 && (best_ns_per_step == 0 || per < best_ns_per_step))
            best_ns_per_step = per;
    }
    double slice_ms = lunch_minute_ms() * MINUTES_PER_ONION / SLICES;
    steps_per_slice = (uint64_t)(slice_ms * 1e6 / best_ns_per_step);
    printf("Calibrated: %.2f ns per kernel step; 1 story minute = %.0f ms = %llu steps.\n",
           best_ns_per_step, lunch_minute_ms(),
           (unsigned long long)(steps_per_slice * SLICES / MINUTES_PER_ONION));
}

/* ---------------------------------------------------------------------
 * Onions
 * ------------------------------------------------------------------- */

struct onion {
    char name[8];                            /* "onion-1" */
    atomic_int sliced_from, sliced;          /* slices started, finished */
};

static struct onion onions[ONIONS];

static void chop_slice(struct onion *o)
{
    if (atomic_fetch_add(&o->sliced_from, 1) == 0)
        lunch_event(o->name, "starts", "2 min of chopping");
    atomic_fetch_add(&crumbs, chop_kernel((uintptr_t)o + 1, steps_per_slice));
    if (atomic_fetch_add(&o->sliced, 1) == SLICES - 1)
        lunch_event(o->name, "done", NULL);
}

/* tutorial:begin onion-coop */
/* A whole onion: a coroutine in the loop, or a job with -w. */
static void *chop_onion(void *arg)
{
    for (int s = 0; s < SLICES; s++) {
        chop_slice(arg);                     /* real work: holds the thread */
        fut_yield();                         /* await asyncio.sleep(0)      */
    }
    return NULL;
}
/* tutorial:end onion-coop */

/* One slice of an onion: a job on the pool. */
static void *chop_one_slice(void *arg)
{
    chop_slice(arg);
    return NULL;
}

static void reset_onions(void)
{
    for (int i = 0; i < ONIONS; i++) {
        snprintf(onions[i].name, sizeof onions[i].name, "onion-%d", i + 1);
        atomic_store(&onions[i].sliced_from, 0);
        atomic_store(&onions[i].sliced, 0);
    }
}

/* How much CPU the run used, against the wall clock. */
static void cpu_note(double cpu0)
{
    double cpu = (cpu_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / lunch_minute_ms();
    char text[96];
    snprintf(text, sizeof text, "%.1f min of CPU in %.1f min: %.2f cores busy on average",
             cpu, lunch_now(), cpu / lunch_now());
    lunch_note(text);
}

/* The loop: one coroutine per onion, gathered. */
static void *chop_all_in_loop(void *arg)
{
    (void)arg;
    future_set_name(fut_current(), "make_lunch");
    future_t *fs[ONIONS];
    int rc = 0;
    for (int i = 0; i < ONIONS; i++) {
        fs[i] = fut_spawn(chop_onion, &onions[i]);
        if (!fs[i])
            rc = ENOMEM;
        else
            future_set_name(fs[i], onions[i].name);
    }
    if (rc == 0)
        rc = future_gather(fs, ONIONS, NULL, FUT_FOREVER);
    for (int i = 0; i < ONIONS; i++)
        future_release(fs[i]);
    return rc ? fut_raise(rc) : NULL;
}

static int run_coop(void)
{
    printf("\n== cooperative: one thread, the loop\n");
    reset_onions();
    lunch_begin("the cooperative loop, 4 onions");
    double cpu0 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
    int rc = fut_run(chop_all_in_loop, NULL, NULL);
    cpu_note(cpu0);
    lunch_end();
    return rc;
}

/* The pool: every slice of every onion is a job (with -w, every onion). */
static int run_pool(size_t threads, bool whole)
{
    printf("\n== pool of %zu thread%s%s\n", threads, threads > 1 ? "s" : "",
           whole ? ", one job per onion" : "");
    reset_onions();
    fut_pool_t *cooks = fut_pool_new(&(fut_pool_opts){.threads = threads, .name = "cook"});
    if (!cooks)
        return errno;
    lunch_begin(whole ? "a pool, one job per onion" : "a pool, one job per slice");
    lunch_show_cooks();
    double cpu0 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
    enum { JOBS = ONIONS * SLICES };
    future_t *jobs[JOBS];
    size_t n = 0;
    int rc = 0;
    /* tutorial:begin onion-pool */
    for (int s = 0; s < (whole ? 1 : SLICES) && rc == 0; s++)
        for (int i = 0; i < ONIONS && rc == 0; i++) {
            future_t *f = fut_pool_submit(cooks, whole ? chop_onion : chop_one_slice,
                                          &onions[i]);   /* executor.submit */
            if (!f) {
                rc = errno;
            } else {
                future_set_name(f, onions[i].name);
                jobs[n++] = f;
            }
        }
    int grc = future_gather(jobs, n, NULL, FUT_FOREVER); /* wait for all 32 */
    /* tutorial:end onion-pool */
    cpu_note(cpu0);
    lunch_end();
    for (size_t j = 0; j < n; j++)
        future_release(jobs[j]);
    fut_pool_free(cooks);
    return rc ? rc : grc;
}

int main(int argc, char **argv)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("Onions: %d onions, each %d story minutes of CPU work on one core.\n",
           ONIONS, MINUTES_PER_ONION);
    printf("This machine has %ld online core%s.\n", cores, cores == 1 ? "" : "s");
    calibrate();

    bool whole = false;
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "-w") == 0) {
        whole = true;
        first = 2;
    }
    static char *all[] = {"coop", "1", "2", "3", "4"};
    char **modes = argc > first ? argv + first : all;
    int nmodes = argc > first ? argc - first : 5;
    int rc = 0;
    for (int m = 0; m < nmodes && rc == 0; m++) {
        if (strcmp(modes[m], "coop") == 0) {
            rc = run_coop();
        } else {
            long t = strtol(modes[m], NULL, 10);
            if (t < 1 || t > 64) {
                fprintf(stderr, "usage: %s [-w] [coop|THREADS]...\n", argv[0]);
                return 2;
            }
            rc = run_pool((size_t)t, whole);
        }
    }
    if (rc)
        fprintf(stderr, "onions: %s\n", strerror(rc));
    return rc ? 1 : 0;
}
