# SPDX-License-Identifier: MIT
# bench/quiet.sh - sourced by bench/run.sh and bench/compare.sh: run one
# benchmark command, and with QUIET=P redo it when OTHER processes used more
# than P% of the machine's CPU time meanwhile (busy jiffies from /proc/stat
# minus the command's own CPU time), after waiting for a quiet moment; up to
# RETRIES tries (default 20), then the last one is kept and counted as noisy.
# QUIET_WAIT (seconds, default 600) bounds each wait for a quiet moment.
# For a machine shared with other jobs.  Needs TMO (timeout, s) and errlog.
# run_one CMD OUTFILE: appends the command's stdout; returns its status.
QUIET=${QUIET:-}
RETRIES=${RETRIES:-20}
QUIET_WAIT=${QUIET_WAIT:-600}
ncpu=$(nproc)
# busy and total jiffies of the whole machine
sys_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat; }
# CPU jiffies of this shell's waited-for children (cutime + cstime)
child_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }
# others' share (percent of all CPUs) over the next 0.5 s
others_now() {
    local b0 t0 b1 t1
    read -r b0 t0 < <(sys_ticks); sleep 0.5; read -r b1 t1 < <(sys_ticks)
    echo $(( t1 > t0 ? 100 * (b1 - b0) / (t1 - t0) : 0 ))
}
redone=0; noisy=0
quiet_note() {
    [ -n "$QUIET" ] && echo "* QUIET=$QUIET%: $redone run(s) redone because other processes were busy, $noisy kept noisy after $RETRIES tries"
    return 0
}
run_one() {    # run_one CMD OUTFILE -> 0 ok, 1 failed
    local cmd=$1 out=$2 try=0 b0 t0 c0 b1 t1 c1 pct tmp rc
    tmp=$(mktemp)
    while :; do
        if [ -n "$QUIET" ]; then
            local w=0
            while [ "$(others_now)" -gt "$QUIET" ] && [ $w -lt $((QUIET_WAIT * 2)) ]; do w=$((w + 1)); done
        fi
        read -r b0 t0 < <(sys_ticks); c0=$(child_ticks)
        timeout "$TMO" bash -c "$cmd" >"$tmp" 2>>"$errlog"; rc=$?
        read -r b1 t1 < <(sys_ticks); c1=$(child_ticks)
        [ -z "$QUIET" ] && break
        # shorter than 0.5 s of the machine: too few 10 ms ticks to judge,
        # the quiet moment found just before stands for it
        [ $((t1 - t0)) -lt $((50 * ncpu)) ] && break
        pct=$(( t1 > t0 ? 100 * (b1 - b0 - (c1 - c0)) / (t1 - t0) : 0 ))
        [ "$pct" -le "$QUIET" ] && break
        try=$((try + 1))
        if [ "$try" -ge "$RETRIES" ]; then noisy=$((noisy + 1)); break; fi
        redone=$((redone + 1))
        echo "  (others used ${pct}% of the CPUs meanwhile: again)" >&2
    done
    cat "$tmp" >>"$out"; rm -f "$tmp"
    return $rc
}

