/* SPDX-License-Identifier: MIT */
/*
 * check.h - the part of the Check unit-test framework's API that the
 * libfutures suites use, for builds where Check itself is not at hand:
 * the AArch64 cross build run under qemu-user (scripts/cross-aarch64.sh),
 * where Debian offers no arm64 Check to link.  Built with -Itests/shim in
 * place of Check's header; the suites compile unchanged.
 *
 * It behaves as Check does where the suites depend on it:
 *   - every test runs in a forked child of its own (a crash or an exit
 *     fails that test only), in its own process group;
 *   - a TCase's timeout is CK_DEFAULT_TIMEOUT (seconds, read when the
 *     TCase is created; 4 if unset) or tcase_set_timeout's, multiplied by
 *     CK_TIMEOUT_MULTIPLIER; a test that runs longer is killed and counted
 *     as an error;
 *   - a failed ck_assert* prints FILE:LINE:F:TCASE:TEST:0: MESSAGE and
 *     exits the child with status 1; a signal or another exit status is an
 *     error (E);
 *   - CK_RUN_CASE=name runs only that TCase; CK_FORK=no runs the tests in
 *     the runner's own process, without timeouts (for a debugger);
 *   - the run ends with Check's summary line, "P%: Checks: N, Failures:
 *     F, Errors: E", which scripts/run-tests.sh reads.
 * Not provided: fixtures, loop tests, the XML/TAP logs.
 */
#ifndef FUT_CHECK_SHIM_H
#define FUT_CHECK_SHIM_H

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CK_SHIM_UNUSED __attribute__((unused))

enum print_output { CK_SILENT, CK_MINIMAL, CK_NORMAL, CK_VERBOSE };

typedef struct TTest {
    const char *name;
    void (*fn)(int);
    const char *file;
    int line;
} TTest;

typedef struct TCase {
    const char *name;
    double timeout;             /* seconds, before the multiplier */
    const TTest **tests;
    size_t n, cap;
} TCase;

typedef struct Suite {
    const char *name;
    TCase **tcases;
    size_t n, cap;
} Suite;

typedef struct SRunner {
    Suite *s;
    int failed;                 /* failures + errors of the last run */
} SRunner;

/* The test running in this (child) process, for failure messages. */
static const char *ck_shim_tcase CK_SHIM_UNUSED;
static const char *ck_shim_test CK_SHIM_UNUSED;

#define START_TEST(__testname)                                              \
    static void __testname##_fn(int _i CK_SHIM_UNUSED);                      \
    static const TTest __testname##_ttest = { #__testname, __testname##_fn,   \
                                              __FILE__, __LINE__ };           \
    static const TTest *__testname CK_SHIM_UNUSED = &__testname##_ttest;      \
    static void __testname##_fn(int _i CK_SHIM_UNUSED)

#define END_TEST

static void ck_shim_grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return;
    size_t c = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, c * size);
    if (!nv) {
        fprintf(stderr, "check shim: out of memory\n");
        exit(2);
    }
    *v = nv;
    *cap = c;
}

static inline Suite *suite_create(const char *name)
{
    Suite *s = calloc(1, sizeof *s);
    if (!s)
        exit(2);
    s->name = name;
    return s;
}

static inline TCase *tcase_create(const char *name)
{
    TCase *tc = calloc(1, sizeof *tc);
    if (!tc)
        exit(2);
    tc->name = name;
    tc->timeout = 4;
    const char *e = getenv("CK_DEFAULT_TIMEOUT");
    if (e && *e) {
        double t = strtod(e, NULL);
        if (t >= 0)
            tc->timeout = t;
    }
    return tc;
}

static inline void tcase_set_timeout(TCase *tc, double seconds)
{
    if (seconds >= 0)
        tc->timeout = seconds;
}

static inline void suite_add_tcase(Suite *s, TCase *tc)
{
    ck_shim_grow((void **)&s->tcases, &s->cap, s->n, sizeof *s->tcases);
    s->tcases[s->n++] = tc;
}

#define tcase_add_test(tc, tf) ck_shim_add_test((tc), (tf))

