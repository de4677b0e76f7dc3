#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cross-aarch64.sh - the whole test suite for AArch64: the library, the
# examples and every tests/test_*.c built with the Debian cross compiler,
# run under qemu-user.
#
#   scripts/cross-aarch64.sh               the asm back end: every suite; then
#                                          test_coro and test_loop with the
#                                          ucontext back end, and test_coro
#                                          with -mbranch-protection=standard
#   scripts/cross-aarch64.sh test_loop ... only these suites (asm back end)
#   BUILD=dir                              build folder prefix
#                                          (default build-aarch64)
#   WERROR=1                               warnings are errors (CI)
#
# Check is not packaged for arm64 next to the amd64 one, so the suites are
# built against tests/shim/check.h, the part of Check's API they use, with
# the same behaviour (a forked child per test, timeouts, the summary line
# scripts/run-tests.sh reads).  The library, the context switch, the
# stacks and the tests are the same code as in the native build.
#
# Under qemu-user, everything runs on ONE host CPU (taskset; QEMU_CPUS=all
# to lift it).  qemu's TCG translates an AArch64 store-release (STLR) as a
# barrier then a plain store, and a load-acquire (LDAR) as a plain load then
# a barrier, so on an x86 host a STLR followed by a LDAR can be reordered
# (the store waits in the store buffer), which the Arm architecture forbids
# (RCsc).  C11's seq_cst store-then-load is exactly that pair: the Dekker
# handshake between a future's completer and its waiters (future.c,
# "Waking without a lock") then loses a wake-up, and a stress test hangs
# (measured here: 6 of 25 runs of test_stress's pool cases hung on two host
# CPUs; 0 of 25 with a DMB between the two accesses, and 0 of 25 on one
# host CPU, where the emulated threads take turns on one core, which sees
# its own stores in order).
# Pinned, the emulated threads still interleave at every preemption.
#
# Also under qemu-user: code runs several times slower, so the per-test
# timeouts are multiplied (CK_TIMEOUT_MULTIPLIER, default 10) and the
# stress loops shortened (FUT_TEST_ROUNDS_DIV, default 10); the examples
# that test_examples runs are started through qemu too (EXAMPLES_DIR points
# at one-line wrappers); madvise(MADV_GUARD_INSTALL) is accepted but
# ignored, so the stack allocator's probe falls back to mprotect guards;
# timings are emulated, not hardware figures.
#
# Installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user when
# missing (scripts/ensure-deps.sh cross).  Exits 0 when every run passed.
set -u
cd "$(dirname "$0")/.." || exit 2

scripts/ensure-deps.sh cross || { echo "cross-aarch64: FAILED: cannot install the cross toolchain" >&2; exit 1; }

CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)
SYSROOT=${CROSS_SYSROOT:-/usr/aarch64-linux-gnu}
BUILD=${BUILD:-build-aarch64}
WERROR=${WERROR:-0}
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-10}
export FUT_TEST_ROUNDS_DIV=${FUT_TEST_ROUNDS_DIV:-10}

SHIM=(CHECK_CFLAGS=-Itests/shim "CHECK_LIBS=-lm -lrt")

# One host CPU: the first one this process may run on (see above).
PIN=()
if [ "${QEMU_CPUS:-one}" != all ] && command -v taskset >/dev/null; then
    cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
    PIN=(taskset -c "$cpu")
fi
summary=()
status=0

# build NAME MAKE-ARGS...: the library, examples and tests into $BUILD/NAME
build() {
    local name=$1
    shift
    echo "== aarch64 $name: building"
    make -s -j2 CC="$CC" BUILD="$BUILD/$name" WERROR="$WERROR" "${SHIM[@]}" "$@" tests
}

# run NAME SUITE...: each suite under qemu, the examples through wrappers
run() {
    local name=$1 dir=$BUILD/$1
    shift
    local wrap=$dir/examples-qemu
    mkdir -p "$wrap"
    for ex in "$dir"/examples/*; do
        [ -x "$ex" ] || continue
        printf '#!/bin/sh\nexec "%s" -L "%s" "%s" "$@"\n' "$QEMU" "$SYSROOT" "$(realpath "$ex")" \
            > "$wrap/${ex##*/}"
        chmod +x "$wrap/${ex##*/}"
    done
    local bins=()
    for t in "$@"; do bins+=("$dir/tests/$t"); done
    # run-tests.sh runs each binary; these wrappers run it under qemu.
    local qbins=()
    mkdir -p "$dir/tests-qemu"
    for b in "${bins[@]}"; do
        local q=$dir/tests-qemu/${b##*/}
        printf '#!/bin/sh\nexec "%s" -L "%s" "%s" "$@"\n' "$QEMU" "$SYSROOT" "$(realpath "$b")" > "$q"
        chmod +x "$q"
        qbins+=("$q")
    done
    echo "== aarch64 $name: ${*} under $(basename "$QEMU")" \
         "(CK_TIMEOUT_MULTIPLIER=$CK_TIMEOUT_MULTIPLIER FUT_TEST_ROUNDS_DIV=$FUT_TEST_ROUNDS_DIV${PIN[*]:+, ${PIN[*]}})"
    local log=$dir/tests.log
    EXAMPLES_DIR=$wrap "${PIN[@]}" scripts/run-tests.sh "${qbins[@]}" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    summary+=("$name: $(tail -n 2 "$log" | grep -E 'passed, [0-9]+ failed' || echo 'no summary (crashed?)')")
    [ "$rc" -eq 0 ] || status=1
}

one() {   # one NAME [MAKE-ARGS...] -- SUITE...
    local name=$1 args=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    if build "$name" "${args[@]}"; then
        run "$name" "$@"
    else
        summary+=("$name: BUILD FAILED")
        status=1
    fi
}

all=()
for t in tests/test_*.c; do all+=("$(basename "$t" .c)"); done

if [ $# -gt 0 ]; then
    one asm -- "$@"
else
    one asm -- "${all[@]}"
    # The portable back end where it differs: the switch and the loop on it.
    one ucontext CORO=ucontext -- test_coro test_loop
    # -mbranch-protection=standard: the switch with its `bti c` landing pads
    # and BTI/PAC property note, next to C code signing its return addresses
    # (pac-ret) across switches.  This checks that it builds and runs; BTI is
    # not enforced in this run, since Debian's startup files carry no BTI
    # marking and so the linked program is unmarked.
    QEMU_CPU=max one asm-bti "CFLAGS=-O2 -g -mbranch-protection=standard" -- test_coro
fi

echo
for s in "${summary[@]}"; do echo "cross-aarch64: $s"; done
if [ $status -eq 0 ]; then
    echo "cross-aarch64: OK (all runs passed under $(basename "$QEMU"))"
else
    echo "cross-aarch64: FAILED"
fi
exit $status
