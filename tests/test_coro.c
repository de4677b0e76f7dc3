/* SPDX-License-Identifier: MIT */
/*
 * test_coro.c - context switching (lib/coro/) and coroutine stacks
 * (lib/stack.c), below the loop
 *
 * These cases drive the fut__ctx_* and fut__stack* functions directly, as
 * lib/loop.c does: contexts made on stacks from the allocator, switched
 * by hand.  Crash cases (stack overflow, an entry that returns) fork a
 * child of their own and check how it died and what it wrote to stderr.
 *
 * A Check suite, one forked process per case; scripts/cross-aarch64.sh
 * builds it for AArch64 against tests/shim/check.h (no arm64 Check there).
 *
 * coro_switch_speed prints the raw switch cost (median of 7 runs); set
 * FUT_CORO_BENCH_ROUNDS to change its round-trip count.
 */
#include <errno.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "coro/ctx.h"
#include "stack.h"

#define KIB 1024u

/* ---------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------- */

#ifdef FUT_CORO_UCONTEXT
#define BACKEND "ucontext"
#elif defined(__x86_64__)
#define BACKEND "asm-x86_64"
#elif defined(__aarch64__)
#define BACKEND "asm-aarch64"
#else
#define BACKEND "?"
#endif

/* Puts garbage in every callee-saved register the compiler lets us name
 * (not the frame pointer), so that the next switch away has to restore the
 * other context's values from its own saved frame. */
static inline void clobber_callee_saved(void)
{
#if defined(__x86_64__)
    __asm__ __volatile__("movq $0x5a5a5a5a, %%rbx\n\t"
                         "movq $0x5a5a5a5b, %%r12\n\t"
                         "movq $0x5a5a5a5c, %%r13\n\t"
                         "movq $0x5a5a5a5d, %%r14\n\t"
                         "movq $0x5a5a5a5e, %%r15\n\t"
                         ::: "rbx", "r12", "r13", "r14", "r15", "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("mov x19, #0x5a5a\n\t"
                         "mov x20, #0x5a5b\n\t"
                         "mov x21, #0x5a5c\n\t"
                         "mov x22, #0x5a5d\n\t"
                         "mov x23, #0x5a5e\n\t"
                         "mov x24, #0x5a5f\n\t"
                         "mov x25, #0x5a60\n\t"
                         "mov x26, #0x5a61\n\t"
                         "mov x27, #0x5a62\n\t"
                         "mov x28, #0x5a63\n\t"
                         "fmov d8, #-1.0\n\t"
                         "fmov d9, #-2.0\n\t"
                         "fmov d10, #-3.0\n\t"
                         "fmov d11, #-4.0\n\t"
                         "fmov d12, #-5.0\n\t"
                         "fmov d13, #-6.0\n\t"
                         "fmov d14, #-7.0\n\t"
                         "fmov d15, #-8.0\n\t"
                         ::: "x19", "x20", "x21", "x22", "x23", "x24", "x25",
                             "x26", "x27", "x28", "d8", "d9", "d10", "d11",
                             "d12", "d13", "d14", "d15", "memory");
#endif
}

/* Opaque inputs: the compiler cannot recompute values derived from them
 * after a switch, so it must keep them (in callee-saved registers, or
 * spilled to the stack) across it. */
