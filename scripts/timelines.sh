#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# timelines.sh BUILD - run the lunch examples with FUT_TRACE set and draw
# their timelines as doc/img/timeline-<name>.svg with tools/trace2svg
# (meant to be `make timelines`).  Builds nothing: run `make examples`
# first.  Needs python3 (standard library only) for tools/trace2svg.
#
#   scripts/timelines.sh build
#   LUNCH_MINUTE_MS=200 scripts/timelines.sh build   # longer story minutes
#   OUT=/tmp/img scripts/timelines.sh build          # somewhere else
#   BEST=3 scripts/timelines.sh build                # 3 runs each, draw the
#                                                    # quickest (busy machine)
#
# lunch_sequential uses no library, so FUT_TRACE cannot record it: it
# records its own steps (lunch_trace_by_hand in examples/lunch.h) and
# writes them in the same format.  Every other trace is the library's.
set -u
B=${1:-build}/examples
OUT=${OUT:-doc/img}
MS=${LUNCH_MINUTE_MS:-100}
BEST=${BEST:-1}
export LUNCH_MINUTE_MS=$MS
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$OUT"
failed=0
# One colour per dish in every picture.
colors="pasta=#e0a030,meatloaf=#b5523b,avocado=#5f9e3a,make_lunch=#8c8c8c"
colors+=",onion-1=#7b5ea7,onion-2=#4e79a7,onion-3=#d37295,onion-4=#2a9d8f"

# draw NAME TITLE COMMAND...: run COMMAND traced, draw OUT/timeline-NAME.svg.
draw() {
    local name=$1 title=$2; shift 2
    if [ ! -x "$1" ]; then
        echo "timelines: $1 is not built (make examples)" >&2
        failed=1
        return
    fi
    # BEST runs; keep the trace of the quickest (load only makes runs later).
    local i eat="" e
    for ((i = 0; i < BEST; i++)); do
        rm -f "$tmp/try.json"
        if ! FUT_TRACE="$tmp/try.json" "$@" >"$tmp/try.txt"; then
            echo "timelines: $* failed" >&2
            failed=1
            return
        fi
        e=$(sed -n 's/^Eating after \([0-9]*\) min.*/\1/p' "$tmp/try.txt" | tail -1)
        if [ -z "$eat" ] || [ "${e:-999}" -lt "$eat" ]; then
            eat=${e:-999}
            mv "$tmp/try.json" "$tmp/$name.json"
        fi
    done
    python3 "$here/tools/trace2svg" "$tmp/$name.json" -o "$OUT/timeline-$name.svg" \
        --minute-ms "$MS" --colors "$colors" \
        --title "$title: lunch after ${eat:-?} min" || { failed=1; return; }
    printf '%-34s %s min\n' "$OUT/timeline-$name.svg" "${eat:-?}"
}

draw sequential     "One after another, no library"         "$B/lunch_sequential"
draw coop           "One cook, the cooperative loop"        "$B/lunch_coop"
draw blocking-pasta "The loop, pasta watched by a blocking call" "$B/lunch_blocking_pasta"
draw all-blocking   "The loop, every wait a blocking call"  "$B/lunch_all_blocking"
draw pool-1         "A pool of 1 thread"                    "$B/lunch_pool" 1
draw pool-2         "A pool of 2 threads"                   "$B/lunch_pool" 2
draw pool-3         "A pool of 3 threads"                   "$B/lunch_pool" 3
draw onions-coop    "Four onions, the cooperative loop"     "$B/onions" coop
draw onions-pool-2  "Four onions, a pool of 2 threads"      "$B/onions" 2
draw onions-pool-4  "Four onions, a pool of 4 threads on $(getconf _NPROCESSORS_ONLN) cores" \
                    "$B/onions" 4
# doc/cancellation.md: a task group whose first failure (the sauce burns)
# cancels its siblings (the pasta); what had finished stays finished.
if [ -x "$B/taskgroup" ]; then
    rm -f "$tmp/group.json"
    if FUT_TRACE="$tmp/group.json" "$B/taskgroup" >"$tmp/group.txt" &&
       python3 "$here/tools/trace2svg" "$tmp/group.json" \
           -o "$OUT/timeline-group-first-failure.svg" --minute-ms "$MS" \
           --colors "$colors,sauce=#d04040" \
           --title "A task group: the sauce burns at 5 min, the group cancels the pasta"; then
        printf '%-34s\n' "$OUT/timeline-group-first-failure.svg"
    else
        echo "timelines: taskgroup failed" >&2
        failed=1
    fi
else
    echo "timelines: $B/taskgroup is not built (make examples)" >&2
    failed=1
fi
exit $failed
