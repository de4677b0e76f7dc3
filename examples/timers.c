/* SPDX-License-Identifier: MIT */
/*
 * timers.c - a thousand waits at once on one thread
 *
 * A real-world use of the cooperative loop: many tasks that mostly wait
 * (timers, retries, timeouts, polling) cost one thread, not one thread
 * each.  N coroutines each sleep their own delay, spread over 0..MAX ms,
 * with fut_sleep; all the waits overlap, so the whole run takes about the
 * longest delay, not the sum of them.  Each coroutine checks how late it
 * woke.
 *
 *     timers [-t] [N [MAX_MS]]        default: 1000 timers, 1000 ms
 *
 * -t does the same with one POSIX thread per timer (nanosleep), for
 * comparison: the same wall time, N threads created, N stacks mapped.
 *
 * The same program with asyncio:
 *
 *     async def timer(ms): await asyncio.sleep(ms / 1000)
 *     async def main(): await asyncio.gather(*(timer(d) for d in delays))
 *     asyncio.run(main())
 */
#include <futures.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct timer {
    long delay_ms;                           /* in */
    double late_ms;                          /* out: woke this late */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A coroutine: waits its delay through the library, so the loop runs the
 * other timers meanwhile. */
static void *timer_coro(void *arg)
{
    struct timer *t = arg;
    double t0 = now_ms();
    int rc = fut_sleep(t->delay_ms);         /* await asyncio.sleep(...) */
    t->late_ms = now_ms() - t0 - (double)t->delay_ms;
    return rc ? fut_raise(rc) : NULL;
}

struct all {
    struct timer *timers;
    size_t n;
};

/* The peak resident memory of this program in KiB: VmHWM, which exec
 * resets, unlike getrusage's ru_maxrss, which keeps the high-water mark
 * of whatever process exec'd us (a Python script that runs this program
 * would add its own). */
static long peak_rss_kib(const struct rusage *ru)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib >= 0 ? kib : ru->ru_maxrss;
}

/* The loop's main coroutine: spawn every timer, gather them all. */
static void *run_all(void *arg)
{
    struct all *a = arg;
    future_t **fs = calloc(a->n, sizeof *fs);
    if (!fs)
        return fut_raise(ENOMEM);
    size_t spawned = 0;
    while (spawned < a->n && (fs[spawned] = fut_spawn(timer_coro, &a->timers[spawned])))
        spawned++;
    int rc = future_gather(fs, spawned, NULL, FUT_FOREVER);
    for (size_t i = 0; i < spawned; i++)
        future_release(fs[i]);
    free(fs);
    if (rc == 0 && spawned < a->n)
        rc = ENOMEM;
    return rc ? fut_raise(rc) : NULL;
}

/* The comparison: a thread per timer, blocked in nanosleep. */
static void *timer_thread(void *arg)
{
    struct timer *t = arg;
    double t0 = now_ms();
    struct timespec ts = {t->delay_ms / 1000, (t->delay_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    t->late_ms = now_ms() - t0 - (double)t->delay_ms;
    return NULL;
}

static int run_threads(struct all *a)
{
    pthread_t *th = calloc(a->n, sizeof *th);
    if (!th)
        return ENOMEM;
    size_t started = 0;
    int rc = 0;
    for (; started < a->n; started++) {
        rc = pthread_create(&th[started], NULL, timer_thread, &a->timers[started]);
        if (rc)
            break;
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    return rc;
}

int main(int argc, char **argv)
{
    int first = 1;
    bool threads = argc > 1 && strcmp(argv[1], "-t") == 0;
    if (threads)
        first = 2;
    size_t n = argc > first ? strtoul(argv[first], NULL, 10) : 1000;
    long max_ms = argc > first + 1 ? strtol(argv[first + 1], NULL, 10) : 1000;
    if (n == 0 || max_ms < 0) {
        fprintf(stderr, "usage: %s [-t] [N [MAX_MS]]\n", argv[0]);
        return 2;
    }
    struct all a = {calloc(n, sizeof *a.timers), n};
    if (!a.timers) {
        perror("calloc");
        return 1;
    }
    /* Delays spread evenly over 0..max_ms, in a scrambled order. */
    double sum_ms = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = (i * 7919) % n;           /* 7919 is prime: a permutation */
        a.timers[i].delay_ms = n > 1 ? (long)(k * (size_t)max_ms / (n - 1)) : max_ms;
        sum_ms += (double)a.timers[i].delay_ms;
    }

    double t0 = now_ms();
    int rc = threads ? run_threads(&a) : fut_run(run_all, &a, NULL);
    double wall = now_ms() - t0;

    double worst = 0;
    for (size_t i = 0; i < n; i++)
        if (a.timers[i].late_ms > worst)
            worst = a.timers[i].late_ms;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%zu timers (%s): %.0f ms of waiting in total, done in %.1f ms of wall time\n",
           n, threads ? "one thread each" : "coroutines on one thread", sum_ms, wall);
    printf("latest wake-up: %.2f ms after its deadline; peak RSS %ld KiB; "
           "CPU %.1f ms user + %.1f ms system\n",
           worst, peak_rss_kib(&ru),
           (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3,
           (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3);
    if (rc)
        fprintf(stderr, "timers: %s\n", strerror(rc));
    free(a.timers);
    return rc ? 1 : 0;
}
