#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh BUILDDIR - run libfutures' benchmarks (W1-W6, doc/benchmarks.md) and print
# one table: median, min, max, spread per (workload, peer, metric).
#
#   bench/run.sh build              what `make bench` runs (BUILD=build)
#   RUNS=9 bench/run.sh build       runs per program (default 5), after 1 warm-up run
#   QUICK=1 bench/run.sh build      1 run, no warm-up, smaller sizes (a smoke
#                                   test: under a minute without PEERS)
#   SWEEP=0 bench/run.sh build      skip the size / thread sweeps
#   W5_MAX=1000000 ...              also W5 at N = 10^6 (needs ~10 GB of RAM)
#   CSV=file RAW=file ...           where the CSV and the raw lines go
#                                   (default BUILDDIR/bench/results.csv, raw.txt)
#   QUIET=10 bench/run.sh build     on a shared machine: redo a run during which
#                                   other processes used > 10% of the CPUs
#                                   (bench/quiet.sh)
#   PEERS=1 bench/run.sh build      also GLib, oneTBB, libuv, Boost.Fiber in the
#                                   same run (bench/peers/; installs the Debian
#                                   packages when missing: scripts/ensure-deps.sh)
#   PY=0 bench/run.sh build         without the Python rows (bench/py/)
#   W7=0 bench/run.sh build         without W7, the echo server against its
#                                   peers in the shared W7 harness (bench/w7.sh:
#                                   ~12 min; QUICK=1: one short round, ~1 min)
#   ONLY='w4|ctx' bench/run.sh build   only the programs whose entry matches
#                                   (grep -E; entries: bench/suite.sh)
#   GROWTH=1 bench/run.sh build     also instructions per task / timer against N
#                                   (bench/growth.sh: valgrind, a few minutes)
#   PLOTS=dir                       where the SVG plots go (default
#                                   BUILDDIR/bench/plots); DOC=1 writes them to
#                                   doc/img/perf-*.svg and the CSV(s) to
#                                   doc/perf-*.csv (the documentation's)
#
# What runs: run.sh's own list below (doc/benchmarks.md's libfutures rows and sweeps),
# then bench/suite.sh's (sequential baselines, the loop in every mode, thread
# sweeps, cost growth, Python, peers).  The figures of one workload are
# measured interleaved: one warm-up run of each program, then RUNS rounds,
# each running every program of the group once, so that the ratios inside a
# group are taken side by side.  After the table: bench/report.py (the
# ratios, BENCH.md's targets, how cost grows) and bench/plots.py (SVG).
#
# While it runs, it says which program runs, which round of how many, and the
# time left (bench/progress.sh): one updating line when stderr is a terminal.
# It writes BUILDDIR/bench/stamp.json (machine, date, commit, load), which
# DOC=1 copies to doc/figures/bench-stamp.json for tools/docfigures.
#
# Each program prints lines "workload peer metric value unit" (doc/benchmarks.md); the
# table's spread is (max - min) / median.  A program whose binary is missing
# (not built) is skipped with a note.  Exits 1 if any run failed its check.
# Needs bash, coreutils and awk; python3 for the Python rows, the ratios and
# the plots (without it, only the table).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
BIN="$BUILD/bench"
RUNS=${RUNS:-5}
QUICK=${QUICK:-0}
SWEEP=${SWEEP:-1}
W5_MAX=${W5_MAX:-100000}
TMO=${TIMEOUT:-300}
[ "$QUICK" = 1 ] && RUNS=1
# one warm-up run of each program first (QUICK=1: none, it is a smoke test)
WARMUP=${WARMUP:-1}
[ "$QUICK" = 1 ] && WARMUP=${WARMUP_QUICK:-0}
CSV=${CSV:-$BIN/results.csv}
RAW=${RAW:-$BIN/raw.txt}

if [ ! -d "$BIN" ]; then
    echo "run.sh: $BIN does not exist (build first: make BUILD=$BUILD benches)" >&2
    exit 2
fi

# ---- the program list: "binary args..." ------------------------------
# Defaults are BENCH.md's sizes; QUICK=1 shrinks them (labels then carry -N<n>).
progs=()
if [ "$QUICK" = 1 ]; then
    progs+=("w1_pool 200000" "w2_pool 500" "w3_pool 100" "w3_loop" "w4_loop 200000"
            "w5_loop 10000" "w6_pool 2000")
else
    progs+=("w1_pool" "w1_pool 200000" "w2_pool" "w3_pool" "w3_loop" "w4_loop"
            "w5_loop" "w6_pool")
