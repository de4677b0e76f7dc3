#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cross-aarch64.sh - build the coroutine machinery (lib/coro/, lib/stack.c)
# and tests/test_coro.c for AArch64 with the Debian cross compiler, and run
# the tests under qemu-user.
#
#   scripts/cross-aarch64.sh            asm back end, ucontext back end, and
#                                       the asm back end built with
#                                       -mbranch-protection=standard
#   BUILD=dir scripts/cross-aarch64.sh  build elsewhere (default build-aarch64)
#   scripts/cross-aarch64.sh coro_fp    only the cases whose name contains it
#
# Check is not available for the arm64 cross target, so test_coro.c is built
# with -DFUT_NO_CHECK: its own small driver runs the very same case
# functions, each in a forked child, and prints PASS/FAIL per case.  The
# context switch, start trampoline, stack allocator and overflow reporter
# exercised are the same code as in the native build.
#
# Under qemu-user: madvise(MADV_GUARD_INSTALL) is accepted but ignored, so
# the allocator's probe falls back to mprotect guards (that path is then
# what the overflow case tests), and switch timings are emulated, not
# hardware figures.
#
# Installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user when
# missing (scripts/ensure-deps.sh cross).  Exits 0 when every run passed.
set -u
cd "$(dirname "$0")/.."

scripts/ensure-deps.sh cross || { echo "cross-aarch64: FAILED: cannot install the cross toolchain" >&2; exit 1; }

CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)
SYSROOT=${CROSS_SYSROOT:-/usr/aarch64-linux-gnu}
BUILD=${BUILD:-build-aarch64}
FILTER=${1:-}

# The Makefile's flags, minus what does not apply (no Check).
CPPFLAGS="-D_GNU_SOURCE -Iinclude -Ilib -DFUT_NO_CHECK"
CFLAGS="-std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -O2 -g -pthread -fvisibility=hidden"
SFLAGS="-std=c11 -Wall -Wextra -O2 -g -pthread -fvisibility=hidden"   # .S: no -Wpedantic

mkdir -p "$BUILD"
summary=()
status=0

# build NAME EXTRA_FLAGS BACKEND_SOURCE
build() {
    local name=$1 extra=$2 backend=$3 out="$BUILD/$1"
    mkdir -p "$out"
    local objs=()
    for src in lib/alloc.c lib/stack.c lib/coro/ctx.c "$backend" tests/test_coro.c; do
        local obj="$out/$(basename "$src").o" flags="$CFLAGS"
        case "$src" in *.S) flags="$SFLAGS" ;; esac
        # shellcheck disable=SC2086
        $CC $CPPFLAGS $flags $extra -c "$src" -o "$obj" || return 1
        objs+=("$obj")
    done
    # shellcheck disable=SC2086
    $CC -pthread $extra -o "$out/test_coro" "${objs[@]}" -lm || return 1
}

# run NAME: runs the driver under qemu, records its summary line
run() {
    local name=$1 log="$BUILD/$1/test_coro.log"
    echo "== aarch64 $name: $QEMU -L $SYSROOT $BUILD/$name/test_coro $FILTER"
    "$QEMU" -L "$SYSROOT" "$BUILD/$name/test_coro" $FILTER 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^test_coro \(' "$log" | tail -1)
    summary+=("$name: ${line:-no summary (crashed?)}")
    [ "$rc" -eq 0 ] || status=1
}

one() {   # one NAME EXTRA BACKEND
    if build "$1" "$2" "$3"; then
        run "$1"
    else
        summary+=("$1: BUILD FAILED")
        status=1
    fi
}

one asm "" lib/coro/switch_aarch64_aapcs.S
one ucontext "-DFUT_CORO_UCONTEXT=1" lib/coro/ucontext.c
# -mbranch-protection=standard: the switch with its `bti c` landing pads and
# BTI/PAC property note, next to C code signing its return addresses
# (pac-ret) across switches.  This checks that it builds and runs; BTI is not
# enforced in this run, since Debian's startup files carry no BTI marking and
# so the linked program is unmarked.
QEMU_CPU=max one asm-bti "-mbranch-protection=standard" lib/coro/switch_aarch64_aapcs.S

echo
for s in "${summary[@]}"; do echo "cross-aarch64: $s"; done
if [ $status -eq 0 ]; then
    echo "cross-aarch64: OK (all runs passed under $(basename "$QEMU"))"
else
    echo "cross-aarch64: FAILED"
fi
exit $status
