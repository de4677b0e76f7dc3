/* SPDX-License-Identifier: MIT */
/*
 * ctx.c - making, starting and ending execution contexts; sanitizer and
 * Valgrind annotations around the switch
 *
 * Lifetimes.  A made context goes
 *
 *     fut__ctx_make --first switch--> running <--switch--> suspended
 *         |                             |
 *         |                       fut__ctx_exit (final switch away)
 *         v                             v
 *     fut__ctx_release  <-----------  finished
 *
 * and fut__ctx_release always runs on another context (the loop's), after
 * the last switch away.  The thread's own context (fut__ctx_self) needs
 * no release.  Everything here runs on the loop's thread: no locks.
 *
 * The asm back end's switch itself is a static inline in ctx.h when no
 * sanitizer is on; this file then only builds first frames.  Under a
 * sanitizer, and with the ucontext back end, fut__ctx_switch is defined
 * here, wrapped in the annotations each tool needs:
 *
 *   AddressSanitizer  tracks which stack the thread is on (to tell stack
 *       from heap in reports) and keeps one "fake stack" per context for
 *       detect_stack_use_after_return.  Before every switch:
 *       __sanitizer_start_switch_fiber(&from->asan_fake, to's stack bounds),
 *       which parks the leaving context's fake stack in from->asan_fake; on
 *       every arrival (the return from the switch, or the first instructions
 *       of a new context): __sanitizer_finish_switch_fiber(me->asan_fake,
 *       &bounds of the context we came from), which reinstalls ours and
 *       tells us the bounds of the stack we left (that is how the thread's
 *       own stack bounds are learned).  A context that leaves for good
 *       passes NULL, and ASan frees its fake stack: pooled stacks then never
 *       inherit one.  fut__ctx_make also unpoisons the whole stack, since a
 *       reused stack still carries the redzones of frames that never
 *       returned.
 *   ThreadSanitizer  models each context as a fiber: created in make,
 *       switched to right before the switch (with synchronisation, since the
 *       contexts run one after another), destroyed in release.
 *   Valgrind  is told where each stack lives (VALGRIND_STACK_REGISTER), or
 *       it takes every switch for a wild stack-pointer move.
 *
 * None of this is compiled in a plain build.
 */
#include "coro/ctx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(FUT_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(FUT_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(FUT_VALGRIND)
#include <valgrind/valgrind.h>
#endif

/* Writes msg to stderr with write(2) (no stdio: the state of the process
 * is suspect) and aborts. */
static _Noreturn void die(const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, msg, n);
        if (w <= 0)
            break;
        msg += w;
        n -= (size_t)w;
    }
    abort();
}

/* ---------------------------------------------------------------------
 * The first frame (asm back ends)
 *
 * A C picture of the frame drawn at the top of switch_<arch>.S, checked
 * against the offsets ctx.h gives the assembler.  fut__ctx_make writes one
 * at the top of a new stack with the trampoline fut__ctx_boot as its
 * return address, so the first switch to the context "returns" into the
 * trampoline, which calls fut__ctx_start(ctx).
 * ------------------------------------------------------------------- */
#if !defined(FUT_CORO_UCONTEXT)
#if defined(__x86_64__)

struct frame {
    uint32_t mxcsr;      /* SSE control (and status) */
    uint16_t x87cw;      /* x87 control word */
    uint16_t pad;
    uint64_t r12, r13, r14, r15;
    uint64_t rbx;        /* the context, for the trampoline */
    uint64_t rbp;        /* 0: ends frame-pointer chains */
    uint64_t rip;        /* fut__ctx_boot */
};
_Static_assert(offsetof(struct frame, mxcsr) == FUT__X64_MXCSR, "frame: mxcsr");
_Static_assert(offsetof(struct frame, x87cw) == FUT__X64_X87CW, "frame: x87 cw");
_Static_assert(offsetof(struct frame, r12) == FUT__X64_R12, "frame: r12");
_Static_assert(offsetof(struct frame, r13) == FUT__X64_R13, "frame: r13");
_Static_assert(offsetof(struct frame, r14) == FUT__X64_R14, "frame: r14");
_Static_assert(offsetof(struct frame, r15) == FUT__X64_R15, "frame: r15");
_Static_assert(offsetof(struct frame, rbx) == FUT__X64_RBX, "frame: rbx");
_Static_assert(offsetof(struct frame, rbp) == FUT__X64_RBP, "frame: rbp");
_Static_assert(offsetof(struct frame, rip) == FUT__X64_RIP, "frame: rip");
/* The switch reserves FUT__X64_FRAME bytes below the return address. */
_Static_assert(sizeof(struct frame) == FUT__X64_FRAME + 8, "frame: size");
/* After `ret` pops the frame, rsp = frame + sizeof: placing the frame
 * just below a 16-aligned address makes rsp 16-aligned in the trampoline,
 * before its `call`, as the psABI wants. */
