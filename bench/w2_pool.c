/* SPDX-License-Identifier: MIT */
/*
 * W2 fanout-cpu, libfutures pool (BENCH.md): N jobs of the fixed integer-hash
 * kernel (hash_kernel(i, iters), ~50 us at 26000 iterations).  As the peers
 * (w2_tbb.cc): a sequential loop over the same N kernels in the same process
 * first, then the pool (created and warmed before timing) runs them, every
 * result is stored and the sum checked against the sequential one.  Timed:
 * the submits, the gather, the sum and the releases of the futures.
 *
 *   w2_pool [N=2000] [iters=26000] [threads=ncpus] [caller_runs=0]
 *
 * Prints: W2 libfutures-pool speedup X x   (sequential wall / pool wall;
 * label gets -<t>thr when threads differ from ncpus).  With W2_RUNQ=1 in
 * the environment, also "W2 <label> run_delay X ms": how long the pool's
 * workers waited for a CPU during the timed part (schedstat;
 * bench/w2_placement.sh uses it).  W2_PIN=1 pins worker "w2-k" to the
 * k-th CPU of the process's affinity mask: a check of that explanation,
 * not a way the library runs.
 */
#include <dirent.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <futures.h>
#include "bench.h"

static long iters;
static uint64_t *res;

static void *kernel_job(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    res[i] = hash_kernel(i, iters);
    return NULL;
}

/* Calls fn(tid, k) for each thread named "w2-k" (the pool's workers name
 * themselves when they start); returns how many there were. */
static int each_worker(void (*fn)(pid_t, int, void *), void *ctx)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL) {
        char path[300], comm[32] = "";
        int k;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof comm, f) && sscanf(comm, "w2-%d", &k) == 1 && k >= 0) {
            if (fn)
                fn((pid_t)atoi(e->d_name), k, ctx);
            n++;
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

/* Adds tid's run_delay (the second field of its schedstat: nanoseconds
 * runnable but waiting for a CPU) to the struct run_delay at arg. */
struct run_delay {
    long long ns;
    int threads;
};

static void add_run_delay(pid_t tid, int k, void *arg)
{
    struct run_delay *rd = arg;
    char path[64];
    unsigned long long run, delay;
    (void)k;
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fscanf(f, "%llu %llu", &run, &delay) == 2) {
        rd->ns += (long long)delay;
        rd->threads++;
    }
    fclose(f);
}

/* W2_RUNQ=1: how long the workers have waited for a CPU, summed, in ns;
 * -1 where the kernel does not keep it.  Its difference over the timed
 * part is CPU time the workers were kept from, as when two of them share
 * one CPU while another idles. */
static long long workers_run_delay_ns(void)
{
    struct run_delay rd = { 0, 0 };
    each_worker(add_run_delay, &rd);
    return rd.threads > 0 ? rd.ns : -1;
}

/* Waits (up to 5 s) until all nt workers have started and named themselves:
 * W2_RUNQ and W2_PIN look for them by name. */
static bool workers_named(long nt)
{
    for (int i = 0; i < 5000; i++) {
        if (each_worker(NULL, NULL) >= nt)
            return true;
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    return false;
}

struct pin_ctx {
    int cpus[CPU_SETSIZE], ncpu, pinned;
};

static void pin_one(pid_t tid, int k, void *arg)
{
    struct pin_ctx *p = arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(p->cpus[k % p->ncpu], &one);
    if (sched_setaffinity(tid, sizeof one, &one) == 0)
        p->pinned++;
}

/* W2_PIN=1: each worker thread "w2-k" to the k-th CPU this process may
 * use; returns how many were pinned. */
static int pin_workers(void)
{
    cpu_set_t mask;
    struct pin_ctx p = { .ncpu = 0, .pinned = 0 };
    if (sched_getaffinity(0, sizeof mask, &mask) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &mask))
            p.cpus[p.ncpu++] = c;
    if (p.ncpu > 0)
        each_worker(pin_one, &p);
    return p.pinned;
}

static void *nop(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 2000);
    iters = arg_long(argc, argv, 2, 26000);
    long nt = arg_long(argc, argv, 3, ncpus());
    long cr = arg_long(argc, argv, 4, 0);
    CHECK(n > 0 && iters > 0 && nt > 0, "usage: w2_pool [N] [iters] [threads] [caller_runs]");

    res = calloc((size_t)n, sizeof *res);
    future_t **fs = malloc(sizeof *fs * (size_t)n);
    CHECK(res && fs, "malloc");
    memset(fs, 0, sizeof *fs * (size_t)n); /* touched before timing */

    uint64_t ref = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        ref += hash_kernel((uint64_t)i, iters);
    uint64_t t1 = now_ns();

    /* The pool starts after the sequential loop (as TBB's threads do in
     * w2_tbb.cc), so no idle worker shares the CPU with it. */
    /* caller_runs=1: the gathering thread computes queued jobs too (as
     * TBB's does); label -callerruns */
    fut_pool_opts opts = { .threads = (size_t)nt, .queue_max = 0, .name = "w2",
                           .caller_runs = cr != 0 };
    fut_pool_t *pool = fut_pool_new(&opts);
    CHECK(pool != NULL, "fut_pool_new");

    future_t *w = fut_pool_submit(pool, nop, NULL); /* warm-up */
    CHECK(w != NULL && future_get(w, NULL) == 0, "warm-up");
    future_release(w);

    const char *env_pin = getenv("W2_PIN"), *env_runq = getenv("W2_RUNQ");
    bool pin = env_pin && *env_pin == '1', runq = env_runq && *env_runq == '1';
    if (pin || runq)
        CHECK(workers_named(nt), "W2_PIN/W2_RUNQ: the workers did not start");
    CHECK(!pin || pin_workers() == (int)nt, "W2_PIN: pinning the workers");
    long long rd0 = runq ? workers_run_delay_ns() : -1;
    uint64_t t2 = now_ns();
    for (long i = 0; i < n; i++) {
        fs[i] = fut_pool_submit(pool, kernel_job, (void *)(uintptr_t)i);
        CHECK(fs[i] != NULL, "fut_pool_submit");
    }
    int rc = future_gather(fs, (size_t)n, NULL, FUT_FOREVER);
    uint64_t sum = 0;
    for (long i = 0; i < n; i++)
        sum += res[i];
    for (long i = 0; i < n; i++)
        future_release(fs[i]);
    uint64_t t3 = now_ns();
    long long rd1 = rd0 >= 0 ? workers_run_delay_ns() : -1;
    CHECK(rc == 0, "future_gather");
    CHECK(sum == ref, "sum");

    char label[64];
    report("W2", bench_label(label, sizeof label,
                             cr ? "libfutures-pool-callerruns"
                                : pin ? "libfutures-pool-pinned"
                                                     : "libfutures-pool", n, 2000,
                             nt, ncpus()),
           "speedup", (double)(t1 - t0) / (double)(t3 - t2), "x");
    if (rd0 >= 0 && rd1 >= 0)
        report("W2", label, "run_delay", (double)(rd1 - rd0) / 1e6, "ms");
    fut_pool_free(pool);
    free(fs);
    free(res);
    return 0;
}
