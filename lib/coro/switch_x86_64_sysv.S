/* SPDX-License-Identifier: MIT */
/*
 * switch_x86_64_sysv.S - context switch for x86-64, System V ABI, ELF, GNU as
 *
 * The saved frame.  fut__ctx.sp points at offset 0x00; the frame sits on
 * the suspended context's own stack, just below the return address that
 * the `call fut__ctx_jump` pushed (or that fut__ctx_make wrote):
 *
 *   -----------------------------------------------------------------
 *   | offset | size | contents                                       |
 *   |--------|------|------------------------------------------------|
 *   |  0x00  |  4   | MXCSR        (SSE control/status)               |
 *   |  0x04  |  2   | x87 CW       (x87 control word)                 |
 *   |  0x06  |  2   | (padding)                                       |
 *   |  0x08  |  8   | r12                                             |
 *   |  0x10  |  8   | r13                                             |
 *   |  0x18  |  8   | r14                                             |
 *   |  0x20  |  8   | r15                                             |
 *   |  0x28  |  8   | rbx          (made context: the struct fut__ctx *) |
 *   |  0x30  |  8   | rbp          (made context: 0, ends fp chains)  |
 *   |  0x38  |  8   | return rip   (made context: fut__ctx_boot)      |
 *   -----------------------------------------------------------------
 *   0x40: the resumed context's rsp after `ret`.
 *
 * lib/coro/ctx.h names these offsets (FUT__X64_*); ctx.c checks them
 * against a C struct with _Static_assert and builds the first frame of a
 * new context from that struct.  The table is the contract: change the
 * three together.
 *
 * What is saved, and why (System V AMD64 psABI, "Registers"): rbx, rbp,
 * r12-r15 and rsp are callee-saved; so are the control bits of MXCSR and
 * the x87 control word (rounding, precision, exception masks).  A switch
 * looks like an ordinary call to the code that makes it, so it must keep
 * exactly what a call keeps: the caller-saved registers (rax, rcx, rdx,
 * rsi, rdi, r8-r11, xmm0-15, the flags) are already dead at the call
 * site.  MXCSR status bits are caller-saved; storing them with the control
 * bits is harmless.  Not saved: the signal mask (it belongs to the thread:
 * no system call, which is why this is ~40x faster than swapcontext), the
 * x87 register stack (empty at a call), the fs base (TLS belongs to the
 * thread: a context never moves between threads).
 *
 * Stack: the switch is entered by `call`, so rsp = 8 (mod 16) on entry; it
 * reserves 0x38 bytes, keeping the frame 8-aligned (its fields need no
 * more).  rsp always points into a valid stack: first into the old one,
 * then, after one instruction, into the new one, so a signal handler
 * running at any instruction here finds a sound stack below rsp.
 *
 * CET: `endbr64` opens each entry when compiled with -fcf-protection, and
 * the object is marked IBT-compatible only.  It is deliberately NOT marked
 * SHSTK-compatible (which is why this file does not include <cet.h>: under
 * -fcf-protection=full that header would claim shadow-stack support).  The
 * shadow stack is one per thread and holds the old context's return
 * addresses, so with shadow stacks enforced the switch's own `ret` (to the
 * new context's return address) would fault; without the marking, the
 * loader leaves shadow stacks off for any program linking this object.
 * See doc/coroutines-internals.md.
 */

#include "ctx.h"

#if defined(__CET__) && (__CET__ & 1)
#define FUT_ENDBR endbr64
#else
#define FUT_ENDBR
#endif

        .text

/*
 * void fut__ctx_jump(void **save_sp, void *to_sp)
 *     rdi = where to store the running context's stack pointer
 *     rsi = the stack pointer of the context to resume (its saved frame)
 *
 * Resumes with `ret`, not with Boost.Context's `pop; jmp *reg`.  The
 * `call` that entered here pushed one return-stack-buffer (RSB) entry, and
 * `ret` pops it, so the RSB stays balanced: when the two sides of a switch
 * sit at the same call sites (two coroutines yielding through the same
 * library function: the loop's common case), every return after the
 * switch is predicted, the switch's own included.  `jmp` leaves that
 * entry behind, so every later return in the resumed context is predicted
 * one level off and mispredicts.  Measured on the project VM (best of 6
 * runs, ns per switch, with 0, 1, 2, 3 call levels between the code and
 * the switch):
 *     two coroutines, same path:  ret 6.2 6.9 6.5 6.9   jmp 6.0 13 22 30
 *     two different call paths:   ret 13 13 14 15       jmp 5.4 13 21 29
 * and through the loop's fut_yield (BENCH W4): ret 10.5, jmp 26.8.
 * `jmp` wins only the bare two-function ping-pong that micro-benchmarks
 * measure; `ret` wins wherever the switch is reached through a call or
 * two.  (IBT: `ret` needs no landing pad.)
 *
 * CFI: the CFA is rsp + 0x40 from the first `leaq` to the second, on both
 * stacks (same frame layout), so a profiler's unwinder can walk through a
 * sample taken here.
 */
        .globl  fut__ctx_jump
        .hidden fut__ctx_jump
        .type   fut__ctx_jump, @function
        .p2align 4