static volatile long seed[4] = { 0x1234567, 0x7654321, 0x0badf00d, 0x5eed };
static volatile double dseed = 0.375;

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static long max_map_count(void)
{
    long v = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A made context with its stack, for the cases below. */
struct co {
    struct fut__ctx ctx;
    struct fut__stack st;
};

static void co_make(struct fut__stacks *s, struct co *c, void (*fn)(void *), void *arg)
{
    int rc = fut__stack_get(s, &c->st);
    ck_assert_int_eq(rc, 0);
    fut__ctx_make(&c->ctx, c->st.lo, c->st.size, fn, arg);
}

static void co_free(struct fut__stacks *s, struct co *c)
{
    fut__ctx_release(&c->ctx);
    fut__stack_put(s, &c->st);
}

/* ---------------------------------------------------------------------
 * Switching
 * ------------------------------------------------------------------- */

static struct fut__ctx main_ctx;
static struct co co_a, co_b;
static long pp_rounds;
static long a_seen, b_seen, a_bad, b_bad;

/* A and B switch to each other pp_rounds times, each keeping live values
 * (integers and doubles) across every switch and clobbering the
 * callee-saved registers before it; A ends by an exit to B, B by an exit
 * to main. */
static void pp_a(void *arg)
{
    long *tag = arg;
    for (long i = 0; i < pp_rounds; i++) {
        long v0 = seed[0] + i, v1 = seed[1] ^ i, v2 = seed[2] - i, v3 = seed[3] * i;
        long v4 = v0 ^ v3, v5 = v1 + v2;
        double d0 = dseed * (double)i, d1 = dseed + (double)i, d2 = d0 * d1;
        clobber_callee_saved();
        fut__ctx_switch(&co_a.ctx, &co_b.ctx);
        if (v0 != seed[0] + i || v1 != (seed[1] ^ i) || v2 != seed[2] - i ||
            v3 != seed[3] * i || v4 != (v0 ^ v3) || v5 != v1 + v2 ||
            d0 != dseed * (double)i || d1 != dseed + (double)i || d2 != d0 * d1)
            a_bad++;
        a_seen++;
    }
    *tag = 0xa;
    fut__ctx_exit(&co_a.ctx, &co_b.ctx);
}

static void pp_b(void *arg)
{
    long *tag = arg;
    double acc = dseed;
    for (long j = 0; j < pp_rounds; j++) {
        long w0 = seed[3] + 7 * j, w1 = seed[0] - j;
        double e0 = acc + (double)j;
        clobber_callee_saved();
        fut__ctx_switch(&co_b.ctx, &co_a.ctx);
        if (w0 != seed[3] + 7 * j || w1 != seed[0] - j || e0 != acc + (double)j)
            b_bad++;
        acc += 0.5;
        b_seen++;
    }
    *tag = 0xb;
    fut__ctx_exit(&co_b.ctx, &main_ctx);
}

START_TEST(coro_switch_pingpong_preserves_registers)
{
    struct fut__stacks s;
    long tag_a = 0, tag_b = 0;
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    pp_rounds = TU_ROUNDS(100000);
    a_seen = b_seen = a_bad = b_bad = 0;
    fut__ctx_self(&main_ctx);
    co_make(&s, &co_a, pp_a, &tag_a);
    co_make(&s, &co_b, pp_b, &tag_b);

    long m0 = seed[0] * 3, m1 = seed[1] + 11, m2 = seed[2] ^ 0x77;
    double md = dseed * 9.0;
    fut__ctx_switch(&main_ctx, &co_a.ctx);   /* returns when B exits to us */
    ck_assert_msg(m0 == seed[0] * 3 && m1 == seed[1] + 11 && m2 == (seed[2] ^ 0x77) &&
                  md == dseed * 9.0, "main's values changed across the switches");

    ck_assert_int_eq(tag_a, 0xa);
    ck_assert_int_eq(tag_b, 0xb);
    ck_assert_int_eq(a_seen, pp_rounds);
    ck_assert_int_eq(b_seen, pp_rounds);
    ck_assert_msg(a_bad == 0 && b_bad == 0, "values lost across switches: A %ld, B %ld",
                  a_bad, b_bad);
    co_free(&s, &co_a);
    co_free(&s, &co_b);
    fut__stacks_destroy(&s);
}
END_TEST

/* FP control.  x86-64: the MXCSR and x87 control bits are callee-saved,
 * and both back ends keep them per context.  AArch64: FPCR is global
 * thread state in AAPCS64, and the asm switch leaves it alone (glibc's
 * ucontext restores it per context). */
#if defined(__x86_64__) || (defined(__aarch64__) && defined(FUT_CORO_UCONTEXT))
#define FP_PER_CONTEXT 1
#elif defined(__aarch64__)
#define FP_PER_CONTEXT 0
#endif

#if defined(FP_PER_CONTEXT)
static int fp_seen_at_start, fp_err;

#if FP_PER_CONTEXT
/* The SSE rounding mode, read from MXCSR itself (fegetround reads the x87
 * control word on x86-64). */
static int mxcsr_round(void)
{
#if defined(__x86_64__)
    unsigned v;
    __asm__ __volatile__("stmxcsr %0" : "=m"(v));
    switch ((v >> 13) & 3) {
    case 0: return FE_TONEAREST;
    case 1: return FE_DOWNWARD;
    case 2: return FE_UPWARD;
    default: return FE_TOWARDZERO;
    }
#else
    return fegetround();
#endif
}
#endif

static void fp_co(void *arg)
{
    (void)arg;
    fp_seen_at_start = fegetround();
    fesetround(FE_UPWARD);
    fut__ctx_switch(&co_a.ctx, &main_ctx);
    /* main has set FE_TOWARDZERO meanwhile */
#if FP_PER_CONTEXT
    if (fegetround() != FE_UPWARD || mxcsr_round() != FE_UPWARD)
        fp_err = 1;
#else
    if (fegetround() != FE_TOWARDZERO)
        fp_err = 1;
#endif
    fut__ctx_exit(&co_a.ctx, &main_ctx);
}
#endif /* FP_PER_CONTEXT defined */

START_TEST(coro_fp_control_follows_the_abi)
{
#if !defined(FP_PER_CONTEXT)
    printf("coro_fp_control_follows_the_abi: skipped (no expectation for this target)\n");
#else
    struct fut__stacks s;
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    fut__ctx_self(&main_ctx);
    fp_err = 0;

    /* A context starts with the maker's modes. */
    ck_assert_int_eq(fesetround(FE_DOWNWARD), 0);
    co_make(&s, &co_a, fp_co, NULL);
    ck_assert_int_eq(fesetround(FE_TONEAREST), 0);

    fut__ctx_switch(&main_ctx, &co_a.ctx);
#if FP_PER_CONTEXT
    ck_assert_int_eq(fp_seen_at_start, FE_DOWNWARD);
    ck_assert_msg(fegetround() == FE_TONEAREST, "the coroutine's rounding mode leaked");
    ck_assert_msg(mxcsr_round() == FE_TONEAREST, "the coroutine's MXCSR leaked");
#else
    ck_assert_int_eq(fp_seen_at_start, FE_TONEAREST);
    ck_assert_msg(fegetround() == FE_UPWARD, "FPCR is thread state: the change shows");
#endif
    ck_assert_int_eq(fesetround(FE_TOWARDZERO), 0);
    fut__ctx_switch(&main_ctx, &co_a.ctx);
    ck_assert_msg(fp_err == 0, "wrong rounding mode inside the coroutine");
#if FP_PER_CONTEXT
    ck_assert_int_eq(fegetround(), FE_TOWARDZERO);
#endif
    fesetround(FE_TONEAREST);
    co_free(&s, &co_a);
    fut__stacks_destroy(&s);
#endif
}
END_TEST

/* Deep recursion within the stack: 1000 frames of 256 bytes of locals on a
 * 1 MiB stack (room for the sanitizers' redzones too). */
static long recurse_sum(int depth)
{
    volatile char buf[256];
    for (int i = 0; i < (int)sizeof buf; i += 64)
        buf[i] = (char)(depth + i);
    long below = depth > 0 ? recurse_sum(depth - 1) : 0;
    return below + buf[0] + buf[128];
}

static long deep_result;

static void deep_co(void *arg)
{
    deep_result = recurse_sum(*(int *)arg);
    fut__ctx_exit(&co_a.ctx, &main_ctx);
}

START_TEST(coro_deep_recursion_within_the_stack)
{
    struct fut__stacks s;
    int depth = 1000;
    ck_assert_int_eq(fut__stacks_init(&s, 1024 * KIB), 0);
    fut__ctx_self(&main_ctx);
    co_make(&s, &co_a, deep_co, &depth);
    fut__ctx_switch(&main_ctx, &co_a.ctx);
    ck_assert_int_eq(deep_result, recurse_sum(depth));
    co_free(&s, &co_a);
    fut__stacks_destroy(&s);
}
END_TEST

/* 32 KiB of locals and printf (whose own frames are large) on a stack of
 * the default 64 KiB. */
static int big_ok;

static void big_co(void *arg)
{
    (void)arg;
    char big[32 * KIB];
    memset(big, 'x', sizeof big);
    int n = snprintf(big, sizeof big, "%s %d %.6f %Lg %p", "coroutine", 42, 3.25,
                     (long double)1e300L, (void *)big);
    FILE *null = fopen("/dev/null", "w");
    if (null != NULL) {
        fprintf(null, "%s|%*d|%-12.4e|%s\n", big, 20, n, 6.02e23, big + 1);
        fclose(null);
    }
    printf("coro_big_locals_and_printf: inside a 64 KiB coroutine stack: %.20s\n", big);
    fflush(stdout);
    big_ok = n > 0 && strncmp(big, "coroutine 42 3.250000", 21) == 0 && big[sizeof big - 1] == 'x';
    fut__ctx_exit(&co_a.ctx, &main_ctx);
}

START_TEST(coro_big_locals_and_printf)
{
    struct fut__stacks s;
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    fut__ctx_self(&main_ctx);
    big_ok = 0;
    co_make(&s, &co_a, big_co, NULL);
    fut__ctx_switch(&main_ctx, &co_a.ctx);
    ck_assert(big_ok);
    co_free(&s, &co_a);
    fut__stacks_destroy(&s);
}
END_TEST

/* Many coroutines started and finished one after another on reused
 * stacks: ASan drops each fake stack (NULL save at exit), TSan creates and
 * destroys a fiber each time, and the allocator reuses one or two stacks. */
static long reuse_count;

static void reuse_co(void *arg)
{
    volatile char local[512];     /* address-taken: lives in ASan's fake stack */
    long *p = arg;
    local[0] = (char)*p;
    local[511] = 1;
    fut__ctx_switch(&co_a.ctx, &main_ctx);   /* suspend once */
    reuse_count += local[0] + local[511];
    fut__ctx_exit(&co_a.ctx, &main_ctx);
}

START_TEST(coro_start_exit_on_reused_stacks)
{
    struct fut__stacks s;
    long n = TU_ROUNDS(20000);
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    fut__ctx_self(&main_ctx);
    reuse_count = 0;
    for (long i = 0; i < n; i++) {
        long v = i % 50;
        co_make(&s, &co_a, reuse_co, &v);
        fut__ctx_switch(&main_ctx, &co_a.ctx);
        fut__ctx_switch(&main_ctx, &co_a.ctx);
        co_free(&s, &co_a);
    }
    long want = 0;
    for (long i = 0; i < n; i++)
        want += i % 50 + 1;
    ck_assert_int_eq(reuse_count, want);
    ck_assert_int_eq(s.carved, 1);
    ck_assert_int_eq(s.live, 0);
    fut__stacks_destroy(&s);
}
END_TEST

static void never_run(void *arg)
{
    (void)arg;
    abort();
}

START_TEST(coro_release_of_a_context_never_run)
{
    struct fut__stacks s;
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    for (int i = 0; i < 1000; i++) {
        co_make(&s, &co_a, never_run, NULL);
        co_free(&s, &co_a);
    }
    fut__stacks_destroy(&s);
}
END_TEST

/* ---------------------------------------------------------------------
 * Crashes, in a child process of our own
 * ------------------------------------------------------------------- */

struct child {
    int status;        /* from waitpid */
    char err[4096];    /* what it wrote to stderr (truncated) */
};

/* Runs fn in a child with stderr captured and no core file. */
static void run_child(void (*fn)(void), struct child *out)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    /* Read to EOF, keeping the first part: closing early would kill a
     * child still writing (a sanitizer's long report) with SIGPIPE. */
    size_t len = 0;
    for (;;) {
        char buf[1024];
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t take = (size_t)r;
        if (take > sizeof out->err - 1 - len)
            take = sizeof out->err - 1 - len;
        memcpy(out->err + len, buf, take);
        len += take;
    }
    out->err[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &out->status, 0) < 0 && errno == EINTR) {
    }
}

