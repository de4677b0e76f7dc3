# SPDX-License-Identifier: MIT
# bench/suite.sh - sourced by bench/run.sh after its own list of libfutures
# programs: adds the rest of issue 6's comparison to the `progs` array.
#
#   sequential baselines   w1_seq, w2_seq, w3_seq (and Python's)
#   the loop in every mode w1_loop, w2_loop, w6_loop (W3-W5 are run.sh's)
#   thread sweeps          W2 and W3 at 1, 2, 4, 8 threads (pool, Python
#                          ThreadPoolExecutor, GLib, TBB)
#   cost growth            scale pool|loop at N = 10^2..10^6 (W1-scale),
#                          timers at N = 10^2..10^5 (W5-timers)
#   Python 3               bench/py/*.py (PY=0 or no python3: skipped)
#   peers (PEERS=1)        bench/peers/: GLib GThreadPool, oneTBB, libuv,
#                          Boost.Fiber / Boost.Context
#
# Entries: "binary args" (in $BIN), "py:script args" (python3 bench/py/...),
# "peer:program args" (in $BIN/peers).  Sizes are BENCH.md's; the Python
# rows use smaller N where a run would take 10 s or more (the per-task cost
# is flat: the W1-scale rows show it); QUICK=1 shrinks everything.
# Needs: QUICK, SWEEP, progs (run.sh).  Sets: PY, PEERS, W3_SWEEP_N.
PY=${PY:-1}
PEERS=${PEERS:-0}
command -v python3 >/dev/null 2>&1 || PY=0
# the interpreter itself, not a wrapper (a pyenv shim adds ~0.5 s a start)
PYTHON=${PYTHON:-$( [ "$PY" = 1 ] && python3 -c 'import sys; print(sys.executable)' 2>/dev/null)}
[ -n "$PYTHON" ] || PY=0
cores=$(nproc)
declare -A grp=()
# add GROUP ENTRY...: appends entries to progs, in a scheduling group
add() { local g=$1 e; shift; for e in "$@"; do progs+=("$e"); grp["$e"]=$g; done; }
# the thread counts of the sweeps: 1 2 4 8, and the core count (the
# default row, already in the list, so not repeated here)
sweep_threads() { local t; for t in 1 2 4 8; do [ "$t" != "$cores" ] && echo "$t"; done; }
# rounds for a size-sweep point: about $1 tasks in all, at least 3 + 1 cold
rounds_for() { local r=$(($1 / $2)); [ "$r" -lt 3 ] && r=3; [ "$r" -gt 50 ] && r=50; echo $((r + 1)); }

if [ "$QUICK" = 1 ]; then
    N1=100000; N1PY=10000; N2=500; W3_SWEEP_N=20; N4=200000; N4PY=20000; N5=10000
    N6=2000; SCALE_MAX=100000; SCALE_TOTAL=100000; PYSCALE_MAX=1000; TIMERS_MAX=${TIMERS_MAX:-1000}
    N5F=10000
else
    N1=1000000; N1PY=100000; N2=2000; W3_SWEEP_N=200; N4=2000000; N4PY=200000; N5=100000
    N6=20000; SCALE_MAX=1000000; SCALE_TOTAL=1000000; PYSCALE_MAX=10000; TIMERS_MAX=${TIMERS_MAX:-100000}
    N5F=100000
fi

# ---- libfutures: sequential baselines and the loop's rows ---------------
add W1 "w1_seq $N1" "w1_loop $N1"
add W2 "w2_seq $N2" "w2_loop $N2"
add W6 "w6_loop $N6"
add W4 "w4_loop_ucontext $((N4 / 10))"    # the ucontext switch, against w4_loop's asm one
# W3 at the sweep's N: sequential, the loop, the pool at 1, 2, 4, 8 threads
add W3 "w3_seq $W3_SWEEP_N" "w3_loop $W3_SWEEP_N"
add W3 "w3_pool $W3_SWEEP_N 10 $cores"
if [ "$SWEEP" = 1 ]; then
    for t in $(sweep_threads); do
        [ "$t" = 1 ] || [ "$t" = 4 ] || add W2 "w2_pool $N2 26000 $t"   # 1, 4: run.sh's
        add W3 "w3_pool $W3_SWEEP_N 10 $t"
    done
    for n in 100 1000 10000 100000 1000000; do
        [ "$n" -gt "$SCALE_MAX" ] && continue
        r=$(rounds_for "$SCALE_TOTAL" "$n")
        add W1-scale "scale pool $n $r" "scale loop $n $r"
    done
    for n in 100 1000 10000 100000; do
        [ "$n" -gt "$TIMERS_MAX" ] && continue
        add W5-timers "timers $n"
    done
fi