fi
if [ "$SWEEP" = 1 ]; then
    # W1 per-task cost against N, warm: rounds so that every size runs ~10^6
    # jobs in total (10^5 with QUICK=1), at least 3; the median round is
    # reported as libfutures-pool-warm-N<n>.
    total=1000000; [ "$QUICK" = 1 ] && total=100000
    for n in 100 1000 10000 100000 1000000; do
        [ "$n" -gt "$total" ] && continue
        r=$((total / n)); [ "$r" -lt 3 ] && r=3
        progs+=("w1_pool $n $(nproc) $r")
    done
    # W2 speedup and W3 pool wall against the thread count.
    progs+=("w2_pool 2000 26000 1" "w2_pool 2000 26000 4")
    # (W3 against the thread count: bench/suite.sh, at N = 200 so that the
    # 1-thread point takes 2 s, not 10)
    # W5 wall and bytes per coroutine against N.
    for n in 100 1000 10000 100000 1000000; do
        [ "$n" -gt "$W5_MAX" ] && continue
        [ "$QUICK" = 1 ] && [ "$n" -ge 10000 ] && continue
        [ "$QUICK" != 1 ] && [ "$n" = 100000 ] && continue   # the default row
        progs+=("w5_loop $n")
    done
fi

. "$(dirname "$0")/suite.sh"
# ONLY=REGEX: only the entries that match (grep -E), e.g. ONLY='w4|ctx'
if [ -n "${ONLY:-}" ]; then
    sel=()
    for p in "${progs[@]}"; do printf '%s\n' "$p" | grep -Eq -- "$ONLY" && sel+=("$p"); done
    progs=("${sel[@]-}")
fi

# ---- machine --------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)
[ -z "$cpu" ] && cpu=$(uname -m)
cc_ver=$(${CC:-cc} --version 2>/dev/null | head -n 1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
echo "# libfutures benchmarks ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit)"
echo
echo "* machine: $cpu, $(nproc) online CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
echo "* kernel: $(uname -sr); compiler: ${cc_ver:-unknown}"
[ "$PY" = 1 ] && echo "* python: $("$PYTHON" --version 2>&1) ($PYTHON)"
[ "$PEERS" = 1 ] && echo "* peers: $(${CXX:-g++} --version 2>/dev/null | head -n 1); $(dpkg-query -W -f='${Package} ${Version}, ' libglib2.0-dev libtbb-dev libuv1-dev libboost-fiber-dev 2>/dev/null | sed 's/, $//')"
echo "* load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "* runs per program: $RUNS$([ "$WARMUP" = 1 ] && echo ' after 1 warm-up run')$([ "$QUICK" = 1 ] && echo ' (QUICK: smaller sizes, a smoke test: not figures to quote)')"
echo
# The stamp of this run's figures (tools/docfigures shows it beside them).
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load0=$(cut -d' ' -f1 /proc/loadavg)
write_stamp() {
    local dirty=""
    git -C "$here" status --porcelain -- lib include bench Makefile 2>/dev/null | grep -q . &&
        dirty=" with uncommitted changes"
    {
        echo "{"
        echo "  \"command\": $(json_str "make bench$([ "$PEERS" = 1 ] && echo ' PEERS=1')$([ "${GROWTH:-0}" = 1 ] && echo ' GROWTH=1')$([ -n "$QUIET" ] && echo " QUIET=$QUIET")$([ "$QUICK" = 1 ] && echo ' QUICK=1')$([ "${DOC:-0}" = 1 ] && echo ' DOC=1'), $RUNS runs each$([ "$WARMUP" = 1 ] && echo ' after a warm-up')"),"
        echo "  \"date\": $(json_str "$started to $(date -u '+%H:%M UTC')"),"
        echo "  \"commit\": $(json_str "$commit$dirty"),"
        echo "  \"machine\": $(json_str "$cpu, $(nproc) online CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"),"
        echo "  \"cpus\": $(nproc),"
        echo "  \"system\": $(json_str "$(uname -sr), ${cc_ver:-unknown}$([ "$PY" = 1 ] && echo ", $("$PYTHON" --version 2>&1)")"),"
        echo "  \"load\": $(json_str "load average $load0 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end$([ -n "$QUIET" ] && echo "; $redone runs redone because other programs used more than $QUIET % of the CPUs, $noisy kept noisy")")"
        echo "}"
    } >"$BIN/stamp.json"
}

: > "$RAW"
errlog=$(mktemp)
failures=0
. "$(dirname "$0")/quiet.sh"
PROGRESS_FILE=${PROGRESS_FILE:-$BIN/durations.tsv}
. "$(dirname "$0")/progress.sh"
build_peers || failures=$((failures + 1))
skipped=()
loadlog=()
# groups in BENCH.md's order, then any other
groups=()
for p in "${progs[@]}"; do
    g=$(group_of "$p")
    case " ${groups[*]-} " in *" $g "*) ;; *) groups+=("$g") ;; esac