static volatile int keep_going = 1;

static int runaway(int depth)
{
    volatile char buf[512];
    buf[0] = (char)depth;
    buf[511] = (char)depth;
    int r = keep_going ? runaway(depth + 1) : 0;
    return r + buf[0] + buf[511];
}

static void overflow_co(void *arg)
{
    (void)arg;
    runaway(0);
    fut__ctx_exit(&co_a.ctx, &main_ctx);
}

#define EXIT_NO_GUARD 77

static void overflow_child(void)
{
    struct fut__stacks s;
    if (fut__stacks_thread_init() != 0 || fut__stacks_init(&s, 64 * KIB) != 0)
        _exit(2);
    fut__ctx_self(&main_ctx);
    co_make(&s, &co_a, overflow_co, NULL);
    if (s.guarded == 0)
        _exit(EXIT_NO_GUARD);
    fprintf(stderr, "reporter=%d\n", fut__stacks_reporter_installed() ? 1 : 0);
    fflush(stderr);
    fut__ctx_switch(&main_ctx, &co_a.ctx);
    _exit(3);   /* not reached */
}

static void overflow_child_mprotect(void)
{
    fut__stacks_set_guard_kind(FUT__GUARD_MPROTECT);
    overflow_child();
}

static void check_overflow(void (*fn)(void), const char *what)
{
    struct child c;
    run_child(fn, &c);
    if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == EXIT_NO_GUARD) {
        printf("%s: skipped: no guard page could be installed here\n", what);
        return;
    }
    if (strstr(c.err, "reporter=1") != NULL) {
        ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGSEGV,
                      "%s: child status %#x, stderr: %s", what, c.status, c.err);
        ck_assert_msg(strstr(c.err, "libfutures: coroutine stack overflow "
                                    "(stack_size = 65536 bytes); raise "
                                    "fut_loop_opts.stack_size\n") != NULL,
                      "%s: no overflow message; stderr: %s", what, c.err);
    } else {
        /* SIGSEGV already had a handler (a sanitizer's): ours stays out,
         * and that handler reports the overflow its own way. */
        ck_assert_msg(strstr(c.err, "reporter=0") != NULL, "%s: stderr: %s", what, c.err);
        ck_assert_msg(WIFSIGNALED(c.status) || (WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0),
                      "%s: the child survived its overflow", what);
        printf("%s: SIGSEGV had a handler already (sanitizer?): ours stayed out; "
               "the child died (status %#x); its stderr begins:\n%.300s\n", what, c.status, c.err);
    }
}

