#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/w7.sh [BUILDDIR [RAW]] - W7 (BENCH.md): libfutures' echo server in
# the shared W7 harness, interleaved with the servers users already run.
#
# Finds and builds the harness (bench/w7_harness.sh), adds two rows to its
# peers with EXTRA_PEERS:
#   libfutures          bench/w7_echo: one loop on one thread
#   libfutures-loops2   bench/w7_echo --loops 2: one loop per core (2 here;
#                       W7_LOOPS=N), SO_REUSEPORT
# and runs its run.sh: every server in turn, every C, ROUNDS rounds
# (the order rotates), results in BUILDDIR/bench/w7-results/run-DATE/
# (raw.txt, log.txt, table.md).  Then bench/w7_verdicts.py: the BENCH.md
# targets as ratios in this run.  If RAW is given, the msgs/s, p99 and
# KiB-per-connection lines are appended to it (bench/run.sh's table).
#
#   QUICK=1         1 round, C = 10 and 1000, 2 s windows, libuv, go-P1,
#                   asyncio and libfutures only (a smoke test)
#   ROUNDS=3 CONNS="10 100 1000 10000" DURATION=5 WARMUP=1
#   W7_ONLY=REGEX   servers (default: all but libuv-malloc)
#   W7_PIN=1        the harness's --pin (loadgen on CPU 0, server on CPU 1)
# The harness installs the peers' Debian packages it misses when run as
# root (its install-deps.sh); NO_INSTALL=1 prevents that (missing peers are
# then skipped with a note).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
APPEND=${2:-}
QUICK=${QUICK:-0}
cd "$here"
. bench/w7_harness.sh
w7_harness_setup "$BUILD" || exit 2
make -s BUILD="$BUILD" "$BUILD/bench/w7_echo" >&2 || { echo "w7: build failed" >&2; exit 1; }
bin=$(cd "$BUILD/bench" && pwd)/w7_echo
loops=${W7_LOOPS:-$(nproc)}
peers=$(cd "$BUILD/bench" && pwd)/w7-peers.txt
{
    echo "libfutures $bin"
    [ "$loops" -gt 1 ] && echo "libfutures-loops$loops $bin --loops $loops"
} > "$peers"
if [ "$QUICK" = 1 ]; then
    export ROUNDS=1 CONNS=${CONNS:-"10 1000"} DURATION=${DURATION:-2}
    only=${W7_ONLY:-'^(asyncio|libuv|go-P1|libfutures.*)$'}
else
    export ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-"10 100 1000 10000"} DURATION=${DURATION:-5}
    only=${W7_ONLY:-'^(asyncio|uvloop|libuv|go-P1|go-P2|node|threads|libfutures.*)$'}
fi
out=$(cd "$BUILD/bench" && pwd)/w7-results/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
pin=()
[ "${W7_PIN:-0}" = 1 ] && pin=(--pin)
EXTRA_PEERS=$peers OUT=$out ONLY=$only "$W7H/run.sh" "${pin[@]}" >&2
rc=$?
[ -f "$out/raw.txt" ] || { echo "w7: the harness wrote no results" >&2; exit 1; }
python3 bench/w7_verdicts.py "$out/raw.txt" > "$out/verdicts.md" 2>/dev/null && cat "$out/table.md" "$out/verdicts.md"
if [ -n "$APPEND" ]; then
    awk '$1 == "W7" && ($3 == "msgs_per_s" || $3 == "p99_rtt" || $3 == "kib_per_conn")' \
        "$out/raw.txt" >> "$APPEND"
fi
echo "w7: results in $out" >&2
exit $rc
