#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/w7_cpu.sh [BUILDDIR] - W7 "both at once": a server whose requests
# carry CPU work, throughput against the pool's thread count.
#
# Servers (one at a time, on 127.0.0.1:PORT):
#   libfutures        examples/echo_hash --serve: one loop; the hashing on a
#                     fut_pool of T threads
#   asyncio-thread    bench/py/echo_hash.py with a ThreadPoolExecutor of T
#   asyncio-process   bench/py/echo_hash.py with a ProcessPoolExecutor of T
# Load: bench/w7_cpu_client (one loop, CONNS connections, each a closed loop
# of requests) for DURATION seconds after 0.5 s of warm-up.
#
# The same work in time, not in rounds: WORK is sized for each language so
# that one request is TARGET_MS of CPU (w7_cpu_client --time and
# echo_hash.py --time measure it first; pure Python is ~50x slower per
# round).  Rounds interleave the servers (the order rotates by one each
# round).  Prints lines "W7cpu SERVER-T<t> req_per_s X req/s" (and
# ms_per_req), then a table of medians with each server's speed-up from
# T = 1.
#
#   ROUNDS=3 THREADS="1 2" CONNS=16 DURATION=4 TARGET_MS=1 PORT=17031 bench/w7_cpu.sh
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-"1 2"}
CONNS=${CONNS:-16}
DURATION=${DURATION:-4}
TARGET_MS=${TARGET_MS:-1}
PORT=${PORT:-17031}
cd "$here"
make -s BUILD="$BUILD" "$BUILD/bench/w7_cpu_client" "$BUILD/examples/echo_hash" >&2 ||
    { echo "w7_cpu: build failed" >&2; exit 1; }
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)}
CLIENT=$BUILD/bench/w7_cpu_client

scale() { # WORK0 MS0 -> WORK for TARGET_MS
    awk -v w="$1" -v ms="$2" -v t="$TARGET_MS" 'BEGIN { x = int(w * t / ms + 0.5); print (x < 1 ? 1 : x) }'
}
work_c=$(scale 2000 "$("$CLIENT" --time 2000)")
servers=(libfutures)
if [ -n "$PYTHON" ]; then
    work_py=$(scale 20 "$("$PYTHON" bench/py/echo_hash.py --time 20)")
    servers+=(asyncio-thread asyncio-process)
else
    echo "w7_cpu: no python3: libfutures only" >&2
fi
echo "# W7cpu: $(nproc) CPUs; $CONNS connections; ${TARGET_MS} ms of CPU per request:" \
     "WORK $work_c (C), ${work_py:-} (Python); ${DURATION} s windows; $(date -Iseconds)"
echo "# C: $("$CLIENT" --time "$work_c") ms per request measured;" \
     "Python: $([ -n "$PYTHON" ] && "$PYTHON" bench/py/echo_hash.py --time "$work_py") ms"

port_hex=$(printf '%04X' "$PORT")
listening() {
    awk -v p="0100007F:$port_hex" '$2 == p && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
RAW=$tmp/raw
: > "$RAW"
fails=0
n=${#servers[@]}
for r in $(seq "$ROUNDS"); do
    for t in $THREADS; do
        for j in $(seq 0 $((n - 1))); do
            s=${servers[$(( (j + r - 1) % n ))]}
            case $s in
            libfutures) cmd=("$BUILD/examples/echo_hash" --serve "$PORT" "$t"); w=$work_c ;;
            asyncio-thread) cmd=("$PYTHON" bench/py/echo_hash.py "$PORT" thread "$t"); w=$work_py ;;
            asyncio-process) cmd=("$PYTHON" bench/py/echo_hash.py "$PORT" process "$t"); w=$work_py ;;
            esac
            # In a process group of its own: stopping it stops its workers.
            setsid "${cmd[@]}" > /dev/null 2>> "$tmp/log" &
            spid=$!
            for _ in $(seq 500); do listening && break; sleep 0.02; done
            sleep 0.3
            if ! timeout 120 "$CLIENT" "$PORT" "$CONNS" "$w" "$DURATION" "$s-T$t" >> "$RAW" 2>> "$tmp/log"; then
                echo "w7_cpu: round $r $s T=$t FAILED: $(tail -n 2 "$tmp/log" | tr '\n' ' ')" >&2
                fails=$((fails + 1))
            fi
            kill -- "-$spid" 2>/dev/null
            wait "$spid" 2>/dev/null
            for _ in $(seq 100); do listening || break; sleep 0.05; done
        done
    done
done
cat "$RAW"
echo
echo "medians over $ROUNDS round(s) (load $(cut -d' ' -f1-3 /proc/loadavg)):"
awk -v threads="$THREADS" '
    $3 == "req_per_s" { split($2, a, "-T"); k = a[1] SUBSEP a[2]; v[k, ++n[k]] = $4; sv[a[1]] = 1 }
    function med(k,   i, j, t, c, x) { c = n[k]; for (i = 1; i <= c; i++) x[i] = v[k, i]
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
        return c % 2 ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2 }
    END {
        nt = split(threads, T, " ")
        printf "| server |"; for (i = 1; i <= nt; i++) printf " T=%s req/s |", T[i]
        printf " speed-up T=%s / T=%s |\n|---|", T[nt], T[1]; for (i = 1; i <= nt + 1; i++) printf "---:|"; printf "\n"
        split("libfutures asyncio-thread asyncio-process", S, " ")
        for (q = 1; q <= 3; q++) { s = S[q]; if (!(s in sv)) continue
            printf "| %s |", s
            for (i = 1; i <= nt; i++) { k = s SUBSEP T[i]; m[i] = (k in n) ? med(k) : 0; printf " %.0f |", m[i] }
            printf " %.2f |\n", (m[1] > 0 ? m[nt] / m[1] : 0) }
    }' "$RAW"
[ $fails = 0 ]
