/* SPDX-License-Identifier: MIT */
/*
 * switch_aarch64_aapcs.S - context switch for AArch64, AAPCS64, ELF, GNU as
 *
 * The saved frame.  fut__ctx.sp points at offset 0x00; the frame sits on
 * the suspended context's own stack:
 *
 *   -----------------------------------------------------------------
 *   | offset | size | contents                                       |
 *   |--------|------|------------------------------------------------|
 *   |  0x00  |  8   | d8   (low 64 bits of v8)                       |
 *   |  0x08  |  8   | d9                                             |
 *   |  0x10  |  8   | d10                                            |
 *   |  0x18  |  8   | d11                                            |
 *   |  0x20  |  8   | d12                                            |
 *   |  0x28  |  8   | d13                                            |
 *   |  0x30  |  8   | d14                                            |
 *   |  0x38  |  8   | d15                                            |
 *   |  0x40  |  8   | x19          (made context: the struct fut__ctx *) |
 *   |  0x48  |  8   | x20                                            |
 *   |  0x50  |  8   | x21                                            |
 *   |  0x58  |  8   | x22                                            |
 *   |  0x60  |  8   | x23                                            |
 *   |  0x68  |  8   | x24                                            |
 *   |  0x70  |  8   | x25                                            |
 *   |  0x78  |  8   | x26                                            |
 *   |  0x80  |  8   | x27                                            |
 *   |  0x88  |  8   | x28                                            |
 *   |  0x90  |  8   | x29 (fp)     (made context: 0, ends fp chains)  |
 *   |  0x98  |  8   | x30 (lr)     (made context: fut__ctx_boot)      |
 *   -----------------------------------------------------------------
 *   0xa0: the resumed context's sp after the frame is popped.
 *
 * lib/coro/ctx.h names these offsets (FUT__A64_*); ctx.c checks them
 * against a C struct with _Static_assert and builds the first frame of a
 * new context from that struct.  The table is the contract.
 *
 * What is saved, and why (AAPCS64, "General-purpose registers" and "SIMD
 * and Floating-Point registers"): a callee preserves x19-x29 and sp, and
 * the low 64 bits of v8-v15; x30 is where the switch returns to.  A switch
 * looks like an ordinary call to the code that makes it, so it keeps
 * exactly what a call keeps.  Not saved:
 *   - FPCR.  AAPCS64 calls it a global register whose modes (rounding,
 *     flush-to-zero, trap enables) are changed only by "support functions
 *     that affect the global state of the application" (fesetround): it is
 *     thread state, not callee-saved, so a coroutine's fesetround() is seen
 *     by the whole thread.  (x86-64 differs: there the MXCSR and x87
 *     control bits are callee-saved, and that switch saves them.)
 *   - FPSR: cumulative flags, not preserved across calls.
 *   - x18 (platform register), tpidr_el0 (TLS): thread state; a context
 *     never moves between threads.
 *   - the signal mask: thread state; no system call.
 *
 * Stack: sp is 16-byte aligned at every instruction (the hardware checks
 * it on every sp-based access) and always points into a valid stack.
 *
 * BTI / PAC: with -mbranch-protection, each entry opens with `bti c` and
 * the object is marked BTI (and PAC) compatible; x30 is saved and restored
 * as a plain value, so signed return addresses of the callers stay valid
 * (each is authenticated later against its own, restored, sp).  Guarded
 * control stacks (GCS, the arm64 shadow stack) are not supported, as CET
 * shadow stacks on x86-64 are not: see doc/coroutines-internals.md.
 */

#include "ctx.h"

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define FUT_BTI_C hint #34      /* bti c: a valid target of blr */
#else
#define FUT_BTI_C
#endif

        .text

/*
 * void fut__ctx_jump(void **save_sp, void *to_sp)
 *     x0 = where to store the running context's stack pointer
 *     x1 = the stack pointer of the context to resume (its saved frame)
 */
        .globl  fut__ctx_jump
        .hidden fut__ctx_jump
        .type   fut__ctx_jump, %function
        .p2align 4