START_TEST(coro_overflow_into_guard_dies_with_message)
{
    check_overflow(overflow_child, "coro_overflow_into_guard_dies_with_message");
}
END_TEST

START_TEST(coro_overflow_into_mprotect_guard_dies_with_message)
{
    check_overflow(overflow_child_mprotect,
                   "coro_overflow_into_mprotect_guard_dies_with_message");
}
END_TEST

static void returns(void *arg)
{
    (void)arg;
}

static void entry_return_child(void)
{
    struct fut__stacks s;
    if (fut__stacks_init(&s, 64 * KIB) != 0)
        _exit(2);
    fut__ctx_self(&main_ctx);
    co_make(&s, &co_a, returns, NULL);
    fut__ctx_switch(&main_ctx, &co_a.ctx);
    _exit(3);   /* not reached */
}

START_TEST(coro_entry_return_aborts_with_message)
{
    struct child c;
    run_child(entry_return_child, &c);
    ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT,
                  "child status %#x, stderr: %s", c.status, c.err);
    ck_assert_msg(strstr(c.err, "libfutures: coroutine entry function returned") != NULL,
                  "stderr: %s", c.err);
}
END_TEST

/* ---------------------------------------------------------------------
 * The stack allocator
 * ------------------------------------------------------------------- */

START_TEST(stack_init_rounds_and_rejects)
{
    struct fut__stacks s;
    long pg = sysconf(_SC_PAGESIZE);
    ck_assert_int_eq(fut__stacks_init(&s, 0), EINVAL);
    ck_assert_int_eq(fut__stacks_init(NULL, 4096), EINVAL);
    ck_assert_int_eq(fut__stacks_init(&s, SIZE_MAX - 100), ENOMEM);
    ck_assert_int_eq(fut__stacks_init(&s, 1000), 0);
    ck_assert_int_eq(s.stack_size, pg);
    struct fut__stack st;
    ck_assert_int_eq(fut__stack_get(&s, &st), 0);
    ck_assert_int_eq(st.size, pg);
    ck_assert_int_eq((uintptr_t)st.lo % (uintptr_t)pg, 0);
    memset(st.lo, 0xab, st.size);    /* all of it is usable */
    fut__stack_put(&s, &st);
    fut__stacks_destroy(&s);
}
END_TEST

