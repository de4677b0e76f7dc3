/* SPDX-License-Identifier: MIT */
/*
 * ctx.h - execution contexts for the cooperative loop's coroutines
 *
 * A fut__ctx is a suspended execution: where to resume and with which
 * callee-saved registers.  lib/loop.c owns every ctx (one for the loop's
 * own thread, made with fut__ctx_self, and one per coroutine, made with
 * fut__ctx_make on a stack from lib/stack.c) and switches between them
 * only on the loop's thread.  Nothing here locks: a ctx is touched only by
 * the thread that runs its loop.
 *
 * Two back ends, chosen at build time (see the Makefile):
 *
 *   asm       lib/coro/switch_x86_64_sysv.S or switch_aarch64_aapcs.S.
 *             A ctx is one saved stack pointer: the switch pushes the
 *             callee-saved registers on the running stack, stores the stack
 *             pointer, loads the other one and pops.  About 20 instructions;
 *             no system call; the signal mask is left to the thread.
 *   ucontext  lib/coro/ucontext.c (CORO=ucontext, -DFUT_CORO_UCONTEXT=1,
 *             and targets without a hand-written switch).  A ctx holds a
 *             ucontext_t; swapcontext() saves and restores the signal mask
 *             with a system call on every switch, hence ~40x slower.
 *
 * This header is also read by the .S files (under __ASSEMBLER__) for the
 * offsets of the saved frame; the C part below checks them against a C
 * struct with _Static_assert in ctx.c, so the table drawn at the top of
 * each .S, these numbers and the frame that fut__ctx_make builds are one
 * contract.  doc/coroutines-internals.md explains the reasoning.
 */
#ifndef FUT_CORO_CTX_H
#define FUT_CORO_CTX_H

/* ---------------------------------------------------------------------
 * The saved frame of the asm back ends (byte offsets from the saved stack
 * pointer).  The switch "returns" through the last slot, so a new context
 * is a frame whose return address is the start trampoline.
 * ------------------------------------------------------------------- */

/* x86-64 System V: 64 bytes, the return address on top. */
#define FUT__X64_MXCSR   0x00   /* 4 bytes: MXCSR (its control bits matter) */
#define FUT__X64_X87CW   0x04   /* 2 bytes: x87 control word, 2 bytes pad */
#define FUT__X64_R12     0x08
#define FUT__X64_R13     0x10
#define FUT__X64_R14     0x18
#define FUT__X64_R15     0x20
#define FUT__X64_RBX     0x28
#define FUT__X64_RBP     0x30
#define FUT__X64_RIP     0x38   /* return address: where this context resumes */
#define FUT__X64_FRAME   0x38   /* bytes the switch reserves below the return address */

/* AArch64 AAPCS64: 160 bytes (a multiple of 16, as sp must stay). */
#define FUT__A64_D8      0x00   /* d8..d15: 0x00, 0x08, ... 0x38 */
#define FUT__A64_X19     0x40   /* x19..x28: 0x40, 0x48, ... 0x88 */
#define FUT__A64_X29     0x90   /* frame pointer */
#define FUT__A64_X30     0x98   /* link register: where this context resumes */
#define FUT__A64_FRAME   0xa0

#ifndef __ASSEMBLER__

#include "internal.h"

#include <stddef.h>

#ifdef FUT_CORO_UCONTEXT
#include <ucontext.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#define FUT_VALGRIND 1
#endif
#endif

/* A suspended (or running) execution context.  Every field is private to
 * lib/coro/; the loop only passes pointers around.  Loop thread only. */
struct fut__ctx {
#ifdef FUT_CORO_UCONTEXT
    ucontext_t uc;              /* saved by swapcontext; made by makecontext */
#else
    void *sp;                   /* saved stack pointer: the frame drawn in the
                                   .S; valid while the context is suspended */
#endif
    void (*entry)(void *);      /* made contexts: the function to start, */
    void *arg;                  /* and its argument (read once, at start) */
#if defined(FUT_ASAN)
    void *asan_fake;            /* ASan fake stack of this context while it is
                                   suspended (start_switch_fiber saves it) */
    const void *asan_bottom;    /* this context's stack [bottom, bottom+size): */
    size_t asan_size;           /* made: from fut__ctx_make; the thread's own:
                                   learned at the first switch away from it */
#endif
#if defined(FUT_TSAN)
    void *tsan_fiber;           /* TSan's fiber for this context */
    int tsan_owned;             /* 1: created by us (made), destroyed by
                                   fut__ctx_release; 0: the thread's own */
#endif
#if defined(FUT_VALGRIND)
    unsigned valgrind_id;       /* VALGRIND_STACK_REGISTER id; 0: none */
#endif
};