# ---- Python 3 (standard library only) --------------------------------------
if [ "$PY" = 1 ]; then
    add W1 "py:w1.py seq $N1PY" "py:w1.py tpe $N1PY" "py:w1.py asyncio $N1PY"
    add W2 "py:w2.py seq $N2" "py:w2.py tpe $N2" "py:w2.py asyncio $N2"
    add W3 "py:w3.py seq $W3_SWEEP_N" "py:w3.py tpe $W3_SWEEP_N 10 $cores" "py:w3.py asyncio $W3_SWEEP_N"
    add W4 "py:w4.py asyncio $N4PY" "py:w4.py generator $N4"
    add W5 "py:w5.py asyncio $N5"
    add W6 "py:w6.py tpe $N6" "py:w6.py asyncio $N6"
    [ "$QUICK" = 1 ] || add W3 "py:w3.py asyncio"
    if [ "$SWEEP" = 1 ]; then
        for t in $(sweep_threads); do
            add W2 "py:w2.py tpe $N2 290 $t"
            add W3 "py:w3.py tpe $W3_SWEEP_N 10 $t"
        done
        for n in 100 1000 10000; do
            [ "$n" -gt "$PYSCALE_MAX" ] && continue
            r=$(rounds_for 30000 "$n")
            add W1-scale "py:w1.py tpe $n $cores $r" "py:w1.py asyncio $n $r"
        done
        for n in 100 1000 10000; do
            [ "$n" -gt "$TIMERS_MAX" ] && continue
            add W5-timers "py:timers.py asyncio $n"
        done
    fi
fi

# ---- the C and C++ libraries a user would pick instead (PEERS=1) -----------
if [ "$PEERS" = 1 ]; then
    add W1 "peer:glib w1 $N1" "peer:tbb w1 $N1" "peer:bfiber w1 $((N1 / 10))"
    add W2 "peer:glib w2 $N2" "peer:tbb w2 $N2"
    add W3 "peer:glib w3 $W3_SWEEP_N 10 $cores" "peer:uv w3 $W3_SWEEP_N" "peer:bfiber w3 $W3_SWEEP_N"
    add W4 "peer:bfiber w4 $N4" "peer:bfiber ctx $N4"
    add W5 "peer:bfiber w5 $N5F" "peer:uv w5 $N5"
    add W6 "peer:glib w6 $N6" "peer:tbb w6 $N6"
    [ "$QUICK" = 1 ] || add W3 "peer:uv w3" "peer:bfiber w3"
    if [ "$SWEEP" = 1 ]; then
        for t in $(sweep_threads); do
            add W2 "peer:glib w2 $N2 26000 $t" "peer:tbb w2 $N2 26000 $t"
            add W3 "peer:glib w3 $W3_SWEEP_N 10 $t"
        done
        for n in 100 1000 10000 100000 1000000; do
            [ "$n" -gt "$SCALE_MAX" ] && continue
            r=$(rounds_for "$SCALE_TOTAL" "$n")
            add W1-scale "peer:glib w1 $n $cores $r" "peer:tbb w1 $n $cores $r"
            # Boost.Fiber: every fiber of a round is alive at once, ~10 KB
            # resident each: up to 10^5
            [ "$n" -le 100000 ] && add W1-scale "peer:bfiber w1 $n $r"
        done
        for n in 100 1000 10000 100000; do
            [ "$n" -gt "$TIMERS_MAX" ] && continue
            add W5-timers "peer:uv timers $n"
            [ "$n" -le 10000 ] && add W5-timers "peer:bfiber timers $n"
        done
    fi
fi

# The scheduling group of an entry: the figures of one group are measured
# interleaved (round r runs each once), so that a burst of someone else's
# load falls on all of them, not on one program's runs.
group_of() {
    if [ -n "${grp[$1]-}" ]; then echo "${grp[$1]}"; return; fi
    case "$1" in                      # run.sh's own entries
        "w1_pool "*\ *\ *) echo W1-scale ;;   # the warm sweep: N threads rounds
        w[1-6]_*) local w=${1%%_*}; echo "W${w#w}" ;;
        *) echo other ;;
    esac
}

# The command line of an entry (run from the repository root).
command_of() {
    case "$1" in
        py:*) echo "$PYTHON $here/bench/py/${1#py:}" ;;
        peer:*) echo "$BIN/peers/${1#peer:}" ;;
        *) echo "$BIN/$1" ;;
    esac
}

# The file that must exist for an entry to run.
binary_of() {
    local e=${1%% *}
    case "$e" in
        py:*) echo "$here/bench/py/${e#py:}" ;;
        peer:*) echo "$BIN/peers/${e#peer:}" ;;
        *) echo "$BIN/$e" ;;
    esac
}

# PEERS=1: the Debian packages (installed when missing, saying so) and the
# build of bench/peers/ into $BIN/peers.
build_peers() {
    [ "$PEERS" = 1 ] || return 0
    if ! "$here/scripts/ensure-deps.sh" peers; then
        echo "run.sh: the peers' packages are missing and could not be installed: no peer rows" >&2
        return 1
    fi
    echo "[build] bench/peers -> $BIN/peers" >&2
    if ! make -s -C "$here/bench/peers" -j"$cores" OUT="$(cd "$BIN" && pwd)/peers" all >&2; then
        echo "run.sh: the peers' build failed: no peer rows" >&2
        return 1
    fi
}