START_TEST(stack_reuse_after_put_is_lifo)
{
    struct fut__stacks s;
    struct fut__stack a, b, c, x;
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    ck_assert_int_eq(fut__stack_get(&s, &a), 0);
    fut__stack_put(&s, &a);
    ck_assert_int_eq(fut__stack_get(&s, &x), 0);
    ck_assert_msg(x.lo == a.lo, "a freed stack is reused first");
    ck_assert_int_eq(fut__stack_get(&s, &b), 0);
    ck_assert_int_eq(fut__stack_get(&s, &c), 0);
    ck_assert_msg(b.lo != x.lo && c.lo != b.lo && c.lo != x.lo, "distinct stacks");
    fut__stack_put(&s, &b);
    fut__stack_put(&s, &c);
    ck_assert_int_eq(fut__stack_get(&s, &a), 0);
    ck_assert_msg(a.lo == c.lo, "LIFO: the last freed comes back first");
    ck_assert_int_eq(fut__stack_get(&s, &a), 0);
    ck_assert_msg(a.lo == b.lo, "LIFO");
    ck_assert_int_eq(s.carved, 3);
    ck_assert_int_eq(s.live, 3);
    fut__stacks_destroy(&s);
}
END_TEST

static int cmp_ptr(const void *x, const void *y)
{
    uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;
    return a < b ? -1 : a > b;
}

/* 100,000 stacks live at once (BENCH W5), each touched at its top as the
 * loop's control block would be, in far fewer mappings than stacks. */
static void many_stacks(enum fut__guard_kind force, const char *what)
{
    enum { N = 100000 };
    struct fut__stacks s;
    enum fut__guard_kind before = fut__stacks_guard_kind();
    if (force != FUT__GUARD_NONE)
        fut__stacks_set_guard_kind(force);
    int maps0 = count_maps();
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    struct fut__stack *st = malloc(N * sizeof *st);
    uintptr_t *lo = malloc(N * sizeof *lo);
    ck_assert(st != NULL && lo != NULL);
    for (long i = 0; i < N; i++) {
        ck_assert_int_eq(fut__stack_get(&s, &st[i]), 0);
        long *top = (long *)((char *)st[i].lo + st[i].size) - 1;
        *top = i;
        lo[i] = (uintptr_t)st[i].lo;
    }
    int maps = count_maps();
    long limit = max_map_count();
    printf("%s: %d stacks live: %d mappings in the process (%d before), "
           "%zu slabs, %zu guarded (%s), vm.max_map_count %ld\n",
           what, N, maps, maps0, s.nslabs, s.guarded,
           fut__stacks_guard_kind() == FUT__GUARD_MADVISE ? "madvise" :
           fut__stacks_guard_kind() == FUT__GUARD_MPROTECT ? "mprotect" : "none",
           limit);
    ck_assert_msg(maps > 0 && maps < limit / 2,
                  "%d mappings for %d stacks (limit %ld)", maps, N, limit);
    if (fut__stacks_guard_kind() == FUT__GUARD_MADVISE)
        ck_assert_msg(maps - maps0 < 1000, "madvise guards must not split slabs");
    for (long i = 0; i < N; i++)
        ck_assert_int_eq(*((long *)((char *)st[i].lo + st[i].size) - 1), i);
    qsort(lo, N, sizeof *lo, cmp_ptr);
    for (long i = 1; i < N; i++)
        ck_assert_msg(lo[i] - lo[i - 1] >= s.stack_size, "stacks overlap");
    for (long i = 0; i < N; i++)
        fut__stack_put(&s, &st[i]);
    ck_assert_int_eq(s.live, 0);
    ck_assert_int_eq(s.carved, N);
    fut__stacks_destroy(&s);
    int maps1 = count_maps();
#if !defined(TU_SANITIZED)   /* sanitizers map shadow memory as we go */
    ck_assert_msg(maps1 <= maps0 + 4, "mappings left behind: %d -> %d", maps0, maps1);
#else
    (void)maps1;
#endif
    free(st);
    free(lo);
    fut__stacks_set_guard_kind(before);   /* for CK_FORK=no runs */
}

