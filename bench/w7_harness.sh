#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/w7_harness.sh BUILDDIR - sourced by bench/w7.sh and bench/w7_modes.sh.
#
# The W7 harness (load generator, peers' servers, run.sh) is the shared one
# every W7 figure is compared against; it is not part of this repository.
# This finds it (W7_HARNESS, else ../shared/peers/w7 beside the repository),
# copies it with its src/common.h into BUILDDIR/bench/w7-harness (it builds
# and writes results into its own directory), and builds it there.  Sets
# W7H (the copy's w7 directory) or returns 1 saying why.
w7_harness_setup() {
    local build=$1 here src
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    src=${W7_HARNESS:-$here/../shared/peers/w7}
    if [ ! -f "$src/loadgen.c" ] || [ ! -f "$src/../src/common.h" ]; then
        echo "w7: no W7 harness at $src (set W7_HARNESS=.../peers/w7)" >&2
        return 1
    fi
    mkdir -p "$build/bench/w7-harness"
    local dst
    dst=$(cd "$build/bench/w7-harness" && pwd)
    # Refresh the copy (sources only; keep its build/ and results/).
    chmod -R u+w "$dst"
    rm -rf "$dst/src"
    cp -r "$src/../src" "$dst/src"
    mkdir -p "$dst/w7"
    (cd "$src" && find . -maxdepth 1 -type f -exec cp -f {} "$dst/w7/" \;)
    chmod -R u+w "$dst"
    W7H=$(cd "$dst/w7" && pwd)
    (cd "$W7H" && make -s all >&2) || { echo "w7: the harness did not build" >&2; return 1; }
    return 0
}