fut__ctx_jump:
        .cfi_startproc
        FUT_ENDBR                                       /* IBT landing pad (no-op without CET) */
        leaq    -FUT__X64_FRAME(%rsp), %rsp             /* reserve the frame below the return address */
        .cfi_adjust_cfa_offset FUT__X64_FRAME
        stmxcsr FUT__X64_MXCSR(%rsp)                    /* save MXCSR */
        fnstcw  FUT__X64_X87CW(%rsp)                    /* save the x87 control word */
        movq    %r12, FUT__X64_R12(%rsp)                /* save r12 */
        movq    %r13, FUT__X64_R13(%rsp)                /* save r13 */
        movq    %r14, FUT__X64_R14(%rsp)                /* save r14 */
        movq    %r15, FUT__X64_R15(%rsp)                /* save r15 */
        movq    %rbx, FUT__X64_RBX(%rsp)                /* save rbx */
        movq    %rbp, FUT__X64_RBP(%rsp)                /* save rbp */

        movq    %rsp, (%rdi)                            /* *save_sp = frame: the old context is now suspended */
        movq    %rsi, %rsp                              /* switch stacks: rsp = the new context's frame */

        ldmxcsr FUT__X64_MXCSR(%rsp)                    /* restore MXCSR */
        fldcw   FUT__X64_X87CW(%rsp)                    /* restore the x87 control word */
        movq    FUT__X64_R12(%rsp), %r12                /* restore r12 */
        movq    FUT__X64_R13(%rsp), %r13                /* restore r13 */
        movq    FUT__X64_R14(%rsp), %r14                /* restore r14 */
        movq    FUT__X64_R15(%rsp), %r15                /* restore r15 */
        movq    FUT__X64_RBX(%rsp), %rbx                /* restore rbx */
        movq    FUT__X64_RBP(%rsp), %rbp                /* restore rbp */
        leaq    FUT__X64_FRAME(%rsp), %rsp              /* pop the frame: the return address is on top */
        .cfi_adjust_cfa_offset -FUT__X64_FRAME
        ret                                             /* resume the new context where it called us */
        .cfi_endproc
        .size   fut__ctx_jump, .-fut__ctx_jump

/*
 * fut__ctx_boot: the first "return address" of a context made by
 * fut__ctx_make.  Reached by the `ret` above with rsp 16-byte aligned (ctx.c
 * places the frame so) and rbx = the struct fut__ctx *.  Calls
 * fut__ctx_start(ctx), which never returns; if it somehow did, ud2 stops
 * the process with SIGILL rather than running into whatever follows.
 *
 * rip is marked undefined: this is the outermost frame of the coroutine,
 * so debuggers and unwinders stop here instead of walking into the zeroed
 * words above it.
 */
        .globl  fut__ctx_boot
        .hidden fut__ctx_boot
        .type   fut__ctx_boot, @function
        .p2align 4
fut__ctx_boot:
        .cfi_startproc
        .cfi_undefined rip
        FUT_ENDBR                                       /* harmless; `ret` needs no landing pad */
        movq    %rbx, %rdi                              /* argument: the context being started */
        call    fut__ctx_start                          /* rsp = 0 (mod 16) before the call, as the ABI wants */
        ud2                                             /* not reached: fut__ctx_start is _Noreturn */
        .cfi_endproc
        .size   fut__ctx_boot, .-fut__ctx_boot

/* The stack is never executable. */
        .section .note.GNU-stack,"",%progbits

/* CET: IBT-compatible (every entry has endbr64), NOT shadow-stack
 * compatible.  GNU_PROPERTY_X86_FEATURE_1_AND with bit 0 (IBT) only; the
 * linker ANDs these over all objects, so a program linking this file is
 * never marked SHSTK. */
#if defined(__CET__) && (__CET__ & 1)
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .long   1f - 0f                                 /* name size */
        .long   4f - 1f                                 /* descriptor size */
        .long   5                                       /* NT_GNU_PROPERTY_TYPE_0 */
0:      .asciz  "GNU"                                   /* owner */
1:      .p2align 3
        .long   0xc0000002                              /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   3f - 2f                                 /* property data size */
2:      .long   0x1                                     /* GNU_PROPERTY_X86_FEATURE_1_IBT */
3:      .p2align 3
4:
        .popsection
#endif