done
mapfile -t groups < <(printf '%s\n' "${groups[@]}" | sort -u -V)
# members GROUP: the entries of a group whose binary exists
members_of() {
    local p
    for p in "${progs[@]}"; do
        [ "$(group_of "$p")" = "$1" ] || continue
        [ -e "$(binary_of "$p")" ] && printf '%s\n' "$p"
    done
}
# The whole plan, for the progress line: warm-ups, then the rounds.
sched=()
for g in "${groups[@]}"; do
    mapfile -t members < <(members_of "$g")
    [ ${#members[@]} -eq 0 ] && continue
    [ "$WARMUP" = 1 ] && sched+=("${members[@]}")
    for r in $(seq "$RUNS"); do sched+=("${members[@]}"); done
done
progress_plan "${sched[@]-}"
step=0
for g in "${groups[@]}"; do
    members=()
    for p in "${progs[@]}"; do
        [ "$(group_of "$p")" = "$g" ] || continue
        bin=$(binary_of "$p")
        if [ ! -e "$bin" ]; then
            case " ${skipped[*]-} " in *" $bin "*) ;; *) skipped+=("$bin") ;; esac
            continue
        fi
        members+=("$p")
    done
    [ ${#members[@]} -eq 0 ] && continue
    l0=$(cut -d' ' -f1 /proc/loadavg); s0=$SECONDS
    ok=()
    for p in "${members[@]}"; do
        if [ "$WARMUP" != 1 ]; then ok+=("$p"); continue; fi
        progress_start "$step" "$p" "$g warm-up: ${p#*:}"
        t=$(progress_now)
        if timeout "$TMO" bash -c "$(command_of "$p")" >/dev/null 2>>"$errlog"; then
            ok+=("$p")
        else
            echo "FAILED (warm-up): ${p#*:}" >&2; failures=$((failures + 1))
        fi
        progress_done "$p" $(($(progress_now) - t)); step=$((step + 1))
    done
    for r in $(seq "$RUNS"); do
        for p in "${ok[@]-}"; do
            [ -z "$p" ] && continue
            progress_start "$step" "$p" "$g round $r/$RUNS: ${p#*:}"
            t=$(progress_now)
            if ! run_one "$(command_of "$p")" "$RAW"; then
                echo "FAILED: ${p#*:}" >&2
                failures=$((failures + 1))
            fi
            progress_done "$p" $(($(progress_now) - t)); step=$((step + 1))
        done
        # warm-up failures: their rounds are not run
        step=$((step + ${#members[@]} - ${#ok[@]}))
    done
    loadlog+=("$g $l0-$(cut -d' ' -f1 /proc/loadavg) ($((SECONDS - s0)) s)")
done
progress_end
write_stamp

# ---- W7: servers, in their own harness (bench/w7.sh), into the same table
if [ "${W7:-1}" = 1 ] && { [ -z "${ONLY:-}" ] || printf 'w7\n' | grep -Eq -- "$ONLY"; }; then
    echo "[W7] bench/w7.sh: echo servers on loopback (the W7 harness)" >&2
    l0=$(cut -d' ' -f1 /proc/loadavg); s0=$SECONDS
    QUICK=$QUICK "$here/bench/w7.sh" "$BUILD" "$RAW" >&2 || failures=$((failures + 1))
    loadlog+=("W7 $l0-$(cut -d' ' -f1 /proc/loadavg) ($((SECONDS - s0)) s)")
fi

# ---- table + CSV (awk; rows in first-seen order) ----------------------
awk -v csv="$CSV" -f "$(dirname "$0")/table.awk" "$RAW"

echo
for b in "${skipped[@]-}"; do
    [ -z "$b" ] && continue
    echo "* skipped $b: not built"
done
quiet_note
echo "* load average (1 min) at the start and end of each group, and its time: ${loadlog[*]-}"
echo "* load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "* CSV: $CSV; raw lines: $RAW"
[ "$PY" = 1 ] || echo "* no python3 (or PY=0): no Python rows, ratios or plots"

# ---- ratios, targets, growth; plots ------------------------------------
if [ "$PY" = 1 ] && [ -s "$CSV" ]; then
    PLOTS=${PLOTS:-$BIN/plots}
    [ "${DOC:-0}" = 1 ] && PLOTS="$here/doc/img"
    echo
    csvs=("$CSV")
    if [ "${GROWTH:-0}" = 1 ]; then
        # instructions per task / timer against N (valgrind; a few minutes)
        "$here/bench/growth.sh" "$BUILD" >/dev/null && csvs+=("$BIN/growth.csv") || failures=$((failures + 1))
    fi
    "$PYTHON" "$here/bench/report.py" "${csvs[@]}" || failures=$((failures + 1))
    "$PYTHON" "$here/bench/plots.py" "${csvs[@]}" "$PLOTS" || failures=$((failures + 1))
    if [ "${DOC:-0}" = 1 ]; then   # the figures doc/performance.md quotes, beside its plots
        cp "$CSV" "$here/doc/perf-results.csv"
        [ "${GROWTH:-0}" = 1 ] && cp "$BIN/growth.csv" "$here/doc/perf-growth.csv"
        mkdir -p "$here/doc/figures" && cp "$BIN/stamp.json" "$here/doc/figures/bench-stamp.json"
        echo "* DOC=1: doc/img/perf-*.svg, doc/perf-results.csv$([ "${GROWTH:-0}" = 1 ] && echo ', doc/perf-growth.csv'), doc/figures/bench-stamp.json written (tools/docfigures import-bench makes the set the pages quote)"
    fi
fi
if [ -s "$errlog" ]; then
    echo "--- stderr of the programs ---" >&2
    sort "$errlog" | uniq -c >&2
fi
rm -f "$errlog"
if [ "$failures" -gt 0 ]; then
    echo "$failures program run(s) failed" >&2
    exit 1
fi
exit 0
