/* SPDX-License-Identifier: MIT */
/*
 * trace.c - who ran what, when, on which thread (FUT_TRACE=file.json)
 *
 * With the environment variable FUT_TRACE set to a path, the library
 * records one slice per stretch of execution: a pool job from start to
 * end, a coroutine from each switch-in to its next switch-out.  At exit
 * (atexit) it writes them in the Chrome trace-event JSON format
 * ("ph":"X" complete events, microseconds, plus thread_name metadata),
 * which Perfetto and chrome://tracing open and tools/trace2svg renders.
 *
 * Off by default and then free: the hooks test one flag.  When on, a
 * slice costs a clock read and an append under trace_mu; the loop also
 * stops switching coroutine-to-coroutine directly so that every step is
 * seen at its boundaries.
 *
 * trace_mu guards slices[], threads[] and their counts.  The slice name is
 * copied when the slice ends (a name set while it ran still shows).
 */
#include "internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct slice {
    uint64_t t0, t1;           /* CLOCK_MONOTONIC ns */
    unsigned tid;              /* index into threads[] */
    char kind;                 /* 'j' job, 'c' coroutine */
    char name[47];
};

struct tthread {
    pthread_t self;
    char name[24];
};

static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static char *trace_path;                /* set once in trace_init */
static uint64_t trace_t0;               /* set once in trace_init */
static struct slice *slices;            /* guarded by trace_mu */
static size_t nslices, cap_slices;      /* guarded by trace_mu */
static struct tthread *threads;         /* guarded by trace_mu */
static size_t nthreads_seen, cap_threads;  /* guarded by trace_mu */
static FUT_TLS int my_tid = -1;         /* this thread's index, or -1 */

atomic_bool fut__trace_on;

static void trace_write(void);

static void trace_init(void)
{
    const char *p = getenv("FUT_TRACE");
    if (!p || !*p)
        return;
    trace_path = strdup(p);
    if (!trace_path)
        return;
    trace_t0 = fut__now_ns();
    if (atexit(trace_write) != 0) {
        free(trace_path);
        trace_path = NULL;
        return;
    }
    atomic_store(&fut__trace_on, true);
}

void fut__trace_setup(void)
{
    pthread_once(&trace_once, trace_init);
}

/* Index of the calling thread in threads[], registering it.  trace_mu held. */
static int thread_index(void)
{
    if (my_tid >= 0)
        return my_tid;
    if (nthreads_seen == cap_threads) {
        size_t cap = cap_threads ? cap_threads * 2 : 16;
        struct tthread *t = fut__realloc(threads, cap * sizeof *t);
        if (!t)
            return -1;
        threads = t;
        cap_threads = cap;
    }
    struct tthread *t = &threads[nthreads_seen];
    t->self = pthread_self();
    if (pthread_getname_np(t->self, t->name, sizeof t->name) != 0 || !t->name[0])
        snprintf(t->name, sizeof t->name, "thread-%zu", nthreads_seen);
    my_tid = (int)nthreads_seen++;
    return my_tid;
}

void fut__future_label(const future_t *f, char *out, size_t len)
{
    char *n = atomic_load_explicit(&((future_t *)f)->name, memory_order_acquire);
    if (n) {
        snprintf(out, len, "%s", n);
        return;
    }
    Dl_info info;
    union { fut_fn fn; void *p; } u = {.fn = f->fn};
    if (u.p && dladdr(u.p, &info) && info.dli_sname)
        snprintf(out, len, "%s", info.dli_sname);
    else
        snprintf(out, len, "%s@%p", f->exec ? f->exec->ops->what : "promise", u.p);
}

void fut__trace_slice(const future_t *f, uint64_t t0)
{
    uint64_t t1 = fut__now_ns();
    struct slice s;
    s.t0 = t0;
    s.t1 = t1;
    s.kind = f->exec ? f->exec->ops->trace_kind : 'j';
    fut__future_label(f, s.name, sizeof s.name);
    pthread_mutex_lock(&trace_mu);
    int tid = thread_index();
    if (tid >= 0) {
        if (nslices == cap_slices) {
            size_t cap = cap_slices ? cap_slices * 2 : 1024;
            struct slice *v = fut__realloc(slices, cap * sizeof *v);
            if (v) {
                slices = v;
                cap_slices = cap;
            }
        }
        if (nslices < cap_slices) {
            s.tid = (unsigned)tid;
            slices[nslices++] = s;
        }
    }
    pthread_mutex_unlock(&trace_mu);
}

/* JSON string body: escape what JSON requires. */
static void put_json_str(FILE *o, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(o, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(o, "\\u%04x", ch);
        else
            fputc(ch, o);
    }
}

static void trace_write(void)
{
    pthread_mutex_lock(&trace_mu);
    FILE *o = fopen(trace_path, "w");
    if (o) {
        fprintf(o, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
        int pid = (int)getpid();
        bool first = true;
        for (size_t i = 0; i < nthreads_seen; i++) {
            fprintf(o, "%s{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%zu,"
                       "\"args\":{\"name\":\"", first ? "" : ",\n", pid, i + 1);
            put_json_str(o, threads[i].name);
            fprintf(o, "\"}}");
            first = false;
        }
        for (size_t i = 0; i < nslices; i++) {
            const struct slice *s = &slices[i];
            fprintf(o, "%s{\"ph\":\"X\",\"name\":\"", first ? "" : ",\n");
            put_json_str(o, s->name);
            fprintf(o, "\",\"cat\":\"%s\",\"pid\":%d,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f}",
                    s->kind == 'c' ? "coroutine" : "job", pid, s->tid + 1,
                    (double)(s->t0 - trace_t0) / 1e3, (double)(s->t1 - s->t0) / 1e3);
            first = false;
        }
        fprintf(o, "\n]}\n");
        fclose(o);
    }
    free(slices);
    slices = NULL;
    nslices = cap_slices = 0;
    free(threads);
    threads = NULL;
    nthreads_seen = cap_threads = 0;
    pthread_mutex_unlock(&trace_mu);
}

/* ---------------------------------------------------------------------
 * Names (public)
 * ------------------------------------------------------------------- */

int future_set_name(future_t *f, const char *name)
{
    if (!f || !name)
        return EINVAL;
    size_t len = strlen(name) + 1;
    char *copy = fut__malloc(len);
    if (!copy)
        return ENOMEM;
    memcpy(copy, name, len);
    char *expect = NULL;
    if (!atomic_compare_exchange_strong(&f->name, &expect, copy)) {
        free(copy);
        return EBUSY;
    }
    return 0;
}

const char *future_name(const future_t *f)
{
    return f ? atomic_load_explicit(&((future_t *)f)->name, memory_order_acquire) : NULL;
}

future_t *fut_current(void)
{
    struct fut__task *t = fut__task_current();
    return t ? t->fut : NULL;
}
