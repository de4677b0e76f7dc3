/* SPDX-License-Identifier: MIT */
/*
 * libuv on BENCH.md's waiting workloads, set up as ../shared/peers/src/
 * w{3,5}_uv.c do (written here again): one-shot uv_timer_t per task, one
 * loop, one thread, callbacks and no stacks (the stackless design a
 * stackful loop is compared against).
 *
 *   uv w3 [N=1000] [ms=10]          N timers of 10 ms: wall
 *   uv w5 [N=100000] [ms=100]       N timers of 100 ms: wall, peak RSS,
 *                                   bytes per task (as bench/w5_loop.c)
 *   uv timers N [K=8] [max_ms=4]    N timers, each re-armed K times for a
 *                                   pseudo-random 1..max_ms: CPU time of
 *                                   the loop thread per timer (the
 *                                   counterpart of bench/timers.c)
 */
#include <uv.h>
#include <stdint.h>
#include "bench.h"
#include "stats.h"

typedef struct {
    uv_timer_t t;
    long idx;
    long left;
    uint64_t seed;
} job_t;

static long sum, max_ms;

static void on_once(uv_timer_t *t)
{
    job_t *j = (job_t *)t;
    sum += j->idx;
    uv_close((uv_handle_t *)t, NULL);
}

static void on_rearm(uv_timer_t *t)
{
    job_t *j = (job_t *)t;
    if (--j->left > 0) {
        uv_timer_start(t, on_rearm, 1 + bench_rand(&j->seed) % (uint64_t)max_ms, 0);
        return;
    }
    sum += j->idx;
    uv_close((uv_handle_t *)t, NULL);
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    uv_loop_t *loop = uv_default_loop();
    char label[64];
    if (strcmp(w, "w3") == 0 || strcmp(w, "w5") == 0) {
        int w5 = w[1] == '5';
        long n = arg_long(argc, argv, 2, w5 ? 100000 : 1000);
        long ms = arg_long(argc, argv, 3, w5 ? 100 : 10);
        CHECK(n > 0 && ms >= 0, "usage: uv w3|w5 [N] [ms]");
        long rss0 = proc_status_kb("VmRSS");
        uint64_t t0 = now_ns();
        job_t *jobs = calloc((size_t)n, sizeof *jobs);
        CHECK(jobs != NULL, "calloc");
        uv_update_time(loop);
        for (long i = 0; i < n; i++) {
            jobs[i].idx = i;
            uv_timer_init(loop, &jobs[i].t);
            uv_timer_start(&jobs[i].t, on_once, (uint64_t)ms, 0);
        }
        uv_run(loop, UV_RUN_DEFAULT);
        uint64_t t1 = now_ns();
        CHECK(sum == n * (n - 1) / 2, "sum");
        bench_label(label, sizeof label, "libuv-timer", n, w5 ? 100000 : 1000, 0, 0);
        if (w5) {
            long hwm = proc_status_kb("VmHWM");
            report("W5", label, "wall", (double)(t1 - t0) / 1e6, "ms");
            report("W5", label, "peak_rss", (double)hwm, "KB");
            report("W5", label, "bytes_per_task", (double)(hwm - rss0) * 1024.0 / (double)n, "B");
        } else {
            report("W3", label, "wall", (double)(t1 - t0) / 1e6, "ms");
        }
        free(jobs);
    } else if (strcmp(w, "timers") == 0) {
        long n = arg_long(argc, argv, 2, 10000);
        long k = arg_long(argc, argv, 3, 8);
        max_ms = arg_long(argc, argv, 4, 4);
        CHECK(n > 0 && k > 0 && max_ms > 0, "usage: uv timers N [K] [max_ms]");
        job_t *jobs = calloc((size_t)n, sizeof *jobs);
        CHECK(jobs != NULL, "calloc");
        uv_update_time(loop);
        uint64_t c0 = thread_cpu_ns(), w0 = now_ns();
        for (long i = 0; i < n; i++) {
            jobs[i].idx = i;
            jobs[i].left = k;
            jobs[i].seed = (uint64_t)i * 7919u + 1;
            uv_timer_init(loop, &jobs[i].t);
            uv_timer_start(&jobs[i].t, on_rearm, 1 + bench_rand(&jobs[i].seed) % (uint64_t)max_ms, 0);
        }
        uv_run(loop, UV_RUN_DEFAULT);
        uint64_t c1 = thread_cpu_ns(), w1 = now_ns();
        CHECK(sum == n * (n - 1) / 2, "sum");
        snprintf(label, sizeof label, "libuv-timer-N%ld", n);
        report("W5-timers", label, "cpu_ns_per_sleep", (double)(c1 - c0) / ((double)n * (double)k), "ns");
        report("W5-timers", label, "sleep_wall", (double)(w1 - w0) / 1e6, "ms");
        free(jobs);
    } else {
        fprintf(stderr, "usage: uv w3|w5|timers [sizes]\n");
        return 2;
    }
    uv_loop_close(loop);
    return 0;
}