START_TEST(stack_100k_live_within_map_limit)
{
    many_stacks(FUT__GUARD_NONE, "stack_100k_live_within_map_limit");
}
END_TEST

START_TEST(stack_100k_live_with_mprotect_fallback)
{
    many_stacks(FUT__GUARD_MPROTECT, "stack_100k_live_with_mprotect_fallback");
}
END_TEST

static void *altstack_thread(void *arg)
{
    int *res = arg;
    stack_t before, during, after;
    sigaltstack(NULL, &before);
    res[0] = fut__stacks_thread_init();
    res[1] = fut__stacks_thread_init();     /* nests */
    sigaltstack(NULL, &during);
    fut__stacks_thread_fini();
    stack_t mid;
    sigaltstack(NULL, &mid);
    fut__stacks_thread_fini();
    sigaltstack(NULL, &after);
    res[2] = (during.ss_flags & SS_DISABLE) == 0;             /* one is there */
    res[3] = mid.ss_sp == during.ss_sp && (mid.ss_flags & SS_DISABLE) == 0;
    res[4] = (after.ss_flags & SS_DISABLE) == (before.ss_flags & SS_DISABLE) &&
             ((before.ss_flags & SS_DISABLE) || after.ss_sp == before.ss_sp);
    return NULL;
}

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* fut__stacks_expect: with fewer free stacks than expected, the top pages
 * of the next fresh slots are populated in one call (where the kernel
 * allows process_madvise(MADV_POPULATE_WRITE)), so touching them faults no
 * more; free stacks are handed out first and never populated for, and no
 * more are populated than there are stacks in use (coroutines that end at
 * once reuse one stack: nothing to populate). */
START_TEST(stack_expect_populates_the_next_tops)
{
    enum { L = 16, MORE = 20 };
    struct fut__stacks s;
    struct fut__stack st[L + MORE];
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    /* Nothing in use: a hint of 50 populates nothing. */
    fut__stacks_expect(&s, 50);
    ck_assert_int_eq(s.populated, 0);
    /* 16 in use (the first slab), 2 of them given back: 14 in use. */
    for (int i = 0; i < L; i++)
        ck_assert_int_eq(fut__stack_get(&s, &st[i]), 0);
    ck_assert_int_eq(s.carve_left, 0);
    fut__stack_put(&s, &st[L - 1]);
    fut__stack_put(&s, &st[L - 2]);
    fut__stacks_expect(&s, 2);              /* the free ones suffice */
    ck_assert_int_eq(s.populated, 0);
    fut__stacks_expect(&s, 2 + MORE);       /* 20 fresh wanted, 14 in use */
    printf("stack_expect_populates_the_next_tops: %zu top pages populated in one call\n",
           s.populated);
    ck_assert_msg(s.populated == 0 || s.populated == L - 2,
                  "populated %zu, wanted %d (no more than in use)", s.populated, L - 2);
    size_t pop = s.populated;
    fut__stacks_expect(&s, 2 + MORE);       /* populated ones left: no new call */
    ck_assert_int_eq(s.populated, pop);
    for (int i = L - 2; i < L + MORE; i++)
        ck_assert_int_eq(fut__stack_get(&s, &st[i]), 0);
    ck_assert_int_eq(s.carved, L + MORE);
    long f0 = minflt();
    for (int i = L; i < L + (int)pop; i++)  /* the fresh, populated ones */
        ((volatile char *)st[i].lo)[st[i].size - 1] = (char)i;
    long faults = minflt() - f0;
#if !defined(TU_SANITIZED)   /* a sanitizer's shadow memory faults too */
    if (pop > 0)
        ck_assert_msg(faults <= 2, "%ld faults touching %zu populated tops", faults, pop);
#else
    if (pop > 0)
        printf("stack_expect_populates_the_next_tops: %ld faults (sanitizer shadow)\n", faults);
#endif
    else
        printf("stack_expect_populates_the_next_tops: the kernel refused "
               "process_madvise(MADV_POPULATE_WRITE)\n");
    for (int i = L; i < L + (int)pop; i++)
        ck_assert_int_eq(((volatile char *)st[i].lo)[st[i].size - 1], (char)i);
    for (int i = 0; i < L + MORE; i++)
        fut__stack_put(&s, &st[i]);
    fut__stacks_destroy(&s);
}
END_TEST