_Static_assert(sizeof(struct frame) % 16 == 0, "frame: alignment");

static void frame_init(struct frame *f, struct fut__ctx *c)
{
    uint32_t mxcsr;
    uint16_t cw;
    /* A new context starts with the FP control modes of the thread that
     * makes it (the loop's), as Boost.Context does; the status flags
     * (MXCSR bits 0-5) start clear. */
    __asm__ __volatile__("stmxcsr %0" : "=m"(mxcsr));
    __asm__ __volatile__("fnstcw %0" : "=m"(cw));
    memset(f, 0, sizeof *f);
    f->mxcsr = mxcsr & ~(uint32_t)0x3f;
    f->x87cw = cw;
    f->rbx = (uint64_t)(uintptr_t)c;
    f->rbp = 0;
    f->rip = (uint64_t)(uintptr_t)&fut__ctx_boot;
}

#elif defined(__aarch64__)

struct frame {
    uint64_t d[8];       /* d8..d15 */
    uint64_t x[10];      /* x19..x28; x19 = the context, for the trampoline */
    uint64_t x29;        /* 0: ends frame-record chains */
    uint64_t x30;        /* fut__ctx_boot */
};
_Static_assert(offsetof(struct frame, d) == FUT__A64_D8, "frame: d8");
_Static_assert(offsetof(struct frame, x) == FUT__A64_X19, "frame: x19");
_Static_assert(offsetof(struct frame, x29) == FUT__A64_X29, "frame: x29");
_Static_assert(offsetof(struct frame, x30) == FUT__A64_X30, "frame: x30");
_Static_assert(sizeof(struct frame) == FUT__A64_FRAME, "frame: size");
_Static_assert(sizeof(struct frame) % 16 == 0, "frame: sp alignment");

static void frame_init(struct frame *f, struct fut__ctx *c)
{
    memset(f, 0, sizeof *f);
    f->x[0] = (uint64_t)(uintptr_t)c;
    f->x29 = 0;
    f->x30 = (uint64_t)(uintptr_t)&fut__ctx_boot;
}

#else
#error "no context-switch assembly for this target: build with CORO=ucontext"
#endif
#endif /* !FUT_CORO_UCONTEXT */

/* ---------------------------------------------------------------------
 * Sanitizer hooks around a switch (empty in a plain build)
 * ------------------------------------------------------------------- */

/* ASan: the context being left by the switch in progress on this thread
 * (fut__self()->asan_leaving), so the arriving side can record the bounds
 * ASan reports for it. */

/* Right before the switch from `from` to `to`; final: from never resumes.
 * Always inlined, even at -O0: see the TSan note at fut__ctx_switch. */
__attribute__((always_inline))
static inline void before_switch(struct fut__ctx *from, struct fut__ctx *to, int final)
{
#if defined(FUT_ASAN)
    fut__self()->asan_leaving = from;
    __sanitizer_start_switch_fiber(final ? NULL : &from->asan_fake,
                                   to->asan_bottom, to->asan_size);
#endif
#if defined(FUT_TSAN)
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)from;
    (void)to;
    (void)final;
}

/* Right after arriving in `self` (a return from the switch, or the start
 * of a new context). */
__attribute__((always_inline))
static inline void after_switch(struct fut__ctx *self)
{
#if defined(FUT_ASAN)
    struct fut__ctx *prev = fut__self()->asan_leaving;
    __sanitizer_finish_switch_fiber(self->asan_fake, &prev->asan_bottom,
                                    &prev->asan_size);
#endif
    (void)self;
}

/* ---------------------------------------------------------------------
 * The interface
 * ------------------------------------------------------------------- */