fut__ctx_jump:
        .cfi_startproc
        FUT_BTI_C                                       // landing pad when BTI is on
        sub     sp, sp, #FUT__A64_FRAME                 // reserve the frame (stays 16-aligned)
        .cfi_adjust_cfa_offset FUT__A64_FRAME
        stp     d8,  d9,  [sp, #FUT__A64_D8 + 0x00]     // save d8, d9
        stp     d10, d11, [sp, #FUT__A64_D8 + 0x10]     // save d10, d11
        stp     d12, d13, [sp, #FUT__A64_D8 + 0x20]     // save d12, d13
        stp     d14, d15, [sp, #FUT__A64_D8 + 0x30]     // save d14, d15
        stp     x19, x20, [sp, #FUT__A64_X19 + 0x00]    // save x19, x20
        stp     x21, x22, [sp, #FUT__A64_X19 + 0x10]    // save x21, x22
        stp     x23, x24, [sp, #FUT__A64_X19 + 0x20]    // save x23, x24
        stp     x25, x26, [sp, #FUT__A64_X19 + 0x30]    // save x25, x26
        stp     x27, x28, [sp, #FUT__A64_X19 + 0x40]    // save x27, x28
        stp     x29, x30, [sp, #FUT__A64_X29]           // save fp and lr (the resume address)

        mov     x9, sp                                  // sp cannot be stored directly
        str     x9, [x0]                                // *save_sp = frame: the old context is suspended
        mov     sp, x1                                  // switch stacks: sp = the new context's frame

        ldp     d8,  d9,  [sp, #FUT__A64_D8 + 0x00]     // restore d8, d9
        ldp     d10, d11, [sp, #FUT__A64_D8 + 0x10]     // restore d10, d11
        ldp     d12, d13, [sp, #FUT__A64_D8 + 0x20]     // restore d12, d13
        ldp     d14, d15, [sp, #FUT__A64_D8 + 0x30]     // restore d14, d15
        ldp     x19, x20, [sp, #FUT__A64_X19 + 0x00]    // restore x19, x20
        ldp     x21, x22, [sp, #FUT__A64_X19 + 0x10]    // restore x21, x22
        ldp     x23, x24, [sp, #FUT__A64_X19 + 0x20]    // restore x23, x24
        ldp     x25, x26, [sp, #FUT__A64_X19 + 0x30]    // restore x25, x26
        ldp     x27, x28, [sp, #FUT__A64_X19 + 0x40]    // restore x27, x28
        ldp     x29, x30, [sp, #FUT__A64_X29]           // restore fp and lr
        add     sp, sp, #FUT__A64_FRAME                 // pop the frame
        .cfi_adjust_cfa_offset -FUT__A64_FRAME
        ret                                             // resume at x30 in the new context
        .cfi_endproc
        .size   fut__ctx_jump, .-fut__ctx_jump

/*
 * fut__ctx_boot: the first x30 of a context made by fut__ctx_make.  Reached
 * by the `ret` above with sp 16-aligned and x19 = the struct fut__ctx *.
 * Calls fut__ctx_start(ctx), which never returns; if it somehow did, brk
 * stops the process (SIGTRAP) instead of running into what follows.
 * x30 is marked undefined: the outermost frame of the coroutine, where
 * unwinders stop.
 */
        .globl  fut__ctx_boot
        .hidden fut__ctx_boot
        .type   fut__ctx_boot, %function
        .p2align 4
fut__ctx_boot:
        .cfi_startproc
        .cfi_undefined x30
        FUT_BTI_C                                       // harmless; `ret` needs no landing pad
        mov     x0, x19                                 // argument: the context being started
        bl      fut__ctx_start                          // never returns
        brk     #0x3e8                                  // not reached: fut__ctx_start is _Noreturn
        .cfi_endproc
        .size   fut__ctx_boot, .-fut__ctx_boot

/* The stack is never executable. */
        .section .note.GNU-stack,"",%progbits

/* BTI / PAC marking: GNU_PROPERTY_AARCH64_FEATURE_1_AND, set only for the
 * features this file was built for, as the compiler does for C objects. */
#if defined(__ARM_FEATURE_BTI_DEFAULT) || defined(__ARM_FEATURE_PAC_DEFAULT)
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define FUT_PROP_BTI 1
#else
#define FUT_PROP_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define FUT_PROP_PAC 2
#else
#define FUT_PROP_PAC 0
#endif
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .long   1f - 0f                                 // name size
        .long   4f - 1f                                 // descriptor size
        .long   5                                       // NT_GNU_PROPERTY_TYPE_0
0:      .asciz  "GNU"                                   // owner
1:      .p2align 3
        .long   0xc0000000                              // GNU_PROPERTY_AARCH64_FEATURE_1_AND
        .long   3f - 2f                                 // property data size
2:      .long   FUT_PROP_BTI | FUT_PROP_PAC             // BTI (bit 0), PAC (bit 1)
3:      .p2align 3
4:
        .popsection
#endif