/* The process's cache of retired slabs: an allocator with `cache` set
 * hands its slabs over when destroyed; the next one of the same stack size
 * takes the same stacks back as free, warm ones (no fault to touch their
 * tops), trimmed to their top page; another stack size does not get them. */
START_TEST(stack_cache_keeps_stacks_warm_across_allocators)
{
    enum { N = 20 };
    struct fut__stacks s;
    struct fut__stack st[N];
    uintptr_t lo1[N], lo2[N];
    long pg = sysconf(_SC_PAGESIZE);
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    s.cache = true;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(fut__stack_get(&s, &st[i]), 0);
        lo1[i] = (uintptr_t)st[i].lo;
    }
    memset(st[3].lo, 7, st[3].size);       /* one goes deep: trimmed when cached */
    for (int i = 0; i < N; i++)
        ((volatile char *)st[i].lo)[st[i].size - 1] = 1;
    for (int i = 0; i < N; i++)
        fut__stack_put(&s, &st[i]);
    fut__stacks_destroy(&s);

    /* Another size: a fresh mapping. */
    ck_assert_int_eq(fut__stacks_init(&s, 128 * KIB), 0);
    s.cache = true;
    ck_assert_int_eq(fut__stack_get(&s, &st[0]), 0);
    ck_assert_int_eq(s.adopted, 0);
    fut__stack_put(&s, &st[0]);
    fut__stacks_destroy(&s);

    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    s.cache = true;
    unsigned char vec[16];
    ck_assert_int_eq(mincore((void *)lo1[3], 16 * (size_t)pg, vec), 0);
    int resident = 0;
    for (int j = 0; j < 15; j++)
        resident += vec[j] & 1;
    ck_assert_msg(resident == 0, "%d pages under the top of a cached stack still resident",
                  resident);
    ck_assert_int_eq(vec[15] & 1, 1);
    long f0 = minflt();
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(fut__stack_get(&s, &st[i]), 0);
        lo2[i] = (uintptr_t)st[i].lo;
        ck_assert_int_eq(((volatile char *)st[i].lo)[st[i].size - 1], 1);
    }
    long faults = minflt() - f0;
    ck_assert_int_eq(s.adopted, N);
    ck_assert_int_eq(s.carved, N);
#if !defined(TU_SANITIZED)   /* a sanitizer's shadow memory faults too */
    ck_assert_msg(faults <= 2, "%ld faults on %d cached stacks", faults, N);
#else
    (void)faults;
#endif
    qsort(lo1, N, sizeof lo1[0], cmp_ptr);
    qsort(lo2, N, sizeof lo2[0], cmp_ptr);
    ck_assert_msg(memcmp(lo1, lo2, sizeof lo1) == 0, "not the same stacks");
    /* And more than the cache held: fresh ones after the cached. */
    struct fut__stack more;
    ck_assert_int_eq(fut__stack_get(&s, &more), 0);
    ck_assert_int_eq(s.carved, N + 1);
    fut__stack_put(&s, &more);
    for (int i = 0; i < N; i++)
        fut__stack_put(&s, &st[i]);
    /* Not all back: nothing is cached, everything unmapped. */
    ck_assert_int_eq(fut__stack_get(&s, &more), 0);
    fut__stacks_destroy(&s);
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    s.cache = true;
    ck_assert_int_eq(fut__stack_get(&s, &more), 0);
    ck_assert_int_eq(s.adopted, 0);
    fut__stack_put(&s, &more);
    fut__stacks_destroy(&s);
}
END_TEST

START_TEST(stack_thread_altstack_installed_and_removed)
{
    int res[5] = { -1, -1, 0, 0, 0 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, altstack_thread, res), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(res[0], 0);
    ck_assert_int_eq(res[1], 0);
    ck_assert_msg(res[2], "no alternate stack after fut__stacks_thread_init");
    ck_assert_msg(res[3], "the inner fini removed the alternate stack");
    ck_assert_msg(res[4], "the thread's alternate stack was not restored");
}
END_TEST

/* ---------------------------------------------------------------------
 * Raw switch cost (printed; no assertion, sanitizer builds are slow)
 * ------------------------------------------------------------------- */

static volatile int bench_stop;
static long bench_n;

static void bench_co(void *arg)
{
    (void)arg;
    while (!bench_stop)
        fut__ctx_switch(&co_a.ctx, &main_ctx);
    fut__ctx_exit(&co_a.ctx, &main_ctx);
}

/* Two coroutines switching to each other through one shared, non-inlined
 * function, as two coroutines yielding through the loop do. */
__attribute__((noinline)) static void bench_yield(struct fut__ctx *self, struct fut__ctx *to)
{
    fut__ctx_switch(self, to);
    __asm__ __volatile__("" ::: "memory");   /* keep the frame */
}

