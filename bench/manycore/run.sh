#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh [BUDGET_S=280] - on a many-core machine, inside a bundle made by
# bench/manycore/pack.sh: libfutures before (the *_base programs, built from
# the base ref) and after (this tree), and the peers, in interleaved rounds,
# on all cores and on two (taskset -c 0,1); then W2 against the thread
# count, W1 against N, per-thread W2 job times (FUT_TRACE), the machine's
# page floor, W5 and W3 on several pairs of CPUs, and more rounds of the
# main set while BUDGET_S lasts.
# Raw lines go to $OUT/raw-{all-cores,2-cores,sweep,diag,pairs}.txt, each one
# "r<round> <program> <workload> <label> <metric> <value> <unit>";
# bench/manycore/medians.py makes the tables.  Each program gets 60 s.
cd "$(dirname "$0")"
L=$PWD/lib; B=$PWD/bin; OUT=${OUT:-$PWD/out}; mkdir -p "$OUT"
BUDGET=${1:-280}
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
run() { local pin=$1; shift; [ -x "$B/$1" ] || { echo "missing $1" >>"$OUT/err.txt"; return 0; }
        timeout -k 2 60 $pin "$L/ld-linux-x86-64.so.2" --library-path "$L" "$B/$@" 2>>"$OUT/err.txt" |
        sed "s/^/r$r $1 /" >>"$OUT/raw-$tag.txt"; }
{ nproc; lscpu | head -20; uname -a; } >"$OUT/err.txt" 2>&1
n=$(nproc)
r=0; tag=diag
run "" pagetouch; run "taskset -c 0,1" pagetouch
round() {
  for pin in "" "taskset -c 0,1"; do
    t=$n; tag=all-cores; [ -n "$pin" ] && { t=2; tag=2-cores; }
    run "$pin" w1_pool_base 1000000 $t; run "$pin" w1_pool 1000000 $t
    run "$pin" w1_pool 1000000 $t 1 1;  run "$pin" glib w1 1000000 $t; run "$pin" tbb w1 1000000 $t
    run "$pin" w6_pool_base 20000 $t;   run "$pin" w6_pool 20000 $t
    run "$pin" glib w6 20000 $t;        run "$pin" tbb w6 20000 $t
    run "$pin" w2_pool_base 20000 26000 $t; run "$pin" w2_pool 20000 26000 $t
    run "$pin" glib w2 20000 26000 $t;      run "$pin" tbb w2 20000 26000 $t
    run "$pin" w3_loop_base; run "$pin" w3_loop; run "$pin" uv w3 1000; run "$pin" bfiber w3 1000
    run "$pin" w4_loop_base; run "$pin" w4_loop; run "$pin" bfiber w4 2000000
    run "$pin" w5_loop_base 100000; run "$pin" w5_loop 100000
    run "$pin" bfiber w5 100000;    run "$pin" uv w5 100000
  done
  echo "round $r done $(el)s" >>"$OUT/err.txt"
}
for r in 1 2 3; do round; done
tag=sweep
for r in 1 2; do
  for t in 1 2 4 8 16; do
    [ "$t" -gt "$n" ] && continue
    run "" w2_pool_base 10000 26000 $t; run "" w2_pool 10000 26000 $t
    run "" glib w2 10000 26000 $t; run "" tbb w2 10000 26000 $t
  done
done
r=1
for pin in "" "taskset -c 0,1"; do
  t=$n; [ -n "$pin" ] && t=2
  for N in 100 1000 10000 100000 1000000; do
    R=$((300000 / N)); [ $R -lt 3 ] && R=3
    run "$pin" w1_pool $N $t $R; run "$pin" w1_pool_base $N $t $R
    run "$pin" w1_pool $N $t $R 1
    run "$pin" glib w1 $N $t $R; run "$pin" tbb w1 $N $t $R
  done
done
echo "sweeps done $(el)s" >>"$OUT/err.txt"
tag=diag; r=1
for v in w2_pool w2_pool_base; do
  for pin in "" "taskset -c 0,1"; do
    t=$n; p=all; [ -n "$pin" ] && { t=2; p=2c; }
    FUT_TRACE="$OUT/t.json" run "$pin" $v 20000 26000 $t
    awk -F'[,:]' '/"ph":"X"/ { for (i=1;i<NF;i++) { if ($i=="\"tid\"") tid=$(i+1); if ($i=="\"ts\"") ts=$(i+1); if ($i=="\"dur\"") { d=$(i+1); sub(/}.*/,"",d) } }
        n[tid]++; b[tid]+=d; if (!(tid in f) || ts<f[tid]) f[tid]=ts; if (ts+d>e[tid]) e[tid]=ts+d }
        END { for (t in n) printf "r1 %s W2-threads %s-tid%s jobs %d n\nr1 %s W2-threads %s-tid%s busy %.3f ms\nr1 %s W2-threads %s-tid%s first_start %.3f ms\nr1 %s W2-threads %s-tid%s last_end %.3f ms\n", v, p, t, n[t], v, p, t, b[t]/1000, v, p, t, f[t]/1000, v, p, t, e[t]/1000 }' \
        v=$v p=$p "$OUT/t.json" >>"$OUT/raw-diag.txt" 2>>"$OUT/err.txt"
    rm -f "$OUT/t.json"
  done
done
# W5 and W3 on different pairs of CPUs: is "2 cores" slower, or CPUs 0-1?
# (the 2-core W5 miss of run 2 came with the same binary 23 % slower
# pinned to 0,1 than on all 16).  The page floor is taken on each pair too.
tag=pairs
for r in 1 2 3; do
  for cpus in 0,1 8,9 14,15 0-15; do
    pin="taskset -c $cpus"
    run "$pin" pagetouch
    sed -i "s/^r$r pagetouch /r$r pagetouch-$cpus /" "$OUT/raw-$tag.txt"
    for prog in "w5_loop 100000" "bfiber w5 100000" "uv w5 100000" "w3_loop" "uv w3 1000"; do
      run "$pin" $prog
      p=${prog%% *}
      sed -i "s/^r$r $p /r$r $p@$cpus /" "$OUT/raw-$tag.txt"
    done
  done
done
echo "pairs done $(el)s" >>"$OUT/err.txt"
r=4
while [ "$(el)" -lt "$BUDGET" ]; do round; r=$((r + 1)); done
echo "all done $(el)s" >>"$OUT/err.txt"