static inline void ck_shim_add_test(TCase *tc, const TTest *t)
{
    ck_shim_grow((void **)&tc->tests, &tc->cap, tc->n, sizeof *tc->tests);
    tc->tests[tc->n++] = t;
}

static inline SRunner *srunner_create(Suite *s)
{
    SRunner *sr = calloc(1, sizeof *sr);
    if (!sr)
        exit(2);
    sr->s = s;
    return sr;
}

static inline void srunner_free(SRunner *sr)
{
    if (!sr)
        return;
    for (size_t i = 0; i < sr->s->n; i++) {
        free(sr->s->tcases[i]->tests);
        free(sr->s->tcases[i]);
    }
    free(sr->s->tcases);
    free(sr->s);
    free(sr);
}

static inline int srunner_ntests_failed(SRunner *sr)
{
    return sr->failed;
}

/* ---- failures ---------------------------------------------------------- */

__attribute__((noreturn, format(printf, 3, 4))) static inline void
ck_shim_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("%s:%d:F:%s:%s:0: %s\n", file, line, ck_shim_tcase ? ck_shim_tcase : "?",
           ck_shim_test ? ck_shim_test : "?", msg);
    fflush(stdout);
    exit(1);
}

#define ck_abort_msg(...) ck_shim_fail(__FILE__, __LINE__, __VA_ARGS__)
#define ck_assert_msg(expr, ...)                                            \
    do {                                                                    \
        if (!(expr))                                                        \
            ck_shim_fail(__FILE__, __LINE__, __VA_ARGS__);                  \
    } while (0)