static void bench_sym(void *arg)
{
    struct co *self = arg, *other = self == &co_a ? &co_b : &co_a;
    for (;;) {
        for (long i = 0; i < bench_n && !bench_stop; i++)
            bench_yield(&self->ctx, &other->ctx);
        if (bench_stop)
            break;
        if (self == &co_a)
            fut__ctx_switch(&co_a.ctx, &main_ctx);   /* one run done */
    }
    /* a sees the stop first and ends by resuming b, which ends by
     * resuming main. */
    if (self == &co_a)
        fut__ctx_exit(&co_a.ctx, &co_b.ctx);
    fut__ctx_exit(&co_b.ctx, &main_ctx);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void bench_report(const char *what, const char *key, double *ns, int runs, long n)
{
    qsort(ns, (size_t)runs, sizeof ns[0], cmp_double);
    printf("coro_switch_speed: %s, %s%s: %.2f ns per switch (median of %d runs of %ld "
           "round trips; min %.2f, max %.2f)\n", BACKEND, what,
#if defined(TU_SANITIZED)
           " (sanitizer build)",
#else
           "",
#endif
           ns[runs / 2], runs, n, ns[0], ns[runs - 1]);
    printf("CORO %s %s %.2f ns\n", BACKEND, key, ns[runs / 2]);
}

START_TEST(coro_switch_speed)
{
    enum { RUNS = 7 };
    struct fut__stacks s;
#if defined(FUT_CORO_UCONTEXT)
    long n = 200000;
#else
    long n = 2000000;
#endif
    const char *e = getenv("FUT_CORO_BENCH_ROUNDS");
    if (e != NULL && atol(e) > 0)
        n = atol(e);
    n = TU_ROUNDS(n);
    ck_assert_int_eq(fut__stacks_init(&s, 64 * KIB), 0);
    fut__ctx_self(&main_ctx);
    double ns[RUNS];

    /* 1. The thread's context and a coroutine, each switching from its
     * own loop: the bare ping-pong of context-switch micro-benchmarks. */
    bench_stop = 0;
    co_make(&s, &co_a, bench_co, NULL);
    fut__ctx_switch(&main_ctx, &co_a.ctx);   /* warm up: start it */
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            fut__ctx_switch(&main_ctx, &co_a.ctx);   /* two switches per round trip */
        ns[r] = (double)(now_ns() - t0) / (double)(2 * n);
    }
    bench_stop = 1;
    fut__ctx_switch(&main_ctx, &co_a.ctx);
    co_free(&s, &co_a);
    bench_report("thread <-> coroutine", "ns_per_switch", ns, RUNS, n);

    /* 2. Two coroutines switching through the same function. */
    bench_stop = 0;
    bench_n = n;
    co_make(&s, &co_a, bench_sym, &co_a);
    co_make(&s, &co_b, bench_sym, &co_b);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = now_ns();
        fut__ctx_switch(&main_ctx, &co_a.ctx);   /* a runs n round trips with b */
        ns[r] = (double)(now_ns() - t0) / (double)(2 * n);
    }
    bench_stop = 1;
    fut__ctx_switch(&main_ctx, &co_a.ctx);
    co_free(&s, &co_a);
    co_free(&s, &co_b);
    fut__stacks_destroy(&s);
    bench_report("coroutine <-> coroutine via one shared call", "ns_per_switch_coro_pair",
                 ns, RUNS, n);
}
END_TEST

/* ---------------------------------------------------------------------
 * The cases, for both harnesses
 * ------------------------------------------------------------------- */

#define CORO_CASES(X)                                   \
    X(coro_switch_pingpong_preserves_registers)         \
    X(coro_fp_control_follows_the_abi)                  \
    X(coro_deep_recursion_within_the_stack)             \
    X(coro_big_locals_and_printf)                       \
    X(coro_start_exit_on_reused_stacks)                 \
    X(coro_release_of_a_context_never_run)              \
    X(coro_overflow_into_guard_dies_with_message)       \
    X(coro_overflow_into_mprotect_guard_dies_with_message) \
    X(coro_entry_return_aborts_with_message)            \
    X(stack_init_rounds_and_rejects)                    \
    X(stack_reuse_after_put_is_lifo)                    \
    X(stack_100k_live_within_map_limit)                 \
    X(stack_100k_live_with_mprotect_fallback)           \
    X(stack_expect_populates_the_next_tops)             \
    X(stack_cache_keeps_stacks_warm_across_allocators)  \
    X(stack_thread_altstack_installed_and_removed)      \
    X(coro_switch_speed)

static Suite *coro_suite(void)
{
    /* One TCase per case, named after it: CK_RUN_CASE=<name> runs one. */
    Suite *s = suite_create("coro");
#define ADD_CASE(name)                                                      \
    do {                                                                    \
        TCase *tc = tcase_create(#name);                                    \
        tcase_add_test(tc, name);                                           \
        suite_add_tcase(s, tc);                                             \
    } while (0);
    CORO_CASES(ADD_CASE)
#undef ADD_CASE
    return s;
}

TU_MAIN(coro_suite)
