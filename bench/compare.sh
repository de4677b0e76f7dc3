#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/compare.sh BUILDDIR [REGEX] - libfutures side by side with the peers,
# INTERLEAVED: round r runs every selected command once (peers' and ours, in
# programs.txt order), RUNS rounds; one table of median / min / max / spread.
#
#   make BUILD=build benches
#   bench/compare.sh build 'w1_|w2_|w6_'        # W1, W2, W6 only
#   RUNS=9 bench/compare.sh build               # everything, 9 rounds
#
# Why not only ../shared/peers/run.sh (which BENCH.md names and which works
# too, see doc/performance.md)?  It runs each program RUNS times back to back,
# so on a shared machine a burst of someone else's load lands on a few
# programs only and skews their ratio; interleaving spreads it over all of
# them.  Same programs, same output lines, same statistics.
#
# Env: PEERS (the harness folder; default ../shared/peers beside the repo),
# RUNS (default 5), WARMUP=1 (one unrecorded round first), RAW (keep the raw
# lines), CSV (write the CSV), TIMEOUT (per run, default 60 s as run.sh).
# QUIET=P: a run during which OTHER processes used more than P% of the
# machine's CPU time (busy time from /proc/stat minus the run's own CPU time)
# is thrown away and repeated, after waiting for such a quiet moment, up to
# RETRIES times (default 20; then the last try is kept and counted as noisy).
# For a machine shared with other jobs; the table notes how many were redone.
# REGEX is matched (grep -E) against the command lines, as run.sh --only.
# Exits 1 if any run failed its check.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:?usage: bench/compare.sh BUILDDIR [REGEX]}
ONLY=${2:-}
PEERS=${PEERS:-$here/../shared/peers}
RUNS=${RUNS:-5}
TMO=${TIMEOUT:-60}
[ -d "$PEERS" ] || { echo "compare.sh: no peer harness at $PEERS (set PEERS=)" >&2; exit 2; }
PEERS=$(cd "$PEERS" && pwd)

if ! "$PEERS/install-deps.sh" --check >/dev/null 2>&1; then
    echo "compare.sh: the peers' dependencies are missing: run $PEERS/install-deps.sh as root" >&2
    exit 2
fi
make -s -C "$PEERS" -j"$(nproc)" all >&2 || { echo "compare.sh: peer build failed" >&2; exit 1; }

cmds=$(grep -v '^\s*#' "$PEERS/programs.txt" | grep -v '^\s*$'
       "$here/bench/peers-programs.sh" "$BUILD" | grep -v '^\s*#' | grep -v '^\s*$')
[ -n "$ONLY" ] && cmds=$(printf '%s\n' "$cmds" | grep -E "$ONLY")
mapfile -t list <<< "$cmds"

RAWFILE=${RAW:-$(mktemp)}
: > "$RAWFILE"
errlog=$(mktemp)
failures=0
export PYTHONPATH="$PEERS/src${PYTHONPATH:+:$PYTHONPATH}"
cd "$PEERS" || exit 2

echo "# libfutures vs peers, interleaved ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null))"
echo
echo "* machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) online CPUs; kernel $(uname -r); $(${CC:-cc} --version | head -n 1)"
echo "* load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $RUNS rounds$([ "${WARMUP:-0}" = 1 ] && echo ' after 1 warm-up round')"
echo

. "$here/bench/quiet.sh"

first=1
[ "${WARMUP:-0}" = 1 ] && first=0
for r in $(seq "$first" "$RUNS"); do
    for cmd in "${list[@]}"; do
        [ -z "$cmd" ] && continue
        if [ "$r" = 0 ]; then
            echo "[warm-up] $cmd" >&2
            timeout "$TMO" bash -c "$cmd" >/dev/null 2>>"$errlog" || true
            continue
        fi
        echo "[round $r/$RUNS] $cmd" >&2
        if ! run_one "$cmd" "$RAWFILE"; then
            echo "FAILED: $cmd" >&2
            failures=$((failures + 1))
        fi
    done
done

awk -v csv="${CSV:-}" -f "$here/bench/table.awk" "$RAWFILE"
echo
echo "* load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
quiet_note
if [ -s "$errlog" ]; then
    echo "--- stderr of the programs ---" >&2
    sort "$errlog" | uniq -c >&2
fi
rm -f "$errlog"
[ -z "${RAW:-}" ] && rm -f "$RAWFILE"
if [ "$failures" -gt 0 ]; then
    echo "$failures program run(s) failed" >&2
    exit 1
fi
exit 0
