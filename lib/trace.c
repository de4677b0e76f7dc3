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
 *
 * The file is valid JSON whatever the program does: numbers are written
 * with integer arithmetic, never "%f" (a program that calls
 * setlocale(LC_ALL, "") under a decimal-comma locale would get "1,5"),
 * names cut to fit end on a whole UTF-8 character, and bytes that are not
 * UTF-8 are written as U+FFFD.  If the file cannot be written, the atexit
 * writer says so in one line on stderr: the library's calls never print,
 * but a debugging aid the user turned on should not fail silently.
 */
#include "trace.h"

#include <dlfcn.h>
#include <inttypes.h>
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
    else
        fut__utf8_trim(t->name);   /* the kernel cuts names at 15 bytes */
    my_tid = (int)nthreads_seen++;
    return my_tid;
}

void fut__future_label(const future_t *f, char *out, size_t len)
{
    char *n = atomic_load_explicit(&((future_t *)f)->name, memory_order_acquire);
    if (n) {
        if (snprintf(out, len, "%s", n) >= (int)len)
            fut__utf8_trim(out);
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
    s.kind = 'j';                     /* a promise has no executor */
    if (f->exec)
        s.kind = f->exec->ops->trace_kind;
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

/* ---------------------------------------------------------------------
 * Writing: locale-free numbers, valid UTF-8
 * ------------------------------------------------------------------- */

char *fut__trace_format_us(uint64_t ns, char *out, size_t len)
{
    /* Integer conversions do not depend on the locale (no grouping without
     * the ' flag); only the decimal point of %f does. */
    snprintf(out, len, "%" PRIu64 ".%03u", ns / 1000u, (unsigned)(ns % 1000u));
    return out;
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 if s does not
 * start one: overlong forms, surrogates and code points above U+10FFFF are
 * not valid (RFC 3629). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;   /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

size_t fut__utf8_trim(char *s)
{
    size_t len = strlen(s);
    /* A UTF-8 character is at most 4 bytes: look back at most 3 bytes for
     * the lead byte of the last character and check that it is whole. */
    size_t i = len;
    while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0 || len - i >= 4)
        return len;              /* no lead byte in reach: not a cut character */
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (want > 1 && len - (i - 1) < want) {
        s[i - 1] = '\0';        /* the last character was cut: drop its start */
        return i - 1;
    }
    return len;
}

void fut__trace_json_str(FILE *o, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char ch = *p;
        if (ch == '"' || ch == '\\') {
            fprintf(o, "\\%c", ch);
            p++;
        } else if (ch < 0x20 || ch == 0x7f) {
            fprintf(o, "\\u%04x", ch);
            p++;
        } else {
            size_t n = utf8_seq(p);
            if (n == 0) {
                fputs("\\ufffd", o);   /* not UTF-8: the replacement character */
                p++;
            } else {
                fwrite(p, 1, n, o);
                p += n;
            }
        }
    }
}

static void trace_write(void)
{
    pthread_mutex_lock(&trace_mu);
    FILE *o = fopen(trace_path, "w");
    if (!o) {
        fprintf(stderr, "libfutures: FUT_TRACE=%s: cannot write the trace: %s\n", trace_path,
                strerror(errno));
    } else {
        errno = 0;
        fprintf(o, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
        int pid = (int)getpid();
        bool first = true;
        for (size_t i = 0; i < nthreads_seen; i++) {
            fprintf(o, "%s{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%zu,"
                       "\"args\":{\"name\":\"", first ? "" : ",\n", pid, i + 1);
            fut__trace_json_str(o, threads[i].name);
            fprintf(o, "\"}}");
            first = false;
        }
        for (size_t i = 0; i < nslices; i++) {
            const struct slice *s = &slices[i];
            char ts[FUT__US_LEN], dur[FUT__US_LEN];
            fprintf(o, "%s{\"ph\":\"X\",\"name\":\"", first ? "" : ",\n");
            fut__trace_json_str(o, s->name);
            fprintf(o, "\",\"cat\":\"%s\",\"pid\":%d,\"tid\":%u,\"ts\":%s,\"dur\":%s}",
                    s->kind == 'c' ? "coroutine" : "job", pid, s->tid + 1,
                    fut__trace_format_us(s->t0 > trace_t0 ? s->t0 - trace_t0 : 0, ts, sizeof ts),
                    fut__trace_format_us(s->t1 - s->t0, dur, sizeof dur));
            first = false;
        }
        fprintf(o, "\n]}\n");
        /* A full disk or a failing device shows at the flush. */
        int werr = ferror(o) ? (errno ? errno : EIO) : 0;
        if (fclose(o) != 0 && !werr)
            werr = errno ? errno : EIO;
        if (werr)
            fprintf(stderr, "libfutures: FUT_TRACE=%s: writing the trace failed: %s\n",
                    trace_path, strerror(werr));
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
