#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/growth.sh BUILDDIR - how the library's cost grows with N, counted in
# instructions (valgrind --tool=callgrind), which a shared, noisy VM cannot
# blur: a time curve that bends up while the instruction count per task
# stays flat is the memory system (caches, TLB), not the algorithm.
#
#   make BUILD=build benches && bench/growth.sh build
#   GROWTH_NS="100 1000 10000 100000 1000000" bench/growth.sh build   (default up to 10^4;
#                                   the timers up to GROWTH_TIMERS_MAX, default 10^5)
#
# Each figure is the difference of two runs that differ only in the work
# counted, so start-up and creation cancel out:
#   W1-scale libfutures-loop-N<n>  instr_per_task: (scale loop N 3) - (scale loop N 2),
#                                  over N: spawn + run + gather + release of one task
#   W1-scale libfutures-pool-N<n>  instr_per_task: the same for the pool, counting the
#                                  submitting thread only (--toggle-collect=one_round:
#                                  submit, gather, release; under valgrind the threads
#                                  take turns, so the workers' share is not repeatable)
#   W5-timers libfutures-loop-N<n> instr_per_sleep: (timers N 16 4 0) - (timers N 8 4 0),
#                                  over 8N: a fut_sleep with its timer and its switch;
#                                  instr_per_yield likewise with fut_yield; instr_per_timer
#                                  the difference
# Prints the lines "workload peer metric value unit" and writes
# BUILDDIR/bench/growth.csv (bench/table.awk), which bench/report.py and
# bench/plots.py read beside results.csv.  Takes a few minutes.
set -u
BUILD=${1:-build}
BIN="$BUILD/bench"
here=$(cd "$(dirname "$0")/.." && pwd)
NS=${GROWTH_NS:-100 1000 10000}
command -v valgrind >/dev/null || { echo "growth.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
for b in scale timers; do
    [ -x "$BIN/$b" ] || { echo "growth.sh: $BIN/$b not built (make BUILD=$BUILD benches)" >&2; exit 2; }
done

# ir ARGS...: instructions counted by callgrind for one run
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
        awk '/Collected :/ {print $NF; exit} /refs:/ {gsub(",", "", $NF); print $NF; exit}'
}
out=$(mktemp)
for n in $NS; do
    echo "[growth] N = $n" >&2
    a=$(ir "$BIN/scale" loop "$n" 2); b=$(ir "$BIN/scale" loop "$n" 3)
    echo "W1-scale libfutures-loop-N$n instr_per_task $(( (b - a) / n )) Ir" | tee -a "$out"
    a=$(ir --collect-atstart=no --toggle-collect=one_round "$BIN/scale" pool "$n" 2)
    b=$(ir --collect-atstart=no --toggle-collect=one_round "$BIN/scale" pool "$n" 3)
    echo "W1-scale libfutures-pool-N$n instr_per_task $(( (b - a) / n )) Ir" | tee -a "$out"
    [ "$n" -gt "${GROWTH_TIMERS_MAX:-100000}" ] && continue
    s8=$(ir "$BIN/timers" "$n" 8 4 0); s16=$(ir "$BIN/timers" "$n" 16 4 0)
    y8=$(ir "$BIN/timers" "$n" 0 4 8); y16=$(ir "$BIN/timers" "$n" 0 4 16)
    ps=$(( (s16 - s8) / (8 * n) )); py=$(( (y16 - y8) / (8 * n) ))
    echo "W5-timers libfutures-loop-N$n instr_per_sleep $ps Ir" | tee -a "$out"
    echo "W5-timers libfutures-loop-N$n instr_per_yield $py Ir" | tee -a "$out"
    echo "W5-timers libfutures-loop-N$n instr_per_timer $((ps - py)) Ir" | tee -a "$out"
done
awk -v csv="$BIN/growth.csv" -f "$here/bench/table.awk" "$out" >/dev/null
rm -f "$out"
echo "* CSV: $BIN/growth.csv" >&2
