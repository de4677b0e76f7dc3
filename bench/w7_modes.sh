#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/w7_modes.sh [BUILDDIR] - the loop's epoll registrations compared on
# the W7 echo (doc/design.md, "Waiting on descriptors"):
#
#   oneshot  the default: EPOLLONESHOT, one epoll_ctl(MOD) per wait
#   lt       persistent, level-triggered, narrowed only when it reports
#            with nobody waiting (make EPOLL=lt)
#   et       persistent, edge-triggered, registered once (make EPOLL=et)
#
# Builds bench/w7_echo three times (BUILDDIR, build-epoll-lt, build-epoll-et),
# then for each round, each C, each mode (the order rotates by one each
# round): starts the server, runs the W7 harness's load generator (warm-up +
# a measured window), stops it.  One more round follows in which `perf
# stat` counts the server's system calls (if perf works here): counted
# apart, because tracing every system call slows the server down.  Prints
# one line per figure,
#   W7modes MODE-C<c> metric value unit
# (msgs_per_s, p99_rtt; server_us_per_echo: the server's CPU time per echo
# in the window; syscalls / epoll_ctl / epoll_wait per echo, over the whole
# counted run) and a table of medians over the rounds.
#
#   ROUNDS=3 CONNS="10 100 1000" WARMUP=1 DURATION=3 PORT=17027 bench/w7_modes.sh
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"10 100 1000"}
WARMUP=${WARMUP:-1}
DURATION=${DURATION:-3}
PORT=${PORT:-17027}
cd "$here"
. bench/w7_harness.sh
w7_harness_setup "$BUILD" || exit 2
make -s BUILD="$BUILD" "$BUILD/bench/w7_echo" >&2 &&
    make -s EPOLL=lt build-epoll-lt/bench/w7_echo >&2 &&
    make -s EPOLL=et build-epoll-et/bench/w7_echo >&2 || { echo "w7_modes: build failed" >&2; exit 1; }
modes=(oneshot lt et)
declare -A bin=([oneshot]="$BUILD/bench/w7_echo" [lt]=build-epoll-lt/bench/w7_echo
                [et]=build-epoll-et/bench/w7_echo)
perf_ok=0
perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1 && perf_ok=1
[ $perf_ok = 1 ] || echo "w7_modes: perf cannot count system calls here: no per-echo counts" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port_hex=$(printf '%04X' "$PORT")
listening() {
    awk -v p="0100007F:$port_hex" '$2 == p && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}
RAW=$tmp/raw
: > "$RAW"
fails=0
last=$ROUNDS
[ $perf_ok = 1 ] && last=$((ROUNDS + 1))
for r in $(seq "$last"); do
    counting=0
    [ "$r" -gt "$ROUNDS" ] && counting=1
    for c in $CONNS; do
        for j in 0 1 2; do
            m=${modes[$(( (j + r - 1) % 3 ))]}
            "${bin[$m]}" "$PORT" 120 > /dev/null 2>> "$tmp/log" &
            spid=$!
            for _ in $(seq 200); do listening && break; sleep 0.02; done
            ppid=""
            if [ $counting = 1 ]; then
                perf stat -x, -o "$tmp/perf" -e raw_syscalls:sys_enter,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait2 \
                    -p "$spid" > /dev/null 2>&1 &
                ppid=$!
                sleep 0.2
            fi
            out=$(timeout 120 "$W7H/build/loadgen" -p "$PORT" -c "$c" -w "$WARMUP" -d "$DURATION" \
                -n "$m-C$c" -P "$spid" 2> "$tmp/lg")
            rc=$?
            [ -n "$ppid" ] && { kill -INT "$ppid"; wait "$ppid" 2>/dev/null; }
            kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
            sleep 0.3
            if [ $rc != 0 ]; then
                echo "w7_modes: round $r $m C=$c FAILED: $(grep -m1 FAIL "$tmp/lg")" >&2
                fails=$((fails + 1))
                continue
            fi
            total=$(sed -n 's/.* \([0-9]*\) echoes verified in all.*/\1/p' "$tmp/lg")
            {
                [ $counting = 0 ] && printf '%s\n' "$out" | awk -v l="$m-C$c" '
                    $3 == "msgs_per_s" { m = $4; print "W7modes", l, "msgs_per_s", $4, "msg/s" }
                    $3 == "p99_rtt" { print "W7modes", l, "p99_rtt", $4, "us" }
                    $3 == "server_cpu" { s = $4 }
                    END { if (m > 0) printf "W7modes %s server_us_per_echo %.3f us\n", l, s / m * 1e6 }'
                if [ -n "$ppid" ] && [ -n "$total" ] && [ "$total" -gt 0 ]; then
                    awk -F, -v l="$m-C$c" -v t="$total" '
                        $3 ~ /raw_syscalls/ { printf "W7modes %s syscalls_per_echo %.3f n\n", l, $1 / t }
                        $3 ~ /epoll_ctl/ { printf "W7modes %s epoll_ctl_per_echo %.3f n\n", l, $1 / t }
                        $3 ~ /epoll_wait|epoll_pwait2/ { w += $1 }
                        END { printf "W7modes %s epoll_wait_per_echo %.3f n\n", l, w / t }' "$tmp/perf"
                fi
            } | tee -a "$RAW"
        done
    done
done
echo
echo "medians over $ROUNDS round(s) (system calls: one more, counted), $DURATION s windows ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)):"
awk '
    { split($2, a, "-C"); k = a[2] SUBSEP a[1] SUBSEP $3; v[k, ++n[k]] = $4; cs[a[2]] = 1; ms[a[1]] = 1; mt[$3] = 1 }
    function med(k,   i, j, t, c) { c = n[k]; for (i = 1; i <= c; i++) x[i] = v[k, i]
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
        return c % 2 ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2 }
    END {
        split("msgs_per_s p99_rtt server_us_per_echo syscalls_per_echo epoll_ctl_per_echo epoll_wait_per_echo", cols, " ")
        printf "| C | mode |"; for (i = 1; i <= 6; i++) printf " %s |", cols[i]; printf "\n|---:|---|"
        for (i = 1; i <= 6; i++) printf "---:|"; printf "\n"
        nc = 0; for (c in cs) cl[++nc] = c + 0
        for (i = 1; i <= nc; i++) for (j = i + 1; j <= nc; j++) if (cl[j] < cl[i]) { t = cl[i]; cl[i] = cl[j]; cl[j] = t }
        split("oneshot lt et", mo, " ")
        for (i = 1; i <= nc; i++) for (q = 1; q <= 3; q++) {
            if (!((cl[i] SUBSEP mo[q] SUBSEP "msgs_per_s") in n)) continue
            printf "| %d | %s |", cl[i], mo[q]
            for (k = 1; k <= 6; k++) { key = cl[i] SUBSEP mo[q] SUBSEP cols[k]
                if (key in n) printf (cols[k] == "msgs_per_s" ? " %.0f |" : " %.2f |"), med(key); else printf " - |" }
            printf "\n" }
    }' "$RAW"
[ $fails = 0 ]
