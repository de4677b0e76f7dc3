/* SPDX-License-Identifier: MIT */
/*
 * lunch.h - the lunch story's clock, printer and hands, shared by the
 * lunch examples (lunch_*.c, onions.c).  Plain C11 + POSIX; it does not
 * use libfutures, so lunch_sequential.c builds without the library.
 *
 * The story is told in *story minutes*.  One story minute lasts 100 ms of
 * wall time by default, so a 15-minute lunch takes 1.5 s.  Set the
 * environment variable LUNCH_MINUTE_MS to change it:
 *
 *     LUNCH_MINUTE_MS=1000 build/examples/lunch_coop    # real-ish seconds
 *     LUNCH_MINUTE_MS=20   build/examples/lunch_coop    # what the tests use
 *
 * Every program prints
 *
 *     Lunch preparation begins (<how>).
 *     [  0.0 min] pasta    starts   10 min on the stove
 *     ...                                      one line per event
 *     Eating after N min of prep time.
 *
 * where an event line is "[<t> min] <dish> <starts|done>" and N is the
 * elapsed wall time divided by the story minute, rounded to the nearest
 * whole minute.  tests/test_examples.c parses exactly this format.
 *
 * A trace without the library.  lunch_sequential.c uses no library, so
 * FUT_TRACE cannot record it; lunch_trace_begin()/lunch_trace_end() below
 * record its steps by hand and, when FUT_TRACE is set, write them at
 * lunch_end() in the same Chrome trace-event JSON that lib/trace.c writes
 * (one "thread_name" metadata event, then one "ph":"X" complete event per
 * step, times in microseconds), so tools/trace2svg draws it like the rest.
 * Only lunch_sequential.c calls them: the library-based examples must not,
 * or the two writers would race for the same file.
 */
#ifndef LUNCH_H
#define LUNCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE        /* pthread_getname_np; include lunch.h first */
#endif

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * The clock: story minutes since lunch_begin()
 * ------------------------------------------------------------------- */

static double lunch_minute;        /* ms per story minute; set by lunch_begin */
static struct timespec lunch_t0;   /* set by lunch_begin, then read-only */
static bool lunch_who;             /* print the thread's name on each event */

/* The length of one story minute in ms: $LUNCH_MINUTE_MS, default 100. */
static inline double lunch_minute_ms(void)
{
    if (lunch_minute > 0)
        return lunch_minute;
    const char *e = getenv("LUNCH_MINUTE_MS");
    double ms = e && *e ? strtod(e, NULL) : 0;
    lunch_minute = ms > 0 ? ms : 100;
    return lunch_minute;
}

/* Story minutes as milliseconds, for fut_sleep(). */
static inline long lunch_ms(double minutes)
{
    return (long)(minutes * lunch_minute_ms() + 0.5);
}

static inline double lunch_elapsed_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - lunch_t0.tv_sec) * 1e3 +
           (double)(now.tv_nsec - lunch_t0.tv_nsec) / 1e6;
}

/* Story minutes since lunch_begin(). */
static inline double lunch_now(void)
{
    return lunch_elapsed_ms() / lunch_minute_ms();
}

/* Starts the clock and prints the first line.  `how` says which way of
 * cooking this is.  Call it before any thread or coroutine that prints.
 * It names the calling thread "cook": the name that top -H, debuggers and
 * the FUT_TRACE timelines show for the loop's thread. */
static inline void lunch_begin(const char *how)
{
    pthread_setname_np(pthread_self(), "cook");
    setvbuf(stdout, NULL, _IOLBF, 0);   /* each line as it happens, even in a pipe */
    lunch_minute_ms();
    clock_gettime(CLOCK_MONOTONIC, &lunch_t0);
    printf("Lunch preparation begins (%s).\n", how);
}

/* Prints the calling thread's name on every event (for the pool). */
static inline void lunch_show_cooks(void)
{
    lunch_who = true;
}

static inline void lunch_trace_event(const char *dish, const char *what);

/* One event line: "[  2.0 min] avocado  done".  `detail` may be NULL.
 * Thread-safe: one printf per line. */