/* Prepares c so that the first switch to it runs entry(arg) on the stack
 * [lo, lo + size), with the stack aligned as the ABI wants at a call.  The
 * context uses only that range (the loop keeps its control block above
 * lo + size).  lo + size needs no alignment; size must leave room for the
 * start frames (a few hundred bytes).  entry must never return: it ends by
 * fut__ctx_exit.  If it returns anyway, the process writes "libfutures:
 * coroutine entry function returned" to stderr and abort()s: a defined
 * end, not a fall-through into garbage.  Cannot fail. */
FUT_HIDDEN void fut__ctx_make(struct fut__ctx *c, void *lo, size_t size,
                              void (*entry)(void *), void *arg);

/* Initialises c as the calling thread's own context (the loop's
 * scheduler), so that it can be switched away from and back to. */
FUT_HIDDEN void fut__ctx_self(struct fut__ctx *c);

/* Final switch away from a context that will never be resumed (a finished
 * coroutine).  Tells ASan to drop the context's fake stack and TSan which
 * fiber runs next; the context itself is torn down later by
 * fut__ctx_release, from another context.  Never returns. */
FUT_HIDDEN _Noreturn void fut__ctx_exit(struct fut__ctx *from, struct fut__ctx *to);

/* Releases what fut__ctx_make acquired (TSan fiber, Valgrind stack id) for
 * a context that is not running: a finished one, or one made and never
 * run.  Must not be called from c itself.  No-op on a fut__ctx_self
 * context.  After it, c may be made again. */
FUT_HIDDEN void fut__ctx_release(struct fut__ctx *c);

/* ---------------------------------------------------------------------
 * The switch
 * ------------------------------------------------------------------- */

/* Back-end entry points (not for loop.c). */
#ifdef FUT_CORO_UCONTEXT
/* ucontext.c: getcontext + makecontext so that the first swapcontext to c
 * runs fut__ctx_start(c) on [lo, lo + size).  The switch itself
 * (swapcontext, setcontext) is called from ctx.c directly: under TSan no
 * instrumented function may begin on one fiber and end on another. */
FUT_HIDDEN void fut__uc_make(struct fut__ctx *c, void *lo, size_t size);
#else
/* switch_<arch>.S: pushes the callee-saved state on the running stack,
 * stores the stack pointer in *save_sp, loads to_sp and pops the frame
 * found there.  Returns when some context switches back to *save_sp. */
FUT_HIDDEN void fut__ctx_jump(void **save_sp, void *to_sp);
/* switch_<arch>.S: the first return address of a made context; calls
 * fut__ctx_start(ctx) with ctx taken from the frame (rbx / x19). */
FUT_HIDDEN void fut__ctx_boot(void);
#endif
/* ctx.c: what a made context runs first, from the trampoline (asm) or from
 * makecontext's function (ucontext).  Never returns. */
FUT_HIDDEN _Noreturn void fut__ctx_start(struct fut__ctx *c);

#if !defined(FUT_CORO_UCONTEXT) && !defined(FUT_ASAN) && !defined(FUT_TSAN)
/* Saves the running context into `from` and resumes `to`; returns when
 * some context switches back to `from`.  from != to, both on this thread.
 * The hot path: a static inline around the asm, so a switch is one call
 * and ~20 instructions. */
static inline void fut__ctx_switch(struct fut__ctx *from, struct fut__ctx *to)
{
    fut__ctx_jump(&from->sp, to->sp);
}
#else
/* As above, with the sanitizer annotations around the switch (ctx.c), or
 * through swapcontext. */
FUT_HIDDEN void fut__ctx_switch(struct fut__ctx *from, struct fut__ctx *to);
#endif

#endif /* !__ASSEMBLER__ */
#endif /* FUT_CORO_CTX_H */