void fut__ctx_make(struct fut__ctx *c, void *lo, size_t size,
                   void (*entry)(void *), void *arg)
{
    c->entry = entry;
    c->arg = arg;
#if defined(FUT_ASAN)
    c->asan_fake = NULL;
    c->asan_bottom = lo;
    c->asan_size = size;
    /* A pooled stack keeps the shadow of its last user's frames, which
     * never returned (that coroutine ended by a switch): clear it. */
    __asan_unpoison_memory_region(lo, size);
#endif
#if defined(FUT_TSAN)
    c->tsan_fiber = __tsan_create_fiber(0);
    c->tsan_owned = 1;
#endif
#if defined(FUT_VALGRIND)
    c->valgrind_id = VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#endif

#if defined(FUT_CORO_UCONTEXT)
    fut__uc_make(c, lo, size);
#else
    /* The frame goes just below the 16-aligned top; the switch pops it and
     * "returns" into fut__ctx_boot with the stack pointer at that top. */
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    struct frame *f = (struct frame *)(top - sizeof(struct frame));
    frame_init(f, c);
    c->sp = f;
#endif
}

void fut__ctx_self(struct fut__ctx *c)
{
    /* The saved state (sp or ucontext) is written by the first switch
     * away; nothing to capture now but the sanitizer identities. */
#if !defined(FUT_CORO_UCONTEXT)
    c->sp = NULL;
#endif
    c->entry = NULL;
    c->arg = NULL;
#if defined(FUT_ASAN)
    c->asan_fake = NULL;
    c->asan_bottom = NULL;   /* learned at the first arrival elsewhere */
    c->asan_size = 0;
#endif
#if defined(FUT_TSAN)
    c->tsan_fiber = __tsan_get_current_fiber();
    c->tsan_owned = 0;
#endif
#if defined(FUT_VALGRIND)
    c->valgrind_id = 0;
#endif
}

/*
 * Under TSan every instrumented function pushes on entry and pops on exit
 * the shadow call stack of the fiber *current at that moment*.  So between
 * __tsan_switch_to_fiber and the raw switch no instrumented function may
 * be entered or left: the raw switch (asm, or libc's swapcontext) is
 * called right here, and the barrier after it keeps the call out of tail
 * position (a tail call would pop our entry from the *new* fiber's shadow
 * stack before jumping, and leak one entry on ours per switch).
 */
#if defined(FUT_CORO_UCONTEXT) || defined(FUT_ASAN) || defined(FUT_TSAN)
void fut__ctx_switch(struct fut__ctx *from, struct fut__ctx *to)
{
    before_switch(from, to, 0);
#if defined(FUT_CORO_UCONTEXT)
    if (swapcontext(&from->uc, &to->uc) != 0)
        die("libfutures: swapcontext failed; aborting\n");
#else
    fut__ctx_jump(&from->sp, to->sp);
#endif
    __asm__ __volatile__("" ::: "memory");   /* not a tail call: see above */
    after_switch(from);
}
#endif

void fut__ctx_exit(struct fut__ctx *from, struct fut__ctx *to)
{
    before_switch(from, to, 1);
#if defined(FUT_CORO_UCONTEXT)
    setcontext(&to->uc);
#else
    /* The frame saved into from->sp is never resumed. */
    fut__ctx_jump(&from->sp, to->sp);
#endif
    die("libfutures: a finished coroutine context was resumed; aborting\n");
}

void fut__ctx_release(struct fut__ctx *c)
{
#if defined(FUT_TSAN)
    if (c->tsan_owned && c->tsan_fiber != NULL)
        __tsan_destroy_fiber(c->tsan_fiber);
    c->tsan_fiber = NULL;
    c->tsan_owned = 0;
#endif
#if defined(FUT_VALGRIND)
    if (c->valgrind_id != 0)
        VALGRIND_STACK_DEREGISTER(c->valgrind_id);
    c->valgrind_id = 0;
#endif
    c->entry = NULL;
    c->arg = NULL;
}

void fut__ctx_start(struct fut__ctx *c)
{
    after_switch(c);     /* first arrival: ASan learns where we are */
    c->entry(c->arg);
    die("libfutures: coroutine entry function returned (a context must end "
        "with fut__ctx_exit); aborting\n");
}
