#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/w2_placement.sh [BUILD=build] [ROUNDS=15] - where W2's speedup goes
# on a small machine: the pool as it runs by default, the same with each
# worker pinned to a CPU of its own (W2_PIN=1: a check, not a mode of the
# library), with caller_runs (and one worker fewer: the caller computes,
# as TBB's does), and TBB's task_group when the peers are built
# (make bench PEERS=1), interleaved round by round.  For the pool's runs it
# also prints how long its workers waited for a CPU while the jobs ran
# (W2_RUNQ=1: the kernel's run_delay from /proc/self/task/*/schedstat).
# Prints the raw lines, then per variant the median speedup, and for the
# default runs the medians of those whose workers waited 5 ms or more and
# of the others, and the correlation of speedup with waiting.
#
#   bash bench/w2_placement.sh [build] [rounds] > out.txt
set -eu
BUILD=${1:-build}
R=${2:-15}
B=$BUILD/bench
[ -x "$B/w2_pool" ] || { echo "w2_placement: $B/w2_pool missing: run make benches" >&2; exit 2; }
# caller_runs as TBB counts threads: the caller and nproc - 1 workers
cr_threads=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
echo "# w2_placement: $R rounds, $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
for r in $(seq 1 "$R"); do
    W2_RUNQ=1 "$B/w2_pool" | sed "s/^/$r /"
    W2_RUNQ=1 W2_PIN=1 "$B/w2_pool" | sed "s/^/$r /"
    W2_RUNQ=1 "$B/w2_pool" 2000 26000 "$cr_threads" 1 | sed "s/^/$r /"
    if [ -x "$B/peers/tbb" ]; then "$B/peers/tbb" w2 | grep '^W2' | sed "s/^/$r /"; fi
done | tee "$raw"
python3 - "$raw" <<'PY'
import collections, statistics as st, sys
sp = collections.defaultdict(dict); rd = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 6 or f[1] != "W2":
        continue
    r, who, metric, v = int(f[0]), f[2], f[3], float(f[4])
    (sp if metric == "speedup" else rd)[who][r] = v
print("\nvariant                            median speedup  median wait ms  runs")
for who in sp:
    w = rd.get(who, {})
    mw = "%.2f" % st.median(w.values()) if w else "-"
    print("%-34s %14.3f  %14s  %4d" % (who, st.median(sp[who].values()), mw, len(sp[who])))
d = "libfutures-pool"
if d in sp and d in rd:
    pairs = [(rd[d][r], sp[d][r]) for r in sp[d] if r in rd[d]]
    hi = [s for w, s in pairs if w >= 5.0]; lo = [s for w, s in pairs if w < 5.0]
    if hi:
        print("%s, workers waited >= 5 ms: %d runs, median speedup %.3f" % (d, len(hi), st.median(hi)))
    if lo:
        print("%s, workers waited <  5 ms: %d runs, median speedup %.3f" % (d, len(lo), st.median(lo)))
    if len(pairs) > 2:
        xs, ys = zip(*pairs)
        if st.pstdev(xs) > 0 and st.pstdev(ys) > 0:
            mx, my = st.mean(xs), st.mean(ys)
            c = sum((x - mx) * (y - my) for x, y in pairs) / len(pairs) / st.pstdev(xs) / st.pstdev(ys)
            print("%s: correlation of speedup with the workers' wait: %.2f" % (d, c))
PY