#define ck_assert(expr)                                                     \
    do {                                                                    \
        if (!(expr))                                                        \
            ck_shim_fail(__FILE__, __LINE__, "Assertion '%s' failed", #expr); \
    } while (0)

#define CK_SHIM_CMP(T, FMT, X, OP, Y)                                       \
    do {                                                                    \
        T ck_x_ = (T)(X);                                                   \
        T ck_y_ = (T)(Y);                                                   \
        if (!(ck_x_ OP ck_y_))                                              \
            ck_shim_fail(__FILE__, __LINE__,                                \
                         "Assertion '%s' failed: %s == " FMT ", %s == " FMT, \
                         #X " " #OP " " #Y, #X, ck_x_, #Y, ck_y_);         \
    } while (0)

#define ck_assert_int_eq(X, Y) CK_SHIM_CMP(intmax_t, "%jd", X, ==, Y)
#define ck_assert_int_ne(X, Y) CK_SHIM_CMP(intmax_t, "%jd", X, !=, Y)
#define ck_assert_int_lt(X, Y) CK_SHIM_CMP(intmax_t, "%jd", X, <, Y)
#define ck_assert_int_le(X, Y) CK_SHIM_CMP(intmax_t, "%jd", X, <=, Y)
#define ck_assert_int_gt(X, Y) CK_SHIM_CMP(intmax_t, "%jd", X, >, Y)
#define ck_assert_int_ge(X, Y) CK_SHIM_CMP(intmax_t, "%jd", X, >=, Y)
#define ck_assert_uint_eq(X, Y) CK_SHIM_CMP(uintmax_t, "%ju", X, ==, Y)
#define ck_assert_uint_ne(X, Y) CK_SHIM_CMP(uintmax_t, "%ju", X, !=, Y)
#define ck_assert_uint_lt(X, Y) CK_SHIM_CMP(uintmax_t, "%ju", X, <, Y)
#define ck_assert_uint_le(X, Y) CK_SHIM_CMP(uintmax_t, "%ju", X, <=, Y)
#define ck_assert_uint_gt(X, Y) CK_SHIM_CMP(uintmax_t, "%ju", X, >, Y)
#define ck_assert_uint_ge(X, Y) CK_SHIM_CMP(uintmax_t, "%ju", X, >=, Y)
#define ck_assert_ptr_eq(X, Y) CK_SHIM_CMP(const void *, "%p", X, ==, Y)
#define ck_assert_ptr_ne(X, Y) CK_SHIM_CMP(const void *, "%p", X, !=, Y)
#define ck_assert_ptr_null(X) CK_SHIM_CMP(const void *, "%p", X, ==, NULL)
#define ck_assert_ptr_nonnull(X) CK_SHIM_CMP(const void *, "%p", X, !=, NULL)

#define CK_SHIM_STR(X, OP, Y)                                               \
    do {                                                                    \
        const char *ck_x_ = (X), *ck_y_ = (Y);                              \
        if (!ck_x_ || !ck_y_ || !(strcmp(ck_x_, ck_y_) OP 0))               \
            ck_shim_fail(__FILE__, __LINE__,                                \
                         "Assertion '%s' failed: %s == \"%s\", %s == \"%s\"", \
                         #X " " #OP " " #Y, #X, ck_x_ ? ck_x_ : "(null)", #Y, \
                         ck_y_ ? ck_y_ : "(null)");                         \
    } while (0)
#define ck_assert_str_eq(X, Y) CK_SHIM_STR(X, ==, Y)
#define ck_assert_str_ne(X, Y) CK_SHIM_STR(X, !=, Y)

/* ---- running ----------------------------------------------------------- */

static inline double ck_shim_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one test in a forked child; 0 pass, 1 failure, 2 error. */
static inline int ck_shim_run_one(const TCase *tc, const TTest *t)
{
    double mult = 1;
    const char *e = getenv("CK_TIMEOUT_MULTIPLIER");
    if (e && *e && strtod(e, NULL) > 0)
        mult = strtod(e, NULL);
    double limit = tc->timeout * mult;
    const char *fk = getenv("CK_FORK");
    if (fk && strcmp(fk, "no") == 0) {
        /* CK_FORK=no: in this process (for a debugger); a failure ends it */
        ck_shim_tcase = tc->name;
        ck_shim_test = t->name;
        t->fn(0);
        return 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        printf("%s:%d:E:%s:%s:0: fork: %s\n", t->file, t->line, tc->name, t->name,
               strerror(errno));
        return 2;
    }
    if (pid == 0) {
        setpgid(0, 0);
        ck_shim_tcase = tc->name;
        ck_shim_test = t->name;
        t->fn(0);
        fflush(NULL);
        exit(0);
    }
    setpgid(pid, pid);
    double deadline = ck_shim_now() + limit;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            printf("%s:%d:E:%s:%s:0: waitpid: %s\n", t->file, t->line, tc->name, t->name,
                   strerror(errno));
            return 2;
        }
        if (limit > 0 && ck_shim_now() > deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
            printf("%s:%d:E:%s:%s:0: (after this point) Test timeout expired\n", t->file,
                   t->line, tc->name, t->name);
            return 2;
        }
        struct timespec nap = { 0, 2 * 1000 * 1000 };
        nanosleep(&nap, NULL);
    }
    /* Whatever the test left behind in its process group goes too. */
    kill(-pid, SIGKILL);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
        return 1;                 /* the child printed its F line */
    if (WIFSIGNALED(st))
        printf("%s:%d:E:%s:%s:0: (after this point) Received signal %d (%s)\n", t->file,
               t->line, tc->name, t->name, WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        printf("%s:%d:E:%s:%s:0: (after this point) Early exit with return value %d\n",
               t->file, t->line, tc->name, t->name, WEXITSTATUS(st));
    return 2;
}

static inline void srunner_run_all(SRunner *sr, enum print_output mode)
{
    (void)mode;
    const char *only = getenv("CK_RUN_CASE");
    int checks = 0, failures = 0, errors = 0;
    printf("Running suite(s): %s\n", sr->s->name);
    for (size_t i = 0; i < sr->s->n; i++) {
        const TCase *tc = sr->s->tcases[i];
        if (only && *only && strcmp(only, tc->name) != 0)
            continue;
        for (size_t k = 0; k < tc->n; k++) {
            int r = ck_shim_run_one(tc, tc->tests[k]);
            checks++;
            failures += r == 1;
            errors += r == 2;
        }
    }
    int pct = checks ? (checks - failures - errors) * 100 / checks : 100;
    printf("%d%%: Checks: %d, Failures: %d, Errors: %d\n", pct, checks, failures, errors);
    fflush(stdout);
    sr->failed = failures + errors;
}

#endif /* FUT_CHECK_SHIM_H */
