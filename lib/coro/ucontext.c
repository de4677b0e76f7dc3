/* SPDX-License-Identifier: MIT */
/*
 * ucontext.c - the portable context-switch back end (getcontext,
 * makecontext, swapcontext)
 *
 * Built instead of switch_<arch>.S with CORO=ucontext (-DFUT_CORO_UCONTEXT=1),
 * and on targets that have no hand-written switch.  ctx.c does everything
 * that does not depend on the back end (sanitizers, Valgrind, the start
 * function, and the swapcontext/setcontext calls themselves, which must sit
 * right after the TSan fiber switch in the same function); this file only
 * makes ucontext_t's.
 *
 * Cost.  POSIX makes swapcontext save and restore the signal mask, so every
 * switch is a rt_sigprocmask system call: a few hundred nanoseconds instead
 * of a few.  It also means that here, unlike with the asm back end, each
 * context carries its own signal mask; the loop relies on neither (the
 * mask belongs to the thread; see futures.h).  glibc's x86-64 getcontext
 * also saves the FP environment (x87 control word, MXCSR), so both back
 * ends keep FP control modes per context on x86-64.  On AArch64 glibc's
 * ucontext saves FPCR while the asm back end treats it as thread state, as
 * AAPCS64 does.
 *
 * The pointer handoff.  makecontext passes its extra arguments as int
 * (POSIX: "the arguments ... shall be of type int"); a pointer does not fit
 * in one on LP64.  glibc happens to pass 64-bit values on x86-64, but that
 * is not portable, so the struct fut__ctx * is split into two 32-bit
 * halves (low, high) and joined again in uc_entry.  A thread-local handoff
 * would also work, but needs care if a context is made and not started at
 * once; the split needs none.
 *
 * Shadow stacks: glibc's makecontext/swapcontext know about CET shadow
 * stacks, so this back end is the one to use where shadow stacks are
 * forced on.
 */
#include "coro/ctx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* makecontext's function: rebuild the pointer from its two halves. */
static void uc_entry(int lo, int hi)
{
    uint64_t p = ((uint64_t)(unsigned)hi << 32) | (uint64_t)(unsigned)lo;
    fut__ctx_start((struct fut__ctx *)(uintptr_t)p);
}

void fut__uc_make(struct fut__ctx *c, void *lo, size_t size)
{
    uint64_t p = (uint64_t)(uintptr_t)c;

    /* getcontext fills in what makecontext does not set (the signal mask,
     * the FP environment); it cannot fail on Linux. */
    if (getcontext(&c->uc) != 0)
        die("libfutures: getcontext failed; aborting\n");
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_stack.ss_flags = 0;
    c->uc.uc_link = NULL;   /* uc_entry never returns (fut__ctx_start) */
    makecontext(&c->uc, (void (*)(void))uc_entry, 2,
                (int)(unsigned)(p & 0xffffffffu), (int)(unsigned)(p >> 32));
}