static inline void lunch_event(const char *dish, const char *what, const char *detail)
{
    char who[32] = "";
    if (lunch_who) {
        char name[16];
        if (pthread_getname_np(pthread_self(), name, sizeof name) == 0)
            snprintf(who, sizeof who, "  [%s]", name);
    }
    if (detail)
        printf("[%5.1f min] %-8s %-7s %s%s\n", lunch_now(), dish, what, detail, who);
    else
        printf("[%5.1f min] %-8s %s%s\n", lunch_now(), dish, what, who);
    lunch_trace_event(dish, what);
}

/* A remark that is not a dish event (the tests ignore these lines). */
static inline void lunch_note(const char *text)
{
    printf("[%5.1f min] -- %s\n", lunch_now(), text);
}

static inline void lunch_trace_write(void);

/* Prints "Eating after N min of prep time." and returns N. */
static inline int lunch_end(void)
{
    double minutes = lunch_now();
    int n = (int)(minutes + 0.5);
    printf("Eating after %d min of prep time.\n", n);
    lunch_trace_write();
    return n;
}

/* ---------------------------------------------------------------------
 * The hands: a plain blocking wait
 * ------------------------------------------------------------------- */

/* Blocks the calling thread for `minutes` story minutes with nanosleep().
 * The library never hears of it: inside a coroutine it holds the whole
 * loop (Python: time.sleep() inside an `async def`).  This is how the
 * cook peels an avocado: nobody can do it for him. */
static inline void lunch_block(double minutes)
{
    long long ns = (long long)(minutes * lunch_minute_ms() * 1e6);
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---------------------------------------------------------------------
 * A trace without the library (lunch_sequential.c only; see the top)
 * ------------------------------------------------------------------- */

enum { LUNCH_TRACE_MAX = 16 };
static struct {
    char name[16];
    double t0_ms, t1_ms;           /* since lunch_begin(); t1 < 0: open */
} lunch_steps[LUNCH_TRACE_MAX];    /* main thread only */
static int lunch_nsteps;
static bool lunch_by_hand;

/* From now on every "starts" event opens a step named after its dish and
 * the matching "done" closes it; lunch_end() writes them to $FUT_TRACE. */
static inline void lunch_trace_by_hand(void)
{
    lunch_by_hand = true;
}

static inline void lunch_trace_event(const char *dish, const char *what)
{
    if (!lunch_by_hand)
        return;
    if (strcmp(what, "starts") == 0 && lunch_nsteps < LUNCH_TRACE_MAX) {
        snprintf(lunch_steps[lunch_nsteps].name, sizeof lunch_steps[0].name, "%s", dish);
        lunch_steps[lunch_nsteps].t0_ms = lunch_elapsed_ms();
        lunch_steps[lunch_nsteps++].t1_ms = -1;
    } else if (strcmp(what, "done") == 0) {
        for (int i = lunch_nsteps - 1; i >= 0; i--)
            if (lunch_steps[i].t1_ms < 0 && strcmp(lunch_steps[i].name, dish) == 0) {
                lunch_steps[i].t1_ms = lunch_elapsed_ms();
                break;
            }
    }
}

/* Writes the recorded steps to $FUT_TRACE, if set and if any were
 * recorded, in lib/trace.c's format: times in µs since lunch_begin(). */
static inline void lunch_trace_write(void)
{
    const char *path = getenv("FUT_TRACE");
    if (!lunch_by_hand || !path || !*path || lunch_nsteps == 0)
        return;
    FILE *o = fopen(path, "w");
    if (!o) {
        perror(path);
        return;
    }
    int pid = (int)getpid();
    fprintf(o, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    fprintf(o, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":1,"
               "\"args\":{\"name\":\"cook\"}}", pid);
    for (int i = 0; i < lunch_nsteps; i++) {
        if (lunch_steps[i].t1_ms < 0)
            continue;
        fprintf(o, ",\n{\"ph\":\"X\",\"name\":\"%s\",\"cat\":\"call\",\"pid\":%d,"
                   "\"tid\":1,\"ts\":%.3f,\"dur\":%.3f}",
                lunch_steps[i].name, pid, lunch_steps[i].t0_ms * 1e3,
                (lunch_steps[i].t1_ms - lunch_steps[i].t0_ms) * 1e3);
    }
    fprintf(o, "\n]}\n");
    fclose(o);
}

#endif /* LUNCH_H */
